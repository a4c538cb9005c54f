"""``rag serve`` and ``python app.py``: the web chat and the HTTP API in one process.

The flags are those of :mod:`rag.settings`; the page is :mod:`rag.web.app`.
"""

from __future__ import annotations

import argparse
import logging
import sys

from .. import settings as flags
from ..corpus import load_corpus
from ..settings import WebConfig
from .app import build_app, launch_options
from .service import Service

log = logging.getLogger(__name__)


def make_service(args: argparse.Namespace, config: WebConfig) -> Service:
    """Read the corpus now (fast, for the page) and prepare to open the index in the background."""
    corpus = load_corpus(flags.corpus_path(args))
    for path, reason in corpus.skipped:
        log.warning("skipped %s: %s", path, reason)
    return Service(config, corpus.documents, lambda: flags.open_retriever(args))


def serve(args: argparse.Namespace) -> int:
    """Start the page and block until interrupted (``rag serve`` / ``python app.py``)."""
    config = flags.web_config(args)
    service = make_service(args, config)
    demo = build_app(service)
    demo.launch(**launch_options(config), quiet=True, prevent_thread_lock=True)
    # The index and the local model load after the page is up: started earlier, their
    # imports compete with Gradio's for the GIL and delay the page by seconds on 2 cores.
    service.start()
    where = f"http://{config.host}:{config.port}"
    log.info("serving on %s (backend %s)", where, config.backend)
    print(f"Ask the article: {where}" + (f" (user {config.user!r})" if config.password else ""), flush=True)
    demo.block_thread()
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The flags of ``python app.py`` (the same as ``rag serve``)."""
    parser = argparse.ArgumentParser(prog="app.py", description="The web chat over the article.")
    flags.add_verbose_flag(parser)
    flags.add_server_flags(parser)
    flags.add_corpus_flags(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """``python app.py``: the same as ``rag serve``."""
    args = build_parser().parse_args(argv)
    flags.setup_logging(args.verbose)
    try:
        return serve(args)
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
