"""The assistant's settings: :class:`AssistantConfig`, and the switches of its checks (:class:`Checks`).

Both are importable from :mod:`rag.assistant` too, where they are used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from .calibration import Calibrator
from .evidence import EvidenceConfig
from .extractive import ExtractiveConfig
from .grounding import GroundingChecks, Thresholds
from .safety import Limits
from .who_said import WhoSaidConfig

WHILE_READING = ("quote", "sentences", "wait")
CITATIONS = ("aligner", "model")


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
    ``second_look``: after the model declines (or only names a source the article cites: "The
    Sydney Morning Herald.", a reply with no claim), its P(yes) that the article answers the question
    decides whether the article's best sentences are quoted instead (``AssistantConfig.second_look``).
    ``speaker_evidence``: a sentence's speaker, resolved by the attribution step, counts as named
    in it when sentences are matched to the question ("He warned that …" for "What did Tom Reyes
    warn about?"): the extractive answers, the quotes while the model reads, the second look.
    ``typed``: a question asking for a time or a number ("On what day …?", "How many trees …?")
    that the model declines, or whose reply fails the checks, gets the article's sentence that
    holds the question's other words and a value of that kind (:func:`rag.lookup.typed_answer`).
    ``said_about``: "What did X say about Y?" is answered with X's statement that holds Y, when
    the reply gives another statement or none (:meth:`rag.who_said.WhoSaid.said_about`); "What
    did X say matters?" with X's statement holding nearly all of what follows "say".
    ``polar``: a yes/no question that the model declines, answers "yes" to, or whose reply fails
    the checks, is answered "No" with the article's sentence that states it reversed
    (:mod:`rag.polar`). ``opposites``: the same for a sentence that says the question's word the
    other way ("cuts" for "raise", "rejected" for "approve"; :data:`rag.polar.OPPOSITES`).
    ``polar_amounts``: the same for a sentence that states it with another amount ("hire 60
    officers" for "Did he promise to hire 80 officers?"; :func:`rag.numbers.swapped_amount`).
    ``listed``: a question asking for a number of things ("Which three things …?") whose reply
    lists fewer gets the article's sentence that lists them (:func:`rag.lookup.listed_answer`).
    ``anchored``: "List the villages" lists the names the article ties to the word "villages"
    when it does, not every place it names (:func:`rag.listing.anchored`).
    ``verbatim``: a reply that is the article's own sentence, cited where every word and name of
    the question stands, is not withheld for the calibrator's low confidence
    (:func:`rag.grounding.stands_as_written`). ``causes``: a why-question's reasons open with the
    article's sentences that state a cause ("because", "due to", "after …";
    :func:`rag.explain.choose`). ``roles``: a question that calls one person by the role the
    article gives them ("What did the analyst say?") is searched and asked with their name
    written in (:meth:`rag.who_said.WhoSaid.by_role`); one asking what a role said that the corpus
    never has ("What did the ambassador say?"), nobody's description sharing a word with it, is
    declined as an unknown name (:meth:`rag.who_said.WhoSaid.unknown_role`). ``confirmed``: a
    reply giving the speaker and statement the attribution finds for a who-said or said-about
    question, or the description
    the article gives the person "Who is X?" names (:meth:`rag.who_said.WhoSaid.describes`), is
    not withheld for the calibrator's low confidence. ``stated_reply``: a who-said reply that names
    a person and holds the question's words in a sentence the article states (:func:`rag.affirmed.
    states_answer`) is not replaced by the attribution's speaker. ``article_subject``: a sentence
    that names nobody the question does not ("It kept its dividend unchanged.") answers a yes/no,
    "when" or "how much" question about the names its article's headline gives
    (:func:`rag.article_facts.subject_names`, :func:`rag.polar.with_subject`). ``who_is``: "Who is
    X?" whose reply fails the checks is answered with the description the article gives X, where it
    gives it (:meth:`rag.who_said.WhoSaid.description`), not declined.
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
    speaker_evidence: bool = True
    polar: bool = True
    opposites: bool = True
    polar_amounts: bool = True
    typed: bool = True
    said_about: bool = True
    listed: bool = True
    anchored: bool = True
    verbatim: bool = True
    causes: bool = True
    roles: bool = True
    confirmed: bool = True
    stated_reply: bool = True
    article_subject: bool = True
    who_is: bool = True
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
    article_facts: bool = True  # who wrote it, when, where, its headline: from the byline (rag.article_facts)

    def __post_init__(self) -> None:
        if self.citations not in CITATIONS:
            raise ValueError(f"citations must be one of {CITATIONS}, not {self.citations!r}")
        if self.while_reading not in WHILE_READING:
            raise ValueError(f"while_reading must be one of {WHILE_READING}, not {self.while_reading!r}")
