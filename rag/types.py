"""Plain data types shared by every part of the library.

All of them are frozen dataclasses: cheap to pass around, safe to share between
threads, and easy to turn into JSON with :func:`dataclasses.asdict`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Paragraph:
    """One body paragraph of an article, numbered from 1 in reading order (``¶N``)."""

    doc: str
    number: int
    text: str
    section: str | None = None


@dataclass(frozen=True)
class Document:
    """A parsed article: metadata plus its numbered body paragraphs."""

    id: str
    title: str
    paragraphs: tuple[Paragraph, ...]
    subtitle: str | None = None
    author: str | None = None
    publisher: str | None = None
    date: str | None = None
    caption: str | None = None
    sections: tuple[str, ...] = ()
    source: str | None = None

    def paragraph(self, number: int) -> Paragraph:
        """Return paragraph ``number`` (1-based); raise ``KeyError`` if it does not exist."""
        if 1 <= number <= len(self.paragraphs):
            return self.paragraphs[number - 1]
        raise KeyError(f"{self.id} has no paragraph {number}")


@dataclass(frozen=True)
class Chunk:
    """A unit of retrieval: whole sentences from one or more consecutive paragraphs of one article."""

    id: str
    doc: str
    paragraphs: tuple[int, ...]
    text: str
    embed_text: str
    section: str | None = None


@dataclass(frozen=True)
class Sentence:
    """One sentence of a chunk, embedded on its own for fine-grained matching."""

    doc: str
    paragraph: int
    chunk: int
    text: str


@dataclass(frozen=True)
class Passage:
    """A search result: text of the article with the paragraphs it came from."""

    text: str
    doc: str
    paragraphs: tuple[int, ...]
    score: float
    retrievers: tuple[str, ...] = ()
    chunk_id: str = ""
    title: str = ""

    def label(self) -> str:
        """Human label such as ``doc ¶3-4``."""
        if not self.paragraphs:
            return self.doc
        first, last = self.paragraphs[0], self.paragraphs[-1]
        span = f"¶{first}" if first == last else f"¶{first}-{last}"
        return f"{self.doc} {span}"


@dataclass(frozen=True)
class Citation:
    """A paragraph the answer relies on."""

    doc: str
    paragraph: int
    text: str


@dataclass(frozen=True)
class Timings:
    """Seconds spent in each stage of answering one question."""

    retrieve_s: float = 0.0
    first_token_s: float | None = None
    total_s: float = 0.0


@dataclass(frozen=True)
class Answer:
    """A grounded answer: the text shown to the reader and everything needed to check it."""

    text: str
    refused: bool
    citations: tuple[Citation, ...] = ()
    passages: tuple[Passage, ...] = ()
    backend: str = ""
    query: str = ""
    fallback: bool = False
    error: str | None = None
    removed: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    draft: str = ""
    timings: Timings = field(default_factory=Timings)
    confidence: float | None = None  # calibrated probability that the answer is right
    decline_reason: str | None = None  # why it declined ("model declined", "low confidence", ...)
    signals: tuple[tuple[str, float], ...] = ()  # what the confidence was computed from

    def to_dict(self) -> dict:
        """Plain JSON data: what ``rag ask --json`` prints and the web API's ``/ask`` returns."""
        t = self.timings
        return {
            "answer": self.text,
            "refused": self.refused,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "decline_reason": self.decline_reason,
            "backend": self.backend,
            "fallback": self.fallback,
            "error": self.error,
            "notes": list(self.notes),
            "query": self.query,
            "citations": [{"doc": c.doc, "paragraph": c.paragraph, "text": c.text} for c in self.citations],
            "passages": [
                {
                    "doc": p.doc,
                    "paragraphs": list(p.paragraphs),
                    "text": p.text,
                    "score": round(float(p.score), 6),
                }
                for p in self.passages
            ],
            "removed": list(self.removed),
            "timings": {"retrieve_s": t.retrieve_s, "first_token_s": t.first_token_s, "total_s": t.total_s},
        }


@dataclass(frozen=True)
class ChatMessage:
    """One message of a conversation, in the OpenAI chat format."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class StreamEvent:
    """One event of :meth:`rag.Assistant.stream`.

    ``kind`` is ``"status"`` (progress note), ``"delta"`` (new text from the model),
    or ``"final"`` (the checked answer; its text replaces everything streamed before).
    """

    kind: Literal["status", "delta", "final"]
    text: str = ""
    answer: Answer | None = None
