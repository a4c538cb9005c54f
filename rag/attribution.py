"""Who said it: the speaker the article gives for a statement, for "who said …?" questions.

Small models often name the wrong expert: every expert in the article is "a senior adviser"
saying something about North Korea and Russia. A news article names the speaker of a
statement in the same paragraph ("…,” Cha said") or, when a paragraph only continues a quote
("“These are powers…”", "…,” she said"), in the paragraph before. So the speaker can be read
off the text:

1. the paragraphs holding the statement are those most relevant to the question: the share
   of its content words they hold plus their best sentence's cosine similarity
   (:func:`rag.grounding.matter`);
2. the speaker of such a paragraph is the person named as the subject of a verb of saying; a
   paragraph naming nobody takes its speaker from the paragraph before
   (:func:`rag.people.quote_speaker`).

The assistant uses this to correct or complete a "who said" answer (see
:meth:`rag.assistant.Assistant.attributed`), never to invent one: no clear statement, no
clear speaker, or a speaker the question itself names, and it gives nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .grounding import content_words, matter, strip_markers
from .people import SPEECH_VERBS, display_name, names_person, quote_speaker
from .text import split_sentences
from .types import Paragraph

_ASKS_SPEAKER = re.compile(
    rf"\bwho\s+(?:(?:also|further|first)\s+)?(?:{SPEECH_VERBS})\b"
    rf"|\bwhich\s+(?:expert|analyst|official|person|fellow|scholar|researcher|adviser|advisor)s?\s+"
    rf"(?:(?:also|further)\s+)?(?:{SPEECH_VERBS})\b",
    re.IGNORECASE,
)
# A paragraph's relevance to the question: the share of the question's content words it holds
# plus the best cosine similarity of one of its sentences. The statement is located when the
# best paragraph reaches MIN_RELEVANCE; paragraphs within SLACK of it count as holding it too,
# and all of them must give the same speaker (calibrated on the dev set, README).
MIN_RELEVANCE = 1.0
SLACK = 0.1


@dataclass(frozen=True)
class Attribution:
    """A speaker and where the article says so."""

    person: str  # the key in the people map ("sydney seiler")
    name: str  # as the article writes it ("Sydney Seiler")
    statement: Paragraph  # the paragraph holding what the question quotes
    sentence: str  # its sentence closest to the question
    named_in: Paragraph  # the paragraph naming the speaker (``statement`` or the one before)


def asks_speaker(question: str) -> bool:
    """Whether ``question`` asks who said (argued, warned …) something."""
    return bool(_ASKS_SPEAKER.search(question))


def attribute(
    question: str,
    candidates: Sequence[tuple[Paragraph, float]],
    people: Mapping[str, set[str]],
    previous: Callable[[Paragraph], Paragraph | None],
    *,
    min_relevance: float = MIN_RELEVANCE,
) -> Attribution | None:
    """Who said what ``question`` quotes, according to ``candidates``; ``None`` if unclear.

    ``candidates`` are paragraphs with their best sentence's cosine similarity to the
    question; the share of the question's content words each holds is added here.
    ``previous`` gives the paragraph before one (or ``None``), where the speaker of a quote
    that runs on is named. The best-matching paragraph must give a speaker, every other one
    holding the statement that gives one must give the same, and that speaker must not be one
    the question itself names.
    """
    if not people or not asks_speaker(question):
        return None
    question_words = content_words(question)
    if not question_words:
        return None
    paragraphs = [p for p, _ in candidates]
    relevance = [
        cosine + len(question_words & content_words(p.text)) / len(question_words) for p, cosine in candidates
    ]
    found: dict[str, tuple[Paragraph, Paragraph]] = {}
    for rank, i in enumerate(matter(relevance, min_relevance, SLACK)):
        paragraph = paragraphs[i]
        before = previous(paragraph)
        name, from_before = quote_speaker(paragraph.text, before.text if before else None, people)
        named_in = before if from_before and before is not None else paragraph
        if name is None and rank == 0:
            return None  # the best match has no clear speaker
        if name is not None:  # a close runner-up without a speaker ("…, experts said") is passed over
            found.setdefault(name, (paragraph, named_in))
    if len(found) != 1:
        return None
    name, (statement, named_in) = next(iter(found.items()))
    if names_person(question, name, people):
        return None  # "who moderated the talk at which Cha spoke?" is not answered by "Cha"
    sentences = split_sentences(strip_markers(statement.text)) or [statement.text]
    sentence = max(sentences, key=lambda s: len(question_words & content_words(s)))
    shown = display_name(name, [named_in.text, statement.text, *(p.text for p in paragraphs)])
    return Attribution(name, shown, statement, sentence, named_in)
