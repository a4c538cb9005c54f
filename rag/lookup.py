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
person, another event) matches most words too, so a match alone never overrides a reply. One
exception, where the reply's own form shows it missed: a question asking for a number of things
("Which three things does Putin need …?") answered without that many things listed gets the
article's sentence that lists them ("… munitions, missiles and troops"), holding the rest of
the question as above (:func:`listed_answer`, switch ``listed``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from .acronyms import spelled_out_in
from .affirmed import held_by_lemma
from .assistant_config import Checks
from .conjuncts import coordinations, lists
from .evidence import ScoredSentence, answers_type, expected_type
from .novelty import novel_facts
from .numbers import counted_thing, gives_count
from .polar import POLAR_NOTE, answer_no, with_subject
from .text import content_words

# Share of the question's other content words the sentence must hold: four of five.
LOOKUP_MATCH = 0.8
LOOKUP_NOTE = "The model gave no answer; the article's sentence that gives what was asked is quoted."
LISTED_NOTE = "The question asks for a number of things; the article's sentence that lists them is quoted."
_COUNTS = {w: n for n, words in enumerate(("", "", "two both 2", "three 3", "four 4", "five 5", "six 6"))
           for w in words.split()}  # fmt: skip
# "Which three things …", "What two countries …", "Name the four …", "What are the two …".
_ASKED_COUNT = re.compile(
    r"\b(?:which|what|name|list|give)\s+(?:(?:are|were|is)\s+)?(?:the\s+)?(two|three|four|five|six|[2-6])\b",
    re.IGNORECASE,
)
# Words that only say which kind of thing is asked for ("what day of the week", "how many").
_KIND_WORDS = {  # stemmed as the question's words are
    kind: frozenset(content_words(words))
    for kind, words in (
        ("time", "day week month year date time exact"),
        ("number", "many much far long big large number percentage share amount range distance"),
    )
}


def typed_answer(
    question: str, sentences: Sequence[ScoredSentence], limit: int = 5,
    subject: Callable[[ScoredSentence], str] | None = None,
) -> ScoredSentence | None:
    """The first of the best ``limit`` ``sentences`` that answers a time or number question
    (see the module docstring), or ``None``. "How many X …?" asks for a number of X within
    three words of it ("… destroy about 400 trees"; "voted 27 to 21" gives no number of members).
    ``subject``: a sentence naming nobody the question does not is read with its article's
    subject ("In 2023 it paid $45 million …": Nexora, :func:`rag.polar.with_subject`)."""
    kind = expected_type(question)
    if kind not in _KIND_WORDS:
        return None
    words = content_words(question) - _KIND_WORDS[kind]
    unit = counted_thing(question)
    if not words:
        return None
    for sentence in sentences[:limit]:
        read = with_subject(sentence, question, subject)
        held = len(held_by_lemma(words, question, read)) >= LOOKUP_MATCH * len(words)  # "paid" holds "pay"
        if (
            held
            and answers_type(kind, sentence.text, question)
            and (unit is None or gives_count(unit, sentence.text))
            and not novel_facts(question, read, spelled_out_in(read))
        ):
            return sentence
    return None


def asked_count(question: str) -> int | None:
    """How many things ``question`` asks for ("Which three things …?" → 3), or ``None``."""
    found = _ASKED_COUNT.search(question)
    return _COUNTS[found.group(1).lower()] if found else None


def listed_answer(
    question: str, sentences: Sequence[ScoredSentence], limit: int = 5
) -> ScoredSentence | None:
    """The first of the best ``limit`` ``sentences`` that lists as many things as ``question``
    asks for and holds the rest of it (:data:`LOOKUP_MATCH`; its names in the sentence's
    paragraph, a person also by surname), or ``None``."""
    counted = _ASKED_COUNT.search(question)
    if counted is None:
        return None
    count = _COUNTS[counted.group(1).lower()]
    rest = _ASKED_COUNT.sub(" ", question)
    kind = re.match(r"\s*([A-Za-z-]+)", question[counted.end():])  # "three *places*"
    words = content_words(rest) - _THING_WORDS - (content_words(kind.group(1)) if kind else set())
    if not words:
        return None
    for sentence in sentences[:limit]:
        # A person's first name need not stand where the surname does ("Cha" for "Victor Cha").
        unnamed = novel_facts(rest, sentence.text)
        firsts = {w for name in unnamed for w in content_words(" ".join(name.split()[:-1]))}
        held = len(words & content_words(sentence.text)) >= LOOKUP_MATCH * len(words - firsts)
        paragraph = sentence.paragraph.text
        if held and count in coordinations(sentence.text) and not [
            name for name in novel_facts(rest, paragraph, spelled_out_in(paragraph))
            if not re.search(rf"\b{re.escape(name.split()[-1])}\b", paragraph)  # "Cha" for "Victor Cha"
        ]:
            return sentence
    return None


_THING_WORDS = frozenset(content_words("thing things item items"))


def look_up(
    question: str, sentences: Sequence[ScoredSentence], checks: Checks | None = None, *, typed: bool = True,
    reply: str | None = None, subject: Callable[[ScoredSentence], str] | None = None,
) -> tuple[ScoredSentence | None, str, str]:
    """The article's sentence that answers ``question``: "no" to a yes/no question
    (:func:`rag.polar.answer_no`, switch ``polar``; by an opposite word, ``opposites``), else,
    with ``typed``, a time or number asked for (:func:`typed_answer`, switch ``typed``), else the
    list of things asked for when the ``reply`` kept (if any) lists fewer (:func:`listed_answer`,
    switch ``listed``); with the prefix its answer opens with and the note that says why.
    ``subject(sentence)``: whom a sentence that names nobody is about (switch ``article_subject``).
    ``(None, "", "")`` when none finds one."""
    on = checks or Checks()
    about = subject if on.article_subject else None
    if on.polar and (found := answer_no(question, sentences, opposites=on.opposites, amounts=on.polar_amounts,
                                        prefixed=on.grounding.prefixes, subject=about)) is not None:
        return found, "No: ", POLAR_NOTE
    if typed and on.typed and (found := typed_answer(question, sentences, subject=about)) is not None:
        return found, "", LOOKUP_NOTE
    count = asked_count(question) if on.listed else None
    if count and (reply is None or not lists(reply, count)) and (found := listed_answer(question, sentences)):
        return found, "", LISTED_NOTE
    return None, "", ""


def opened(prefix: str, sentence: str) -> str:
    """``sentence`` after the ``prefix`` of its answer, its first word lowered where it says the
    prefix again: "No: no injuries have been linked …", not "No: No injuries …"."""
    if prefix and sentence.split(" ", 1)[0].casefold() == prefix.strip(" :").casefold():
        sentence = sentence[:1].lower() + sentence[1:]
    return prefix + sentence
