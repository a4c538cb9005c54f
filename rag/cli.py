"""Command line: ``rag index``, ``rag search``, ``rag ask``, ``rag eval``, ``rag bench``, ``rag serve``.

Settings come from flags, else from environment variables (read here, at the edge, and
nowhere in the library), else from defaults. ``rag --help`` lists them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import asdict

ENV = {
    "corpus": "RAG_CORPUS",
    "cache_dir": "RAG_CACHE_DIR",
    "embed_model": "RAG_EMBED_MODEL",
    "embed_backend": "RAG_EMBED_BACKEND",
}


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def add_retriever_flags(parser: argparse.ArgumentParser) -> None:
    """Flags shared by every command that opens a corpus."""
    group = parser.add_argument_group("corpus and index")
    group.add_argument("--corpus", default=_env(ENV["corpus"]), help="folder of articles (env RAG_CORPUS)")
    group.add_argument(
        "--cache-dir", default=_env(ENV["cache_dir"]), help="index cache folder (env RAG_CACHE_DIR)"
    )
    group.add_argument(
        "--embed-model",
        default=_env(ENV["embed_model"]),
        help="embedding model: folder, hub id, or all-MiniLM-L6-v2 (default; packaged) (env RAG_EMBED_MODEL)",
    )
    group.add_argument(
        "--embed-backend",
        default=_env(ENV["embed_backend"], "onnx"),
        choices=["onnx", "torch"],
        help="run the embedding model with ONNX Runtime (default) or torch (env RAG_EMBED_BACKEND)",
    )
    group.add_argument(
        "--mode", default="hybrid", choices=["hybrid", "dense", "bm25"], help="retrievers to use"
    )
    group.add_argument("--expand", type=int, default=0, help="neighbouring paragraphs added to each passage")


def retriever_from_args(args: argparse.Namespace, *, progress: bool | None = None):
    """Open the retriever the flags describe."""
    from .retriever import Retriever, RetrieverConfig

    config = RetrieverConfig(
        embed_model=args.embed_model,
        embed_backend=args.embed_backend,
        mode=args.mode,
        expand=args.expand,
        cache_dir=args.cache_dir,
    )
    return Retriever.from_corpus(args.corpus, config=config, progress=progress)


def _cmd_index(args: argparse.Namespace) -> int:
    retriever = retriever_from_args(args, progress=True)
    info = retriever.info
    docs = retriever.corpus.documents
    print(f"{len(docs)} article(s), {sum(len(d.paragraphs) for d in docs)} paragraphs, {info.chunks} chunks")
    print(f"index {info.status} in {info.seconds:.2f}s ({info.kind}) at {info.folder}")
    for path, reason in retriever.corpus.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    retriever = retriever_from_args(args)
    passages = retriever.search(args.question, k=args.k)
    if args.json:
        print(json.dumps([asdict(p) for p in passages], ensure_ascii=False, indent=2))
        return 0
    for rank, p in enumerate(passages, start=1):
        print(f"{rank}. [{p.label()}] score {p.score:.4f} ({'+'.join(p.retrievers)})")
        print(f"   {p.text}\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag", description="Grounded Q&A over news articles, with citations."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="build (or check) the index of the corpus")
    add_retriever_flags(p)
    p.set_defaults(func=_cmd_index)

    p = sub.add_parser("search", help="print the passages that best match a question")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=5, help="number of passages (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_retriever_flags(p)
    p.set_defaults(func=_cmd_search)

    _add_optional_commands(sub)
    return parser


def _add_optional_commands(sub) -> None:
    """Commands defined next to their code; each module imports its heavy parts lazily."""
    from .evaluation import runner

    runner.add_parser(sub, add_retriever_flags)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError, RuntimeError) as exc:  # every library error is one of these
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
