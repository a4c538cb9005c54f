"""The in-process llama.cpp backend with the real packaged SmolLM2 model (98 MB, CPU)."""

from __future__ import annotations

import threading

import pytest
from backend_helpers import SMOLLM2, assert_grounded, smollm2_path

from rag.assistant import Assistant, AssistantConfig
from rag.backends import BackendError, ChatBackend, make_backend
from rag.backends.llama_cpp import LlamaCppBackend
from rag.types import ChatMessage

# Different first words: every prompt shares exactly the chat template's prefix with any other,
# so llama.cpp's prompt cache treats each the same whatever order the threads run in.
PROMPTS = ["Name a color.", "What is 2+2?", "Say hi to Bob."]


def ask(text: str) -> list[ChatMessage]:
    return [ChatMessage("user", text)]


@pytest.fixture(scope="module")
def llama(tmp_path_factory) -> LlamaCppBackend:
    """One loaded SmolLM2 backend for the module (small window: short prompts only)."""
    backend = LlamaCppBackend(SMOLLM2, cache_dir=tmp_path_factory.mktemp("llama-cache"), n_ctx=512, threads=1)
    backend.load()
    return backend


def test_backend_meets_the_contract_and_loads_lazily(tmp_path):
    backend = make_backend("llama-cpp", model=SMOLLM2, cache_dir=tmp_path, n_ctx=1024)
    assert isinstance(backend, LlamaCppBackend) and isinstance(backend, ChatBackend)
    assert backend.name == "llama-cpp:smollm2-135m"
    assert backend.context_window == 1024
    assert backend.status == "not loaded" and backend._llm is None
    assert backend.count_tokens("North Korean troops in Russia") > 0  # an estimate before loading
    assert backend.status == "not loaded"  # counting does not load the model


def test_model_given_by_path_loads_on_first_use(tmp_path):
    path = smollm2_path(tmp_path)
    backend = LlamaCppBackend(path, cache_dir=tmp_path, n_ctx=256, threads=1)
    assert backend.name == f"llama-cpp:{path.name}"
    assert backend.status == "not loaded"
    assert "".join(backend.stream(ask("Say yes."), max_tokens=2))
    assert backend.status == "ready" and backend.load_seconds is not None


def test_background_loading_goes_from_not_loaded_through_loading_to_ready(tmp_path):
    backend = LlamaCppBackend(smollm2_path(tmp_path), cache_dir=tmp_path, n_ctx=256, threads=1)
    assert backend.status == "not loaded"
    with backend._load_lock:  # hold the loader at the door so "loading" is observable
        backend.start_loading()
        assert backend.status == "loading"
        loader = backend._loader
        backend.start_loading()  # a second call starts no second loader
        assert backend._loader is loader
    loader.join(timeout=300)
    assert backend.status == "ready"
    assert backend.load_seconds is not None and backend.load_seconds >= 0
    assert backend.load() is backend._llm  # loaded once
    assert backend.count_tokens("North Korean troops") > 0


@pytest.mark.parametrize("kind", ["missing", "not gguf", "corrupt gguf"])
def test_unloadable_model_fails_with_a_message_naming_the_setting(tmp_path, kind):
    path = tmp_path / "model.gguf"
    if kind == "not gguf":
        path.write_bytes(b"<html>404 not found</html>")
    elif kind == "corrupt gguf":
        path.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 4000)
    backend = LlamaCppBackend(path, cache_dir=tmp_path, n_ctx=256)
    backend.start_loading()
    backend._loader.join(timeout=120)
    status = backend.status
    assert status.startswith("failed: ")
    with pytest.raises(BackendError) as info:
        list(backend.stream(ask("Hello?"), max_tokens=4))
    assert info.value.setting == "--model / RAG_MODEL"
    if kind != "corrupt gguf":
        assert "--model" in status and "RAG_MODEL" in status
    assert str(path) in status
    with pytest.raises(BackendError):  # the failure is remembered, not retried on every question
        backend.load()


def test_stream_yields_pieces_of_text(llama):
    pieces = list(llama.stream(ask("Count from one to ten."), max_tokens=12))
    assert len(pieces) >= 2 and all(isinstance(p, str) and p for p in pieces)
    assert "".join(pieces).strip()


def test_concurrent_streams_are_serialised_and_each_gets_its_own_reply(llama):
    alone = ["".join(llama.stream(ask(p), max_tokens=8)) for p in PROMPTS]
    assert all(text.strip() for text in alone)
    order: list[int] = []
    replies: dict[int, str] = {}
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            parts = []
            for piece in llama.stream(ask(PROMPTS[i]), max_tokens=8):
                order.append(i)
                parts.append(piece)
            replies[i] = "".join(parts)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(PROMPTS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert errors == [] and not any(t.is_alive() for t in threads)
    assert sorted(replies) == list(range(len(PROMPTS)))
    # No interleaving: each request's pieces arrive in one unbroken run.
    runs = [i for n, i in enumerate(order) if n == 0 or order[n - 1] != i]
    assert sorted(runs) == list(range(len(PROMPTS)))
    # Greedy decoding with one seed: each thread got exactly the reply to its own prompt.
    assert [replies[i] for i in range(len(PROMPTS))] == alone


def test_abandoned_stream_releases_the_model(llama):
    stream = llama.stream(ask("Count from one to twenty."), max_tokens=30)
    assert next(stream)
    stream.close()  # a client that went away
    done = []
    worker = threading.Thread(target=lambda: done.append("".join(llama.stream(ask("Say hi."), max_tokens=4))))
    worker.start()
    worker.join(timeout=300)
    assert done and done[0]


def test_prompt_over_the_context_window_is_a_backend_error_and_the_model_still_works(llama):
    with pytest.raises(BackendError, match="rejected the prompt") as info:
        list(llama.stream(ask("troops " * 1500), max_tokens=8))
    assert info.value.setting == "--n-ctx"
    assert "".join(llama.stream(ask("Say yes."), max_tokens=4)).strip()


def test_assistant_with_the_local_model_gives_a_grounded_answer(retriever, llama):
    bot = Assistant(retriever, llama, AssistantConfig(max_answer_tokens=40))
    answer = bot.ask("Who confirmed the troops were in Russia?")
    assert answer.backend == "llama-cpp:smollm2-135m"
    assert answer.error is None and not answer.fallback
    assert_grounded(answer, retriever)
