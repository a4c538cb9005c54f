"""Whole-article items in `rag eval`: key points, citations judged by point, length kept, and the
set itself (eval/whole/qa.jsonl: its evidence verbatim in the articles, its routes right)."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from conftest import CORPUS_DIR, EVAL_DIR

from rag.corpus import load_corpus
from rag.evaluation.dataset import WHOLE_TYPES, DatasetError, load_dataset
from rag.evaluation.metrics import score_item, summarize
from rag.evaluation.points import (
    Point,
    length_kept,
    parse_points,
    point_citations,
    points_held,
)
from rag.router import route
from rag.types import Answer, ChatMessage, Citation

WHOLE = EVAL_DIR / "whole" / "qa.jsonl"
OWE = "that creates a lot of ‘you owe me’ from the North Koreans to Putin"
CSIS = "Victor Cha, Korea chair at the Center for Strategic and International Studies"


def test_points_are_read_as_objects_or_lists_and_need_a_keyword():
    assert parse_points([{"any": ["owe", "debt"], "evidence": [OWE]}, ["China"]]) == (
        Point(("owe", "debt"), (OWE,)),
        Point(("China",), ()),
    )
    with pytest.raises(TypeError):
        parse_points([{"any": [" "]}])


def test_a_point_is_held_by_any_alternative_and_joined_parts_need_one_sentence():
    points = parse_points([["debt", "owe"], ["Cha & Strategic and International Studies"]])
    apart = "Victor Cha spoke. The Center for Strategic and International Studies hosted it. Putin owes."
    assert points_held(apart, points) == [True, False]
    together = "- Victor Cha: Korea chair at the Center for Strategic and International Studies [¶4]"
    assert points_held(together, points) == [False, True]
    assert points_held("Nothing about it [¶3].", points) == [False, False]


@pytest.mark.parametrize(
    ("reply", "length", "kept"),
    [
        ("One [¶1]. Two [¶2]. Three [¶3].", {"sentences": 3}, True),
        ("One [¶1]. Two [¶2].", {"sentences": 3}, False),
        ("- One [¶1]\n- Two [¶2]\n- Three [¶3]", {"sentences": 3}, False),
        ("- One [¶1]\n- Two [¶2]\n- Three [¶3]", {"bullets": 3}, True),
        ("- One [¶1]\n- Two [¶2]", {"bullets": 3}, False),
        ("The article names three:\n- One [¶1]\n- Two [¶2]", {"bullets": True}, True),
        ("One sentence of prose [¶1].", {"bullets": True}, False),
        ("word " * 50 + "[¶1]", {"words": 50}, True),
        ("word " * 51 + "[¶1]", {"words": 50}, False),
    ],
)
def test_length_is_kept_exactly(reply, length, kept):
    assert length_kept(reply, tuple(length.items())) is kept


def test_citations_are_judged_by_the_points_their_sentence_holds():
    points = parse_points([{"any": ["owe"], "evidence": [OWE]}, {"any": ["Korea chair"], "evidence": [CSIS]}])
    p4 = Citation("a", 4, CSIS + ", stated …")
    p5 = Citation("a", 5, "“And if North Korean troops actually die …, " + OWE + ",” Cha said Tuesday.")
    right = Answer("Cha: dying troops create ‘you owe me’ [¶5]. Cha is Korea chair [¶4].", False, (p4, p5))
    assert point_citations(right, points) == (2, 2)
    wrong = Answer("Cha: dying troops create ‘you owe me’ [¶4]. He spoke on Tuesday [¶5].", False, (p4, p5))
    assert point_citations(wrong, points) == (1, 0)  # the second sentence holds no point: not judged


def test_a_whole_item_scores_recall_refusal_and_length(tmp_path):
    points = [{"any": ["owe"], "evidence": [OWE]}, ["China"]]
    line = {"id": "w-1", "type": "summary", "question": "Sum it up in two sentences.", "points": points,
            "length": {"sentences": 2}}  # fmt: skip
    path = tmp_path / "w.jsonl"
    path.write_text(json.dumps(line) + "\n", "utf-8")
    item = load_dataset(path)[0]
    assert item.evidence == (OWE,) and item.length == (("sentences", 2),)
    cited = (Citation("a", 5, OWE),)
    half = score_item(item, Answer("The North may say Russia owes it [¶5]. That is all [¶5].", False, cited))
    assert (half.points, half.points_held, half.length_kept, half.correct) == (2, 1, True, False)
    full = score_item(item, Answer("Russia would owe North Korea [¶5]. China is uneasy [¶5].", False, cited))
    assert full.correct and full.cited == 2 and full.cited_supported == 1  # "China" has no evidence here
    refused = score_item(item, Answer("The article does not say.", True))
    assert refused.false_refusal and refused.points_held == 0
    summary = summarize([half, full, refused])
    assert summary.key_point_recall == pytest.approx((0.5 + 1 + 0) / 3)
    assert summary.length_kept == 1.0


def test_a_whole_item_needs_points_with_evidence(tmp_path):
    path = tmp_path / "w.jsonl"
    line = {"id": "w", "type": "summary", "question": "Sum up", "points": [["x"]]}
    path.write_text(json.dumps(line) + "\n")
    with pytest.raises(DatasetError, match="needs answers and evidence"):
        load_dataset(path)


# -- the set ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def whole():
    return load_dataset(WHOLE)


def test_the_set_has_twenty_seed_items_and_five_per_news_open_article(whole):
    counts = Counter(i.corpus for i in whole if i.type in WHOLE_TYPES)
    assert counts.pop(None) >= 20
    news = ["nasa-japan-lunar-rover", "canada-document-street", "world-cup-day-five"]
    news.append("homeopathy-manslaughter-trial")
    assert counts == dict.fromkeys(news, 5)
    assert {i.type for i in whole if i.corpus is None} >= set(WHOLE_TYPES)


def test_every_point_is_stated_verbatim_in_its_article(whole):
    texts = {}
    for item in whole:
        if item.corpus not in texts:
            folder = CORPUS_DIR if item.corpus is None else EVAL_DIR / "whole" / "corpora" / item.corpus
            doc = load_corpus(folder).documents[0]
            texts[item.corpus] = [p.text for p in doc.paragraphs] + [doc.caption or ""]
        for point in item.points:
            assert point.evidence, f"{item.id}: a point without evidence"
            for e in point.evidence:
                assert any(e in t for t in texts[item.corpus]), f"{item.id}: {e!r}"


def test_every_item_goes_to_the_path_its_type_names(whole):
    names = {"summary": "summary", "key-points": "key_points", "people": "people", "list": "list",
             "why": "why", "factoid": "fact"}  # fmt: skip
    for item in whole:
        turns = item.turns or (item.question,)
        got = route(turns[-1], [ChatMessage("user", t) for t in turns[:-1]])
        assert got.kind == names[item.type], (item.id, got)
