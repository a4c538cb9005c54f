"""Facts a sentence invents: the numbers and names it gives that its sources never mention
(:class:`rag.grounding.Grounder`'s ``facts`` check; the look-ups of :mod:`rag.lookup` and
:mod:`rag.polar` read a sentence only when it invents nothing the question lacks)."""

from __future__ import annotations

import re
from collections.abc import Callable

from .text import NAME, NUMBER, STARTERS, STOP, plain_text, strip_markers


def novel_facts(sentence: str, sources: str, spelled: Callable[[str], bool] | None = None) -> list[str]:
    """Numbers and names in ``sentence`` that ``sources`` (passages + question) never mention.

    ``spelled(word)``: whether the corpus spells out the acronym ``word`` ("ICBM" for
    "intercontinental ballistic missile"); such an acronym is no invention.
    """
    plain = strip_markers(sentence)
    known = set(re.findall(r"[a-z0-9]+", plain_text(sources.lower())))
    # A word the sources abbreviate is written there: "California" for "PINE RIDGE, Calif. (AP)",
    # "Oregon" for "Ore., Jan. 5" (not a sentence's last word: "… said Tom. He …").
    short = {a.lower() for a in _ABBREVIATION.findall(sources)}
    # A number inside a compound is written too: "19-year-old", "a 2-1 win", "Hwasong-16".
    digits_in_sources = {re.sub(r"[,.]", "", m).rstrip(".,") for m in re.findall(r"\d[\d,.]*", sources)}
    novel = []
    for match in NUMBER.finditer(plain):
        token = match.group(0).rstrip(".,")
        if token[:1].isdigit():
            if re.sub(r"[,.]", "", token) not in digits_in_sources:
                novel.append(token)
        elif token.lower() not in known:
            novel.append(token)
    for match in NAME.finditer(plain):
        name = re.sub(r"'s\b", "", plain_text(match.group(0)))
        if spelled is not None and spelled(name):
            continue
        words = [w for w in re.split(r"\s+", name.lower()) if w not in STOP | STARTERS]
        # Initials ("D.C.", "U.S.") name nothing on their own.
        parts = [p for w in words for p in re.findall(r"[a-z0-9]+", w) if len(p) > 1]
        if parts and not all(p in known or any(p.startswith(a) for a in short) for p in parts):
            novel.append(match.group(0))
    return novel


_ABBREVIATION = re.compile(r"\b([A-Z][a-z]{2,})\.(?=\s*[,(]|\s+[a-z0-9])")
