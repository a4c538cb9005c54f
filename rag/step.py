"""One question on its way through the assistant: what was asked, searched for and found."""

from __future__ import annotations

import time
from dataclasses import dataclass

from .calibration import Signals
from .evidence import ScoredSentence
from .types import Answer, Passage, StreamEvent, Timings


def at_once(start: float, retrieve_s: float = 0.0) -> Timings:
    """The timings of an answer given whole at once (no stream): its first text is all of it."""
    elapsed = time.perf_counter() - start
    return Timings(retrieve_s, elapsed, elapsed)


@dataclass(frozen=True)
class Step:
    """A question on its way: what was asked, searched for and found, and when it started."""

    question: str
    query: str
    passages: list[Passage]
    scored: list[ScoredSentence]
    start: float
    retrieve_s: float
    signals: Signals

    def final(self, text: str, backend: str, **fields) -> StreamEvent:
        """The final event of an answer to this question (``fields``: the rest of the
        :class:`~rag.types.Answer`; its signals default to the step's)."""
        fields.setdefault("signals", tuple(self.signals.as_dict().items()))
        fields.setdefault("refused", False)
        answer = Answer(text=text, backend=backend, passages=tuple(self.passages), query=self.query, **fields)
        return StreamEvent("final", answer=answer)


def alone(
    text: str,
    backend: str,
    *,
    refused: bool,
    start: float,
    error: str | None = None,
    query: str = "",
    passages: list[Passage] | None = None,
) -> StreamEvent:
    """The final event of an answer given before any search (an error, hostile instructions)."""
    answer = Answer(
        text=text,
        refused=refused,
        passages=tuple(passages or ()),
        backend=backend,
        query=query,
        error=error,
        timings=at_once(start),
        decline_reason="hostile instructions" if refused else None,
    )
    return StreamEvent("final", answer=answer)
