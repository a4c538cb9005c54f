"""rag.acronyms: names and their initials learnt from the corpus."""

from __future__ import annotations

import pytest

from rag.acronyms import AcronymMap
from rag.evidence import unknown_names


@pytest.fixture(scope="module")
def acronyms(article_doc) -> AcronymMap:
    return AcronymMap([article_doc.caption, *(p.text for p in article_doc.paragraphs)])


def test_learns_the_article_institutions(acronyms):
    assert acronyms.long_forms["CSIS"] == "Center for Strategic and International Studies"
    assert acronyms.long_forms["KCNA"] == "Korean Central News Agency"
    assert acronyms.long_forms["DPRK"] == "Democratic People’s Republic of Korea"
    assert acronyms.long_forms["CNAS"] == "Center for a New American Security"
    assert acronyms.long_forms["KINU"] == "Korea Institute for National Unification"
    assert len(acronyms) == len(acronyms.long_forms)


def test_acronym_expands_to_the_long_form(acronyms):
    expanded = acronyms.expand("What did CSIS host?")
    assert expanded.startswith("What did CSIS host?")
    assert "Center for Strategic and International Studies" in expanded


@pytest.mark.parametrize("query", ["kcna", "What did the kcna photo show?", "Kcna"])
def test_lowercase_acronym_expands(acronyms, query):
    assert "Korean Central News Agency" in acronyms.expand(query)


def test_long_form_gets_its_acronym(acronyms):
    expanded = acronyms.expand("an event at the Center for Strategic and International Studies")
    assert expanded.endswith(" CSIS")


@pytest.mark.parametrize(
    "text",
    [
        "What did they say about the missile bases in June?",
        "Why would China be uncomfortable?",
        "",
        "troops",
    ],
)
def test_text_without_acronyms_is_unchanged(acronyms, text):
    assert acronyms.expand(text) == text


def test_nothing_is_added_twice(acronyms):
    text = "CSIS, the Center for Strategic and International Studies"
    assert acronyms.expand(text) == text


def test_empty_map():
    empty = AcronymMap()
    assert len(empty) == 0
    assert empty.expand("CSIS") == "CSIS"


def test_acronym_used_in_the_corpus_counts_even_for_two_word_names():
    m = AcronymMap(["The Joint Staff met.", "A JS spokesman said so."])
    assert m.long_forms.get("JS") == "Joint Staff"
    assert "Joint Staff" in m.expand("What did the JS say?")


def test_an_acronym_spelled_out_in_lower_case_is_known():
    m = AcronymMap(["It can carry an intercontinental ballistic missile, the agency said."])
    assert m.knows("ICBM") and m.knows("ICBMs")  # "inter-c-ontinental": letters from inside a word
    assert not m.knows("SLBM") and not m.knows("NATO")
    assert not m.knows("icbm") and not m.knows("I")  # only acronyms are looked up
    assert not m.knows("ICB")  # three letters match too many word runs: capitalised names only


def test_the_article_knows_its_acronyms(acronyms):
    assert acronyms.knows("CSIS") and acronyms.knows("ICBM") and acronyms.knows("KCNA")
    assert not acronyms.knows("WHO")
    # three letters of a longer name's initials: "NPT" for "Nuclear Non-Proliferation Treaty"
    assert acronyms.knows("NPT") and not acronyms.knows("NPR")


def test_an_acronym_of_english_is_known_by_its_long_form_in_small_letters():
    m = AcronymMap(["She will be the party's fourth member of parliament, chief executive Ana Ruiz said."])
    assert m.knows("MPs") and m.knows("MP") and m.knows("CEO")
    assert not m.knows("CFO") and not m.knows("PM")  # their long forms are not written
    plural = AcronymMap(["Two members of parliament voted against."])
    assert plural.knows("MPs")
    apart = AcronymMap(["A member said parliament met."])  # the words, but not the phrase
    assert not apart.knows("MP")


def test_a_question_with_an_acronym_of_english_names_nobody_unknown():
    vocabulary = {"green", "party", "member", "parliament", "chief", "executive"}
    m = AcronymMap(["The Green Party's fourth member of parliament met the chief executive."])
    assert unknown_names("How many Green MPs will there be?", vocabulary, spelled=m.knows) == []
    assert unknown_names("What did the CEO say?", vocabulary, spelled=m.knows) == []
    assert unknown_names("What did the CFO say?", vocabulary, spelled=m.knows) == ["CFO"]
