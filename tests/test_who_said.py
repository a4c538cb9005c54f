"""Who said it: who-said questions and wrong-speaker answers, on small news texts written here.

Real components: spaCy's packaged English pipeline resolves the speakers (rag.attribution) and
the packaged MiniLM embedder matches statements by meaning.
"""

from __future__ import annotations

import re

import pytest

from rag.attribution import attribute
from rag.corpus import parse_document
from rag.who_said import WhoSaid, asks_speaker

STORY = """Harbour plan splits the council

March 3, 2025

The city council voted on Tuesday to widen the harbour, a plan that will cost 40 million dollars.

Maria Lopez, a marine biologist at the Coastal Institute, said the dredging would destroy the
seagrass beds where young fish grow.

“Once the seagrass is gone, it does not come back in our lifetime,” she said.

Tom Becker, the council's finance chief, argued that the larger port would pay for itself within
ten years through shipping fees.

“We cannot afford to stand still while other ports grow,” Becker said.
"""


@pytest.fixture(scope="module")
def who(embedder) -> WhoSaid:
    doc = parse_document(STORY, doc_id="harbour")
    texts = {(p.doc, p.number): p.text for p in doc.paragraphs}
    return WhoSaid({doc.id: attribute(doc)}, embedder.encode, texts=texts)


@pytest.mark.parametrize(
    "question",
    [
        "Who said the dredging would harm the seagrass?",
        "Which scientist warned that the seagrass would not return?",
        "At the meeting, who argued the port would pay for itself?",
        "And who said the city cannot afford to stand still?",
    ],
)
def test_questions_that_ask_for_a_speaker(question):
    assert asks_speaker(question)


@pytest.mark.parametrize(
    "question",
    [
        "What did she say about the seagrass?",  # asks what was said, not who said it
        "Which plan did the council vote on?",
        "Who is Maria Lopez?",
        "Who voted to widen the harbour?",  # voting is no saying
        "How much will the plan cost?",
    ],
)
def test_questions_that_do_not(question):
    assert not asks_speaker(question)


def test_a_pronoun_speaker_is_found_by_the_words_she_said(who):
    found = who.speaker_for("Who said the seagrass will not come back in our lifetime?", "harbour")
    assert found is not None and found.name == "Maria Lopez"
    assert found.statement.paragraph == 3 and found.statement.kind == "quote"


def test_a_surname_speaker_is_given_by_full_name(who):
    question = "Who said the town cannot afford to stand still while other ports grow?"
    found = who.speaker_for(question, "harbour")
    assert found is not None and found.name == "Tom Becker" and found.statement.paragraph == 5


def test_a_paraphrased_claim_finds_its_speaker(who):
    question = "Which official argued the bigger port would cover its own cost through fees?"
    found = who.speaker_for(question, "harbour")
    assert found is not None and found.name == "Tom Becker" and found.statement.paragraph == 4


def test_no_speaker_when_the_question_names_the_only_candidate(who):
    # the question names Becker, so the answer cannot be Becker; nobody else said it
    assert who.speaker_for("Who said Tom Becker wants shipping fees to pay for the port?", "harbour") is None


def test_a_statement_nobody_made_gets_no_speaker(who):
    assert who.speaker_for("Who said the mayor will resign next year?", "harbour") is None


def test_words_given_to_the_wrong_person_are_caught(who):
    wrong = who.misattributed("Tom Becker said the dredging would destroy the seagrass beds.", "harbour")
    assert wrong is not None and wrong.statement.speaker == "Maria Lopez"


@pytest.mark.parametrize(
    "sentence",
    [
        "Maria Lopez said the dredging would destroy the seagrass beds.",
        "Lopez warned that the seagrass does not come back in a lifetime.",  # surname, her own quote
        "Becker argued the port would pay for itself within ten years.",
        "The council voted to widen the harbour.",  # names nobody
    ],
)
def test_words_given_to_their_speaker_pass(who, sentence):
    assert who.misattributed(sentence, "harbour") is None


def test_people_and_their_forms(who):
    lopez = who.person("Lopez", "harbour")
    assert lopez is not None and lopez.name == "Maria Lopez"
    named = who.named("Becker and Lopez disagreed.", "harbour")
    assert [p.name for p in named] == ["Tom Becker", "Maria Lopez"]


@pytest.mark.parametrize(
    ("sentence", "speaking"),
    [
        ("Maria Lopez, a marine biologist, warned that the seagrass would go.", ["Maria Lopez"]),
        ("“It pays for itself,” said Becker.", ["Tom Becker"]),
        ("According to Lopez, the beds will not come back.", ["Maria Lopez"]),
        ("The council was told to ask Becker about the fees.", []),  # Becker says nothing here
        ("Becker was told the plan would cost 40 million dollars.", []),  # passive: told, not telling
        ("Lopez studies seagrass and Becker runs the finances.", []),
        ("The sister of Maria Lopez warned that the seagrass would go.", []),  # the sister speaks
        ("A spokesman for Tom Becker said the port would pay for itself.", []),
        ("Tom Becker said the port would pay for itself.", ["Tom Becker"]),  # once, not also as "Becker"
    ],
)
def test_who_a_sentence_has_speak(who, sentence, speaking):
    assert [p.name for p in who.speaking(sentence, "harbour")] == speaking


def test_a_passive_sentence_naming_someone_gives_them_no_words(who):
    sentence = "Becker was told the dredging would destroy the seagrass beds."
    assert who.misattributed(sentence, "harbour") is None


def test_a_source_named_by_relation_answers_who_begged(embedder):
    story = (
        "Clinic stays open\n\nMarch 3, 2025\n\nPeter Hale runs the only clinic on the island.\n\n"
        "Hale's brother begged him to close the clinic before the storm, but Hale refused.\n"
    )
    doc = parse_document(story, doc_id="clinic")
    texts = {(p.doc, p.number): p.text for p in doc.paragraphs}
    who = WhoSaid({doc.id: attribute(doc)}, embedder.encode, texts=texts)
    found = who.speaker_for("Who pleaded with Peter Hale to shut the clinic before the storm?", "clinic")
    assert found is not None and (found.name, found.person) == ("Hale's brother", None)
    assert found.statement.text.startswith("to close the clinic")
    text = who.speaker_text(found, doc.paragraph(found.statement.paragraph), "¶2")
    assert text == "Hale's brother begged him to close the clinic before the storm, but Hale refused. [¶2]"


@pytest.mark.parametrize(
    ("question", "name", "paragraph"),
    [
        ("What did Maria Lopez say about the seagrass?", "Maria Lopez", 3),  # her quote, not her claim
        ("What did Lopez say about the young fish?", "Maria Lopez", 2),
        ("What did the finance chief say about other ports?", "Tom Becker", 5),  # named by role
        ("And what did Becker say about shipping fees?", "Tom Becker", 4),
        # A follow-up's search query carries the earlier question: the matter is only the young fish.
        ("What did Lopez say about the young fish? (Does the seagrass come back in our lifetime?)",
         "Maria Lopez", 2),
        # What they said, as a clause: their statement holding nearly all of it.
        ("What did Lopez say does not come back in our lifetime?", "Maria Lopez", 3),
        ("And what did Becker say would pay for itself?", "Tom Becker", 4),
    ],
)
def test_what_someone_said_about_a_matter(who, question, name, paragraph):
    found = who.said_about(question, "harbour")
    assert found is not None and (found.name, found.statement.paragraph) == (name, paragraph)


@pytest.mark.parametrize(
    "question",
    [
        "What did Maria Lopez say about the budget?",  # none of her statements holds it
        "What did the mayor say about the seagrass?",  # nobody the article names or describes
        "What did the article say about the seagrass?",
        "Who said the seagrass would not come back?",  # a who-said question: speaker_for's
        "What did Tom Becker say he had been told about the port?",  # "told": in none of his
        "What did Lopez say would pay for itself?",  # Becker's words, not hers
    ],
)
def test_no_statement_when_the_matter_or_the_person_is_missing(who, question):
    assert who.said_about(question, "harbour") is None


def test_the_answer_quotes_the_sentence_asked_about(embedder):
    fund = "while other ports grow. The reserve fund will cover it,”"
    story = STORY.replace("while other ports grow,”", fund)
    doc = parse_document(story, doc_id="harbour")
    texts = {(p.doc, p.number): p.text for p in doc.paragraphs}
    who = WhoSaid({doc.id: attribute(doc)}, embedder.encode, texts=texts)
    first = who.said_about("What did Becker say about other ports?", "harbour")
    assert who.speaker_text(first, doc.paragraph(5), "¶5") == (
        "Tom Becker said: “We cannot afford to stand still while other ports grow…” [¶5]"
    )
    second = who.said_about("What did Becker say about the reserve fund?", "harbour")
    assert second.statement == first.statement
    said = who.speaker_text(second, doc.paragraph(5), "¶5")
    assert said == "Tom Becker said: “…The reserve fund will cover it.” [¶5]"


@pytest.mark.parametrize("switch", [True, False])
def test_the_assistant_gives_the_statement_on_the_matter_asked(story, switch):
    from backend_helpers import ScriptedBackend

    from rag import Assistant
    from rag.assistant import AssistantConfig, Checks

    retriever = story(STORY, "harbour")
    other = "Tom Becker argued that the larger port would pay for itself within ten years through fees."
    checks = Checks() if switch else Checks().without("said_about")
    config = AssistantConfig(checks=checks, calibrators={})
    bot = Assistant(retriever, ScriptedBackend(f"{other} [¶4]"), config)
    answer = bot.ask("What did Becker say about other ports?")
    assert not answer.refused
    if switch:
        assert answer.text.startswith("Tom Becker said: “We cannot afford")
        assert answer.citations[0].paragraph == 5
    else:
        assert answer.text.startswith(other) and answer.citations[0].paragraph == 4


@pytest.mark.parametrize("switch", [True, False])
def test_another_statement_from_the_same_paragraph_is_not_the_one_asked_about(story, switch):
    # The reply names the speaker and cites the right paragraph, but gives his other sentence.
    from backend_helpers import ScriptedBackend

    from rag import Assistant
    from rag.assistant import AssistantConfig, Checks

    fund = "while other ports grow. The reserve fund will cover it,”"
    retriever = story(STORY.replace("while other ports grow,”", fund), "harbour")
    other = "Tom Becker said the council cannot afford to stand still while other ports grow."
    checks = Checks() if switch else Checks().without("said_about")
    config = AssistantConfig(checks=checks, calibrators={})
    question = "What did Becker say about the reserve fund?"
    answer = Assistant(retriever, ScriptedBackend(f"{other} [¶5]"), config).ask(question)
    assert not answer.refused and answer.citations[0].paragraph == 5
    if switch:
        assert answer.text == "Tom Becker said: “…The reserve fund will cover it.” [¶5]"
    else:
        assert answer.text.startswith(other)
    # A reply that does give the sentence asked about stands as the model wrote it.
    said = "Tom Becker said the reserve fund will cover it."
    kept = Assistant(retriever, ScriptedBackend(f"{said} [¶5]"), config)
    assert kept.ask(question).text == f"{said} [¶5]"


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("What did the marine biologist say?", "What did the marine biologist (Maria Lopez) say?"),
        ("Why did the biologist object?", "Why did the biologist (Maria Lopez) object?"),
        ("What did the finance chief argue?", "What did the finance chief (Tom Becker) argue?"),
        ("What did the Dutch biologist say?", None),  # a word the description lacks: someone else
        ("Who is the biologist?", None),  # asks who: the role answers it, not the question
        ("What did Lopez say?", None),  # already named
        ("What did the mayor say?", None),  # nobody the article describes so
        ("What did the council say?", None),  # no person's role
    ],
)
def test_a_role_the_article_gives_one_person_stands_for_them(who, question, named):
    assert who.by_role(question, "harbour") == named


@pytest.mark.parametrize(
    ("question", "unknown"),
    [
        ("What did the mayor say?", "a mayor"),  # no mayor in the article
        ("What did the French ambassador say about the harbour?", "an ambassador"),
        ("What did the finance chief say?", None),  # the article's role
        ("What did the council's economist say?", None),  # "council" is in Becker's description
        ("What did the Coastal spokesman say?", None),  # "Coastal" is in Lopez's
        ("What did the CEO say?", None),  # an acronym may be spelled out ("chief executive")
        ("What did the biologists say?", None),  # a word close to the article's
        ("What did Lopez say?", None),  # a name, not a role
        ("Who is the mayor?", None),  # not a said-about question
    ],
)
def test_a_role_the_article_never_has_is_unknown(who, question, unknown):
    vocabulary = {w for p in parse_document(STORY, doc_id="harbour").paragraphs
                  for w in re.findall(r"[a-z0-9]+", p.text.lower())}  # fmt: skip
    assert who.unknown_role(question, vocabulary, "harbour") == unknown


def test_a_role_two_articles_give_is_nobody_in_particular(embedder):
    text = "Port fees rise\n\nAnn Ode, the port's finance chief, said fees would rise."
    other = parse_document(text, doc_id="port")
    doc = parse_document(STORY, doc_id="harbour")
    both = WhoSaid({d.id: attribute(d) for d in (doc, other)}, embedder.encode)
    assert both.by_role("What did the finance chief say?") is None
    named = "What did the finance chief (Ann Ode) say?"
    assert both.by_role("What did the finance chief say?", "port") == named


def test_what_someone_said_is_their_first_statement(who):
    found = who.said_about("What did the finance chief (Tom Becker) say?", "harbour")
    assert (found.name, found.statement.paragraph) == ("Tom Becker", 4)
    assert who.said_about("What did Lopez say?", "harbour").statement.paragraph == 2
    assert who.said_about("What else did Lopez say?", "harbour") is None  # another statement is asked for


@pytest.mark.parametrize("switch", [True, False])
def test_the_assistant_asks_with_the_name_of_the_person_a_role_stands_for(story, switch):
    from backend_helpers import ScriptedBackend

    from rag import Assistant
    from rag.assistant import AssistantConfig, Checks

    checks = Checks() if switch else Checks().without("roles")
    reply = "Maria Lopez said the dredging would destroy the seagrass beds. [¶2]"
    config = AssistantConfig(checks=checks, calibrators={})
    bot = Assistant(story(STORY, "harbour"), ScriptedBackend(reply), config)
    answer = bot.ask("What does the marine biologist fear?")
    assert answer.query == ("What does the marine biologist (Maria Lopez) fear?" if switch
                            else "What does the marine biologist fear?")  # fmt: skip


@pytest.mark.parametrize("switch", [True, False])
def test_the_assistant_gives_what_someone_said_from_the_attribution(story, switch):
    from backend_helpers import ScriptedBackend

    from rag import Assistant
    from rag.assistant import AssistantConfig, Checks

    checks = Checks() if switch else Checks().without("said_about")
    reply = "The city council voted on Tuesday to widen the harbour. [¶1]"  # not what she said
    config = AssistantConfig(checks=checks, calibrators={})
    bot = Assistant(story(STORY, "harbour"), ScriptedBackend(reply), config)
    answer = bot.ask("What did the marine biologist say?")
    if switch:  # her first statement, from the article's attribution
        assert answer.text.startswith("Maria Lopez, a marine biologist at the Coastal Institute, said the")
        assert answer.citations[0].paragraph == 2
    else:  # the reply is judged as any other: off the matter asked, and withheld
        assert not answer.text.startswith("Maria Lopez")


@pytest.mark.parametrize(
    ("said", "ended"),
    [("a signal", "a signal."), ("a signal.", "a signal."), ("create problems.”", "create problems.”"),
     ('a "real problem."', 'a "real problem."'), ("a real problem…", "a real problem…")],
)  # fmt: skip
def test_a_reported_claim_ends_in_one_full_stop(said, ended):
    from rag.who_said import _full_stop

    assert _full_stop(said) == ended


# -- a source's name is no answer to what it reports ----------------------------------------------
FLOOD = """River floods the old town

Rescue crews moved 40 residents to the sports hall on Friday night, according to the Valley Gazette.

Fire chief Anna Berg said the water rose faster than forecast.
"""


@pytest.fixture(scope="module")
def flood(embedder) -> tuple[WhoSaid, object]:
    doc = parse_document(FLOOD, doc_id="flood")
    return WhoSaid({doc.id: attribute(doc)}, embedder.encode), doc


@pytest.mark.parametrize(
    ("sentence", "question", "only"),
    [
        ("The Valley Gazette.", "Where were the residents moved?", True),
        ("Valley Gazette [¶1]", "Where were the residents moved?", True),
        ("The sports hall.", "Where were the residents moved?", False),  # the answer itself
        ("The Valley Gazette.", "Which newspaper reported the move?", False),  # a source is asked for
        ("The Valley Gazette.", "According to whom were the residents moved?", False),
        ("Anna Berg.", "Who said the water rose faster than forecast?", False),  # a person
        ("Anna Berg.", "What is the name of the fire chief?", False),  # a person, not an outlet
        ("The Valley Gazette says the residents were moved.", "Where were the residents moved?", False),
    ],
)
def test_a_bare_source_name_is_told_from_an_answer(flood, sentence, question, only):
    who, doc = flood
    assert who.outlet_only(sentence, doc.paragraphs, question) is only


@pytest.mark.parametrize("switch", [True, False])
def test_the_grounder_removes_a_source_given_as_the_answer(story, switch):
    from backend_helpers import ScriptedBackend

    from rag import Assistant
    from rag.assistant import AssistantConfig, Checks

    retriever = story(FLOOD, "flood")
    checks = Checks() if switch else Checks().without("outlets")
    config = AssistantConfig(checks=checks, calibrators={}, second_look=None)
    answer = Assistant(retriever, ScriptedBackend("The Valley Gazette. [¶1]"), config).ask(
        "Where were the residents moved?"
    )
    if switch:
        assert answer.refused and answer.removed == ("The Valley Gazette.",)
        assert "sports hall" in answer.text  # the decline quotes the sentence that says where
    else:
        assert not answer.refused and answer.text.startswith("The Valley Gazette.")


RULING = """Court halts plant expansion

A state court on Monday blocked the expansion of the Halvorsen Chemicals plant on the Mill River.

Judge Elena Marsh wrote that the department "failed to take the hard look the law requires."

The lawsuit was brought by Clean Mill River, a group of about 300 residents. Its chair, retired
teacher Margaret Ruiz, said the ruling was "a victory for every family that drinks from this river."
"""


@pytest.fixture(scope="module")
def ruling(embedder) -> tuple[WhoSaid, object]:
    doc = parse_document(RULING, doc_id="ruling")
    texts = {(p.doc, p.number): p.text for p in doc.paragraphs}
    return WhoSaid({doc.id: attribute(doc)}, embedder.encode, texts=texts), doc


def test_one_word_names_no_statement(ruling):
    who, _ = ruling
    # "ruling" is in Ruiz's statement, but the one who wrote the ruling is Marsh: a single word
    # is no statement, so the question is left to the model.
    assert who.speaker_for("Who wrote the ruling?", "ruling") is None
    found = who.speaker_for("Who called the ruling a victory for every family?", "ruling")
    assert found is not None and found.name == "Margaret Ruiz"


def test_a_description_before_the_name_leaves_no_comma_after_it(ruling):
    who, doc = ruling
    found = who.speaker_for("Who called the ruling a victory for every family?", "ruling")
    text = who.speaker_text(found, doc.paragraph(3), "¶3")
    assert text.startswith("Margaret Ruiz said the ruling was"), text


# -- the speaker the question asks for (switch ``asked_speaker``) ---------------------------------
REPLY = [
    "Tom Becker argued that the larger port would pay for itself within ten years.",
    "Maria Lopez said the dredging would destroy the seagrass beds where young fish grow.",
    "“Once the seagrass is gone, it does not come back in our lifetime,” she (Maria Lopez) said.",
]


@pytest.mark.parametrize(
    ("question", "off"),
    [
        ("Why is the harbour plan a risk, according to Lopez?", {0}),  # Becker's words go
        ("What does Lopez say the dredging would do?", {0}),
        ("Why does Becker say the port pays?", {1, 2}),
        ("Why did the council vote for the plan?", set()),  # asks for nobody's words
        ("What did Becker and Lopez say?", set()),  # two people: both answer
    ],
)
def test_sentences_giving_another_persons_words(who, question, off):
    assert who.off_speaker(REPLY, question, ["harbour"]) == off


def test_no_sentence_goes_when_none_gives_the_asked_persons_words(who):
    assert who.off_speaker(REPLY[:1], "What did Lopez say?", ["harbour"]) == set()


@pytest.mark.parametrize("switch", [True, False])
def test_the_grounder_keeps_the_asked_speakers_sentences(who, embedder, switch):
    from rag.grounding import Grounder, GroundingChecks, SourceMap
    from rag.types import Paragraph

    doc = parse_document(STORY, doc_id="harbour")
    sources = SourceMap.build([Paragraph("harbour", p.number, p.text) for p in doc.paragraphs])
    checks = GroundingChecks(asked_speaker=switch)
    grounder = Grounder(embedder.encode, checks=checks, off_speaker=who.off_speaker)
    reply = f"{REPLY[0]} [¶4] {REPLY[1]} [¶2]"
    checked = grounder.check(reply, sources, question="Why is the plan a risk, according to Lopez?")
    assert checked.supported == (1 if switch else 2)
    assert (checked.removed == (REPLY[0],)) is switch


def test_a_why_answer_gives_the_asked_speakers_reasons(who):
    from rag.evidence import ScoredSentence
    from rag.explain import choose

    doc = parse_document(STORY, doc_id="harbour")
    attributions = attribute(doc)
    paragraphs = {p.number: p for p in doc.paragraphs}
    scored = [ScoredSentence(paragraphs[n], paragraphs[n].text, score, 0.5, 0.5, None, 0)
              for n, score in ((4, 0.9), (2, 0.85))]  # fmt: skip
    everyone = choose(scored, attributions)  # Becker's reason, then Lopez's
    assert [s.paragraph.number for s, _ in everyone] == [4, 2]
    lopez = choose(scored, attributions, asked="Maria Lopez")
    assert [(s.paragraph.number, who) for s, who in lopez] == [(2, "Maria Lopez")]


@pytest.mark.parametrize(
    ("question", "text", "described"),
    [
        ("Who is Maria Lopez?", "Maria Lopez is a marine biologist at the Coastal Institute.", True),
        ("who was Lopez", "Lopez is a marine biologist at the Coastal Institute.", True),
        ("Who is Maria Lopez?", "Maria Lopez is a marine biologist.", False),  # part of a description
        ("Who is Maria Lopez?", "Tom Becker is the council's finance chief.", False),  # someone else
        ("Who is the biologist?", "Maria Lopez is a marine biologist at the Coastal Institute.", False),
        ("Where does Lopez work?", "Lopez is a marine biologist at the Coastal Institute.", False),
    ],
)
def test_a_reply_giving_the_description_the_article_gives(who, question, text, described):
    assert who.describes(question, text, "harbour") is described


@pytest.mark.parametrize(
    ("question", "found"),
    [
        ("Who is Maria Lopez?", ("Maria Lopez: a marine biologist at the Coastal Institute", 2)),
        ("who was Becker", ("Tom Becker: the council's finance chief", 4)),
        ("Who is the biologist?", None),  # no one named
        ("What did Lopez say?", None),
    ],
)
def test_the_description_the_article_gives_whom_who_is_names(who, question, found):
    doc = parse_document(STORY, doc_id="harbour")
    assert who.description(question, "harbour", lambda n: doc.paragraph(n).text) == found


@pytest.mark.parametrize("switch", [True, False])
def test_who_is_with_a_reply_that_fails_the_checks_gets_the_articles_description(story, switch):
    from backend_helpers import ScriptedBackend

    from rag import Assistant
    from rag.assistant import AssistantConfig, Checks

    checks = Checks() if switch else Checks().without("who_is")
    reply = "Tom Becker is the finance chief of Portland, Oregon. [¶4]"  # a place the article never names
    config = AssistantConfig(checks=checks, calibrators={})
    answer = Assistant(story(STORY, "harbour"), ScriptedBackend(reply), config).ask("Who is Tom Becker?")
    if switch:
        assert answer.text == "Tom Becker: the council's finance chief. [¶4]" and not answer.refused
        assert [c.paragraph for c in answer.citations] == [4]
    else:
        assert answer.refused and "Portland" not in answer.text
