"""``rag calibrate``: fit the answer calibrator on the items of evaluation runs.

Each record of an ``items.jsonl`` that gave an answer carries the answer's signals
(:class:`rag.calibration.Signals`) and whether it was right. A logistic regression
(scikit-learn) learns P(right | signals) on the ``--items`` runs (the outside benchmark's
training split). The operating point is one threshold on that probability: an answer below it
is withheld. The stated error rate is on false refusals: the threshold is the one with the best
**balanced accuracy** on the training runs (the mean of answer accuracy on answerable questions
and decline accuracy on the others, so it does not depend on how many of a set's questions are
unanswerable) among those that keep false refusals on the ``--tune`` runs (the article's dev
set) within ``--max-false-refusals`` (or where they already were without the calibrator):
tuned on more than one article. The calibrator is
written into ``rag/calibration.json`` under ``--name`` with what it was trained and tuned on,
its AUROC (in-sample and 5-fold cross-validated), the metrics at the threshold on each run,
and the coverage-accuracy curve (drawn as a PNG with ``--plot``).
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

# The model's own judgments: the only signals whose meaning held from the outside benchmark to
# the article (retrieval and overlap scores did not transfer; docs/results.md, Calibrators).
LLM_SIGNALS = ("answerable",)
NO_VERIFIER = ("evidence", "cosine", "overlap", "support", "similarity", "words")
EXTRACTIVE_SIGNALS = ("evidence", "cosine", "overlap", "unknown", "wants_type", "has_type", "words")
PRESETS = {"llm": LLM_SIGNALS, "llm-no-verifier": NO_VERIFIER, "extractive": EXTRACTIVE_SIGNALS}
GRID = [i / 100 for i in range(0, 61)]


def add_parser(sub) -> None:
    p = sub.add_parser(
        "calibrate",
        help="fit the answer calibrator on evaluation runs (items.jsonl)",
        description="Fit P(answer right | signals) on the answered items of evaluation runs.",
    )
    p.add_argument("--items", nargs="+", required=True, metavar="FILE", help="items.jsonl of rag eval runs")
    p.add_argument("--backend", required=True, help="the backend label in those runs (e.g. llama-cpp)")
    p.add_argument("--name", choices=list(PRESETS), required=True, help="which calibrator (and signals)")
    p.add_argument(
        "--tune", nargs="*", default=[], metavar="FILE",
        help="items.jsonl on which false refusals must stay within --max-false-refusals (the dev set)",
    )  # fmt: skip
    p.add_argument(
        "--max-false-refusals", type=float, default=0.05,
        help="highest share of answerable --tune questions the threshold may refuse (default 0.05)",
    )  # fmt: skip
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


def fit(x: np.ndarray, y: np.ndarray, names: Sequence[str], c: float = 1.0) -> Calibrator:
    """Logistic regression on standardised signals (threshold 0.5 until one is chosen)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

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
    folds = min(5, int(y.sum()), int(len(y) - y.sum()))
    cv = None
    if folds >= 2:
        held = cross_val_predict(LogisticRegression(C=c, max_iter=1000), (x - mean) / scale, y, cv=folds,
                                 method="predict_proba")[:, 1]  # fmt: skip
        cv = auroc(held, y)
    notes = {"items": len(y), "right": int(y.sum()), "auroc": auroc(p, y), "auroc_cv": cv,
             "curve": coverage_curve(p, y)}  # fmt: skip
    return replace(calibrator, notes=notes)


def outcomes(records: Sequence[Mapping], backend: str, calibrator: Calibrator, threshold: float) -> dict:
    """Accuracy, declines, false refusals and balanced accuracy of a calibrator-off run's
    records had answers below ``threshold`` been withheld (other declines stay declines)."""
    rows = [r for r in records if r["backend"] == backend]
    answerable = [r for r in rows if r["answerable"]]
    others = [r for r in rows if not r["answerable"]]

    def answered(r: Mapping) -> bool:
        signals = r.get("signals") or {}
        return not r["refused"] and (not signals or calibrator.probability(signals) >= threshold)

    accuracy = sum(answered(r) and r["metrics"]["correct"] for r in answerable) / max(1, len(answerable))
    declines = sum(not answered(r) for r in others) / max(1, len(others))
    refusals = sum(not answered(r) for r in answerable) / max(1, len(answerable))
    return {"accuracy": accuracy, "declines": declines, "false_refusals": refusals,
            "balanced": (accuracy + declines) / 2 if others else accuracy}  # fmt: skip


def choose_threshold(
    train: Sequence[Mapping], tune: Sequence[Sequence[Mapping]], backend: str, calibrator: Calibrator,
    max_false_refusals: float,
) -> float:
    """The threshold with the best balanced accuracy on ``train`` among those keeping false
    refusals on each ``tune`` run within ``max_false_refusals`` (or within what they were without
    the calibrator, if that was more); the lowest such threshold on a tie."""
    limits = [max(max_false_refusals, outcomes(run, backend, calibrator, 0.0)["false_refusals"])
              for run in tune]  # fmt: skip
    allowed = [t for t in GRID
               if all(outcomes(run, backend, calibrator, t)["false_refusals"] <= limit + 1e-9
                      for run, limit in zip(tune, limits, strict=True))]  # fmt: skip
    scores = {t: outcomes(train, backend, calibrator, t)["balanced"] for t in allowed}
    best = max(scores.values())
    return next(t for t in allowed if scores[t] >= best - 1e-9)


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


def _read(paths: Sequence[str]) -> list[dict]:
    records = []
    for path in paths:
        records += [json.loads(line) for line in Path(path).read_text("utf-8").splitlines() if line.strip()]
    return records


def main(args: argparse.Namespace) -> int:
    records = _read(args.items)
    names = PRESETS[args.name]
    x, y = training_rows(records, args.backend, names)
    if len(y) < 20 or y.min() == y.max():
        raise ValueError(f"too few answered items to calibrate on ({len(y)}, {int(y.sum())} right)")
    calibrator = fit(x, y, names)
    tune = {Path(p).parent.name: _read([p]) for p in args.tune}
    runs = {"train": records, **tune}
    limit = args.max_false_refusals
    threshold = choose_threshold(records, list(tune.values()), args.backend, calibrator, limit)
    at = {name: outcomes(run, args.backend, calibrator, threshold) for name, run in runs.items()}
    off = {name: outcomes(run, args.backend, calibrator, 0.0) for name, run in runs.items()}
    kept = [calibrator.probability(dict(zip(names, row, strict=True))) >= threshold for row in x]
    risk = 1 - float(np.mean(y[np.array(kept)])) if any(kept) else None
    rule = (f"best balanced accuracy on the training runs with false refusals on the tuning runs "
            f"within {args.max_false_refusals}")
    notes = {**calibrator.notes, "threshold_rule": rule,
             "trained_on": list(args.items), "tuned_on": list(args.tune), "at_threshold": at,
             "without": off, "risk_on_training": risk}  # fmt: skip
    calibrator = replace(calibrator, threshold=threshold, notes=notes)
    calibrators = load_calibrators(args.out)
    calibrators[args.name] = calibrator
    existing = json.loads(Path(args.out).read_text("utf-8")) if Path(args.out).is_file() else {}
    about = {k: v for k, v in existing.items() if k != "calibrators"}
    about["about"] = "rag calibrate: logistic regression over answer signals; see rag/calibration.py"
    save_calibrators(calibrators, args.out, **about)
    if args.plot:
        plot({args.name: calibrator.notes["curve"]}, args.plot)
    weights = ", ".join(f"{n} {w:+.2f}" for n, w in zip(calibrator.names, calibrator.weights, strict=True))
    print(f"{args.name}: {len(y)} answered items ({int(y.sum())} right), AUROC {notes['auroc']} "
          f"(cross-validated {notes['auroc_cv']}); weights: {weights}")  # fmt: skip
    print(f"threshold {threshold:.2f} ({rule}); wrong among the training answers kept: {risk}")
    for name in runs:
        a, o = at[name], off[name]
        print(f"  {name}: accuracy {o['accuracy']:.3f} -> {a['accuracy']:.3f}, declines "
              f"{o['declines']:.3f} -> {a['declines']:.3f}, false refusals {o['false_refusals']:.3f} -> "
              f"{a['false_refusals']:.3f}")
    return 0 if math.isfinite(calibrator.bias) else 1
