"""Command line: ``rag index``, ``rag search``, ``rag ask``, ``rag warm``, ``rag eval``, ``rag serve``.

Settings come from flags, else from environment variables, else from defaults; all of them are
read by :mod:`rag.settings` (the only module that reads the environment). ``rag --help`` lists them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from dataclasses import asdict
from pathlib import Path

from . import settings
from .assistant import Assistant, AssistantConfig
from .evaluation import calibrate, runner


def _cmd_index(args: argparse.Namespace) -> int:
    retriever = settings.open_retriever(args, progress=True)
    info = retriever.info
    docs = retriever.corpus.documents
    print(f"{len(docs)} article(s), {sum(len(d.paragraphs) for d in docs)} paragraphs, {info.chunks} chunks")
    print(f"index {info.status} in {info.seconds:.2f}s ({info.kind}) at {info.folder}")
    for path, reason in retriever.corpus.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    retriever = settings.open_retriever(args)
    passages = retriever.search(args.question, k=args.k)
    if args.json:
        print(json.dumps([asdict(p) for p in passages], ensure_ascii=False, indent=2))
        return 0
    for rank, p in enumerate(passages, start=1):
        print(f"{rank}. [{p.label()}] score {p.score:.4f} ({'+'.join(p.retrievers)})")
        print(f"   {p.text}\n")
    return 0


def _cmd_ask(args: argparse.Namespace) -> int:
    retriever = settings.open_retriever(args)
    cache = settings.cache_root(args, Path(retriever.corpus.root))
    options = settings.backend_options(args.backend, args, cache)
    # One question, then the process ends: a background reading of the article would die with
    # it, so the question waits for the model to read the article it is about.
    config = AssistantConfig(k=args.k, fallback=not args.no_fallback, while_reading="wait")
    bot = Assistant.from_corpus(retriever=retriever, backend=args.backend, config=config, **options)
    history = json.loads(Path(args.history).read_text("utf-8")) if args.history else None
    answer = None
    live = sys.stderr.isatty() and not args.json
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


def _cmd_warm(args: argparse.Namespace) -> int:
    retriever = settings.open_retriever(args)
    cache = settings.cache_root(args, Path(retriever.corpus.root))
    bot = Assistant.from_corpus(
        retriever=retriever, backend=settings.LOCAL, **settings.backend_options(settings.LOCAL, args, cache)
    )

    def say(doc: str, seconds: float | None) -> None:
        if seconds is None:
            print(f"{doc}: too long to be read whole (answered from its best sentences)", flush=True)
        else:
            print(f"{doc}: the model's reading is ready in the cache ({seconds:.1f} s)", flush=True)

    read = bot.warm_all(on_read=say)
    if not any(s is not None for s in read.values()):
        print("nothing to prepare: no article is short enough to be read whole")
    left = len(retriever.corpus.documents) - len(read)
    if left > 0:
        print(f"{left} more article(s): read when a question first needs one (the cache keeps {len(read)})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag", description="Grounded Q&A over news articles, with citations."
    )
    settings.add_verbose_flag(parser)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="build (or check) the index of the corpus")
    settings.add_corpus_flags(p)
    p.set_defaults(func=_cmd_index)

    p = sub.add_parser("search", help="print the passages that best match a question")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=5, help="number of passages (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON")
    settings.add_corpus_flags(p)
    p.set_defaults(func=_cmd_search)

    p = sub.add_parser("ask", help="answer a question from the articles, with paragraph citations")
    p.add_argument("question")
    settings.add_backend_flag(p)
    p.add_argument("-k", type=int, default=4, help="passages retrieved (default 4)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--history", help="JSON file with earlier turns: [{role, content}, ...]")
    p.add_argument(
        "--no-fallback", action="store_true", help="show backend errors instead of an extractive answer"
    )
    settings.add_model_flags(p)
    settings.add_corpus_flags(p)
    p.set_defaults(func=_cmd_ask)

    p = sub.add_parser(
        "warm", help="load the local model and cache its reading of the articles (faster first answers)"
    )
    settings.add_model_flags(p)
    settings.add_corpus_flags(p)
    p.set_defaults(func=_cmd_warm)

    runner.add_parser(sub)
    calibrate.add_parser(sub)

    p = sub.add_parser("serve", help="open the web chat and the HTTP API (http://127.0.0.1:7860)")
    settings.add_server_flags(p)
    settings.add_corpus_flags(p)
    p.set_defaults(func=_cmd_serve)
    return parser


def _cmd_serve(args: argparse.Namespace) -> int:
    """``rag serve``: the web app needs the ``web`` extra, so it is imported only here."""
    if importlib.util.find_spec("gradio") is None:
        raise RuntimeError("rag serve needs the web extra: pip install 'korea-herald-rag[web]'")
    from .web.server import serve

    return serve(args)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings.setup_logging(args.verbose)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError, RuntimeError) as exc:  # every library error is one of these
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
