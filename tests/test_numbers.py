"""Number binding (rag.numbers): a reply's amount must be the one the article gives for it."""

from __future__ import annotations

import pytest

from rag.grounding import Grounder, GroundingChecks, SourceMap
from rag.numbers import amounts, swapped_number, unbound_amount
from rag.types import Paragraph

# Written for these tests: two ages and a duration in one story, each bound to its own matter.
STORY = [
    "A six-year-old boy, Tomas, was rescued from the river on Friday after three hours in the water.",
    "Tomas had learned to swim at the age of four years, his father said. The family moved to the "
    "town two years ago.",
    "Rescuers spent 40 minutes searching the bank before a fisherman spotted him.",
]
AGE = "How old was Tomas when he learned to swim?"


def test_amounts_read_a_number_with_its_unit():
    assert amounts("a nine-month-old child") == {("9", "month")}
    assert amounts("after 4,000 troops and twelve percent") == {("4000", "troop"), ("12", "percent")}
    assert amounts("two of the ministers") == set()  # "of" is no unit


def test_a_number_from_another_sentence_is_swapped():
    # "six years" is the boy's age at the rescue; the swimming sentence says four.
    found = swapped_number("Tomas was six years old when he learned to swim.", AGE, STORY)
    assert found.startswith("Tomas had learned to swim at the age of four years")


@pytest.mark.parametrize(
    "reply",
    [
        "Tomas learned to swim at the age of four years.",  # the article's own number
        "Tomas was six years old when he was rescued.",  # bound to the rescue sentence
        "The family moved to the town two years ago.",
        "He learned to swim, and rescuers searched for 40 minutes.",  # two facts, each bound
    ],
)
def test_numbers_bound_to_what_they_describe_are_kept(reply):
    assert swapped_number(reply, AGE, STORY) == ""


def test_a_number_the_question_gives_is_not_judged():
    question = "Did Tomas learn to swim at six years?"
    assert swapped_number("Tomas learned to swim at six years.", question, STORY) == ""


def test_the_grounder_gives_the_article_sentence_instead(embedder):
    sources = SourceMap.build([Paragraph(doc="river", number=i, text=t) for i, t in enumerate(STORY)])
    reply = "Tomas was six years old when he learned to swim [¶1]."
    checked = Grounder(embedder.encode).check(reply, sources, question=AGE)
    assert checked.removed == ("Tomas was six years old when he learned to swim.",)
    assert checked.corrected == 1 and [c.paragraph for c in checked.citations] == [1]
    assert "at the age of four years" in checked.text and checked.text.endswith("[¶1]")
    off = Grounder(embedder.encode, checks=GroundingChecks(numbers=False)).check(reply, sources, question=AGE)
    assert off.corrected == 0 and "six years old" in off.text  # the swap passes the other checks


# Written for these tests: a match report where a minute belongs to one event only.
MATCH = [
    "Early on, Lena Park scored a low shot for the visitors. Ten minutes later the hosts lost their "
    "goalkeeper to injury. The hosts won a free kick in the 31st minute.",
    "After the break, Park was booked. She scored again in the 70th minute from a corner.",
]


def test_an_amount_of_another_matter_is_unbound():
    question = "In which minute did Lena Park score her first goal?"
    reply = "Lena Park scored her first goal in the 31st minute."  # the free kick's minute
    assert unbound_amount(reply, question, MATCH)
    assert swapped_number(reply, question, MATCH) == ""  # and no sentence to give instead


@pytest.mark.parametrize(
    ("reply", "question"),
    [
        ("The hosts won a free kick in the 31st minute.", "When did the hosts win a free kick?"),
        # A pronoun's sentence: the name is in the sentence before it.
        ("Lena Park scored again in the 70th minute.", "When did Lena Park score again?"),
        ("Lena Park scored a low shot.", "What did Lena Park do?"),  # no amount
    ],
)
def test_amounts_of_their_own_matter_are_bound(reply, question):
    assert not unbound_amount(reply, question, MATCH)


def test_the_grounder_removes_an_unbound_amount(embedder):
    sources = SourceMap.build([Paragraph(doc="match", number=i, text=t) for i, t in enumerate(MATCH)])
    question = "In which minute did Lena Park score her first goal?"
    reply = "Lena Park scored her first goal in the 31st minute [¶0]."
    checked = Grounder(embedder.encode).check(reply, sources, question=question)
    assert checked.supported == 0 and checked.removed == (reply.replace(" [¶0]", ""),)
    off = Grounder(embedder.encode, checks=GroundingChecks(numbers=False))
    assert off.check(reply, sources, question=question).supported == 1  # every word is in the article


# -- "How many …?" -----------------------------------------------------------------------------
TRAM = "\n\n".join([
    "City council approves tram line",
    "The city council voted 27 to 21 on Monday to build a new tram line to the western suburbs.",
    "Council member Ursula Degen said the tram would cut through a protected forest and destroy "
    "about 400 trees.",
    "The transport department said it would plant two trees for every one removed.",
])  # fmt: skip


def _scored(*texts: str):
    from rag.evidence import ScoredSentence

    made = [(n, t) for n, t in enumerate(texts, 1)]
    return [ScoredSentence(Paragraph("tram", n, t), t, 1.0, 0.5, 0.5, None, 0) for n, t in made]


@pytest.mark.parametrize(
    ("question", "paragraph"),
    [
        ("How many trees will be destroyed?", 2),
        ("How many trees will be planted for every one removed?", 3),
        ("How many members voted for the line?", None),  # "27 to 21": no number of members
        ("How many trees were destroyed in 2020?", None),  # a year the sentences lack
        ("How many stops will the line have?", None),
        ("What will be destroyed?", None),  # not a "how many" question
    ],
)
def test_the_sentence_giving_the_number_asked_for(question, paragraph):
    from rag.numbers import counted

    sentences = _scored(*TRAM.split("\n\n")[1:])
    found = counted(question, sentences)
    assert (found.paragraph.number if found else None) == paragraph


@pytest.mark.parametrize("switch", [True, False])
def test_the_assistant_quotes_the_number_the_model_did_not_give(story, switch):
    from backend_helpers import ScriptedBackend

    from rag import Assistant
    from rag.assistant import AssistantConfig, Checks
    from rag.numbers import COUNTED_NOTE

    retriever = story(TRAM, "tram")
    checks = Checks() if switch else Checks().without("counted")
    config = AssistantConfig(checks=checks, calibrators={}, second_look=None)
    answer = Assistant(retriever, ScriptedBackend("The article does not say."), config).ask(
        "How many trees will be destroyed?"
    )
    if switch:
        assert not answer.refused and COUNTED_NOTE in answer.notes
        assert "about 400 trees" in answer.text and [c.paragraph for c in answer.citations] == [2]
    else:
        assert answer.refused and answer.decline_reason == "model declined"
