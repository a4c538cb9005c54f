"""rag.explain: which of the article's sentences a why-question's answer gives, and in what order."""

from __future__ import annotations

import pytest

from rag.evidence import ScoredSentence
from rag.explain import NEAR, choose
from rag.types import Paragraph

OTHER = "It is the carmaker's second recall in two years."
CAUSE = "The carmaker said it would recall 90,000 vans after the regulator found a faulty sensor."
TIMED = "After the recall, the carmaker's shares fell 4 percent."


def scored(*pairs: tuple[str, float]) -> list[ScoredSentence]:
    return [ScoredSentence(Paragraph("doc", n, text), text, score, 0.5, 0.5, None, 0)
            for n, (text, score) in enumerate(pairs, 1)]  # fmt: skip


@pytest.mark.parametrize("causes", [True, False])
def test_a_sentence_stating_a_cause_comes_first(causes):
    chosen = choose(scored((OTHER, 0.9), (CAUSE, 0.8)), None, causes=causes)
    assert [s.text for s, _ in chosen] == ([CAUSE, OTHER] if causes else [OTHER, CAUSE])


def test_a_cause_that_scores_far_below_the_best_is_not_promoted():
    chosen = choose(scored((OTHER, 0.9), (CAUSE, 0.9 * NEAR - 0.01)), None, causes=True)
    assert [s.text for s, _ in chosen] == [OTHER]


def test_a_sentence_opening_with_after_sets_a_time_not_a_cause():
    chosen = choose(scored((OTHER, 0.9), (TIMED, 0.8)), None, causes=True)
    assert [s.text for s, _ in chosen] == [OTHER, TIMED]


@pytest.mark.parametrize(
    "sentence",
    ["Flights were cancelled because of the storm.", "The road closed due to flooding.",
     "The packets are routed individually, resulting in out-of-order delivery.",
     "Talks stalled amid a row over pay.", "The plant shut over concerns about safety.",
     "Party officials blamed the low turnout.", "The firm attributed the loss to weak demand.",
     "The Commission fined Nexora for favouring its own shopping service."],
)  # fmt: skip
def test_the_words_that_state_a_cause(sentence):
    chosen = choose(scored((OTHER, 0.9), (sentence, 0.8)), None, causes=True)
    assert chosen[0][0].text == sentence


@pytest.mark.parametrize("sentence", ["The mayor asked for nothing in return.", "Crews waited for morning."])
def test_for_and_a_word_in_ing_is_not_always_a_cause(sentence):
    chosen = choose(scored((OTHER, 0.9), (sentence, 0.8)), None, causes=True)
    assert chosen[0][0].text == OTHER
