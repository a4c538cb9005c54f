"""The web chat: a reading companion for the corpus, served with Gradio.

``python app.py`` or ``rag serve`` opens it on http://127.0.0.1:7860. The page is up
before the slow parts are ready: the index opens and the local model loads in background
threads, and the page shows their progress. A question asked while the local model is
still loading waits for it (with a visible note) for up to ``--load-wait`` seconds, then is
answered from the article's own sentences (the extractive backend), marked as a fallback.

Everything this module puts into the page is escaped here (:func:`html.escape`): article
text, corpus metadata, model replies and questions. Gradio's chat sanitiser is a second
layer, not the first. Citation markers become ``<a class="rag-cite" href="#rag-p-DOC-N">``
links (the sanitiser drops ``data-*`` attributes, so the target lives in ``href``); a small
script scrolls the article panel to the paragraph and highlights it, and without the script
the link is still an ordinary in-page anchor.

Other programs use the ``/ask`` endpoint through ``gradio_client`` (see ``docs/web.md``).
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from . import settings as flags
from .assistant import INJECTION_REPLY, Assistant, AssistantConfig
from .backends import backend_names, make_backend
from .backends.openai_compat import DEFAULT_BASE_URL
from .corpus import load_corpus
from .grounding import find_markers
from .models import DEFAULT_LOCAL_MODEL
from .retriever import default_cache_root
from .settings import LOCAL, MAX_K, REMOTE, WebConfig
from .types import Answer, Document, StreamEvent, Timings

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
DEFAULT_REMOTE_MODEL = "gpt-4o-mini"
EXTRACTIVE = "extractive"
API_NAME = "ask"
PLACEHOLDER = "Ask about the article…"
BUSY_PLACEHOLDER = "Answering… (Stop interrupts)"
FALLBACK_BADGE = "Fallback answer · quoted from the article"

BACKEND_LABELS = {
    LOCAL: "Local model (llama.cpp)",
    REMOTE: "Remote server (OpenAI-compatible)",
    EXTRACTIVE: "Extractive (quotes the article; no model)",
}
EXAMPLES = {
    "korea-herald-2024-10-24-north-korea-russia": [
        "Who confirmed that North Korean troops were in Russia?",
        "What did Victor Cha say about North Korean casualties?",
        "What does the treaty signed in June commit both countries to?",
        "Why might the deployment make China uncomfortable?",
    ],
}
GENERIC_EXAMPLES = ["What is the article about?", "Who is quoted in the article?", "What happens next?"]


@dataclass(frozen=True)
class Settings:
    """What one reader chose in the settings panel."""

    backend: str
    base_url: str = ""
    remote_model: str = ""
    k: int = 4


# -- the service behind the page -------------------------------------------------------------
class Service:
    """Owns the retriever, the backends and the assistants; shared by every browser session.

    ``open_retriever`` runs in a background thread (:meth:`start`), so the page can be served
    while the index opens. Backends are created once and shared (the local model is loaded
    once); assistants are cached per (backend, k).
    """

    def __init__(
        self,
        config: WebConfig,
        documents: Sequence[Document],
        open_retriever: Callable[[], Any],
        *,
        cache_root: Path | None = None,
    ) -> None:
        self.config = config
        self.documents = tuple(documents)
        self._open_retriever = open_retriever
        self._cache_root = cache_root
        self._retriever = None
        self._retriever_error: str | None = None
        self._retriever_ready = threading.Event()
        self._retriever_thread: threading.Thread | None = None
        self._reload_lock = threading.Lock()
        self.corpus_warning: str | None = None
        self._lock = threading.Lock()
        self._backends: dict[tuple, Any] = {}
        self._assistants: dict[tuple, Any] = {}
        self.priming = False  # the local model is reading the article (see Assistant.warm)

    # -- start-up ----------------------------------------------------------------------
    def start(self) -> None:
        """Open the index and (for the local backend) start loading the model, in the background."""
        if self._retriever_thread is None:
            self._retriever_thread = threading.Thread(target=self._open, name="rag-index", daemon=True)
            self._retriever_thread.start()
        if self.config.backend == LOCAL:
            threading.Thread(target=self.preload_local, name="rag-model", daemon=True).start()

    def _open(self) -> None:
        try:
            self._retriever = self._open_retriever()
        except Exception as exc:  # shown on the page and in every answer
            log.exception("cannot open the index")
            self._retriever_error = f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc)
        finally:
            self._retriever_ready.set()

    def preload_local(self) -> None:
        """Create the local backend and start loading its model in the background."""
        try:
            backend = self.backend(Settings(LOCAL))
        except Exception as exc:
            log.warning("cannot create the local backend: %s", exc)
            return
        loader = getattr(backend, "start_loading", None)
        if loader is not None:
            loader()
            threading.Thread(target=self._warm_local, args=(backend,), name="rag-warm", daemon=True).start()

    def _warm_local(self, backend) -> None:
        """Once the model is loaded, let it read the article, so a question costs only its own tokens."""
        with contextlib.suppress(Exception):  # waits for the background load; a failure shows in status
            backend.load()
        if getattr(backend, "status", "ready") != "ready":
            return
        self.priming = True
        try:
            retriever = self.retriever()
            seconds = self.assistant(Settings(LOCAL), retriever).warm()
        except Exception as exc:  # answering still works, only the first answer is slower
            log.warning("could not prepare the article prompt: %s", exc)
            return
        finally:
            self.priming = False
        if seconds is not None:
            log.info("the article prompt is ready (%.1f s)", seconds)

    def retriever(self, timeout: float | None = None):
        """The retriever, waiting up to ``timeout`` seconds; ``None`` if not ready yet."""
        if not self._retriever_ready.wait(timeout):
            return None
        if self._retriever_error is not None:
            raise RuntimeError(f"the article index could not be opened: {self._retriever_error}")
        self._reload_if_changed()
        return self._retriever

    def _reload_if_changed(self) -> None:
        """Re-read the corpus when its files changed while the app runs (the old index serves
        until the new one is ready; if the new corpus cannot be read, the old one stays)."""
        current = self._retriever
        if current is None or not current.changed():
            return
        with self._reload_lock:
            if self._retriever is not current:
                return  # another request already reloaded
            log.info("the corpus changed on disk: re-indexing")
            try:
                fresh = current.reload()
            except (ValueError, OSError, RuntimeError) as exc:
                log.error("the corpus changed but cannot be re-read (%s); still serving the old index", exc)
                self.corpus_warning = f"The corpus changed but cannot be re-read: {exc}"
                return
            with self._lock:
                self._retriever = fresh
                self._assistants.clear()
                self.documents = tuple(fresh.corpus.documents)  # the article panel shows them
                self.corpus_warning = None

    def documents_by_id(self) -> dict[str, Document]:
        """The articles as the corpus holds them now (re-read when its files change)."""
        return {d.id: d for d in self.documents}

    @property
    def cache_root(self) -> Path:
        if self._cache_root is None:
            root = self.config.cache_dir
            corpus_root = Path(self._retriever.corpus.root) if self._retriever is not None else None
            if root:
                self._cache_root = Path(root)
            elif corpus_root is not None:
                self._cache_root = default_cache_root(corpus_root)
            else:
                source = self.documents[0].source if self.documents else None
                self._cache_root = default_cache_root(Path(source or "corpus"))
        return self._cache_root

    # -- backends and assistants -------------------------------------------------------
    def settings(self, backend: str | None = None, base_url: str | None = None,
                 remote_model: str | None = None, k: float | int | None = None) -> Settings:  # fmt: skip
        """Settings from the panel (or the server defaults), validated."""
        name = backend if backend in backend_names() else self.config.backend
        try:
            kk = int(k) if k is not None else self.config.k
        except (TypeError, ValueError):
            kk = self.config.k
        return Settings(
            backend=name,
            base_url=(base_url or "").strip() or (self.config.base_url or ""),
            remote_model=(remote_model or "").strip() or (self.config.openai_model or DEFAULT_REMOTE_MODEL),
            k=max(1, min(MAX_K, kk)),
        )

    def backend(self, settings: Settings):
        """The shared backend for ``settings`` (``None`` for the extractive one)."""
        name = settings.backend
        if name == EXTRACTIVE:
            return None
        if name == LOCAL:
            key: tuple = (LOCAL, self.config.model)
            options: dict[str, Any] = self.config.models.options(LOCAL, self.cache_root)
        elif name == REMOTE:
            base_url = settings.base_url.rstrip("/")
            configured = (self.config.base_url or "").rstrip("/") or DEFAULT_BASE_URL
            same = (base_url or DEFAULT_BASE_URL) == configured
            # The server's key goes only to the server it was configured for: a reader who
            # types another URL into the settings must not receive it.
            key_ok = bool(self.config.api_key) and same
            key = (REMOTE, base_url, settings.remote_model, key_ok)
            options = {
                "model": settings.remote_model,
                "base_url": base_url or None,
                "api_key": self.config.api_key if key_ok else None,
                "timeout": self.config.timeout,
            }
        else:  # a backend registered by a plug-in (or a test)
            key = (name,)
            options = {"model": self.config.model} if self.config.model else {}
        with self._lock:
            if key not in self._backends:
                self._backends[key] = make_backend(name, **options)
            return self._backends[key]

    def assistant(self, settings: Settings, retriever):
        backend = self.backend(settings)
        key = (id(backend), id(retriever), settings.k)
        with self._lock:
            if key not in self._assistants:
                self._assistants[key] = Assistant(retriever, backend, AssistantConfig(k=settings.k))
            return self._assistants[key]

    def local_status(self) -> str | None:
        """Status of the local model if one was created: ``loading``, ``ready``, ``failed: ...``."""
        with self._lock:
            local = [b for k, b in self._backends.items() if k[0] == LOCAL]
        if not local:
            return None
        return getattr(local[0], "status", "ready")

    def status(self, settings: Settings | None = None) -> dict[str, str]:
        """What the page shows about the index and the model that will answer."""
        settings = settings or self.settings()
        if not self._retriever_ready.is_set():
            index = "opening"
        elif self._retriever_error:
            index = f"failed: {self._retriever_error}"
        else:
            index = "ready"
        out = {"index": index, "backend": settings.backend}
        if settings.backend == LOCAL:
            model = self.local_status()
            if model is None:
                model = "loading" if self.config.backend == LOCAL else "not loaded"
            out["model"] = model
            out["model_name"] = self.config.model or _default_local_model()
            with self._lock:
                backend = self._backends.get((LOCAL, self.config.model))
            seconds = getattr(backend, "load_seconds", None)
            if seconds is not None:
                out["load_seconds"] = f"{seconds:.1f}"
        elif settings.backend == REMOTE:
            out["model_name"] = settings.remote_model
            out["base_url"] = settings.base_url or "api.openai.com"
        return out

    # -- answering ---------------------------------------------------------------------
    def stream(
        self, question: object, history: Sequence[Mapping] | None = None, settings: Settings | None = None
    ) -> Iterator[StreamEvent]:
        """Like :meth:`Assistant.stream`, plus waiting for the index and the local model."""
        settings = settings or self.settings()
        start = time.perf_counter()
        try:
            retriever = self.retriever(timeout=0)
            if retriever is None:
                yield StreamEvent("status", "Opening the article index…")
                while (retriever := self.retriever(timeout=0.5)) is None:
                    yield StreamEvent(
                        "status", f"Opening the article index… {time.perf_counter() - start:.0f} s"
                    )
            note = None
            backend = self.backend(settings)
            if getattr(backend, "status", "ready") != "ready" and hasattr(backend, "start_loading"):
                ready = yield from self._wait_for_model(backend)
                if not ready:
                    settings = replace(settings, backend=EXTRACTIVE)
                    note = (
                        f"the local model was still loading after {self.config.load_wait:.0f} s; "
                        "ask again in a moment for a model-written answer"
                    )
            assistant = self.assistant(settings, retriever)
            if self.priming and settings.backend == LOCAL:
                yield StreamEvent("status", "The local model is reading the article (first start only)…")
            for event in assistant.stream(question, history):
                if event.kind == "final" and note and event.answer is not None:
                    event = StreamEvent("final", answer=replace(event.answer, fallback=True, error=note))
                warning = self.corpus_warning
                if event.kind == "final" and warning and event.answer is not None:
                    notes = (*event.answer.notes, f"{warning}; answering from the previous version.")
                    event = StreamEvent("final", answer=replace(event.answer, notes=notes))
                yield event
        except Exception as exc:  # the page and the API get a message, never a stack trace
            log.exception("answering failed")
            elapsed = time.perf_counter() - start
            yield StreamEvent(
                "final",
                answer=Answer(
                    text=f"Something went wrong while answering: {exc}",
                    refused=False,
                    backend=settings.backend,
                    error=str(exc) or type(exc).__name__,
                    timings=Timings(0.0, None, elapsed),
                ),
            )

    def _wait_for_model(self, backend) -> Iterator[StreamEvent]:
        backend.start_loading()
        start = time.monotonic()
        while backend.status in ("loading", "not loaded"):
            waited = time.monotonic() - start
            if waited >= self.config.load_wait:
                return False
            yield StreamEvent("status", f"Waiting for the local model to finish loading… {waited:.0f} s")
            time.sleep(0.5)
        return True  # ready, or failed (the assistant then falls back and says why)

    def ask(self, question: object, history: object = None) -> dict[str, Any]:
        """The ``/ask`` endpoint: an answer with its citations, as JSON-ready data."""
        parsed, problem = parse_history(history)
        if problem:
            return answer_json(
                Answer(text=problem, refused=False, backend=self.config.backend, error=problem)
            )
        final = None
        for event in self.stream(question, parsed):
            if event.kind == "final":
                final = event.answer
        assert final is not None
        return answer_json(final)


def _default_local_model() -> str:
    return DEFAULT_LOCAL_MODEL


def parse_history(history: object) -> tuple[list[dict], str | None]:
    """History from an API client: a list (or JSON text of a list) of ``{role, content}``."""
    if history in (None, "", [], ()):
        return [], None
    if isinstance(history, (str, bytes)):
        try:
            history = json.loads(history)
        except (ValueError, UnicodeDecodeError):
            return [], 'history must be a JSON list of {"role": ..., "content": ...} messages'
    if not isinstance(history, list):
        return [], 'history must be a list of {"role": ..., "content": ...} messages'
    messages = [m for m in history if isinstance(m, Mapping)]
    if len(messages) != len(history):
        return [], 'every history item must be an object like {"role": "user", "content": "..."}'
    return [dict(m) for m in messages], None


def answer_json(answer: Answer) -> dict[str, Any]:
    """An :class:`Answer` as plain JSON data (what ``/ask`` returns)."""
    return answer.to_dict()


# -- rendering (every piece of text is escaped here) ----------------------------------------
def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def paragraph_id(doc: str, number: int) -> str:
    return f"rag-p-{doc}-{number}"


def source_id(doc: str, number: int) -> str:
    return f"rag-s-{doc}-{number}"


def nice_date(value: str | None) -> str:
    if not value:
        return ""
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        return value
    return f"{day.strftime('%B')} {day.day}, {day.year}"


def _paragraph_text(documents: Mapping[str, Document], doc: str, number: int) -> str | None:
    document = documents.get(doc)
    if document is None:
        return None
    if number == 0:
        return document.caption
    if 1 <= number <= len(document.paragraphs):
        return document.paragraphs[number - 1].text
    return None


class MarkerResolver:
    """Maps a marker as written (``¶3``, ``B¶3``) to the (doc, paragraph) it cites."""

    def __init__(self, documents: Mapping[str, Document], answer: Answer | None = None) -> None:
        self.documents = documents
        self.cited = [(c.doc, c.paragraph) for c in answer.citations] if answer else []
        self.retrieved = [(p.doc, n) for p in answer.passages for n in p.paragraphs] if answer else []
        order = list(dict.fromkeys([d for d, _ in self.cited] + [d for d, _ in self.retrieved]))
        self.doc_order = order or list(documents)

    def resolve(self, letter: str, number: int) -> tuple[str, int] | None:
        if letter:
            index = ord(letter.upper()) - ord("A")
            if 0 <= index < len(self.doc_order):
                doc = self.doc_order[index]
                if _paragraph_text(self.documents, doc, number) is not None:
                    return doc, number
            return None
        for pool in (self.cited, self.retrieved):
            docs = {d for d, n in pool if n == number}
            if len(docs) == 1:
                return docs.pop(), number
        if len(self.documents) == 1:
            (doc,) = self.documents
            if _paragraph_text(self.documents, doc, number) is not None:
                return doc, number
        return None


def cite_link(documents: Mapping[str, Document], doc: str, number: int, label: str) -> str:
    text = _paragraph_text(documents, doc, number) or ""
    preview = text if len(text) <= 160 else text[:157].rstrip() + "…"
    where = "photo caption" if number == 0 else f"paragraph {number}"
    if len(documents) > 1:
        where += f" of “{documents[doc].title}”"
    title = f"{where}: {preview}" if preview else where
    return (
        f'<a class="rag-cite" href="#{esc(paragraph_id(doc, number))}" title="{esc(title)}">{esc(label)}</a>'
    )


def linkify(text: str, documents: Mapping[str, Document], answer: Answer | None = None) -> tuple[str, list]:
    """Escape ``text`` and turn its citation markers into links; also return the cited targets."""
    resolver = MarkerResolver(documents, answer)
    out: list[str] = []
    targets: list[tuple[str, int]] = []
    last = 0
    for start, end, refs in find_markers(text):
        out.append(esc(text[last:start]))
        chips = []
        for letter, number in refs:
            label = f"{letter}¶{number}"
            target = resolver.resolve(letter, number)
            if target is None:
                chips.append(f'<span class="rag-cite rag-cite-missing">{esc(label)}</span>')
            else:
                targets.append(target)
                chips.append(cite_link(documents, target[0], target[1], label))
        out.append(f'<span class="rag-cites">{"".join(chips)}</span>')
        last = end
    out.append(esc(text[last:]))
    return "".join(out), list(dict.fromkeys(targets))


def render_question(text: str) -> str:
    return f'<div class="rag-q">{esc(text)}</div>'


def render_pending(status: str, draft: str, documents: Mapping[str, Document]) -> str:
    """The reply while it is being written: status note, and the draft text streamed so far."""
    parts = ['<div class="rag-answer rag-pending">']
    if draft:
        body, _ = linkify(draft, documents)
        draft_badge = '<span class="rag-badge rag-badge-draft">Draft · checking against the article</span>'
        parts.append(f'<div class="rag-badges">{draft_badge}</div>')
        parts.append(f'<div class="rag-text">{body}<span class="rag-caret"></span></div>')
    parts.append(
        f'<div class="rag-status"><span class="rag-spinner"></span>{esc(status or "Thinking…")}</div>'
    )
    parts.append("</div>")
    return "".join(parts)


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def answer_kind(answer: Answer) -> str:
    """``error``, ``declined``, ``refused``, ``fallback`` or ``ok`` — how the answer is shown."""
    if answer.error and not answer.fallback:
        return "error"
    if answer.refused and answer.text == INJECTION_REPLY:
        return "declined"
    if answer.refused:
        return "refused"
    if answer.fallback:
        return "fallback"
    return "ok"


def render_answer(answer: Answer, documents: Mapping[str, Document], requested: str = "") -> str:
    """A finished answer: badge for its kind, text with citation links, backend and timings."""
    kind = answer_kind(answer)
    body, _ = linkify(answer.text, documents, answer)
    badges = {
        "error": '<span class="rag-badge rag-badge-error">Error</span>',
        "declined": '<span class="rag-badge rag-badge-refused">Declined</span>',
        "refused": '<span class="rag-badge rag-badge-refused">Not in the article</span>',
        "fallback": f'<span class="rag-badge rag-badge-fallback">{FALLBACK_BADGE}</span>',
        "ok": "",
    }
    parts = [f'<div class="rag-answer rag-{kind}">']
    if badges[kind]:
        parts.append(f'<div class="rag-badges">{badges[kind]}')
        if answer.fallback and answer.refused:
            parts.append('<span class="rag-badge rag-badge-fallback">Fallback</span>')
        parts.append("</div>")
    parts.append(f'<div class="rag-text">{body}</div>')
    if kind == "error" and answer.error and answer.error.strip() != answer.text.strip():
        parts.append(f'<div class="rag-fix"><b>What to fix:</b> {esc(answer.error)}</div>')
    if answer.fallback:
        why = answer.error or "the language model did not answer"
        parts.append(
            f'<div class="rag-fix"><b>Why a fallback:</b> {esc(why)}. These sentences are quoted '
            "from the article, not written by the model.</div>"
        )
    for note in answer.notes:
        parts.append(f'<div class="rag-note">{esc(note)}</div>')
    if answer.removed:
        n = len(answer.removed)
        items = "".join(f"<li>{esc(s)}</li>" for s in answer.removed)
        parts.append(
            f'<details class="rag-removed"><summary>{n} sentence{"s" if n > 1 else ""} removed: '
            f"not supported by the article</summary><ul>{items}</ul></details>"
        )
    parts.append(render_meta(answer, requested))
    parts.append("</div>")
    return "".join(parts)


def render_meta(answer: Answer, requested: str = "") -> str:
    t = answer.timings
    backend = answer.backend or requested or "?"
    if answer.fallback and requested and requested != backend:
        backend = f"{backend} (instead of {requested})"
    bits = [f'<span class="rag-meta-backend">{esc(backend)}</span>']
    if t.first_token_s is not None and answer.backend != EXTRACTIVE and t.first_token_s != t.total_s:
        bits.append(f"first text {_seconds(t.first_token_s)}")
    bits.append(f"total {_seconds(t.total_s)}")
    if answer.citations:
        n = len(answer.citations)
        bits.append(f"{n} source{'s' if n > 1 else ''}")
    return f'<div class="rag-meta">{" · ".join(bits)}</div>'


def render_stopped() -> str:
    return '<div class="rag-answer rag-stopped"><div class="rag-text">Stopped.</div></div>'


def render_sources(answer: Answer | None, documents: Mapping[str, Document]) -> str:
    """The sources panel: each cited paragraph with its number and text, then what was retrieved."""
    if answer is None:
        return (
            '<div class="rag-sources"><p class="rag-empty">Ask a question: the paragraphs the answer '
            "relies on appear here, and are highlighted in the article below.</p></div>"
        )
    _, targets = linkify(answer.text, documents, answer)
    cited = [(c.doc, c.paragraph) for c in answer.citations] or targets
    heading = "Closest paragraphs (not enough to answer)" if answer.refused else "Cited paragraphs"
    multi = len(documents) > 1
    parts = ['<div class="rag-sources">']
    if cited:
        parts.append(f'<div class="rag-sources-head">{esc(heading)}</div>')
        for doc, number in dict.fromkeys(cited):
            text = _paragraph_text(documents, doc, number)
            if text is None:
                text = next((c.text for c in answer.citations if (c.doc, c.paragraph) == (doc, number)), "")
            label = "Caption" if number == 0 else f"¶{number}"
            where = (
                f'<span class="rag-src-doc">{esc(documents[doc].title)}</span>'
                if multi and doc in documents
                else ""
            )
            parts.append(
                f'<div class="rag-src" id="{esc(source_id(doc, number))}">'
                f'<a class="rag-goto" href="#{esc(paragraph_id(doc, number))}" title="Show in the article">'
                f'{esc(label)}</a>{where}<div class="rag-src-text">{esc(text)}</div></div>'
            )
    else:
        parts.append('<p class="rag-empty">This answer cites no paragraph.</p>')
    if answer.passages:
        rows = []
        for p in answer.passages:
            first = p.paragraphs[0] if p.paragraphs else 1
            label = p.label() if multi else p.label().replace(f"{p.doc} ", "")
            rows.append(
                f'<li><a class="rag-goto" href="#{esc(paragraph_id(p.doc, first))}">{esc(label)}</a>'
                f' <span class="rag-score">score {p.score:.3f}</span>'
                f'<div class="rag-src-text">{esc(p.text)}</div></li>'
            )
        parts.append(
            f'<details class="rag-retrieved"><summary>All {len(answer.passages)} retrieved passages'
            f"</summary><ol>{''.join(rows)}</ol></details>"
        )
    parts.append("</div>")
    return "".join(parts)


def render_article(documents: Mapping[str, Document], highlight: Sequence[tuple[str, int]] = (),
                   refused: bool = False) -> str:  # fmt: skip
    """Every article in full: metadata, caption (¶0) and numbered paragraphs under their sections."""
    marked = set(highlight)
    css = "rag-near" if refused else "rag-cited"
    parts = ['<div class="rag-articles">']
    for doc in documents.values():
        parts.append(f'<article class="rag-article" id="rag-doc-{esc(doc.id)}">')
        line = " · ".join(esc(x) for x in (doc.publisher, nice_date(doc.date)) if x)
        if line:
            parts.append(f'<div class="rag-kicker">{line}</div>')
        parts.append(f"<h2>{esc(doc.title)}</h2>")
        if doc.subtitle:
            parts.append(f'<p class="rag-subtitle">{esc(doc.subtitle)}</p>')
        if doc.author:
            parts.append(f'<p class="rag-byline">By {esc(doc.author)}</p>')
        if doc.caption:
            cls = f"rag-para rag-caption {css}" if (doc.id, 0) in marked else "rag-para rag-caption"
            parts.append(
                f'<figure class="{cls}" id="{esc(paragraph_id(doc.id, 0))}" tabindex="-1">'
                '<span class="rag-pn">Photo caption</span>'
                f"<figcaption>{esc(doc.caption)}</figcaption></figure>"
            )
        section = None
        for p in doc.paragraphs:
            if p.section and p.section != section and p.section != doc.title:
                parts.append(f"<h3>{esc(p.section)}</h3>")
            section = p.section
            cls = f"rag-para {css}" if (doc.id, p.number) in marked else "rag-para"
            parts.append(
                f'<p class="{cls}" id="{esc(paragraph_id(doc.id, p.number))}" tabindex="-1">'
                f'<span class="rag-pn">¶{p.number}</span>{esc(p.text)}</p>'
            )
        if doc.source:
            parts.append(f'<p class="rag-source-file">Source file: {esc(doc.source)}</p>')
        parts.append("</article>")
    parts.append("</div>")
    return "".join(parts)


def render_header(documents: Sequence[Document]) -> str:
    doc = documents[0]
    kicker = " · ".join(esc(x) for x in (doc.publisher, nice_date(doc.date)) if x)
    more = ""
    if len(documents) > 1:
        others = len(documents) - 1
        more = f'<span class="rag-more">and {others} more article{"s" if others > 1 else ""}</span>'
    byline = f'<div class="rag-head-byline">By {esc(doc.author)}</div>' if doc.author else ""
    return (
        '<header class="rag-head"><div class="rag-head-kicker">Ask the article'
        f"{' · ' + kicker if kicker else ''}</div>"
        f"<h1>{esc(doc.title)} {more}</h1>{byline}</header>"
    )


def render_status(status: Mapping[str, str]) -> str:
    """The pill in the header: index and model state."""
    index = status.get("index", "")
    items = []
    if index == "opening":
        items.append(("busy", "Opening the article index…"))
    elif index.startswith("failed"):
        items.append(("bad", f"Index {index}"))
    backend = status.get("backend")
    model = status.get("model")
    name = status.get("model_name", "")
    if backend == LOCAL:
        if model in ("loading", "not loaded"):
            items.append(("busy", f"Local model {name}: loading… (questions wait for it)"))
        elif model == "ready":
            took = status.get("load_seconds")
            items.append(("ok", f"Local model {name}: ready" + (f" (loaded in {took} s)" if took else "")))
        elif model:
            items.append(("bad", f"Local model {name}: {model}. Answers quote the article instead."))
    elif backend == REMOTE:
        items.append(("ok", f"Remote model {name} at {status.get('base_url', '')}"))
    elif backend == EXTRACTIVE:
        items.append(("ok", "Extractive answers: sentences quoted from the article, no model"))
    elif backend:
        items.append(("ok", f"Backend {backend}"))
    if index == "ready" and not items:
        items.append(("ok", "Ready"))
    spinner = '<span class="rag-spinner"></span>'
    pills = "".join(
        f'<span class="rag-pill rag-pill-{kind}">{spinner if kind == "busy" else ""}{esc(text)}</span>'
        for kind, text in items
    )
    return f'<div class="rag-status-bar" role="status" aria-live="polite">{pills}</div>'


def _status_busy(status: Mapping[str, str]) -> bool:
    return status.get("index") == "opening" or status.get("model") in ("loading", "not loaded")


# -- the Gradio app ------------------------------------------------------------------------
@dataclass
class Turn:
    """One question and its answer (``None`` while it is being written, or if stopped)."""

    question: str
    answer: Answer | None = None
    requested: str = ""


def history_of(turns: Sequence[Turn]) -> list[dict[str, str]]:
    """Conversation memory for the model: finished turns without errors."""
    out: list[dict[str, str]] = []
    for t in turns:
        if t.answer is not None and not (t.answer.error and not t.answer.fallback):
            out += [{"role": "user", "content": t.question}, {"role": "assistant", "content": t.answer.text}]
    return out


def render_chat(turns: Sequence[Turn], documents: Mapping[str, Document], pending: str | None = None) -> list:
    messages: list[dict[str, str]] = []
    for i, t in enumerate(turns):
        messages.append({"role": "user", "content": render_question(t.question)})
        if t.answer is not None:
            messages.append({"role": "assistant", "content": render_answer(t.answer, documents, t.requested)})
        elif i == len(turns) - 1 and pending is not None:
            messages.append({"role": "assistant", "content": pending})
        else:
            messages.append({"role": "assistant", "content": render_stopped()})
    return messages


def _read_static(name: str) -> str:
    return (STATIC / name).read_text("utf-8")


def examples_for(documents: Sequence[Document]) -> list[str]:
    for doc in documents:
        if doc.id in EXAMPLES:
            return EXAMPLES[doc.id]
    return GENERIC_EXAMPLES


def build_app(service: Service):
    """The Gradio Blocks of the page (not launched; see :func:`launch_options` and :func:`serve`)."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    import gradio as gr

    docs = service.documents_by_id()  # for the page as first served; handlers read them anew
    first = service.documents[0]
    defaults = service.settings()
    choices = [(BACKEND_LABELS.get(n, n), n) for n in backend_names()]

    def article(answer: Answer | None, docs: Mapping[str, Document]) -> str:
        if answer is None:
            return render_article(docs)
        _, targets = linkify(answer.text, docs, answer)
        cited = [(c.doc, c.paragraph) for c in answer.citations] or targets
        return render_article(docs, cited, refused=answer.refused)

    def chat(question, turns, backend, base_url, remote_model, k):
        """Answer ``question``, streaming into the chat; update the sources and the article."""
        turns = list(turns or [])
        text = question if isinstance(question, str) else ""
        if not text.strip():
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        settings = service.settings(backend, base_url, remote_model, k)
        docs = service.documents_by_id()
        history = history_of(turns)
        turns.append(Turn(text, None, settings.backend))
        status, draft = "Searching the article…", ""
        busy = gr.Textbox(value="", interactive=False, placeholder=BUSY_PLACEHOLDER)
        yield render_chat(turns, docs, render_pending(status, draft, docs)), turns, busy, gr.skip(), gr.skip()
        for event in service.stream(text, history, settings):
            if event.kind == "status":
                status = event.text
            elif event.kind == "delta":
                draft += event.text
                status = "Writing…"
            else:
                assert event.answer is not None
                docs = service.documents_by_id()  # a corpus change is picked up by this question
                turns[-1] = Turn(text, event.answer, settings.backend)
                yield (
                    render_chat(turns, docs),
                    turns,
                    gr.Textbox(interactive=True, placeholder=PLACEHOLDER),
                    render_sources(event.answer, docs),
                    article(event.answer, docs),
                )
                return
            yield (
                render_chat(turns, docs, render_pending(status, draft, docs)),
                gr.skip(),
                gr.skip(),
                gr.skip(),
                gr.skip(),
            )

    def retry(turns, backend, base_url, remote_model, k):
        turns = list(turns or [])
        if not turns:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        last = turns.pop()
        yield from chat(last.question, turns, backend, base_url, remote_model, k)

    def from_example(event: gr.SelectData, turns, backend, base_url, remote_model, k):
        value = event.value if isinstance(event.value, dict) else {}
        yield from chat(str(value.get("text", "")), turns, backend, base_url, remote_model, k)

    from_example.__annotations__["event"] = gr.SelectData  # resolvable (gradio is imported locally)

    def undo(turns):
        turns = list(turns or [])
        if not turns:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        last = turns.pop()
        previous = next((t.answer for t in reversed(turns) if t.answer is not None), None)
        docs = service.documents_by_id()
        return (
            render_chat(turns, docs),
            turns,
            last.question,
            render_sources(previous, docs),
            article(previous, docs),
        )

    def clear():
        docs = service.documents_by_id()
        box_update = gr.Textbox(value="", interactive=True, placeholder=PLACEHOLDER)
        return [], [], box_update, render_sources(None, docs), article(None, docs)

    def stopped(turns):
        docs = service.documents_by_id()
        return render_chat(list(turns or []), docs), gr.Textbox(interactive=True, placeholder=PLACEHOLDER)

    def status(backend):
        current = service.status(service.settings(backend))
        return render_status(current), gr.Timer(active=_status_busy(current))

    def settings_changed(backend):
        current = service.status(service.settings(backend))
        if backend == LOCAL and service.local_status() is None:
            threading.Thread(target=service.preload_local, daemon=True).start()
        return render_status(current), gr.Timer(active=True), gr.Group(visible=backend == REMOTE)

    def ask(question: str, history: list[dict] | None = None) -> dict:
        """Answer a question about the article, with the paragraphs it cites.

        history: earlier turns, a list of {"role": "user"|"assistant", "content": "..."}.
        Returns {answer, refused, backend, fallback, error, citations, passages, timings, ...}.
        """
        return service.ask(question, history)

    title = f"Ask the article — {first.title}"
    with gr.Blocks(title=title, analytics_enabled=False, fill_width=True) as demo:
        turns_state = gr.State([])
        with gr.Row(elem_id="rag-top", equal_height=True):
            gr.HTML(render_header(service.documents), elem_id="rag-header", js_on_load=None, scale=5)
            status_html = gr.HTML(
                render_status(service.status(defaults)), elem_id="rag-status", js_on_load=None, scale=2
            )
        with gr.Row(elem_id="rag-main"):
            with gr.Column(scale=6, min_width=360, elem_id="rag-chat-col"):
                chatbot = gr.Chatbot(
                    elem_id="rag-chat",
                    show_label=False,
                    height="calc(100vh - 365px)",
                    min_height=380,
                    render_markdown=False,  # messages are HTML built (and escaped) here
                    sanitize_html=True,
                    allow_tags=False,
                    feedback_options=None,
                    buttons=[],
                    layout="bubble",
                    placeholder=(
                        "<div class='rag-placeholder'><b>Ask anything about the article.</b><br>"
                        "Every answer cites the paragraphs it uses: click a ¶ marker to read it.</div>"
                    ),
                    examples=[{"text": q, "display_text": q} for q in examples_for(service.documents)],
                )
                with gr.Row(elem_id="rag-input-row"):
                    box = gr.Textbox(
                        placeholder=PLACEHOLDER,
                        show_label=False,
                        lines=1,
                        max_lines=4,
                        scale=8,
                        autofocus=True,
                        elem_id="rag-input",
                        container=False,
                    )
                    send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="rag-send")
                with gr.Row(elem_id="rag-actions"):
                    small: dict[str, Any] = {"size": "sm", "variant": "secondary", "scale": 0}
                    stop = gr.Button("■ Stop", elem_id="rag-stop", **small)
                    retry_btn = gr.Button("↻ Retry", elem_id="rag-retry", **small)
                    clear_btn = gr.Button("Clear conversation", elem_id="rag-clear", **small)
                with gr.Accordion("Settings", open=False, elem_id="rag-settings"):
                    backend = gr.Radio(
                        choices, value=defaults.backend, label="Who writes the answers", elem_id="rag-backend"
                    )
                    with gr.Group(visible=defaults.backend == REMOTE) as remote_group:
                        base_url = gr.Textbox(
                            value=service.config.base_url or "",
                            label="Server URL (OpenAI-compatible)",
                            placeholder="https://api.openai.com/v1",
                        )
                        remote_model = gr.Textbox(
                            value=defaults.remote_model, label="Model name on that server"
                        )
                        gr.Markdown(
                            "The API key is set on the server (`OPENAI_API_KEY`); it is only sent to the "
                            "server URL the app was started with."
                        )
                    k = gr.Slider(1, MAX_K, value=defaults.k, step=1, label="Passages retrieved per question")
            with gr.Column(scale=5, min_width=320, elem_id="rag-side"):
                gr.HTML("<div class='rag-panel-title'>Sources</div>", js_on_load=None)
                sources = gr.HTML(
                    render_sources(None, docs),
                    elem_id="rag-sources",
                    elem_classes=["rag-scroll"],
                    js_on_load=None,
                )
                gr.HTML("<div class='rag-panel-title'>The article</div>", js_on_load=None)
                article_html = gr.HTML(
                    render_article(docs), elem_id="rag-article", elem_classes=["rag-scroll"], js_on_load=None
                )
        timer = gr.Timer(1.0, active=_status_busy(service.status(defaults)))

        settings_in = [backend, base_url, remote_model, k]
        outputs = [chatbot, turns_state, box, sources, article_html]
        private: dict[str, Any] = {"api_visibility": "private"}
        events = [
            box.submit(chat, [box, turns_state, *settings_in], outputs, **private),
            send.click(chat, [box, turns_state, *settings_in], outputs, **private),
            retry_btn.click(retry, [turns_state, *settings_in], outputs, **private),
            chatbot.retry(retry, [turns_state, *settings_in], outputs, **private),
            chatbot.example_select(from_example, [turns_state, *settings_in], outputs, **private),
        ]
        stop.click(stopped, [turns_state], [chatbot, box], cancels=events, **private)
        chatbot.undo(undo, [turns_state], outputs, **private)
        clear_btn.click(clear, None, outputs, cancels=events, **private)
        chatbot.clear(clear, None, outputs, cancels=events, **private)
        quiet: dict[str, Any] = {"show_progress": "hidden", **private}
        timer.tick(status, [backend], [status_html, timer], **quiet)
        demo.load(status, [backend], [status_html, timer], **quiet)
        # Articles added since start, for a page opened before anything is asked.
        demo.load(lambda: article(None, service.documents_by_id()), None, [article_html], **quiet)
        backend.change(settings_changed, [backend], [status_html, timer, remote_group], **quiet)
        gr.api(ask, api_name=API_NAME)
    demo.queue(default_concurrency_limit=service.config.concurrency)
    return demo


def launch_options(config: WebConfig) -> dict[str, Any]:
    """Arguments of ``Blocks.launch``: never a share link; auth when RAG_PASSWORD is set."""
    import gradio as gr

    theme = gr.themes.Default(
        primary_hue="blue",
        neutral_hue="slate",
        font=["Inter", "ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
    )
    options: dict[str, Any] = {
        "server_name": config.host,
        "server_port": config.port,
        "share": False,
        "show_error": False,
        "footer_links": ["api"],
        "run_history": False,
        "enable_monitoring": False,
        "mcp_server": False,
        "ssr_mode": False,
        "pwa": False,
        "theme": theme,
        "css": _read_static("web.css"),
        "js": _read_static("web.js"),
    }
    if config.password:
        options["auth"] = [(config.user, config.password)]
        options["auth_message"] = "This reading companion is private. Sign in to ask about the article."
    return options


def make_service(args: argparse.Namespace, config: WebConfig) -> Service:
    """Read the corpus now (fast, for the page) and prepare to open the index in the background."""
    corpus = load_corpus(flags.corpus_path(args))
    for path, reason in corpus.skipped:
        log.warning("skipped %s: %s", path, reason)
    return Service(config, corpus.documents, lambda: flags.open_retriever(args))


def serve(args: argparse.Namespace) -> int:
    """Start the page and block until interrupted (``rag serve`` / ``python app.py``)."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    config = flags.web_config(args)
    service = make_service(args, config)
    demo = build_app(service)
    demo.launch(**launch_options(config), quiet=True, prevent_thread_lock=True)
    # The index and the local model load after the page is up: started earlier, their
    # imports compete with Gradio's for the GIL and delay the page by seconds on 2 cores.
    service.start()
    where = f"http://{config.host}:{config.port}"
    log.info("serving on %s (backend %s)", where, config.backend)
    print(f"Ask the article: {where}" + (f" (user {config.user!r})" if config.password else ""), flush=True)
    demo.block_thread()
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The flags of ``python app.py`` (the same as ``rag serve``)."""
    parser = argparse.ArgumentParser(prog="app.py", description="The web chat over the article.")
    flags.add_verbose_flag(parser)
    flags.add_server_flags(parser)
    flags.add_corpus_flags(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """``python app.py``: the same as ``rag serve``."""
    args = build_parser().parse_args(argv)
    flags.setup_logging(args.verbose)
    try:
        return serve(args)
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
