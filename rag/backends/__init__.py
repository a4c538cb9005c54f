"""Language-model backends behind one contract: chat messages in, streamed text out."""

from .protocol import BackendError, ChatBackend
from .registry import BACKENDS, backend_names, make_backend, register_backend

__all__ = ["BACKENDS", "BackendError", "ChatBackend", "backend_names", "make_backend", "register_backend"]
