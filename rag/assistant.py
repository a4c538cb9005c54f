"""Grounded answers with paragraph citations, from a pluggable backend.

>>> bot = Assistant.from_corpus("corpus", backend="extractive")
>>> answer = bot.ask("Who confirmed the troops were in Russia?")
>>> answer.text, answer.refused, answer.citations, answer.confidence

The pipeline around the model does the grounding, because the small local models invent
numbers and obey injected instructions:

1. the question is checked (empty, too long, hostile instructions);
2. a follow-up gets a standalone search query (pronouns resolved from the conversation); the
   model itself sees the conversation after the article;
3. hybrid retrieval, then sentence-level evidence scoring;
4. the backend answers from fenced, numbered paragraphs (the whole article when it fits, read
   once and kept by the backend) or the extractive backend picks sentences; the reply streams;
5. every sentence is checked against the retrieved paragraphs: bad markers dropped, missing
   ones added, unsupported sentences removed;
6. the model is asked whether the article states the answer (its probability of "yes"), and a
   calibrated probability from all the signals (:mod:`rag.calibration`) decides: answer, or
   decline offering the closest paragraphs. A failing backend falls back to the extractive
   answer, marked as such.

Every check has a switch (:class:`Checks`) and an ablation row in the evaluation report.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from .attribution import Attributions, reader_text
from .backends import BackendError, ChatBackend, PrefixCache, Verifier, make_backend
from .backends.registry import EXTRACTIVE
from .calibration import Calibrator, Signals, load_calibrators
from .conversation import bound_history, heuristic_rewrite, needs_context, normalize_history
from .embeddings import EncodeCache
from .evidence import (
    EvidenceConfig,
    EvidenceScorer,
    ScoredSentence,
    answers_type,
    expected_type,
    unknown_names,
)
from .extractive import ExtractiveConfig, choose_sentences
from .grounding import CheckedAnswer, Grounder, GroundingChecks, SourceMap, Thresholds
from .prompt import Prompt, build_prompt, check_messages, passage_check_messages, with_tail
from .retriever import Retriever, RetrieverConfig, default_cache_root, default_corpus
from .router import route as route_question
from .safety import InputError, Limits, clean_question, detect_injection, strip_injections
from .text import NOT_IN_ARTICLE, content_words, split_sentences, strip_markers
from .types import Answer, ChatMessage, Citation, Paragraph, Passage, StreamEvent, Timings
from .who_said import SpeakerAnswer, WhoSaid, WhoSaidConfig
from .whole import WholeArticle

log = logging.getLogger(__name__)

DEFAULT_BACKEND = "llama-cpp"
PRIME_MARKER = "<<question>>"  # stands for the question while the article prefix is primed
READING_NOTE = (
    "The model is still reading this article for the first time; this answer is written from "
    "its most relevant sentences."
)
QUOTED_WHILE_READING = (
    "The model is still reading this article for the first time; meanwhile this answer quotes "
    "the article's best-matching sentences. Ask again in a minute for the model's answer."
)
SECOND_LOOK_NOTE = (
    "The model found no answer, but judged that the article likely has one: these are the article's "
    "best-matching sentences, quoted."
)
WAITING_TO_READ = "The model is reading this article for the first time (later questions reuse its reading)…"
WHILE_READING = ("quote", "sentences", "wait")
CITATIONS = ("aligner", "model")
INJECTION_REPLY = (
    "I can only answer questions about the article, from its text. That message asks me to change "
    "how I answer (or to reveal or invent something), so I won't. Ask me about the article instead."
)


@dataclass(frozen=True)
class Checks:
    """Switches of the answer path (each has an ablation row in the evaluation report).

    ``injection``: a question carrying hostile instructions is declined before anything else.
    ``echo``: sentences of a reply that repeat the rules (a model leaking its instructions) are
    dropped before the checks (a rule shaped like a decline would otherwise pass them).
    ``unknown_names``: a question naming someone or something the corpus never mentions
    (acronyms count by their long form) is declined before the model is asked. ``grounding``:
    the sentence checks (:class:`~rag.grounding.GroundingChecks`). ``verifier``: the model is
    asked whether the article answers the question (its probability of "yes" is a signal).
    ``calibrator``: the calibrated probability decides answer or decline. ``who_said``: a
    who-said question gets the speaker the article gives for the statement it matches
    (:mod:`rag.who_said`). ``speaker_context``: the model reads each paragraph with its
    speakers written in where the text leaves them implicit ("she (Kim Du-yeon) said").
    ``second_look``: after the model declines, its P(yes) that the article answers the question
    decides whether the article's best sentences are quoted instead (``AssistantConfig.second_look``).
    Checks that did not pay were removed (docs/grounding.md).
    """

    injection: bool = True
    echo: bool = True
    unknown_names: bool = True
    verifier: bool = True
    calibrator: bool = True
    who_said: bool = True
    speaker_context: bool = True
    second_look: bool = True
    grounding: GroundingChecks = field(default_factory=GroundingChecks)

    def without(self, *names: str) -> Checks:
        """These checks with ``names`` switched off (grounding's own names too)."""
        mine = {n: False for n in names if n in self.__dataclass_fields__ and n != "grounding"}
        theirs = {n: False for n in names if n in GroundingChecks.__dataclass_fields__}
        unknown = set(names) - set(mine) - set(theirs)
        if unknown:
            raise ValueError(f"unknown check(s): {', '.join(sorted(unknown))}")
        return replace(self, **mine, grounding=replace(self.grounding, **theirs))


CHECK_NAMES = (
    *(n for n in Checks.__dataclass_fields__ if n != "grounding"),
    *GroundingChecks.__dataclass_fields__,
)


@dataclass(frozen=True)
class AssistantConfig:
    """Settings of an :class:`Assistant` (all passed in; nothing global).

    ``calibrators``: the :class:`~rag.calibration.Calibrator` per kind of backend
    (``"llm"``, ``"llm-no-verifier"``, ``"extractive"``); ``None`` loads the packaged ones.
    ``while_reading``: how a question is answered while the model is still reading its article
    (a new article, read in the background): ``"quote"`` (default) quotes the best sentences at
    once, as the extractive backend does, with that path's calibrated declines;
    ``"sentences"`` has the model answer from those sentences (the short-context prompt),
    taking its turn between the reading's steps. Both answers carry a note saying so.
    ``"wait"`` has the question wait until the model has read the article (what a one-shot
    program wants, such as ``rag ask``: it would exit before a background reading ends).
    ``speaker_notes``: how the article's speakers are written into the paragraphs the model reads
    (``"implicit"``: only where the text names nobody, "she (Kim Du-yeon) said"; ``"inline"``: a
    surname too, "Cha (Victor Cha) said"; see :func:`rag.attribution.reader_text`).
    ``citations``: ``"aligner"`` (default) shows the model plain paragraphs and the sentence
    checks cite the paragraph that states each sentence; ``"model"`` labels the paragraphs
    (``[¶3]``) and asks the model to cite, keeping its markers where they back the sentence.
    """

    k: int = 4
    max_answer_tokens: int = 120
    max_context_tokens: int = 380
    temperature: float = 0.0
    fallback: bool = True
    context_sentences: int = 4
    article_context_tokens: int = 3000
    while_reading: str = "quote"
    citations: str = "aligner"
    speaker_notes: str = "implicit"
    evidence: EvidenceConfig = field(default_factory=EvidenceConfig)
    who_said: WhoSaidConfig = field(default_factory=WhoSaidConfig)
    checks: Checks = field(default_factory=Checks)
    # Chosen on squad2-open qa-train's model declines (P(yes) of answerable 0.30-0.56, of
    # unanswerable 0.10-0.44): the lowest value that rescues answers without losing a decline.
    second_look: float | None = 0.45
    calibrators: Mapping[str, Calibrator] | None = None
    extractive: ExtractiveConfig = field(default_factory=ExtractiveConfig)
    grounding: Thresholds = field(default_factory=Thresholds)
    limits: Limits = field(default_factory=Limits)
    whole_article: bool = True  # requests about the whole article take their own paths (rag.whole)

    def __post_init__(self) -> None:
        if self.citations not in CITATIONS:
            raise ValueError(f"citations must be one of {CITATIONS}, not {self.citations!r}")
        if self.while_reading not in WHILE_READING:
            raise ValueError(f"while_reading must be one of {WHILE_READING}, not {self.while_reading!r}")


class Assistant:
    """Answers questions about a corpus, citing the paragraphs it used."""

    def __init__(
        self,
        retriever: Retriever,
        backend: ChatBackend | None = None,
        config: AssistantConfig | None = None,
    ) -> None:
        self.retriever = retriever
        self.backend = backend
        self.config = config or AssistantConfig()
        self.checks = self.config.checks
        self._articles: dict[str, list[tuple[Paragraph, str]] | None] = {}
        self._heads: dict[str, Prompt] = {}
        self.attributions: dict[str, Attributions] = retriever.attributions()
        self.people = list(dict.fromkeys(
            form for a in self.attributions.values() for p in a.people for form in (p.name, *p.aliases)
        ))  # fmt: skip
        self.evidence = EvidenceScorer(retriever, self.config.evidence, people=self.people)
        encode = EncodeCache(retriever.embedder.encode, known=self.evidence.sentence_vectors())
        texts = {(p.doc, p.number): p.text for d in retriever.corpus.documents for p in d.paragraphs}
        self.who_said = WhoSaid(self.attributions, encode, self.config.who_said, texts)
        spelled = retriever.acronyms.knows if retriever.acronyms else None
        self.grounder = Grounder(
            encode,
            self.config.grounding,
            strip_injections,
            self.checks.grounding,
            spelled=spelled,
            speakers=self._speakers,
            misattributed=self._misattributed,
        )
        calibrators = self.config.calibrators
        self.calibrators = dict(load_calibrators() if calibrators is None else calibrators)
        self.whole = WholeArticle(self)

    @classmethod
    def from_corpus(
        cls,
        path: str | Path | None = None,
        *,
        backend: str | ChatBackend = DEFAULT_BACKEND,
        config: AssistantConfig | None = None,
        retriever: Retriever | None = None,
        retriever_config: RetrieverConfig | None = None,
        **backend_options,
    ) -> Assistant:
        """Open the corpus (see :meth:`Retriever.from_corpus`) and the named backend.

        ``backend`` is ``"llama-cpp"`` (default), ``"openai"``, ``"extractive"`` or any
        :class:`~rag.backends.ChatBackend`; ``backend_options`` go to its constructor
        (``model=``, ``base_url=``, ``api_key=`` ...). A local model starts loading in the
        background at once, and reads each article the first time a question needs it (keeping
        what it read in the cache folder for later starts).
        """
        chat = backend if not isinstance(backend, str) else None
        if backend == "llama-cpp":
            if retriever is not None:
                cache = retriever.config.cache_dir or default_cache_root(Path(retriever.corpus.root))
            else:
                given = retriever_config.cache_dir if retriever_config else None
                cache = given or default_cache_root(Path(path if path is not None else default_corpus()))
            backend_options.setdefault("cache_dir", Path(cache))
        if isinstance(backend, str) and backend != EXTRACTIVE:
            chat = make_backend(backend, **backend_options)
            start = getattr(chat, "start_loading", None)
            if callable(start):
                start()  # the model loads while the index opens
        retriever = retriever or Retriever.from_corpus(path, config=retriever_config)
        return cls(retriever, chat, config)

    @property
    def backend_name(self) -> str:
        return self.backend.name if self.backend is not None else EXTRACTIVE

    # -- public API -------------------------------------------------------------------------
    def ask(
        self, question: str, history: Iterable[Mapping | ChatMessage] | None = None, *, doc: str | None = None
    ) -> Answer:
        """Answer ``question`` (with optional chat ``history``); never raises for bad input.

        ``doc``: answer from that article only (its id); default: the whole corpus.
        """
        final = None
        for event in self.stream(question, history, doc=doc):
            if event.kind == "final":
                final = event.answer
        assert final is not None
        return final

    def stream(
        self,
        question: str,
        history: Iterable[Mapping | ChatMessage] | None = None,
        *,
        doc: str | None = None,
    ) -> Iterator[StreamEvent]:
        """Yield status notes, text deltas as the model writes, then the checked final answer.

        The final answer's text replaces everything streamed before it (the checks may
        remove sentences or add citations). ``doc``: answer from that article only.
        """
        start = time.perf_counter()
        try:
            text = clean_question(question, self.config.limits)
            if doc is not None and doc not in self.retriever.documents:
                raise InputError(f"There is no article {doc!r} in the corpus.")
        except InputError as exc:
            yield self._final(str(exc), refused=False, error=str(exc), start=start)
            return
        kind = detect_injection(text) if self.checks.injection else None
        if kind:
            log.info("declined a question with hostile instructions (%s)", kind)
            yield self._final(INJECTION_REPLY, refused=True, start=start, query=text)
            return
        messages = bound_history(
            normalize_history(history)[-self.config.limits.max_history_messages :],
            self.config.limits.max_history_tokens,
        )
        route = route_question(text, messages) if self.config.whole_article else None
        if route is not None and route.whole:  # summaries, key points, lists, people, why/how
            yield from self.whole.stream(text, route, messages, doc=doc, start=start)
            return
        query = text
        conversation: list[ChatMessage] = []
        if messages and needs_context(text):
            query = heuristic_rewrite(text, messages, people=self.people)
            conversation = messages
            yield StreamEvent("status", f"Searching for: {query}")
        passages = self.retriever.search(query, k=self.config.k, doc=doc)
        scored = self.evidence.score(query, passages)
        retrieve_s = time.perf_counter() - start
        step = _Step(text, query, passages, scored, start, retrieve_s, self._signals(text, query, scored))
        unknown = self._unknown(text)
        if unknown and self.checks.unknown_names:
            note = f"The article never mentions {', '.join(dict.fromkeys(unknown))}."
            yield self._decline(step, notes=(note,), reason="unknown name")
            return
        if self.backend is None:
            yield self._extractive(step)
            return
        try:
            yield from self._generate(step, conversation)
        except BackendError as exc:
            log.warning("backend %s failed: %s", self.backend_name, exc)
            if not self.config.fallback:
                message = f"The language model failed: {exc}"
                yield self._final(
                    message, refused=False, error=str(exc), start=start, query=query, passages=passages
                )
                return
            answer = self._extractive(step).answer
            assert answer is not None
            yield StreamEvent("final", answer=replace(answer, fallback=True, error=str(exc)))

    # -- steps ------------------------------------------------------------------------------
    def _unknown(self, question: str, *, all_names: bool = False) -> list[str]:
        """The names in ``question`` the corpus never mentions (acronyms count by their long form)."""
        spelled = self.retriever.acronyms.knows if self.retriever.acronyms else None
        return unknown_names(question, self.evidence.vocabulary, all_names=all_names, spelled=spelled)

    def _speakers(self, paragraph: Paragraph) -> tuple[str, ...]:
        """Who speaks in ``paragraph``, as the attribution step resolved it."""
        found = self.attributions.get(paragraph.doc)
        return found.speakers(paragraph.number) if found else ()

    def _misattributed(self, sentence: str, paragraphs: Sequence[Paragraph]) -> bool:
        """Whether ``sentence`` gives a statement of the article to someone who did not make it."""
        docs = dict.fromkeys(p.doc for p in paragraphs)
        return any(self.who_said.misattributed(sentence, doc) for doc in docs)

    def _speaker_answer(self, step: _Step) -> SpeakerAnswer | None:
        """For a who-said question: the speaker of the statement it matches, if one stands out."""
        if not self.checks.who_said or not step.scored:
            return None
        return self.who_said.speaker_for(step.query, step.scored[0].paragraph.doc)

    def _second_look(
        self, step: _Step, prompt: Prompt, conversation: list[ChatMessage]
    ) -> tuple[StreamEvent | None, float | None]:
        """After the model's own decline: when the model still finds it likely that the article
        answers the question (its P(yes) at least ``second_look``) and the article's best sentences
        answer it by the extractive path's own checks, those sentences, quoted and marked so.
        Also the P(yes) asked, if it was."""
        threshold = self.config.second_look
        if not self.checks.second_look or threshold is None or not isinstance(self.backend, Verifier):
            return None, None
        try:
            check = check_messages(prompt, step.question, conversation=conversation)
            p_yes = self.backend.yes_probability(check)
        except BackendError:
            return None, None
        if p_yes < threshold:
            return None, p_yes
        event = self._extractive(step)
        answer = event.answer
        if answer is None or answer.refused:
            return None, p_yes
        notes = (SECOND_LOOK_NOTE, *answer.notes)
        signals = (*answer.signals, ("answerable", p_yes))
        return replace(event, answer=replace(answer, notes=notes, signals=signals)), p_yes

    def _gives_speaker(self, text: str, citations: Sequence[Citation], found: SpeakerAnswer) -> bool:
        """Whether an answer already names ``found``'s speaker and cites the statement."""
        cited = {(c.doc, c.paragraph) for c in citations}
        if (found.statement.doc, found.statement.paragraph) not in cited:
            return False
        if found.person is not None:
            return found.person in self.who_said.named(text, found.statement.doc)
        return content_words(found.name) <= content_words(text)  # a source that is no person

    def _attributed(
        self,
        step: _Step,
        found: SpeakerAnswer,
        timings: Timings,
        draft: str = "",
        removed: tuple[str, ...] = (),
        notes: tuple[str, ...] = (),
    ) -> StreamEvent:
        """The answer to a who-said question: the article's speaker and the statement, cited."""
        statement = found.statement
        paragraph = self.retriever.paragraph(statement.doc, statement.paragraph)
        label = SourceMap.build([paragraph]).label(paragraph)
        if statement.speaker_start >= 0 and statement.speaker_end <= statement.start:
            # The article's own words from the speaker to the end of the sentence ("Hong noted
            # that …"), a surname or pronoun standing for one person put as the full name.
            mention = paragraph.text[statement.speaker_start : statement.speaker_end]
            one = found.person is not None and (
                self.who_said.person(mention, statement.doc) == found.person or mention.lower() in _PRONOUNS
            )
            end = _sentence_end(paragraph.text, statement.end)
            words = paragraph.text[statement.speaker_end : end].split()
            said = " ".join(words[:QUOTE_WORDS]) + ("…" if len(words) > QUOTE_WORDS else "")
            who = found.name if one else mention
            text = f"{who}{'' if said[:1] in ',;:' else ' '}{said.rstrip('.')}. [{label}]"
        else:
            first = split_sentences(statement.text)[:1] or [statement.text]
            words = first[0].split()
            more = len(words) > QUOTE_WORDS or first[0] != statement.text.strip()
            said = " ".join(words[:QUOTE_WORDS]).rstrip(",;:") + ("…" if more else "")
            if statement.kind == "quote":
                text = f"{found.name} said: “{said.translate(_NESTED).strip('‘’')}” [{label}]"
            else:
                text = f"{found.name} {statement.cue or 'said'} {said.rstrip('.')}. [{label}]"
        answer = Answer(
            text=text,
            refused=False,
            citations=(Citation(paragraph.doc, paragraph.number, paragraph.text),),
            passages=tuple(step.passages),
            backend=self.backend_name,
            query=step.query,
            notes=(*notes, f"Speaker from the article's attribution of {label}."),
            draft=draft,
            removed=removed,
            timings=timings,
            signals=tuple(step.signals.as_dict().items()),
        )
        return StreamEvent("final", answer=answer)

    def _signals(self, question: str, query: str, scored: list[ScoredSentence]) -> Signals:
        """What retrieval and the evidence say before any answer is written."""
        names = self._unknown(question, all_names=True)
        unknown = self._unknown(question)
        return Signals(
            evidence=scored[0].score if scored else 0.0,
            cosine=max((s.cosine for s in scored), default=0.0),
            overlap=max((s.lexical for s in scored), default=0.0),
            unknown=len(unknown) / len(names) if names else 0.0,
            wants_type=float(expected_type(question) in ("number", "time")),
        )

    def _generate(self, step: _Step, conversation: list[ChatMessage]) -> Iterator[StreamEvent]:
        assert self.backend is not None
        article, reading = self._primed_article(step)
        if reading and self.config.while_reading == "wait":
            yield StreamEvent("status", WAITING_TO_READ)
            article, reading = self._primed_article(step, wait=True)
        if reading and self.config.while_reading == "quote":
            yield StreamEvent("status", QUOTED_WHILE_READING)
            yield self._quoted(step)
            return
        notes = (READING_NOTE,) if reading else ()
        prompt = self._prompt(step, conversation, article)
        if notes:
            yield StreamEvent("status", notes[0])
        if prompt.left_out:
            log.info("left %d paragraph(s) out of the prompt (token budget)", len(prompt.left_out))
        first_token_s = None
        pieces: list[str] = []
        for piece in self.backend.stream(
            prompt.messages, max_tokens=self.config.max_answer_tokens, temperature=self.config.temperature
        ):
            if first_token_s is None:
                first_token_s = time.perf_counter() - step.start
            pieces.append(piece)
            yield StreamEvent("delta", piece)
        reply = "".join(pieces)
        if self.checks.echo:
            reply = _drop_prompt_echo(reply, prompt.messages[0].content)
        # Judged against what the reader asked: the search query of a follow-up may already
        # contain words of the answer.
        checked = self.grounder.check(reply, prompt.sources, question=step.question)
        timings = Timings(step.retrieve_s, first_token_s, time.perf_counter() - step.start)
        found = self._speaker_answer(step)
        if found is not None and not self._gives_speaker(checked.text, checked.citations, found):
            # A who-said question: the article's own speaker, not the model's guess.
            yield self._attributed(step, found, timings, draft=reply, removed=checked.removed, notes=notes)
            return
        signals = self._answer_signals(step.signals, checked, expected_type(step.question))
        if checked.supported == 0:
            # The model declined, or wrote nothing the article supports: decline and show the
            # closest paragraphs (a reply that failed the checks is not swapped for another).
            reason = "model declined" if checked.refusal else "unsupported"
            second, p_yes = self._second_look(step, prompt, conversation) if checked.refusal else (None, None)
            if second is not None:
                yield second
                return
            if p_yes is not None:  # kept with the decline, to see where the threshold falls
                signals = replace(signals, answerable=p_yes)
            yield self._decline(step, removed=checked.removed, timings=timings, notes=notes, reason=reason,
                                signals=signals)  # fmt: skip
            return
        if self.checks.verifier and isinstance(self.backend, Verifier):
            # One question to the model that has read the article: does the article answer the
            # question at all? It costs its own few tokens (docs/grounding.md, step 7).
            answered = check_messages(prompt, step.question, conversation=conversation)
            try:
                signals = replace(signals, answerable=self.backend.yes_probability(answered))
            except BackendError as exc:  # the answer stands; it is judged without the verifier
                log.info("the verifier failed (%s); calibrating without it", exc)
        confidence = self._confidence("llm", signals)
        timings = Timings(step.retrieve_s, first_token_s, time.perf_counter() - step.start)
        if confidence is not None and confidence.decline:
            removed = (strip_markers(checked.text), *checked.removed)
            yield self._decline(step, removed=removed, timings=timings, notes=notes, reason="low confidence",
                                signals=signals, confidence=confidence.value)  # fmt: skip
            return
        answer = Answer(
            text=checked.text,
            refused=False,
            citations=checked.citations,
            passages=tuple(step.passages),
            backend=self.backend_name,
            query=step.query,
            removed=checked.removed,
            notes=notes,
            draft=reply,
            timings=timings,
            confidence=confidence.value if confidence else None,
            signals=tuple(signals.as_dict().items()),
        )
        yield StreamEvent("final", answer=answer)

    @staticmethod
    def _answer_signals(before: Signals, checked: CheckedAnswer, kind: str | None) -> Signals:
        words = len(strip_markers(checked.text).split()) if checked.supported else 0
        has = answers_type(kind, checked.text, "") if kind in ("number", "time") else None
        return replace(
            before,
            has_type=1.0 if has is None else float(has),
            support=checked.support,
            similarity=checked.similarity,
            removed=len(checked.removed) / max(1, checked.claims),
            words=math.log1p(words),
            declined=float(checked.refusal),
        )

    def _confidence(self, kind: str, signals: Signals) -> _Confidence | None:
        """The calibrated probability that the answer is right, and whether it is too low."""
        if not self.checks.calibrator:
            return None
        name = kind if signals.answerable is not None or kind != "llm" else "llm-no-verifier"
        calibrator = self.calibrators.get(name)
        if calibrator is None:
            return None
        value = calibrator.probability(signals)
        return _Confidence(value, value < calibrator.threshold)

    def _primed_article(
        self, step: _Step, *, wait: bool = False
    ) -> tuple[list[tuple[Paragraph, str]] | None, bool]:
        """The whole article to answer after, when the model has read it (or can restore what it
        read from the cache), and whether the model is reading it now (started here if needed,
        in the background, for the next question). ``wait``: read it now instead."""
        assert self.backend is not None
        scored = step.scored
        docs = {s.paragraph.doc for s in scored[: self.config.context_sentences]}
        doc = scored[0].paragraph.doc if len(docs) == 1 else None
        article = self._article_context(doc) if doc else None
        if article and isinstance(self.backend, PrefixCache):
            prefix = with_tail(self._head(doc, article), PRIME_MARKER)
            status = self.backend.prepare(prefix, PRIME_MARKER)
            if wait and status in ("reading", "queued"):
                self.backend.prime(prefix, PRIME_MARKER)
            elif status != "ready":
                return None, status in ("reading", "queued")
        return article, False

    def _quoted(self, step: _Step) -> StreamEvent:
        """The extractive answer, marked as given while the model reads the article."""
        event = self._extractive(step)
        assert event.answer is not None
        return replace(event, answer=replace(event.answer, notes=(QUOTED_WHILE_READING, *event.answer.notes)))

    def _prompt(
        self, step: _Step, conversation: list[ChatMessage], article: list[tuple[Paragraph, str]] | None
    ) -> Prompt:
        """The prompt for a question: after the whole ``article`` when given, else after the
        best sentences."""
        assert self.backend is not None
        try:
            prompt = build_prompt(
                step.query if not conversation else step.question,
                article or self.evidence.snippets(step.scored, self.config.context_sentences),
                count_tokens=self.backend.count_tokens,
                context_window=self.backend.context_window,
                max_answer_tokens=self.config.max_answer_tokens,
                max_context_tokens=None if article else self.config.max_context_tokens,
                conversation=conversation,
                labels=self.config.citations == "model",
            )
        except ValueError as exc:  # the question alone does not fit the model's window
            raise BackendError(str(exc), setting="--n-ctx") from exc
        return prompt

    def _head(self, doc: str, article: list[tuple[Paragraph, str]]) -> Prompt:
        """The prompt for article ``doc`` with no question yet (what the model reads once)."""
        if doc not in self._heads:
            assert self.backend is not None
            self._heads[doc] = build_prompt(
                PRIME_MARKER,
                article,
                count_tokens=self.backend.count_tokens,
                context_window=self.backend.context_window,
                max_answer_tokens=self.config.max_answer_tokens,
                labels=self.config.citations == "model",
            )
        return self._heads[doc]

    def _article_context(self, doc: str) -> list[tuple[Paragraph, str]] | None:
        """Every paragraph of article ``doc``, if it fits ``article_context_tokens``; else ``None``.

        A small model answers better from the whole article than from a few sentences, and with
        the article always first in the prompt llama.cpp evaluates it once (see :meth:`warm`):
        a question then costs only its own tokens. Planted instructions are left out.
        """
        limit = self.config.article_context_tokens
        if limit <= 0 or self.backend is None or doc not in self.retriever.documents:
            return None
        if doc not in self._articles:
            document = self.retriever.documents[doc]
            paragraphs = ([self.retriever.paragraph(doc, 0)] if document.caption else []) + list(
                document.paragraphs
            )
            found = self.attributions.get(doc) if self.checks.speaker_context else None
            style = self.config.speaker_notes
            shown = [(p, strip_injections(reader_text(p, found, style) if found else p.text))
                     for p in paragraphs]  # fmt: skip
            self._finish_loading()
            tokens = sum(self.backend.count_tokens(text) + 4 for _, text in shown)
            fits = tokens <= min(limit, self.backend.context_window // 2)
            self._articles[doc] = shown if fits else None
        return self._articles[doc]

    def _finish_loading(self) -> None:
        """Wait for a local model that is still loading, so that it counts with its own tokenizer.

        Until then it counts with an estimate, a few percent off: an article near the limit
        would be read whole or not depending on whether the model had loaded before the first
        question. Only the model's paths call this, and they wait for the model next anyway.
        """
        load = getattr(self.backend, "load", None)
        if callable(load) and getattr(self.backend, "status", "ready") in ("loading", "not loaded"):
            with contextlib.suppress(BackendError):  # reported when the model is asked
                load()

    def warm(self, doc: str | None = None) -> float | None:
        """Let the model read article ``doc`` (default: the first) now, if the backend can keep it.

        Not needed before asking: a question about an article the model has not read is answered
        from the best sentences while the model reads it in the background. Returns the seconds
        taken, or ``None`` when there is nothing to read (no backend that keeps what it reads, or
        an article too long to be read whole).
        """
        if not isinstance(self.backend, PrefixCache) or not self.retriever.corpus.documents:
            return None
        doc = doc or self.retriever.corpus.documents[0].id
        article = self._article_context(doc)
        if not article:
            return None
        return self.backend.prime(with_tail(self._head(doc, article), PRIME_MARKER), PRIME_MARKER)

    def warm_all(
        self, limit: int | None = None, on_read: Callable[[str, float | None], None] | None = None
    ) -> dict[str, float | None]:
        """Let the model read every article now, in corpus order: the first ``limit`` (default:
        as many as the backend keeps saved readings of). Returns the seconds each took, ``None``
        for one with nothing to read (too long to be read whole); ``on_read(doc, seconds)`` is
        called as each is done.
        """
        if not isinstance(self.backend, PrefixCache):
            return {}
        keep = limit if limit is not None else getattr(self.backend, "keep_states", None)
        read: dict[str, float | None] = {}
        for document in self.retriever.corpus.documents[:keep]:
            read[document.id] = self.warm(document.id)
            if on_read is not None:
                on_read(document.id, read[document.id])
        return read

    def rerank(self, question: str, passages: Sequence[Passage]) -> list[Passage]:
        """``passages`` ordered by the model's probability that each holds the answer.

        Needs a backend that reports P("yes") (:class:`~rag.backends.Verifier`); each check is
        asked after the article the model has read, so it costs a few tokens. Passages of an
        article too long to be read whole keep their place after the others.
        """
        if not isinstance(self.backend, Verifier):
            return list(passages)
        scored = []
        for rank, passage in enumerate(passages):
            article = self._article_context(passage.doc)
            if not article:
                scored.append((-1.0, rank, passage))
                continue
            head = self._head(passage.doc, article)
            p = self.backend.yes_probability(passage_check_messages(head, question, passage.text))
            scored.append((p, rank, passage))
        return [p for _, _, p in sorted(scored, key=lambda t: (-t[0], t[1]))]

    def _extractive(self, step: _Step) -> StreamEvent:
        elapsed = time.perf_counter() - step.start
        timings = Timings(step.retrieve_s, elapsed, elapsed)
        extract = choose_sentences(step.query, step.scored, self.config.extractive)
        found = self._speaker_answer(step)
        if found is not None:
            cited = tuple(Citation(s.paragraph.doc, s.paragraph.number, "") for s in extract.sentences)
            if not self._gives_speaker(" ".join(s.text for s in extract.sentences), cited, found):
                event = self._attributed(step, found, timings)
                assert event.answer is not None
                return replace(event, answer=replace(event.answer, backend=EXTRACTIVE))
        if not extract.sentences:
            return self._decline(step, backend=EXTRACTIVE, reason="weak evidence")
        sources = SourceMap.build([s.paragraph for s in extract.sentences])
        # A marker inside the article's own text ("... said [¶99].") must not pose as a citation.
        parts = [f"{strip_markers(s.text)} [{sources.label(s.paragraph)}]" for s in extract.sentences]
        text = " ".join(parts)
        kind = expected_type(step.question)
        has = answers_type(kind, text, step.question) if kind in ("number", "time") else None
        answer_words = content_words(text) - content_words(step.question)
        signals = replace(
            step.signals,
            has_type=1.0 if has is None else float(has),
            support=1.0,
            similarity=1.0,
            words=math.log1p(len(strip_markers(text).split())),
            removed=0.0,
            overlap=step.signals.overlap,
        )
        confidence = self._confidence(EXTRACTIVE, signals) if answer_words else None
        if confidence is not None and confidence.decline:
            return self._decline(step, backend=EXTRACTIVE, reason="low confidence", signals=signals,
                                 confidence=confidence.value, removed=(strip_markers(text),))  # fmt: skip
        citations = tuple(dict.fromkeys(Citation(s.paragraph.doc, s.paragraph.number, s.paragraph.text)
                                        for s in extract.sentences))  # fmt: skip
        answer = Answer(
            text=text,
            refused=False,
            citations=citations,
            passages=tuple(step.passages),
            backend=EXTRACTIVE,
            query=step.query,
            timings=timings,
            confidence=confidence.value if confidence else None,
            signals=tuple(signals.as_dict().items()),
        )
        return StreamEvent("final", answer=answer)

    def _decline(
        self,
        step: _Step,
        *,
        removed: tuple[str, ...] = (),
        timings: Timings | None = None,
        backend: str | None = None,
        notes: tuple[str, ...] = (),
        reason: str = "",
        signals: Signals | None = None,
        confidence: float | None = None,
    ) -> StreamEvent:
        text = NOT_IN_ARTICLE + closest_text(step.scored, self.evidence.rank_paragraphs(step.scored)[:2])
        elapsed = time.perf_counter() - step.start
        answer = Answer(
            text=text,
            refused=True,
            citations=(),
            passages=tuple(step.passages),
            backend=backend or self.backend_name,
            query=step.query,
            removed=removed,
            notes=notes,
            timings=timings or Timings(step.retrieve_s, elapsed, elapsed),
            decline_reason=reason or None,
            confidence=confidence,
            signals=tuple((signals or step.signals).as_dict().items()),
        )
        return StreamEvent("final", answer=answer)

    def _final(
        self,
        text: str,
        *,
        refused: bool,
        start: float,
        error: str | None = None,
        query: str = "",
        passages: list[Passage] | None = None,
    ) -> StreamEvent:
        elapsed = time.perf_counter() - start
        answer = Answer(
            text=text,
            refused=refused,
            passages=tuple(passages or ()),
            backend=self.backend_name,
            query=query,
            error=error,
            timings=Timings(0.0, elapsed, elapsed),
            decline_reason="hostile instructions" if refused else None,
        )
        return StreamEvent("final", answer=answer)


@dataclass(frozen=True)
class _Step:
    """A question on its way: what was asked, searched for and found, and when it started."""

    question: str
    query: str
    passages: list[Passage]
    scored: list[ScoredSentence]
    start: float
    retrieve_s: float
    signals: Signals


@dataclass(frozen=True)
class _Confidence:
    value: float
    decline: bool


QUOTE_WORDS = 40  # a decline quotes at most this many words of the closest sentence
_NESTED = str.maketrans({"“": "‘", "”": "’", '"': "'"})


_PRONOUNS = frozenset({"he", "she", "they"})


def _sentence_end(text: str, start: int) -> int:
    """Where the sentence running at ``start`` ends in ``text`` (after its closing quote)."""
    found = re.search(r"[.!?][’”\"']?(?=\s|$)", text[start:])
    return start + found.end() if found else len(text)


def closest_text(scored: Sequence[ScoredSentence], closest: Sequence[Paragraph]) -> str:
    """What follows a decline: the article's closest sentence, quoted with its paragraph, and the
    next closest paragraph, so a reader who asked a near-miss question sees what it does say."""
    if not scored or not closest:
        return ""
    best = scored[0]
    sources = SourceMap.build([best.paragraph, *(p for p in closest if p != best.paragraph)])
    words = strip_markers(best.text).split()
    quote = " ".join(words[:QUOTE_WORDS]) + ("…" if len(words) > QUOTE_WORDS else "")
    quote = quote.translate(_NESTED)  # quotes inside the quote become single quotes
    text = f" The closest it comes is [{sources.label(best.paragraph)}]: “{quote}”"
    others = [p for p in closest if p != best.paragraph][:1]
    if others:
        text += f" See also [{sources.label(others[0])}]."
    return text


def _drop_prompt_echo(reply: str, rules: str) -> str:
    """Remove sentences that repeat the system prompt ``rules`` (a model leaking its instructions)."""
    words_of_rules = {w for w in re.findall(r"\w+", rules.lower()) if len(w) > 3}
    kept = []
    for line in re.split(r"(?<=[.!?])\s+|\n+", reply):
        words = [w for w in re.findall(r"\w+", strip_markers(line).lower()) if len(w) > 3]
        if len(words) >= 4 and sum(w in words_of_rules for w in words) / len(words) > 0.8:
            continue
        kept.append(line)
    return " ".join(kept)
