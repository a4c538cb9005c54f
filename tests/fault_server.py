"""A small OpenAI-compatible chat server that misbehaves on demand (for the reliability tests).

It speaks just enough of ``POST /v1/chat/completions`` (streaming SSE, as the OpenAI backend
always asks for) and ``GET /v1/models`` to stand in for a remote model server, and injects one
fault per request:

========================  =========================================================================
mode                      what the server does
========================  =========================================================================
``ok``                    a well-formed stream that answers from the prompt's own paragraphs
``hang``                  accepts the request and never sends a byte (until the server stops)
``status:NNN``            an HTTP error (``status:429``, ``status:500``, ``status:401`` ...)
``garbage``               a 200 stream whose second ``data:`` line is not JSON
``truncate``              a chunked stream cut off mid-reply (connection closed, no final chunk)
``truncate-eof``          a close-delimited stream (no length, no chunking) that ends without
                          ``finish_reason`` or ``[DONE]``: the client sees a clean end of body
``slow:S``                a well-formed stream with S seconds between chunks
``keepalive:S``           only SSE comment lines (``: ping``), every S seconds, forever
``empty``                 a stream with a role chunk and ``[DONE]`` but no text
========================  =========================================================================

``server.mode`` is the default; ``server.script`` (a list) overrides it for the next requests,
one entry each. Every chat request is recorded in ``server.requests`` (time, lower-cased headers, JSON body).
``status:401`` echoes the ``Authorization`` header in its error body, as careless servers do,
so tests can prove the client never passes the key on.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "fault-model"


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"\w+", text.lower()) if len(w) > 3}


def prompt_parts(prompt: str) -> tuple[list[str], str]:
    """The context's paragraphs and the question of an assistant prompt (rag.prompt's format)."""
    context, _, question = prompt.rpartition("Question: ")
    if not context.startswith("Context:\n"):
        return [], question
    blocks = context.removeprefix("Context:\n").split("\n\n")
    return [b for b in blocks if b.strip() and not b.startswith("Conversation so far:")], question


def grounded_reply(messages: list[dict]) -> str:
    """What a well-behaved model says: the first sentence of the context paragraph closest to the
    question (or, for a prompt without a context, its last line)."""
    prompt = str(messages[-1].get("content", "")) if messages else ""
    paragraphs, question = prompt_parts(prompt)
    if not paragraphs:
        lines = [line for line in prompt.strip().splitlines() if line.strip()]
        return lines[-1] if lines else "The article does not say."
    asked = _words(question)
    text = max(paragraphs, key=lambda p: len(asked & _words(p)))
    return re.split(r"(?<=[.!?])\s+", text.replace("§", "¶"))[0]


def _completion(content: str) -> dict[str, Any]:
    """A whole (not streamed) chat completion."""
    message = {"role": "assistant", "content": content}
    return {"id": "chatcmpl-fault", "object": "chat.completion", "created": 0, "model": MODEL,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}  # fmt: skip


def _chunk(content: str | None = None, *, role: str | None = None, finish: str | None = None) -> bytes:
    delta: dict[str, Any] = {}
    if role:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    body = {
        "id": "chatcmpl-fault",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- plumbing ---------------------------------------------------------------------------
    def _json(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self, chunked: bool = True) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.flush()

    def _send(self, data: bytes, chunked: bool = True) -> None:
        if chunked:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        else:
            self.wfile.write(data)
        self.wfile.flush()

    def _end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; False when it is."""
        return not self.server.stopping.wait(seconds)

    # -- endpoints --------------------------------------------------------------------------
    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
        else:
            self._json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        headers = {k.lower(): v for k, v in self.headers.items()}
        mode = self.server.record(self.path, headers, body)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._json(404, {"error": {"message": f"no route {self.path}"}})
            return
        messages = body.get("messages") or []
        if not body.get("stream") and mode == "ok":  # a yes/no check, answered in one JSON reply
            self._json(200, _completion("Yes"))
            return
        try:
            self._serve(mode, messages)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up: fine
            self.close_connection = True

    def _serve(self, mode: str, messages: list[dict]) -> None:
        name, _, arg = mode.partition(":")
        if name == "hang":
            self.server.stopping.wait(600)
            self.close_connection = True
            return
        if name == "status":
            status = int(arg)
            auth = self.headers.get("Authorization", "")
            message = {401: f"Incorrect API key provided: {auth}", 429: "Rate limit reached for requests"}
            error = {"message": message.get(status, "Internal server error"), "type": "fault", "code": status}
            self._json(status, {"error": error})
            return
        reply = grounded_reply(messages)
        pieces = re.findall(r"\S+\s*", reply)
        if name == "ok":
            self._start_stream()
            self._send(_chunk("", role="assistant"))
            for piece in pieces:
                self._send(_chunk(piece))
            self._send(_chunk(finish="stop"))
            self._send(b"data: [DONE]\n\n")
            self._end_chunks()
        elif name == "empty":
            self._start_stream()
            self._send(_chunk("", role="assistant"))
            self._send(_chunk(finish="stop"))
            self._send(b"data: [DONE]\n\n")
            self._end_chunks()
        elif name == "garbage":
            self._start_stream()
            self._send(_chunk(pieces[0]))
            self._send(b'data: {"choices": [{"delta": {"content": "oops"\n\n')  # not JSON
            self._send(_chunk(finish="stop"))
            self._send(b"data: [DONE]\n\n")
            self._end_chunks()
        elif name == "truncate":
            self._start_stream()
            for piece in pieces[:3]:
                self._send(_chunk(piece))
            self.wfile.write(b'40\r\ndata: {"choi')  # half a chunk, then the connection drops
            self.wfile.flush()
            self._drop()
        elif name == "truncate-eof":
            self._start_stream(chunked=False)
            for piece in pieces[:3]:
                self._send(_chunk(piece), chunked=False)
            self._drop()
        elif name == "slow":
            self._start_stream()
            for piece in pieces:
                self._send(_chunk(piece))
                if not self._sleep(float(arg)):
                    break
            else:
                self._send(_chunk(finish="stop"))
                self._send(b"data: [DONE]\n\n")
            self._end_chunks()
        elif name == "keepalive":
            self._start_stream()
            while self._sleep(float(arg)):
                self._send(b": ping\n\n")
            self._end_chunks()
        else:
            self._json(500, {"error": {"message": f"fault server: unknown mode {mode!r}"}})

    def _drop(self) -> None:
        """Close the connection at once (RST), as a crashed server or a cut cable does."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            self.connection.shutdown(socket.SHUT_RDWR)


class FaultServer(ThreadingHTTPServer):
    """The server; use :func:`fault_server` to run it in a background thread."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, mode: str = "ok", port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.mode = mode
        self.script: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def handle_error(self, request, client_address) -> None:
        """A client that hangs up (a timeout, a retry) is expected here, not an error."""
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def record(self, path: str, headers: dict[str, str], body: dict) -> str:
        with self._lock:
            mode = self.script.pop(0) if self.script else self.mode
            self.requests.append(
                {"time": time.monotonic(), "path": path, "headers": headers, "body": body, "mode": mode}
            )
            return mode

    def chat_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r["path"].rstrip("/").endswith("/chat/completions")]

    def answer_requests(self) -> list[dict[str, Any]]:
        """The streamed chat requests: the answers (the verifier's yes/no checks are not streamed)."""
        return [r for r in self.chat_requests() if r["body"].get("stream")]

    def reset(self, mode: str = "ok", script: list[str] | None = None) -> None:
        with self._lock:
            self.mode = mode
            self.script = list(script or [])
            self.requests.clear()

    def start(self) -> FaultServer:
        self._thread = threading.Thread(target=self.serve_forever, name="fault-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # releases hanging and slow handlers
        self.shutdown()
        self.server_close()


@contextlib.contextmanager
def fault_server(mode: str = "ok", port: int = 0):
    server = FaultServer(mode, port).start()
    try:
        yield server
    finally:
        server.stop()


def run_bounded(fn, seconds: float) -> tuple[bool, Any, BaseException | None]:
    """Run ``fn()`` in a daemon thread for at most ``seconds``: ``(finished, result, error)``.

    A hang then fails the test with a message instead of blocking the whole run.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    return not worker.is_alive(), box.get("result"), box.get("error")
