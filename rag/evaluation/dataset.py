"""The evaluation set format: one JSON object per line (see README, "Evaluation data").

Keys: ``id``, ``question``, ``answers`` (gold first, then variants), ``evidence`` (verbatim
substrings of the article), ``type``, ``answerable``; optional ``must_not_contain`` (strings a
reply must not contain), ``turns`` (a two-turn conversation; ``question`` is the last turn),
``corpus`` (the folder, under the dataset's corpora folder, holding the article the question is
about; items without it are about the main corpus) and ``paragraph`` (informative). Items about
the whole article (summaries, key points, lists, people, why/how) carry ``points`` instead of
``answers`` and optionally ``length`` (see :mod:`rag.evaluation.points`); their points'
evidence counts as the item's evidence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .points import Point, parse_length, parse_points

TYPES = (
    "factoid",
    "attribution",
    "multi-paragraph",
    "multi",  # news-open's name for multi-paragraph
    "number",  # an amount, a date or a duration (news-open)
    "definition",
    "noisy",
    "unanswerable",
    "injection",
    "followup",
)
# Items about the whole article (scored by their points, see rag.evaluation.points).
WHOLE_TYPES = ("summary", "key-points", "people", "list", "why")


class DatasetError(ValueError):
    """A line of the evaluation file is not a valid item; the message names the line."""


@dataclass(frozen=True)
class EvalItem:
    """One question of the evaluation set."""

    id: str
    question: str
    answers: tuple[str, ...]
    evidence: tuple[str, ...]
    type: str
    answerable: bool
    must_not_contain: tuple[str, ...] = ()
    turns: tuple[str, ...] = ()
    corpus: str | None = None
    points: tuple[Point, ...] = ()
    length: tuple[tuple[str, int | bool], ...] = ()

    @property
    def history_turns(self) -> tuple[str, ...]:
        """The user turns asked before the scored question (empty for single-turn items)."""
        return self.turns[:-1] if self.turns else ()


def load_dataset(path: str | Path) -> list[EvalItem]:
    """Read and validate an evaluation file; raise :class:`DatasetError` naming the bad line."""
    items: list[EvalItem] = []
    seen: set[str] = set()
    for n, line in enumerate(Path(path).read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            points = parse_points(data.get("points"))
            evidence = tuple(map(str, data.get("evidence", [])))
            evidence += tuple(e for p in points for e in p.evidence if e not in evidence)
            item = EvalItem(
                id=str(data["id"]),
                question=str(data["question"]),
                answers=tuple(map(str, data.get("answers", []))),
                evidence=evidence,
                type=str(data.get("type", "factoid")),
                answerable=bool(data.get("answerable", True)),
                must_not_contain=tuple(map(str, data.get("must_not_contain", []))),
                turns=tuple(map(str, data.get("turns", []))),
                corpus=str(data["corpus"]) if data.get("corpus") else None,
                points=points,
                length=parse_length(data.get("length")),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DatasetError(f"{path}:{n}: not a valid item ({exc})") from exc
        if item.id in seen:
            raise DatasetError(f"{path}:{n}: duplicate id {item.id!r}")
        if item.answerable and not ((item.answers or item.points) and item.evidence):
            raise DatasetError(
                f"{path}:{n}: an answerable item needs answers and evidence (or points with evidence)"
            )
        if item.turns and item.turns[-1] != item.question:
            raise DatasetError(f"{path}:{n}: the last turn must equal the question")
        if item.corpus is not None and not _plain_name(item.corpus):
            raise DatasetError(f"{path}:{n}: corpus must be a folder name, not {item.corpus!r}")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise DatasetError(f"{path}: no items")
    return items


def _plain_name(name: str) -> bool:
    """A single folder name (no separators, no ``..``): a dataset cannot point outside its corpora."""
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name
