"""Grounded answers with paragraph citations, from a pluggable backend.

>>> bot = Assistant.from_corpus("corpus", backend="extractive")
>>> answer = bot.ask("Who confirmed the troops were in Russia?")
>>> answer.text, answer.refused, answer.citations

The pipeline around the model does the grounding, because the small local models invent
numbers and obey injected instructions:

1. the question is checked (empty, too long, hostile instructions);
2. a follow-up is rewritten into a standalone query (by the model, else a heuristic);
3. hybrid retrieval, then sentence-level evidence scoring; too little evidence: decline;
4. the backend answers from fenced, numbered paragraphs (or the extractive backend picks
   sentences) and the reply streams out;
5. every sentence is checked against the retrieved paragraphs: bad markers dropped, missing
   ones added, unsupported sentences removed; nothing left: decline, offering the closest
   paragraphs. A failing backend falls back to the extractive answer, marked as such.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from .attribution import Attribution, attribute
from .backends import BackendError, ChatBackend, make_backend
from .backends.registry import EXTRACTIVE
from .conversation import bound_history, heuristic_rewrite, needs_context, normalize_history, speakers
from .evidence import (
    EvidenceConfig,
    EvidenceScorer,
    ScoredSentence,
    answers_type,
    expected_type,
    unknown_names,
)
from .extractive import ExtractiveConfig, choose_sentences
from .grounding import Grounder, SourceMap, Thresholds, strip_markers
from .people import names_person, people_forms
from .prompt import SYSTEM_PROMPT, build_prompt, build_rewrite_prompt
from .retriever import Retriever, RetrieverConfig, default_cache_root
from .safety import InputError, Limits, clean_question, detect_injection, strip_injections
from .types import Answer, ChatMessage, Citation, Paragraph, Passage, StreamEvent, Timings

log = logging.getLogger(__name__)

DEFAULT_BACKEND = "llama-cpp"
NOT_IN_ARTICLE = "The article does not say."
PRIME_MARKER = "<<question>>"  # stands for the question while the article prefix is primed
INJECTION_REPLY = (
    "I can only answer questions about the article, from its text. That message asks me to change "
    "how I answer (or to reveal or invent something), so I won't. Ask me about the article instead."
)


@dataclass(frozen=True)
class AssistantConfig:
    """Settings of an :class:`Assistant` (all passed in; nothing global)."""

    k: int = 4
    max_answer_tokens: int = 120
    max_context_tokens: int = 380
    temperature: float = 0.0
    fallback: bool = True
    min_evidence: float = 0.3
    context_sentences: int = 4
    article_context_tokens: int = 3000
    focus_paragraphs: int = 2
    rescue_after_decline: float = 0.9
    rewrite_with_model: bool = True
    evidence: EvidenceConfig = field(default_factory=EvidenceConfig)
    extractive: ExtractiveConfig = field(default_factory=ExtractiveConfig)
    grounding: Thresholds = field(default_factory=Thresholds)
    limits: Limits = field(default_factory=Limits)


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
        self._articles: dict[str, list[tuple[Paragraph, str]] | None] = {}
        self.people = speakers(p.text for d in retriever.corpus.documents for p in d.paragraphs)
        self.evidence = EvidenceScorer(retriever, self.config.evidence, people=self.people)
        self.grounder = Grounder(
            retriever.embedder.encode,
            self.config.grounding,
            previous=self._previous_text,
            clean=strip_injections,
            people=people_forms(
                self.people, [p.text for d in retriever.corpus.documents for p in d.paragraphs]
            ),
        )

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
        (``model=``, ``base_url=``, ``api_key=`` ...). A local model loads on first use.
        """
        retriever = retriever or Retriever.from_corpus(path, config=retriever_config)
        if isinstance(backend, str):
            if backend == EXTRACTIVE:
                chat = None
            else:
                if backend == "llama-cpp":
                    root = Path(retriever.config.cache_dir or default_cache_root(Path(retriever.corpus.root)))
                    backend_options.setdefault("cache_dir", root)
                chat = make_backend(backend, **backend_options)
        else:
            chat = backend
        return cls(retriever, chat, config)

    def _previous(self, paragraph: Paragraph) -> Paragraph | None:
        """The paragraph before ``paragraph`` in its article (``None`` for the first and the caption)."""
        if paragraph.number <= 1:
            return None
        try:
            return self.retriever.paragraph(paragraph.doc, paragraph.number - 1)
        except KeyError:
            return None

    def _previous_text(self, paragraph: Paragraph) -> str:
        before = self._previous(paragraph)
        return before.text if before is not None else ""

    def attributed(self, question: str, scored: list[ScoredSentence]) -> Attribution | None:
        """For "who said …?": the speaker the article gives, when it clearly gives one."""
        return attribute(
            question, self.evidence.paragraph_cosines(scored), self.grounder.people, self._previous
        )

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
        kind = detect_injection(text)
        if kind:
            log.info("declined a question with hostile instructions (%s)", kind)
            yield self._final(INJECTION_REPLY, refused=True, start=start, query=text)
            return
        messages = bound_history(
            normalize_history(history)[-self.config.limits.max_history_messages :],
            self.config.limits.max_history_tokens,
        )
        query = text
        if messages and needs_context(text):
            yield StreamEvent("status", "Working out what the follow-up refers to…")
            query = self._rewrite(text, messages)
            yield StreamEvent("status", f"Searching for: {query}")
        passages = self.retriever.search(query, k=self.config.k, doc=doc)
        scored = self.evidence.score(query, passages)
        retrieve_s = time.perf_counter() - start
        best = scored[0].score if scored else 0.0
        unknown = unknown_names(text, self.evidence.vocabulary)
        if unknown:
            note = f"The article never mentions {', '.join(dict.fromkeys(unknown))}."
            yield self._decline(passages, scored, start, retrieve_s, query, notes=(note,))
            return
        if best < self.config.min_evidence:
            yield self._decline(passages, scored, start, retrieve_s, query)
            return
        if not self.evidence.has_expected_type(query, scored):
            note = "The most relevant sentences do not contain what the question asks for."
            yield self._decline(passages, scored, start, retrieve_s, query, notes=(note,))
            return
        if self.backend is None:
            yield self._extractive(query, passages, scored, start, retrieve_s)
            return
        try:
            yield from self._generate(text, query, passages, scored, start, retrieve_s)
        except BackendError as exc:
            log.warning("backend %s failed: %s", self.backend_name, exc)
            if not self.config.fallback:
                message = f"The language model failed: {exc}"
                yield self._final(
                    message, refused=False, error=str(exc), start=start, query=query, passages=passages
                )
                return
            answer = self._extractive(query, passages, scored, start, retrieve_s).answer
            assert answer is not None
            yield StreamEvent("final", answer=replace(answer, fallback=True, error=str(exc)))

    # -- steps ------------------------------------------------------------------------------
    def _rewrite(self, question: str, history: list[ChatMessage]) -> str:
        heuristic = heuristic_rewrite(question, history, people=self.people)
        if self.backend is None or not self.config.rewrite_with_model:
            return heuristic
        try:
            reply = "".join(
                self.backend.stream(build_rewrite_prompt(question, history), max_tokens=48, stop=["\n"])
            ).strip()
        except BackendError as exc:
            log.info("model rewrite failed (%s); using the heuristic", exc)
            return heuristic
        reply = reply.strip(" \"'“”")
        words = set(re.findall(r"\w+", question.lower()))
        shared = words & set(re.findall(r"\w+", reply.lower()))
        if not reply or len(reply) > 3 * len(question) + 80 or len(shared) < max(1, len(words) // 3):
            return heuristic
        # Keep the previous question as context for retrieval, as the heuristic does.
        last_user = next((m.content for m in reversed(history) if m.role == "user"), "")
        return f"{reply} ({last_user})" if last_user else reply

    def _generate(
        self,
        question: str,
        query: str,
        passages: list[Passage],
        scored: list[ScoredSentence],
        start: float,
        retrieve_s: float,
    ) -> Iterator[StreamEvent]:
        assert self.backend is not None
        # The whole article when the best evidence all comes from one (else the best sentences).
        docs = {s.paragraph.doc for s in scored[: self.config.context_sentences]}
        article = self._article_context(scored[0].paragraph.doc) if len(docs) == 1 else None
        focus = self.evidence.rank_paragraphs(scored)[: self.config.focus_paragraphs] if article else []
        try:
            prompt = build_prompt(
                query,
                article or self.evidence.snippets(scored, self.config.context_sentences),
                count_tokens=self.backend.count_tokens,
                context_window=self.backend.context_window,
                max_answer_tokens=self.config.max_answer_tokens,
                max_context_tokens=None if article else self.config.max_context_tokens,
                focus=focus,
            )
        except ValueError as exc:  # the question alone does not fit the model's window
            raise BackendError(str(exc), setting="--n-ctx") from exc
        if prompt.left_out:
            log.info("left %d paragraph(s) out of the prompt (token budget)", len(prompt.left_out))
        first_token_s = None
        pieces: list[str] = []
        for piece in self.backend.stream(
            prompt.messages, max_tokens=self.config.max_answer_tokens, temperature=self.config.temperature
        ):
            if first_token_s is None:
                first_token_s = time.perf_counter() - start
            pieces.append(piece)
            yield StreamEvent("delta", piece)
        reply = _drop_prompt_echo("".join(pieces))
        # Judged against what the reader asked: a model rewrite of a follow-up may already
        # contain words of the answer.
        checked = self.grounder.check(
            reply, prompt.sources, question=question, attribution=_asks_who(question)
        )
        timings = Timings(retrieve_s, first_token_s, time.perf_counter() - start)
        kind = expected_type(question)
        if (
            checked.supported
            and kind in ("number", "time")
            and not answers_type(kind, checked.text, question)
        ):
            # "How many…?" answered without a number is not an answer, however well supported.
            checked = replace(checked, supported=0, removed=(*checked.removed, strip_markers(checked.text)))
        speaker = self.attributed(question, scored)
        if speaker and not (
            checked.supported
            and names_person(checked.text, speaker.person, self.grounder.people)
            and any(c.doc == speaker.statement.doc and c.paragraph == speaker.statement.number
                    for c in checked.citations)
        ):  # fmt: skip
            # "Who said …?" answered with nobody, with someone other than the speaker the
            # article clearly gives, or citing another statement of theirs: the article's
            # attribution replaces the model's answer.
            note = f"Who said this is taken from the article: {speaker.name}."
            removed = checked.removed + ((strip_markers(checked.text),) if checked.supported else ())
            answer = self._speaker_answer(speaker, query, passages, timings, removed=removed, notes=(note,))
            yield StreamEvent("final", answer=answer)
            return
        if checked.supported == 0:
            # The model declined, or wrote nothing the article supports. A reply that failed the
            # checks is not swapped for another answer: decline and show the closest paragraphs.
            # But after an explicit "the article does not say", when the article holds a very
            # strong answer sentence, show it quoted (small models decline answerable questions).
            extract = choose_sentences(query, scored, self.config.extractive)
            bar = self.config.rescue_after_decline if checked.refusal else float("inf")
            if extract.sentences and extract.best_score >= bar:
                rescued = self._extractive(query, passages, scored, start, retrieve_s).answer
                assert rescued is not None
                note = "The model gave no answer the article supports; showing the article's own sentences."
                answer = replace(
                    rescued,
                    backend=self.backend_name,
                    removed=checked.removed,
                    notes=(note,),
                    timings=timings,
                )
                yield StreamEvent("final", answer=answer)
                return
            yield self._decline(
                passages, scored, start, retrieve_s, query, removed=checked.removed, timings=timings
            )
            return
        notes = tuple(f"Left out as not addressing the question: “{s}”" for s in checked.off_question)
        answer = Answer(
            text=checked.text,
            refused=False,
            citations=checked.citations,
            passages=tuple(passages),
            backend=self.backend_name,
            query=query,
            removed=checked.removed,
            notes=notes,
            draft=reply,
            timings=timings,
        )
        yield StreamEvent("final", answer=answer)

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
            shown = [(p, strip_injections(p.text)) for p in paragraphs]
            tokens = sum(self.backend.count_tokens(text) + 4 for _, text in shown)
            fits = tokens <= min(limit, self.backend.context_window // 2)
            self._articles[doc] = shown if fits else None
        return self._articles[doc]

    def warm(self) -> float | None:
        """Evaluate the prompt prefix with the first article now, if the backend can keep it.

        Returns the seconds taken, or ``None`` when there is nothing to prime (no backend that
        supports it, or no article short enough to be read whole).
        """
        prime = getattr(self.backend, "prime", None)
        if prime is None or not self.retriever.corpus.documents:
            return None
        article = self._article_context(self.retriever.corpus.documents[0].id)
        if not article:
            return None
        prompt = build_prompt(
            PRIME_MARKER,
            article,
            count_tokens=self.backend.count_tokens,
            context_window=self.backend.context_window,
            max_answer_tokens=self.config.max_answer_tokens,
        )
        return prime(prompt.messages, PRIME_MARKER)

    def _speaker_answer(
        self,
        speaker: Attribution,
        query: str,
        passages: list[Passage],
        timings: Timings,
        *,
        backend: str | None = None,
        removed: tuple[str, ...] = (),
        notes: tuple[str, ...] = (),
    ) -> Answer:
        """"Sydney Seiler [¶15]: <the sentence asked about> [¶16]", cited where each part is."""
        sources = SourceMap.build([speaker.named_in, speaker.statement])
        where, said = sources.label(speaker.named_in), sources.label(speaker.statement)
        name = speaker.name if where == said else f"{speaker.name} [{where}]"
        cited = dict.fromkeys((speaker.named_in, speaker.statement))
        return Answer(
            text=f"{name}: {strip_markers(speaker.sentence)} [{said}]",
            refused=False,
            citations=tuple(Citation(p.doc, p.number, p.text) for p in cited),
            passages=tuple(passages),
            backend=backend or self.backend_name,
            query=query,
            removed=removed,
            notes=notes,
            timings=timings,
        )

    def _extractive(
        self,
        query: str,
        passages: list[Passage],
        scored: list[ScoredSentence],
        start: float,
        retrieve_s: float,
    ) -> StreamEvent:
        speaker = self.attributed(query, scored)
        if speaker:
            elapsed = time.perf_counter() - start
            timings = Timings(retrieve_s, elapsed, elapsed)
            return StreamEvent("final", answer=self._speaker_answer(speaker, query, passages, timings,
                                                                    backend=EXTRACTIVE))  # fmt: skip
        extract = choose_sentences(query, scored, self.config.extractive)
        if not extract.sentences:
            return self._decline(passages, scored, start, retrieve_s, query, backend=EXTRACTIVE)
        sources = SourceMap.build([s.paragraph for s in extract.sentences])
        # A marker inside the article's own text ("... said [¶99].") must not pose as a citation.
        parts = [f"{strip_markers(s.text)} [{sources.label(s.paragraph)}]" for s in extract.sentences]
        citations = tuple(dict.fromkeys(Citation(s.paragraph.doc, s.paragraph.number, s.paragraph.text)
                                        for s in extract.sentences))  # fmt: skip
        elapsed = time.perf_counter() - start
        answer = Answer(
            text=" ".join(parts),
            refused=False,
            citations=citations,
            passages=tuple(passages),
            backend=EXTRACTIVE,
            query=query,
            timings=Timings(retrieve_s, elapsed, elapsed),
        )
        return StreamEvent("final", answer=answer)

    def _decline(
        self,
        passages: list[Passage],
        scored: list[ScoredSentence],
        start: float,
        retrieve_s: float,
        query: str,
        *,
        removed: tuple[str, ...] = (),
        timings: Timings | None = None,
        backend: str | None = None,
        notes: tuple[str, ...] = (),
    ) -> StreamEvent:
        closest = self.evidence.rank_paragraphs(scored)[:2]
        sources = SourceMap.build(closest)
        text = NOT_IN_ARTICLE
        if closest:
            labels = " and ".join(f"[{sources.label(p)}]" for p in closest)
            text += f" The closest paragraphs are {labels}."
        elapsed = time.perf_counter() - start
        answer = Answer(
            text=text,
            refused=True,
            citations=(),
            passages=tuple(passages),
            backend=backend or self.backend_name,
            query=query,
            removed=removed,
            notes=notes,
            timings=timings or Timings(retrieve_s, elapsed, elapsed),
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
        )
        return StreamEvent("final", answer=answer)


def _asks_who(question: str) -> bool:
    """Whether the question asks who said or did something ("At the event, who said ...?")."""
    return expected_type(question) == "person" or bool(re.search(r"\bwho\b", question, re.IGNORECASE))


def _drop_prompt_echo(reply: str) -> str:
    """Remove sentences that repeat the system prompt (a model leaking its instructions)."""
    rules = {w for w in re.findall(r"\w+", SYSTEM_PROMPT.lower()) if len(w) > 3}
    kept = []
    for line in re.split(r"(?<=[.!?])\s+|\n+", reply):
        words = [w for w in re.findall(r"\w+", strip_markers(line).lower()) if len(w) > 3]
        if len(words) >= 6 and sum(w in rules for w in words) / len(words) > 0.8:
            continue
        kept.append(line)
    return " ".join(kept)
