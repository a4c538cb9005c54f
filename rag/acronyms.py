"""Acronyms learnt from the corpus, so "CSIS" finds "Center for Strategic and International Studies".

News articles name an institution in full once and by its initials later (or only one of
the two). :class:`AcronymMap` collects every capitalised multi-word name of the corpus,
derives its initials, and expands a text with the other form of each name it mentions.
Used on both sides of keyword search (chunks and queries), so either form matches.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from .text import CONNECTORS, LONG_NAME, TOKEN

# Capitalised words that start sentences or name days, not institutions.
_NOT_NAME = re.compile(
    r"^(?:(?:The|A|An|THE|Whether|During|While|When|If|After|Before|As|At|For|But|And|So|In|On|"
    r"This|That|These|Those|Meanwhile|However)\s+)+|"
    r"\s+(?:on\s+)?(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|"
    r"March|April|May|June|July|August|September|October|November|December)\b.*$"
)
_ACRONYM = re.compile(r"\b[A-Z]{2,6}\b")

# Acronyms of English that news writes out in small letters, or whose letters no rule recovers
# ("CEO" for "chief executive", "MPs" for "members of parliament"): English, not any article's.
COMMON: dict[str, tuple[str, ...]] = {
    "CEO": ("chief executive",), "CFO": ("chief financial officer", "finance director", "finance chief"),
    "COO": ("chief operating officer",), "CTO": ("chief technology officer",),
    "MP": ("member of parliament",), "MEP": ("member of the european parliament",),
    "PM": ("prime minister",), "VP": ("vice president",), "GDP": ("gross domestic product",),
    "AI": ("artificial intelligence",), "EV": ("electric vehicle", "electric car"),
    "IPO": ("initial public offering", "stock market listing"),
    "UN": ("united nations",), "EU": ("european union",), "US": ("united states",),
    "UK": ("united kingdom", "britain"),
}  # fmt: skip


def initials(name: str) -> str:
    """The capital initials of ``name``, hyphenated parts apart, connectors skipped."""
    letters = []
    for word in name.split():
        if word.lower() in CONNECTORS:
            continue
        for part in re.split(r"[-‐]", word):
            if part[:1].isupper():
                letters.append(part[0])
    return "".join(letters)


def spelled_out_in(text: str) -> Callable[[str], bool]:
    """Whether an acronym stands in ``text`` by its long form ("NPT": "the Nuclear
    Non-Proliferation Treaty"), as :func:`~rag.novelty.novel_facts` and the citation of an
    asked subject (:func:`rag.placement.with_subject`) ask."""
    found = initials(" ".join(w for w in TOKEN.findall(text) if w[0].isupper()))
    return lambda name: len(name) >= 3 and name.isupper() and name in found


class AcronymMap:
    """Two-way map between acronyms and the long names found in a corpus."""

    def __init__(self, texts: Iterable[str] = ()) -> None:
        self.long_forms: dict[str, str] = {}
        texts = list(texts)
        used = {a for text in texts for a in _ACRONYM.findall(text)}
        for text in texts:
            for match in LONG_NAME.finditer(text):
                name = re.sub(r"[’']s$", "", _NOT_NAME.sub("", match.group(0)))
                letters = initials(name)
                if not 2 <= len(letters) <= 6 or name.isupper():
                    continue
                # A name seen only in full counts when it looks like an institution (3+ words,
                # no "and" between two names); one whose initials the corpus uses always counts.
                if letters in used or (len(letters) >= 3 and " and " not in name):
                    self.long_forms.setdefault(letters, name)
        self._long_lower = {v.lower(): k for k, v in self.long_forms.items()}
        self._words = [w.lower() for text in texts for w in re.findall(r"[A-Za-z]+", text)
                       if w.lower() not in CONNECTORS]  # fmt: skip
        self._starts: dict[str, list[int]] = {}
        for i, word in enumerate(self._words):
            self._starts.setdefault(word[0], []).append(i)
        self._spelled: dict[str, bool] = {}
        self._plain = f" {' '.join(self._words)} "  # every word, connectors left out
        self._common: dict[str, bool] = {}

    def _written_out(self, acronym: str) -> bool:
        """Whether the corpus writes one of ``acronym``'s :data:`COMMON` long forms (a plural too);
        each acronym is looked for once."""
        if acronym not in self._common:
            self._common[acronym] = any(self._writes(form) for form in COMMON.get(acronym, ()))
        return self._common[acronym]

    def _writes(self, long_form: str) -> bool:
        words = [w for w in long_form.split() if w not in CONNECTORS]
        return re.search(r" " + r" ".join(rf"{re.escape(w)}s?" for w in words) + " ", self._plain) is not None

    def knows(self, word: str) -> bool:
        """Whether the corpus names ``word``, an acronym, in full: "CSIS" (a capitalised name
        with those initials; three letters also as part of a longer name's initials, "NPT" for
        "the Nuclear Non-Proliferation Treaty"), an acronym of English in its long form ("CEO":
        "chief executive", :data:`COMMON`) or, from four letters up, "ICBM"
        ("intercontinental ballistic missile", letters taken from the start of each word and, in
        order, from inside it; shorter ones would match any few words in a row)."""
        acronym = word[:-1] if len(word) > 2 and word.endswith("s") and word[:-1].isupper() else word
        if not (2 <= len(acronym) <= 6 and acronym.isalpha() and acronym.isupper()):
            return False
        if acronym in self.long_forms or self._written_out(acronym):
            return True
        if len(acronym) == 3:  # "NPT" for "the Nuclear Non-Proliferation Treaty": a word left out
            return any(acronym in letters for letters in self.long_forms if len(letters) > 3)
        if len(acronym) < 3:
            return False
        if acronym not in self._spelled:
            letters = acronym.lower()
            self._spelled[acronym] = any(
                _spells(letters, self._words[start : start + size])
                for start in self._starts.get(letters[0], [])
                for size in range(2, len(letters) + 1)
            )
        return self._spelled[acronym]

    def __len__(self) -> int:
        return len(self.long_forms)

    def expand(self, text: str) -> str:
        """Return ``text`` followed by the other form of every name or acronym it contains."""
        extra: list[str] = []
        tokens = {w.upper() for w in re.findall(r"\b[A-Za-z]{2,6}\b", text)}
        acronyms = [w for w in _ACRONYM.findall(text)] + [w for w in tokens if len(w) >= 3]
        for acronym in dict.fromkeys(acronyms):
            long_form = self.long_forms.get(acronym)
            if long_form and long_form.lower() not in text.lower():
                extra.append(long_form)
        lowered = text.lower()
        for long_form, acronym in self._long_lower.items():
            if long_form in lowered and not re.search(rf"\b{acronym}\b", text):
                extra.append(acronym)
        return text if not extra else f"{text} {' '.join(extra)}"


def _spells(letters: str, words: list[str]) -> bool:
    """Whether ``words`` spell out ``letters``: each word gives its first letter and perhaps
    more of its own letters, in order, and together they give exactly ``letters``."""
    if not words:
        return not letters
    if not letters or words[0][0] != letters[0]:
        return False
    word, rest = words[0], letters[1:]
    # The word may give 0..n more letters, found in order inside it.
    position, taken = 1, 0
    options = [0]
    while taken < len(rest):
        found = word.find(rest[taken], position)
        if found < 0:
            break
        taken += 1
        position = found + 1
        options.append(taken)
    return any(_spells(rest[extra:], words[1:]) for extra in options)
