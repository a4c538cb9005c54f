"""rag.lookup: a "when" or "how much" question the model declines, answered by the article's
sentence that holds the question and a value of the kind asked for."""

from __future__ import annotations

import pytest

from rag.types import Paragraph

# Written for these tests: a library's reopening, with a day, a month, a year and amounts.
LIBRARY = "\n\n".join([
    "Riverside library reopens after flood repairs",
    "The Riverside public library reopened on Saturday after a flood in March closed it for repairs.",
    "Head librarian Joan Okafor said the repairs cost 2.3 million dollars, paid by the city.",
    "The library may add evening hours next year, Okafor said.",
    "A new children's wing, planned since 2019, will open in the autumn.",
])  # fmt: skip


def _scored(*texts: str):
    from rag.evidence import ScoredSentence

    return [ScoredSentence(Paragraph("lib", n, t), t, 1.0, 0.5, 0.5, None, 0) for n, t in enumerate(texts, 1)]


@pytest.mark.parametrize(
    ("question", "paragraph"),
    [
        ("On what day of the week did the Riverside library reopen?", 1),  # "day of the week" asks only
        ("In which month did the flood close the library?", 1),
        ("Since when has the new children's wing been planned?", 4),
        ("How much did the repairs cost?", 2),
        ("When did the Riverside museum reopen?", None),  # a name the sentences lack: a near miss
        ("When will the library add evening hours?", None),  # "may add": "may" written small is no month
        ("When did Joan Okafor retire?", None),  # most of the question is in no sentence
        ("Who paid for the repairs?", None),  # asks for no time or number
    ],
)
def test_the_sentence_giving_the_time_or_number_asked_for(question, paragraph):
    from rag.lookup import typed_answer

    found = typed_answer(question, _scored(*LIBRARY.split("\n\n")[1:]))
    assert (found.paragraph.number if found else None) == paragraph


def test_a_value_the_question_already_gives_answers_nothing():
    from rag.lookup import typed_answer

    # "In March" is in the question: the sentence holds no other time.
    assert typed_answer("What happened to the library in March?", _scored(LIBRARY.split("\n\n")[1])) is None


SETTLED = "In 2023 it paid $45 million to settle a privacy case in the United States."


@pytest.mark.parametrize(
    ("question", "found"),
    [
        ("How much did Lumora pay in the US privacy case?", True),  # "it": the headline's Lumora
        ("How much did Lumora pay in the EU privacy case?", False),  # the sentence names another place
        ("How much did Sanwa pay in the US privacy case?", False),  # not the headline's subject
    ],
)
def test_a_number_said_of_it_is_the_headline_subjects(question, found):
    from rag.lookup import typed_answer

    sentences = _scored(SETTLED)
    assert (typed_answer(question, sentences, subject=lambda doc: "Lumora") is not None) is found
    assert typed_answer(question, sentences) is None  # without it, "Lumora" stands nowhere
    from rag.assistant_config import Checks
    from rag.lookup import look_up

    subject = {"subject": lambda doc: "Lumora"}  # and with the switch off, nothing
    assert (look_up(question, sentences, **subject)[0] is not None) is found
    assert look_up(question, sentences, Checks().without("article_subject"), **subject)[0] is None


def test_a_word_is_held_by_its_lemma():
    from rag.lookup import typed_answer

    # "paid" holds "pay", "found" holds "find": the question's verb in another form.
    paid = _scored("The city paid 2.3 million dollars for the repairs.")
    assert typed_answer("How much did the city pay for the repairs?", paid) is not None
    found = _scored("Inspectors found 12 cracks in the bridge in May.")
    assert typed_answer("How many cracks did inspectors find in the bridge?", found) is not None


def test_rules_run_in_order_and_each_has_its_switch():
    from rag.assistant_config import Checks
    from rag.lookup import LOOKUP_NOTE, look_up
    from rag.polar import POLAR_NOTE

    sentences = _scored("The council did not approve the budget.", "The council counted 40 votes in 2024.")
    assert look_up("Did the council approve the budget?", sentences)[1:] == ("No: ", POLAR_NOTE)
    assert look_up("Did the council approve the budget?", sentences, Checks().without("polar"))[0] is None
    counts = "How many votes were counted by the council?"
    found, prefix, note = look_up(counts, sentences)
    assert (found.paragraph.number, prefix, note) == (2, "", LOOKUP_NOTE)
    assert look_up(counts, sentences, Checks().without("typed"))[0] is None
    assert look_up(counts, sentences, typed=False)[0] is None  # not asked after a reply the checks kept
    # A sentence naming nobody is about the article's subject only with ``article_subject``.
    kept = _scored("It kept its dividend unchanged.")
    asked = "Did Lumora cut its dividend?"
    assert look_up(asked, kept, subject=lambda doc: "Lumora")[1] == "No: "
    assert look_up(asked, kept, Checks().without("article_subject"), subject=lambda doc: "Lumora")[0] is None


# -- "How many …?" -----------------------------------------------------------------------------
TRAM = "\n\n".join([
    "City council approves tram line",
    "The city council voted 27 to 21 on Monday to build a new tram line to the western suburbs.",
    "Council member Ursula Degen said the tram would cut through a protected forest and destroy "
    "about 400 trees.",
    "The transport department said it would plant two trees for every one removed.",
])  # fmt: skip


@pytest.mark.parametrize(
    ("question", "paragraph"),
    [
        ("How many trees will be destroyed?", 2),
        ("How many trees will be planted for every one removed?", 3),
        ("How many members voted for the line?", None),  # "27 to 21": no number of members
        ("How many trees were destroyed in 2020?", None),  # a year the sentences lack
        ("How many stops will the line have?", None),
        ("What will be destroyed?", None),  # asks for no number
    ],
)
def test_the_sentence_giving_the_number_counted(question, paragraph):
    from rag.lookup import typed_answer

    found = typed_answer(question, _scored(*TRAM.split("\n\n")[1:]))
    assert (found.paragraph.number if found else None) == paragraph


@pytest.mark.parametrize("switch", [True, False])
@pytest.mark.parametrize(
    ("text", "question", "quoted", "paragraph"),
    [
        (LIBRARY, "On what day of the week did the Riverside library reopen?", "reopened on Saturday", 1),
        (TRAM, "How many trees will be destroyed?", "about 400 trees", 2),
    ],
)
def test_the_assistant_quotes_what_the_model_did_not_give(story, switch, text, question, quoted, paragraph):
    from backend_helpers import ScriptedBackend

    from rag import Assistant
    from rag.assistant import AssistantConfig, Checks
    from rag.lookup import LOOKUP_NOTE

    retriever = story(text, "news")
    checks = Checks() if switch else Checks().without("typed")
    config = AssistantConfig(checks=checks, calibrators={}, second_look=None)
    answer = Assistant(retriever, ScriptedBackend("The article does not say."), config).ask(question)
    if switch:
        assert not answer.refused and LOOKUP_NOTE in answer.notes
        assert quoted in answer.text and [c.paragraph for c in answer.citations] == [paragraph]
    else:
        assert answer.refused and answer.decline_reason == "model declined"


# -- a number of things asked for (switch ``listed``) ---------------------------------------------
STORM = (
    "The storm damaged roads, bridges and power lines, the county emergency office said.",
    "Crews from Norway and Sweden worked through the night, said Marit Solheim, who heads the office.",
    "Solheim noted that the hospital, the water plant and the care homes came first.",
)


@pytest.mark.parametrize(
    ("question", "count"),
    [
        ("Which three things did the storm damage?", 3), ("What two countries sent crews?", 2),
        ("Name the four villages.", 4), ("What are the two reasons?", 2),
        ("How many crews were sent?", None), ("Which village was evacuated?", None),
    ],
)  # fmt: skip
def test_how_many_things_a_question_asks_for(question, count):
    from rag.lookup import asked_count

    assert asked_count(question) == count


def test_the_lists_a_text_gives():
    from rag.conjuncts import coordinations, lists, repeats_an_item

    assert coordinations(STORM[0]) == (3,)  # roads, bridges and power lines
    assert lists(STORM[1], 2) and not lists(STORM[1], 3)
    assert coordinations("The storm hit the coast on Tuesday.") == ()
    padded = "The four villages evacuated were Aldby, Brekke, Colnes, and Aldby."
    assert coordinations(padded) == (4,) and not lists(padded, 4) and repeats_an_item(padded)
    assert not repeats_an_item(STORM[0])


def test_a_list_padded_with_a_repeated_item_is_removed(embedder):
    from rag.grounding import Grounder, GroundingChecks, SourceMap

    text = "Three villages, Aldby, Brekke and Colnes, were evacuated."
    sources = SourceMap.build([Paragraph("storm", 1, text)])
    reply = "The four villages evacuated were Aldby, Brekke, Colnes, and Aldby. [¶1]"
    question = "Which four villages were evacuated?"
    checked = Grounder(embedder.encode).check(reply, sources, question=question)
    assert checked.supported == 0 and checked.removed
    off = Grounder(embedder.encode, checks=GroundingChecks(padded=False))
    assert off.check(reply, sources, question=question).supported == 1


@pytest.mark.parametrize(
    ("question", "paragraph"),
    [
        ("What three things did the storm damage?", 1),
        ("According to Marit Solheim, which three places came first?", 3),  # "Solheim" stands for her
        ("Crews from which two countries worked through the night?", 2),
        ("Which four things did the storm damage?", None),  # the article lists three
        ("What three things did the flood damage?", None),  # another event: a near miss
    ],
)
def test_the_sentence_listing_the_things_asked_for(question, paragraph):
    from rag.lookup import listed_answer

    found = listed_answer(question, _scored(*STORM))
    assert (found.paragraph.number if found else None) == paragraph


def test_a_reply_listing_too_few_gets_the_listing_sentence():
    from rag.assistant import Checks
    from rag.lookup import look_up

    question = "What three things did the storm damage?"
    found, _, note = look_up(question, _scored(*STORM), typed=False, reply="The storm damaged roads.")
    assert found is not None and found.paragraph.number == 1 and "number of things" in note
    # A reply that lists them stands; so does any reply with the switch off.
    assert look_up(question, _scored(*STORM), typed=False, reply="Roads, bridges and power lines.")[0] is None
    off = Checks().without("listed")
    assert look_up(question, _scored(*STORM), off, typed=False, reply="The storm damaged roads.")[0] is None


@pytest.mark.parametrize(
    ("prefix", "sentence", "expected"),
    [
        ("No: ", "No injuries were linked to it.", "No: no injuries were linked to it."),
        ("No: ", "Nobody was hurt.", "No: Nobody was hurt."),  # another word: as written
        ("No: ", "Norway did not sign.", "No: Norway did not sign."),
        ("", "No one was hurt.", "No one was hurt."),
    ],
)
def test_an_answer_does_not_say_its_opening_twice(prefix, sentence, expected):
    from rag.lookup import opened

    assert opened(prefix, sentence) == expected
