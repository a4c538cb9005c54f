"""Who is quoted, "Which of them …", lists of a kind (rag.listing) and who gives each reason
(rag.explain.attribute), from the real attribution data (spaCy) of real articles.

No language model: the people and the names come from the article itself, so the extractive
backend answers them too.
"""

from __future__ import annotations

import pytest
from conftest import CORPUS_DIR, EVAL_DIR

from rag import Assistant, load_corpus
from rag.attribution import Attributor
from rag.explain import named_speakers
from rag.text import NOT_IN_ARTICLE, strip_markers

EXPERTS = {
    "Victor Cha": "Center for Strategic and International Studies",
    "Kim Du-yeon": "Center for a New American Security",
    "Sydney Seiler": "CSIS",
    "Hong Min": "Korea Institute for National Unification",
}
NEWS = EVAL_DIR / "news-open" / "corpora"


@pytest.fixture(scope="module")
def bot(retriever) -> Assistant:
    return Assistant(retriever)


@pytest.fixture(scope="module")
def seed_people():
    return Attributor()(load_corpus(CORPUS_DIR).documents[0])


def after(bot, first: str, question: str):
    history = [{"role": "user", "content": first}, {"role": "assistant", "content": bot.ask(first).text}]
    return bot.ask(question, history=history)


def test_who_is_quoted_names_all_four_experts_with_their_affiliation(bot):
    answer = bot.ask("Who are the experts quoted, and where do they work?")
    assert not answer.refused
    head, *lines = answer.text.splitlines()
    assert strip_markers(head) == (
        "The article quotes four experts: Victor Cha, Kim Du-yeon, Sydney Seiler and Hong Min."
    )
    for name, affiliation in EXPERTS.items():
        line = next(line for line in lines if line.startswith(f"- {name}:"))
        assert affiliation in line and "[¶" in line
    for c in answer.citations:  # each description cited where the article gives it
        assert c.text == bot.retriever.paragraph(c.doc, c.paragraph).text
    assert "Kim Jong-un" not in answer.text  # quoted, but no expert


def test_who_is_quoted_lists_everyone_quoted_in_the_order_they_speak(bot):
    head = strip_markers(bot.ask("Who is quoted?").text.splitlines()[0])
    order = [head.find(n) for n in ("Victor Cha", "Kim Du-yeon", "Sydney Seiler", "Kim Jong-un", "Hong Min")]
    assert -1 not in order and order == sorted(order)
    assert "Vladimir Putin" not in head  # named, never quoted


def test_which_of_them_is_a_woman_follows_the_articles_pronoun_and_guesses_nothing(bot):
    answer = after(bot, "Who are the experts quoted, and where do they work?", "Which of them is a woman?")
    assert strip_markers(answer.text).startswith("Kim Du-yeon (the article refers to her as “she”")
    assert [c.paragraph for c in answer.citations] == [8]  # “… ,” she said.
    assert "Seiler" not in answer.text.split(".")[0]
    other = Assistant.from_corpus(NEWS / "canada-document-street", backend="extractive")
    reply = after(other, "Who is quoted?", "Which of them is a woman?")
    assert strip_markers(reply.text).startswith("Sujata Raisinghani")
    assert "Julie Hahn (" not in reply.text  # a woman's name, but the article never says "she"


def test_which_of_them_resolves_an_acronym_and_says_so_when_the_article_is_silent(bot):
    csis = after(bot, "Who is quoted?", "Which of them works for CSIS?")
    named = strip_markers(csis.text)
    assert "Victor Cha" in named and "Sydney Seiler" in named
    assert "Kim Du-yeon" not in named and "Hong Min" not in named
    oldest = after(bot, "Who is quoted?", "Which of them is the oldest?")
    assert oldest.refused and oldest.text.startswith(NOT_IN_ARTICLE) and "is the oldest" in oldest.text


def test_a_kind_of_person_is_read_from_the_articles_wording(retriever):
    cup = Assistant.from_corpus(NEWS / "world-cup-day-five", backend="extractive")
    answer = cup.ask("Which coaches are quoted?")
    head = strip_markers(answer.text.splitlines()[0])
    assert head == "The article quotes two coaches: Hernan Dario Gomez and Nabil Maaloul."
    assert "Tunisia's coach" in answer.text  # how the article introduces him, quoted


def test_lists_of_places_and_organisations_come_from_the_articles_names(bot):
    places = strip_markers(bot.ask("Which countries are mentioned in the article?").text)
    for country in ("North Korea", "Russia", "Ukraine", "South Korea", "United States", "China", "Iran"):
        assert country in places
    assert "Hong Min" not in places and "SEOUL" not in places
    orgs = bot.ask("What organisations does the article mention?")
    assert "NATO" in orgs.text and "Korea Institute for National Unification" in orgs.text
    assert all(line.rstrip().endswith("]") for line in orgs.text.splitlines()[1:])  # each item cited


def test_a_kind_without_a_name_type_needs_a_model(bot):
    answer = bot.ask("List the missiles mentioned in the article.")
    assert answer.refused and "language model" in answer.text


# -- who gives each reason -----------------------------------------------------------------------
def test_why_is_answered_with_the_articles_reasons_and_who_gives_each(bot):
    answer = bot.ask("Why could North Korea's help put Putin in its debt?")
    assert not answer.refused
    text = strip_markers(answer.text)
    assert "you owe me" in text and "Cha (Victor Cha) said" in text  # the surname written out
    assert {c.paragraph for c in answer.citations} >= {5}
    for c in answer.citations:
        assert c.text == bot.retriever.paragraph(c.doc, c.paragraph).text
    given = bot.ask("What might Russia give North Korea in return?")
    assert "concessions" in given.text and "Kim Du-yeon" in given.text


def test_a_reason_the_article_does_not_give_is_declined_with_what_it_says(bot):
    answer = bot.ask("Why did Zelensky resign?")
    assert answer.refused and answer.text == NOT_IN_ARTICLE


def test_speakers_are_named_by_any_form_the_article_uses(seed_people):
    people = seed_people.people
    assert named_speakers("Cha says it creates ‘you owe me’.", people) == {"Victor Cha"}
    assert named_speakers("According to Hong, the bases were a signal.", people) == {"Hong Min"}
    assert named_speakers("Kim Jong-un could drive a hard bargain.", people) == set()


def test_a_list_of_who_did_something_takes_the_subjects_of_the_verb():
    cup = Assistant.from_corpus(NEWS / "world-cup-day-five", backend="extractive")
    scored = strip_markers(cup.ask("List the players who scored.").text)
    for name in ("Andreas Granqvist", "Dries Mertens", "Romelu Lukaku", "Harry Kane", "Ferjani Sassi"):
        assert name in scored
    assert "Kevin De Bruyne" not in scored and "Eden Hazard" not in scored  # their assists, not goals
    booked = strip_markers(cup.ask("List the players who were booked.").text)
    assert "Hwang Hee-Chan" in booked and "Kyle Walker" in booked and "Granqvist" not in booked


COUNCIL = """Council approves bridge repairs

March 3, 2025

The city council voted 7-2 on Monday to repair the Harbor Street bridge.

"We cannot keep patching this bridge," said Mayor Deborah Keane, who proposed the plan in February.

Councillor Tom Reyes, who voted against it, said the city should have asked for more money first.

Local business owners were divided. Anna Chu, who runs a bakery two blocks from the bridge, said she worried about traffic. "People will just stop coming," she said.

Lena Ortiz, who said she drives across daily, welcomed the vote. "It is overdue," Ortiz said.

Inspector Sara Holm called the bridge "a daily risk for everyone who uses it."
"""  # noqa: E501


def test_who_is_quoted_gives_the_who_clause_that_introduces_a_person(story):
    """ "Anna Chu, who runs a bakery …" introduces her; a clause that reports words ("who said
    she drives …") does not, and a quote before a name is not read as a role."""
    lines = Assistant(story(COUNCIL, "council")).ask("Who is quoted in the article?").text.splitlines()
    assert "- Deborah Keane: Mayor [¶2]; who proposed the plan in February [¶2]" in lines
    assert "- Anna Chu: who runs a bakery two blocks from the bridge [¶4]" in lines
    assert not any("who said" in line or "patching" in line for line in lines)
    assert "- Sara Holm: Inspector [¶6]" in lines  # not "“…Inspector Sara Holm”": it adds nothing


CUP = """Late header sends Rivertown into cup final

April 4, 2026

Rivertown equalised just before half-time through a penalty by captain Leo Marsh, awarded after Ruiz handled the ball in his own area.

"I just closed my eyes and jumped," said Jonah Pike, 19, a defender.

Marsh said it would be his last season.
"""  # noqa: E501


def test_a_participle_after_a_name_is_not_who_they_are(story):
    """ "… a penalty by captain Leo Marsh, awarded after Ruiz handled the ball": the participle
    belongs to the penalty."""
    lines = Assistant(story(CUP, "cup")).ask("Who is quoted in the article?").text.splitlines()
    marsh = [line for line in lines if "Leo Marsh" in line]
    assert marsh and not any("awarded" in line for line in marsh)


STUDY = "\n\n".join([
    "Heat waves raised hospital admissions, study finds",
    "Hospital admissions for heart and lung problems rose by about 20 percent during the three "
    "longest heat waves of the past decade, according to a study published on Wednesday.",
    "Some doctors urged caution. Dr. Anna Berg, a cardiologist who was not involved in the study, "
    "said hospital records alone could not show whether the heat caused the admissions.",
    '"It is a strong signal, but we need data on what patients were doing before they came in," '
    "she said.",
])  # fmt: skip


@pytest.mark.parametrize("switch", [True, False])
def test_a_sentence_restating_the_why_question_is_no_reason(story, switch):
    from rag.assistant import AssistantConfig, Checks

    checks = Checks() if switch else Checks().without("restates")
    bot = Assistant(story(STUDY, "study"), None, AssistantConfig(checks=checks))
    answer = bot.ask("Why did some doctors urge caution?")
    assert not answer.refused
    if switch:
        assert "hospital records alone" in answer.text and "Some doctors urged caution" not in answer.text
        assert "“It is a strong signal" in answer.text or '"It is a strong signal' in answer.text
    else:
        assert strip_markers(answer.text).startswith("Some doctors urged caution.")


STORM = """Storm cuts power in the north

Nov. 12, 2026

A winter storm forced the evacuation of three coastal villages, Aldby, Brekke and Colnes, on Tuesday.

Crews from Norway, Sweden and Finland worked to restore power, the emergency office said.

Meteorologist Ane Dahl said storms of this strength had become more frequent.
"""


@pytest.mark.parametrize("switch", [True, False])
def test_a_kind_the_article_names_lists_what_it_ties_to_that_word(story, switch):
    """ "three coastal villages, Aldby, Brekke and Colnes": the villages are those, not every
    place the article names (Norway is a country)."""
    from rag.assistant import AssistantConfig, Checks

    checks = Checks() if switch else Checks().without("anchored")
    bot = Assistant(story(STORM, "storm"), config=AssistantConfig(checks=checks))
    text = bot.ask("List the villages mentioned.").text
    if switch:
        assert text == "The article mentions three villages: Aldby [¶1], Brekke [¶1] and Colnes [¶1]."
    else:
        assert "Norway" in text  # every place spaCy finds


def test_a_profession_opening_a_sentence_is_a_role_not_a_first_name(story):
    lines = Assistant(story(STORM, "storm")).ask("Who is quoted in the article?").text.splitlines()
    assert "- Ane Dahl: Meteorologist [¶3]" in lines


PACTS = """Two capitals sign defence pact

May 3, 2026

The two leaders signed the Northern Defence Partnership treaty on Friday.

Neither country has joined the Arms Trade Treaty, officials said.
"""


def test_a_kind_word_inside_a_name_lists_the_whole_name(story):
    text = Assistant(story(PACTS, "pacts")).ask("List the treaties mentioned.").text
    assert text == ("The article mentions two treaties: Northern Defence Partnership [¶1] and "
                    "Arms Trade Treaty [¶2].")  # fmt: skip
