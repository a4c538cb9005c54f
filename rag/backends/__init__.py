"""Language-model backends behind one contract: chat messages in, streamed text out."""

from .protocol import BackendError, ChatBackend, PrefixCache, Verifier
from .registry import BACKENDS, backend_names, make_backend, register_backend

__all__ = [
    "BACKENDS",
    "BackendError",
    "ChatBackend",
    "PrefixCache",
    "Verifier",
    "backend_names",
    "make_backend",
    "register_backend",
]
