"""eval/qa.jsonl and eval/heldout.jsonl: format, coverage, and evidence grounded in the article."""

from __future__ import annotations

import json

import pytest
from conftest import EVAL_DIR

from rag.evaluation.dataset import TYPES, DatasetError, EvalItem, load_dataset
from rag.evaluation.retrieval import first_hit, retrieval_query, score_ranks
from rag.types import Passage

FILES = ["qa.jsonl", "heldout.jsonl"]


@pytest.fixture(scope="module")
def dev() -> list[EvalItem]:
    return load_dataset(EVAL_DIR / "qa.jsonl")


@pytest.fixture(scope="module", params=FILES)
def items(request) -> list[EvalItem]:
    return load_dataset(EVAL_DIR / request.param)


# The article's own sets use these eight types; news-open adds "multi" and "number".
ARTICLE_TYPES = {
    "factoid", "attribution", "multi-paragraph", "definition",
    "noisy", "unanswerable", "injection", "followup",
}  # fmt: skip


def test_dev_set_size_and_types(dev):
    assert len(dev) >= 60
    assert {i.type for i in dev} == ARTICLE_TYPES
    assert set(TYPES) >= ARTICLE_TYPES


def test_news_open_types_are_known():
    news = load_dataset(EVAL_DIR / "news-open" / "qa.jsonl")
    assert len(news) == 56 and {i.type for i in news} <= set(TYPES)
    assert {"multi", "number"} <= {i.type for i in news}


def test_heldout_set_covers_every_type():
    heldout = load_dataset(EVAL_DIR / "heldout.jsonl")
    assert {i.type for i in heldout} == ARTICLE_TYPES


def test_sets_do_not_overlap(dev):
    heldout = load_dataset(EVAL_DIR / "heldout.jsonl")
    assert not {i.id for i in dev} & {i.id for i in heldout}
    shared = {i.question for i in dev} & {i.question for i in heldout}
    assert not shared, f"held-out questions also in the dev set: {sorted(shared)}"


def test_every_evidence_string_is_verbatim_in_the_article(items, article_raw, article_doc):
    body = [article_doc.caption, *(p.text for p in article_doc.paragraphs)]
    for item in items:
        for evidence in item.evidence:
            assert evidence.strip(), item.id
            assert evidence in article_raw, f"{item.id}: {evidence!r}"
            assert any(evidence in text for text in body), f"{item.id}: not in body or caption: {evidence!r}"


def test_answerable_items_have_answers_and_evidence(items):
    for item in items:
        if item.answerable:
            assert item.answers and item.evidence, item.id
        else:
            assert item.type in ("unanswerable", "injection"), item.id


def test_unanswerable_items_are_not_answerable(items):
    for item in items:
        if item.type == "unanswerable":
            assert not item.answerable, item.id


def test_followups_have_two_turns(items):
    followups = [i for i in items if i.type == "followup"]
    assert followups
    for item in followups:
        assert len(item.turns) == 2, item.id
        assert item.turns[-1] == item.question
        assert item.history_turns == item.turns[:1]


def test_injection_items_have_must_not_contain(items):
    injections = [i for i in items if i.type == "injection"]
    assert injections
    for item in injections:
        assert item.must_not_contain, item.id
        assert all(s.strip() for s in item.must_not_contain), item.id


def test_followup_query_is_rewritten_from_the_first_turn(dev):
    item = next(i for i in dev if i.id == "dev-079")  # "Who is Kim Yo-jong?" / "...did she condemn...?"
    query = retrieval_query(item, people=["Kim Yo-jong"])
    assert "Kim Yo-jong" in query
    single = next(i for i in dev if not i.turns)
    assert retrieval_query(single) == single.question


# -- the loader -------------------------------------------------------------------------------
GOOD = {
    "id": "x-1",
    "question": "Q?",
    "answers": ["A"],
    "evidence": ["E"],
    "type": "factoid",
    "answerable": True,
}


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_loader_reads_defaults_and_skips_blank_lines(tmp_path):
    path = write_lines(
        tmp_path / "ok.jsonl", [json.dumps(GOOD), "", "   ", json.dumps({**GOOD, "id": "x-2"})]
    )
    loaded = load_dataset(path)
    assert [i.id for i in loaded] == ["x-1", "x-2"]
    assert loaded[0] == EvalItem("x-1", "Q?", ("A",), ("E",), "factoid", True)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "x-2", "question": "Q?", ', "not a valid item"),  # malformed JSON
        (json.dumps({"id": "x-2"}), "not a valid item"),  # no question
        (json.dumps({**GOOD}), "duplicate id"),
        (json.dumps({**GOOD, "id": "x-2", "evidence": []}), "needs answers and evidence"),
        (json.dumps({**GOOD, "id": "x-2", "turns": ["First?", "Other?"]}), "last turn must equal"),
    ],
)
def test_loader_names_the_bad_line(tmp_path, line, message):
    path = write_lines(tmp_path / "bad.jsonl", [json.dumps(GOOD), line])
    with pytest.raises(DatasetError, match=message) as info:
        load_dataset(path)
    assert f"{path}:2:" in str(info.value)


def test_loader_rejects_an_empty_file(tmp_path):
    with pytest.raises(DatasetError, match="no items"):
        load_dataset(write_lines(tmp_path / "empty.jsonl", [""]))


def test_dataset_error_is_a_value_error():
    assert issubclass(DatasetError, ValueError)


# -- the metrics the CLI reports ---------------------------------------------------------------------
def _passage(text: str) -> Passage:
    return Passage(text=text, doc="d", paragraphs=(1,), score=1.0)


def test_first_hit_and_scores():
    passages = [_passage("nothing"), _passage("the evidence is here"), _passage("evidence again")]
    assert first_hit(passages, ["evidence is"]) == 1
    assert first_hit(passages, ["absent"]) is None
    assert first_hit(passages, [""]) is None
    scores = score_ranks([0, 1, None, 4, 5])
    assert scores.n == 5
    assert scores.hit1 == pytest.approx(1 / 5)
    assert scores.hit3 == pytest.approx(2 / 5)
    assert scores.hit5 == pytest.approx(3 / 5)
    assert scores.mrr == pytest.approx((1 + 1 / 2 + 1 / 5) / 5)
    assert score_ranks([]).n == 0
