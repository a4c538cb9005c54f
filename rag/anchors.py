"""Time anchors: a question that names a time is answered by a sentence stating that time.

"Who founded the college in 1650?" is a near-miss when the article says who founded it in 1636
and what happened in 1650 in the next sentence: the paragraph holds both years, and a small
model answers with the founder. News is dated the same way ("on Tuesday", "in June", "in
2019"), and a reply built on a sentence about another day answers another question. So each
answer sentence's source (the sentence of its cited paragraphs that holds most of what it adds
to the question) must state every time the question names, itself or in the sentence just
before it ("On Monday the council met. It voted to …").

Only written times count (weekdays, months and years, :data:`rag.text.TIME`, and earlier years
after "in", "since" …); "may" and "march" written small are words, and so is a sentence's "May".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from .attribution import parse
from .text import content_words, split_sentences, written_times
from .types import Paragraph

# A year before 1900, after a word that introduces one ("in 1650", "since 1598"); alone a
# four-digit number is as often a count ("1500 workers").
_OLD_YEAR = re.compile(r"\b(?:in|since|before|after|by|from|until|of)\s+(1[0-8]\d\d)\b", re.IGNORECASE)


@functools.lru_cache(maxsize=256)
def _asked(question: str) -> tuple[str, ...]:
    return tuple(asked_times(question))


def asked_times(question: str) -> list[str]:
    """The times ``question`` names, lower-cased: "Tuesday", "June", "2019", "in 1650"'s year.
    A time that dates a thing the question names, not what it asks ("How much will the firm
    spend under the agreement signed Monday?", "What did the study published in 2019 find?"),
    is left out: the verb it hangs on modifies a noun or another clause (spaCy's parse)."""
    found = [(m.start(), m.group(0)) for m in written_times(question)]
    found += [(m.start(1), m.group(1)) for m in _OLD_YEAR.finditer(question)]
    doc = parse(question) if found else None
    if doc is not None:
        found = [(i, t) for i, t in found if not _dates_a_thing(doc, i)]
    return list(dict.fromkeys(t.lower() for _, t in found))


def _dates_a_thing(doc, start: int) -> bool:
    """Whether the time at character ``start`` hangs on a verb that modifies a noun ("the
    agreement signed Monday") or another clause, not on the question's own verb."""
    token = next((t for t in doc if t.idx <= start < t.idx + len(t.text)), None)
    while token is not None and token.head.i != token.i and token.pos_ not in ("VERB", "AUX"):
        token = token.head
    return token is not None and token.dep_ in ("acl", "relcl", "advcl")


def off_time(question: str, sentence: str, paragraphs: Sequence[Paragraph]) -> bool:
    """Whether ``sentence`` restates a sentence of ``paragraphs`` (its cited ones) that does not
    state the time ``question`` names, nor does the sentence before it in its paragraph."""
    times = _asked(question)  # parsed once per question, not per sentence
    added = content_words(sentence) - content_words(question)
    if not times or not added:
        return False
    best, held = "", 0
    for paragraph in paragraphs:
        sentences = split_sentences(paragraph.text)
        for i, source in enumerate(sentences):
            shared = len(added & content_words(source))
            if shared > held:
                best, held = " ".join(sentences[max(0, i - 1) : i + 1]).lower(), shared
    return held > 0 and not all(time in best for time in times)
