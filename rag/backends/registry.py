"""Backends by name: ``make_backend("llama-cpp", model=...)`` (txtai-style factory)."""

from __future__ import annotations

from collections.abc import Callable

from .protocol import BackendError, ChatBackend


def _llama_cpp(**options) -> ChatBackend:
    from .llama_cpp import LlamaCppBackend

    return LlamaCppBackend(**options)


def _openai(**options) -> ChatBackend:
    from .openai_compat import OpenAIBackend

    return OpenAIBackend(**options)


BACKENDS: dict[str, Callable[..., ChatBackend]] = {"llama-cpp": _llama_cpp, "openai": _openai}
EXTRACTIVE = "extractive"


def register_backend(name: str, factory: Callable[..., ChatBackend]) -> None:
    """Make a backend available to :func:`make_backend` (and to ``--backend``) under ``name``."""
    BACKENDS[name] = factory


def backend_names() -> list[str]:
    """Every name ``--backend`` accepts; ``extractive`` needs no language model."""
    return [*BACKENDS, EXTRACTIVE]


def make_backend(name: str, **options) -> ChatBackend:
    """Build the backend registered as ``name`` with its options (model, base_url, ...)."""
    if name not in BACKENDS:
        raise BackendError(
            f"unknown backend {name!r}: use one of {', '.join(backend_names())}", setting="--backend"
        )
    return BACKENDS[name](**options)
