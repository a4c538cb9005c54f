"""Local GGUF models through llama-cpp-python.

The model loads once, lazily (or in the background with :meth:`LlamaCppBackend.start_loading`,
so a web page can come up first). One ``Llama`` object is not safe for concurrent use, so
generation is serialised by a lock: concurrent requests queue and each gets its own reply.
llama.cpp keeps the KV cache of the previous prompt, so the shared system prompt is not
evaluated again for the next question.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..models import DEFAULT_LOCAL_MODEL, ModelNotFoundError, resolve_gguf
from ..tokens import TiktokenCounter
from ..types import ChatMessage
from .protocol import BackendError

log = logging.getLogger(__name__)


class LlamaCppBackend:
    """A :class:`~rag.backends.ChatBackend` running a GGUF model in this process.

    ``model`` is a packaged model name (see :mod:`rag.models`), a path to a ``.gguf`` file,
    or ``hf:REPO/ID:FILE.gguf`` to download from the Hugging Face hub (needs a network).
    """

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        *,
        cache_dir: str | os.PathLike | None = None,
        n_ctx: int = 4096,
        threads: int | None = None,
        seed: int = 0,
    ) -> None:
        self.model = str(model) if model else DEFAULT_LOCAL_MODEL
        self.cache_dir = Path(cache_dir) if cache_dir else Path.home() / ".cache" / "korea-herald-rag"
        self.n_ctx = n_ctx
        self.threads = threads or os.cpu_count() or 1
        self.seed = seed
        self._llm = None
        self._error: BackendError | None = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._loader: threading.Thread | None = None
        self._tiktoken = TiktokenCounter()
        self.load_seconds: float | None = None

    # -- contract -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return f"llama-cpp:{Path(self.model).name if os.sep in self.model else self.model}"

    @property
    def context_window(self) -> int:
        return self.n_ctx

    def count_tokens(self, text: str) -> int:
        llm = self._llm
        if llm is None:
            return self._tiktoken.count(text)
        return len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> Iterator[str]:
        llm = self.load()
        payload = [{"role": m.role, "content": m.content} for m in messages]
        with self._run_lock:
            try:
                chunks = llm.create_chat_completion(
                    payload,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    stop=list(stop or []),
                    stream=True,
                    seed=self.seed,
                )
                for chunk in chunks:
                    piece = chunk["choices"][0]["delta"].get("content")
                    if piece:
                        yield piece
            except ValueError as exc:  # llama-cpp-python reports a prompt over n_ctx this way
                raise BackendError(f"the local model rejected the prompt: {exc}", setting="--n-ctx") from exc
            except RuntimeError as exc:
                raise BackendError(f"the local model failed: {exc}") from exc

    # -- loading --------------------------------------------------------------------------
    @property
    def status(self) -> str:
        """``"not loaded"``, ``"loading"``, ``"ready"`` or ``"failed: <reason>"``."""
        if self._llm is not None:
            return "ready"
        if self._error is not None:
            return f"failed: {self._error}"
        if self._loader is not None and self._loader.is_alive():
            return "loading"
        return "not loaded"

    def start_loading(self) -> None:
        """Load the model in a background thread (returns at once)."""
        if self._llm is None and self._loader is None:
            self._loader = threading.Thread(target=self._load_quietly, name="llama-load", daemon=True)
            self._loader.start()

    def _load_quietly(self) -> None:
        with contextlib.suppress(BackendError):  # kept in self._error and shown by `status`
            self.load()

    def load(self):
        """Load the model now (once); raise :class:`BackendError` if it cannot be loaded."""
        if self._llm is not None:
            return self._llm
        with self._load_lock:
            if self._llm is not None:
                return self._llm
            if self._error is not None:
                raise self._error
            start = time.perf_counter()
            try:
                self._llm = self._open()
            except BackendError as exc:
                self._error = exc
                raise
            self.load_seconds = time.perf_counter() - start
            log.info("loaded %s in %.2fs", self.model, self.load_seconds)
            return self._llm

    def _open(self):
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise BackendError(
                "llama-cpp-python is not installed: pip install 'llama-cpp-python[server]'",
                setting="--backend",
            ) from exc
        options = dict(
            n_ctx=self.n_ctx,
            n_threads=self.threads,
            n_threads_batch=self.threads,
            n_batch=512,
            seed=self.seed,
            verbose=False,
        )
        try:
            if self.model.startswith("hf:"):
                repo, _, filename = self.model[3:].partition(":")
                return Llama.from_pretrained(repo_id=repo, filename=filename or "*.gguf", **options)
            path = resolve_gguf(self.model, self.cache_dir)
            return Llama(model_path=str(path), **options)
        except ModelNotFoundError as exc:
            raise BackendError(str(exc), setting="--model / RAG_MODEL") from exc
        except (ValueError, OSError, RuntimeError) as exc:
            raise BackendError(
                f"cannot load the local model {self.model!r}: {exc}", setting="--model / RAG_MODEL"
            ) from exc
