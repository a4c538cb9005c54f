"""Why and how: the article's own reasons, each with the person who gives it.

"Why could North Korea's help put Putin in its debt?" is answered from the whole article the
model has read, asked to give the reasons the article gives and to name who gives each ("Cha
says … [¶5]; Kim Du-yeon adds … [¶8]"). Then:

- every sentence goes through the sentence checks (a reason of the model's own is backed by no
  paragraph and is removed);
- a sentence that names someone as the one saying it must cite a paragraph where that person
  speaks (the attribution data), else it is removed: a claim is never moved to another mouth;
  a sentence naming no one, citing a paragraph where exactly one person speaks, is said to be
  theirs ("According to Kim Du-yeon, …");
- the verifier and the calibrated confidence decide answer or decline, as for a single fact;
- when the article gives no reason, the reply says so and gives what it does say nearest to the
  question, quoted and cited.

With no model this is the fact path's extractive answer.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .backends import Verifier
from .conversation import heuristic_rewrite, needs_context
from .evidence import expected_type
from .extractive import choose_sentences
from .prompt import check_messages, question_tail
from .text import NOT_IN_ARTICLE, find_markers, strip_markers
from .types import StreamEvent

if TYPE_CHECKING:
    from .whole import Request

MAX_TOKENS = 170
# Short: every token is read before the first word comes. Asked for the article's words, the
# model copies its reasons instead of turning them around; it names speakers seldom, so the
# attribution data names them (:func:`attribute`).
INSTRUCTION = "Use the article's words and name who says it."
NO_REASON = NOT_IN_ARTICLE
WHAT_IT_SAYS = "What it does say nearest to the question:"
_REPORTING = (
    r"(?:says|said|adds|added|notes|noted|argues|argued|warns|warned|explains|explained|believes|believed|"
    r"suggests|suggested|thinks|stresses|stressed|points\s+out|pointed\s+out|highlights|highlighted|"
    r"claims|claimed|contends|observes|observed|told|tells)"
)
_STARTERS = {"the", "this", "that", "these", "those", "it", "its", "there", "if", "a", "an", "such", "both"}


Made = Callable[[], Any]  # the article's attribution data, made when first needed


def explain(request: Request, attributions: Made, *, model: bool = True) -> Iterator[StreamEvent]:
    """Answer a why/how question (see the module docstring)."""
    from .assistant import QUOTED_WHILE_READING, _drop_prompt_echo, _Step

    a = request.assistant
    question = request.question
    query = question
    if request.conversation and needs_context(question):
        query = heuristic_rewrite(question, request.conversation, people=a.people)
        yield StreamEvent("status", f"Searching for: {query}")
    passages = a.retriever.search(query, k=a.config.k, doc=request.doc)
    scored = a.evidence.score(query, passages)
    retrieve_s = time.perf_counter() - request.start
    signals = a._signals(question, query, scored)
    step = _Step(question, query, passages, scored, request.start, retrieve_s, signals)
    if not model or request.backend is None or request.reading or request.shown is None:
        if request.backend is not None and model and request.shown is None:
            yield from a._generate(step, request.conversation)  # too long to read whole: the fact path
            return
        event = a._extractive(step)
        if request.reading and event.answer is not None:
            notes = (QUOTED_WHILE_READING, *event.answer.notes)
            event = replace(event, answer=replace(event.answer, notes=notes))
        yield event
        return
    tail = question_tail(question, request.conversation) + " " + INSTRUCTION
    messages = request.messages(tail)
    pieces: list[str] = []
    first = None
    for piece in request.stream_model(messages, MAX_TOKENS):
        first = first if first is not None else time.perf_counter() - request.start
        pieces.append(piece)
        yield StreamEvent("delta", piece)
    reply = "".join(pieces)
    if a.checks.echo:
        reply = _drop_prompt_echo(reply, messages[0].content + " " + INSTRUCTION)
    checked = a.grounder.check(reply, request.sources, question=question)
    people = attributions()
    text, moved = attribute(checked.text, people) if people is not None else (checked.text, [])
    removed = (*checked.removed, *moved)
    kept = [c for c in checked.citations if f"¶{c.paragraph}]" in text or f"¶{c.paragraph}," in text]
    signals = a._answer_signals(step.signals, checked, expected_type(question))
    if not strip_markers(text) or checked.supported == 0 or len(moved) >= checked.supported:
        reason = "model declined" if checked.refusal else "unsupported"
        yield _no_reason(request, step, removed, first, reason, draft=reply)
        return
    if a.checks.verifier and isinstance(request.backend, Verifier):
        from .backends import BackendError

        try:
            check = check_messages(request.head(), question, request.conversation)
            answerable = request.backend.yes_probability(check)
            signals = replace(signals, answerable=answerable)
        except BackendError:  # judged without the verifier, as on the fact path
            pass
    confidence = a._confidence("llm", signals)
    if confidence is not None and confidence.decline:
        yield _no_reason(request, step, (strip_markers(text), *removed), first, "low confidence", draft=reply,
                         confidence=confidence.value)  # fmt: skip
        return
    event = request.answer(text, kept, first_token_s=first, removed=removed, draft=reply)
    assert event.answer is not None
    answer = replace(
        event.answer,
        confidence=confidence.value if confidence else None,
        signals=tuple(signals.as_dict().items()),
        passages=tuple(step.passages),
    )
    yield StreamEvent("final", answer=answer)


def _no_reason(request: Request, step, removed, first, reason: str, *, draft: str = "", confidence=None):
    """"The article does not say", then what it does say nearest to the question, cited."""
    a = request.assistant
    extract = choose_sentences(step.query, step.scored, a.config.extractive)
    text = NO_REASON
    if extract.sentences:
        quoted = " ".join(f"“{strip_markers(s.text)}” [¶{s.paragraph.number}]" for s in extract.sentences)
        text = f"{NO_REASON} {WHAT_IT_SAYS} {quoted}"
    event = request.answer(text, (), first_token_s=first, refused=True, removed=removed, draft=draft,
                           reason=reason)  # fmt: skip
    assert event.answer is not None
    return replace(
        event, answer=replace(event.answer, passages=tuple(step.passages), confidence=confidence,
                              signals=tuple(step.signals.as_dict().items()))
    )  # fmt: skip


# -- who gives each reason ----------------------------------------------------------------------
def cited_sentences(text: str) -> list[tuple[str, list[int], str]]:
    """``text`` (checked: every sentence followed by its markers) as ``(sentence, numbers, markers)``."""
    out = []
    pos = 0
    run_start = run_end = None
    numbers: list[int] = []
    for start, end, refs in find_markers(text):
        if run_end is not None and text[run_end:start].strip():
            out.append((text[pos:run_start].strip(), numbers, text[run_start:run_end].strip()))
            pos, numbers, run_start = run_end, [], None
        if run_start is None:
            run_start = start
        numbers = numbers + [n for _, n in refs]
        run_end = end
    if run_end is not None and run_start is not None:
        out.append((text[pos:run_start].strip(), numbers, text[run_start:run_end].strip()))
        pos = run_end
    if text[pos:].strip():
        out.append((text[pos:].strip(), [], ""))
    return out


def attribute(text: str, attributions: Any) -> tuple[str, list[str]]:
    """Sentences that put a claim in the wrong mouth removed; unnamed ones given their speaker."""
    kept: list[str] = []
    removed: list[str] = []
    for sentence, numbers, markers in cited_sentences(text):
        if not numbers:
            kept.append(sentence)
            continue
        here = _speakers_at(attributions, numbers)
        named = named_speakers(sentence, attributions.people)
        if named and here and not (named & here):
            removed.append(sentence)  # "Seiler says …" citing a paragraph where only Kim speaks
            continue
        if not named and len(here) == 1 and not _names_anyone(sentence, attributions.people):
            sentence = f"According to {next(iter(here))}, {_lower_first(sentence)}"
        kept.append(f"{sentence} {markers}".strip())
    return " ".join(kept), removed


def _speakers_at(attributions: Any, numbers: Sequence[int]) -> set[str]:
    found: set[str] = set()
    for n in numbers:
        found |= {s for s in attributions.speakers(n) if s}
    return found


def _forms(person) -> list[str]:
    """Every way the article names a person: full name, aliases, surname."""
    forms = [person.name, *getattr(person, "aliases", ())]
    parts = person.name.split()
    if len(parts) > 1:
        forms.append(parts[-1])
    return [f for f in dict.fromkeys(forms) if f]


def named_speakers(sentence: str, people: Sequence[Any]) -> set[str]:
    """The people ``sentence`` names as the one saying something ("Cha says", "according to Hong")."""
    found = set()
    for person in people:
        for form in _forms(person):
            name = re.escape(form)
            said = rf"\b{name}\b(?:[’']s)?\s+(?:\w+\s+)?{_REPORTING}\b|\b(?i:according\s+to)\s+{name}\b"
            if re.search(said, sentence):
                found.add(person.name)
    return found


def _names_anyone(sentence: str, people: Sequence[Any]) -> bool:
    return any(re.search(rf"\b{re.escape(form)}\b", sentence) for p in people for form in _forms(p))


def _lower_first(sentence: str) -> str:
    first = sentence.split(" ", 1)[0]
    return sentence[0].lower() + sentence[1:] if first.lower() in _STARTERS else sentence
