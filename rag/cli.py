"""Command line: ``rag index``, ``rag search``, ``rag ask``, ``rag warm``, ``rag eval``, ``rag serve``.

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
from pathlib import Path

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


def add_backend_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of the language-model backends (the command adds its own ``--backend``)."""
    local = parser.add_argument_group("llama-cpp backend")
    local.add_argument("--model", help="GGUF model: packaged name, path or hf:REPO:FILE (env RAG_MODEL)")
    local.add_argument("--n-ctx", type=int, default=4096, help="context window of the local model")
    local.add_argument("--threads", type=int, help="CPU threads for the local model (default: all)")
    remote = parser.add_argument_group("openai backend")
    remote.add_argument("--base-url", help="OpenAI-compatible server URL (env OPENAI_BASE_URL)")
    remote.add_argument("--openai-model", help="model name on that server (env RAG_OPENAI_MODEL)")
    remote.add_argument("--api-key", help="API key (env OPENAI_API_KEY; never logged or written anywhere)")
    remote.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for the server (default 60)"
    )


def backend_options(name: str, args: argparse.Namespace, cache_dir: str | os.PathLike | None) -> dict:
    """Constructor options of backend ``name`` from flags, else the environment."""
    if name == "llama-cpp":
        options: dict = {"cache_dir": cache_dir, "n_ctx": args.n_ctx}
        model = args.model or _env("RAG_MODEL")
        if model:
            options["model"] = model
        if args.threads:
            options["threads"] = args.threads
        return options
    if name == "openai":
        return {
            "base_url": args.base_url or _env("OPENAI_BASE_URL"),
            "model": args.openai_model or _env("RAG_OPENAI_MODEL"),
            "api_key": args.api_key or _env("OPENAI_API_KEY"),
            "timeout": getattr(args, "timeout", 60.0),
        }
    return {}


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


def _cmd_ask(args: argparse.Namespace) -> int:
    from .assistant import Assistant, AssistantConfig
    from .retriever import default_cache_root

    retriever = retriever_from_args(args)
    cache = args.cache_dir or default_cache_root(Path(retriever.corpus.root))
    options = backend_options(args.backend, args, cache)
    config = AssistantConfig(k=args.k, fallback=not args.no_fallback)
    bot = Assistant.from_corpus(retriever=retriever, backend=args.backend, config=config, **options)
    history = json.loads(Path(args.history).read_text("utf-8")) if args.history else None
    answer = None
    live = sys.stderr.isatty() and not args.json
    if args.backend == "llama-cpp":
        _warm(bot, live)
    for event in bot.stream(args.question, history=history):
        if event.kind == "final":
            answer = event.answer
        elif live and event.kind == "delta":
            print(event.text, end="", file=sys.stderr, flush=True)
        elif live and event.kind == "status":
            print(f"[{event.text}]", file=sys.stderr, flush=True)
    if live:
        print(file=sys.stderr)
    assert answer is not None
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print(answer.text)
    for note in answer.notes:
        print(f"note: {note}")
    if answer.error:
        print(
            f"error: {answer.error}{' (extractive answer shown)' if answer.fallback else ''}", file=sys.stderr
        )
    for c in answer.citations:
        print(f"\n[¶{c.paragraph}] ({c.doc}) {c.text}")
    t = answer.timings
    first = f"{t.first_token_s:.2f}s" if t.first_token_s is not None else "-"
    print(f"\n({answer.backend}; retrieval {t.retrieve_s:.2f}s, first token {first}, total {t.total_s:.2f}s)")
    return 0


def _warm(bot, live: bool) -> float | None:
    """Read the article into the local model (from the cache when it was done before)."""
    from .backends import BackendError

    if live:
        print("[Reading the article into the model…]", file=sys.stderr, flush=True)
    try:
        return bot.warm()
    except BackendError:
        return None  # the question then falls back and says why


def _cmd_warm(args: argparse.Namespace) -> int:
    from .assistant import Assistant
    from .retriever import default_cache_root

    retriever = retriever_from_args(args)
    cache = args.cache_dir or default_cache_root(Path(retriever.corpus.root))
    bot = Assistant.from_corpus(
        retriever=retriever, backend="llama-cpp", **backend_options("llama-cpp", args, cache)
    )
    seconds = bot.warm()
    if seconds is None:
        print("nothing to prepare: no article is short enough to be read whole")
    else:
        print(f"the article prompt is ready in the cache ({seconds:.1f} s)")
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

    p = sub.add_parser("ask", help="answer a question from the articles, with paragraph citations")
    p.add_argument("question")
    p.add_argument(
        "--backend",
        default=_env("RAG_BACKEND", "llama-cpp"),
        choices=["llama-cpp", "openai", "extractive"],
        help="who writes the answer (env RAG_BACKEND; default llama-cpp, the packaged local model)",
    )
    p.add_argument("-k", type=int, default=4, help="passages retrieved (default 4)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--history", help="JSON file with earlier turns: [{role, content}, ...]")
    p.add_argument(
        "--no-fallback", action="store_true", help="show backend errors instead of an extractive answer"
    )
    add_backend_flags(p)
    add_retriever_flags(p)
    p.set_defaults(func=_cmd_ask)

    p = sub.add_parser(
        "warm", help="load the local model and cache its reading of the article (faster first answers)"
    )
    add_backend_flags(p)
    add_retriever_flags(p)
    p.set_defaults(func=_cmd_warm)

    _add_optional_commands(sub)
    return parser


def _add_optional_commands(sub) -> None:
    """Commands defined next to their code; each module imports its heavy parts lazily."""
    from . import web
    from .evaluation import runner

    runner.add_parser(sub, add_retriever_flags)
    web.add_parser(sub, add_retriever_flags)


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
