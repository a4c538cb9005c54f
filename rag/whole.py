"""Requests about the whole article: the path each route of :mod:`rag.router` takes.

:class:`WholeArticle` is called by :meth:`rag.Assistant.stream` for every question the router
does not call a single fact. It picks the article (the one asked about, else the one the
question is closest to), then:

- summaries and key points: :mod:`rag.overview` (the model writes after the article it has
  read, every sentence checked and cited, the length asked for kept);
- who is quoted, who is who, "Which of them …", lists of a kind: :mod:`rag.listing` (from the
  attribution data and the names in the article, each item verified and cited);
- why and how: :mod:`rag.explain` (the article's own reasons, with who gives each).

:class:`Request` carries what every path needs: the question, its route, the article as the
model reads it and as the checks cite it, and how to build the final :class:`~rag.types.Answer`.
A failing model falls back to what needs none, marked as a fallback, as on the fact path.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .backends import BackendError
from .conversation import recent_words
from .grounding import SourceMap
from .prompt import Prompt, build_prompt, with_tail
from .reading import PRIME_MARKER, WAITING_TO_READ
from .router import KEY_POINTS, LIST, PEOPLE, SUMMARY, WHY, Route
from .text import NOT_IN_ARTICLE, content_words
from .types import Answer, ChatMessage, Citation, Paragraph, Passage, StreamEvent, Timings

if TYPE_CHECKING:
    from .assistant import Assistant

log = logging.getLogger(__name__)

NO_ARTICLE = "There is no article to answer from yet: add one first."
# Words of a whole-article request that say nothing about what it is about.
_REQUEST_WORDS = content_words(
    "summarize summarise summary sum up key main points takeaways highlights bullets bullet list give "
    "me please article story piece report text sentences words quoted quote who people experts short "
    "brief overview gist important facts"
)


@dataclass
class Request:
    """A whole-article request on its way through its path."""

    assistant: Assistant
    question: str
    route: Route
    doc: str
    conversation: list[ChatMessage]
    start: float
    paragraphs: list[Paragraph]
    shown: list[tuple[Paragraph, str]] | None = None  # the article as the model reads it
    reading: bool = False  # the model is reading the article for the first time
    notes: list[str] = field(default_factory=list)

    @property
    def backend(self):
        return self.assistant.backend

    @property
    def sources(self) -> SourceMap:
        return SourceMap.build(self.paragraphs)

    @property
    def focus(self) -> str:
        """What a summary should be about, when the request says more than "summarize it"."""
        words = content_words(self.question) - _REQUEST_WORDS
        return self.question if words else ""

    def encode(self, texts: list[str]):
        return self.assistant.grounder.encode(texts)

    def head(self) -> Prompt:
        """The article's prompt without a question: what the model has read (and keeps)."""
        assert self.shown is not None
        return self.assistant.reading.head(self.doc, self.shown)

    def messages(self, tail: str) -> tuple[ChatMessage, ...]:
        """The prompt after the article the model has read: its head, then ``tail``."""
        return with_tail(self.head(), tail)

    def prompt_for(self, paragraphs: Sequence[Paragraph | tuple[Paragraph, str]], tail: str, max_tokens: int):
        """A prompt over ``paragraphs`` only (a part of a long article), ending with ``tail``."""
        backend = self.backend
        prompt = build_prompt(
            PRIME_MARKER, paragraphs, count_tokens=backend.count_tokens,
            context_window=backend.context_window, max_answer_tokens=max_tokens,
        )  # fmt: skip
        return prompt, with_tail(prompt, tail)

    def stream_model(self, messages, max_tokens: int) -> Iterator[str]:
        """The model's reply in pieces (the assistant's temperature)."""
        assert self.backend is not None
        temperature = self.assistant.config.temperature
        yield from self.backend.stream(messages, max_tokens=max_tokens, temperature=temperature)

    def citation(self, paragraph: Paragraph) -> Citation:
        return Citation(paragraph.doc, paragraph.number, paragraph.text)

    def answer(
        self,
        text: str,
        citations: Sequence[Citation],
        *,
        first_token_s: float | None = None,
        refused: bool = False,
        removed: Sequence[str] = (),
        notes: Sequence[str] = (),
        draft: str = "",
        backend: str | None = None,
        reason: str | None = None,
    ) -> StreamEvent:
        """The final event: ``text`` with its citations; the cited paragraphs are its passages."""
        elapsed = time.perf_counter() - self.start
        cited = list(dict.fromkeys(citations))
        passages = tuple(
            Passage(c.text, c.doc, (c.paragraph,), 1.0, ("article",), f"{c.doc}#{c.paragraph}") for c in cited
        )
        answer = Answer(
            text=text,
            refused=refused,
            citations=tuple(cited),
            passages=passages,
            backend=backend or self.assistant.backend_name,
            query=self.question,
            removed=tuple(removed),
            notes=tuple(dict.fromkeys([*self.notes, *notes])),
            draft=draft,
            timings=Timings(0.0, first_token_s if first_token_s is not None else elapsed, elapsed),
            decline_reason=reason,
        )
        return StreamEvent("final", answer=answer)


class WholeArticle:
    """The paths of whole-article requests, for one :class:`~rag.Assistant`."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant

    def stream(
        self, question: str, route: Route, conversation: list[ChatMessage], *, doc: str | None, start: float
    ) -> Iterator[StreamEvent]:
        """Status notes, text as it is written, then the final answer (see the module docstring)."""
        a = self.assistant
        doc = self._choose(question, conversation, doc)
        if doc is None:
            yield StreamEvent("final", answer=Answer(text=NO_ARTICLE, refused=False, error=NO_ARTICLE))
            return
        request = Request(a, question, route, doc, conversation, start, self.paragraphs(doc))
        unknown = a._unknown(question) if a.checks.unknown_names else []
        if unknown:
            note = f"The article never mentions {', '.join(dict.fromkeys(unknown))}."
            yield request.answer(NOT_IN_ARTICLE, (), refused=True, notes=(note,), reason="unknown name")
            return
        if a.backend is not None:
            yield from self._prepare(request)
        try:
            yield from self._path(request, model=True)
        except BackendError as exc:
            log.warning("backend %s failed on a whole-article request: %s", a.backend_name, exc)
            if not a.config.fallback:
                message = f"The language model failed: {exc}"
                yield StreamEvent("final", answer=replace(request.answer(message, ()).answer, error=str(exc)))
                return
            request.shown, request.reading = None, False
            final = [e for e in self._path(request, model=False) if e.kind == "final"][-1]
            assert final.answer is not None
            yield replace(final, answer=replace(final.answer, fallback=True, error=str(exc)))

    def _path(self, request: Request, *, model: bool) -> Iterator[StreamEvent]:
        """The request down its route's path; ``model=False``: without the language model."""
        from . import explain, listing, overview

        kind = request.route.kind

        def attributions():  # made when first needed: after the model's first words
            return self.attributions(request.doc)

        if kind == PEOPLE:
            yield from listing.people(request, attributions())
        elif kind == LIST:
            yield from listing.items(request, attributions, model=model)
        elif kind == WHY:
            yield from explain.explain(request, attributions, model=model)
        elif kind in (SUMMARY, KEY_POINTS):
            yield from overview.overview(request, attributions, model=model)
        else:
            raise ValueError(f"not a whole-article route: {kind}")

    # -- the article ---------------------------------------------------------------------------
    def paragraphs(self, doc: str) -> list[Paragraph]:
        """The article's paragraphs in reading order, its photo caption (``¶0``) first if any."""
        retriever = self.assistant.retriever
        document = retriever.documents[doc]
        return ([retriever.paragraph(doc, 0)] if document.caption else []) + list(document.paragraphs)

    def _choose(self, question: str, conversation: Sequence[ChatMessage], doc: str | None) -> str | None:
        """The article asked about: ``doc``; the only one; else the one the question (or, for a
        bare "Summarize it", the conversation) is closest to; else the first."""
        retriever = self.assistant.retriever
        documents = retriever.corpus.documents
        if doc is not None:
            return doc
        if not documents:
            return None
        if len(documents) == 1:
            return documents[0].id
        query = question if content_words(question) - _REQUEST_WORDS else ""
        if conversation:  # "Which of them …", "Why?": about the article of the turn before
            query = f"{recent_words(conversation)} {query}"
        if query.strip():
            with _quiet():
                found = retriever.search(query, k=1)
            if found:
                return found[0].doc
        return documents[0].id

    def _prepare(self, request: Request) -> Iterator[StreamEvent]:
        """Whether the model has read the article (``request.shown``) or is reading it."""
        reading = self.assistant.reading
        request.shown, status = reading.prepare(request.doc)
        if status == "reading":
            if self.assistant.config.while_reading == "wait":
                yield StreamEvent("status", WAITING_TO_READ)
                reading.read(request.doc, request.shown)
            else:
                request.reading = True
        elif status == "failed":
            request.shown = None

    def attributions(self, doc: str):
        """The article's people and who says what (:meth:`Retriever.attributions`, made once per
        article and cached beside the index); ``None`` when spaCy or its model is missing."""
        try:
            return self.assistant.retriever.attributions(doc).get(doc)
        except (OSError, ImportError) as exc:
            log.warning("no attribution data for %s: %s", doc, exc)
            return None


class _quiet:
    """Search errors (an empty query) mean "no closer article"."""

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        return kind is ValueError
