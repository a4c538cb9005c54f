"""Calibrated confidence: the probability that an answer is right, from a few signals.

Every answer the pipeline could give comes with **signals** (:class:`Signals`): how well
retrieval and the evidence sentences match the question, how much of the answer its cited
paragraphs hold, whether it gives the kind of thing asked for, the language model's own
decline, and the model's probability that the article answers the question at all (the
verifier, see :func:`rag.prompt.check_messages`). A :class:`Calibrator` (logistic regression, trained by
``rag calibrate`` on questions written by others) turns them into one probability, and the
assistant answers only above a threshold chosen for a stated error rate. This is the method of
selective question answering under domain shift (Kamath, Jia and Liang, ACL 2020): one
calibrated decision instead of one rule per failure.

The weights live in ``calibration.json`` beside this module (plain numbers, no pickle); the
file also records what each calibrator was trained on and its threshold.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .evidence import answers_type
from .text import strip_markers

if TYPE_CHECKING:
    from .grounding import CheckedAnswer

CALIBRATION_FILE = Path(__file__).resolve().parent / "calibration.json"


@dataclass(frozen=True)
class Signals:
    """What is known about one candidate answer (all numbers; see the module docstring)."""

    evidence: float = 0.0  # best evidence sentence score (cosine + weighted overlap + type)
    cosine: float = 0.0  # best cosine similarity of an evidence sentence to the question
    overlap: float = 0.0  # best IDF-weighted share of the question's words in one sentence
    unknown: float = 0.0  # share of the question's names that the corpus never mentions
    wants_type: float = 0.0  # the question asks for a number or a time
    has_type: float = 1.0  # the answer holds a number / time when one is asked for
    support: float = 0.0  # share of what the answer adds that its cited paragraphs hold
    similarity: float = 0.0  # best cosine of the answer's sentences to a cited sentence
    removed: float = 0.0  # share of the reply's sentences the checks removed
    words: float = 0.0  # log(1 + words of the answer)
    declined: float = 0.0  # the model said the article does not say
    answerable: float | None = None  # the model's P("yes": the article answers the question), if asked

    def as_dict(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Calibrator:
    """Logistic regression over named signals, with the threshold to answer at."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float = 0.5
    notes: Mapping[str, object] = field(default_factory=dict)

    def probability(self, signals: Signals | Mapping[str, float]) -> float:
        """P(the answer is right) for these signals."""
        values = signals.as_dict() if isinstance(signals, Signals) else dict(signals)
        z = self.bias
        for name, mean, scale, weight in zip(self.names, self.mean, self.scale, self.weights, strict=True):
            z += weight * (float(values.get(name, mean)) - mean) / (scale or 1.0)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def as_dict(self) -> dict:
        data = asdict(self)
        data["notes"] = dict(self.notes)
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> Calibrator:
        return cls(
            names=tuple(data["names"]),
            mean=tuple(float(x) for x in data["mean"]),
            scale=tuple(float(x) for x in data["scale"]),
            weights=tuple(float(x) for x in data["weights"]),
            bias=float(data["bias"]),
            threshold=float(data.get("threshold", 0.5)),
            notes=dict(data.get("notes", {})),
        )


@dataclass(frozen=True)
class Confidence:
    """The calibrated probability that an answer is right, and whether it is below the threshold."""

    value: float
    decline: bool


def judge(calibrators: Mapping[str, Calibrator], kind: str, signals: Signals) -> Confidence | None:
    """The confidence of an answer of ``kind`` (``"llm"``, ``"extractive"``) from its signals (a
    model's answer judged without the verifier's P(yes) uses ``"llm-no-verifier"``); ``None``
    without a calibrator for it."""
    name = kind if signals.answerable is not None or kind != "llm" else "llm-no-verifier"
    calibrator = calibrators.get(name)
    if calibrator is None:
        return None
    value = calibrator.probability(signals)
    return Confidence(value, value < calibrator.threshold)


def answer_signals(before: Signals, checked: CheckedAnswer, kind: str | None) -> Signals:
    """``before`` (retrieval and evidence) with what the checked reply adds: its support, what
    was removed, its length, whether it declined, whether it has the type asked for."""
    words = len(strip_markers(checked.text).split()) if checked.supported else 0
    has = answers_type(kind, checked.text, "") if kind in ("number", "time") else None
    return replace(
        before,
        has_type=1.0 if has is None else float(has),
        support=checked.support,
        similarity=checked.similarity,
        removed=len(checked.removed) / max(1, checked.claims),
        words=math.log1p(words),
        declined=float(checked.refusal),
    )


def load_calibrators(path: str | Path = CALIBRATION_FILE) -> dict[str, Calibrator]:
    """Every calibrator in ``path`` by name (``{}`` when the file does not exist)."""
    path = Path(path)
    if not path.is_file():
        return {}
    data = json.loads(path.read_text("utf-8"))
    return {name: Calibrator.from_dict(entry) for name, entry in data.get("calibrators", {}).items()}


def save_calibrators(calibrators: Mapping[str, Calibrator], path: str | Path, **about) -> None:
    """Write ``calibrators`` (and what they were trained on) to ``path`` as JSON."""
    data = {**about, "calibrators": {name: c.as_dict() for name, c in calibrators.items()}}
    Path(path).write_text(json.dumps(data, indent=2) + "\n", "utf-8")
