"""Saved KV states of primed prompt prefixes: in memory, and on disk with a checksum.

A state file is written to a temporary name and renamed into place; its SHA-256 is written
beside it last, and checked before every load, so a half-written, damaged or foreign file is
never loaded (the prefix is read again instead). Only the most recently used files are kept.

:class:`Prefix` and :class:`Reading` are a backend's bookkeeping of the prefixes it primes: the
tokens, the file and the copy in memory of each, and how far the one being read has got.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
# Saved prompt states kept in a cache's kv folder (about 50 MB each); older ones are deleted.
KEEP_STATES = 12
# States read in this process also kept in memory (a switch between articles then costs a copy,
# not a read; a state loaded from its file is loaded from the file again, which is faster).
KEEP_IN_MEMORY = 4


@dataclass
class Prefix:
    """A primed prompt prefix: its tokens, where its state is saved, and a copy in memory."""

    key: str
    tokens: tuple[int, ...]
    path: Path
    state: bytes | None = None
    ready: bool = False
    failed: str | None = None

    def is_saved(self) -> bool:
        """Whether a usable saved state of this prefix is on disk (then it counts as ready)."""
        if intact(self.path):
            self.ready = True
            return True
        return False


@dataclass
class Reading:
    """A prefix being read: how far, and a copy of the state that far (made when a request
    needs the model in between)."""

    prefix: Prefix
    thread: threading.Thread | None = None
    done: threading.Event = field(default_factory=threading.Event)
    position: int = 0
    saved: bytes | None = None
    saved_position: int = 0


def keep_in_memory(prefixes: OrderedDict[str, Prefix], prefix: Prefix, keep: int = KEEP_IN_MEMORY) -> None:
    """Mark ``prefix`` the most recently used of ``prefixes`` and drop the copies in memory of all
    but the ``keep`` most recent (the caller holds the lock that guards ``prefixes``)."""
    prefixes.move_to_end(prefix.key)
    held = [p for p in prefixes.values() if p.state is not None]
    for old in held[:-keep]:
        old.state = None


def longest_start(prefixes: Iterable[Prefix], tokens: Sequence[int]) -> Prefix | None:
    """The longest of ``prefixes`` that ``tokens`` start with, or ``None``."""
    for prefix in sorted(prefixes, key=lambda p: -len(p.tokens)):
        if tuple(tokens[: len(prefix.tokens)]) == prefix.tokens:
            return prefix
    return None


def common_prefix(cached, tokens: Sequence[int]) -> int:
    """Length of the common start of ``cached`` (a numpy array of token ids) and ``tokens``."""
    n = min(len(cached), len(tokens))
    if n == 0:
        return 0
    a = np.asarray(cached[:n])
    b = np.asarray(tokens[:n])
    differ = np.flatnonzero(a != b)
    return int(differ[0]) if len(differ) else n


def prefix_key(model: str, n_ctx: int, tokens: Sequence[int]) -> str:
    digest = hashlib.sha256(f"{model}\0{n_ctx}\0".encode())
    digest.update(np.asarray(tokens, dtype=np.int32).tobytes())
    return digest.hexdigest()[:32]


def get_state(llm) -> bytes:
    """A copy of the model's whole state (its KV cache) in memory."""
    import llama_cpp

    ctx = llm._ctx.ctx
    size = llama_cpp.llama_state_get_size(ctx)
    buffer = (ctypes.c_uint8 * size)()
    written = llama_cpp.llama_state_get_data(ctx, buffer, size)
    return bytes(memoryview(buffer)[:written])


def set_state(llm, state: bytes, tokens: Sequence[int]) -> None:
    """Put back a state made by :func:`get_state` whose cache holds ``tokens``."""
    import llama_cpp

    buffer = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
    llama_cpp.llama_state_set_data(llm._ctx.ctx, buffer, len(state))
    llm.input_ids[: len(tokens)] = tokens
    llm.n_tokens = len(tokens)
    llm._requires_eval = True  # the logits are not the ones for the last token: decode first


def save_state(llm, path: Path, tokens: list[int], keep: int = KEEP_STATES) -> None:
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
    prune_states(path.parent, keep)


def prune_states(folder: Path, keep: int = KEEP_STATES) -> None:
    """Delete all but the ``keep`` most recently used saved states (and their checksums).

    A state is keyed by model, window and prompt tokens: after an edit to any of them the old
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


def intact(path: Path) -> bool:
    """Whether ``path`` exists with the checksum written beside it (half-written files have none)."""
    try:
        return path.is_file() and _checksum_path(path).read_text().strip() == _file_sha256(path)
    except OSError:
        return False


def load_state(llm, path: Path) -> list[int] | None:
    """Load a KV state saved by :func:`save_state` into ``llm``; ``None`` if absent or unusable."""
    import llama_cpp

    if not path.is_file():
        return None
    if not intact(path):  # half-written, damaged or from an older version: evaluate again
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
