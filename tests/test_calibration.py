"""The answer calibrator (rag.calibration) and its trainer (rag.evaluation.calibrate)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rag.assistant import CHECK_NAMES, Checks
from rag.calibration import Calibrator, Signals, load_calibrators, save_calibrators
from rag.evaluation.calibrate import auroc, choose_threshold, coverage_curve, fit, outcomes, training_rows


def test_probability_is_a_logistic_function_of_standardised_signals():
    names = ("support", "answerable")
    c = Calibrator(names, mean=(0.5, 0.5), scale=(0.25, 0.1), weights=(2.0, 1.0), bias=0.5)
    at_mean = c.probability({"support": 0.5, "answerable": 0.5})
    assert at_mean == pytest.approx(1 / (1 + np.exp(-0.5)))
    high = c.probability({"support": 1.0, "answerable": 0.5})
    assert high > at_mean > c.probability({"support": 0.0, "answerable": 0.5})
    assert c.probability(Signals(support=0.5, answerable=0.5)) == pytest.approx(at_mean)
    assert c.probability({"support": 0.5}) == pytest.approx(at_mean)  # a missing signal counts as its mean
    assert 0.0 < c.probability({"support": 1e9, "answerable": 1e9}) <= 1.0  # no overflow


def test_calibrators_survive_a_round_trip_through_json(tmp_path):
    c = Calibrator(("evidence",), (1.0,), (0.5,), (1.5,), -0.2, 0.6, {"items": 10})
    path = tmp_path / "calibration.json"
    save_calibrators({"llm": c}, path, about="test")
    assert json.loads(path.read_text())["about"] == "test"
    assert load_calibrators(path) == {"llm": c}
    assert load_calibrators(tmp_path / "missing.json") == {}


def record(backend, refused, answerable, correct, support):
    return {"backend": backend, "refused": refused, "answerable": answerable,
            "metrics": {"correct": correct}, "signals": {"support": support}}  # fmt: skip


SUPPORT = Calibrator(("support",), (0.5,), (0.1,), (4.0,), 0.0)  # P rises steeply with support


def test_outcomes_withhold_answers_below_the_threshold():
    run = [
        record("llm", False, True, True, 0.9),  # a right answer, confident
        record("llm", False, True, False, 0.5),  # a wrong answer, P 0.5
        record("llm", False, False, False, 0.3),  # an answer to an unanswerable question, P low
        record("llm", True, False, False, 0.0),  # declined by the model: stays declined
    ]
    assert outcomes(run, "llm", SUPPORT, 0.0) == {
        "accuracy": 0.5, "declines": 0.5, "false_refusals": 0.0, "balanced": 0.5}  # fmt: skip
    at = outcomes(run, "llm", SUPPORT, 0.4)  # P(0.3) = 0.31 < 0.4 <= P(0.5) = 0.5
    assert at == {"accuracy": 0.5, "declines": 1.0, "false_refusals": 0.0, "balanced": 0.75}
    assert outcomes(run, "llm", SUPPORT, 0.6)["false_refusals"] == 0.5


def test_the_threshold_stops_where_the_tuning_set_would_be_refused_too_much():
    train = [record("llm", False, False, False, 0.2 + i / 100) for i in range(30)]
    train += [record("llm", False, True, True, 0.7 + i / 100) for i in range(30)]
    tune = [record("llm", False, True, True, 0.4 + i / 100) for i in range(20)]  # right, less sure
    free = choose_threshold(train, [], "llm", SUPPORT, 0.05)
    held = choose_threshold(train, [tune], "llm", SUPPORT, 0.05)
    assert outcomes(train, "llm", SUPPORT, free)["balanced"] == 1.0  # every unanswerable declined
    assert held < free and outcomes(tune, "llm", SUPPORT, held)["false_refusals"] <= 0.05


def test_coverage_curve_and_auroc():
    p = np.array([0.9, 0.8, 0.3, 0.2])
    y = np.array([1, 1, 0, 0])
    assert auroc(p, y) == 1.0
    assert auroc(p, 1 - y) == 0.0 and auroc(p, np.ones(4)) is None
    curve = coverage_curve(p, y, steps=3)  # thresholds 0, 0.5, 1
    assert [c["coverage"] for c in curve] == [1.0, 0.5, 0.0]
    assert curve[1]["accuracy"] == 1.0 and curve[2]["accuracy"] is None


def test_fit_learns_which_signal_tells_right_from_wrong():
    rng = np.random.default_rng(0)
    good = rng.uniform(0, 1, 400)
    noise = rng.uniform(0, 1, 400)
    y = (good + rng.normal(0, 0.15, 400) > 0.5).astype(float)
    c = fit(np.column_stack([good, noise]), y, ("support", "cosine"))
    assert c.weights[0] > 5 * abs(c.weights[1])
    assert c.notes["auroc"] > 0.9 and c.notes["auroc_cv"] > 0.9


def test_training_rows_use_answered_items_of_one_backend():
    records = [
        record("llm", False, True, True, 0.9),
        record("llm", False, False, False, 0.8),  # an answer to an unanswerable question: wrong
        record("llm", True, True, False, 0.1),  # declined: not a training row
        record("other", False, True, True, 0.5),
        {"backend": "llm", "refused": False, "answerable": True, "metrics": {"correct": True}, "signals": {}},
    ]
    x, y = training_rows(records, "llm", ("support",))
    assert x.tolist() == [[0.9], [0.8]] and y.tolist() == [1.0, 0.0]


def test_every_check_can_be_switched_off_by_name():
    checks = Checks()
    for name in CHECK_NAMES:
        off = checks.without(name)
        assert off != checks
        flags = {**vars(off), **vars(off.grounding)}
        assert flags[name] is False
        assert sum(v is False for v in flags.values()) == 1
    with pytest.raises(ValueError, match="unknown check"):
        checks.without("nonsense")
