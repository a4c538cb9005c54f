"""rag.text: sentence splitting (examples and properties), cleaning, word tokens."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rag.text import (
    balance_quotes,
    blank_dateline,
    clean_text,
    content_words,
    normalize_quotes,
    one_spelling,
    split_sentences,
    without_dateline,
    words,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three? Four…", ["One.", "Two!", "Three?", "Four…"]),
        ("The U.S. Army said so. It left.", ["The U.S. Army said so.", "It left."]),
        ("Talks at the U.N. ended. Nobody won.", ["Talks at the U.N. ended.", "Nobody won."]),
        ("Dr. Kim agreed. Mr. Lee did not.", ["Dr. Kim agreed.", "Mr. Lee did not."]),
        ("John F. Kennedy spoke. Then he left.", ["John F. Kennedy spoke.", "Then he left."]),
        ("Kim Jong-un met Vladimir V. Putin in June.", ["Kim Jong-un met Vladimir V. Putin in June."]),
        ("He said, “We are ready.” The talks ended.", ["He said, “We are ready.”", "The talks ended."]),
        ("“Why?” she asked. “Because.”", ["“Why?” she asked.", "“Because.”"]),
        ("It is ‘over.’ Really.", ["It is ‘over.’", "Really."]),
        ('"Go home." He did.', ['"Go home."', "He did."]),
        ("Prices rose 3.5 percent. Wages did not.", ["Prices rose 3.5 percent.", "Wages did not."]),
        ("Sales fell (again.) Then rose.", ["Sales fell (again.)", "Then rose."]),
        ("lower case after a stop. stays together.", ["lower case after a stop. stays together."]),
        ("Troops arrived. 3,000 more followed.", ["Troops arrived.", "3,000 more followed."]),
        ("No trailing stop", ["No trailing stop"]),
        ("It is not yes or no. Examples follow.", ["It is not yes or no.", "Examples follow."]),
        ("He is at No. 5 Main Street. Fig. 3 shows it.", ["He is at No. 5 Main Street.", "Fig. 3 shows it."]),
        ("Begun in Dec. 2020, ended in dec. Then rain.", ["Begun in Dec. 2020, ended in dec.", "Then rain."]),
        # A dateline's abbreviations end no sentence: "Calif." opens the sentence it dates.
        ("PINE RIDGE, Calif. (AP) — A fire broke out. It spread.",
         ["PINE RIDGE, Calif. (AP) — A fire broke out.", "It spread."]),
        ("  padded.   Text.  ", ["padded.", "Text."]),
        ("", []),
        ("   \n ", []),
    ],
)
def test_split_sentences_examples(text, expected):
    assert split_sentences(text) == expected


def test_split_sentences_on_an_article_paragraph(article_doc):
    paragraph = article_doc.paragraph(25).text
    sentences = split_sentences(paragraph)
    assert len(sentences) == 2
    assert sentences[0].endswith("Hong said.")
    assert sentences[1].startswith("“The disclosure is also aimed")
    assert " ".join(sentences) == paragraph


def test_every_article_paragraph_roundtrips(article_doc):
    for p in article_doc.paragraphs:
        assert " ".join(split_sentences(p.text)) == p.text


def test_newlines_inside_a_sentence_are_kept():
    # Only the whitespace *between* sentences is dropped; inside one it is untouched.
    assert split_sentences("A line\nbroken here. Next\tone.") == ["A line\nbroken here.", "Next\tone."]


# -- properties ---------------------------------------------------------------------------
WORD = st.sampled_from(
    ["Kim", "said", "the", "U.S.", "Dr.", "F.", "troops", "3.5", "Russia’s", "“We", "ready.”", "e.g.",
     "Why?", "no!", "end.", "(again.)", "‘you", "owe", "me’", "…", "Seoul", "NATO", "a", "Mr.", "…and"]
)  # fmt: skip
SPACE = st.sampled_from([" ", "  ", "\n", " \n ", "\t"])


@st.composite
def texts(draw, spaces=SPACE):
    parts = draw(st.lists(st.tuples(WORD, spaces), max_size=40))
    lead = draw(st.sampled_from(["", " ", "\n"]))
    return lead + "".join(w + s for w, s in parts)


def _no_space(text: str) -> str:
    return re.sub(r"\s+", "", text)


@given(texts() | st.text(max_size=200))
@example("A. B")
@example("Hi.\u00a0There.")
def test_split_sentences_loses_only_whitespace_between_sentences(text):
    """The exact invariant: sentences are stripped, non-empty, in order, and tile the input

    with only whitespace between them (and around the ends).
    """
    sentences = split_sentences(text)
    position = 0
    for sentence in sentences:
        assert sentence and sentence == sentence.strip()
        found = text.find(sentence, position)
        assert found >= 0, (sentence, text)
        assert text[position:found].strip() == "", f"characters lost: {text[position:found]!r}"
        position = found + len(sentence)
    assert text[position:].strip() == ""
    assert _no_space("".join(sentences)) == _no_space(text)


@given(texts(spaces=st.just(" ")))
def test_split_sentences_join_with_spaces_is_identity_on_normalised_text(text):
    normalised = " ".join(text.split())
    assert " ".join(split_sentences(normalised)) == normalised


@given(texts())
def test_split_sentences_is_idempotent_per_sentence(text):
    for sentence in split_sentences(text):
        # A sentence never contains a boundary the splitter itself would cut at.
        assert split_sentences(sentence) == [sentence]


# -- cleaning and tokens -----------------------------------------------------------------------
def test_clean_text_normalises_and_strips_controls():
    assert clean_text("  Cafe\u0301\u200b  au\t\tlait\x07 ") == "Café au lait"
    assert clean_text("a\nb") == "a\nb"  # newlines are the caller's business
    assert clean_text("\ufeffTitle") == "Title"


def test_words_lowercases_and_keeps_hyphenated_names():
    assert words("Kim Jong-un’s Hwasong-18, U.S.") == ["kim", "jong-un's", "hwasong-18", "u", "s"]


def test_normalize_quotes():
    assert normalize_quotes("“You owe me” — ‘it’s’ – done") == "\"You owe me\" - 'it's' - done"


@pytest.mark.parametrize(
    ("sentence", "shown"),
    [
        ('It is the third night," Costa said.', '"It is the third night," Costa said.'),
        ('"Nobody here is against machines.', '"Nobody here is against machines."'),
        ("We are against machines,” said Niek Stam.", "“We are against machines,” said Niek Stam."),
        ("“Nobody here is against machines.", "“Nobody here is against machines.”"),
        ("“Fine,” he said.", "“Fine,” he said."),
        ('He said "fine" twice.', 'He said "fine" twice.'),
        ("No quotes here.", "No quotes here."),
    ],
)
def test_a_sentence_cut_from_a_quotation_gets_its_quote_mark_back(sentence, shown):
    assert balance_quotes(sentence) == shown


@pytest.mark.parametrize(
    ("british", "american"),
    [
        ("kilometres", "kilometers"), ("metre", "meter"), ("centre", "center"), ("labour", "labor"),
        ("neighbours", "neighbors"), ("honoured", "honored"), ("analysed", "analyzed"),
        ("organisation", "organization"), ("defence", "defense"), ("catalogue", "catalog"),
        ("programme", "program"),
    ],
)  # fmt: skip
def test_british_and_american_spellings_are_one_word(british, american):
    assert one_spelling(british) == american
    assert content_words(f"The {british} matter.") == content_words(f"The {american} matter.")


@pytest.mark.parametrize("word", ["four", "hour", "tour", "your", "more", "store", "there", "acre", "fence"])
def test_words_that_only_look_british_are_kept(word):
    assert one_spelling(word) == word


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("WELLINGTON — The bank kept its rate.", "The bank kept its rate."),
        ("SEOUL – North Korea’s envoy spoke.", "North Korea’s envoy spoke."),
        ("The bank — unusually — kept its rate.", "The bank — unusually — kept its rate."),  # no dateline
        ("TROMSVIK, Nov. 12 (Northern Post) — A storm cut power.", "A storm cut power."),
        ("WASHINGTON (Reuters) - The Fed held rates.", "The Fed held rates."),
        ("PORTLAND, Ore., Jan. 5 (AP) — A bridge fell.", "A bridge fell."),
    ],
)
def test_without_dateline(sentence, expected):
    assert without_dateline(sentence) == expected


@pytest.mark.parametrize(
    "text",
    ["TROMSVIK, Nov. 12 (Northern Post) — A storm cut power.", "SEOUL – North Korea’s envoy spoke.",
     "The bank — unusually — kept its rate."],
)  # fmt: skip
def test_blank_dateline_keeps_every_offset(text):
    blanked = blank_dateline(text)
    assert len(blanked) == len(text)
    assert blanked.strip() == without_dateline(text)
    assert blanked.endswith(without_dateline(text))


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("a 14-match unbeaten run", ["14"]),  # before a hyphened unit
        ("the 19-year-old substitute", ["19"]),
        ("16 kilometers", ["16"]),
        ("the Hwasong-16Na missile", []),  # inside a name
        ("Riverton won 2-1", []),  # a score, not a number of things
        ("COVID-19 cases", []),
    ],
)
def test_the_numbers_a_text_states(text, numbers):
    from rag.text import DIGITS, NUMBER

    assert re.findall(DIGITS, text) == numbers
    assert [m.group(0) for m in NUMBER.finditer(text)] == numbers
