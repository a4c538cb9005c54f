"""Questions about the article itself (rag.article_facts): who wrote it, when and by whom it was
published, its headline; answered from the byline and date line, which are no numbered paragraph.

Real retrieval over the project's corpus and a two-article folder; the scripted model only shows
that these questions never reach a model (which, before, named the photo's news agency as the
author and an event's weekday as the date).
"""

from __future__ import annotations

import pytest
from backend_helpers import ScriptedBackend

from rag.article_facts import MISSING, NOTE, answer_facts, subject_names
from rag.assistant import Assistant, AssistantConfig
from rag.corpus import parse_document
from rag.retriever import Retriever

SUBWAY = "seoul-subway"


@pytest.fixture(scope="module")
def bot(retriever) -> Assistant:
    return Assistant(retriever)


@pytest.fixture
def two(two_articles, embedder, fresh_cache) -> Assistant:
    return Assistant(Retriever.from_corpus(two_articles, embedder=embedder, cache_dir=str(fresh_cache)))


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Who wrote the article?", "The article is by Ji Da-gyum (The Korea Herald)."),
        ("When was it published?", "It was published on Thursday, October 24, 2024."),
        ("Which newspaper published this story?", "It was published by The Korea Herald."),
        ("What's the headline?",
         "Its headline is “North Korea’s support puts Russian President Putin in its debt, say experts”."),
        ("Who wrote it and when was it published?",
         "The article is by Ji Da-gyum (The Korea Herald). It was published on Thursday, October 24, 2024."),
    ],
)  # fmt: skip
def test_the_seed_articles_byline_and_date_answer(bot, question, expected):
    answer = bot.ask(question)
    assert answer.text == expected
    assert not answer.refused and answer.decline_reason is None
    assert answer.citations == () and answer.notes == (NOTE,)


def test_these_questions_never_reach_the_model(retriever):
    model = ScriptedBackend("The article was written by the Korean Central News Agency. [¶0]")
    answer = Assistant(retriever, model).ask("Who wrote the article?")
    assert "Ji Da-gyum" in answer.text and model.calls == []


def test_with_the_switch_off_the_question_takes_the_fact_path(retriever):
    model = ScriptedBackend("The article does not say.")
    answer = Assistant(retriever, model, AssistantConfig(article_facts=False)).ask("Who wrote the article?")
    assert model.calls and NOTE not in answer.notes and "Ji Da-gyum" not in answer.text


def test_an_article_without_byline_or_date_says_so_and_counts_as_a_decline():
    doc = parse_document("Storm closes harbour\n\nA storm closed the harbour.\n", doc_id="storm")
    reply = answer_facts([doc], ["author", "date"])
    assert reply.text == f"{MISSING['author']} {MISSING['date']}" and reply.refused
    partial = answer_facts([doc], ["author", "title"])
    assert partial.text == f"{MISSING['author']} Its headline is “Storm closes harbour”."
    assert not partial.refused


def test_with_two_articles_and_no_hint_every_article_is_listed(two):
    answer = two.ask("Who wrote the article?")
    assert answer.text.splitlines() == [
        "The corpus has 2 articles:",
        "- “North Korea’s support puts Russian President Putin in its debt, say experts”: Ji Da-gyum",
        "- “Seoul opens driverless subway line to the airport”: Park Min-ji",
    ]


@pytest.mark.parametrize(
    ("question", "history", "doc"),
    [
        ("Who wrote the article about the driverless subway line?", [], None),
        ("Who wrote it?", [{"role": "user", "content": "When did the airport subway line open?"},
                           {"role": "assistant", "content": "On Saturday. [¶1]"}], None),
        ("Who wrote the article?", [], SUBWAY),
        ("Who wrote the subway article?", [], None),  # which one, by a word before "article"
        # The turn just before says nothing of its matter: the one before it does.
        ("When was it published?", [
            {"role": "user", "content": "When did the airport subway line open?"},
            {"role": "assistant", "content": "On Saturday. [¶1]"},
            {"role": "user", "content": "Who wrote it?"},
            {"role": "assistant", "content": "The article is by Park Min-ji."}], None),
    ],
)  # fmt: skip
def test_the_article_meant_is_the_one_named_talked_about_or_chosen(two, question, history, doc):
    answer = two.ask(question, history, doc=doc)
    if "published" in question:
        chosen = two.ask("When was it published?", doc=SUBWAY).text
        assert "Park Min-ji" not in answer.text and answer.text == chosen
    else:
        assert answer.text == "The article is by Park Min-ji (The Seoul Daily)."


def test_the_subject_is_the_headline_names_the_body_repeats():
    text = (
        "Lumora Cuts 1,200 Jobs as Smartphone Sales Slump\n\n"
        "Lumora Electronics will cut 1,200 jobs in Osaka, the company said.\n\n"
        "It kept its dividend unchanged.\n"
    )
    assert subject_names(parse_document(text, doc_id="lumora")) == "Lumora"  # not "Cuts", "Jobs"


@pytest.mark.parametrize(
    ("question", "reply"),
    [
        ("Who is Ji Da-gyum?", "Ji Da-gyum wrote the article (its byline; The Korea Herald)."),
        ("who was Ji Da-gyum", "Ji Da-gyum wrote the article (its byline; The Korea Herald)."),
        ("Who is Hong Min?", None),  # a person of the text: the attribution's matter
        ("Who wrote the article?", None),  # the router's byline question
    ],
)
def test_who_the_byline_author_is(question, reply):
    from rag.article_facts import author_reply
    from rag.corpus import load_corpus

    (document,) = load_corpus("corpus").documents
    assert author_reply(document, question) == reply


@pytest.mark.parametrize("switch", [True, False])
def test_who_is_the_author_declined_by_the_model_gets_the_byline(retriever, switch):
    from rag.assistant import Checks

    model = ScriptedBackend("The article does not say.")
    config = AssistantConfig(checks=Checks() if switch else Checks().without("who_is"), calibrators={})
    answer = Assistant(retriever, model, config).ask("Who is Ji Da-gyum?")
    if switch:
        assert answer.text == "Ji Da-gyum wrote the article (its byline; The Korea Herald)."
        assert not answer.refused and NOTE in answer.notes and answer.citations == ()
    else:
        assert answer.refused
