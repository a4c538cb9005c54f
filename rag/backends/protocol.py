"""The contract every language-model backend meets."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from ..types import ChatMessage


class BackendError(RuntimeError):
    """A backend could not answer. ``setting`` names what the user should change to fix it."""

    def __init__(self, message: str, *, setting: str | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.setting = setting
        self.retryable = retryable


@runtime_checkable
class ChatBackend(Protocol):
    """Chat messages in, streamed text out."""

    @property
    def name(self) -> str:
        """Registry name plus model, e.g. ``llama-cpp:qwen2.5-coder-0.5b``."""
        ...

    @property
    def context_window(self) -> int:
        """Tokens the model accepts, prompt and reply together."""
        ...

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> Iterator[str]:
        """Yield the reply in pieces as it is generated; raise :class:`BackendError` on failure."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` for this model (an estimate is fine where the model's own is unknown)."""
        ...


@runtime_checkable
class Verifier(Protocol):
    """A backend that can say how sure the model is of a yes/no answer (optional capability)."""

    def yes_probability(self, messages: Sequence[ChatMessage]) -> float:
        """P("yes") / (P("yes") + P("no")) for the first token of the model's reply."""
        ...


@runtime_checkable
class PrefixCache(Protocol):
    """A backend that can read a long shared start of prompts once and keep it (optional).

    The prefix is the prompt ``messages`` up to ``marker`` (which stands for the question in
    the last message).
    """

    def prepare(self, messages: Sequence[ChatMessage], marker: str) -> str:
        """Start reading the prefix in the background if it is not ready; return at once with
        ``"ready"``, ``"reading"``, ``"queued"`` (another prefix is being read) or ``"failed"``."""
        ...

    def prime(self, messages: Sequence[ChatMessage], marker: str) -> float:
        """Read the prefix now (or load its saved state) and return the seconds taken."""
        ...
