"""Words of news that say the opposite of each other ("raise" and "cut", "approve" and "reject").

Read by the yes/no rule (:mod:`rag.polar`: "The council rejected the plan" answers "no" to "Did
the council approve the plan?") and by the check of a "yes" (:mod:`rag.affirmed`: "open" is no
word of the same meaning as "closed", however close their vectors).
"""

from __future__ import annotations

import re

from .text import content_stems, content_words

OPPOSITE_SCOPE = 4  # content words after a verb its object may take ("approved the government's 2026 budget")
OPPOSITE_BEFORE = 2  # content words before a passive verb its subject may take ("the deal was approved")

# Words of news that say the opposite of each other, either way round (English, not any article's):
# "Did the council approve the plan?" is answered "no" by "The council rejected the plan".
_PAIRS = (
    ("raise raised", "cut cuts lower lowered"),
    ("increase increased", "decrease decreased cut cuts reduce reduced"),
    ("rise rises rose risen", "fall falls fell fallen drop dropped"),
    ("grow grew grown expand expanded", "shrink shrank contract contracted"),
    ("win wins won", "lose loses lost"), ("gain gained", "lose lost"),
    ("approve approved accept accepted", "reject rejected"), ("support supported", "oppose opposed"),
    ("open opened", "close closed"), ("allow allowed permit permitted", "ban banned forbid forbade prohibit"),
    ("hire hired", "fire fired"), ("higher", "lower"), ("confirm confirmed", "deny denied"),
    ("agree agreed", "disagree disagreed"), ("convict convicted", "acquit acquitted"),
    ("strengthen strengthened", "weaken weakened"), ("join joined", "leave left quit"),
    ("buy bought", "sell sold"), ("include included", "exclude excluded"),
    ("succeed succeeded", "fail failed"),
    # An ordinal says no other: "Is this its first recall this year?" — "the company's second this year".
    ("first", "second third fourth fifth sixth"), ("second", "third fourth fifth sixth"),
    ("third", "fourth fifth sixth"), ("fourth", "fifth sixth"), ("fifth", "sixth"),
    # not "hold": a ship's hold
    ("keep keeps kept", "cut cuts raise raised lower lowered change changed close closed shut sell sold"),
)  # fmt: skip


def _opposites() -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for one, other in _PAIRS:
        a, b = content_words(one), content_words(other)
        for w in a:
            out.setdefault(w, set()).update(b)
        for w in b:
            out.setdefault(w, set()).update(a)
    return {w: frozenset(v) for w, v in out.items()}


OPPOSITES = _opposites()  # stem → the stems of its opposites

# Words of news that say the same change (English, not any article's): "Did absences drop?" is
# what "absences fell" says, though the two words' vectors are far apart.
_SAME = (
    "fall falls fell fallen drop drops dropped decline declines declined decrease decreased slide slid "
    "dip dipped plunge plunged tumble tumbled slump slumped",
    "rise rises rose risen increase increased climb climbed jump jumped surge surged soar soared "
    "grow grew grown",
)
SAME_CHANGE = {w: frozenset(content_words(group)) for group in _SAME for w in content_words(group)}


def opposed_words(
    text: str, words: set[str], scope: int = OPPOSITE_SCOPE, before: int = OPPOSITE_BEFORE
) -> set[str]:
    """Of ``words`` (content words), those ``text`` says the opposite of: an opposite of one
    stands in ``text`` with another of ``words`` among the ``scope`` content words after it, or
    the ``before`` ones before it (a passive: "The deal was approved" for "Did they reject the
    deal?"), and the word itself does not ("… and cuts the defence budget" for raise, defence,
    budget, though "raises spending on hospitals" stands before it)."""
    seq = content_stems(text)

    def governs(stems: frozenset[str] | set[str], others: set[str], back: int = 0) -> bool:
        return any(
            s in stems and set(seq[i + 1 : i + 1 + scope] + seq[max(0, i - back) : i]) & others
            for i, s in enumerate(seq)
        )

    rest = {w: words - {w} for w in words}
    said_other_way = {w for w in words if governs(OPPOSITES.get(w, frozenset()), rest[w], before)}
    return {w for w in said_other_way if not governs({w}, rest[w])}


# A rank below the first: "the third-largest", "the 2nd biggest", "the second most popular".
_RANKS = r"(?:second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|\d+(?:st|nd|rd|th))"
_SUPERLATIVE = re.compile(r"\b(?:most\s+[a-z]+|[a-z]{3,}est|first)\b")  # "the first … since 2009" too


# A superlative bounded in time: "the costliest flood in the country since 2007", "the highest in
# a decade", "the biggest this year" (up to seven words after it, in its clause).
_SINCE = (r"(?:since\s+\w+|in\s+(?:\w+\s+){0,3}(?:years?|decades?|months?|weeks?)"
          r"|this\s+(?:year|season|decade|century|month))")


def outranked(text: str, question: str) -> set[str]:
    """The superlatives of ``question`` ("Is it the largest …?") that ``text`` gives with a rank
    below the first ("… the third-largest furniture retailer") or only within a time the question
    does not ask about ("Is it the costliest flood ever?" — "the costliest … since 2007"): the
    article's "no"."""
    asked = set(_SUPERLATIVE.findall(question.lower()))
    bounded = re.search(_SINCE, question, re.IGNORECASE)
    ranked = {w for w in asked if re.search(rf"\b{_RANKS}[-\s]+{re.escape(w)}\b", text, re.IGNORECASE)}
    if bounded:  # "Is it the costliest since 2007?": the time is asked about
        return ranked
    within = r"(?:\s+[^\s.,;:]+){0,7}?\s+" + _SINCE  # up to seven words on, in its clause
    since = {w for w in asked if re.search(rf"\b{re.escape(w)}\b{within}", text, re.IGNORECASE)}
    return ranked | since
