"""Retrieval metrics: hit@k and MRR, where a hit is a passage that contains an evidence string."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..conversation import heuristic_rewrite, speakers
from ..retriever import Retriever
from ..types import ChatMessage, Passage
from .dataset import EvalItem

KS = (1, 3, 5)


def holds(text: str, evidence: Sequence[str]) -> bool:
    """Whether ``text`` contains one of the evidence strings (runs of spaces count as one)."""
    flat = " ".join(text.split())
    return any(e.strip() and " ".join(e.split()) in flat for e in evidence)


def first_hit(passages: Sequence[Passage], evidence: Sequence[str]) -> int | None:
    """0-based rank of the first passage containing any evidence string, or ``None``."""
    for rank, passage in enumerate(passages):
        if holds(passage.text, evidence):
            return rank
    return None


@dataclass(frozen=True)
class RetrievalScores:
    """hit@1, hit@3, hit@5 and MRR over a set of items."""

    hit1: float
    hit3: float
    hit5: float
    mrr: float
    n: int

    def as_dict(self) -> dict[str, float]:
        return {"hit@1": self.hit1, "hit@3": self.hit3, "hit@5": self.hit5, "mrr": self.mrr, "n": self.n}


def score_ranks(ranks: Sequence[int | None]) -> RetrievalScores:
    """Aggregate first-hit ranks (``None`` = no hit in the top 5) into hit@k and MRR."""
    n = len(ranks)
    if n == 0:
        return RetrievalScores(0.0, 0.0, 0.0, 0.0, 0)

    def hit(k: int) -> float:
        return sum(r is not None and r < k for r in ranks) / n

    mrr = sum(1.0 / (r + 1) for r in ranks if r is not None and r < max(KS)) / n
    return RetrievalScores(hit(1), hit(3), hit(5), mrr, n)


def retrieval_query(item: EvalItem, people: Sequence[str] = ()) -> str:
    """The query the pipeline would search for: follow-ups are rewritten from the first turn."""
    if not item.history_turns:
        return item.question
    history = [ChatMessage("user", t) for t in item.history_turns]
    return heuristic_rewrite(item.question, history, people=people)


def evaluate_reranked(assistant, items: Sequence[EvalItem], k: int = max(KS)) -> RetrievalScores:
    """hit@k and MRR after :meth:`rag.assistant.Assistant.rerank` reorders the top ``k``."""
    retriever = assistant.retriever
    people = speakers(p.text for d in retriever.corpus.documents for p in d.paragraphs)
    ranks = []
    for item in items:
        if item.answerable:
            query = retrieval_query(item, people)
            ranks.append(first_hit(assistant.rerank(query, retriever.search(query, k=k)), item.evidence))
    return score_ranks(ranks)


def evaluate_retriever(
    retriever: Retriever,
    items: Sequence[EvalItem],
    *,
    mode: str | None = None,
    k: int = max(KS),
    on_item: Callable[[EvalItem, int | None], None] | None = None,
) -> RetrievalScores:
    """Run every answerable item through ``retriever`` and score the ranks of the first hit."""
    people = speakers(p.text for d in retriever.corpus.documents for p in d.paragraphs)
    ranks = []
    for item in items:
        if not item.answerable:
            continue
        rank = first_hit(retriever.search(retrieval_query(item, people), k=k, mode=mode), item.evidence)
        ranks.append(rank)
        if on_item:
            on_item(item, rank)
    return score_ranks(ranks)
