"""Whole-article items: key points, citations judged by point, and the length asked for.

An item about the whole article ("Summarize it in three sentences", "Who is quoted?") has no
one gold answer. It has ``points``: what a good answer contains, each a few hand-checked
keywords or phrases (any one will do) and the verbatim article text that states it::

    {"any": ["owe", "debt"], "evidence": ["could put Russian President Vladimir Putin in Pyongyang’s debt"]}

An alternative written ``"Cha & Strategic and International Studies"`` needs every part in one
sentence (or line) of the reply: a name with its affiliation, not the name in one place and the
affiliation in another. Matching is on normalised text (SQuAD normalisation, typographic quotes
and dashes as ASCII), from the start of a word; a keyword of three letters or more that is not an
acronym may end inside a word ("owe" holds "owes").

- **Key-point recall**: the share of an item's points the reply holds (a refusal holds none).
- **Citation precision by point**: each sentence or line of the reply that holds a point is
  judged with the paragraphs it cites; a citation is right when the paragraph holds evidence of
  a point that sentence holds. Sentences that hold no point are not judged (nothing says which
  paragraph they need).
- **Length kept**: ``length`` ``{"sentences": 3}`` is exactly three sentences, ``{"bullets": 5}``
  exactly five bullet lines, ``{"bullets": true}`` two or more bullet lines and nothing else,
  ``{"words": 50}`` at most fifty words (markers not counted).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..text import find_markers, split_sentences, strip_markers
from ..types import Answer

_BULLET = re.compile(r"^\s*(?:[-*•‣]|\d{1,2}[.)])\s+\S")


@dataclass(frozen=True)
class Point:
    """One thing a good answer says: alternatives (any one matches) and the text stating it."""

    any: tuple[str, ...]
    evidence: tuple[str, ...] = ()


def parse_points(data: object) -> tuple[Point, ...]:
    """``points`` as written in a dataset line: objects with ``any`` (and ``evidence``), or bare
    lists of alternatives."""
    if data is None:
        return ()
    if not isinstance(data, list):
        raise TypeError("points must be a list")
    out = []
    for entry in data:
        if isinstance(entry, Mapping):
            alternatives, evidence = entry.get("any", []), entry.get("evidence", [])
        elif isinstance(entry, list):
            alternatives, evidence = entry, []
        else:
            raise TypeError(f"a point must be an object or a list, not {entry!r}")
        alternatives = tuple(str(a) for a in alternatives if str(a).strip())
        if not alternatives:
            raise TypeError("a point needs at least one keyword")
        out.append(Point(alternatives, tuple(map(str, evidence))))
    return tuple(out)


def parse_length(data: object) -> tuple[tuple[str, int | bool], ...]:
    """``length`` as written: ``{"sentences": 3}``, ``{"bullets": 5}``, ``{"bullets": true}``,
    ``{"words": 50}`` (as a tuple of pairs, for a frozen item)."""
    if data is None:
        return ()
    if not isinstance(data, Mapping) or not data:
        raise TypeError("length must be an object such as {\"sentences\": 3}")
    out = []
    for key, value in data.items():
        if key not in ("sentences", "bullets", "words"):
            raise TypeError(f"unknown length {key!r}")
        if key != "bullets" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise TypeError(f"length {key} must be a positive number")
        out.append((key, value))
    return tuple(out)


def units(reply: str) -> list[str]:
    """The reply's lines, each cut into sentences: the units a point is looked for in."""
    return [s for line in (reply or "").splitlines() if line.strip() for s in split_sentences(line)]


def _norm(text: str) -> str:
    from .metrics import normalize_answer

    return f" {normalize_answer(strip_markers(text))} "


def _holds(unit: str, alternative: str) -> bool:
    text = _norm(unit)
    return all(_found(part.strip(), text) for part in alternative.split("&") if part.strip())


def _found(keyword: str, text: str) -> bool:
    """``keyword`` in normalised ``text`` from a word's start; a keyword of three letters or more
    (not an acronym) may end inside a word ("owe" in "owes", "homeopath" in "homeopathy")."""
    key = _norm(keyword)
    whole = len(keyword) < 3 or keyword.isupper()
    return key in text if whole else key.rstrip() in text


def point_held(reply: str, point: Point) -> bool:
    """Whether one sentence or line of ``reply`` holds one of the point's alternatives."""
    return any(_holds(u, alt) for alt in point.any for u in units(reply))


def points_held(reply: str, points: Sequence[Point]) -> list[bool]:
    return [point_held(reply, p) for p in points]


def cited_units(reply: str) -> list[tuple[str, list[int]]]:
    """Each line of ``reply`` cut after each run of markers: ``(text, [paragraph numbers])``."""
    out = []
    for line in (reply or "").splitlines():
        pos = 0
        markers = find_markers(line)
        i = 0
        while i < len(markers):
            start, end, refs = markers[i]
            numbers = [n for _, n in refs]
            while i + 1 < len(markers) and not line[end : markers[i + 1][0]].strip():
                i += 1
                end = markers[i][1]
                numbers += [n for _, n in markers[i][2]]
            out.append((line[pos:start], numbers))
            pos = end
            i += 1
        if line[pos:].strip():
            out.append((line[pos:], []))
    return out


def point_citations(answer: Answer, points: Sequence[Point]) -> tuple[int, int]:
    """``(judged, right)``: citations of sentences that hold a point, and those whose paragraph
    holds evidence of a point that sentence holds."""
    from .retrieval import holds

    texts = {c.paragraph: c.text for c in answer.citations}
    judged = right = 0
    for text, numbers in cited_units(answer.text):
        held = [p for p in points if any(_holds(text, alt) for alt in p.any)]
        if not held:
            continue
        evidence = [e for p in held for e in p.evidence]
        for n in dict.fromkeys(numbers):
            if n not in texts:
                continue
            judged += 1
            right += bool(evidence) and holds(texts[n], evidence)
    return judged, right


def length_kept(reply: str, length: Sequence[tuple[str, int | bool]]) -> bool | None:
    """Whether ``reply`` keeps the length asked for (``None`` when none was asked for)."""
    if not length:
        return None
    lines = [line for line in (reply or "").splitlines() if line.strip()]
    bullets = [line for line in lines if _BULLET.match(line)]
    kept = True
    for key, value in length:
        if key == "sentences":
            prose = strip_markers(" ".join(lines))
            kept &= not bullets and len(split_sentences(prose)) == value
        elif key == "bullets" and value is True:
            listed = all(_BULLET.match(line) or line.rstrip().endswith(":") for line in lines)
            kept &= len(bullets) >= 2 and listed
        elif key == "bullets":
            kept &= len(bullets) == value
        elif key == "words":
            kept &= len(strip_markers(reply).split()) <= value
    return kept
