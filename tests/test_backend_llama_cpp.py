"""The in-process llama.cpp backend with the real packaged SmolLM2 model (98 MB, CPU)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import threading

import pytest
from backend_helpers import SMOLLM2, assert_grounded, smollm2_path
from conftest import with_reading

from rag.assistant import Assistant, AssistantConfig
from rag.attribution import reader_text
from rag.backends import BackendError, ChatBackend, make_backend
from rag.backends.kv_states import KEEP_STATES
from rag.backends.llama_cpp import LlamaCppBackend
from rag.backends.threads import CpuShare
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


LOAD_WHILE_PRINTING = """
import sys, time
from rag.backends.llama_cpp import LlamaCppBackend
backend = LlamaCppBackend(sys.argv[1], cache_dir=sys.argv[2], n_ctx=256, threads=1)
backend.start_loading()
n = 0
while backend.status != "ready" and n < 20000:
    print(f"tick {n}", flush=True)
    print(f"tock {n}", file=sys.stderr, flush=True)
    n += 1
    time.sleep(0.002)
print(f"ticks {n} {backend.status}", flush=True)
"""


def test_a_background_load_leaves_the_host_programs_output_alone(tmp_path):
    # llama-cpp-python's verbose=False points fds 1 and 2 at /dev/null while a model loads, from
    # the loading thread: the host's lines printed meanwhile were lost (``rag ask`` printed
    # nothing when its answer came first).
    args = [sys.executable, "-c", LOAD_WHILE_PRINTING, str(smollm2_path(tmp_path)), str(tmp_path)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    last = proc.stdout.splitlines()[-1].split()
    n = int(last[1])
    assert last[2] == "ready" and n >= 1
    for stream, word in ((proc.stdout, "tick"), (proc.stderr, "tock")):
        lines = [line for line in stream.splitlines() if line.startswith(f"{word} ")]
        assert lines == [f"{word} {i}" for i in range(n)]


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
    with pytest.raises(BackendError, match=r"more than the model.s window of 512") as info:
        list(llama.stream(ask("troops " * 1500), max_tokens=8))
    assert info.value.setting == "--n-ctx"
    assert "".join(llama.stream(ask("Say yes."), max_tokens=4)).strip()


def test_assistant_with_the_local_model_gives_a_grounded_answer(retriever, llama):
    bot = Assistant(retriever, llama, AssistantConfig(max_answer_tokens=40))
    answer = bot.ask("Who confirmed the troops were in Russia?")
    assert answer.backend == "llama-cpp:smollm2-135m"
    assert answer.error is None and not answer.fallback
    assert_grounded(answer, retriever)


# -- a primed prefix (the article read once, its KV state kept in memory and on disk) ----------------
MARKER = "<<question>>"
LONG_DATA = " ".join(
    f"Paragraph {i}: the council met on day {i} to talk about the harbour." for i in range(30)
)
OTHER_DATA = " ".join(f"Item {i}: the school opened room {i} for the science club." for i in range(30))


def primed_prompt(question: str = MARKER, data: str = LONG_DATA) -> list[ChatMessage]:
    return [
        ChatMessage("system", "Answer from the data."),
        ChatMessage("user", f"DATA:\n{data}\n\nQUESTION: {question}"),
    ]


def primed_backend(cache) -> LlamaCppBackend:
    return LlamaCppBackend(SMOLLM2, cache_dir=cache, n_ctx=1024, threads=1)


@pytest.fixture(scope="module")
def saved_state(tmp_path_factory):
    """A cache folder in which one start read ``primed_prompt()`` and saved its state: read once
    for the module, copied by :func:`state_from_an_earlier_start`."""
    folder = tmp_path_factory.mktemp("primed-once")
    primed_backend(folder).prime(primed_prompt(), MARKER)
    return folder


def state_from_an_earlier_start(saved, cache) -> None:
    """Put the state file (and its checksum) that an earlier start saved into ``cache``."""
    shutil.copytree(saved / "kv", cache / "kv")


def evaluated(backend: LlamaCppBackend, run) -> int:
    """Prompt tokens llama.cpp evaluated while ``run()`` ran (what a cache saved shows here)."""
    before = backend.evaluated_tokens
    run()
    return backend.evaluated_tokens - before


def reply(backend: LlamaCppBackend, question: str, data: str = LONG_DATA, tokens: int = 4) -> str:
    return "".join(backend.stream(primed_prompt(question, data), max_tokens=tokens))


def test_prime_saves_the_state_and_a_new_start_reads_it_instead_of_evaluating(tmp_path):
    first = primed_backend(tmp_path)
    read = evaluated(first, lambda: first.prime(primed_prompt(), MARKER))
    tokens = first.primed_tokens(primed_prompt(), MARKER)
    assert tokens and len(tokens) > 300 and read == len(tokens)
    files = list((tmp_path / "kv").glob("*.bin"))
    assert len(files) == 1 and files[0].stat().st_size > 100_000

    second = primed_backend(tmp_path)
    assert evaluated(second, lambda: second.prime(primed_prompt(), MARKER)) == 0  # read from disk
    llm = second._llm
    assert list(llm.input_ids[: llm.n_tokens]) == list(tokens)
    question = evaluated(second, lambda: reply(second, "Where did the council meet?"))
    assert 0 < question < 40  # only the question's own tokens
    assert list(llm.input_ids[: len(tokens)]) == list(tokens)  # the prefix was reused, not replaced


def test_the_primed_prefix_comes_back_after_another_prompt_replaced_it(tmp_path):
    backend = primed_backend(tmp_path)
    backend.prime(primed_prompt(), MARKER)
    tokens = backend.primed_tokens(primed_prompt(), MARKER)
    "".join(backend.stream(ask("Name a color."), max_tokens=2))  # a different prompt: cache replaced
    llm = backend._llm
    assert list(llm.input_ids[:300]) != list(tokens[:300])
    assert evaluated(backend, lambda: reply(backend, "Where did the council meet?")) < 40
    assert list(llm.input_ids[: len(tokens)]) == list(tokens)


def test_switching_between_two_primed_articles_reads_neither_again(tmp_path):
    backend = primed_backend(tmp_path)
    backend.prime(primed_prompt(), MARKER)
    backend.prime(primed_prompt(data=OTHER_DATA), MARKER)
    for data in (LONG_DATA, OTHER_DATA, LONG_DATA, OTHER_DATA):
        assert evaluated(backend, lambda data=data: reply(backend, "What happened on day 3?", data)) < 40


def test_a_follow_up_after_the_prefix_costs_only_its_own_tokens(tmp_path):
    """The conversation goes after the primed article, so a follow-up never makes it read again."""
    backend = primed_backend(tmp_path)
    backend.prime(primed_prompt(), MARKER)
    reply(backend, "When did the council meet?")
    follow_up = "Earlier: user asked when the council met.\nAnd what did they talk about?"
    assert evaluated(backend, lambda: reply(backend, follow_up)) < 60


def test_a_question_asked_while_the_prefix_is_read_in_the_background_does_not_wait(tmp_path):
    backend = primed_backend(tmp_path)
    backend.load()
    assert backend.prepare(primed_prompt(), MARKER) == "reading"
    assert backend.reading
    answered = "".join(backend.stream(ask("Say hi."), max_tokens=3))  # runs between two read steps
    assert answered.strip()
    backend.prime(primed_prompt(), MARKER)  # waits for the background reading to finish
    assert not backend.reading and backend.prepare(primed_prompt(), MARKER) == "ready"
    tokens = backend.primed_tokens(primed_prompt(), MARKER)
    # What was read before and after the interruption is one whole prefix, not read twice over.
    assert backend.evaluated_tokens < len(tokens) + 60
    assert evaluated(backend, lambda: reply(backend, "Where did the council meet?")) < 40


def test_prepare_says_ready_for_a_state_saved_by_an_earlier_start(tmp_path, saved_state):
    state_from_an_earlier_start(saved_state, tmp_path)
    backend = primed_backend(tmp_path)
    assert backend.prepare(primed_prompt(), MARKER) == "ready"
    assert evaluated(backend, lambda: reply(backend, "Where did the council meet?")) < 40


def test_yes_probability_reads_the_next_token_after_a_primed_prefix(tmp_path):
    backend = primed_backend(tmp_path)
    backend.prime(primed_prompt(), MARKER)
    check = primed_prompt("Did the council meet on day 3? Reply yes or no.")
    cost = evaluated(backend, lambda: backend.yes_probability(check))
    assert 0 < cost < 40
    p = backend.yes_probability(check)
    assert 0.0 <= p <= 1.0
    assert backend.yes_probability(check) == pytest.approx(p)  # deterministic


def test_a_grammar_constrains_the_reply(llama):
    text = "".join(llama.stream(ask("Is the sky green?"), max_tokens=4, grammar='root ::= "yes" | "no"'))
    assert text in ("yes", "no")


def test_old_saved_states_are_deleted_keeping_the_most_recent(tmp_path):
    kv = tmp_path / "kv"
    kv.mkdir()
    stale = []
    for i in range(KEEP_STATES + 1):  # states of earlier prompts or models, oldest first
        path = kv / f"old{i}.bin"
        path.write_bytes(b"x")
        path.with_name(path.name + ".sha256").write_text("0\n")
        os.utime(path, (1_000_000 + i, 1_000_000 + i))
        stale.append(path)
    backend = primed_backend(tmp_path)
    backend.prime(primed_prompt(), MARKER)
    (fresh,) = {p.name for p in kv.glob("*.bin")} - {p.name for p in stale}
    left = sorted(p.name for p in kv.glob("*.bin"))
    assert len(left) == KEEP_STATES and fresh in left
    newest = [p.name for p in stale[-(KEEP_STATES - 1) :]]
    assert set(left) == {fresh, *newest}
    assert sorted(p.name for p in kv.glob("*.sha256")) == sorted(f"{name}.sha256" for name in left)


def test_a_corrupt_state_file_is_ignored_and_rebuilt(tmp_path, saved_state):
    state_from_an_earlier_start(saved_state, tmp_path)
    (path,) = (tmp_path / "kv").glob("*.bin")
    path.write_bytes(b"not a llama state" * 10)
    backend = primed_backend(tmp_path)
    assert evaluated(backend, lambda: backend.prime(primed_prompt(), MARKER)) > 300  # read again
    assert backend.primed_tokens(primed_prompt(), MARKER) is not None
    assert path.stat().st_size > 100_000  # written again
    assert reply(backend, "Where did the council meet?").strip()


def test_a_damaged_state_file_with_a_valid_header_is_not_loaded(tmp_path, saved_state):
    """One flipped byte deep in the KV data would load "fine" and corrupt every answer."""
    state_from_an_earlier_start(saved_state, tmp_path)
    (path,) = (tmp_path / "kv").glob("*.bin")
    checksum = path.with_name(path.name + ".sha256")
    good = checksum.read_text().strip()
    assert good == hashlib.sha256(path.read_bytes()).hexdigest()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    backend = primed_backend(tmp_path)
    assert evaluated(backend, lambda: backend.prime(primed_prompt(), MARKER)) > 300  # read again, saved again
    assert backend.primed_tokens(primed_prompt(), MARKER) is not None
    assert hashlib.sha256(path.read_bytes()).hexdigest() == checksum.read_text().strip() == good


def test_a_state_file_without_its_checksum_is_not_loaded(tmp_path, saved_state):
    state_from_an_earlier_start(saved_state, tmp_path)
    (path,) = (tmp_path / "kv").glob("*.bin")
    path.with_name(path.name + ".sha256").unlink()
    backend = primed_backend(tmp_path)
    assert evaluated(backend, lambda: backend.prime(primed_prompt(), MARKER)) > 300
    assert path.with_name(path.name + ".sha256").is_file()


def test_an_unwritable_cache_still_primes_in_memory(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # even root cannot create folders under a regular file
    backend = LlamaCppBackend(smollm2_path(tmp_path), cache_dir=blocker / "cache", n_ctx=1024, threads=1)
    backend.prime(primed_prompt(), MARKER)
    assert backend.primed_tokens(primed_prompt(), MARKER) is not None
    "".join(backend.stream(ask("Name a color."), max_tokens=2))
    assert evaluated(backend, lambda: reply(backend, "Where did the council meet?")) < 40  # from memory


def test_prime_needs_the_marker(tmp_path):
    with pytest.raises(ValueError, match="marker"):
        primed_backend(tmp_path).prime(primed_prompt("no marker here"), MARKER)


# -- threads ------------------------------------------------------------------------------------------
def test_repacking_is_a_load_setting_and_part_of_the_saved_states_key(tmp_path):
    import llama_cpp

    from rag.backends.llama_patches import model_params

    before = llama_cpp.llama_model_default_params().use_extra_bufts
    for repack in (False, True):
        with model_params(repack=repack):
            from llama_cpp import llama as module

            assert module.llama_cpp.llama_model_default_params().use_extra_bufts is repack
    assert llama_cpp.llama_model_default_params().use_extra_bufts == before  # put back
    plain = LlamaCppBackend(SMOLLM2, cache_dir=tmp_path)
    packed = LlamaCppBackend(SMOLLM2, cache_dir=tmp_path, repack=True)
    assert plain._model_identity() != packed._model_identity()  # their kernels round differently
    assert reply(packed, "Say yes.")  # a repacked model loads and answers too


def test_threads_leave_a_core_to_a_busy_neighbour():
    import subprocess
    import sys
    import time

    share = CpuShare()
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(CpuShare.WINDOW + 0.5)
        assert share.threads(2) == 1
    finally:
        busy.kill()
        busy.wait()


def test_thread_choice_from_the_cpu_time_of_others():
    assert CpuShare.decide(others=0.1, cores=2) == 2
    assert CpuShare.decide(others=0.9, cores=2) == 1
    assert CpuShare.decide(others=3.0, cores=8) == 7
    assert CpuShare.decide(others=5.0, cores=1) == 1


# -- the whole article in the prompt, read once ------------------------------------------------------
@contextlib.contextmanager
def prompts_sent(backend):
    """Record the messages of every ``stream`` call of a real backend (the calls still run)."""
    seen: list = []
    real = backend.stream

    def capture(messages, **kwargs):
        seen.append(list(messages))
        return real(messages, **kwargs)

    backend.stream = capture
    try:
        yield seen
    finally:
        del backend.stream


@pytest.fixture(scope="module")
def article_llama(tmp_path_factory, smollm2_reading) -> LlamaCppBackend:
    """SmolLM2 starting from `rag warm`'s saved reading of the seed article (made once per run).

    The reading itself is read here by ``test_a_question_before_the_article_is_read_…`` (in the
    background, into an empty cache) and the saved-state tests above; the tests on this backend
    are about what comes after it: the whole-article prompt, a second start, follow-ups."""
    cache = with_reading(tmp_path_factory.mktemp("article-kv"), smollm2_reading)
    return LlamaCppBackend(SMOLLM2, cache_dir=cache, n_ctx=4096)  # threads: as the app picks them


def test_the_model_reads_the_whole_article(retriever, article_llama):
    bot = Assistant(retriever, article_llama, AssistantConfig(max_answer_tokens=40))
    assert bot.warm() is not None
    with prompts_sent(article_llama) as seen:
        answer = bot.ask("Who confirmed the troops were in Russia?")
    user = seen[0][-1].content  # the answer's prompt (the verifier's checks follow it)
    document = retriever.corpus.documents[0]
    said = retriever.attributions(document.id)[document.id]
    shown = [" ".join(reader_text(p, said, "implicit").split()) for p in document.paragraphs]
    assert all(text in user for text in shown)  # every paragraph, as the model reads it
    assert "she (Kim Du-yeon) said" in user  # a speaker the paragraph names only by a pronoun
    assert document.caption in user  # the photo caption too
    assert user.endswith("Question: Who confirmed the troops were in Russia?")
    assert answer.error is None
    assert_grounded(answer, retriever)


def test_a_second_start_reads_the_article_state_from_the_cache(retriever, article_llama):
    Assistant(retriever, article_llama, AssistantConfig()).warm()
    fresh = LlamaCppBackend(SMOLLM2, cache_dir=article_llama.cache_dir, n_ctx=4096)
    bot = Assistant(retriever, fresh, AssistantConfig())
    assert evaluated(fresh, lambda: bot.warm()) == 0  # the state is read from the cache folder


def test_an_article_too_long_for_the_window_falls_back_to_the_best_sentences(retriever, llama):
    bot = Assistant(retriever, llama, AssistantConfig(max_answer_tokens=40))  # n_ctx 512
    assert bot.warm() is None
    assert bot.reading.article(retriever.corpus.documents[0].id) is None
    assert bot.ask("Who confirmed the troops were in Russia?").error is None


def test_whether_the_article_is_read_whole_does_not_depend_on_the_model_having_loaded(retriever, tmp_path):
    """Before it loads, a local model counts tokens with an estimate; the article's fit is decided
    with the model's own count whether or not the model had loaded before the first question."""
    from rag.tokens import TiktokenCounter

    doc = retriever.corpus.documents[0].id
    loaded = LlamaCppBackend(SMOLLM2, cache_dir=tmp_path, n_ctx=4096, threads=1)
    loaded.load()
    shown = Assistant(retriever, loaded, AssistantConfig()).reading.article(doc)
    assert shown, "the article fits the window whole"
    exact = sum(loaded.count_tokens(text) + 4 for _, text in shown)
    estimate = sum(TiktokenCounter().count(text) + 4 for _, text in shown)
    assert exact != estimate  # otherwise this test could not tell the two apart
    limit = (exact + estimate) // 2  # the article fits by one count and not by the other
    fresh = LlamaCppBackend(SMOLLM2, cache_dir=tmp_path, n_ctx=4096, threads=1)
    assert fresh.status == "not loaded"
    config = AssistantConfig(article_context_tokens=limit)
    read_whole = [Assistant(retriever, b, config).reading.article(doc) is not None for b in (fresh, loaded)]
    assert read_whole == [exact <= limit] * 2


def test_evidence_from_two_articles_gets_the_best_sentences_of_both(
    embedder, tmp_path, two_articles, article_llama
):
    """A question spanning two articles cannot be answered from one whole article."""
    from conftest import ARTICLE_PATH

    from rag import Retriever

    retriever = Retriever.from_corpus(two_articles, embedder=embedder, cache_dir=str(tmp_path / "cache"))
    bot = Assistant(retriever, article_llama, AssistantConfig(max_answer_tokens=30, k=6))
    with prompts_sent(article_llama) as seen:  # keywords of both articles: their best sentences mix
        bot.ask("driverless trains every four minutes; NATO confirmed North Korean troops in Russia")
    assert seen, "the model was not asked"
    user = seen[0][-1].content
    assert "driverless" in user and "NATO" in user  # sentences from both articles
    assert not all(p.text in user for p in retriever.corpus.document(ARTICLE_PATH.stem).paragraphs)


def test_warm_all_reads_the_corpus_articles_up_to_a_limit(embedder, tmp_path, two_articles, article_llama):
    from rag import Retriever

    retriever = Retriever.from_corpus(two_articles, embedder=embedder, cache_dir=str(tmp_path / "cache"))
    bot = Assistant(retriever, article_llama, AssistantConfig())
    first, second = (d.id for d in retriever.corpus.documents)
    read = bot.warm_all(limit=1)
    assert list(read) == [first] and read[first] is not None
    done = []
    read = bot.warm_all(on_read=lambda doc, seconds: done.append((doc, seconds)))
    assert list(read) == [first, second]  # default: as many as the backend keeps
    assert done == list(read.items())  # told as each is read
    assert Assistant(retriever, None, AssistantConfig()).warm_all() == {}  # nothing reads


def test_a_question_before_the_article_is_read_quotes_its_best_sentences_at_once(retriever, tmp_path):
    """The library primes itself: no warm() needed, and nobody waits for the first reading."""
    from rag.assistant import QUOTED_WHILE_READING

    backend = LlamaCppBackend(SMOLLM2, cache_dir=tmp_path, n_ctx=4096)  # threads: as the app picks them
    bot = Assistant(retriever, backend, AssistantConfig(max_answer_tokens=30))
    with prompts_sent(backend) as seen:
        events = list(bot.stream("Who confirmed the troops were in Russia?"))
    assert not seen  # the model was not asked: the answer did not wait for its turn
    final = events[-1].answer
    assert QUOTED_WHILE_READING in [e.text for e in events if e.kind == "status"]
    assert QUOTED_WHILE_READING in final.notes and final.backend == "extractive"
    assert final.refused or final.citations  # quoted sentences carry their paragraphs
    assert bot.warm() is not None  # waits for the background reading (or reads the saved state)
    article = len(backend.primed_tokens(*_article_prefix(bot)))
    later = bot.ask("Who is Hong Min?")
    assert QUOTED_WHILE_READING not in later.notes and later.backend == backend.name
    assert evaluated(backend, lambda: bot.ask("Who is Victor Cha?")) < article / 4  # not read again


def test_while_reading_the_model_can_answer_from_the_best_sentences(retriever, tmp_path):
    from rag.assistant import READING_NOTE

    backend = LlamaCppBackend(SMOLLM2, cache_dir=tmp_path, n_ctx=4096)  # threads: as the app picks them
    bot = Assistant(retriever, backend, AssistantConfig(max_answer_tokens=30, while_reading="sentences"))
    with prompts_sent(backend) as seen:
        events = list(bot.stream("Who confirmed the troops were in Russia?"))
    whole = sum(len(p.text) for p in retriever.corpus.documents[0].paragraphs)
    assert seen and len(seen[0][-1].content) < whole / 2  # the short-context prompt
    assert READING_NOTE in [e.text for e in events if e.kind == "status"]
    assert READING_NOTE in events[-1].answer.notes
    assert events[-1].answer.backend == backend.name


def _article_prefix(bot):
    from rag.assistant import PRIME_MARKER
    from rag.prompt import with_tail

    doc = bot.retriever.corpus.documents[0].id
    return with_tail(bot.reading.head(doc, bot.reading.article(doc)), PRIME_MARKER), PRIME_MARKER


def test_a_follow_up_through_the_assistant_does_not_make_the_model_read_the_article_again(
    retriever, article_llama
):
    bot = Assistant(retriever, article_llama, AssistantConfig(max_answer_tokens=30))
    bot.warm()
    article = len(article_llama.primed_tokens(*_article_prefix(bot)))
    first = bot.ask("Who is Kim Yo-jong?")
    history = [{"role": "user", "content": "Who is Kim Yo-jong?"},
               {"role": "assistant", "content": first.text}]  # fmt: skip
    cost = evaluated(article_llama, lambda: bot.ask("What did she accuse them of?", history=history))
    # The question, the conversation and the two yes/no checks: a few hundred tokens at most.
    assert 0 < cost < article / 3, (cost, article)


# -- prompt lookup: the same greedy reply, written in fewer steps -----------------------------
def test_propose_takes_what_followed_the_last_words_earlier():
    from rag.backends.lookup import propose

    assert propose([1, 2, 3, 4, 5, 9, 2, 3], ngram=2, draft=3) == [4, 5, 9]
    assert propose([1, 2, 3, 4, 5, 9, 7, 3], ngram=2, draft=2) == [4, 5]  # falls back to one token
    assert propose([1, 2, 3], ngram=2, draft=3) == []


def test_lookup_gives_the_greedy_reply_and_copies_in_fewer_steps(llama):
    text = "The treaty commits both countries to provide military and other assistance without delay."
    messages = ask(f"Repeat this sentence exactly: {text}")
    plain = "".join(llama.stream(messages, max_tokens=40))
    with_lookup = LlamaCppBackend(SMOLLM2, cache_dir=llama.cache_dir, n_ctx=512, threads=1, lookup=6)
    drafted = "".join(with_lookup.stream(messages, max_tokens=40))
    assert drafted == plain
    stats = with_lookup.lookup_stats
    assert stats["tokens"] > stats["steps"] > 0  # some steps kept drafted tokens
    stopped = "".join(with_lookup.stream(messages, max_tokens=40, stop=["military"]))
    assert "military" not in stopped and plain.startswith(stopped)
