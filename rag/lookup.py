"""Look-ups the model declines: "when" and "how many" questions the article's sentence answers.

A small model declines "On what day of the week did Kim Yo-jong release her press statement?"
beside "… a press statement made on Tuesday by Kim Yo-jong …": the sentence says "made", not
"released", and the model reads the mismatch as silence. The question asks for a kind of thing
(a time, or a number: :func:`rag.evidence.expected_type`); a sentence that holds nearly all the
rest of the question (:data:`LOOKUP_MATCH` of its content words, every name and number of it
among them, as :mod:`rag.polar` asks) and a value of that kind the question does not already
give answers it ("How many trees …?" wants a number of trees). The sentence is quoted and cited,
in place of the decline; the reader sees the article's own words and the value in them.

Only where the model gave no answer, or none the checks kept: a near-miss question (another
person, another event) matches most words too, so a match alone never overrides a reply.
"""

from __future__ import annotations

from collections.abc import Sequence

from .acronyms import spelled_out_in
from .assistant_config import Checks
from .evidence import ScoredSentence, answers_type, expected_type
from .grounding import novel_facts
from .numbers import counted_thing, gives_count
from .polar import POLAR_NOTE, answer_no
from .text import content_words

# Share of the question's other content words the sentence must hold: four of five.
LOOKUP_MATCH = 0.8
LOOKUP_NOTE = "The model gave no answer; the article's sentence that gives what was asked is quoted."
# Words that only say which kind of thing is asked for ("what day of the week", "how many").
_KIND_WORDS = {  # stemmed as the question's words are
    kind: frozenset(content_words(words))
    for kind, words in (
        ("time", "day week month year date time exact"),
        ("number", "many much far long big large number percentage share amount range distance"),
    )
}


def typed_answer(question: str, sentences: Sequence[ScoredSentence], limit: int = 5) -> ScoredSentence | None:
    """The first of the best ``limit`` ``sentences`` that answers a time or number question
    (see the module docstring), or ``None``. "How many X …?" asks for a number of X within
    three words of it ("… destroy about 400 trees"; "voted 27 to 21" gives no number of members)."""
    kind = expected_type(question)
    if kind not in _KIND_WORDS:
        return None
    words = content_words(question) - _KIND_WORDS[kind]
    unit = counted_thing(question)
    if not words:
        return None
    for sentence in sentences[:limit]:
        held = len(words & content_words(sentence.text)) >= LOOKUP_MATCH * len(words)
        if (
            held
            and answers_type(kind, sentence.text, question)
            and (unit is None or gives_count(unit, sentence.text))
            and not novel_facts(question, sentence.text, spelled_out_in(sentence.text))
        ):
            return sentence
    return None


def look_up(
    question: str, sentences: Sequence[ScoredSentence], checks: Checks | None = None, *, typed: bool = True
) -> tuple[ScoredSentence | None, str, str]:
    """The article's sentence that answers ``question``: "no" to a yes/no question
    (:func:`rag.polar.answer_no`, switch ``polar``; by an opposite word, ``opposites``), else,
    with ``typed``, a time or number asked for (:func:`typed_answer`, switch ``typed``); with the
    prefix its answer opens with and the note that says why. ``(None, "", "")`` when neither
    finds one."""
    on = checks or Checks()
    if on.polar and (found := answer_no(question, sentences, opposites=on.opposites,
                                                 prefixed=on.grounding.prefixes)) is not None:
        return found, "No: ", POLAR_NOTE
    if typed and on.typed and (found := typed_answer(question, sentences)) is not None:
        return found, "", LOOKUP_NOTE
    return None, "", ""
