"""``rag calibrate``: fit the answer calibrator on the items of evaluation runs.

Each record of an ``items.jsonl`` that gave an answer carries the answer's signals
(:class:`rag.calibration.Signals`) and whether it was right. A logistic regression
(scikit-learn) learns P(right | signals); the threshold is the lowest probability at which the
answers given on the training items are wrong at most ``--risk`` of the time (selective risk).
The calibrator is written into ``rag/calibration.json`` under ``--name``, with what it was
trained on, its AUROC, and the coverage-accuracy curve (also drawn as a PNG with ``--plot``).

Train on one benchmark and check on another: the threshold then meets a stated error rate on
questions nobody here wrote, and the other benchmark shows whether it holds under shift.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..calibration import CALIBRATION_FILE, Calibrator, load_calibrators, save_calibrators

LLM_SIGNALS = (
    "evidence", "cosine", "overlap", "unknown", "wants_type", "has_type",
    "support", "similarity", "removed", "words", "verifier",
)  # fmt: skip
NO_VERIFIER = tuple(n for n in LLM_SIGNALS if n != "verifier")
EXTRACTIVE_SIGNALS = ("evidence", "cosine", "overlap", "unknown", "wants_type", "has_type", "words")
PRESETS = {"llm": LLM_SIGNALS, "llm-no-verifier": NO_VERIFIER, "extractive": EXTRACTIVE_SIGNALS}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "calibrate",
        help="fit the answer calibrator on evaluation runs (items.jsonl)",
        description="Fit P(answer right | signals) on the answered items of evaluation runs.",
    )
    p.add_argument("--items", nargs="+", required=True, metavar="FILE", help="items.jsonl of rag eval runs")
    p.add_argument("--backend", required=True, help="the backend label in those runs (e.g. llama-cpp)")
    p.add_argument("--name", choices=list(PRESETS), required=True, help="which calibrator (and signals)")
    p.add_argument("--risk", type=float, default=0.1, help="highest share of wrong answers given (0.1)")
    p.add_argument("--out", default=str(CALIBRATION_FILE), help="calibration file (merged)")
    p.add_argument("--plot", metavar="PNG", help="also draw the coverage-accuracy curve")
    p.set_defaults(func=main)


def training_rows(
    records: Sequence[Mapping], backend: str, names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Signals (rows) and labels (1 = a right answer) of the answered items of one backend."""
    xs, ys = [], []
    for record in records:
        signals = record.get("signals") or {}
        if record["backend"] != backend or record["refused"] or not all(n in signals for n in names):
            continue
        xs.append([float(signals[n]) for n in names])
        ys.append(1.0 if record["answerable"] and record["metrics"]["correct"] else 0.0)
    return np.array(xs, dtype=float).reshape(-1, len(names)), np.array(ys)


def fit(x: np.ndarray, y: np.ndarray, names: Sequence[str], risk: float, c: float = 1.0) -> Calibrator:
    """Logistic regression on standardised signals; threshold for the stated ``risk``."""
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=1000).fit((x - mean) / scale, y)
    calibrator = Calibrator(
        names=tuple(names),
        mean=tuple(mean.tolist()),
        scale=tuple(scale.tolist()),
        weights=tuple(model.coef_[0].tolist()),
        bias=float(model.intercept_[0]),
    )
    p = np.array([calibrator.probability(dict(zip(names, row, strict=True))) for row in x])
    threshold = threshold_for_risk(p, y, risk)
    curve = coverage_curve(p, y)
    notes = {"items": len(y), "right": int(y.sum()), "risk": risk, "auroc": auroc(p, y), "curve": curve}
    return replace(calibrator, threshold=threshold, notes=notes)


def threshold_for_risk(p: np.ndarray, y: np.ndarray, risk: float) -> float:
    """The lowest threshold at which the answers kept (p >= threshold) are wrong at most ``risk``."""
    order = np.argsort(-p)
    wrong = np.cumsum(1 - y[order])
    kept = np.arange(1, len(y) + 1)
    ok = np.flatnonzero(wrong / kept <= risk)
    if not len(ok):
        return 1.0
    return float(p[order][ok[-1]])


def coverage_curve(p: np.ndarray, y: np.ndarray, steps: int = 21) -> list[dict[str, float]]:
    """Coverage (share answered) and accuracy of the answers given, at thresholds 0..1."""
    out = []
    for t in np.linspace(0, 1, steps):
        kept = p >= t
        out.append({
            "threshold": round(float(t), 3),
            "coverage": round(float(kept.mean()), 4) if len(p) else 0.0,
            "accuracy": round(float(y[kept].mean()), 4) if kept.any() else None,
        })  # fmt: skip
    return out


def auroc(p: np.ndarray, y: np.ndarray) -> float | None:
    """Area under the ROC curve (how well ``p`` ranks right answers above wrong ones)."""
    pos, neg = p[y == 1], p[y == 0]
    if not len(pos) or not len(neg):
        return None
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return round(float(greater / (len(pos) * len(neg))), 4)


def plot(curves: Mapping[str, Sequence[Mapping]], path: str | Path, marks: Mapping[str, float] = {}) -> None:
    """Coverage-accuracy curves (one per label) as a PNG."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for label, curve in curves.items():
        points = [(c["coverage"], c["accuracy"]) for c in curve if c["accuracy"] is not None]
        ax.plot([a for a, _ in points], [b for _, b in points], marker=".", label=label)
    for label, coverage in marks.items():
        ax.axvline(coverage, ls=":", lw=1)
        ax.text(coverage, 0.02, label, rotation=90, fontsize=7, va="bottom")
    ax.set_xlabel("coverage (share of answerable-looking questions answered)")
    ax.set_ylabel("accuracy of the answers given")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)


def main(args: argparse.Namespace) -> int:
    records = []
    for path in args.items:
        records += [json.loads(line) for line in Path(path).read_text("utf-8").splitlines() if line.strip()]
    names = PRESETS[args.name]
    x, y = training_rows(records, args.backend, names)
    if len(y) < 20 or y.min() == y.max():
        raise ValueError(f"too few answered items to calibrate on ({len(y)}, {int(y.sum())} right)")
    calibrator = fit(x, y, names, args.risk)
    calibrators = load_calibrators(args.out)
    calibrators[args.name] = calibrator
    about = {"about": "rag calibrate: logistic regression over answer signals; see rag/calibration.py"}
    about[f"{args.name}_trained_on"] = [str(p) for p in args.items]
    existing = json.loads(Path(args.out).read_text("utf-8")) if Path(args.out).is_file() else {}
    about = {**{k: v for k, v in existing.items() if k != "calibrators"}, **about}
    save_calibrators(calibrators, args.out, **about)
    if args.plot:
        plot({args.name: calibrator.notes["curve"]}, args.plot)
    weights = ", ".join(f"{n} {w:+.2f}" for n, w in zip(calibrator.names, calibrator.weights, strict=True))
    print(f"{args.name}: {len(y)} answered items ({int(y.sum())} right), AUROC {calibrator.notes['auroc']}")
    print(f"threshold {calibrator.threshold:.3f} for risk <= {args.risk}; weights: {weights}")
    p = [calibrator.probability(dict(zip(names, row, strict=True))) for row in x]
    kept = sum(v >= calibrator.threshold for v in p)
    print(f"answered at that threshold: {kept} of {len(y)} ({kept / len(y):.2f})")
    if not math.isfinite(calibrator.bias):  # pragma: no cover - a degenerate fit
        return 1
    return 0
