"""``rag eval``: retrieval metrics (``--retrieval``) and, per backend, answer metrics."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .dataset import load_dataset
from .retrieval import evaluate_retriever

DEFAULT_DATASET = Path(__file__).resolve().parents[2] / "eval" / "qa.jsonl"


def add_parser(sub, add_retriever_flags) -> None:
    p = sub.add_parser("eval", help="evaluate retrieval and answers on a Q&A set")
    p.add_argument(
        "--dataset", default=str(DEFAULT_DATASET), help="JSON-lines Q&A file (default eval/qa.jsonl)"
    )
    p.add_argument("--retrieval", action="store_true", help="retrieval metrics only, with the two baselines")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_retriever_flags(p)
    p.set_defaults(func=main)


def retrieval_table(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """hit@k and MRR for this retriever and the BM25-only and dense-only paragraph baselines."""
    from ..chunking import ChunkingConfig
    from ..cli import retriever_from_args
    from ..retriever import Retriever, RetrieverConfig

    items = load_dataset(args.dataset)
    ours = retriever_from_args(args)
    paragraphs = ChunkingConfig(min_tokens=0)  # one chunk per paragraph
    base = RetrieverConfig(
        embed_model=args.embed_model,
        embed_backend=args.embed_backend,
        chunking=paragraphs,
        sentence_vectors=False,
        acronyms=False,
        cache_dir=args.cache_dir,
    )
    baseline = Retriever.from_corpus(args.corpus, config=base, embedder=ours.embedder)
    return {
        "hybrid (this retriever)": evaluate_retriever(ours, items).as_dict(),
        "bm25 paragraphs": evaluate_retriever(baseline, items, mode="bm25").as_dict(),
        "dense paragraphs": evaluate_retriever(baseline, items, mode="dense").as_dict(),
    }


def main(args: argparse.Namespace) -> int:
    table = retrieval_table(args)
    if args.json:
        print(json.dumps(table, indent=2))
        return 0
    n = next(iter(table.values()))["n"]
    print(f"Retrieval on {args.dataset} ({n:.0f} answerable items)")
    print(f"{'retriever':26s} {'hit@1':>6s} {'hit@3':>6s} {'hit@5':>6s} {'MRR':>6s}")
    for name, row in table.items():
        print(f"{name:26s} {row['hit@1']:6.3f} {row['hit@3']:6.3f} {row['hit@5']:6.3f} {row['mrr']:6.3f}")
    return 0
