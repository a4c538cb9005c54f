"""Why and how: the article's own reasons, each with the person who gives it.

"Why could North Korea's help put Putin in its debt?" is answered with what the article says,
not with what a model makes of it: "Victor Cha says: “… that creates a lot of ‘you owe me’ …”
[¶5] Kim Du-yeon adds: “North Korea might say, ‘You owe me, Russia, …’” [¶8]".

1. The article's sentences are scored against the question (:mod:`rag.evidence`, the search
   and scoring of a single fact). The best one comes first (often the article's own statement
   of what is asked about), then up to two more from other paragraphs that score nearly as
   well.
2. Each is said with the person the attribution data gives it to: their quotation or reported
   claim, verbatim, cited. Sentences the article states itself stand as they are.
3. Whether to answer is decided as for a single fact: with a language model, the model that has
   read the article is asked whether it answers the question (its probability of "yes" through
   the calibrator); without one, by the extractive backend's calibrated confidence. When the
   article gives no reason, the reply says so and quotes what it does say nearest to it.

Measured on the whole-article set (eval/whole): the local model asked to write the reasons
itself, with the speaker of each checked afterwards, held 0.36 of the points of the seed
article's why/how items; it declined answerable questions, quoted the wrong sentence, and
turned a claim around ("Russia might give North Korea … munitions, missiles, and troops": the
article says Putin needs them). No reason of the model's own can reach the reader this way.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence, Set
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .backends import BackendError, Verifier
from .conversation import heuristic_rewrite, needs_context
from .evidence import ScoredSentence
from .extractive import choose_sentences
from .grounding import restates
from .prompt import check_messages
from .step import Step
from .text import NOT_IN_ARTICLE, balance_quotes, content_words, strip_markers, without_dateline
from .types import StreamEvent

if TYPE_CHECKING:
    from .whole import Request

log = logging.getLogger(__name__)

MAX_REASONS = 3
NEAR = 0.6  # another sentence counts when it scores at least this share of the best one
NO_REASON = NOT_IN_ARTICLE
WHAT_IT_SAYS = "What it does say nearest to the question:"
_REPORTING = (
    r"(?:says|said|adds|added|notes|noted|argues|argued|warns|warned|explains|explained|believes|believed|"
    r"suggests|suggested|thinks|stresses|stressed|points\s+out|pointed\s+out|highlights|highlighted|"
    r"claims|claimed|contends|observes|observed|told|tells|stated|states)"
)

# A sentence that links an event to its cause ("… would recall 140,000 vehicles after the regulator
# found a faulty sensor", "because", "due to", "officials blamed the low turnout"): a why-question's
# reason, given before the sentences that only score as well. "After the match, …" opening a
# sentence sets a time, not a cause.
_CAUSE = re.compile(
    r"(?<!^)\b(?:because|due\s+to|owing\s+to|thanks\s+to|as\s+a\s+result|after|so\s+that|in\s+order\s+to|"
    r"therefore|hence|reasons?|caus(?:e|ed|es|ing)|(?:led|leads?|leading)\s+to|result(?:ed|s|ing)?\s+in|"
    r"amid|over\s+(?:concerns?|fears?|worries)|blam(?:e|es|ed|ing)|attribut(?:e|es|ed|ing)\s+(?:\w+\s+){0,3}?to"
    # "fined … for favouring its own service", "jailed for taking bribes" (not "for nothing")
    r"|for\s+(?![a-z]*thing\b|morning\b|evening\b|spring\b)[a-z]{2,}ing)\b",
    re.IGNORECASE,
)

Made = Callable[[], Any]  # the article's attribution data, made when first needed


def explain(request: Request, attributions: Made, *, model: bool = True) -> Iterator[StreamEvent]:
    """Answer a why/how question (see the module docstring)."""
    a = request.assistant
    question = request.question
    query = question
    if request.conversation and needs_context(question):
        query = heuristic_rewrite(question, request.conversation, people=a.people, pronouns=a.pronouns)
        yield StreamEvent("status", f"Searching for: {query}")
    passages = a.retriever.search(query, k=a.config.k, doc=request.doc)
    scored = a.evidence.score(query, passages)
    retrieve_s = time.perf_counter() - request.start
    signals = a._signals(question, query, scored)
    step = Step(question, query, passages, scored, request.start, retrieve_s, signals)
    uses_model = model and request.shown is not None and not request.reading
    if uses_model and isinstance(request.backend, Verifier) and a.checks.verifier:
        try:
            answerable = request.backend.yes_probability(check_messages(request.head(), question,
                                                                        request.conversation))  # fmt: skip
            signals = replace(signals, answerable=answerable, support=1.0, similarity=1.0)
        except BackendError as exc:  # judged without the verifier, as on the fact path
            log.info("the verifier failed (%s); judged without it", exc)
        confidence = a._confidence("llm", signals)
        decline = confidence is not None and confidence.decline
    else:
        quoted = a._extractive(step).answer
        confidence = None
        decline = quoted is None or quoted.refused
    if decline:
        yield _no_reason(request, step, "low confidence", confidence.value if confidence else None)
        return
    asked = content_words(query) if a.checks.grounding.restates else frozenset()  # switch ``restates``
    named = a.who_said.speaking(question, request.doc) if a.checks.grounding.asked_speaker else []
    reasons = choose(scored, attributions(), asked, named[0].name if len(named) == 1 else None,
                     causes=a.checks.causes)  # fmt: skip
    if not reasons:
        yield _no_reason(request, step, "weak evidence", None)
        return
    text = say(reasons, attributions())
    event = request.answer(text, [request.citation(s.paragraph) for s, _ in reasons])
    assert event.answer is not None
    yield replace(event, answer=replace(event.answer, passages=tuple(step.passages),
                                        confidence=confidence.value if confidence else None,
                                        signals=tuple(signals.as_dict().items())))  # fmt: skip


def choose(
    scored: Sequence[ScoredSentence], attributions: Any, question_words: Set[str] = frozenset(),
    asked: str | None = None, *, causes: bool = False,
) -> list[tuple[ScoredSentence, str | None]]:
    """The reasons to give: the best sentence, then up to two more from other paragraphs that
    score nearly as well, each with its speaker. A sentence that only restates the question
    ("Some doctors urged caution." for "Why did some doctors urge caution?") gives no reason.
    When the question names one person (``asked``: "…, according to Raman?") and the article
    gives them a reason, only their reasons are given (switch ``asked_speaker``). With
    ``causes``, of the sentences that score nearly as well as the best, those that state a cause
    ("because", "due to", "after …") come first (switch ``causes``)."""
    candidates = []
    for s in scored:
        if s.paragraph.number == 0 and any(c.paragraph.number > 0 for c in scored):
            continue  # a photo caption gives no reason
        if question_words and restates(content_words(s.text), set(question_words)):
            continue
        speaker = speaker_of(attributions, s) if attributions is not None else None
        candidates.append((s.score, s, speaker))
    if asked is not None and any(speaker == asked for _, _, speaker in candidates):
        candidates = [c for c in candidates if c[2] == asked]
    if not candidates:
        return []
    candidates.sort(key=lambda c: -c[0])
    best = candidates[0][0]
    if causes:  # stable: by score within each group
        candidates.sort(key=lambda c: c[0] < NEAR * best or not _CAUSE.search(c[1].text))
    chosen: list[tuple[ScoredSentence, str | None]] = []
    for score, s, speaker in candidates:
        if len(chosen) >= MAX_REASONS or (chosen and score < NEAR * best):
            break
        if any(c.paragraph == s.paragraph for c, _ in chosen):
            continue
        chosen.append((s, speaker))
    return chosen


def speaker_of(attributions: Any, sentence: ScoredSentence) -> str | None:
    """Who makes the claim in ``sentence``: the speaker of a statement of its paragraph that the
    sentence holds."""
    text = sentence.paragraph.text
    start = text.find(sentence.text)
    end = start + len(sentence.text)
    for statement in attributions.in_paragraph(sentence.paragraph.number):
        inside = start >= 0 and statement.start < end and statement.end > start
        if statement.speaker and (inside or statement.text in sentence.text):
            return statement.speaker
    return None


def say(reasons: Sequence[tuple[ScoredSentence, str | None]], attributions: Any) -> str:
    """The reasons as the article writes them, each cited, with its speaker's full name written in
    where the article leaves it to a pronoun or a surname ("she (Kim Du-yeon) said"), or before it
    ("(Sydney Seiler:) “…”") where the sentence does not name them at all."""
    people = attributions.people if attributions is not None else ()
    out = []
    for s, speaker in reasons:
        sentence = _named_in(s, attributions) if attributions is not None else s.text
        sentence = balance_quotes(without_dateline(strip_markers(sentence)))
        if speaker and not _names(sentence, speaker, people):
            sentence = f"({speaker}:) {sentence}"
        out.append(f"{sentence} [¶{s.paragraph.number}]")
    return " ".join(out)


def _named_in(sentence: ScoredSentence, attributions: Any) -> str:
    """``sentence`` with the speakers' names its paragraph leaves implicit written in
    (:func:`rag.attribution.reader_notes`)."""
    from .attribution import reader_notes

    text = sentence.paragraph.text
    start = text.find(sentence.text)
    if start < 0:
        return sentence.text
    end = start + len(sentence.text)
    out, last = [], start
    for at, note in reader_notes(sentence.paragraph, attributions):
        if start <= at <= end and not note.endswith(":) "):
            out += [text[last:at], note]
            last = at
    return "".join([*out, text[last:end]])


def _no_reason(request: Request, step, reason: str, confidence: float | None) -> StreamEvent:
    """"The article does not say", then what it does say nearest to the question, quoted and cited."""
    a = request.assistant
    extract = choose_sentences(step.query, step.scored, a.config.extractive)
    text = NO_REASON
    if extract.sentences:
        quoted = " ".join(f"“{strip_markers(s.text)}” [¶{s.paragraph.number}]" for s in extract.sentences)
        text = f"{NO_REASON} {WHAT_IT_SAYS} {quoted}"
    event = request.answer(text, (), refused=True, reason=reason)
    assert event.answer is not None
    return replace(event, answer=replace(event.answer, passages=tuple(step.passages), confidence=confidence,
                                         signals=tuple(step.signals.as_dict().items())))  # fmt: skip




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
            said = rf"\b{name}\b(?:[’']s)?,?\s+(?:\w+\s+)?{_REPORTING}\b|\b(?i:according\s+to)\s+{name}\b"
            if re.search(said, sentence):
                found.add(person.name)
    return found


def _names(sentence: str, speaker: str, people: Sequence[Any]) -> bool:
    """Whether ``sentence`` names ``speaker`` at all (a quote paragraph ending "…,” Cha said.")."""
    person = next((p for p in people if p.name == speaker), None)
    forms = _forms(person) if person is not None else [speaker]
    return any(re.search(rf"\b{re.escape(f)}\b", sentence) for f in forms)
