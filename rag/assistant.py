"""Grounded answers with paragraph citations, from a pluggable backend.

>>> bot = Assistant.from_corpus("corpus", backend="extractive")
>>> answer = bot.ask("Who confirmed the troops were in Russia?")
>>> answer.text, answer.refused, answer.citations, answer.confidence

The pipeline around the model does the grounding, because the small local models invent
numbers and obey injected instructions:

1. the question is checked (empty, too long, hostile instructions);
2. a follow-up gets a standalone search query (pronouns resolved from the conversation; "When?" asked
   as the earlier question); the model itself sees the conversation after the article;
3. hybrid retrieval, then sentence-level evidence scoring;
4. the backend answers from fenced, numbered paragraphs (the whole article when it fits, read
   once and kept by the backend: :mod:`rag.reading`) or the extractive backend picks sentences;
   the reply streams;
5. each sentence is checked against the paragraphs: bad markers dropped, missing added, unsupported removed;
6. the model is asked whether the article states the answer (its probability of "yes"), and a
   calibrated probability from all the signals (:mod:`rag.calibration`) decides: answer, or
   decline offering the closest paragraphs. A failing backend falls back to the extractive
   answer, marked as such.

Every check has a switch (:class:`Checks`) and an ablation row in the evaluation report.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from .affirmed import states_answer
from .article_facts import NOTE as FACTS_NOTE
from .article_facts import ask_about_article, author_reply, subject_names
from .assistant_config import CHECK_NAMES as CHECK_NAMES
from .assistant_config import AssistantConfig
from .assistant_config import Checks as Checks
from .attribution import Attributions
from .backends import BackendError, ChatBackend, Verifier, make_backend
from .backends.registry import EXTRACTIVE
from .calibration import Confidence, Signals, answer_signals, judge, load_calibrators
from .conversation import (
    bound_history,
    ellipsis_question,
    heuristic_rewrite,
    needs_context,
    normalize_history,
)
from .declines import closest_text
from .embeddings import EncodeCache
from .evidence import EvidenceScorer, ScoredSentence, answers_type, expected_type, unknown_names
from .extractive import choose_sentences
from .grounding import Grounder, SourceMap, stands_as_written
from .lookup import asked_count, look_up, opened
from .placement import names_in
from .polar import implied_subject
from .prompt import Prompt, build_prompt, check_messages
from .reading import PRIME_MARKER as PRIME_MARKER
from .reading import QUOTED_WHILE_READING, READING_NOTE, WAITING_TO_READ, ArticleReading
from .retriever import Retriever, RetrieverConfig, default_cache_root, default_corpus
from .router import ABOUT
from .router import route as route_question
from .safety import InputError, clean_question, detect_injection, drop_prompt_echo, strip_injections
from .step import Step, alone, at_once
from .text import NOT_IN_ARTICLE, balance_quotes, content_words, says_yes, strip_markers, without_dateline
from .types import Answer, ChatMessage, Citation, Paragraph, Passage, StreamEvent, Timings
from .who_said import SpeakerAnswer, WhoSaid
from .whole import WholeArticle

log = logging.getLogger(__name__)

DEFAULT_BACKEND = "llama-cpp"
SECOND_LOOK_NOTE = (
    "The model found no answer, but judged that the article likely has one: these are the article's "
    "best-matching sentences, quoted."
)
CORRECTED_NOTE = "The model's answer said the opposite of the article; the article's own sentence is shown."
INJECTION_REPLY = (
    "I can only answer questions about the article, from its text. That message asks me to change "
    "how I answer (or to reveal or invent something), so I won't. Ask me about the article instead."
)


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
        self.attributions: dict[str, Attributions] = retriever.attributions()
        self.people = list(dict.fromkeys(
            form for a in self.attributions.values() for p in a.people for form in (p.name, *p.aliases)
        ))  # fmt: skip
        # Whom the article calls "he" or "she", by every form of their name (for follow-ups).
        self.pronouns = {form: p.pronoun for a in self.attributions.values() for p in a.people if p.pronoun
                         for form in (p.name, *p.aliases)}  # fmt: skip
        speaking = self.checks.speaker_evidence
        spoken = [st for a in self.attributions.values() for st in a.statements] if speaking else []
        self.evidence = EvidenceScorer(retriever, self.config.evidence, people=self.people, statements=spoken)
        encode = EncodeCache(retriever.embedder.encode, known=self.evidence.sentence_vectors())
        texts = {(p.doc, p.number): p.text for d in retriever.corpus.documents for p in d.paragraphs}
        self.who_said = WhoSaid(self.attributions, encode, self.config.who_said, texts)
        spelled = retriever.acronyms.knows if retriever.acronyms else None
        self.grounder = Grounder(
            encode, self.config.grounding, strip_injections, self.checks.grounding, spelled=spelled,
            speakers=self._speakers, misattributed=self._misattributed, outlet_only=self.who_said.outlet_only,
            off_speaker=self.who_said.off_speaker,
            subject=self._implied if self.checks.article_subject else None,
        )  # fmt: skip
        calibrators = self.config.calibrators
        self.calibrators = dict(load_calibrators() if calibrators is None else calibrators)
        self.reading = ArticleReading(retriever, backend, self.config, self.attributions)
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
            yield alone(str(exc), self.backend_name, refused=False, error=str(exc), start=start)
            return
        kind = detect_injection(text) if self.checks.injection else None
        if kind:
            log.info("declined a question with hostile instructions (%s)", kind)
            yield alone(INJECTION_REPLY, self.backend_name, refused=True, start=start, query=text)
            return
        messages = bound_history(
            normalize_history(history)[-self.config.limits.max_history_messages :],
            self.config.limits.max_history_tokens,
        )
        whole = ellipsis_question(text, messages, self.people, self.pronouns) if messages else None
        if whole:
            yield StreamEvent("status", f"Reading it as: {whole}")
            text = whole  # "When?" after "What did she offer?": "When did Gloria Fenn offer?"
        routed = self.config.whole_article or self.config.article_facts
        route = route_question(text, messages) if routed else None
        if route is not None and route.kind == ABOUT and self.config.article_facts:
            facts = ask_about_article(self.retriever, text, route.subject.split(), messages, doc=doc)
            facts = replace(facts, backend=self.backend_name, timings=at_once(start))
            yield StreamEvent("final", answer=facts)
            return
        if route is not None and route.whole and self.config.whole_article:  # summaries, lists, why/how
            yield from self.whole.stream(text, route, messages, doc=doc, start=start)
            return
        query = text
        conversation: list[ChatMessage] = []
        if messages and needs_context(text) and not whole:
            query = heuristic_rewrite(text, messages, people=self.people, pronouns=self.pronouns)
            conversation = messages
            yield StreamEvent("status", f"Searching for: {query}")
        if self.checks.roles and (named := self.who_said.by_role(query, doc)):  # one of all articles' people
            # "What did the analyst say?": searched and asked as "… the analyst (Tomas Reuter) say?"
            query = named
        passages = self.retriever.search(query, k=self.config.k, doc=doc)
        scored = self.evidence.score(query, passages)
        retrieve_s = time.perf_counter() - start
        step = Step(text, query, passages, scored, start, retrieve_s, self._signals(text, query, scored))
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
                yield alone(message, self.backend_name, refused=False, error=str(exc), start=start,
                            query=query, passages=passages)  # fmt: skip
                return
            answer = self._extractive(step).answer
            assert answer is not None
            yield StreamEvent("final", answer=replace(answer, fallback=True, error=str(exc)))

    def warm(self, doc: str | None = None) -> float | None:
        """Let the model read article ``doc`` (default: the first) now, if the backend can keep it;
        the seconds taken, or ``None`` with nothing to read (:meth:`ArticleReading.warm`)."""
        return self.reading.warm(doc)

    def warm_all(
        self, limit: int | None = None, on_read: Callable[[str, float | None], None] | None = None
    ) -> dict[str, float | None]:
        """Let the model read every article now, the first ``limit`` in corpus order; the seconds
        each took, told to ``on_read(doc, seconds)`` as each is done (:meth:`ArticleReading.warm_all`)."""
        return self.reading.warm_all(limit, on_read)

    def rerank(self, question: str, passages: Sequence[Passage]) -> list[Passage]:
        """``passages`` ordered by the model's P("yes") that each holds the answer
        (:meth:`ArticleReading.rerank`)."""
        return self.reading.rerank(question, passages)

    # -- steps ------------------------------------------------------------------------------
    def _unknown(self, question: str, *, all_names: bool = False) -> list[str]:
        """The names in ``question`` the corpus never mentions (acronyms count by their long form)."""
        spelled, vocabulary = getattr(self.retriever.acronyms, "knows", None), self.evidence.vocabulary
        names = unknown_names(question, vocabulary, all_names=all_names, spelled=spelled)
        role = not all_names and self.checks.roles and self.who_said.unknown_role(question, vocabulary)
        return [*names, role] if role else names  # "What did the ambassador say?"

    def _speakers(self, paragraph: Paragraph) -> tuple[str, ...]:
        """Who speaks in ``paragraph``, as the attribution step resolved it."""
        found = self.attributions.get(paragraph.doc)
        return found.speakers(paragraph.number) if found else ()

    def _implied(self, paragraph: Paragraph, claim: str, question: str) -> str:
        """The article's subject, where ``paragraph`` says ``claim`` of it unnamed ("The company …")."""
        names = subject_names(self.retriever.documents[paragraph.doc])
        return implied_subject(paragraph, claim, question, names)

    def _about(self, sentence: ScoredSentence) -> str:
        """Whom a sentence naming nobody is about: the side its speaker's description names ("his
        team", said by "Castlebury coach Dieter Brandt"), else the headline's subject."""
        found = self.attributions.get(sentence.paragraph.doc)
        side = names_in(found.described(sentence.paragraph.number, sentence.text)) if found else []
        return " ".join(side) or subject_names(self.retriever.documents[sentence.paragraph.doc])

    def _misattributed(self, sentence: str, paragraphs: Sequence[Paragraph]) -> bool:
        """Whether ``sentence`` gives a statement of the article to someone who did not make it."""
        docs = dict.fromkeys(p.doc for p in paragraphs)
        return any(self.who_said.misattributed(sentence, doc) for doc in docs)

    def _speaker_answer(self, step: Step) -> SpeakerAnswer | None:
        """For a who-said question: the speaker of the statement it matches, if one stands out;
        for "What did X say about Y?", X's statement on Y."""
        if not self.checks.who_said or not step.scored:
            return None
        doc = step.scored[0].paragraph.doc
        found = self.who_said.speaker_for(step.query, doc)
        return found or (self.who_said.said_about(step.query, doc) if self.checks.said_about else None)

    def _second_look(
        self, step: Step, prompt: Prompt, conversation: list[ChatMessage]
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

    def _polar(
        self, step: Step, timings: Timings, draft: str, removed: tuple[str, ...], notes: tuple[str, ...],
        counts: bool = False, kept: str | None = None,
    ) -> StreamEvent | None:
        """A yes/no question the article answers "no" to: "No:" and its sentence, cited; with
        ``counts``, also a "how many" or "when" question: the sentence giving what was asked;
        a question for a number of things whose ``kept`` reply lists fewer: the listing sentence."""
        found, prefix, note = look_up(step.question, step.scored, self.checks, typed=counts, reply=kept,
                                      subject=self._about)
        if found is None:
            return None
        text = f"{opened(prefix, balance_quotes(without_dateline(found.text)))} [¶{found.paragraph.number}]"
        return self._cited(step, found.paragraph, text, (*notes, note), timings, draft, removed)

    def _attributed(self, step: Step, found: SpeakerAnswer, timings: Timings, draft: str = "",
                    removed: tuple[str, ...] = (), notes: tuple[str, ...] = ()) -> StreamEvent:  # fmt: skip
        """The answer to a who-said question: the article's speaker and the statement, cited."""
        paragraph = self.retriever.paragraph(found.statement.doc, found.statement.paragraph)
        label = SourceMap.build([paragraph]).label(paragraph)
        text = self.who_said.speaker_text(found, paragraph, label)
        notes = (*notes, f"Speaker from the article's attribution of {label}.")
        return self._cited(step, paragraph, text, notes, timings, draft, removed)

    def _cited(self, step: Step, paragraph: Paragraph, text: str, notes: tuple[str, ...], timings: Timings,
               draft: str, removed: tuple[str, ...]) -> StreamEvent:  # fmt: skip
        """An answer the article's own ``paragraph`` gives, cited."""
        citation = Citation(paragraph.doc, paragraph.number, paragraph.text)
        return step.final(text, self.backend_name, citations=(citation,), notes=notes, draft=draft,
                          removed=removed, timings=timings)  # fmt: skip

    def _described(self, step: Step, timings: Timings, draft: str, removed: tuple[str, ...],
                   notes: tuple[str, ...]) -> StreamEvent | None:  # fmt: skip
        """ "Who is X?": the description the article gives X ("X: District Attorney. [¶4]"), cited."""
        if not self.checks.who_is or not step.scored:
            return None
        doc = step.scored[0].paragraph.doc
        found = self.who_said.description(step.question, doc, lambda n: self.retriever.paragraph(doc, n).text)
        if found is None:  # the byline's author, whom the paragraphs need not name
            text = author_reply(self.retriever.documents[doc], step.question)
            notes = (*notes, FACTS_NOTE)
            return step.final(text, self.backend_name, notes=notes, draft=draft, removed=removed,
                              timings=timings) if text else None  # fmt: skip
        paragraph = self.retriever.paragraph(doc, found[1])
        label = SourceMap.build([paragraph]).label(paragraph)
        return self._cited(step, paragraph, f"{found[0]}. [{label}]", notes, timings, draft, removed)

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

    def _generate(self, step: Step, conversation: list[ChatMessage]) -> Iterator[StreamEvent]:
        assert self.backend is not None
        article, reading = self.reading.primed(step.scored)
        if reading and self.config.while_reading == "wait":
            yield StreamEvent("status", WAITING_TO_READ)
            article, reading = self.reading.primed(step.scored, wait=True)
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
            reply = drop_prompt_echo(reply, prompt.messages[0].content)
        # Judged against what the reader asked: the search query of a follow-up may already
        # contain words of the answer.
        checked = self.grounder.check(reply, prompt.sources, question=step.question, topic=step.query)
        notes = (*notes, CORRECTED_NOTE) if checked.corrected else notes
        timings = Timings(step.retrieve_s, first_token_s, time.perf_counter() - step.start)
        found = self._speaker_answer(step)
        if found and self.checks.stated_reply and self.who_said.named(checked.text) and states_answer(
                checked.text, step.question, [c.text for c in checked.citations]):  # fmt: skip
            found = None  # the article states the reply's answer: "Paulo Esteves, who testified against …"
        if found is not None and not self.who_said.gives_speaker(checked.text, checked.citations, found):
            # A who-said question: the article's own speaker, not the model's guess.
            yield self._attributed(step, found, timings, draft=reply, removed=checked.removed, notes=notes)
            return
        signals = answer_signals(step.signals, checked, expected_type(step.question))
        if checked.supported == 0:
            # The model declined, or wrote nothing the article supports: decline and show the
            # closest paragraphs (a reply that failed the checks is not swapped for another).
            reason = "model declined" if checked.refusal else "unsupported"
            polar = self._polar(step, timings, draft=reply, removed=checked.removed, notes=notes, counts=True)
            polar = polar or self._described(step, timings, reply, checked.removed, notes)  # "Who is X?"
            if polar is not None:
                yield polar
                return
            # A reply that only named a source said no more than a decline: the second look too.
            looks = checked.refusal or checked.outlets > 0
            second, p_yes = self._second_look(step, prompt, conversation) if looks else (None, None)
            if second is not None:
                yield second
                return
            if p_yes is not None:  # kept with the decline, to see where the threshold falls
                signals = replace(signals, answerable=p_yes)
            yield self._decline(step, removed=checked.removed, timings=timings, notes=notes, reason=reason,
                                signals=signals)  # fmt: skip
            return
        removed = (strip_markers(checked.text), *checked.removed)  # if the reply is set aside
        # "Yes, …" to a yes/no question the article answers "no", or too few of the things asked for
        listed = says_yes(checked.text) or (asked_count(step.question) and self.checks.listed)
        polar = self._polar(step, timings, reply, removed, notes, kept=checked.text) if listed else None
        if polar is not None:  # no verifier
            yield polar
            return
        # What the attribution confirms (the speaker and statement a who-said question asks for,
        # the description "Who is X?" asks for), and the article's own sentence holding every word
        # of the question, are not withheld for the calibrator's low confidence.
        described = self.checks.confirmed and self.who_said.describes(step.question, checked.text)
        confirmed = described or (self.checks.confirmed and found is not None)
        sure = confirmed or (self.checks.verbatim and stands_as_written(checked, step.question))
        # "Westvale will not pay the ransom." where the article says "Westvale said it would not
        # pay": the article's own "no" (switch ``says_no``), given in the article's sentence when
        # the polar look-up finds one, else as the model wrote it; never withheld.
        denied = self.checks.grounding.says_no and 0 < checked.denials == checked.supported
        if self.checks.verifier and isinstance(self.backend, Verifier) and not (sure or denied):
            # One question to the model that has read the article: does the article answer the
            # question at all? It costs its own few tokens (docs/grounding.md, step 7); an answer
            # that stands whatever it says is not asked about.
            answered = check_messages(prompt, step.question, conversation=conversation)
            try:
                signals = replace(signals, answerable=self.backend.yes_probability(answered))
            except BackendError as exc:  # the answer stands; it is judged without the verifier
                log.info("the verifier failed (%s); calibrating without it", exc)
        confidence = self._confidence("llm", signals)
        timings = Timings(step.retrieve_s, first_token_s, time.perf_counter() - step.start)
        answer = step.final(checked.text, self.backend_name, citations=checked.citations,
                            removed=checked.removed, notes=notes, draft=reply, timings=timings,
                            confidence=confidence.value if confidence else None,
                            signals=tuple(signals.as_dict().items()))  # fmt: skip
        if confidence is not None and confidence.decline and not sure:
            # A right "No" to a yes/no question the article negates is not withheld.
            polar = self._polar(step, timings, reply, removed, notes)
            yield polar or (answer if denied else self._decline(
                step, removed=removed, timings=timings, notes=notes, reason="low confidence", signals=signals,
                confidence=confidence.value, near=checked.citations))  # fmt: skip
            return
        yield answer

    def _confidence(self, kind: str, signals: Signals) -> Confidence | None:
        """The calibrated probability that the answer is right, and whether it is too low."""
        return judge(self.calibrators, kind, signals) if self.checks.calibrator else None

    def _quoted(self, step: Step) -> StreamEvent:
        """The extractive answer, marked as given while the model reads the article."""
        event = self._extractive(step)
        assert event.answer is not None
        return replace(event, answer=replace(event.answer, notes=(QUOTED_WHILE_READING, *event.answer.notes)))

    def _prompt(
        self, step: Step, conversation: list[ChatMessage], article: list[tuple[Paragraph, str]] | None
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

    def _extractive(self, step: Step) -> StreamEvent:
        timings = at_once(step.start, step.retrieve_s)
        extract = choose_sentences(step.query, step.scored, self.config.extractive)
        found = self._speaker_answer(step)
        if found is not None:
            cited = tuple(Citation(s.paragraph.doc, s.paragraph.number, "") for s in extract.sentences)
            if not self.who_said.gives_speaker(" ".join(s.text for s in extract.sentences), cited, found):
                event = self._attributed(step, found, timings)
                assert event.answer is not None
                return replace(event, answer=replace(event.answer, backend=EXTRACTIVE))
        if not extract.sentences:
            return self._decline(step, backend=EXTRACTIVE, reason="weak evidence")
        sources = SourceMap.build([s.paragraph for s in extract.sentences])
        # A marker inside the article's own text ("... said [¶99].") must not pose as a citation;
        # a sentence cut from a longer quotation gets back the quote mark it lost.
        parts = [f"{balance_quotes(strip_markers(s.text))} [{sources.label(s.paragraph)}]"
                 for s in extract.sentences]  # fmt: skip
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
        return step.final(text, EXTRACTIVE, citations=citations, timings=timings,
                          confidence=confidence.value if confidence else None,
                          signals=tuple(signals.as_dict().items()))  # fmt: skip

    def _decline(
        self,
        step: Step,
        *,
        removed: tuple[str, ...] = (),
        timings: Timings | None = None,
        backend: str | None = None,
        notes: tuple[str, ...] = (),
        reason: str = "",
        signals: Signals | None = None,
        confidence: float | None = None,
        near: tuple[Citation, ...] = (),
    ) -> StreamEvent:
        ranked = self.evidence.rank_paragraphs(step.scored)[:2]
        text = NOT_IN_ARTICLE + closest_text(step.scored, ranked, near)
        return step.final(
            text,
            backend or self.backend_name,
            refused=True,
            removed=removed,
            notes=notes,
            timings=timings or at_once(step.start, step.retrieve_s),
            decline_reason=reason or None,
            confidence=confidence,
            signals=tuple((signals or step.signals).as_dict().items()),
        )
