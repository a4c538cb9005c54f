"""The HTTP API under ``/v1``: OpenAI-compatible chat with citations, search, and articles.

* ``GET /v1/models``: the model names a client may send (one per answering backend).
* ``POST /v1/chat/completions``: OpenAI's chat format, streamed (server-sent events) or not.
  The reply's ``content`` is the checked answer with its ``[¶N]`` markers; the response also
  holds ``citations`` (``[{doc, paragraph, text}]``), ``refused`` and ``backend``; when
  streaming, the last chunk before ``[DONE]`` carries them.
* ``POST /v1/search``: ``{"query", "k", "doc"?}`` gives the retriever's passages.
* ``GET / POST /v1/articles`` and ``DELETE /v1/articles/{id}``: list, add (a file upload or
  ``{title, text, date?, author?}``) and remove articles.

Errors are JSON in OpenAI's shape, ``{"error": {"message", "type", "code"}}``, with a 4xx status
that fits. With a server key (``--server-api-key`` / ``RAG_API_KEY``) every call needs
``Authorization: Bearer KEY``. See ``docs/api.md``.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import articles
from ..articles import ArticleError
from ..backends import backend_names
from ..tokens import TiktokenCounter
from ..types import Answer
from .service import Service

log = logging.getLogger(__name__)

PREFIX = "/v1"
MODEL_PREFIX = "korea-herald-rag"
MAX_BODY_BYTES = articles.MAX_ARTICLE_BYTES + 256 * 1024  # an article plus the multipart envelope
MAX_K = 50
MAX_MESSAGES = 200
STREAM_PIECE_WORDS = 4


class APIError(Exception):
    """An error answered as ``{"error": {...}}`` with ``status``."""

    def __init__(self, status: int, message: str, code: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.kind = status, message, code, kind


def error_body(message: str, code: str, kind: str = "invalid_request_error") -> dict:
    return {"error": {"message": message, "type": kind, "code": code, "param": None}}


def _error(status: int, message: str, code: str, kind: str = "invalid_request_error") -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(error_body(message, code, kind), status_code=status, headers=headers)


# -- request size --------------------------------------------------------------------------
class BodyLimit:
    """ASGI middleware: ``/v1`` request bodies over ``limit`` bytes get a 413 before being read whole."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        too_big = _error(413, f"the request body is over the {self.limit:,}-byte limit", "too_large")
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await too_big(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not started:
                await too_big(scope, receive, send)


class _TooLarge(Exception):
    pass


# -- the API -------------------------------------------------------------------------------
def model_ids(default_backend: str) -> list[str]:
    """``korea-herald-rag`` (the server's backend) and ``korea-herald-rag:<backend>`` for each."""
    return [MODEL_PREFIX, *(f"{MODEL_PREFIX}:{name}" for name in backend_names())]


def backend_of(model: object, default_backend: str) -> str:
    if model in (None, "", MODEL_PREFIX):
        return default_backend
    if isinstance(model, str) and model.startswith(MODEL_PREFIX + ":"):
        name = model.split(":", 1)[1]
        if name in backend_names():
            return name
    raise APIError(
        404,
        f"the model {model!r} does not exist: use one of {', '.join(model_ids(default_backend))} "
        "(GET /v1/models)",
        "model_not_found",
    )


def build_router(service: Service, *, allow_writes: bool) -> APIRouter:
    """The ``/v1`` routes over ``service``. ``allow_writes``: adding and removing articles."""
    config = service.config
    counter = TiktokenCounter()

    def authorize(request: Request) -> None:
        key = config.server_api_key
        if not key:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), key.encode()):
            raise APIError(
                401,
                "a valid API key is needed: send 'Authorization: Bearer KEY' (the server's RAG_API_KEY)",
                "invalid_api_key",
            )

    def writes_allowed() -> None:
        if not allow_writes:
            raise APIError(
                403,
                "adding or removing articles needs a server API key (--server-api-key / RAG_API_KEY) "
                "when the server listens beyond 127.0.0.1",
                "writes_disabled",
                "permission_error",
            )

    router = APIRouter(prefix=PREFIX, dependencies=[Depends(authorize)])

    @router.get("/models")
    def models() -> dict:
        created = int(time.time())
        return {
            "object": "list",
            "data": [
                {"id": m, "object": "model", "created": created, "owned_by": "korea-herald-rag"}
                for m in model_ids(config.backend)
            ],
        }

    @router.post("/chat/completions")
    async def chat(request: Request):
        body = await _json(request)
        model = body.get("model") or MODEL_PREFIX
        backend = backend_of(model, config.backend)
        question, history = _conversation(body.get("messages"))
        doc = await _call(_doc, body.get("doc"), service)
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise APIError(400, '"stream" must be true or false', "bad_body")
        options = body.get("stream_options") or {}
        usage_chunk = isinstance(options, dict) and options.get("include_usage") is True
        settings = service.settings(backend)
        reply_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())

        def answer_events() -> Iterator:
            return service.stream(question, history, settings, doc=doc)

        def usage(answer: Answer) -> dict:
            prompt = sum(counter.count(m["content"]) for m in history) + counter.count(question)
            completion = counter.count(answer.text)
            return {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            }

        if not stream:
            answer = await _call(_final, answer_events())
            return {
                "id": reply_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer.text},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": usage(answer),
                **_grounding(answer),
            }

        def chunk(delta: dict, finish: str | None = None, **extra: Any) -> str:
            data = {
                "id": reply_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
                **extra,
            }
            return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

        def sse() -> Iterator[str]:
            yield chunk({"role": "assistant", "content": ""})
            answer, beat = None, 0.0
            for event in answer_events():
                if event.kind == "final":
                    answer = event.answer
                elif event.kind == "status":  # an SSE comment: clients ignore it, proxies see traffic
                    yield f": status {' '.join(event.text.split())[:200]}\n\n"
                elif time.monotonic() - beat > 1.0:  # the draft itself is never sent: it is unchecked
                    beat = time.monotonic()
                    yield ": writing\n\n"
            assert answer is not None
            for piece in _pieces(answer.text):  # the checked answer, never the unchecked draft
                yield chunk({"content": piece})
            grounding = _grounding(answer)
            yield chunk({}, "stop", **grounding)
            if usage_chunk:
                data = {"id": reply_id, "object": "chat.completion.chunk", "created": created, "model": model,
                        "choices": [], "usage": usage(answer), **grounding}  # fmt: skip
                yield f"data: {json.dumps(data, ensure_ascii=False)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(
            iterate_in_threadpool(sse()),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @router.post("/search")
    async def search(request: Request) -> dict:
        body = await _json(request)
        unknown = sorted(set(body) - {"query", "k", "doc"})
        if unknown:
            raise APIError(400, f"unknown field(s): {', '.join(unknown)} (send query, k, doc)", "bad_body")
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            raise APIError(400, '"query" must be a non-empty string', "bad_body")
        k = body.get("k", 5)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise APIError(400, f'"k" must be a whole number from 1 to {MAX_K}', "bad_body")
        doc = body.get("doc")
        passages = await _call(lambda: service.search(query, k, _doc(doc, service)))  # one thread hop
        return {
            "passages": [
                {
                    "doc": p.doc,
                    "title": p.title,
                    "paragraphs": list(p.paragraphs),
                    "text": p.text,
                    "score": round(float(p.score), 6),
                    "retrievers": list(p.retrievers),
                }
                for p in passages
            ]
        }

    @router.get("/articles")
    async def list_articles() -> dict:
        await _call(service.ready_retriever)  # picks up files changed on disk
        return {"articles": [articles.summary(d) for d in service.documents]}

    @router.post("/articles", status_code=201, dependencies=[Depends(writes_allowed)])
    async def add_article(request: Request) -> dict:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/json":
            article = articles.from_fields(await _json(request, empty_ok=False))
        elif kind == "multipart/form-data":
            article = await _upload(request)
        else:
            raise APIError(
                415,
                "send the article as JSON {title, text, date?, author?} or as a multipart file upload "
                "(field 'file': .txt, .md, .json or .html)",
                "unsupported_media_type",
            )
        doc = await _call(service.add_article, article)
        return {"article": articles.summary(doc)}

    @router.delete("/articles/{doc_id}", dependencies=[Depends(writes_allowed)])
    async def remove_article(doc_id: str) -> dict:
        doc = await _call(service.remove_article, doc_id)
        return {"deleted": doc.id}

    return router


def install(app: FastAPI, service: Service, *, allow_writes: bool) -> None:
    """Add the ``/v1`` routes, their error handlers and the body limit to ``app``."""
    app.include_router(build_router(service, allow_writes=allow_writes))

    @app.exception_handler(APIError)
    async def api_error(_request: Request, exc: APIError) -> JSONResponse:
        return _error(exc.status, exc.message, exc.code, exc.kind)

    @app.exception_handler(ArticleError)
    async def article_error(_request: Request, exc: ArticleError) -> JSONResponse:
        kind = "permission_error" if exc.status == 403 else "invalid_request_error"
        return _error(exc.status, str(exc), exc.code, kind if exc.status < 500 else "server_error")

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(400, f"bad request: {exc.errors()[:1]}", "bad_body")

    app.add_middleware(BodyLimit)


# -- request parsing -----------------------------------------------------------------------
async def _call(fn, *args):
    """``fn(*args)`` in a worker thread; an index that is not open yet is a 503."""
    try:
        return await run_in_threadpool(fn, *args)
    except RuntimeError as exc:
        raise APIError(503, str(exc), "not_ready", "server_error") from None


async def _json(request: Request, *, empty_ok: bool = False) -> dict:
    raw = await request.body()
    if not raw.strip():
        raise APIError(400, "the request body is empty: send a JSON object", "bad_body")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise APIError(400, f"the request body is not valid JSON ({exc})", "bad_json") from None
    if not isinstance(data, dict):
        raise APIError(400, "the request body must be a JSON object", "bad_body")
    return data


async def _upload(request: Request) -> articles.NewArticle:
    try:
        form = await request.form(max_files=1, max_fields=10)
    except Exception as exc:  # a malformed multipart body
        raise APIError(400, f"the upload cannot be read: {exc}", "bad_upload") from None
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise APIError(400, "no file: send the article in the multipart field 'file'", "bad_upload")
    content = await upload.read(articles.MAX_ARTICLE_BYTES + 1)
    await upload.close()
    return articles.from_upload(upload.filename or "", content)


def _conversation(messages: object) -> tuple[str, list[dict[str, str]]]:
    """The question (the last user message) and the turns before it, as {role, content}."""
    if not isinstance(messages, list) or not messages:
        raise APIError(400, '"messages" must be a non-empty list of {"role", "content"}', "bad_body")
    if len(messages) > MAX_MESSAGES:
        raise APIError(400, f"at most {MAX_MESSAGES} messages", "bad_body")
    turns = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise APIError(400, f"messages[{i}] must be an object with a role and content", "bad_body")
        turns.append((message["role"], _text(message.get("content"), i)))
    role, question = turns[-1]
    if role != "user":
        raise APIError(400, "the last message must be the user's question", "bad_body")
    if not question.strip():
        raise APIError(400, "the question is empty", "empty_question")
    # System and developer messages are not obeyed: the pipeline's own rules decide what is said.
    history = [{"role": r, "content": c} for r, c in turns[:-1] if r in ("user", "assistant") and c.strip()]
    return question, history


def _text(content: object, i: int) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, dict) and part.get("type") in ("image_url", "input_audio", "file"):
                raise APIError(400, f"messages[{i}]: only text is understood, not {part['type']}", "bad_body")
        return "\n".join(parts)
    raise APIError(400, f"messages[{i}].content must be a string or a list of text parts", "bad_body")


def _doc(doc: object, service: Service) -> str | None:
    if doc in (None, ""):
        return None
    if not isinstance(doc, str):
        raise APIError(400, '"doc" must be an article id (a string)', "bad_body")
    retriever = service.ready_retriever()
    if doc not in retriever.documents:
        raise APIError(404, f"there is no article {doc!r} (GET /v1/articles lists them)", "article_not_found")
    return doc


def _final(events: Iterator) -> Answer:
    answer = None
    for event in events:
        if event.kind == "final":
            answer = event.answer
    assert answer is not None
    return answer


def _grounding(answer: Answer) -> dict:
    return {
        "citations": [{"doc": c.doc, "paragraph": c.paragraph, "text": c.text} for c in answer.citations],
        "refused": answer.refused,
        "backend": answer.backend,
        "fallback": answer.fallback,
        "notes": list(answer.notes),
    }


def _pieces(text: str) -> Iterator[str]:
    """``text`` in small pieces (a few words each), which put together give it back exactly."""
    words = text.split(" ")
    for start in range(0, len(words), STREAM_PIECE_WORDS):
        piece = " ".join(words[start : start + STREAM_PIECE_WORDS])
        yield piece if start + STREAM_PIECE_WORDS >= len(words) else piece + " "
