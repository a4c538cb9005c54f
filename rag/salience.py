"""Which sentences of an article matter most: the lead, the main claims, and who makes them.

News puts its main point first (the lead), then the claims of the people it quotes. A sentence
scores by its place (earlier is more important, the lead most), by how central it is to the
article (cosine to the mean of all its sentences), by whether a person makes a claim in it (a
speaker's first claim most: every voice once before anyone twice), and, for a focused request
("summarize what the experts say about China"), by how close it is to the question. Picking
goes greedily down that order and skips sentences too like one already picked, so a few
sentences cover the article instead of repeating its lead.

Used where no language model writes: the extractive backend's summaries and key points, the
answer while the model is still reading an article, and to bring a model's summary up to the
number of sentences the reader asked for when the checks removed some.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .safety import detect_injection
from .text import NAME, content_words, split_sentences
from .types import Paragraph

# A claim made by someone: a reporting verb, or a quotation.
_REPORTING = re.compile(
    r"\b(?:said|says|say|noted|notes|stated|states|added|adds|argued|argues|warned|warns|explained|explains|"
    r"told|tells|according\s+to|pointed\s+out|points\s+out|highlighted|highlights|suggested|suggests|"
    r"believes|believed|concurred|insisted|claimed|claims|stressed|stresses|called\s+on|condemned)\b",
    re.IGNORECASE,
)
_QUOTE = re.compile(r"[“\"][^”\"]{12,}[”\"]")
MIN_WORDS = 6


@dataclass(frozen=True)
class Ranked:
    """A sentence of the article, its paragraph, its importance and the person making it (if any)."""

    paragraph: Paragraph
    text: str
    score: float
    speaker: str | None = None
    position: int = 0  # order in the article


@dataclass(frozen=True)
class SalienceWeights:
    """How much each signal counts (position, centrality, claim, first claim of a speaker, focus)."""

    position: float = 0.6
    lead: float = 0.5
    centrality: float = 0.6
    claim: float = 0.15
    new_speaker: float = 0.25
    focus: float = 0.8
    redundancy: float = 0.8  # a sentence this close (cosine) to a picked one is skipped


def rank(
    paragraphs: Sequence[Paragraph],
    encode: Callable[[list[str]], np.ndarray],
    *,
    speaker_of: Callable[[Paragraph, str], str | None] | None = None,
    people: Sequence[str] = (),
    focus: str = "",
    weights: SalienceWeights | None = None,
) -> list[Ranked]:
    """Every sentence of ``paragraphs`` (the article in reading order), most important first.

    ``speaker_of(paragraph, sentence)``: who makes the claim in a sentence (the attribution
    data), else the first of ``people`` a sentence with a reporting verb names. ``focus``: a
    question to favour sentences close to.
    """
    w = weights or SalienceWeights()
    units: list[tuple[Paragraph, str]] = []
    for paragraph in paragraphs:
        for sentence in split_sentences(paragraph.text):
            if len(sentence.split()) >= 3 and not detect_injection(sentence):
                units.append((paragraph, sentence))
    if not units:
        return []
    vectors = np.asarray(encode([s for _, s in units]), dtype=np.float32)
    centre = vectors.mean(axis=0)
    centre /= np.linalg.norm(centre) or 1.0
    central = vectors @ centre
    focus_sims = vectors @ np.asarray(encode([focus]), dtype=np.float32)[0] if focus.strip() else None
    body = [p for p in paragraphs if p.number > 0]
    first_body = body[0].number if body else 0
    seen: set[str] = set()
    ranked = []
    for i, (paragraph, sentence) in enumerate(units):
        order = max(0, paragraph.number - first_body)
        score = w.position / (1.0 + 0.25 * order) + w.centrality * float(central[i])
        if paragraph.number == first_body and sentence == units[_first_of(units, paragraph)][1]:
            score += w.lead
        if paragraph.number == 0:  # a photo caption is no part of the story
            score -= w.position
        speaker = speaker_of(paragraph, sentence) if speaker_of else _named_speaker(sentence, people)
        if speaker or _REPORTING.search(sentence) or _QUOTE.search(sentence):
            score += w.claim
        if speaker and speaker not in seen:
            score += w.new_speaker
            seen.add(speaker)
        if focus_sims is not None:
            score += w.focus * float(focus_sims[i])
        if len(sentence.split()) < MIN_WORDS:
            score -= w.claim
        ranked.append(Ranked(paragraph, sentence, score, speaker, i))
    ranked.sort(key=lambda r: (-r.score, r.position))
    return ranked


def pick(
    ranked: Sequence[Ranked],
    n: int,
    encode: Callable[[list[str]], np.ndarray],
    *,
    avoid: Sequence[str] = (),
    max_words: int | None = None,
    weights: SalienceWeights | None = None,
) -> list[Ranked]:
    """Up to ``n`` of ``ranked`` in their order, none too like another or like ``avoid`` (text
    already written), and with ``max_words`` in all when given."""
    w = weights or SalienceWeights()
    if n <= 0 or not ranked:
        return []
    texts = [r.text for r in ranked] + list(avoid)
    vectors = np.asarray(encode(texts), dtype=np.float32)
    taken: list[int] = list(range(len(ranked), len(texts)))
    words_of_taken = [content_words(t) for t in avoid]
    chosen: list[Ranked] = []
    used = 0
    for i, candidate in enumerate(ranked):
        if len(chosen) >= n:
            break
        size = len(candidate.text.split())
        if max_words is not None and used + size > max_words:
            continue
        if taken and float(np.max(vectors[taken] @ vectors[i])) >= w.redundancy:
            continue
        mine = content_words(candidate.text)
        if any(mine and len(mine & other) / len(mine) > 0.6 for other in words_of_taken):
            continue
        chosen.append(candidate)
        taken.append(i)
        words_of_taken.append(mine)
        used += size
    return chosen


def _first_of(units: Sequence[tuple[Paragraph, str]], paragraph: Paragraph) -> int:
    return next(i for i, (p, _) in enumerate(units) if p == paragraph)


def _named_speaker(sentence: str, people: Sequence[str]) -> str | None:
    """The first of ``people`` named in a sentence that reports a claim (no attribution data)."""
    if not _REPORTING.search(sentence):
        return None
    names = {m.group(0) for m in NAME.finditer(sentence)}
    for person in people:
        last = person.split()[-1]
        if any(person in n or n.endswith(last) for n in names):
            return person
    return None
