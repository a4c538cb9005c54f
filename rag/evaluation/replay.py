"""Replayed model replies, so an ablation re-runs the checks without re-running the model.

:class:`ReplayBackend` wraps a real backend. Every reply it gets (``stream``) and every
verifier probability (``yes_probability``) is appended to ``<folder>/<backend>.jsonl`` under a
hash of the request; the same request later gets the stored result without calling the model.
A check switched off changes what is asked only where it acts before the model (or changes the
text the verifier reads): those requests go to the real model, the rest are replayed. The
answers are the ones the real model gives; the latencies of a replayed run are not real.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..types import ChatMessage


class ReplayBackend:
    """A :class:`~rag.backends.ChatBackend` that answers repeated requests from a file."""

    def __init__(self, inner: Any, folder: str | Path) -> None:
        self.inner = inner
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / (re.sub(r"[^\w.-]+", "_", inner.name) + ".jsonl")
        self._stored: dict[str, Any] = {}
        if self.path.is_file():
            for line in self.path.read_text("utf-8").splitlines():
                if line.strip():
                    record = json.loads(line)
                    self._stored[record["key"]] = record["value"]
        self._lock = threading.Lock()
        self._prefixes: list[tuple[tuple[ChatMessage, ...], str]] = []
        self.hits = self.misses = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def context_window(self) -> int:
        return self.inner.context_window

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    @property
    def status(self) -> str:
        """The wrapped backend's status (``"ready"`` for one that has none)."""
        return getattr(self.inner, "status", "ready")

    def load(self) -> Any:
        """Load the wrapped model (not to answer: to count tokens with its own tokenizer, so that
        a replayed run builds the same prompts as the live one did)."""
        load = getattr(self.inner, "load", None)
        return load() if callable(load) else None

    def stream(self, messages: Sequence[ChatMessage], **options) -> Iterator[str]:
        key = _key("stream", messages, options)
        if key in self._stored:
            self.hits += 1
            yield self._stored[key]
            return
        self.misses += 1
        self._prime_for(messages)
        pieces = []
        for piece in self.inner.stream(messages, **options):
            pieces.append(piece)
            yield piece
        self._store(key, "".join(pieces))

    def yes_probability(self, messages: Sequence[ChatMessage]) -> float:
        key = _key("yes", messages, {})
        if key in self._stored:
            self.hits += 1
            return float(self._stored[key])
        self.misses += 1
        self._prime_for(messages)
        value = self.inner.yes_probability(messages)
        self._store(key, value)
        return value

    def prepare(self, messages: Sequence[ChatMessage], marker: str) -> str:
        """Noted, and read only when a request that starts with it is not in the file."""
        if hasattr(self.inner, "prepare"):
            self._prefixes.append((tuple(messages), marker))
        return "ready"

    def prime(self, messages: Sequence[ChatMessage], marker: str) -> float:
        self.prepare(messages, marker)
        return 0.0

    def _prime_for(self, messages: Sequence[ChatMessage]) -> None:
        """Before the real model answers, let it read the noted prefix this request starts with."""
        for noted, marker in list(self._prefixes):
            head = noted[-1].content.split(marker, 1)[0]
            if tuple(messages[:-1]) == noted[:-1] and messages[-1].content.startswith(head):
                self.inner.prime(list(noted), marker)
                self._prefixes.remove((noted, marker))

    def _store(self, key: str, value: Any) -> None:
        with self._lock:
            self._stored[key] = value
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps({"key": key, "value": value}, ensure_ascii=False) + "\n")


def _key(kind: str, messages: Sequence[ChatMessage], options: dict) -> str:
    data = [kind, [[m.role, m.content] for m in messages], sorted((k, repr(v)) for k, v in options.items())]
    return hashlib.sha256(json.dumps(data, ensure_ascii=False).encode("utf-8")).hexdigest()
