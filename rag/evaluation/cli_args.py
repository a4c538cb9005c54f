"""The flags of ``rag eval`` (:mod:`rag.evaluation.runner`), and the assistant settings they describe.

Flags and their environment defaults come from :mod:`rag.settings` (docs/configuration.md).
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from .. import settings
from ..assistant_config import CHECK_NAMES, AssistantConfig


def eval_parser(sub) -> argparse.ArgumentParser:
    """Add the ``eval`` subcommand and its flags to ``sub`` (the CLI's subparsers); return it."""
    p = sub.add_parser(
        "eval",
        help="evaluate retrieval and answers on a Q&A set",
        description="Evaluate retrieval and answers on a JSON-lines Q&A set (format: docs/evaluation.md).",
    )
    p.add_argument(
        "--dataset",
        default=str(settings.default_dataset()),
        help="JSON-lines Q&A file (default eval/qa.jsonl)",
    )
    p.add_argument("--retrieval", action="store_true", help="retrieval metrics only, with the two baselines")
    p.add_argument("--json", action="store_true", help="print JSON")
    settings.add_backend_flag(p, many=True)
    p.add_argument("--naive", action="store_true", help="also run the naive-RAG baseline of each LLM backend")
    p.add_argument(
        "--context",
        choices=["article", "sentences"],
        default="article",
        help="what a language model reads: the whole article when it fits (default) or the best sentences",
    )
    p.add_argument(
        "--citations",
        choices=["aligner", "model"],
        default="aligner",
        help="who places the [¶N] markers: the sentence checks (default) or the model, from "
        "labelled paragraphs",
    )
    p.add_argument(
        "--corpora",
        metavar="DIR",
        help="folder of the corpora that items name with their `corpus` key "
        "(default: corpora/ beside the dataset)",
    )
    p.add_argument(
        "--without",
        nargs="+",
        default=[],
        metavar="CHECK",
        help=f"switch checks off (an ablation): {', '.join(CHECK_NAMES)}",
    )
    p.add_argument(
        "--single-fact",
        action="store_true",
        help="put every question through the single-fact path (as before whole-article requests had "
        "their own paths: summaries, key points, lists, people, why/how)",
    )
    p.add_argument(
        "--rerank",
        action="store_true",
        help="also measure retrieval with the language model as a reranker (its P(yes) per passage)",
    )
    p.add_argument(
        "--ablation",
        action="store_true",
        help="also run each backend once with each check switched off (one row per check; use --replay)",
    )
    p.add_argument(
        "--replay",
        metavar="DIR",
        help="keep every language-model reply in DIR and reuse it when the same prompt comes again "
        "(for ablations: answers are the same, latencies are not real)",
    )
    p.add_argument("--out", metavar="DIR", help="output folder (default runs/<timestamp> beside the dataset)")
    p.add_argument("--compare", metavar="OLD_DIR", help="report the change since the run in OLD_DIR")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N items of the dataset")
    p.add_argument(
        "--per-type", type=int, metavar="N", help="only the first N items of each question type (smoke runs)"
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="only check the dataset against the corpus (evidence found verbatim)",
    )
    settings.add_model_flags(p)
    settings.add_corpus_flags(p)
    return p


def assistant_config(args: argparse.Namespace):
    """The :class:`~rag.assistant.AssistantConfig` the flags describe (``--context``, ``--ablate``)."""
    config = AssistantConfig()
    if getattr(args, "context", "article") == "sentences":
        config = replace(config, article_context_tokens=0)
    if getattr(args, "citations", "aligner") != "aligner":
        config = replace(config, citations=args.citations)
    if getattr(args, "without", None):
        config = replace(config, checks=config.checks.without(*args.without))
    if getattr(args, "single_fact", False):
        config = replace(config, whole_article=False)
    return config
