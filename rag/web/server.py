"""``rag serve`` and ``python app.py``: the web chat and the HTTP API in one process.

One FastAPI app served by uvicorn: the API under ``/v1`` (:mod:`rag.web.api`) and the Gradio
page at ``/`` (:mod:`rag.web.app`), on the same host and port (default 127.0.0.1:7860). The
flags are those of :mod:`rag.settings`.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from .. import settings as flags
from ..corpus import load_corpus
from ..settings import WebConfig
from . import api
from .app import build_app, mount_page
from .service import Service
from .setup_watch import SetupWatch

log = logging.getLogger(__name__)


def make_service(
    args: argparse.Namespace,
    config: WebConfig,
    *,
    local_setup: SetupWatch | None = None,
    say: Callable[[str], None] | None = None,
) -> Service:
    """Read the corpus now (fast, for the page) and prepare to open the index in the background."""
    folder = flags.corpus_path(args)
    corpus = load_corpus(folder)
    for path, reason in corpus.skipped:
        log.warning("skipped %s: %s", path, reason)
    read_only = None
    if flags.is_packaged_corpus(folder):
        read_only = (
            "the server answers from the seed article shipped with the package, which is read-only: "
            "start it with --corpus FOLDER (or RAG_CORPUS) to add articles"
        )
    return Service(
        config,
        corpus.documents,
        lambda: flags.open_retriever(args),
        cache_root=flags.cache_root(args, folder),  # the CLI's, so `rag warm` prepares the page's
        corpus_folder=folder if folder.is_dir() else None,
        read_only_reason=read_only,
        local_setup=local_setup,
        say=say,
    )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def create_app(service: Service, config: WebConfig) -> FastAPI:
    """One FastAPI app: the HTTP API under ``/v1`` and the Gradio page at ``/``."""
    app = FastAPI(title="korea-herald-rag", docs_url=None, redoc_url=None, openapi_url=None)
    api.install(app, service, allow_writes=bool(config.server_api_key) or is_loopback(config.host))
    demo = build_app(service, page_uploads=is_loopback(config.host) or bool(config.password))
    return mount_page(app, demo, config)


class _Server(uvicorn.Server):
    """uvicorn's server that first ends the page's heartbeat streams when it stops.

    Every open tab (and every ``gradio_client``) holds a heartbeat stream that only ends when
    Gradio's stop event is set, which Gradio's own ``launch()`` does and a mounted page never
    gets: without it every stop waited out the whole grace period for idle tabs. Answers still
    streaming keep the grace period to finish.
    """

    def __init__(self, config: uvicorn.Config, stop_events: list) -> None:
        super().__init__(config)
        self._stop_events = stop_events

    async def shutdown(self, sockets=None) -> None:
        for event in self._stop_events:
            event.set()
        await super().shutdown(sockets=sockets)


def _page_stop_events(app: FastAPI) -> list:
    """The stop events of the Gradio apps mounted in ``app``."""
    from gradio.routes import App

    return [route.app.stop_event for route in app.routes if isinstance(getattr(route, "app", None), App)]


def uvicorn_server(app: FastAPI, config: WebConfig) -> uvicorn.Server:
    return _Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_level="warning",
            access_log=False,  # request lines never reach the log (nor does any header)
            timeout_graceful_shutdown=5,
            lifespan="on",
        ),
        _page_stop_events(app),
    )


def say(text: str) -> None:
    """One line of start-up progress on the terminal, with the seconds since the process began."""
    print(f"[chat {time.monotonic() - _STARTED:5.1f} s] {text}", flush=True)


_STARTED = time.monotonic()


def serve(args: argparse.Namespace, local_setup: SetupWatch | None = None) -> int:
    """Serve the page and the API and block until interrupted (``rag serve`` / ``python app.py``).

    ``local_setup``: the local model's set-up, which may still run in the background (``make
    chat``); the page quotes the article until it is done.
    """
    config = flags.web_config(args)
    service = make_service(args, config, local_setup=local_setup, say=say)
    server = uvicorn_server(create_app(service, config), config)
    where = f"http://{config.host}:{config.port}"

    def when_up() -> None:
        # The index and the local model load after the page is up: started earlier, their
        # imports compete with the server's for the GIL and delay the page by seconds on 2 cores.
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.05)
        service.start()
        log.info("serving on %s (backend %s)", where, config.backend)
        user = f" (user {config.user!r})" if config.password else ""
        print(f"Ask the article: {where}{user}; API: {where}/v1", flush=True)
        say("the page is up; it answers once the article index is open (seconds)")

    threading.Thread(target=when_up, name="rag-start", daemon=True).start()
    server.run()
    if not server.started:
        raise OSError(f"could not listen on {config.host}:{config.port}")
    return 0


@contextlib.contextmanager
def running(service: Service, config: WebConfig) -> Iterator[str]:
    """Serve ``service`` in a background thread of this process until the block ends; yield its URL."""
    server = uvicorn_server(create_app(service, config), config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # not the main thread
    thread = threading.Thread(target=server.run, name="rag-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start on {config.host}:{config.port}")
        time.sleep(0.02)
    service.start()
    try:
        yield f"http://{config.host}:{config.port}"
    finally:
        server.should_exit = True
        thread.join(10)


def build_parser() -> argparse.ArgumentParser:
    """The flags of ``python app.py`` (the same as ``rag serve``)."""
    parser = argparse.ArgumentParser(prog="app.py", description="The web chat over the article.")
    flags.add_verbose_flag(parser)
    flags.add_server_flags(parser)
    flags.add_corpus_flags(parser)
    return parser


def main(argv: list[str] | None = None, setup_folder: Path | None = None) -> int:
    """``python app.py``: the same as ``rag serve``; ``setup_folder`` holds the state of a set-up
    that may still be finishing the local model (``scripts/setup.sh --chat``)."""
    args = build_parser().parse_args(argv)
    flags.setup_logging(args.verbose)
    try:
        return serve(args, SetupWatch(setup_folder) if setup_folder is not None else None)
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
