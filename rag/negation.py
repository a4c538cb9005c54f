"""Polarity: what a sentence negates, and whether a claim says its source the other way round.

"North Korea is recognized as a nuclear-weapon state" against "North Korea is not recognized …":
the same words, the meaning reversed. The grounding checks (switches ``polarity`` and
``correct``) and the yes/no rule (:mod:`rag.polar`) read negation here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .numbers import written_numbers
from .opposites import opposed_words
from .text import closest_sentence, content_words, plain_text, split_sentences

# A claim sharing at least this much of its content words with one source sentence must not
# reverse that sentence's polarity ("is recognized" against "is not recognized").
POLARITY_MATCH = 0.7

# "not only", "no longer" and "without delay" do not reverse a claim.
_NEGATION = re.compile(
    r"\b(?:not|never|none|cannot)\b(?!\s+(?:only|just|merely|least)\b)|\bno\b(?!\s+(?:longer|doubt)\b)"
    r"|n[’']t\b",
    re.IGNORECASE,
)


# Where a sentence's clauses part: punctuation, and the words that open a contrasting clause.
_CLAUSE = re.compile(r"[,;:()\[\]—–]|\b(?:but|though|although|whereas|since|because|unless)\b", re.IGNORECASE)


# "if Nexora doesn't comply," / "unless …,": a condition, up to its comma.
_CONDITION = re.compile(r"\b(?:if|unless)\b[^,;.]*[,;]", re.I)


def reversed_source(sentence: str, backing: Sequence[str]) -> str:
    """The source sentence closest to ``sentence`` when it says it with the opposite polarity;
    ``""`` when it does not.

    "Yes, North Korea is recognized as a nuclear-weapon state" against "North Korea is not
    recognized as a nuclear-weapon state": the same words, the meaning reversed. Only a close
    match (most of the sentence's content words) is compared, clause by clause. A negation in a
    condition is no claim ("If Nexora doesn't comply, it will face daily penalties").
    """
    words = content_words(sentence)
    if len(words) < 3:
        return ""
    best, best_share = closest_sentence(words, backing)
    if best_share < POLARITY_MATCH:
        return ""
    # A long source sentence negates one of its clauses, not all of them ("Denmark and Norway
    # joined in 1972 (though Norway did not end up joining)"): compare with the clause that
    # holds most of the claim.
    clauses = [(len(words & content_words(c)), c) for c in _CLAUSE.split(best)]
    top = max(n for n, _ in clauses)
    mine = negated_words(_CONDITION.sub(" ", sentence))
    if mine and written_numbers(sentence) - written_numbers(best):
        return ""  # "did not promise to hire 80 officers" where he promised 60: the amount is denied
    if mine:
        # The sentence negates a word: reversed when the source states that word unnegated (in
        # whichever clause holds it), else when the clause holding most of the claim is unnegated.
        holders = [c for _, c in clauses if mine & content_words(c)] or [c for n, c in clauses if n == top]
        return "" if any(negated_words(c) for c in holders) else best
    # The source negates, the sentence does not: reversed only when the sentence says the word
    # the source negates. "Under the Nuclear Non-Proliferation Treaty" answers "Under which treaty
    # is North Korea not recognized …?" without saying it is recognized.
    return best if all(negated_words(c) & words for n, c in clauses if n == top) else ""


def opposed_source(sentence: str, backing: Sequence[str]) -> str:
    """The source sentence that says a clause of ``sentence`` with an opposite word, or ``""``.

    "Lumora cuts its Kumamoto plant" against "Lumora will keep its camera sensor plant in
    Kumamoto", "lowers its dividend" against "It kept its dividend unchanged": the clause's words
    are there (at least :data:`POLARITY_MATCH` of them, every one for a clause of two), one of them
    said the other way round (:func:`rag.opposites.opposed_words`), and not said as written.
    """
    sources = [(s, content_words(s)) for text in backing for s in split_sentences(text)]
    for clause in [sentence, *_CLAUSE.split(sentence)]:
        words = content_words(clause)
        if len(words) < 2:
            continue
        for source, source_words in sources:
            opposed = opposed_words(source, words)
            held = (words & source_words) | opposed
            if opposed and len(held) >= max(POLARITY_MATCH * len(words), min(len(words), 3)):
                return source
    return ""


# A verb that says its object did not happen: "declined to criticise", "refused to sign".
_IMPLICIT = re.compile(r"\b(?:declined|declines|refused|refuses|failed|fails)\s+to\b", re.IGNORECASE)


# A word negated by its prefix: "unaffordable" (affordable), "non-binding", "illegal",
# "inaccurate". "un-"/"non-" before at least four letters; "in-", "im-", "il-", "ir-" only before an
# adjective's ending, so "increase", "impress" and "install" are no negations.
_PREFIXED = re.compile(
    r"\b(?:non-?|un)([a-z]{4,})\b|\b(?:in|im|il|ir)([a-z]{3,}(?:able|ible|al|ent|ant|ate|ete|ive|ous|ar))\b",
    re.IGNORECASE,
)


def prefix_negated(text: str) -> set[str]:
    """The content words ``text`` negates by a prefix ("unaffordable" → "afford", "illegal" →
    "legal"): compared with a question's own words, never read alone."""
    return set().union(*(content_words(a or b) for a, b in _PREFIXED.findall(plain_text(text))))


def negated_words(text: str, scope: int = 1, *, implicit: bool = False, prefixed: bool = False) -> set[str]:
    """The content words ``text`` negates: the first ``scope`` ones after each negation ("is not
    recognized" → "recogn"; with 2, "no significant increase" → "signific", "increas"); with
    ``implicit``, also after "declined to", "refused to", "failed to"; with ``prefixed``, also
    the stem of a word negated by its prefix (:func:`prefix_negated`); empty when nothing is
    negated."""
    text = plain_text(text)
    out = prefix_negated(text) if prefixed else set()
    matches = [*_NEGATION.finditer(text), *(_IMPLICIT.finditer(text) if implicit else ())]
    for match in matches:
        following = re.findall(r"[A-Za-z0-9]+(?:[-'][A-Za-z0-9]+)*", text[match.end() :])
        words = [content_words(w) for w in following if content_words(w)][:scope]
        out |= set().union(*words) if words else {"∅"}  # a negation with nothing after it still negates
    return out
