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


# Written for these tests: an economy story where one percentage belongs to wages only.
ECONOMY = [
    "The bank decided that wage growth, which remains near 4 percent, was still too strong.",
    "Unemployment has risen for four straight quarters, an economist said.",
]


@pytest.mark.parametrize(
    ("reply", "unbound"),
    [
        ("The unemployment rate is 4 percent.", True),  # no word of it stands by "4 percent"
        ("Wages are growing at about 4 percent.", False),  # "wage" does
        ("It is 4 percent.", False),  # too few words to tell
    ],
)
def test_an_amount_none_of_whose_words_stand_by_it_is_unbound(reply, unbound):
    assert unbound_amount(reply, "What is the figure?", ECONOMY) is unbound


def test_the_grounder_removes_an_unbound_amount(embedder):
    sources = SourceMap.build([Paragraph(doc="match", number=i, text=t) for i, t in enumerate(MATCH)])
    question = "In which minute did Lena Park score her first goal?"
    reply = "Lena Park scored her first goal in the 31st minute [¶0]."
    checked = Grounder(embedder.encode).check(reply, sources, question=question)
    assert checked.supported == 0 and checked.removed == (reply.replace(" [¶0]", ""),)
    off = Grounder(embedder.encode, checks=GroundingChecks(numbers=False))
    assert off.check(reply, sources, question=question).supported == 1  # every word is in the article


@pytest.mark.parametrize(
    ("question", "unit"),
    [("How many trees were felled?", "tree"), ("How many people live with dementia?", "people"),
     ("How many will by 2050?", None), ("How many are there?", None), ("How much did it cost?", None)],
)  # fmt: skip
def test_what_a_how_many_question_counts(question, unit):
    from rag.numbers import counted_thing

    assert counted_thing(question) == unit


def test_a_follow_up_count_is_looked_up_in_the_sentence_giving_it():
    from rag.evidence import ScoredSentence
    from rag.lookup import typed_answer

    text = ("About 55 million people live with dementia, according to the WHO, and the number is "
            "expected to reach 139 million by 2050.")  # fmt: skip
    scored = [ScoredSentence(Paragraph("d", 8, text), text, 1.0, 0.5, 0.5, None, 0)]
    assert typed_answer("How many will by 2050?", scored) is scored[0]
    assert typed_answer("How many will by 2060?", scored) is None  # a year it does not give


# Written for these tests: one sentence counts two things, another counts people, not homes.
STORM = [
    "About 9,000 people were told to leave their homes in the valley on Sunday.",
    "The navy sent 250 sailors and six boats to help, officials said.",
    "Three people have died, including two volunteers whose truck was swept away.",
]


def test_counts_read_each_number_with_the_words_after_it():
    from rag.numbers import _counts

    assert _counts("sent 250 sailors and six boats to help") == [
        ("250", frozenset({"sailor", "and"})), ("6", frozenset({"boat", "to", "help"}))]  # fmt: skip
    assert _counts("1.4 million people, 12.") == [("1.4 million", frozenset({"people"})), ("12", frozenset())]


@pytest.mark.parametrize(
    ("reply", "question", "source"),
    [
        ("250.", "How many boats were sent?", 1),  # 250 counts sailors; the boats are six
        ("The navy sent 250 boats.", "How many boats were sent?", 1),
        ("9,000.", "How many homes were damaged?", 0),  # people were counted, homes not
        ("About 9,000 homes.", "How many homes were damaged?", 0),
        # The article counts what was asked with the reply's number: kept.
        ("Six.", "How many boats were sent?", None),
        ("The navy sent 250 sailors and six boats.", "How many boats were sent?", None),
        ("Three people have died, including two volunteers.", "How many people died?", None),
        ("About 9,000 people.", "How many people were told to leave?", None),
        # Not a count asked for, or no number given beyond the question's: not judged.
        ("The navy sent 250 sailors.", "Who sent sailors?", None),
        ("It sent sailors.", "How many boats were sent?", None),
        ("Nine.", "How many trucks were lost?", None),  # a number the article never states: facts' matter
    ],
)
def test_a_count_not_of_the_thing_asked_gives_the_sentence_stating_it(reply, question, source):
    from rag.numbers import miscounted

    assert miscounted(reply, question, STORM) == ("" if source is None else STORM[source])


def test_the_grounder_shows_the_sentence_for_a_count_of_another_thing(embedder):
    sources = SourceMap.build([Paragraph(doc="storm", number=i, text=t) for i, t in enumerate(STORM)])
    for reply, question, n in [("250 [¶1].", "How many boats were sent?", 1),
                               ("9,000 [¶0].", "How many homes were damaged?", 0)]:  # fmt: skip
        checked = Grounder(embedder.encode).check(reply, sources, question=question)
        assert checked.corrected == 1 and checked.text == f"{STORM[n]} [¶{n}]"
        off = Grounder(embedder.encode, checks=GroundingChecks(counts=False))
        off = off.check(reply, sources, question=question)
        assert off.corrected == 0 and off.text == reply.replace(" [", ". [").rstrip(".")


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("How many boats were sent?", True),
        ("So how much money did the town get?", True),
        ("How much did the flood hurt the harvest?", False),  # how far, not how much of a thing
        ("How much was the company fined?", True),  # a verb of money
        ("How much did the new bridge cost?", True),
        ("How much had the price of bread risen by May?", True),  # a verb of measure
        ("Who said the storm showed how much the levees matter?", False),  # a person is asked for
        ("When did the navy send boats?", False),
    ],
)
def test_what_asks_for_an_amount(question, asks):
    from rag.numbers import asks_amount

    assert asks_amount(question) is asks


@pytest.mark.parametrize(
    ("reply", "question", "none"),
    [
        ("The town got money from the national flood fund.", "How much money did the town get?", True),
        ("The navy sent boats to help.", "How many boats were sent?", True),
        ("Three people died in 2024.", "How many people died in 2024?", False),
        ("The town got 2 million euros.", "How much money did the town get?", False),
        ("No one was hurt.", "How many people were hurt?", False),  # "no one": an amount
        ("Several boats were sent.", "How many boats were sent?", False),
        ("The price of bread doubled.", "How much did the price of bread rise?", False),
        ("The navy sent boats.", "Who sent boats?", False),
        ("The flood hurt the harvest badly.", "How much did the flood hurt the harvest?", False),
    ],
)
def test_a_reply_giving_no_amount_for_how_many(reply, question, none):
    from rag.numbers import gives_no_amount

    assert gives_no_amount([reply], question) is none


def test_the_grounder_removes_a_reply_without_the_amount_asked_for(embedder):
    sources = SourceMap.build([Paragraph(doc="storm", number=i, text=t) for i, t in enumerate(STORM)])
    reply = "The navy sent sailors and boats to help [¶1]."
    question = "How many volunteers did the navy send?"
    checked = Grounder(embedder.encode).check(reply, sources, question=question)
    assert checked.supported == 0 and checked.text == "" and checked.removed == (reply.replace(" [¶1]", ""),)
    off = Grounder(embedder.encode, checks=GroundingChecks(amounts=False))
    kept = off.check(reply, sources, question=question)
    assert kept.supported == 1 and kept.text.startswith("The navy sent sailors and boats to help")
    six = "The navy sent six boats [¶1]."
    counted = Grounder(embedder.encode).check(six, sources, question="How many boats?")
    assert counted.supported == 1


@pytest.mark.parametrize(
    ("reply", "none"),
    [
        ("The housing plan will cost 2,000 units of affordable housing by 2030.", True),  # no money
        ("It was paid for in 2020.", True),  # a year
        ("The plan will cost $40 million.", False),
        ("The plan will cost 40 million.", False),  # a sum without its currency may be money
        ("It costs 300 euros a year.", False),
        ("The plan costs nothing.", False),
        ("It cost 1 million won.", False),
    ],
)
def test_a_reply_giving_no_sum_of_money_for_how_much_it_costs(reply, none):
    from rag.numbers import gives_no_amount

    assert gives_no_amount([reply], "How much will the housing plan cost?") is none
    assert gives_no_amount(["The lab received 5 grants."], "How much funding did the lab receive?")
    assert not gives_no_amount(["Prices rose by 4 percent."], "How much did prices rise?")  # no money asked
