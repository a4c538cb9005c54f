"""The router (rag.router): whole-article requests and questions about the article itself
(its author, date, publisher, headline) go to their paths, single facts stay.

Checked on whole-article questions written for it (tests/data/router_questions.jsonl, with
look-alike single-fact questions), and on every question of the dev set, news-open and the
outside benchmark, which ask for single facts: none of those may be sent away, except the dev
set's two that ask for a list of people and for the experts' reasons.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from conftest import DATA, EVAL_DIR, eval_items

from rag.router import FACT, PEOPLE, WHY, Length, parse_length, route
from rag.types import ChatMessage

NEWS_OPEN = EVAL_DIR / "news-open" / "qa.jsonl"
SQUAD = EVAL_DIR / "squad2-open"


def _written() -> list[dict]:
    lines = (DATA / "router_questions.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _history(turns) -> list[ChatMessage]:
    return [ChatMessage("user", t) for t in turns]


def _items(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def _route_of(item: dict):
    turns = item.get("turns") or [item["question"]]
    return route(turns[-1], _history(turns[:-1]))


@pytest.mark.parametrize("item", _written(), ids=lambda d: d["question"][:50])
def test_whole_article_questions_and_look_alikes_go_where_they_belong(item):
    got = route(item["question"], _history(item.get("history", [])))
    assert got.kind == item["route"], got
    assert got.followup == item.get("followup", False)
    if "subject" in item:
        assert got.subject == item["subject"]
    for key, value in item.get("length", {}).items():
        assert getattr(got.length, key) == value, got.length


def test_the_written_set_covers_every_route_and_many_single_facts():
    kinds = Counter(d["route"] for d in _written())
    assert set(kinds) == {"summary", "key_points", "people", "list", "why", "about", "fact"}
    assert min(kinds.values()) >= 8 and kinds["fact"] >= 20


def test_no_dev_question_is_sent_away_but_the_list_of_experts_and_their_reasons():
    away = {item["question"]: _route_of(item).kind for item in eval_items() if _route_of(item).kind != FACT}
    assert away == {
        "Name all the outside experts quoted in the article.": PEOPLE,
        "Why, according to the experts, would confirmed North Korean participation in the war make China "
        "uneasy?": WHY,
    }


def test_no_news_open_question_is_sent_away():
    if not NEWS_OPEN.is_file():
        pytest.skip("eval/news-open is not in this checkout")
    assert all(_route_of(item).kind == FACT for item in _items(NEWS_OPEN))


@pytest.mark.parametrize("name", ["qa-200.jsonl", "qa-train.jsonl"])
def test_crowd_questions_leave_the_fact_path_only_when_they_ask_why_or_how(name):
    items = _items(SQUAD / name)
    away = [(item["question"], _route_of(item).kind) for item in items if _route_of(item).kind != FACT]
    assert all(kind == WHY for _, kind in away), away
    starts = ("why", "how", "what caused", "what would", "what might", "what could")
    assert all(q.lower().startswith(starts) for q, _ in away), away
    assert len(away) <= 0.1 * len(items)


@pytest.mark.parametrize(
    ("question", "length"),
    [
        ("Summarize the article in three sentences.", Length(sentences=3)),
        ("Summarise it in 50 words", Length(words=50)),
        ("5 key points", Length(count=5, bullets=True)),
        ("Key points as a bulleted list", Length(bullets=True)),
        ("Give me the gist in one sentence", Length(sentences=1)),
        ("Summary in two bullet points, under 40 words", Length(words=40, count=2, bullets=True)),
        ("Summarize the article", Length()),
    ],
)
def test_length_requests_are_read_exactly(question, length):
    assert parse_length(question) == length


def test_which_of_them_goes_to_the_people_only_right_after_a_list_of_people():
    people = _history(["Who is quoted?"])
    assert route("Which of them is a woman?", people).followup
    later = _history(["Who is quoted?", "When did Putin visit Pyongyang?"])
    assert route("Which of them is a woman?", later).kind == FACT
