"""Local GGUF models through llama-cpp-python.

The model loads once, lazily (or in the background with :meth:`LlamaCppBackend.start_loading`,
so a web page can come up first). One ``Llama`` object is not safe for concurrent use, so
generation is serialised by a lock: concurrent requests queue and each gets its own reply.
llama.cpp keeps the KV cache of the previous prompt, so the shared system prompt is not
evaluated again for the next question.

:meth:`LlamaCppBackend.prime` goes further: it evaluates a long shared prompt prefix (the
instructions plus a whole article) once, saves that KV state to the cache folder, and brings
it back whenever another prompt (a follow-up rewrite, another article) has replaced it. A
question then costs only its own tokens, and a later start reads the state from disk instead
of evaluating the article again.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..models import DEFAULT_LOCAL_MODEL, ModelNotFoundError, resolve_gguf
from ..tokens import TiktokenCounter
from ..types import ChatMessage
from .protocol import BackendError

log = logging.getLogger(__name__)
# Saved prompt states kept in the cache's kv folder (about 50 MB each); older ones are deleted.
KEEP_STATES = 4


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
        self._primed: _Primed | None = None

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
                self._restore_prefix(llm, messages)
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

    # -- a primed prefix -------------------------------------------------------------------
    def prime(self, messages: Sequence[ChatMessage], marker: str) -> float:
        """Evaluate the prompt ``messages`` up to ``marker`` (in the last message) and keep it.

        Later prompts with the same messages before the last one, and a last message starting
        with the same text up to ``marker``, reuse the evaluated tokens. The KV state is saved
        in the cache folder (written atomically) and read back on the next start. Returns the
        seconds taken.
        """
        head, found, _ = messages[-1].content.partition(marker)
        if not found:
            raise ValueError("the marker is not in the last message")
        llm = self.load()
        start = time.perf_counter()
        key = _prefix_key(self._model_identity(), self.n_ctx, messages[:-1], head)
        path = self.cache_dir / "kv" / f"{key}.bin"
        payload = [{"role": m.role, "content": m.content} for m in messages]
        with self._run_lock:
            tokens = _load_state(llm, path)
            if tokens is None:
                with contextlib.suppress(ValueError, RuntimeError):  # a prompt over n_ctx: no priming
                    llm.create_chat_completion(payload, max_tokens=1, temperature=0.0, seed=self.seed)
                    tokens = [int(t) for t in llm.input_ids[: llm.n_tokens]]
                    _save_state(llm, path, tokens)
            if tokens is not None:
                self._primed = _Primed(tuple(messages[:-1]), head, path, tuple(tokens))
        return time.perf_counter() - start

    def _restore_prefix(self, llm, messages: Sequence[ChatMessage]) -> None:
        """Bring back the primed state when this prompt shares its prefix but the cache lost it."""
        primed = self._primed
        if primed is None or not messages or tuple(messages[:-1]) != primed.before:
            return
        if not messages[-1].content.startswith(primed.head):
            return
        cached = llm.input_ids[: llm.n_tokens]
        common = 0
        for a, b in zip(cached.tolist(), primed.tokens, strict=False):
            if a != b:
                break
            common += 1
        if common >= len(primed.tokens) * 0.9:  # the prefix is (nearly all) still there
            return
        if _load_state(llm, primed.path) is None:
            self._primed = None

    def _model_identity(self) -> str:
        try:
            path = resolve_gguf(self.model, self.cache_dir) if not self.model.startswith("hf:") else None
        except ModelNotFoundError:
            path = None
        if path is None:
            return self.model
        stat = Path(path).stat()
        return f"{Path(path).resolve()}:{stat.st_size}:{stat.st_mtime_ns}"

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


@dataclass(frozen=True)
class _Primed:
    """A primed prefix: the messages before the last, the start of the last, its state file."""

    before: tuple[ChatMessage, ...]
    head: str
    path: Path
    tokens: tuple[int, ...]


def _prefix_key(model: str, n_ctx: int, before: Sequence[ChatMessage], head: str) -> str:
    data = json.dumps([model, n_ctx, [[m.role, m.content] for m in before], head], ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:32]


def _save_state(llm, path: Path, tokens: list[int]) -> None:
    """Write the KV state of ``tokens`` to ``path`` atomically (best effort: a read-only cache is fine)."""
    import llama_cpp

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".kv-", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        log.info("cannot save the primed prompt state in %s: %s", path.parent, exc)
        return
    array = (llama_cpp.llama_token * len(tokens))(*tokens)
    try:
        if not llama_cpp.llama_state_save_file(llm._ctx.ctx, tmp.encode(), array, len(tokens)):
            raise OSError("llama_state_save_file failed")
        digest = _file_sha256(Path(tmp))
        os.replace(tmp, path)
        _checksum_path(path).write_text(digest + "\n")  # written last: no checksum, no load
    except OSError as exc:
        log.info("cannot save the primed prompt state: %s", exc)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    _prune_states(path.parent)


def _prune_states(folder: Path, keep: int = KEEP_STATES) -> None:
    """Delete all but the ``keep`` most recently used saved states (and their checksums).

    A state is keyed by model, window, prompt and article: after an edit to any of them the old
    one is never read again, and each is about 50 MB.
    """
    try:
        states = sorted(folder.glob("*.bin"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return
    for old in states[keep:]:
        for stale in (old, _checksum_path(old)):
            with contextlib.suppress(OSError):
                stale.unlink()


def _checksum_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load_state(llm, path: Path) -> list[int] | None:
    """Load a KV state saved by :func:`_save_state` into ``llm``; ``None`` if absent or unusable."""
    import llama_cpp

    if not path.is_file():
        return None
    try:
        intact = _checksum_path(path).read_text().strip() == _file_sha256(path)
    except OSError:
        intact = False
    if not intact:  # half-written, damaged or from an older version: evaluate again
        log.warning("ignoring the primed prompt state %s: its checksum does not match", path)
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    capacity = llm.n_ctx()
    out = (llama_cpp.llama_token * capacity)()
    count = ctypes.c_size_t(0)
    try:
        ok = llama_cpp.llama_state_load_file(
            llm._ctx.ctx, str(path).encode(), out, capacity, ctypes.byref(count)
        )
    except Exception as exc:  # a foreign or corrupt file must not take the backend down
        log.warning("ignoring the primed prompt state %s: %s", path, exc)
        ok = False
    if not ok or count.value == 0:
        llm.reset()
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    tokens = list(out[: count.value])
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: kept by _prune_states
    llm.input_ids[: len(tokens)] = tokens
    llm.n_tokens = len(tokens)
    llm._requires_eval = True  # the logits were not restored: decode before sampling
    return tokens
