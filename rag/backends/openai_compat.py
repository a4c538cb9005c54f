"""Any OpenAI-compatible chat server: OpenAI, vLLM, Ollama, LM Studio, llama.cpp's server.

Failures become a :class:`BackendError` whose message names the setting to fix. The API
key is never logged and is scrubbed from every error message. Connection errors, HTTP 429
and 5xx are retried by the ``openai`` client with exponential backoff (``max_retries``
times); a stream that stalls longer than ``timeout`` seconds between chunks, or runs past
``deadline`` seconds in all, is abandoned.
"""

from __future__ import annotations

import logging
import math
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
            # openai's own Timeout: the HTTP library under the client changed (httpx, then httpx2).
            timeout=openai.Timeout(timeout, connect=min(timeout, 10.0)),
            max_retries=max_retries,
        )
        self._counter = TiktokenCounter()
        self._logprobs = True

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
        except Exception as exc:
            raise self._translate(exc, start, received) from None
        finally:
            if timer is not None:
                timer.cancel()

    def yes_probability(self, messages: Sequence[ChatMessage]) -> float:
        """P("yes") / (P("yes") + P("no")) for the first token of the reply.

        Read from the server's ``logprobs`` when it gives them (OpenAI, vLLM); otherwise from
        the one-token reply itself (1.0 for yes, 0.0 for no, 0.5 for anything else).
        """
        payload = [{"role": m.role, "content": m.content} for m in messages]
        start = time.monotonic()
        options = {"logprobs": True, "top_logprobs": 10} if self._logprobs else {}
        try:
            try:
                response = self._client.with_options(max_retries=0 if options else 2).chat.completions.create(
                    model=self.model, messages=payload, max_tokens=1, temperature=0.0, **options
                )
            except self._openai.APIStatusError:
                if not options:
                    raise
                # A server without logprobs (llama.cpp's refuses them unless every logit is kept,
                # some answer 400, others 500): read the one-token reply instead, from now on.
                self._logprobs = False
                response = self._client.chat.completions.create(
                    model=self.model, messages=payload, max_tokens=1, temperature=0.0
                )
            choice = response.choices[0]
        except Exception as exc:
            raise self._translate(exc, start, False) from None
        yes = no = 0.0
        content = getattr(getattr(choice, "logprobs", None), "content", None) or []
        for candidate in getattr(content[0], "top_logprobs", None) or [] if content else []:
            word = (candidate.token or "").strip().lower()
            if word in ("yes", "no"):
                weight = math.exp(candidate.logprob)
                yes, no = (yes + weight, no) if word == "yes" else (yes, no + weight)
        if yes + no > 0:
            return yes / (yes + no)
        word = (choice.message.content or "").strip().lower()
        return 1.0 if word.startswith("yes") else 0.0 if word.startswith("no") else 0.5

    def _translate(self, exc: BaseException, start: float, received: bool) -> BaseException:
        """The :class:`BackendError` for an exception of the ``openai`` client (or ``exc`` itself)."""
        openai = self._openai
        if isinstance(exc, openai.AuthenticationError):
            return self._error("the server refused the API key (HTTP 401)", "OPENAI_API_KEY / --api-key", exc)
        if isinstance(exc, openai.PermissionDeniedError):
            return self._error("the API key may not use this model (HTTP 403)", "OPENAI_API_KEY", exc)
        if isinstance(exc, openai.NotFoundError):
            message = f"model {self.model!r} or the endpoint was not found (HTTP 404)"
            return self._error(message, "--openai-model / --base-url", exc)
        if isinstance(exc, openai.RateLimitError):
            return self._error("the server is rate limiting us (HTTP 429), retries exhausted", None, exc)
        if isinstance(exc, openai.APITimeoutError):
            return self._error(f"no answer within {self.timeout:.0f}s", "--timeout", exc)
        if isinstance(exc, openai.APIConnectionError):
            if time.monotonic() - start > self.deadline:
                return self._error(f"still answering after {self.deadline:.0f}s", "--timeout", exc)
            if received:
                return self._error("the connection broke during the reply", None, exc)
            return self._error(f"cannot reach {self.base_url}", "--base-url / OPENAI_BASE_URL", exc)
        if isinstance(exc, openai.InternalServerError):
            return self._error("the server failed (HTTP 5xx), retries exhausted", None, exc)
        if isinstance(exc, openai.APIStatusError):
            return self._error(f"the server answered HTTP {exc.status_code}", None, exc)
        if isinstance(exc, (openai.APIError, ValueError, KeyError, AttributeError, TypeError, IndexError)):
            return self._error("the server sent a malformed or truncated reply", None, exc)
        if type(exc).__module__.startswith(("httpx", "httpcore")):  # stream errors arrive raw
            return self._error("the connection broke during the reply", None, exc)
        return exc

    def _error(self, message: str, setting: str | None, exc: BaseException) -> BackendError:
        detail = self._scrub(str(exc))[:200]
        log.warning("openai backend: %s (%s)", message, detail)
        full = f"{message} [{self.base_url}]"
        if setting:
            full += f"; check {setting}"
        return BackendError(full, setting=setting)

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key and self._key != NO_KEY else text
