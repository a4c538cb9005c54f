"""A "yes" the article states, and one it does not (rag.affirmed), on sentences written for the test."""

from __future__ import annotations

import pytest

from rag.affirmed import stated_in, unheld_words
from rag.grounding import Grounder, GroundingChecks, SourceMap
from rag.negation import negated_words, prefix_negated
from rag.types import Paragraph

# A story written for these tests: a ferry line, its operator and the town council.
FERRY = (
    "The town council voted on Tuesday to keep the night ferry running through the winter.",
    "The operator, Nordlys Shipping, had called the service unprofitable and said it could close "
    "the route. Its chief, Ida Brenna, offered to meet the council before the vote.",
    "The harbour office stayed open during the storm, the council said.",
    "The old vessel sank near the pier in 1998, and a new boat was bought.",
)


def _paragraphs(*texts: str) -> SourceMap:
    return SourceMap.build([Paragraph("ferry", i, t) for i, t in enumerate(texts, start=1)])


@pytest.mark.parametrize(
    ("word", "stems"),
    [
        ("unprofitable", {"profit"}), ("non-binding", {"bind"}), ("illegal", {"legal"}),
        ("inaccurate", {"accur"}), ("irregular", {"regular"}),
        # Words that only look prefixed are no negation.
        ("increase", set()), ("impress", set()), ("install", set()), ("income", set()), ("union", set()),
    ],
)  # fmt: skip
def test_a_word_negated_by_its_prefix(word, stems):
    assert prefix_negated(word) == stems
    assert negated_words(f"It was {word}.", prefixed=True) >= stems
    assert not negated_words(f"It was {word}.") & {"profit", "bind", "legal"}  # only when asked


@pytest.mark.parametrize(
    ("statement", "cited", "missing"),
    [
        # What is said of the subject must stand in the cited paragraph, by lemma ("sank": sink).
        ("the old vessel sink in 1998", [FERRY[3]], []),
        ("the harbour office closed during the storm", [FERRY[2]], ["closed"]),  # it "stayed open"
        ("the operator call the service profitable", [FERRY[1]], ["profitable"]),  # "unprofitable"
        ("the council like the ferry", [FERRY[0]], ["like"]),
        ("the ship sink in 1998", [FERRY[3]], []),  # a noun may be named around: "vessel", "boat"
        ("the ferry sink in 2005", [FERRY[3]], ["2005"]),
        # What was only offered did not happen: "offered to meet" holds no "meet".
        ("Ida Brenna meet the council", [FERRY[1]], ["meet"]),
        ("Ida Brenna offer to meet the council", [FERRY[1]], []),
        # An adverb may be said otherwise ("immediately": "the same day"); it is not asked for.
        ("the council vote immediately", ["The council voted the same day."], []),
    ],
)
def test_unheld_words(statement, cited, missing, embedder):
    around = [*FERRY, "The ship was the town's first ferry."]
    assert unheld_words(statement, cited, embedder.encode, context=around) == missing


def test_the_things_a_yes_is_asked_about_must_be_cited_not_only_named_around(embedder):
    # The subject may be named around ("the ship": the vessel of another paragraph); what the
    # question asks it did, and to what, must stand in the cited paragraph: ¶0 keeps the ferry
    # running, the boat is bought in ¶3.
    statement = "Did the council keep the boat running?"
    assert unheld_words(statement, [FERRY[0]], embedder.encode, context=FERRY) == ["boat"]
    assert unheld_words(statement, [FERRY[0]], embedder.encode, context=FERRY, objects=False) == []
    assert unheld_words("Did the ship sink in 1998?", [FERRY[3]], embedder.encode, context=FERRY) == []
    # A name may be named around.
    assert unheld_words("Was Ida Brenna at the vote?", [FERRY[0]], context=FERRY) == []


def test_another_any_and_some_ask_only_whether_there_is_one():
    cited = ["Ferreira said a second team in Japan would observe the planet in May."]
    assert unheld_words("Will another team observe the planet?", cited) == []
    assert unheld_words("Will any team observe the planet?", cited) == []
    assert unheld_words("Will another team observe the star?", cited) == ["star"]


def test_a_word_of_the_same_meaning_holds_it_but_never_its_opposite(embedder):
    # "closed" and "open" are close as vectors (0.7 alone): never one word.
    assert unheld_words("the office closed", ["The office stayed open."], embedder.encode) == ["closed"]
    assert unheld_words("the office closed", ["The office stayed open."]) == ["closed"]
    assert unheld_words("the talks took place", ["The talk took place."], embedder.encode) == []


@pytest.mark.parametrize(
    ("claim", "stated"),
    [
        ("the council voted to keep the night ferry", FERRY[0]),
        ("the council kept the night ferry running", ""),  # not in the claim's order and words
        ("the operator offered to meet the council", ""),  # "Its chief" offered, two words apart
        ("Ida Brenna offered to meet the council", FERRY[1].split(". ")[1]),
        ("the council voted to close the night ferry", ""),
    ],
)
def test_stated_in(claim, stated):
    assert stated_in(claim, FERRY) == stated


def test_a_negated_or_opposite_sentence_states_no_yes():
    assert stated_in("the council approved the plan", ["The council never approved the plan."]) == ""
    both = "The council approved, then rejected, the plan."
    assert stated_in("the council approved the plan", [both]) == ""


@pytest.fixture(scope="module")
def grounder(embedder) -> Grounder:
    return Grounder(embedder.encode)


def test_a_yes_to_words_the_cited_paragraph_lacks_is_removed(grounder, embedder):
    sources = _paragraphs(*FERRY)
    question = "Was the harbour office closed during the storm?"
    reply = "Yes, the harbour office closed during the storm, the council said [¶3]."
    # "open" is the opposite of "closed": the article's own sentence stands instead (``opposed``).
    checked = grounder.check(reply, sources, question=question)
    stayed = "No: The harbour office stayed open during the storm, the council said. [¶3]"  # "yes" reversed
    assert checked.text == stayed and checked.removed == (reply.replace(" [¶3]", ""),)
    yes_read = Grounder(embedder.encode, checks=GroundingChecks(opposed=False))
    checked = yes_read.check(reply, sources, question=question)
    assert checked.supported == 0 and checked.removed == (reply.replace(" [¶3]", ""),)
    off = Grounder(embedder.encode, checks=GroundingChecks(yes_read=False, opposed=False))
    assert off.check(reply, sources, question=question).supported == 1
    # A "yes" the article does say stands.
    kept = grounder.check("Yes, the old vessel sank near the pier in 1998 [¶4].", sources,
                          question="Did the old vessel sink near the pier?")  # fmt: skip
    assert kept.supported == 1 and [c.paragraph for c in kept.citations] == [4]


def test_a_restated_yes_stands_where_a_sentence_states_it(grounder, embedder):
    sources = _paragraphs(*FERRY)
    question = "Did the council vote to keep the night ferry?"
    reply = "Yes, the council voted to keep the night ferry."
    checked = grounder.check(reply, sources, question=question)
    assert checked.supported == 1 and [c.paragraph for c in checked.citations] == [1]
    off = Grounder(embedder.encode, checks=GroundingChecks(yes_stated=False))
    assert off.check(reply, sources, question=question).supported == 0  # restates the question
    # Restated but not stated: removed; the article says "keep", so its sentence stands instead
    # (``opposed``), and without that check nothing does.
    close = "Yes, the council voted to close the night ferry."
    asked = "Did the council vote to close the night ferry?"
    near = grounder.check(close, sources, question=asked)
    assert near.removed == (close,) and near.text.startswith("No: The town council voted on Tuesday to keep")
    without = Grounder(embedder.encode, checks=GroundingChecks(opposed=False))
    assert without.check(close, sources, question=asked).supported == 0


def test_a_yes_that_says_unprofitable_is_a_no(grounder, embedder):
    sources = _paragraphs(*FERRY)
    question = "Did the operator call the service profitable?"
    reply = "Yes, the operator called the service unprofitable [¶2]."
    checked = grounder.check(reply, sources, question=question)
    assert checked.text.startswith("No, the operator called the service unprofitable")
    off = Grounder(embedder.encode, checks=GroundingChecks(prefixes=False))
    assert off.check(reply, sources, question=question).supported == 0  # a "yes" to what ¶2 lacks


ASSOCIATION = ("Professor Mark Odeh, a neurologist who was not involved in the research, said the study "
               "showed an association, not a cause.")  # fmt: skip
PROVE = "Did the study prove that walking prevents dementia?"


@pytest.mark.parametrize(
    ("sentence", "question", "implied"),
    [
        ("The study showed that walking prevented dementia.", PROVE, True),
        ("The study proved that walking prevents dementia.", PROVE, True),
        ("The study did not prove that walking prevents dementia.", PROVE, False),  # a "no"
        ("Walking was linked to less dementia.", PROVE, False),  # too little of the question
        ("The study showed that walking prevented dementia.", "Why did walking help?", False),  # no yes/no
        ("The study showed that walking prevented dementia.", "Didn't the study prove it?", False),
    ],
)
def test_a_reply_stating_the_question_says_yes(sentence, question, implied):
    from rag.affirmed import implied_yes

    assert implied_yes(sentence, question) is implied


@pytest.mark.parametrize("switch", [True, False])
def test_an_unsaid_yes_is_read_as_a_yes(embedder, switch):
    checks = GroundingChecks(implied_yes=switch)
    grounder = Grounder(embedder.encode, checks=checks)
    reply = "The study showed that walking prevented dementia, according to the article. [¶5]"
    checked = grounder.check(reply, _paragraphs(*["Filler."] * 4, ASSOCIATION), question=PROVE)
    assert checked.supported == (0 if switch else 1)
    stated = "The study showed an association, according to Odeh. [¶5]"  # not the question's statement
    assert grounder.check(stated, _paragraphs(*["Filler."] * 4, ASSOCIATION), question=PROVE).supported == 1


ESTEVES = ("She was referring to the former finance director, Paulo Esteves, who testified against "
           "Camargo in exchange for a reduced sentence.")  # fmt: skip


@pytest.mark.parametrize(
    ("reply", "stated"),
    [
        ("Paulo Esteves testified against Camargo. [¶4]", True),
        ("Paulo Esteves testified against Camargo in exchange for a reduced sentence.", True),
        ("Henrique Bastos testified against Camargo.", False),  # not the article's sentence
        ("Paulo Esteves was the finance director.", False),  # not the question's words
    ],
)
def test_a_reply_stating_what_the_question_asks_as_the_article_does(reply, stated):
    from rag.affirmed import states_answer

    assert states_answer(reply, "Who testified against Camargo?", [ESTEVES]) is stated


# A story written for these tests: a health board's clinic programme, with amounts.
CLINICS = (
    "Hospital admissions fell by 12 percent in the first year of the programme, the health board said.",
    "Road accidents involving cyclists were not part of the programme, the board added.",
    "Seven of the clinics extended their opening hours.",
    "It was the first strike by the city's nurses since 2011.",
)


@pytest.mark.parametrize(
    ("question", "reply", "kept"),
    [
        # The amount asked about is another matter's: the accidents are a paragraph away.
        ("Did road accidents fall by 12 percent?", "Yes, road accidents fell by 12 percent [¶1].", False),
        ("Did admissions fall by 12 percent?", "Yes, hospital admissions fell by 12 percent [¶1].", True),
        # The same change in another word ("dropped" where "fell" is written).
        ("Did admissions drop by 12 percent?", "Yes, admissions fell by 12 percent [¶1].", True),
        ("Did admissions rise by 12 percent?", "Yes, admissions rose by 12 percent [¶1].", False),
        # A number in digits that the article spells out.
        ("Did 7 clinics extend their hours?", "Yes, 7 clinics extended their opening hours [¶3].", True),
        ("Did 8 clinics extend their hours?", "Yes, 8 clinics extended their opening hours [¶3].", False),
    ],
)
def test_a_yes_about_an_amount_stands_where_the_amount_is_stated(grounder, question, reply, kept):
    checked = grounder.check(reply, _paragraphs(*CLINICS), question=question)
    assert (checked.supported == 1 and not checked.text.startswith("No")) is kept, checked


def test_the_amount_check_of_a_yes_has_a_switch(embedder):
    question, reply = "Did road accidents fall by 12 percent?", "Yes, road accidents fell by 12 percent [¶1]."
    off = Grounder(embedder.encode, checks=GroundingChecks(yes_amounts=False))
    assert off.check(reply, _paragraphs(*CLINICS), question=question).supported == 1


def test_a_first_since_a_year_is_no_first(grounder):
    checked = grounder.check("Yes, it was the first strike by the city's nurses since 2011 [¶4].",
                             _paragraphs(*CLINICS), question="Was it the first strike by the city's nurses?")
    assert checked.text == "No, it was the first strike by the city's nurses since 2011. [¶4]"


def test_a_yes_or_no_is_cited_where_the_question_s_claim_stands(grounder, embedder):
    # What the reply adds to the question ("of later start times") stands in ¶1; what it says
    # yes or no to ("did not fade after the first year") in ¶2.
    sources = _paragraphs(
        "Eleven of the schools moved their start times later during the study period.",
        "The benefit did not fade after the first year, the lead author said.",
    )
    question = "Did the benefit fade after the first year?"
    reply = "No, the benefit of later start times did not fade after the first year."
    assert grounder.check(reply, sources, question=question).text == f"{reply} [¶2]"
    off = Grounder(embedder.encode, checks=GroundingChecks(polar_claims=False))
    assert off.check(reply, sources, question=question).text == f"{reply} [¶1]"


def test_a_yes_giving_the_question_s_amount_where_the_article_gives_another_says_no(grounder, embedder):
    question, reply = "Did admissions fall by 20 percent?", "Yes, admissions fell by 20 percent [¶1]."
    checked = grounder.check(reply, _paragraphs(*CLINICS), question=question)
    assert checked.text == f"No: {CLINICS[0]} [¶1]"
    off = Grounder(embedder.encode, checks=GroundingChecks(numbers=False))
    assert off.check(reply, _paragraphs(*CLINICS), question=question).supported == 0  # removed, not answered


def test_a_no_to_another_amount_is_not_reversed_by_the_article_s_amount():
    from rag.negation import reversed_source

    said = "The council approved 20 new ferries."
    assert reversed_source("No, the council did not approve 30 new ferries.", [said]) == ""
    assert reversed_source("No, the council did not approve 20 new ferries.", [said]) == said
