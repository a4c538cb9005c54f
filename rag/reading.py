"""The whole article as the model reads it, and the model's reading of it.

A small model answers better from the whole article than from a few sentences, and with the
article always first in the prompt llama.cpp evaluates it once: a question then costs only its
own tokens. :class:`ArticleReading` builds each article's text as the model reads it (speakers
written in, planted instructions left out) when it fits, the prompt head the model reads once,
and has a backend that keeps what it reads (:class:`~rag.backends.PrefixCache`) read it: now,
in the background, or every article in turn. :meth:`ArticleReading.rerank` asks the model about
passages after the article it has read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence

from .assistant_config import AssistantConfig
from .attribution import Attributions, reader_text
from .backends import BackendError, ChatBackend, PrefixCache, Verifier
from .evidence import ScoredSentence
from .prompt import Prompt, build_prompt, passage_check_messages, with_tail
from .retriever import Retriever
from .safety import strip_injections
from .types import Paragraph, Passage

PRIME_MARKER = "<<question>>"  # stands for the question while the article prefix is primed
READING_NOTE = (
    "The model is still reading this article for the first time; this answer is written from "
    "its most relevant sentences."
)
QUOTED_WHILE_READING = (
    "The model is still reading this article for the first time; meanwhile this answer quotes "
    "the article's best-matching sentences. Ask again in a minute for the model's answer."
)
WAITING_TO_READ = "The model is reading this article for the first time (later questions reuse its reading)…"

Shown = list[tuple[Paragraph, str]]  # an article's paragraphs and their text as the model reads it


class ArticleReading:
    """The corpus's articles as the model reads them whole, and the model's reading of them."""

    def __init__(
        self,
        retriever: Retriever,
        backend: ChatBackend | None,
        config: AssistantConfig,
        attributions: Mapping[str, Attributions],
    ) -> None:
        self.retriever = retriever
        self.backend = backend
        self.config = config
        self.attributions = attributions
        self._articles: dict[str, Shown | None] = {}
        self._heads: dict[str, Prompt] = {}

    def article(self, doc: str) -> Shown | None:
        """Every paragraph of article ``doc``, if it fits ``article_context_tokens``; else ``None``.

        A small model answers better from the whole article than from a few sentences, and with
        the article always first in the prompt llama.cpp evaluates it once (see :meth:`warm`):
        a question then costs only its own tokens. Planted instructions are left out.
        """
        limit = self.config.article_context_tokens
        if limit <= 0 or self.backend is None or doc not in self.retriever.documents:
            return None
        if doc not in self._articles:
            document = self.retriever.documents[doc]
            paragraphs = ([self.retriever.paragraph(doc, 0)] if document.caption else []) + list(
                document.paragraphs
            )
            found = self.attributions.get(doc) if self.config.checks.speaker_context else None
            style = self.config.speaker_notes
            shown = [(p, strip_injections(reader_text(p, found, style) if found else p.text))
                     for p in paragraphs]  # fmt: skip
            self._finish_loading()
            tokens = sum(self.backend.count_tokens(text) + 4 for _, text in shown)
            fits = tokens <= min(limit, self.backend.context_window // 2)
            self._articles[doc] = shown if fits else None
        return self._articles[doc]

    def head(self, doc: str, article: Shown) -> Prompt:
        """The prompt for article ``doc`` with no question yet (what the model reads once)."""
        if doc not in self._heads:
            assert self.backend is not None
            self._heads[doc] = build_prompt(
                PRIME_MARKER,
                article,
                count_tokens=self.backend.count_tokens,
                context_window=self.backend.context_window,
                max_answer_tokens=self.config.max_answer_tokens,
                labels=self.config.citations == "model",
            )
        return self._heads[doc]

    def prepare(self, doc: str) -> tuple[Shown | None, str]:
        """Article ``doc`` as the model reads it (``None`` when it is not read whole) and the
        model's reading of it: ``"ready"`` (in memory or saved), ``"reading"`` (now, in the
        background; started here if needed), ``"failed"`` (it cannot be primed), or ``"none"``
        (nothing to read, or a backend that keeps no reading)."""
        shown = self.article(doc)
        if not shown or not isinstance(self.backend, PrefixCache):
            return shown, "none"
        status = self.backend.prepare(self._prefix(doc, shown), PRIME_MARKER)
        return shown, "reading" if status in ("reading", "queued") else status

    def read(self, doc: str, shown: Shown) -> float:
        """Have the model read article ``doc`` (``shown``, from :meth:`article`) now, or wait for
        the reading under way; the seconds taken."""
        assert isinstance(self.backend, PrefixCache)
        return self.backend.prime(self._prefix(doc, shown), PRIME_MARKER)

    def primed(self, scored: Sequence[ScoredSentence], *, wait: bool = False) -> tuple[Shown | None, bool]:
        """The whole article to answer after, when the best sentences ``scored`` come from one
        article and the model has read it (or can restore what it read from the cache), and
        whether the model is reading it now (started here if needed, in the background, for the
        next question). ``wait``: read it now instead."""
        assert self.backend is not None
        docs = {s.paragraph.doc for s in scored[: self.config.context_sentences]}
        if len(docs) != 1:
            return None, False
        doc = scored[0].paragraph.doc
        shown, status = self.prepare(doc)
        if status == "reading" and wait:
            self.read(doc, shown)
        elif status in ("reading", "failed"):
            return None, status == "reading"
        return shown, False

    def warm(self, doc: str | None = None) -> float | None:
        """Let the model read article ``doc`` (default: the first) now, if the backend can keep it.

        Not needed before asking: a question about an article the model has not read is answered
        from the best sentences while the model reads it in the background. Returns the seconds
        taken, or ``None`` when there is nothing to read (no backend that keeps what it reads, or
        an article too long to be read whole).
        """
        if not isinstance(self.backend, PrefixCache) or not self.retriever.corpus.documents:
            return None
        doc = doc or self.retriever.corpus.documents[0].id
        article = self.article(doc)
        if not article:
            return None
        return self.read(doc, article)

    def warm_all(
        self, limit: int | None = None, on_read: Callable[[str, float | None], None] | None = None
    ) -> dict[str, float | None]:
        """Let the model read every article now, in corpus order: the first ``limit`` (default:
        as many as the backend keeps saved readings of). Returns the seconds each took, ``None``
        for one with nothing to read (too long to be read whole); ``on_read(doc, seconds)`` is
        called as each is done.
        """
        if not isinstance(self.backend, PrefixCache):
            return {}
        keep = limit if limit is not None else getattr(self.backend, "keep_states", None)
        read: dict[str, float | None] = {}
        for document in self.retriever.corpus.documents[:keep]:
            read[document.id] = self.warm(document.id)
            if on_read is not None:
                on_read(document.id, read[document.id])
        return read

    def rerank(self, question: str, passages: Sequence[Passage]) -> list[Passage]:
        """``passages`` ordered by the model's probability that each holds the answer.

        Needs a backend that reports P("yes") (:class:`~rag.backends.Verifier`); each check is
        asked after the article the model has read, so it costs a few tokens. Passages of an
        article too long to be read whole keep their place after the others.
        """
        if not isinstance(self.backend, Verifier):
            return list(passages)
        scored = []
        for rank, passage in enumerate(passages):
            article = self.article(passage.doc)
            if not article:
                scored.append((-1.0, rank, passage))
                continue
            head = self.head(passage.doc, article)
            p = self.backend.yes_probability(passage_check_messages(head, question, passage.text))
            scored.append((p, rank, passage))
        return [p for _, _, p in sorted(scored, key=lambda t: (-t[0], t[1]))]

    def _prefix(self, doc: str, shown: Shown):
        """The prompt the model reads once for article ``doc``, up to :data:`PRIME_MARKER`."""
        return with_tail(self.head(doc, shown), PRIME_MARKER)

    def _finish_loading(self) -> None:
        """Wait for a local model that is still loading, so that it counts with its own tokenizer.

        Until then it counts with an estimate, a few percent off: an article near the limit
        would be read whole or not depending on whether the model had loaded before the first
        question. Only the model's paths call this, and they wait for the model next anyway.
        """
        load = getattr(self.backend, "load", None)
        if callable(load) and getattr(self.backend, "status", "ready") in ("loading", "not loaded"):
            with contextlib.suppress(BackendError):  # reported when the model is asked
                load()
