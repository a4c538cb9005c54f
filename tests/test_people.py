"""People in the article: name forms, who is named, and who speaks (rag.people)."""

from __future__ import annotations

import pytest

from rag.conversation import speakers
from rag.people import display_name, named_people, names_person, people_forms, quote_speaker, speaker


@pytest.fixture(scope="module")
def texts(article_doc) -> list[str]:
    return [p.text for p in article_doc.paragraphs]


@pytest.fixture(scope="module")
def people(texts) -> dict[str, set[str]]:
    return people_forms(speakers(texts), texts)


@pytest.fixture(scope="module")
def paragraph(article_doc):
    by_number = {p.number: p.text for p in article_doc.paragraphs}
    return by_number.__getitem__


def test_people_of_the_article_with_their_short_forms(people):
    assert people["victor cha"] == {"cha"}
    assert people["sydney seiler"] == {"seiler"}
    assert people["hong min"] == {"hong"}
    assert {"kim du-yeon", "kim jong-un", "kim yo-jong"} <= set(people)
    assert "kim" not in people  # "Kim" alone could be three people


def test_named_people_in_order_of_mention(people):
    text = "Hong noted that the visit aligns with a statement by Kim Yo-jong, as Cha said."
    assert named_people(text, people) == ["hong min", "kim yo-jong", "victor cha"]
    assert named_people("The Korea Chair at CSIS", people) == []  # "Chair" is not "Cha"
    assert names_person("Seiler’s view", "sydney seiler", people)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (5, "victor cha"),  # "…,” Cha said Tuesday
        (10, "sydney seiler"),  # "…,” Sydney Seiler, a senior adviser to the Korea Chair at CSIS, said.
        (14, "sydney seiler"),  # an appositive between the name and the verb
        (15, "sydney seiler"),  # "Seiler also highlighted"
        (23, "hong min"),  # not Kim Jong-un, whose inspection Hong describes
        (24, "hong min"),  # not Kim Yo-jong, whose statement Hong mentions
        (1, None),  # "… Kim Jong-un's aggressive ambitions …, experts said": nobody speaks
        (8, None),  # "…,” she said: the name is in the paragraph before
        (16, None),  # a quote without a speaker
    ],
)
def test_the_speaker_is_the_subject_of_a_verb_of_saying(people, paragraph, number, expected):
    assert speaker(paragraph(number), people) == expected


def test_several_speakers_give_no_single_speaker(people):
    assert speaker("Cha said it was symbolic, and Seiler said it was practical.", people) is None


def test_display_name_as_the_article_writes_it(texts):
    assert display_name("kim du-yeon", texts) == "Kim Du-yeon"
    assert display_name("nobody here", texts) == "Nobody Here"


def test_a_paragraph_naming_nobody_takes_the_speaker_of_the_one_before(people, paragraph):
    assert quote_speaker(paragraph(8), paragraph(7), people) == ("kim du-yeon", True)  # "…,” she said
    assert quote_speaker(paragraph(5), paragraph(4), people) == ("victor cha", False)
    assert quote_speaker(paragraph(1), None, people) == (None, False)  # names Kim Jong-un, who does not speak
