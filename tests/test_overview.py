"""Summaries and key points (rag.overview, rag.salience) through the real assistant.

Retrieval, the sentence checks and the article are real. The extractive backend gives the
article's most important sentences; a scripted model stands in only to write on demand what a
model may write (one sentence too many, an invented one, a reply that ignores the count). The
real local model (SmolLM2) shows the length kept, the citations, the reuse of the article it has
read, and the part-by-part summary of an article longer than its window.
"""

from __future__ import annotations

import re

import pytest
from backend_helpers import SMOLLM2, ScriptedBackend, linked_cache
from conftest import with_reading

from rag.assistant import Assistant, AssistantConfig
from rag.backends.llama_cpp import LlamaCppBackend
from rag.evaluation.points import length_kept
from rag.overview import FILLED_NOTE, PARTS_NOTE, QUOTED_NOTE, swapped
from rag.text import find_markers, split_sentences, strip_markers

LEAD = "could put Russian President Vladimir Putin in Pyongyang’s debt"
INVENTED = "Kim Jong-un has promised 50,000 more soldiers to Vladimir Putin by December."


@pytest.fixture(scope="module")
def bot(retriever) -> Assistant:
    return Assistant(retriever)


def sentences(text: str) -> list[str]:
    return split_sentences(strip_markers(text))


def bullets(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("- ")]


def every_unit_cited(answer, units: list[str]) -> None:
    cited = {c.paragraph for c in answer.citations}
    for unit in units:
        numbers = [n for _, _, refs in find_markers(unit) for _, n in refs]
        assert numbers and set(numbers) <= cited, unit


# -- no model: the article's most important sentences ----------------------------------------------
def test_a_summary_without_a_model_quotes_the_lead_first_and_keeps_the_count(bot):
    answer = bot.ask("Summarize the article in three sentences.")
    assert not answer.refused and QUOTED_NOTE in answer.notes
    assert len(sentences(answer.text)) == 3 and length_kept(answer.text, (("sentences", 3),))
    assert LEAD in answer.text.split("[¶")[0]  # the lead comes first
    parts = re.split(r"(?<=\])\s+", answer.text)
    every_unit_cited(answer, parts)
    for c in answer.citations:
        assert c.text == bot.retriever.paragraph(c.doc, c.paragraph).text


@pytest.mark.parametrize(("question", "count"), [("Give me 5 key points.", 5), ("List 3 key points", 3)])
def test_key_points_are_bullets_in_the_number_asked(bot, question, count):
    answer = bot.ask(question)
    assert len(bullets(answer.text)) == count == len(answer.text.splitlines())
    every_unit_cited(answer, bullets(answer.text))
    assert LEAD in answer.text.splitlines()[0]  # the main news first
    speakers = {s for s in ("Cha", "Kim Du-yeon", "Seiler", "Hong Min") if s in answer.text}
    assert len(speakers) >= count // 2  # the main claims and who makes them, not the lead again


def test_a_word_limit_is_never_passed(bot):
    for words in (15, 50, 120):
        answer = bot.ask(f"Summarize the article in {words} words.")
        assert 0 < len(strip_markers(answer.text).split()) <= words
        assert answer.citations


# -- a scripted model: what a model may write -----------------------------------------------------
def scripted(retriever, reply: str) -> tuple[Assistant, ScriptedBackend]:
    backend = ScriptedBackend(reply)
    return Assistant(retriever, backend), backend


def test_a_model_summary_is_cut_to_the_count_and_its_invention_replaced(retriever):
    reply = (
        "North Korea's dispatch of personnel could put Putin in Pyongyang's debt, experts said. "
        f"{INVENTED} "
        "Victor Cha said that if North Korean troops die for Russia, that creates a lot of 'you owe me'. "
        "Seiler said China may feel its limited leverage over North Korea is being eroded."
    )
    bot, backend = scripted(retriever, reply)
    events = list(bot.stream("Summarize the article in three sentences."))
    assert "".join(e.text for e in events if e.kind == "delta").startswith("North Korea's dispatch")
    answer = events[-1].answer
    assert answer is not None and len(backend.calls) == 1
    assert "50,000" not in answer.text and any("50,000" in r for r in answer.removed)
    assert len(sentences(answer.text)) == 3
    assert "Pyongyang's debt" in answer.text and "you owe me" in answer.text
    assert "leverage" not in answer.text  # the model was stopped once it had written three
    assert FILLED_NOTE in answer.notes  # the invented one's place: the article's own sentence


def test_too_few_supported_sentences_are_filled_from_the_article(retriever):
    bot, _ = scripted(retriever, f"North Korea's help could put Putin in its debt, experts said. {INVENTED}")
    answer = bot.ask("Give me 4 key points.")
    assert len(bullets(answer.text)) == 4 and FILLED_NOTE in answer.notes
    assert "50,000" not in answer.text
    every_unit_cited(answer, bullets(answer.text))


def test_the_summary_is_asked_after_the_article_with_the_count(retriever):
    bot, backend = scripted(retriever, "Putin could be in Pyongyang's debt, experts said.")
    bot.ask("Summarize the article in two sentences.")
    prompt = backend.calls[0][-1].content
    assert "Hong Min, a senior research fellow" in prompt  # the whole article, ¶23 included
    assert prompt.rstrip().endswith("Answer in 2 sentences of under 20 words, naming who makes each claim.")


# -- the real local model --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def smol(tmp_path_factory, cache_root, smollm2_reading):
    """SmolLM2 starting from `rag warm`'s reading of the seed article (these tests are about the
    summaries: `test_backend_llama_cpp.py` tests the reading)."""
    cache = with_reading(linked_cache(tmp_path_factory.mktemp("overview-llama"), cache_root), smollm2_reading)
    return LlamaCppBackend(SMOLLM2, cache_dir=cache, n_ctx=4096)  # threads: as the app picks them


def test_the_local_model_summary_keeps_the_count_and_costs_only_its_own_tokens(retriever, smol):
    bot = Assistant(retriever, smol, AssistantConfig(while_reading="wait"))
    bot.warm()
    before = smol.evaluated_tokens
    events = list(bot.stream("Summarize the article in two sentences."))
    answer = events[-1].answer
    assert answer is not None and not answer.refused
    assert smol.evaluated_tokens - before < 200  # the article was not read again
    assert len(sentences(answer.text)) == 2
    every_unit_cited(answer, re.split(r"(?<=\])\s+", answer.text))
    assert any(e.kind == "delta" for e in events)
    assert answer.timings.first_token_s is not None and answer.timings.first_token_s <= answer.timings.total_s


def test_an_article_longer_than_the_window_is_summarised_part_by_part(retriever, smol):
    # The seed article is about 1,400 of SmolLM2's tokens: parts of at most 600 make three.
    config = AssistantConfig(article_context_tokens=800)
    bot = Assistant(retriever, smol, config)
    events = list(bot.stream("Give me 3 key points."))
    statuses = [e.text for e in events if e.kind == "status"]
    assert sum("Reading part" in s for s in statuses) >= 3 and any("Merging" in s for s in statuses)
    answer = events[-1].answer
    assert answer is not None and PARTS_NOTE in answer.notes
    assert len(bullets(answer.text)) == 3
    every_unit_cited(answer, bullets(answer.text))
    assert max(c.paragraph for c in answer.citations) > 0


def test_a_copied_sentence_with_its_names_changed_is_removed(retriever):
    reply = (
        "NATO and the United States confirmed evidence of North Korean troops in Russia. "
        "China and Iran confirmed for the first time on Wednesday evidence of North Korean troops in Russia."
    )
    bot, _ = scripted(retriever, reply)
    answer = bot.ask("Summarize the article in two sentences.")
    assert any("China and Iran confirmed" in r for r in answer.removed)  # NATO and the US said it
    assert "NATO and the United States confirmed" in answer.text
    rover = "Japan will design, develop, and operate a pressurized rover. NASA will provide the launch."
    assert swapped("NASA will design, develop, and operate a pressurized rover.", [rover])
    assert not swapped("Japan will design and operate a pressurized rover.", [rover])
    # Two sentences of a paragraph joined: the second's name comes with its words, no swap.
    river = ("The river peaked at 7.9 meters in Hollby on Tuesday morning, nearly three meters above its "
             "normal level. Forecasters expect another 60 millimeters of rain by Thursday.")  # fmt: skip
    joined = ("The river peaked at 7.9 meters in Hollby, and forecasters expect another 60 millimeters of "
              "rain by Thursday.")  # fmt: skip
    assert not swapped(joined, [river])
    assert swapped("The river peaked at 7.9 meters in Hollby on Thursday morning.", [river])
