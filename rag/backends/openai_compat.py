"""Any OpenAI-compatible chat server: OpenAI, vLLM, Ollama, LM Studio, llama.cpp's server.

Failures become a :class:`BackendError` whose message names the setting to fix. The API
key is never logged and is scrubbed from every error message. Connection errors, HTTP 429
and 5xx are retried by the ``openai`` client with exponential backoff (``max_retries``
times); a stream that stalls longer than ``timeout`` seconds between chunks, or runs past
``deadline`` seconds in all, is abandoned.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence

from ..tokens import TiktokenCounter
from ..types import ChatMessage
from .protocol import BackendError

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
NO_KEY = "sk-no-key-required"


class OpenAIBackend:
    """A :class:`~rag.backends.ChatBackend` for a remote OpenAI-compatible server."""

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        deadline: float = 180.0,
        max_retries: int = 2,
        context_window: int = 8192,
    ) -> None:
        try:
            import httpx
            import openai
        except ImportError as exc:  # pragma: no cover - openai is a core dependency
            raise BackendError(
                "the openai package is not installed: pip install openai", setting="--backend"
            ) from exc
        self.model = model or "gpt-4o-mini"
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._key = api_key or NO_KEY
        self.timeout = timeout
        self.deadline = deadline
        self._context_window = context_window
        self._openai = openai
        self._client = openai.OpenAI(
            base_url=self.base_url,
            api_key=self._key,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            max_retries=max_retries,
        )
        self._counter = TiktokenCounter()

    @property
    def name(self) -> str:
        return f"openai:{self.model}"

    @property
    def context_window(self) -> int:
        return self._context_window

    def count_tokens(self, text: str) -> int:
        return self._counter.count(text)

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r})"

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> Iterator[str]:
        openai = self._openai
        payload = [{"role": m.role, "content": m.content} for m in messages]
        start = time.monotonic()
        received = finished = False
        timer = None
        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=payload,
                max_tokens=max_tokens,
                temperature=temperature,
                stop=list(stop) if stop else None,
                stream=True,
            )
            # The deadline holds even when the server sends only keep-alive comments (no chunks):
            # a timer closes the stream, and the loop below then ends with an error.
            timer = threading.Timer(max(0.0, self.deadline - (time.monotonic() - start)), response.close)
            timer.daemon = True
            timer.start()
            for chunk in response:
                if time.monotonic() - start > self.deadline:
                    response.close()
                    raise BackendError(
                        f"the server at {self.base_url} was still answering after {self.deadline:.0f}s",
                        setting="--timeout",
                        retryable=True,
                    )
                if not getattr(chunk, "choices", None):
                    continue
                if getattr(chunk.choices[0], "finish_reason", None):
                    finished = True
                piece = chunk.choices[0].delta.content if chunk.choices[0].delta else None
                if piece:
                    received = True
                    yield piece
            if time.monotonic() - start > self.deadline:
                raise BackendError(
                    f"the server at {self.base_url} was still answering after {self.deadline:.0f}s",
                    setting="--timeout",
                    retryable=True,
                )
            if not received:
                raise BackendError(
                    f"the server at {self.base_url} sent an empty reply", setting="--openai-model"
                )
            if not finished:
                raise BackendError(
                    f"the reply from {self.base_url} was cut off (the stream ended without a finish reason)",
                    retryable=True,
                )
        except BackendError:
            raise
        except openai.AuthenticationError as exc:
            raise self._error(
                "the server refused the API key (HTTP 401)", "OPENAI_API_KEY / --api-key", exc
            ) from None
        except openai.PermissionDeniedError as exc:
            raise self._error(
                "the API key may not use this model (HTTP 403)", "OPENAI_API_KEY", exc
            ) from None
        except openai.NotFoundError as exc:
            raise self._error(
                f"model {self.model!r} or the endpoint was not found (HTTP 404)",
                "--openai-model / --base-url",
                exc,
            ) from None
        except openai.RateLimitError as exc:
            raise self._error(
                "the server is rate limiting us (HTTP 429), retries exhausted", None, exc
            ) from None
        except openai.APITimeoutError as exc:
            raise self._error(f"no answer within {self.timeout:.0f}s", "--timeout", exc) from None
        except openai.APIConnectionError as exc:
            if time.monotonic() - start > self.deadline:
                raise self._error(f"still answering after {self.deadline:.0f}s", "--timeout", exc) from None
            if received:
                raise self._error("the connection broke during the reply", None, exc) from None
            raise self._error(f"cannot reach {self.base_url}", "--base-url / OPENAI_BASE_URL", exc) from None
        except openai.InternalServerError as exc:
            raise self._error("the server failed (HTTP 5xx), retries exhausted", None, exc) from None
        except openai.APIStatusError as exc:
            raise self._error(f"the server answered HTTP {exc.status_code}", None, exc) from None
        except (openai.APIError, ValueError, KeyError, AttributeError, TypeError) as exc:
            raise self._error("the server sent a malformed or truncated reply", None, exc) from None
        except Exception as exc:  # httpx stream errors (RemoteProtocolError, ReadError...) arrive raw
            if type(exc).__module__.startswith(("httpx", "httpcore")):
                raise self._error("the connection broke during the reply", None, exc) from None
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def _error(self, message: str, setting: str | None, exc: BaseException) -> BackendError:
        detail = self._scrub(str(exc))[:200]
        log.warning("openai backend: %s (%s)", message, detail)
        full = f"{message} [{self.base_url}]"
        if setting:
            full += f"; check {setting}"
        return BackendError(full, setting=setting)

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key and self._key != NO_KEY else text
