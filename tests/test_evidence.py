"""Sentence-level evidence (rag.evidence): the kind of answer a question asks for, scoring, and
a sentence's speaker counted as named in it when the question asks what they said."""

from __future__ import annotations

import pytest

from rag.assistant import Assistant, AssistantConfig, Checks
from rag.evidence import answers_type, expected_type
from rag.retriever import Retriever


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


@pytest.mark.parametrize(
    ("question", "missing"),
    [
        ("When will the Japanese team observe it?", []),  # the article says "a team in Japan"
        ("What did the Chinese embassy say?", []),
        ("What did the German minister say?", []),  # "Germany"
        ("What did the Swedish minister say?", ["Swedish"]),  # "Sweden": too little shared
        ("What did Lindberg say?", ["Lindberg"]),  # "Lindqvist" is someone else
    ],
)
def test_unknown_names_know_a_nationality_by_its_country(question, missing):
    from rag.evidence import unknown_names

    vocabulary = {"japan", "china", "germany", "sweden", "lindqvist", "team", "minister"}
    assert unknown_names(question, vocabulary) == missing


def test_the_byline_names_people_the_article_knows(tmp_path):
    from rag.evidence import EvidenceScorer, unknown_names

    (tmp_path / "storm.txt").write_text(
        "Storm closes the harbour\n\nBy Amara Osei, Science Editor\n\nPublished 9 March 2026\n\n"
        "The harbour closed on Monday as the storm arrived, the port authority said.\n", "utf-8")  # fmt: skip
    scorer = EvidenceScorer(Retriever.from_corpus(tmp_path))
    assert unknown_names("Who is Amara Osei?", scorer.vocabulary) == []
    assert unknown_names("Who is Amara Mensah?", scorer.vocabulary) == ["Mensah"]


def test_unknown_names_match_a_name_with_or_without_its_accents():
    from rag.evidence import unknown_names

    vocabulary = {"jeronimo", "ayanz", "beaumont"}  # built from text folded to plain letters
    assert unknown_names("What did Jerónimo de Ayanz y Beaumont patent?", vocabulary) == []
    assert unknown_names("What did Jeronimo de Ayanz y Beaumont patent?", vocabulary) == []
    missing = unknown_names("What did Jerónimo de Ayanz y Beaumont patent?", {"ayanz", "beaumont"})
    assert missing == ["Jerónimo"]


COUNCIL = """Council approves bridge repairs

March 3, 2025

The city council voted 7-2 on Monday to repair the Harbor Street bridge.

Councillor Tom Reyes, one of the two members who voted against it, said the city should have asked the state for more money first. He warned that the repairs would close two of the bridge's four lanes for at least eighteen months. "Small businesses on the east side will feel every one of those months," he said.

Anna Chu, who runs a bakery two blocks from the bridge, said she worried about traffic.
"""  # noqa: E501


@pytest.fixture(scope="module")
def council(tmp_path_factory, embedder):
    folder = tmp_path_factory.mktemp("council")
    (folder / "corpus").mkdir()
    (folder / "corpus" / "council.txt").write_text(COUNCIL, "utf-8")
    return Retriever.from_corpus(folder / "corpus", embedder=embedder, cache_dir=str(folder / "cache"))


@pytest.mark.parametrize(
    ("question", "speaker_evidence", "first_words"),
    [
        ("What did Tom Reyes warn about?", True, "He warned that the repairs"),
        ("What did Tom Reyes warn about?", False, "Councillor Tom Reyes, one of"),
        ("What did Reyes say small businesses would feel?", True, '"Small businesses on the east side'),
        ("Who is Tom Reyes?", True, "Councillor Tom Reyes, one of"),  # who he is: not his words
    ],
)
def test_a_sentence_that_leaves_its_speaker_to_a_pronoun_answers_what_they_said(
    council, question, speaker_evidence, first_words
):
    """ "He warned that …" is Tom Reyes's warning (the attribution step resolves "he"): asked what
    Reyes warned about, it outranks the sentence that only names him; asked who he is, it does not."""
    checks = Checks() if speaker_evidence else Checks().without("speaker_evidence")
    bot = Assistant(council, config=AssistantConfig(checks=checks))
    best = bot.evidence.score(question, council.search(question, k=4))[0]
    assert best.text.startswith(first_words), best.text
    # The answer gives that sentence (a said-about answer names the speaker before the quote).
    assert first_words.lstrip('"') in bot.ask(question).text
