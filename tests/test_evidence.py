"""Sentence-level evidence (rag.evidence): the kind of answer a question asks for, and scoring."""

from __future__ import annotations

import pytest

from rag.evidence import answers_type, expected_type


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many troops did North Korea send?", "number"),
        ("What is the range of the missile, in kilometers?", None),  # no unit list: how far/much asks
        ("When did NATO confirm the evidence?", "time"),
        ("In what year was the treaty signed?", "time"),
        ("Who confirmed the troops were in Russia?", "person"),
        ("At the CSIS event, who said the soldiers would die?", "person"),
        ("Which expert said Kim could bargain hard?", "person"),
        # the first interrogative decides, not a "how much" inside the clause
        ("Who argued that a token force can signal how much a country values an ally?", "person"),
        ("When did the expert who spoke at CSIS say this?", "time"),
        ("Who is Hong Min?", None),  # asks for a description
        ("What did Kim Yo-jong condemn?", None),
    ],
)
def test_expected_type(question, kind):
    assert expected_type(question) == kind


def test_answers_type_needs_something_the_question_does_not_already_say():
    assert answers_type("time", "Putin visited Pyongyang in June.", "In which month did Putin visit?")
    june = "Putin visited Pyongyang in June."
    assert not answers_type("time", june, "On what date in June did Putin visit?")
    assert answers_type(None, "anything", "What happened?") is None



def test_unknown_names_count_an_acronym_the_corpus_spells_out_as_known(retriever):
    from rag.evidence import unknown_names

    vocabulary = {"intercontinental", "ballistic", "missile", "north", "korea"}
    question = "Did North Korea show an ICBM?"
    assert unknown_names(question, vocabulary) == ["ICBM"]
    assert unknown_names(question, vocabulary, spelled=retriever.acronyms.knows) == []
    assert unknown_names(question, vocabulary, all_names=True) == ["North", "Korea", "ICBM"]


def test_unknown_names_match_a_name_with_or_without_its_accents():
    from rag.evidence import unknown_names

    vocabulary = {"jeronimo", "ayanz", "beaumont"}  # built from text folded to plain letters
    assert unknown_names("What did Jerónimo de Ayanz y Beaumont patent?", vocabulary) == []
    assert unknown_names("What did Jeronimo de Ayanz y Beaumont patent?", vocabulary) == []
    missing = unknown_names("What did Jerónimo de Ayanz y Beaumont patent?", {"ayanz", "beaumont"})
    assert missing == ["Jerónimo"]
