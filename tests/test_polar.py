"""Yes/no questions the article answers "no" to (rag.polar), on sentences written for the test."""

from __future__ import annotations

import pytest

from rag.affirmed import proposition
from rag.evidence import ScoredSentence
from rag.polar import answer_no
from rag.types import Paragraph

SUBSIDIES = (
    "Economy Minister Dirk Beljaarts welcomed the deal but said the government would not offer "
    "subsidies for retraining."
)
ASKED = "Did the government offer subsidies for retraining?"
TREATY = "North Korea is not recognized as a nuclear-weapon state under the Nuclear Non-Proliferation Treaty."
BONUS = "The deal gives roughly 9,000 workers a one-time bonus of 1,200 euros."
CHILDREN = (
    "People over 75 made up half of the extra admissions, while children under five showed no "
    "significant increase."
)


def scored(*texts: str) -> list[ScoredSentence]:
    return [ScoredSentence(Paragraph("doc", n, t), t, 1.0, 0.5, 0.5, None, 0) for n, t in enumerate(texts, 1)]


@pytest.mark.parametrize(
    ("question", "claim"),
    [
        (ASKED, "the government offer subsidies for retraining"),
        ("And was the strike the first since 2002?", "the strike the first since 2002"),
        ("Who offered subsidies?", None),  # not a yes/no question
        ("Didn't the government offer subsidies?", None),  # negated: its "no" is ambiguous
        ("Is it?", None),
        ("", None),
    ],
)
def test_proposition(question, claim):
    assert proposition(question) == claim


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        (ASKED, SUBSIDIES),
        ("Is North Korea recognized as a nuclear-weapon state under the NPT?", TREATY),  # the acronym
        ("Did the government offer loans for retraining?", None),  # another matter: three of four words
        ("Did the government offer subsidies for retraining in 2020?", None),  # a number the article lacks
        ("Did Minister Hoekstra offer subsidies for retraining?", None),  # a name it lacks
        ("Did the workers get a one-time bonus of 1,200 euros?", None),  # said as asked: no "yes" inferred
        ("Did children under five show an increase?", CHILDREN),  # "no" two words before "increase"
        ("Did people over 75 make up half of the extra admissions?", None),  # the clause that says yes
    ],
)
def test_answer_no(question, answer):
    found = answer_no(question, scored(BONUS, SUBSIDIES, TREATY, CHILDREN))
    assert (found.text if found else None) == answer


def test_only_the_first_sentences_are_read():
    assert answer_no(ASKED, scored(BONUS, SUBSIDIES), limit=1) is None


# -- the opposite word ---------------------------------------------------------------------------
BUDGET = (
    "The budget raises spending on hospitals by 8 percent and on schools by 5 percent, and cuts "
    "the defence budget for the first time in a decade."
)
VOTE = "The council rejected the harbour plan by 21 votes to 9."


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Did the budget raise the defence budget?", BUDGET),  # "cuts the defence budget"
        ("Did the council approve the harbour plan?", VOTE),
        ("Did the council accept the plan?", VOTE),  # "rejected the harbour plan": modifiers between
        ("Did the budget raise spending on hospitals?", None),  # said as asked
        # "raises spending" and "cuts the defence budget" both stand: undecided, left to the model.
        ("Did the budget cut spending on schools?", None),
        ("Did the council approve the ferry plan?", None),  # another plan: a near miss
    ],
)
def test_a_sentence_saying_the_opposite_word_answers_no(question, answer):
    found = answer_no(question, scored(BUDGET, VOTE))
    assert (found.text if found else None) == answer
    assert answer_no(question, scored(BUDGET, VOTE), opposites=False) is None  # the switch


RATES = "WELLINGTON — The central bank kept its benchmark interest rate at 4.25 percent on Wednesday."
HOLD = "The ship still has part of its cargo of barrels in the hold, according to the museum."


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Did the bank cut rates?", RATES),  # a rate kept is a rate neither cut nor raised
        ("Did the central bank raise its interest rate?", RATES),
        ("Did the bank keep its rate?", None),  # said as asked
        ("Did the bank cut its staff?", None),  # the rate was kept, not the staff
        ("Did the museum raise the ship?", None),  # "in the hold": a noun, no opposite
    ],
)
def test_a_rate_kept_answers_no_to_a_cut_or_a_rise(question, answer):
    found = answer_no(question, scored(RATES, HOLD))
    assert (found.text if found else None) == answer


PLANT = "Lumora will keep its camera sensor plant in Kumamoto, which it called its main growth engine."
CENTRE = "A design centre in Taipei will close by the end of June."


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Will Lumora close the Kumamoto plant?", PLANT),  # kept: neither closed nor sold
        ("Will Lumora sell its camera sensor plant in Kumamoto?", PLANT),
        ("Will Lumora keep the Kumamoto plant?", None),  # said as asked
        ("Will the design centre in Taipei close?", None),
    ],
)
def test_a_plant_kept_answers_no_to_closing_or_selling_it(question, answer):
    found = answer_no(question, scored(CENTRE, PLANT))
    assert (found.text if found else None) == answer


DIVIDEND = "It kept its dividend unchanged at 40 yen a share."
FORECAST = "The company lowered its forecast for full-year operating profit to 70 billion yen."
RIVAL = "Rival Sanwa kept its dividend unchanged."
DIVIDEND_JAPAN = "In Japan it kept its dividend unchanged."


@pytest.mark.parametrize(
    ("question", "texts", "answer"),
    [
        ("Did Lumora cut its dividend?", (DIVIDEND,), DIVIDEND),
        ("Did Lumora raise its profit forecast?", (FORECAST,), FORECAST),
        ("Did Daiwa cut its dividend?", (DIVIDEND,), None),  # not the headline's subject
        ("Did Lumora cut its dividend?", (RIVAL,), None),  # a sentence naming another firm
        ("Did Lumora cut its dividend in Japan?", (DIVIDEND_JAPAN,), DIVIDEND_JAPAN),  # names what is asked
    ],
)
def test_a_sentence_naming_nobody_is_about_the_headline_subject(question, texts, answer):
    def subject(doc: str) -> str:
        return "Lumora"

    found = answer_no(question, scored(*texts), subject=subject)
    assert (found.text if found else None) == answer
    assert answer_no(question, scored(*texts)) is None  # without it, "Lumora" stands nowhere


SECOND = "The recall is the carmaker's second this year, after a battery fault in January."


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Is this the carmaker's first recall this year?", SECOND),  # an ordinal says no other
        ("Is it the carmaker's third recall this year?", SECOND),
        ("Is this the carmaker's second recall this year?", None),  # said as asked
        ("Is this the carmaker's first recall of the decade?", None),  # another span: a near miss
    ],
)
def test_another_ordinal_answers_no(question, answer):
    found = answer_no(question, scored(SECOND, VOTE))
    assert (found.text if found else None) == answer
    assert answer_no(question, scored(SECOND, VOTE), opposites=False) is None


def test_opposites_are_pairs_either_way():
    from rag.opposites import OPPOSITES
    from rag.text import content_words

    for one, other in [("raise", "cut"), ("approve", "reject"), ("won", "lost"), ("rose", "fell")]:
        (a,), (b,) = content_words(one), content_words(other)
        assert b in OPPOSITES[a] and a in OPPOSITES[b]


# -- a passive and a prefix ----------------------------------------------------------------------
PASSED = "The ferry plan was approved late on Sunday by 30 of the 41 members who voted, the council said."
COSTLY = "The operator had said the night service was unprofitable and could close the route."


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Did the members reject the ferry plan?", PASSED),  # "was approved": the plan before the verb
        ("Did the council approve the ferry plan?", None),  # said as asked
        ("Did the operator call the night service profitable?", COSTLY),  # "unprofitable"
        ("Did the operator call the night service unprofitable?", None),  # said as asked
    ],
)
def test_a_passive_opposite_and_a_prefix_answer_no(question, answer):
    found = answer_no(question, scored(PASSED, COSTLY))
    assert (found.text if found else None) == answer


def test_the_prefix_has_a_switch():
    asked = "Did the operator call the night service profitable?"
    assert answer_no(asked, scored(COSTLY), prefixed=False) is None


INJURIES = "No injuries have been linked to the fault, the spokesperson said."


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Has anyone been injured?", INJURIES),  # "injuries" for "injured"; "anyone" asks nothing
        ("Was anybody injured by the fault?", INJURIES),
        ("Has anyone been arrested?", None),  # another matter
        ("Has anyone been injured in the 2021 crash?", None),  # a number the article lacks
    ],
)
def test_a_word_in_another_form_and_an_indefinite_pronoun(question, answer):
    found = answer_no(question, scored(BONUS, INJURIES))
    assert (found.text if found else None) == answer


def test_the_subject_a_paragraph_stands_for_unnamed():
    from rag.polar import implied_subject

    paragraph = Paragraph("lumora", 6, f"{FORECAST} {RIVAL}")
    # The sentence stating the claim names nobody: it is about the headline's Lumora.
    claim = "Lumora lowered its profit forecast"
    assert implied_subject(paragraph, claim, "Did Lumora?", "Lumora") == "Lumora"
    # The sentence stating this claim names another firm.
    assert implied_subject(paragraph, "Lumora kept its dividend unchanged", "Did Lumora?", "Lumora") == ""


# Written for this test: a match report whose headline names the winner, and a coach of the loser
# who says "his team".
MATCH = "\n\n".join([
    "Riverton stun champions with late winner",
    "Riverton beat league champions Castlebury 2-1 on Saturday with a goal in the 89th minute.",
    "Castlebury coach Dieter Brandt blamed the pitch. “You cannot play football on a surface like "
    "that,” he said, adding that his team would not appeal the late goal.",
])  # fmt: skip


@pytest.mark.parametrize(("switch", "question", "no"), [
    (True, "Will Castlebury appeal the late goal?", True),  # "his team": the coach's, Castlebury
    (True, "Will Riverton appeal the late goal?", False),  # not the headline's Riverton
    (False, "Will Castlebury appeal the late goal?", False),  # article_subject off: "Castlebury" nowhere
])  # fmt: skip
def test_a_speakers_his_team_is_the_side_his_description_names(story, switch, question, no):
    from backend_helpers import ScriptedBackend

    from rag import Assistant
    from rag.assistant import AssistantConfig, Checks

    checks = Checks() if switch else Checks().without("article_subject")
    config = AssistantConfig(checks=checks, calibrators={}, second_look=None)
    bot = Assistant(story(MATCH, "match"), ScriptedBackend("The article does not say."), config)
    answer = bot.ask(question)
    assert answer.text.startswith("No:") is no, answer.text


# -- another amount ------------------------------------------------------------------------------
HIRES = "Harlan, who led the police for nine years, promised to hire 60 additional officers."
TURNOUT = "Turnout reached 46 percent, the highest since 1998, the elections office said."


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Did Harlan promise to hire 80 officers?", HIRES),  # the unit three words on
        ("Did Harlan promise to hire 60 officers?", None),  # said as asked
        ("Did turnout reach 50 percent?", TURNOUT),
        ("Did the deal give workers a bonus of 1,500 euros?", BONUS),
        ("Did the deal give 12,000 workers a one-time bonus?", BONUS),
        ("Did Harlan promise to hire 80 teachers?", None),  # another thing counted: no "no"
        ("Did Okafor promise to hire 80 officers?", None),  # another person
    ],
)
def test_a_sentence_giving_another_amount_says_no(question, answer):
    found = answer_no(question, scored(HIRES, TURNOUT, BONUS))
    assert (found.text if found else None) == answer
    assert answer_no(question, scored(HIRES, TURNOUT, BONUS), amounts=False) is None
