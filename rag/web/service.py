"""The service behind the web chat and the HTTP API: the retriever, backends and assistants.

One :class:`Service` is shared by every browser session and API client. It opens the index in
a background thread (the page is served meanwhile), creates each backend once (the local
model loads once, in the background, then reads the article), caches assistants, and
re-reads the corpus when its files change (an article added or removed while it runs).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import articles
from ..articles import ArticleError, NewArticle
from ..assistant import Assistant, AssistantConfig
from ..backends import backend_names, make_backend
from ..backends.openai_compat import DEFAULT_BASE_URL
from ..backends.registry import EXTRACTIVE
from ..models import DEFAULT_LOCAL_MODEL
from ..retriever import default_cache_root
from ..settings import LOCAL, MAX_K, REMOTE, WebConfig
from ..types import Answer, Document, StreamEvent, Timings
from .setup_watch import SetupWatch

log = logging.getLogger(__name__)

DEFAULT_REMOTE_MODEL = "gpt-4o-mini"


@dataclass(frozen=True)
class Settings:
    """What one reader chose in the settings panel."""

    backend: str
    base_url: str = ""
    remote_model: str = ""
    k: int = 4


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
        corpus_folder: Path | None = None,
        read_only_reason: str | None = None,
        local_setup: SetupWatch | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.local_setup = local_setup  # the local model's set-up, if still running (`make chat`)
        self.say = say or log.info  # start-up progress: the index, the model, its reading
        self.corpus_folder = corpus_folder  # where added articles go (None: the retriever's)
        self.read_only_reason = read_only_reason  # why articles cannot be added here, if so
        self.documents = tuple(documents)
        self._open_retriever = open_retriever
        self._cache_root = cache_root
        self._retriever = None
        self._retriever_error: str | None = None
        self._retriever_ready = threading.Event()
        self._retriever_thread: threading.Thread | None = None
        self._reload_lock = threading.Lock()
        self._articles_lock = threading.Lock()  # one article added or removed at a time
        self.corpus_warning: str | None = None
        self._lock = threading.Lock()
        self._backends: dict[tuple, Any] = {}
        self._reading = 0  # articles the local model is reading now (shown as "reading")
        self._assistants: dict[tuple, Any] = {}

    # -- start-up ----------------------------------------------------------------------
    def start(self) -> None:
        """Open the index and (for the local backend) start loading the model, in the background."""
        if self._retriever_thread is None:
            self._retriever_thread = threading.Thread(target=self._open, name="rag-index", daemon=True)
            self._retriever_thread.start()
        if self.config.backend == LOCAL:
            threading.Thread(target=self._preload_after_setup, name="rag-model", daemon=True).start()

    def setup_pending(self) -> str | None:
        """What the local model's set-up is doing while it still runs, else ``None``."""
        return self.local_setup.pending() if self.local_setup is not None else None

    def _preload_after_setup(self) -> None:
        pending = self.setup_pending()
        if pending is not None:
            self.say(f"the local model is still being set up: {pending}; the page quotes the article")
            while not self.local_setup.wait(timeout=30):
                self.say(f"the local model's set-up: {self.setup_pending() or 'finishing'}")
            self.say("the local model's set-up is done")
        self.preload_local()

    def _open(self) -> None:
        start = time.perf_counter()
        try:
            self._retriever = self._open_retriever()
            self.say(f"the article index is open ({time.perf_counter() - start:.1f} s): the page can answer")
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
            self.say(f"loading the local model {self.config.model or _default_local_model()}")
            loader()
            threading.Thread(target=self._warm_local, args=(backend,), name="rag-warm", daemon=True).start()

    def _warm_local(self, backend) -> None:
        """Once the model is loaded, let it read the articles (or load what it read before), so a
        question costs only its own tokens. Questions asked meanwhile do not wait: they are
        answered from the article's best sentences and say so (see :meth:`Assistant.stream`)."""
        # Counted as reading from the start, so the page never shows "ready" in the gap between
        # the model loaded and its reading begun.
        with self._reading_now():
            with contextlib.suppress(Exception):  # waits for the background load; a failure shows in status
                backend.load()
            status = getattr(backend, "status", "ready")
            if status != "ready":
                self.say(f"the local model did not load: {status}")
                return
            seconds = getattr(backend, "load_seconds", None)
            took = f" ({seconds:.1f} s)" if seconds is not None else ""
            self.say(
                f"the local model is loaded{took}; it reads the articles now (about half a minute each on "
                "2 cores; questions meanwhile are answered from the article's best sentences)"
            )
            try:
                retriever = self.retriever()
                self.assistant(Settings(LOCAL), retriever).warm_all(on_read=self._said_reading)
            except Exception as exc:  # answering still works, only the first answer is slower
                log.warning("could not prepare the article prompt: %s", exc)
                return
        self.say("ready: the local model answers")

    def retriever(self, timeout: float | None = None):
        """The retriever, waiting up to ``timeout`` seconds; ``None`` if not ready yet."""
        if not self._retriever_ready.wait(timeout):
            return None
        if self._retriever_error is not None:
            raise RuntimeError(f"the article index could not be opened: {self._retriever_error}")
        self._reload_if_changed()
        return self._retriever

    def ready_retriever(self, timeout: float = 120.0):
        """The retriever, waiting for the index to open; ``RuntimeError`` if it does not in time."""
        retriever = self.retriever(timeout=timeout)
        if retriever is None:
            raise RuntimeError(f"the article index is still opening after {timeout:.0f} s; try again")
        return retriever

    def search(self, query: str, k: int = 5, doc: str | None = None) -> list:
        """:meth:`Retriever.search` on the current index (``ValueError`` for a bad query or doc)."""
        return self.ready_retriever().search(query, k=k, doc=doc)

    # -- articles ------------------------------------------------------------------------
    def add_article(self, article: NewArticle) -> Document:
        """Save ``article`` into the corpus folder and index it; it is searchable on return.

        If it cannot be indexed, its file is removed again and the old index keeps serving.
        """
        self._check_writable()
        with self._articles_lock:
            retriever = self.ready_retriever()
            folder = self._folder(retriever)
            path = articles.write(folder, article, retriever.documents)
            try:
                fresh = self._reload(retriever)
            except Exception as exc:
                path.unlink(missing_ok=True)
                log.error("the new article %s could not be indexed: %s", article.id, exc)
                raise ArticleError(
                    f"the article could not be indexed: {exc}", status=500, code="index_failed"
                ) from exc
            added = [d for d in fresh.corpus.documents if d.source == path.name]
            if not added:  # skipped by the corpus loader after all: take it back out
                path.unlink(missing_ok=True)
                self._reload(fresh)
                raise ArticleError(
                    "the article could not be read back from the corpus folder", code="unreadable_article"
                )
            log.info("article %s added (%d paragraphs)", added[0].id, len(added[0].paragraphs))
        self._read_soon(added[0].id)
        return added[0]

    def _read_soon(self, doc_id: str) -> None:
        """Let a loaded local model start reading an added article now, in the background, rather
        than at the first question about it (which is quoted at while the model reads)."""
        if self.local_status() != "ready":
            return

        def read() -> None:
            try:
                with self._reading_now():
                    seconds = self.assistant(Settings(LOCAL), self.ready_retriever()).warm(doc_id)
                _log_reading(doc_id, seconds)
            except Exception as exc:  # the first question about it starts the reading again
                log.warning("could not read the added article %s: %s", doc_id, exc)

        threading.Thread(target=read, name="rag-read-added", daemon=True).start()

    def remove_article(self, doc_id: str) -> Document:
        """Delete the article ``doc_id`` from the corpus folder and the index."""
        self._check_writable()
        with self._articles_lock:
            retriever = self.ready_retriever()
            doc = retriever.documents.get(doc_id)
            if doc is None:
                raise ArticleError(f"there is no article {doc_id!r}", status=404, code="not_found")
            if len(retriever.documents) == 1:
                raise ArticleError(
                    "the last article cannot be removed: the corpus would be empty",
                    status=409,
                    code="last_article",
                )
            path = articles.file_of(retriever.corpus.root, doc)
            aside = path.with_name(f"{articles.TEMP_PREFIX}{path.name}.removed")
            os.replace(path, aside)
            try:
                self._reload(retriever)
            except Exception as exc:
                os.replace(aside, path)
                raise ArticleError(
                    f"the article could not be removed from the index: {exc}", status=500, code="index_failed"
                ) from exc
            aside.unlink(missing_ok=True)
            log.info("article %s removed", doc_id)
            return doc

    def can_edit_articles(self) -> bool:
        return self.read_only_reason is None

    def _check_writable(self) -> None:
        if self.read_only_reason is not None:
            raise ArticleError(self.read_only_reason, status=403, code="read_only")

    def _folder(self, retriever) -> Path:
        folder = self.corpus_folder or Path(retriever.corpus.root)
        if not folder.is_dir():
            raise ArticleError(
                f"the corpus is a single file ({folder}), not a folder: articles cannot be added",
                status=409,
                code="read_only",
            )
        return folder

    def _reload(self, current):
        """Re-read the corpus now (the caller changed it) and serve the new index from here on."""
        with self._reload_lock:
            fresh = current.reload()
            with self._lock:
                self._retriever = fresh
                self._assistants.clear()
                self.documents = tuple(fresh.corpus.documents)
                self.corpus_warning = None
        return fresh

    def _reload_if_changed(self) -> None:
        """Re-read the corpus when its files changed while the app runs (the old index serves
        until the new one is ready; if the new corpus cannot be read, the old one stays)."""
        current = self._retriever
        if current is None or not current.changed(min_interval=self.config.corpus_check):
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
            corpus_root = self.corpus_folder
            if corpus_root is None and self._retriever is not None:
                corpus_root = Path(self._retriever.corpus.root)
            if root:
                self._cache_root = Path(root)
            else:  # not from a document's source: that is a file name, without its folder
                self._cache_root = default_cache_root(corpus_root or Path("corpus"))
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

    @contextlib.contextmanager
    def _reading_now(self) -> Iterator[None]:
        with self._lock:
            self._reading += 1
        try:
            yield
        finally:
            with self._lock:
                self._reading -= 1

    def _said_reading(self, doc: str, seconds: float | None) -> None:
        _log_reading(doc, seconds)
        if seconds is not None:
            self.say(f"the local model has read {doc} ({seconds:.1f} s)")

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
            pending = self.setup_pending() if model is None else None
            if pending is not None:
                model = f"setting up: {pending}"
            elif model is None:
                model = "loading" if self.config.backend == LOCAL else "not loaded"
            elif model == "ready" and self._reading:
                model = "reading"
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
        self,
        question: object,
        history: Sequence[Mapping] | None = None,
        settings: Settings | None = None,
        *,
        doc: str | None = None,
    ) -> Iterator[StreamEvent]:
        """Like :meth:`Assistant.stream` (``doc``: one article only), plus waiting for the index
        and the local model."""
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
            extra_notes: tuple[str, ...] = ()
            pending = self.setup_pending() if settings.backend == LOCAL else None
            if pending is not None:  # no model yet: quote the article at once, as while it reads
                settings = replace(settings, backend=EXTRACTIVE)
                extra_notes = (
                    f"The local model is still being set up ({pending}); this answer quotes the article.",
                )
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
            for event in assistant.stream(question, history, doc=doc or None):
                if event.kind == "final" and note and event.answer is not None:
                    event = StreamEvent("final", answer=replace(event.answer, fallback=True, error=note))
                if event.kind == "final" and extra_notes and event.answer is not None:
                    notes = (*event.answer.notes, *extra_notes)
                    event = StreamEvent("final", answer=replace(event.answer, notes=notes))
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


def _log_reading(doc: str, seconds: float | None) -> None:
    if seconds is not None:
        log.info("the model's reading of %s is ready (%.1f s)", doc, seconds)
