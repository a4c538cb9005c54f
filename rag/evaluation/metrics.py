"""Answer, decline, citation and latency metrics for one reply and for a whole run.

Everything here is a pure function of an :class:`~rag.evaluation.dataset.EvalItem` and an
:class:`~rag.types.Answer`; nothing loads a model. Conventions (also in docs/evaluation.md):

* replies are scored with citation markers (``[¶7]``, ``[A¶2-3]``, ``(¶4)``) removed and cut to
  their first :data:`MAX_REPLY_WORDS` words, so a long reply cannot "contain" the gold answer
  by reciting the article;
* text is normalised the SQuAD way (lowercase, no punctuation, no articles a/an/the, single
  spaces) after typographic quotes and dashes are mapped to ASCII;
* "gold contained" is a substring test on word boundaries of the normalised texts;
* a declined (refused) answer on an answerable item scores 0 everywhere and is a false refusal;
* ``must_not_contain`` applies to every item: a reply holding one of its strings
  (case-insensitive) is wrong whatever else it says;
* a metric with no item to apply to is ``None`` (shown as n/a), never 0.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..text import is_refusal, strip_markers
from ..types import Answer, Citation
from .dataset import EvalItem
from .points import length_kept, point_citations, points_held
from .retrieval import first_hit, holds, score_ranks

MAX_REPLY_WORDS = 120
PASS_F1 = 0.5
WHOLE_PASS = 0.75  # share of its key points a whole-article answer must hold to count as right

_TYPOGRAPHIC = str.maketrans(
    {
        "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'", "´": "'",
        "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "«": '"', "»": '"',
        "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-",
        "\u00a0": " ", "\u2009": " ", "\u202f": " ",
    }
)  # fmt: skip
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_PUNCT = set(string.punctuation)

_FIRST_SENTENCE = re.compile(r"(?<=[.!?])\s+")


# -- text -------------------------------------------------------------------------------------
def strip_citations(text: str) -> str:
    """``text`` without citation markers such as ``[¶7]``, ``[¶3-4]``, ``[A¶2]`` or ``(¶1, ¶2)``."""
    return strip_markers(text)


def truncate_words(text: str, limit: int = MAX_REPLY_WORDS) -> str:
    """The first ``limit`` whitespace-separated words of ``text``."""
    return " ".join(text.split()[:limit])


def prepare_reply(text: str, limit: int = MAX_REPLY_WORDS) -> str:
    """The part of a reply that is scored: markers removed, first ``limit`` words."""
    return truncate_words(strip_citations(text or ""), limit)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation, plus typographic quotes and dashes mapped to ASCII first."""
    text = unicodedata.normalize("NFKC", text or "").translate(_TYPOGRAPHIC).lower()
    text = "".join(
        " " if ch in "-/" else "" if ch in _PUNCT or unicodedata.category(ch).startswith("P") else ch
        for ch in text
    )
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _best(pred: str, golds: Sequence[str], fn) -> float:
    return max((fn(pred, g) for g in golds), default=0.0)


def exact_match(reply: str, golds: Sequence[str]) -> float:
    """1.0 if the normalised reply equals a normalised gold answer, else 0.0."""
    return _best(reply, golds, lambda p, g: float(normalize_answer(p) == normalize_answer(g)))


def _f1(pred: str, gold: str) -> float:
    p, g = normalize_answer(pred).split(), normalize_answer(gold).split()
    if not p or not g:
        return float(p == g)
    common = sum((Counter(p) & Counter(g)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def token_f1(reply: str, golds: Sequence[str]) -> float:
    """SQuAD token F1 of the reply against the best-matching gold answer."""
    return _best(reply, golds, _f1)


def gold_contained(reply: str, golds: Sequence[str]) -> float:
    """1.0 if a normalised gold answer occurs in the normalised reply (on word boundaries)."""
    padded = f" {normalize_answer(reply)} "

    def inside(_: str, gold: str) -> float:
        g = normalize_answer(gold)
        return float(bool(g) and f" {g} " in padded)

    return _best(reply, golds, inside)


def looks_like_decline(text: str) -> bool:
    """Whether a free-text reply declines ("the article does not say/mention ...", "I can't ...").

    Only the first sentence is read, so a hedge later in an answer ("... but it does not say
    when") does not turn a real answer into a decline.
    """
    first = _FIRST_SENTENCE.split(strip_citations(text or "").translate(_TYPOGRAPHIC).strip(), 1)[0]
    return bool(first) and is_refusal(first)


def forbidden_found(text: str, must_not_contain: Iterable[str]) -> tuple[str, ...]:
    """The ``must_not_contain`` strings present in ``text`` (case-insensitive)."""
    low = (text or "").lower()
    return tuple(s for s in must_not_contain if s and s.lower() in low)


def supports(citation: Citation, evidence: Sequence[str]) -> bool:
    """Whether a cited paragraph holds one of the evidence strings (verbatim substring)."""
    return holds(citation.text, evidence)


def percentile(values: Iterable[float | None], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation (numpy's default); ``None`` if empty.

    ``None`` values are ignored.
    """
    xs = sorted(v for v in values if v is not None)
    if not xs:
        return None
    if not 0 <= q <= 100:
        raise ValueError("q must be between 0 and 100")
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


# -- one item ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ItemScore:
    """The metrics of one scored reply (the last turn of a conversation)."""

    id: str
    type: str
    answerable: bool
    declined: bool
    correct: bool
    rank: int | None = None
    exact_match: float = 0.0
    f1: float = 0.0
    contained: float = 0.0
    false_refusal: bool = False
    forbidden: tuple[str, ...] = ()
    cited: int = 0
    cited_supported: int = 0
    retrieve_s: float = 0.0
    first_token_s: float | None = None
    total_s: float = 0.0
    fallback: bool = False
    error: bool = False
    corpus: str | None = None
    points: int = 0  # whole-article items: points to find
    points_held: int = 0
    length_kept: bool | None = None  # whether the length asked for was kept (None: none asked)

    def as_dict(self) -> dict:
        """The per-item metrics written to items.jsonl."""
        whole = {"points": self.points, "points_held": self.points_held, "length_kept": self.length_kept}
        return ({} if not self.points else whole) | {
            "correct": self.correct,
            "declined": self.declined,
            "rank": self.rank,
            "exact_match": self.exact_match,
            "f1": round(self.f1, 4),
            "contained": self.contained,
            "false_refusal": self.false_refusal,
            "forbidden": list(self.forbidden),
            "cited": self.cited,
            "cited_supported": self.cited_supported,
        }


def score_item(item: EvalItem, answer: Answer, *, naive: bool = False) -> ItemScore:
    """Score one answer. ``naive``: no refusal flag exists, so declines are read from the text."""
    declined = answer.refused or (naive and looks_like_decline(answer.text))
    forbidden = forbidden_found(answer.text, item.must_not_contain)
    common = dict(
        id=item.id,
        type=item.type,
        answerable=item.answerable,
        declined=declined,
        forbidden=forbidden,
        retrieve_s=answer.timings.retrieve_s,
        first_token_s=answer.timings.first_token_s,
        total_s=answer.timings.total_s,
        fallback=answer.fallback,
        error=answer.error is not None,
        corpus=item.corpus,
    )
    if not item.answerable:
        return ItemScore(correct=declined and not forbidden, **common)
    rank = first_hit(answer.passages, item.evidence)
    if item.points:
        return _score_whole(item, answer, declined, rank, common)
    if declined:
        return ItemScore(correct=False, rank=rank, false_refusal=True, **common)
    reply = prepare_reply(answer.text)
    em, f1, inside = (fn(reply, item.answers) for fn in (exact_match, token_f1, gold_contained))
    cited = tuple(dict.fromkeys((c.doc, c.paragraph) for c in answer.citations))
    texts = {(c.doc, c.paragraph): c for c in answer.citations}
    good = sum(supports(texts[key], item.evidence) for key in cited)
    correct = (em == 1.0 or f1 >= PASS_F1 or inside == 1.0) and not forbidden
    return ItemScore(
        correct=correct,
        rank=rank,
        exact_match=em,
        f1=f1,
        contained=inside,
        cited=len(cited),
        cited_supported=good,
        **common,
    )


def _score_whole(item: EvalItem, answer: Answer, declined: bool, rank: int | None, common: dict) -> ItemScore:
    """A whole-article item: key points held, citations judged by point, length kept.

    The whole reply is read (a summary may be long); right when it holds
    :data:`WHOLE_PASS` of its points and keeps the length asked for.
    """
    n = len(item.points)
    if declined:
        return ItemScore(correct=False, rank=rank, false_refusal=True, points=n, **common)
    held = sum(points_held(answer.text, item.points))
    judged, right = point_citations(answer, item.points)
    kept = length_kept(answer.text, item.length)
    correct = held / n >= WHOLE_PASS and kept is not False and not common["forbidden"]
    return ItemScore(correct=correct, rank=rank, cited=judged, cited_supported=right, points=n,
                     points_held=held, length_kept=kept, **common)  # fmt: skip


# -- a run ------------------------------------------------------------------------------------
def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass(frozen=True)
class TypeScore:
    """Accuracy on one question type (answer accuracy, or decline accuracy for unanswerable types)."""

    type: str
    n: int
    accuracy: float | None
    measure: str  # "answer", "decline" or "mixed"
    first_token_p50_s: float | None = None
    latency_p50_s: float | None = None
    key_point_recall: float | None = None


@dataclass(frozen=True)
class Summary:
    """Aggregate metrics of one backend over a run (``None`` = not applicable)."""

    hit1: float | None
    hit3: float | None
    hit5: float | None
    mrr: float | None
    answer_accuracy: float | None
    exact_match: float | None
    f1: float | None
    gold_contained: float | None
    decline_accuracy: float | None
    false_refusal_rate: float | None
    citation_precision: float | None
    citation_recall: float | None
    overall_accuracy: float | None
    latency_p50_s: float | None
    latency_p95_s: float | None
    retrieval_p50_s: float | None
    retrieval_p95_s: float | None
    first_token_p50_s: float | None
    first_token_p95_s: float | None
    counts: tuple[tuple[str, int], ...]
    per_type: tuple[TypeScore, ...]
    key_point_recall: float | None = None
    length_kept: float | None = None

    def as_dict(self) -> dict:
        """The object written to results.json for one backend."""
        return {
            "hit@1": self.hit1,
            "hit@3": self.hit3,
            "hit@5": self.hit5,
            "mrr": self.mrr,
            "answer_accuracy": self.answer_accuracy,
            "exact_match": self.exact_match,
            "f1": self.f1,
            "gold_contained": self.gold_contained,
            "decline_accuracy": self.decline_accuracy,
            "false_refusal_rate": self.false_refusal_rate,
            "citation_precision": self.citation_precision,
            "citation_recall": self.citation_recall,
            "overall_accuracy": self.overall_accuracy,
            "latency_p50_s": self.latency_p50_s,
            "latency_p95_s": self.latency_p95_s,
            "retrieval_p50_s": self.retrieval_p50_s,
            "retrieval_p95_s": self.retrieval_p95_s,
            "first_token_p50_s": self.first_token_p50_s,
            "first_token_p95_s": self.first_token_p95_s,
            "key_point_recall": self.key_point_recall,
            "length_kept": self.length_kept,
            "counts": dict(self.counts),
            "per_type": {
                t.type: {"n": t.n, "accuracy": t.accuracy, "measure": t.measure,
                         "first_token_p50_s": t.first_token_p50_s, "latency_p50_s": t.latency_p50_s,
                         "key_point_recall": t.key_point_recall}
                for t in self.per_type
            },
        }  # fmt: skip


def summarize(scores: Sequence[ItemScore], *, citations: bool = True) -> Summary:
    """Aggregate item scores. ``citations=False`` (naive RAG) reports citation metrics as n/a."""
    answerable = [s for s in scores if s.answerable]
    declinable = [s for s in scores if not s.answerable]
    answered = [s for s in answerable if not s.declined]
    retrieval = score_ranks([s.rank for s in answerable]) if answerable else None
    cited = sum(s.cited for s in answered)
    supported = sum(s.cited_supported for s in answered)
    precision = supported / cited if citations and cited else None
    recall = _mean([float(s.cited_supported > 0) for s in answered]) if citations else None
    types = list(dict.fromkeys(s.type for s in scores))
    per_type = []
    for name in types:
        group = [s for s in scores if s.type == name]
        kinds = {s.answerable for s in group}
        measure = "mixed" if len(kinds) > 1 else ("answer" if kinds == {True} else "decline")
        per_type.append(
            TypeScore(
                name, len(group), _mean([float(s.correct) for s in group]), measure,
                percentile((s.first_token_s for s in group), 50), percentile((s.total_s for s in group), 50),
                _recall([s for s in group if s.points]),
            )
        )  # fmt: skip
    counts = {
        "items": len(scores),
        "answerable": len(answerable),
        "declinable": len(declinable),
        "answered": len(answered),
        "declined": sum(s.declined for s in scores),
        "correct": sum(s.correct for s in scores),
        "false_refusals": sum(s.false_refusal for s in answerable),
        "must_not_contain_violations": sum(bool(s.forbidden) for s in scores),
        "citations": cited,
        "citations_supported": supported,
        "fallbacks": sum(s.fallback for s in scores),
        "errors": sum(s.error for s in scores),
    }
    return Summary(
        hit1=retrieval.hit1 if retrieval else None,
        hit3=retrieval.hit3 if retrieval else None,
        hit5=retrieval.hit5 if retrieval else None,
        mrr=retrieval.mrr if retrieval else None,
        answer_accuracy=_mean([float(s.correct) for s in answerable]),
        exact_match=_mean([s.exact_match for s in answerable]),
        f1=_mean([s.f1 for s in answerable]),
        gold_contained=_mean([s.contained for s in answerable]),
        decline_accuracy=_mean([float(s.correct) for s in declinable]),
        false_refusal_rate=_mean([float(s.false_refusal) for s in answerable]),
        citation_precision=precision,
        citation_recall=recall,
        overall_accuracy=_mean([float(s.correct) for s in scores]),
        latency_p50_s=percentile((s.total_s for s in scores), 50),
        latency_p95_s=percentile((s.total_s for s in scores), 95),
        retrieval_p50_s=percentile((s.retrieve_s for s in scores), 50),
        retrieval_p95_s=percentile((s.retrieve_s for s in scores), 95),
        first_token_p50_s=percentile((s.first_token_s for s in scores), 50),
        first_token_p95_s=percentile((s.first_token_s for s in scores), 95),
        counts=tuple(counts.items()),
        per_type=tuple(per_type),
        key_point_recall=_recall([s for s in answerable if s.points]),
        length_kept=_mean([float(s.length_kept) for s in answerable if s.length_kept is not None]),
    )


def _recall(scores: Sequence[ItemScore]) -> float | None:
    """Mean key-point recall of whole-article items (a refusal holds none of its points)."""
    return _mean([s.points_held / s.points for s in scores if s.points])
