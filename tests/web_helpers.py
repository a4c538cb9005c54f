"""Helpers for the web tests: free ports, a real ``python app.py`` process, in-process apps,
and small chat backends that stand in for a model whose reply a test must control.

The fake backends are real :class:`~rag.backends.ChatBackend` implementations driven through
the whole pipeline (retrieval, prompt, streaming, grounding, the page); they replace only the
language model, for replies a real model cannot be made to give on demand (a hostile string,
a failure, a slow deterministic stream).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

from fault_server import grounded_reply
from net_helpers import free_port

from rag.backends import BACKENDS, BackendError
from rag.types import ChatMessage

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "test-output"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]

HOSTILE_HTML = '<img src=x onerror="window.__xss=1;alert(1)"> <script>window.__xss=2;alert(2)</script>'


def wait_http(url: str, timeout: float = 120.0, proc: subprocess.Popen | None = None) -> None:
    """Wait until ``url`` answers HTTP 200 (fail early if ``proc`` exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the app exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not come up within {timeout:.0f} s")


def wait_for_line(log: Path, text: str, timeout: float = 300.0) -> str:
    """Wait until a line holding ``text`` is written to ``log`` (the app's terminal output); return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text("utf-8", "replace").splitlines() if log.exists() else []:
            if text in line:
                return line
        time.sleep(0.1)
    raise TimeoutError(f"{text!r} was not written to {log} within {timeout:.0f} s")


def app_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "GRADIO_", "OPENAI_"))}
    env.update(GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", PYTHONIOENCODING="utf-8")
    env.update(extra)
    return env


@contextlib.contextmanager
def app_process(args: Sequence[str], env: dict[str, str] | None = None, log: Path | None = None):
    """Run ``python app.py ARGS`` (which must include ``--port``) until the block ends; yield its URL."""
    with running_app(args, env, log) as (url, _):
        yield url


@contextlib.contextmanager
def running_app(args: Sequence[str], env: dict[str, str] | None = None, log: Path | None = None):
    """:func:`app_process` that also yields the process: ``(url, proc)``."""
    port = args[list(args).index("--port") + 1]
    url = f"http://127.0.0.1:{port}"
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "app.py"), *args],
        cwd=REPO,
        env=env or app_env(),
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_http(url + "/", proc=proc)
        yield url, proc
    finally:
        stop_process(proc)
        if log:
            out.close()


def stop_process(proc: subprocess.Popen, timeout: float = 20) -> None:
    """Terminate ``proc``, and kill it if it has not ended after ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def chromium_browser():
    """Debian's headless Chromium driven by Playwright; fails the test when either is missing
    (the README's test command installs both)."""
    from playwright import sync_api

    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium (scripts/setup.sh --test)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def app_in_process(documents, retriever, *, backend: str = "extractive", load_wait: float = 60.0, **config):
    """Serve the page and the API in this process (uvicorn in a thread, so a test can plug in a
    fake backend); yield (url, service)."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    from rag.settings import WebConfig
    from rag.web.server import running
    from rag.web.service import Service

    web_config = WebConfig(port=free_port(), backend=backend, load_wait=load_wait, **config)
    service = Service(web_config, documents, lambda: retriever)
    with running(service, web_config) as url:
        wait_http(url + "/")
        yield url, service


@contextlib.contextmanager
def registered(**factories):
    """Make stand-in backends available by name (``--backend`` / Settings) for the block only."""
    saved = {name: BACKENDS.get(name) for name in factories}
    BACKENDS.update(factories)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                BACKENDS.pop(name, None)
            else:
                BACKENDS[name] = old


# -- stand-in models ---------------------------------------------------------------------
class _Backend:
    context_window = 4096

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 1


class EchoBackend(_Backend):
    """Streams, word by word, the first sentence of the prompt paragraph closest to the question.

    A deterministic, grounded, *streamed* reply: what a well-behaved model does, slowly enough
    for a browser to see the deltas arrive.
    """

    name = "echo"

    def __init__(self, delay: float = 0.04) -> None:
        self.delay = delay

    def stream(self, messages: Sequence[ChatMessage], *, max_tokens=256, temperature=0.0, stop=None):
        sentence = grounded_reply([{"content": messages[-1].content}])
        for word in sentence.split(" "):
            time.sleep(self.delay)
            yield word + " "


class EndlessBackend(_Backend):
    """Streams words quickly and never ends: a reply that only Stop can end."""

    name = "endless"

    def stream(self, messages: Sequence[ChatMessage], *, max_tokens=256, temperature=0.0, stop=None):
        while True:
            time.sleep(0.01)
            yield "NATO "


class HostileBackend(_Backend):
    """Streams a reply full of markup that would run script if the page rendered it as HTML."""

    name = "hostile"

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens=256, temperature=0.0, stop=None
    ) -> Iterator[str]:
        label = "¶3"
        pieces = [
            "NATO and the United States confirmed ",
            '<img src=x onerror="window.__xss=1;alert(1)">',
            " evidence of North Korean troops in Russia ",
            "<script>window.__xss=2;alert(2)</script>",
            '<a href="javascript:alert(3)">link</a> <svg onload="alert(4)"></svg>',
            f" [{label}]",
        ]
        for piece in pieces:
            time.sleep(0.03)
            yield piece


class FailingBackend(_Backend):
    """Fails the way an unreachable server does: a :class:`BackendError` naming the setting."""

    name = "failing"

    def stream(self, messages, *, max_tokens=256, temperature=0.0, stop=None) -> Iterator[str]:
        raise BackendError("cannot reach http://127.0.0.1:9/v1: connection refused", setting="--base-url")
        yield ""  # pragma: no cover


class SlowLoadingBackend(EchoBackend):
    """A local-model-like backend that is still loading until :meth:`finish` is called."""

    name = "slow-loading"

    def __init__(self) -> None:
        super().__init__(delay=0.0)
        self._state = "not loaded"
        self.load_seconds = None

    @property
    def status(self) -> str:
        return self._state

    def start_loading(self) -> None:
        if self._state == "not loaded":
            self._state = "loading"

    def finish(self) -> None:
        self._state = "ready"
        self.load_seconds = 0.1
