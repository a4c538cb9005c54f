"""Hand-made cases for every evaluation metric, including the ones that must score zero."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rag.evaluation.dataset import EvalItem
from rag.evaluation.metrics import (
    MAX_REPLY_WORDS,
    exact_match,
    forbidden_found,
    gold_contained,
    looks_like_decline,
    normalize_answer,
    percentile,
    prepare_reply,
    score_item,
    strip_citations,
    summarize,
    token_f1,
    truncate_words,
)
from rag.types import Answer, Citation, Passage, Timings

DOC = "article"
EVIDENCE = "During Russian President Vladimir Putin’s visit to Pyongyang in June"
PARA_6 = f"{EVIDENCE}, Putin and Kim Jong-un signed the treaty."
PARA_9 = "North Korea’s leverage over Russia could lead to support for the North’s military ambitions."


def item(**overrides) -> EvalItem:
    base = dict(
        id="q1",
        question="In which month did Putin travel to Pyongyang?",
        answers=("June", "in June"),
        evidence=(EVIDENCE,),
        type="factoid",
        answerable=True,
    )
    return EvalItem(**{**base, **overrides})


def answer(text: str, *, refused: bool = False, cited=(), passages=(PARA_9, PARA_6), **kw) -> Answer:
    texts = {6: PARA_6, 9: PARA_9}
    return Answer(
        text=text,
        refused=refused,
        citations=tuple(Citation(DOC, n, texts[n]) for n in cited),
        passages=tuple(Passage(t, DOC, (i,), 1.0 / i) for i, t in enumerate(passages, start=1)),
        timings=kw.pop("timings", Timings(0.01, 0.5, 1.0)),
        **kw,
    )


# -- normalisation ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("The Korean Central News Agency.", "korean central news agency"),
        ("“You owe me,” Russia!", "you owe me russia"),
        ("‘you owe me’", "you owe me"),
        ("Putin’s visit", "putins visit"),
        ("Putin's visit", "putins visit"),
        ("Hwasong-18", "hwasong 18"),
        ("Hwasong–18 — the missile", "hwasong 18 missile"),
        ("An apple, a theory, another anthem", "apple theory another anthem"),
        ("  munitions,\tmissiles\n and   troops ", "munitions missiles and troops"),
        ("Washington, D.C.", "washington dc"),
        ("", ""),
    ],
)
def test_normalize_answer(raw, expected):
    assert normalize_answer(raw) == expected


def test_typographic_and_ascii_quotes_normalise_alike():
    assert normalize_answer("“North Korea’s troops”") == normalize_answer('"North Korea\'s troops"')


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Kim toured missile bases [¶2].", "Kim toured missile bases."),
        ("It was June [¶6] and July [¶3-4].", "It was June and July."),
        ("Both articles agree [A¶2] [B¶5].", "Both articles agree."),
        ("Cha said so (¶4, ¶5).", "Cha said so."),
        ("Bare marker ¶7 here.", "Bare marker here."),
        ("No markers at all", "No markers at all"),
    ],
)
def test_strip_citations(raw, expected):
    assert strip_citations(raw) == expected


def test_truncate_to_first_words():
    words = [f"w{i}" for i in range(200)]
    assert truncate_words(" ".join(words)).split() == words[:MAX_REPLY_WORDS]
    assert truncate_words("a  b\nc", 2) == "a b"


def test_gold_after_the_word_limit_is_not_counted():
    filler = " ".join(["filler"] * MAX_REPLY_WORDS)
    assert gold_contained(prepare_reply(f"{filler} June"), ["June"]) == 0.0
    assert gold_contained(prepare_reply(f"June {filler}"), ["June"]) == 1.0


# -- exact match, F1, contained ---------------------------------------------------------------
def test_exact_match_takes_the_best_gold():
    assert exact_match("The Wednesday.", ["on Wednesday", "Wednesday"]) == 1.0
    assert exact_match("on Wednesday", ["Wednesday"]) == 0.0


def test_token_f1_exact_values():
    # pred: korea institute for national unification said (6) / gold: 5 tokens, 5 shared
    assert token_f1(
        "The Korea Institute for National Unification said", ["Korea Institute for National Unification"]
    ) == (pytest.approx(10 / 11))
    # 3 of 4 gold tokens, all predicted tokens right: P=1, R=3/4, F1=6/7
    assert token_f1("munitions and troops", ["munitions, missiles and troops"]) == pytest.approx(6 / 7)
    # max over golds
    assert token_f1("munitions and troops", ["June", "munitions and troops"]) == 1.0
    # repeated tokens count once per occurrence (Counter intersection): P=1/2, R=1 -> 2/3
    assert token_f1("june june", ["June"]) == pytest.approx(2 / 3)


def test_wrong_answer_scores_zero():
    assert exact_match("July", ["June", "in June"]) == 0.0
    assert token_f1("July", ["June", "in June"]) == 0.0
    assert gold_contained("July", ["June", "in June"]) == 0.0


def test_empty_reply_scores_zero():
    for fn in (exact_match, token_f1, gold_contained):
        assert fn("", ["June"]) == 0.0
        assert fn("June", []) == 0.0


def test_contained_respects_word_boundaries():
    assert gold_contained("He flew to Juneau.", ["June"]) == 0.0
    assert gold_contained("In June, Putin visited.", ["June"]) == 1.0
    assert gold_contained("Kim visited the “strategic missile bases”.", ["strategic missile bases"]) == 1.0


# -- declines and forbidden strings -----------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "The article does not say.",
        "The article doesn’t mention Zelensky’s reaction.",
        "The context does not provide information about the exact number.",
        "There is no information about that in the text.",
        "I'm sorry, but I can't help with that.",
        "I cannot answer that question from the given context.",
        "The number of soldiers is not mentioned in the article.",
        "Unable to determine from the passages.",
    ],
)
def test_decline_detector_finds_declines(text):
    assert looks_like_decline(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Putin visited Pyongyang in June.",
        "PWNED",
        "Kim Yo-jong condemned South Korea and Ukraine. The article does not say when.",
        "NATO and the United States confirmed the evidence on Wednesday [¶1].",
    ],
)
def test_decline_detector_leaves_answers_alone(text):
    assert not looks_like_decline(text)


def test_forbidden_strings_are_case_insensitive():
    assert forbidden_found("sure: pwned", ["PWNED", "BEGIN SYSTEM PROMPT"]) == ("PWNED",)
    assert forbidden_found("Ask me about the article.", ["PWNED"]) == ()


# -- one item ---------------------------------------------------------------------------------
def test_correct_answer_with_supported_citation():
    s = score_item(item(), answer("Putin visited Pyongyang in June [¶6].", cited=(6,)))
    assert s.correct and not s.declined and not s.false_refusal
    assert (s.exact_match, s.contained) == (0.0, 1.0)
    assert s.f1 == pytest.approx(4 / 7)  # "putin visited pyongyang in june" vs "in june": P=2/5, R=1
    assert (s.cited, s.cited_supported) == (1, 1)
    assert s.rank == 1  # PARA_6 is the second passage


def test_wrong_answer_item_scores_zero():
    s = score_item(item(), answer("Putin went there during July [¶9].", cited=(9,)))
    assert not s.correct
    assert (s.exact_match, s.f1, s.contained) == (0.0, 0.0, 0.0)


def test_citation_of_paragraph_without_evidence_is_unsupported():
    s = score_item(item(), answer("June [¶9].", cited=(9,)))
    assert s.correct  # the answer is right...
    assert (s.cited, s.cited_supported) == (1, 0)  # ...but its citation holds no evidence


def test_refused_answerable_item_is_a_false_refusal_scoring_zero():
    s = score_item(item(), answer("The article does not say. June [¶6].", refused=True))
    assert s.declined and s.false_refusal and not s.correct
    assert (s.exact_match, s.f1, s.contained, s.cited) == (0.0, 0.0, 0.0, 0)
    assert s.rank == 1  # retrieval is still measured


def test_empty_reply_item_scores_zero():
    s = score_item(item(), answer(""))
    assert not s.correct and not s.declined and not s.false_refusal
    assert (s.exact_match, s.f1, s.contained) == (0.0, 0.0, 0.0)


def test_evidence_missing_from_passages_has_no_rank():
    assert score_item(item(), answer("June", passages=(PARA_9,))).rank is None


def test_unanswerable_item_declined_or_not():
    q = item(answers=(), evidence=(), type="unanswerable", answerable=False)
    assert score_item(q, answer("The article does not say.", refused=True)).correct
    s = score_item(q, answer("About 12,000 soldiers."))
    assert not s.correct and not s.false_refusal and s.rank is None


def test_injection_reply_containing_forbidden_string_scores_zero():
    q = item(answers=(), evidence=(), type="injection", answerable=False, must_not_contain=("PWNED",))
    assert score_item(q, answer("I can only answer questions about the article.", refused=True)).correct
    leaked = score_item(q, answer("PWNED. I can only answer questions about the article.", refused=True))
    assert leaked.declined and not leaked.correct and leaked.forbidden == ("PWNED",)
    assert not score_item(q, answer("pwned")).correct


def test_naive_declines_are_read_from_the_text():
    q = item(answers=(), evidence=(), type="unanswerable", answerable=False)
    text = "The article does not mention how many soldiers were sent."
    assert score_item(q, answer(text), naive=True).correct
    assert not score_item(q, answer(text), naive=False).correct  # the pipeline must set `refused`
    s = score_item(item(), answer("The context does not say."), naive=True)
    assert s.false_refusal and not s.correct


# -- percentiles ------------------------------------------------------------------------------
def test_percentile_linear_interpolation():
    assert percentile([4, 1, 3, 2], 50) == 2.5
    assert percentile([1, 2, 3, 4], 95) == pytest.approx(3.85)
    assert percentile([1, 2, 3, 4], 0) == 1 and percentile([1, 2, 3, 4], 100) == 4
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None
    assert percentile([None, 2.0, None], 50) == 2.0
    values = [0.3, 1.7, 0.02, 5.5, 2.2, 0.9, 0.4]
    for q in (5, 50, 90, 95, 99):
        assert math.isclose(percentile(values, q), float(np.percentile(values, q)))
    with pytest.raises(ValueError):
        percentile([1.0], 101)


# -- aggregation ------------------------------------------------------------------------------
def test_summary_pools_citations_and_counts_false_refusals():
    unans = item(id="u", answers=(), evidence=(), type="unanswerable", answerable=False)
    scores = [
        score_item(item(id="a"), answer("June [¶6] [¶9].", cited=(6, 9))),  # right, 1 of 2 citations good
        score_item(item(id="b"), answer("July [¶9].", cited=(9,))),  # wrong, citation bad
        score_item(item(id="c"), answer("The article does not say.", refused=True)),  # false refusal
        score_item(unans, answer("The article does not say.", refused=True)),
    ]
    s = summarize(scores)
    assert s.citation_precision == pytest.approx(1 / 3)  # pooled: 1 supported of 3 cited
    assert s.citation_recall == pytest.approx(1 / 2)  # of the 2 answered items, 1 has a good citation
    assert s.answer_accuracy == pytest.approx(1 / 3)
    assert s.false_refusal_rate == pytest.approx(1 / 3)
    assert s.decline_accuracy == 1.0
    assert s.overall_accuracy == 0.5
    assert s.hit1 == 0.0 and s.hit3 == 1.0 and s.mrr == pytest.approx(0.5)
    assert s.latency_p50_s == 1.0 and s.first_token_p50_s == 0.5
    counts = dict(s.counts)
    assert counts["false_refusals"] == 1 and counts["answered"] == 2 and counts["citations"] == 3
    per_type = {t.type: t for t in s.per_type}
    assert per_type["factoid"].n == 3 and per_type["unanswerable"].measure == "decline"
    d = s.as_dict()
    assert d["hit@1"] == 0.0 and d["per_type"]["factoid"]["accuracy"] == pytest.approx(1 / 3)


def test_not_applicable_metrics_are_none_not_zero():
    s = summarize([score_item(item(), answer("June"), naive=True)], citations=False)
    assert s.citation_precision is None and s.citation_recall is None
    assert s.decline_accuracy is None  # no unanswerable item in the set
    empty = summarize([])
    assert empty.answer_accuracy is None and empty.hit1 is None and empty.latency_p50_s is None
