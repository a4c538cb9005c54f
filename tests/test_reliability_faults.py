"""Remote-backend faults: every way an OpenAI-compatible server can fail, through the backend,
through the Assistant (fallback on and off) and through the real web app.

The faults come from ``fault_server.py``, a small real HTTP server that speaks the streaming
chat API and misbehaves on demand (a real server cannot be told to stall, cut a stream or send
garbage). Already proven elsewhere, and not repeated here:

* HTTP 401 from a real llama.cpp server started with ``--api_key``, key kept out of errors and
  logs: ``test_backend_openai.py::test_wrong_api_key_is_a_401_naming_the_setting_without_the_key``
  and ``::test_assistant_with_a_wrong_key_falls_back_and_keeps_the_key_secret``;
* connection refused, with fallback on and off: ``test_backend_openai.py::
  test_connection_refused_names_the_base_url_setting``, ``::test_unreachable_server_falls_back_to_
  the_extractive_answer``, ``::test_unreachable_server_without_fallback_gives_an_error_answer``;
* a real llama.cpp server killed between two questions: ``test_backend_openai.py::
  test_server_killed_mid_session_the_next_question_is_still_answered``.

Every call runs under :func:`fault_server.run_bounded`: a hang fails its test, it never blocks
the run.
"""

from __future__ import annotations

import itertools
import json
import logging

import pytest
from backend_helpers import assert_grounded, free_port, llama_server, smollm2_path
from fault_server import MODEL, fault_server, run_bounded
from web_helpers import app_env, app_process

from rag.assistant import Assistant, AssistantConfig
from rag.backends import BackendError
from rag.backends.openai_compat import OpenAIBackend
from rag.types import ChatMessage

pytestmark = pytest.mark.reliability

TROOPS = "Who confirmed the troops were in Russia?"
CHA = "What did Victor Cha say about North Korean casualties?"
KEY = "sk-test-SECRET"
HANG_LIMIT = 15.0  # seconds; a call still running after this is a hang (the faults take < 6 s)
PROMPT = [
    ChatMessage(
        "user",
        "Context:\nNATO and the United States confirmed for the first time on Wednesday evidence "
        "of North Korean troops in Russia.\n\nQuestion: Who confirmed the troops?",
    )
]


@pytest.fixture(scope="module")
def server():
    with fault_server() as running:
        yield running


@pytest.fixture
def fault(server):
    server.reset()
    yield server
    server.reset()


@pytest.fixture(scope="module")
def extractive_answer(retriever):
    return Assistant(retriever).ask(TROOPS)


def remote(server, **options) -> OpenAIBackend:
    return OpenAIBackend(MODEL, base_url=server.base_url, api_key=KEY, **options)


def gaps(server) -> list[float]:
    times = [r["time"] for r in server.chat_requests()]
    return [b - a for a, b in itertools.pairwise(times)]


# -- the backend alone ----------------------------------------------------------------------------
# (fault mode, backend options, text the error must contain, setting it must name, requests sent)
FAULTS = [
    pytest.param(
        "hang", {"timeout": 1, "max_retries": 0}, "no answer within 1s", "--timeout", 1, id="timeout"
    ),
    pytest.param(
        "hang", {"timeout": 1, "max_retries": 1}, "no answer within 1s", "--timeout", 2, id="timeout-retried"
    ),
    pytest.param("status:429", {"max_retries": 2}, "HTTP 429", None, 3, id="429"),
    pytest.param("status:429", {"max_retries": 0}, "HTTP 429", None, 1, id="429-no-retries"),
    pytest.param("status:500", {"max_retries": 2}, "HTTP 5xx", None, 3, id="500"),
    pytest.param("status:503", {"max_retries": 1}, "HTTP 5xx", None, 2, id="503"),
    pytest.param("status:401", {"max_retries": 2}, "HTTP 401", "OPENAI_API_KEY", 1, id="401-echoing-the-key"),
    pytest.param("garbage", {}, "malformed", None, 1, id="malformed-sse"),
    pytest.param("truncate", {}, "connection broke during the reply", None, 1, id="truncated-mid-chunk"),
    pytest.param("truncate-eof", {}, "cut off", None, 1, id="truncated-clean-eof"),
    pytest.param(
        "slow:3", {"timeout": 1, "max_retries": 0}, "within 1s", "--timeout", 1, id="stall-over-timeout"
    ),
    pytest.param(
        "slow:0.4",
        {"timeout": 5, "deadline": 1, "max_retries": 0},
        "still answering",
        "--timeout",
        1,
        id="slow-stream-over-deadline",
    ),
    pytest.param(
        "keepalive:0.3",
        {"timeout": 2, "deadline": 2, "max_retries": 0},
        "still answering",
        "--timeout",
        1,
        id="keepalive-comments-over-deadline",
    ),
    pytest.param("empty", {}, "empty reply", "--openai-model", 1, id="empty-reply"),
]


@pytest.mark.parametrize(("mode", "options", "message", "setting", "requests"), FAULTS)
def test_backend_fault_is_a_clear_error_and_the_backend_still_works(
    fault, caplog, mode, options, message, setting, requests
):
    caplog.set_level(logging.DEBUG)
    chat = remote(fault, **options)
    fault.reset(mode)
    pieces: list[str] = []
    finished, _, error = run_bounded(lambda: pieces.extend(chat.stream(PROMPT, max_tokens=64)), HANG_LIMIT)
    assert finished, f"{mode}: no result after {HANG_LIMIT:.0f}s (a hang); streamed so far: {pieces}"
    assert isinstance(error, BackendError), f"{mode}: expected a BackendError, got {error!r}; reply {pieces}"
    text = str(error)
    assert message in text, text
    if setting:
        assert setting in (error.setting or ""), (text, error.setting)
    assert "\n" not in text and "Traceback" not in text
    assert KEY not in text and KEY not in repr(error) and KEY not in caplog.text
    assert len(fault.chat_requests()) == requests, [r["mode"] for r in fault.chat_requests()]
    if requests > 1 and mode.startswith("status"):
        # Retried with backoff (the openai client waits ~0.5 s, then ~1 s: a lower bound, not a speed).
        assert all(gap >= 0.3 for gap in gaps(fault)), gaps(fault)
    fault.reset("ok")  # the same backend object answers once the server behaves
    assert "".join(chat.stream(PROMPT, max_tokens=64)).startswith("NATO and the United States")


@pytest.mark.parametrize(
    ("script", "requests"),
    [(["status:429", "status:429", "ok"], 3), (["status:500", "ok"], 2)],
    ids=["429", "500"],
)
def test_retries_recover_when_the_server_does(fault, script, requests):
    chat = remote(fault, max_retries=2)
    fault.reset("ok", script)
    assert "".join(chat.stream(PROMPT, max_tokens=64)).startswith("NATO and the United States")
    assert len(fault.chat_requests()) == requests


# -- through the Assistant ----------------------------------------------------------------------
ASSISTANT_FAULTS = [
    pytest.param("hang", {"timeout": 1, "max_retries": 0}, id="timeout"),
    pytest.param("status:429", {"max_retries": 2}, id="429"),
    pytest.param("status:500", {"max_retries": 2}, id="500"),
    pytest.param("status:401", {}, id="401"),
    pytest.param("garbage", {}, id="malformed-sse"),
    pytest.param("truncate", {}, id="truncated-mid-chunk"),
    pytest.param("truncate-eof", {}, id="truncated-clean-eof"),
    pytest.param("slow:3", {"timeout": 1, "max_retries": 0}, id="stall-over-timeout"),
    pytest.param(
        "keepalive:0.3", {"timeout": 2, "deadline": 2, "max_retries": 0}, id="keepalive-over-deadline"
    ),
    pytest.param("empty", {}, id="empty-reply"),
]


@pytest.mark.parametrize("fallback", [True, False], ids=["fallback", "no-fallback"])
@pytest.mark.parametrize(("mode", "options"), ASSISTANT_FAULTS)
def test_assistant_answers_through_the_fault_and_then_normally(
    fault, retriever, extractive_answer, caplog, mode, options, fallback
):
    caplog.set_level(logging.DEBUG)
    config = AssistantConfig(fallback=fallback, max_answer_tokens=60)
    bot = Assistant(retriever, remote(fault, **options), config)
    fault.reset(mode)
    finished, events, error = run_bounded(lambda: list(bot.stream(TROOPS)), HANG_LIMIT)
    assert finished, f"{mode}: no answer after {HANG_LIMIT:.0f}s (a hang)"
    assert error is None, f"{mode}: the assistant raised {error!r}"
    assert events[-1].kind == "final" and [e.kind for e in events].count("final") == 1
    answer = events[-1].answer
    shown = json.dumps(answer.to_dict())
    assert answer.error, f"{mode}: the fault went unnoticed: {answer.text!r}"
    assert "Traceback" not in shown and 'File "' not in shown and KEY not in shown and KEY not in caplog.text
    if fallback:
        assert answer.fallback and answer.backend == "extractive"
        assert answer.text == extractive_answer.text and answer.citations
        assert_grounded(answer, retriever)
    else:
        assert not answer.fallback and answer.citations == ()
        assert answer.text.startswith("The language model failed: ") and answer.error in answer.text
    # The app stays up: the same assistant answers the next question normally.
    fault.reset("ok")
    following = bot.ask(CHA)
    assert following.error is None and not following.fallback, following
    assert following.backend == f"openai:{MODEL}" and following.citations
    assert_grounded(following, retriever)


def test_connection_refused_then_the_server_comes_up(retriever, extractive_answer):
    port = free_port()
    bot = Assistant(retriever, OpenAIBackend(MODEL, base_url=f"http://127.0.0.1:{port}/v1", max_retries=1))
    down = bot.ask(TROOPS)
    assert down.fallback and "--base-url" in down.error and down.text == extractive_answer.text
    with fault_server(port=port) as late:
        up = bot.ask(TROOPS)
    assert up.error is None and not up.fallback and up.backend == f"openai:{MODEL}"
    assert len(late.answer_requests()) == 1  # answered at once, no retries


# -- a real llama.cpp server killed in the middle of a reply -------------------------------------
@pytest.mark.slow
def test_llama_server_killed_mid_reply_is_a_clear_error(tmp_path):
    with llama_server(smollm2_path(tmp_path)) as doomed:
        chat = OpenAIBackend(doomed.model_name, base_url=doomed.base_url, max_retries=0, timeout=10)
        count = [ChatMessage("user", "Count from 1 to 300, one number per line.")]
        stream = chat.stream(count, max_tokens=600)
        first = next(stream)
        doomed.stop()  # SIGKILL while it is still writing
        rest: list[str] = []
        finished, _, error = run_bounded(lambda: rest.extend(stream), HANG_LIMIT)
    assert first and finished
    assert isinstance(error, BackendError), f"the cut reply was taken as whole: {first + ''.join(rest)!r}"
    assert "connection broke during the reply" in str(error), str(error)


# -- through the real web app -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def web_client(server, tmp_path_factory, cache_root, embedder):
    """``python app.py --backend openai`` pointed at the fault server."""
    import gradio_client  # here, not at module level: the tests above need no web app

    cache = tmp_path_factory.mktemp("faults-web-cache")
    (cache / "onnx").symlink_to(cache_root / "onnx", target_is_directory=True)
    port = free_port()
    args = ["--backend", "openai", "--base-url", server.base_url, "--openai-model", MODEL]
    args += ["--port", str(port), "--cache-dir", str(cache)]
    log = tmp_path_factory.mktemp("faults-web-log") / "app.log"
    with app_process(args, env=app_env(OPENAI_API_KEY=KEY), log=log) as url:
        yield gradio_client.Client(url, verbose=False)
    assert KEY not in log.read_text()


@pytest.mark.parametrize("mode", ["status:500", "status:429", "garbage", "truncate", "empty"])
def test_web_app_fault_gives_a_fallback_and_the_next_request_succeeds(fault, web_client, mode):
    fault.reset(mode)
    failed = web_client.predict(TROOPS, api_name="/ask")
    assert failed["fallback"] is True and failed["backend"] == "extractive" and failed["error"]
    assert failed["citations"] and "NATO" in failed["answer"]
    assert "Traceback" not in json.dumps(failed) and KEY not in json.dumps(failed)
    assert fault.chat_requests(), "the app never called the configured server"
    fault.reset("ok")
    ok = web_client.predict(CHA, api_name="/ask")
    assert ok["fallback"] is False and ok["error"] is None and ok["backend"] == f"openai:{MODEL}"
    assert ok["citations"] and ok["query"] == CHA
    (request,) = fault.answer_requests()
    assert request["headers"].get("authorization") == f"Bearer {KEY}"  # the key goes to its own server
    assert all(r["headers"].get("authorization") == f"Bearer {KEY}" for r in fault.chat_requests())


def test_web_app_honours_the_timeout_flag():
    """``--timeout`` is accepted by ``python app.py`` / ``rag serve``: it must reach the backend
    (else a stalled server holds every web request for 60 s x 3 attempts)."""
    from rag import settings
    from rag.web.server import build_parser
    from rag.web.service import Service

    args = build_parser().parse_args(
        ["--backend", "openai", "--base-url", "http://127.0.0.1:9/v1", "--timeout", "1"]
    )
    service = Service(settings.web_config(args), (), lambda: None)
    chat = service.backend(service.settings("openai"))
    assert chat.timeout == 1.0
