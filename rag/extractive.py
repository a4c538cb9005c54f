"""The extractive backend: answers with the article's own sentences, no language model.

It takes the best-scoring sentence of the retrieved paragraphs (see :mod:`rag.evidence`) and
adds a second one only when it covers question words the first leaves out, so the reply is
the shortest set of sentences that answers. Each sentence is cited. When the best sentence
scores below the threshold, it declines. Always available, a few milliseconds warm, and the
fallback when a language-model backend fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .evidence import ScoredSentence
from .text import content_words

MAX_WORDS = 120


@dataclass(frozen=True)
class ExtractiveConfig:
    """Decision thresholds (calibrated on the dev set; see README)."""

    min_score: float = 0.4
    second_min_score: float = 0.9
    max_sentences: int = 2


@dataclass(frozen=True)
class Extract:
    """Chosen sentences, best first, or none when the evidence is too weak."""

    sentences: tuple[ScoredSentence, ...]
    best_score: float


def choose_sentences(question: str, scored: Sequence[ScoredSentence], config: ExtractiveConfig) -> Extract:
    """Pick the answer sentences from ``scored`` (best first)."""
    if not scored:
        return Extract((), 0.0)
    best = scored[0]
    if best.score < config.min_score or best.type_match is False:
        return Extract((), best.score)
    chosen = [best]
    wanted = content_words(question)
    covered = content_words(best.text)
    words = len(best.text.split())
    for candidate in scored[1:]:
        if len(chosen) >= config.max_sentences or candidate.score < config.second_min_score:
            break
        new = (wanted & content_words(candidate.text)) - covered
        size = len(candidate.text.split())
        if new and words + size <= MAX_WORDS and candidate.text not in {c.text for c in chosen}:
            chosen.append(candidate)
            covered |= content_words(candidate.text)
            words += size
    # Reading order reads better than score order.
    chosen.sort(key=lambda s: (s.paragraph.doc, s.paragraph.number, s.paragraph.text.find(s.text)))
    return Extract(tuple(chosen), best.score)
