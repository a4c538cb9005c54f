"""The OpenAI-compatible backend against a real llama.cpp server running SmolLM2.

One server (any API key accepted) serves the whole session; a second one requires the key
"good", for real HTTP 401 replies; a third answers a question and is then killed half-way
through the chat.
"""

from __future__ import annotations

import json
import logging
import traceback
from dataclasses import asdict

import pytest
from backend_helpers import SECRET_KEY, LlamaServer, assert_grounded, free_port, llama_server, smollm2_path

from rag.assistant import Assistant, AssistantConfig
from rag.backends import BackendError, ChatBackend, make_backend
from rag.backends.openai_compat import OpenAIBackend
from rag.types import ChatMessage

TROOPS = "Who confirmed the troops were in Russia?"
SHORT = AssistantConfig(max_answer_tokens=40)


def ask(text: str) -> list[ChatMessage]:
    return [ChatMessage("user", text)]


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """A llama.cpp server with SmolLM2 that accepts any API key."""
    model = smollm2_path(tmp_path_factory.mktemp("models"))
    with llama_server(model, log=tmp_path_factory.mktemp("logs") / "server.log") as running:
        yield running


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory):
    """A llama.cpp server that only accepts the API key "good"."""
    model = smollm2_path(tmp_path_factory.mktemp("models"))
    with llama_server(model, api_key="good") as running:
        yield running


@pytest.fixture(scope="module")
def extractive(retriever) -> Assistant:
    return Assistant(retriever)


def backend_for(server: LlamaServer, **options) -> OpenAIBackend:
    options.setdefault("max_retries", 0)
    return OpenAIBackend(server.model_name, base_url=server.base_url, **options)


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there


def test_server_reports_its_model(server):
    assert server.model_name.endswith(".gguf")


def test_backend_meets_the_contract(server):
    backend = make_backend("openai", model=server.model_name, base_url=server.base_url + "/")
    assert isinstance(backend, OpenAIBackend) and isinstance(backend, ChatBackend)
    assert backend.name == f"openai:{server.model_name}"
    assert backend.base_url == server.base_url  # trailing slash dropped
    assert backend.context_window > 0 and backend.count_tokens("North Korean troops") > 0


def test_streaming_yields_pieces_as_they_are_written(server):
    pieces = list(backend_for(server).stream(ask("Count from one to ten."), max_tokens=16))
    assert len(pieces) >= 2, pieces
    assert all(isinstance(p, str) and p for p in pieces)
    assert "".join(pieces).strip()


def test_wrong_api_key_is_a_401_naming_the_setting_without_the_key(locked_server, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(BackendError) as info:
        list(backend_for(locked_server, api_key=SECRET_KEY).stream(ask("Hi"), max_tokens=4))
    message = str(info.value)
    assert "401" in message and "OPENAI_API_KEY" in message
    assert "OPENAI_API_KEY" in (info.value.setting or "")
    assert SECRET_KEY not in message and SECRET_KEY not in repr(info.value)
    printed = "".join(traceback.format_exception(type(info.value), info.value, info.value.__traceback__))
    assert "BackendError" in printed and SECRET_KEY not in printed
    assert SECRET_KEY not in caplog.text


def test_right_api_key_is_accepted(locked_server):
    assert "".join(backend_for(locked_server, api_key="good").stream(ask("Say yes."), max_tokens=4))


def test_assistant_with_a_wrong_key_falls_back_and_keeps_the_key_secret(
    locked_server, retriever, extractive, caplog
):
    caplog.set_level(logging.DEBUG)
    bot = Assistant(retriever, backend_for(locked_server, api_key=SECRET_KEY), SHORT)
    answer = bot.ask(TROOPS)
    assert answer.fallback and "OPENAI_API_KEY" in (answer.error or "")
    assert answer.text == extractive.ask(TROOPS).text
    assert SECRET_KEY not in json.dumps(answer.to_dict()) and SECRET_KEY not in caplog.text


def test_connection_refused_names_the_base_url_setting(caplog):
    caplog.set_level(logging.DEBUG)
    backend = OpenAIBackend("any", base_url=dead_url(), api_key=SECRET_KEY, max_retries=0)
    with pytest.raises(BackendError) as info:
        list(backend.stream(ask("Hi"), max_tokens=4))
    assert "--base-url" in str(info.value) and backend.base_url in str(info.value)
    assert "--base-url" in (info.value.setting or "")
    assert SECRET_KEY not in str(info.value) and SECRET_KEY not in caplog.text


def test_unreachable_server_falls_back_to_the_extractive_answer(retriever, extractive):
    bot = Assistant.from_corpus(retriever=retriever, backend="openai", base_url=dead_url(), max_retries=0)
    answer = bot.ask(TROOPS)
    assert answer.fallback is True
    assert answer.error and "--base-url" in answer.error
    assert answer.text == extractive.ask(TROOPS).text
    assert answer.citations and not answer.refused
    assert_grounded(answer, retriever)


def test_unreachable_server_without_fallback_gives_an_error_answer(retriever):
    config = AssistantConfig(fallback=False)
    bot = Assistant(retriever, OpenAIBackend("any", base_url=dead_url(), max_retries=0), config)
    answer = bot.ask(TROOPS)
    assert answer.error and "--base-url" in answer.error
    assert answer.text.startswith("The language model failed") and "--base-url" in answer.text
    assert not answer.fallback and not answer.refused and answer.citations == ()


def test_answer_through_the_server_is_grounded_and_survives_the_server_killed(
    tmp_path, retriever, extractive, caplog
):
    """A grounded answer streamed through a real server (the key never logged or shown); then the
    server dies mid-session and the next question is still answered (one server start, one model
    answer, for both: they were two tests that each had the model answer the same question)."""
    caplog.set_level(logging.DEBUG)
    with llama_server(smollm2_path(tmp_path)) as doomed:
        bot = Assistant.from_corpus(
            retriever=retriever,
            backend="openai",
            config=SHORT,
            base_url=doomed.base_url,
            model=doomed.model_name,
            api_key=SECRET_KEY,
            max_retries=0,
        )
        events = list(bot.stream(TROOPS))
        first = events[-1].answer
        assert first is not None and events[-1].kind == "final"
        assert first.error is None and not first.fallback
        assert first.backend == f"openai:{doomed.model_name}"
        assert any(e.kind == "delta" for e in events)  # the model's words streamed live
        assert first.timings.first_token_s is not None
        assert_grounded(first, retriever)
        assert SECRET_KEY not in repr(bot.backend) and SECRET_KEY not in json.dumps(asdict(first))
        doomed.stop()
        assert doomed.proc.poll() is not None
        second = bot.ask(TROOPS)
    assert second.fallback and second.error and "--base-url" in second.error
    assert second.text == extractive.ask(TROOPS).text and second.citations
    assert SECRET_KEY not in caplog.text and SECRET_KEY not in json.dumps(asdict(second))
