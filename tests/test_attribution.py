"""Who said it: the article's speaker for "who said …?" questions (rag.attribution)."""

from __future__ import annotations

import pytest

from rag.assistant import Assistant
from rag.attribution import asks_speaker, attribute

ALIGNED = "Who said North Korea wants to be seen as aligned with the revisionist powers?"


@pytest.fixture(scope="module")
def bot(retriever) -> Assistant:
    return Assistant(retriever)


def attribution(bot: Assistant, question: str):
    scored = bot.evidence.score(question, bot.retriever.search(question, k=4))
    return bot.attributed(question, scored)


@pytest.mark.parametrize(
    "question",
    [
        "Who said the troops would create a debt?",
        "At the CSIS event, who said the soldiers dying would leave Putin owing them?",
        "Which expert argued that a token force sends a message?",
        "Who warned of a real problem?",
        "who pointed out China's worries",
    ],
)
def test_questions_asking_for_a_speaker(question):
    assert asks_speaker(question)


@pytest.mark.parametrize(
    "question",
    [
        "Who ordered the bases to be ready?",
        "Who is Hong Min?",
        "What did Cha say?",
        "Who confirmed the troops?",
    ],
)
def test_questions_not_asking_for_a_speaker(question):
    assert not asks_speaker(question)


def test_a_quote_paragraph_gets_its_speaker_from_the_paragraph_before(bot):
    found = attribution(bot, ALIGNED)
    assert found is not None
    assert found.name == "Sydney Seiler"
    assert (found.named_in.number, found.statement.number) == (15, 16)
    assert "aligned in this grouping of countries" in found.sentence


def test_the_speaker_named_in_the_same_paragraph(bot):
    found = attribution(bot, "Who said North Korean soldiers dying for Russia would leave Putin owing them?")
    assert found is not None and found.name == "Victor Cha"
    assert found.named_in == found.statement and found.statement.number == 5


@pytest.mark.parametrize(
    "question",
    [
        "Who said Cha was right that dying soldiers leave Putin owing North Korea a lot?",  # names Cha
        "Who said the weather in Seoul was cold this week?",  # nothing in the article
        "Who ordered that all bases be kept ready to strike back at any moment?",  # not a speaker question
    ],
)
def test_no_attribution_when_the_article_does_not_clearly_give_one(bot, question):
    assert attribution(bot, question) is None


def test_no_people_no_attribution(article_doc):
    paragraphs = [(p, 1.0) for p in article_doc.paragraphs]
    assert attribute(ALIGNED, paragraphs, {}, lambda p: None) is None
