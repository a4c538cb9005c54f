"""Load on the real web app: many readers asking at once through ``gradio_client`` ``/ask``.

* 50 simultaneous questions with the extractive backend;
* 10 simultaneous questions with the local model (llama-cpp, packaged SmolLM2-135M).

Every question is distinct; each reply must be the one for its own question (its ``query``
echoes the question, its passages are those retrieval gives for that question, its citations
lie inside them). Latencies (p50/p95) are written to ``test-output/load.json``; nothing here
asserts a speed. Serialised access to one ``Llama`` object (no interleaved text) is proven at the
backend level by ``test_backend_llama_cpp.py::test_concurrent_streams_are_serialised_and_each_gets_
its_own_reply``; here the whole app is driven the same way.
"""

from __future__ import annotations

import json
import statistics
import threading
import time

import gradio_client
import pytest
from backend_helpers import SMOLLM2
from conftest import eval_items, with_reading
from web_helpers import OUTPUT, app_env, app_process, free_port, wait_for_line

from rag.assistant import Assistant
from rag.retriever import Retriever

pytestmark = pytest.mark.reliability

LOAD_JSON = OUTPUT / "load.json"


def eval_questions(answerable: bool | None = None) -> list[str]:
    items = eval_items()
    chosen = [i for i in items if i["type"] != "injection" and not i.get("turns")]
    if answerable is not None:
        chosen = [i for i in chosen if i["answerable"] is answerable]
    return list(dict.fromkeys(i["question"] for i in chosen))


QUESTIONS = eval_questions()  # answerable and unanswerable ones
ANSWERABLE = eval_questions(answerable=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def record(name: str, latencies: list[float], wall: float, **extra) -> None:
    OUTPUT.mkdir(exist_ok=True)
    data = json.loads(LOAD_JSON.read_text()) if LOAD_JSON.exists() else {}
    data[name] = {
        "questions": len(latencies),
        "p50_s": round(statistics.median(latencies), 3),
        "p95_s": round(percentile(latencies, 95), 3),
        "max_s": round(max(latencies), 3),
        "wall_s": round(wall, 3),
        **extra,
    }
    LOAD_JSON.write_text(json.dumps(data, indent=2) + "\n")


def ask_all_at_once(url: str, questions: list[str]) -> tuple[dict[str, dict], dict[str, float], float, list]:
    """One ``gradio_client.Client`` (one reader) per question; all ask at the same moment."""
    results: dict[str, dict] = {}
    latencies: dict[str, float] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(questions) + 1)

    def reader(question: str) -> None:
        try:
            client = gradio_client.Client(url, verbose=False)
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()
            return
        try:
            barrier.wait()
            start = time.perf_counter()
            results[question] = client.predict(question, api_name="/ask")
            latencies[question] = time.perf_counter() - start
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(q,), daemon=True) for q in questions]
    for t in threads:
        t.start()
    barrier.wait(timeout=300)  # every client connected: go
    start = time.perf_counter()
    for t in threads:
        t.join(timeout=600)
    wall = time.perf_counter() - start
    assert not any(t.is_alive() for t in threads), "some requests never came back"
    return results, latencies, wall, errors


def assert_own_answer(
    question: str,
    result: dict,
    expected_passages: list[tuple[str, tuple[int, ...]]],
    read: Retriever | None = None,
):
    """``result`` answers ``question`` from its own passages. ``read``: the model read the whole
    article of those passages (docs/grounding.md), so a citation may be any paragraph of it, with
    that paragraph's own text; otherwise citations are among the retrieved paragraphs."""
    assert result["query"] == question, f"reply to {result['query']!r} given for {question!r}"
    got = [(p["doc"], tuple(p["paragraphs"])) for p in result["passages"]]
    assert got == expected_passages, f"passages of another question? {question!r}"
    cited = {(c["doc"], c["paragraph"]) for c in result["citations"]}
    if read is None:
        assert cited <= {(doc, n) for doc, numbers in got for n in numbers}
    else:
        assert {doc for doc, _ in cited} <= {doc for doc, _ in got}
        for c in result["citations"]:
            assert c["text"] == read.paragraph(c["doc"], c["paragraph"]).text
    assert isinstance(result["answer"], str) and result["answer"].strip()


@pytest.fixture(scope="module")
def load_cache(tmp_path_factory, cache_root, embedder):
    folder = tmp_path_factory.mktemp("load-cache")
    (folder / "onnx").symlink_to(cache_root / "onnx", target_is_directory=True)
    return folder


def test_fifty_simultaneous_questions_extractive(load_cache, retriever, tmp_path):
    questions = QUESTIONS[:50]
    assert len(set(questions)) == 50
    bot = Assistant(retriever)  # the same pipeline in this process: what each reader must get
    expected = {q: bot.ask(q) for q in questions}
    args = ["--backend", "extractive", "--port", str(free_port()), "--cache-dir", str(load_cache)]
    with app_process(args, log=tmp_path / "app.log") as url:
        gradio_client.Client(url, verbose=False).predict(questions[0], api_name="/ask")  # index open
        results, latencies, wall, errors = ask_all_at_once(url, questions)
    assert errors == []
    assert sorted(results) == sorted(questions), "questions lost"
    for q in questions:
        answer = expected[q]
        assert_own_answer(q, results[q], [(p.doc, p.paragraphs) for p in answer.passages])
        assert results[q]["answer"] == answer.text, q
        assert results[q]["error"] is None and results[q]["backend"] == "extractive"
    refused = sum(results[q]["refused"] for q in questions)
    record("extractive", list(latencies.values()), wall, concurrency=50, app_concurrency=4, refused=refused)


@pytest.mark.slow
def test_ten_simultaneous_questions_local_model(load_cache, smollm2_reading, retriever, tmp_path):
    questions = ANSWERABLE[-10:]  # the model has something to write for each
    assert len(set(questions)) == 10
    k = 4
    expected = {q: [(p.doc, p.paragraphs) for p in retriever.search(q, k=k)] for q in questions}
    saved = sorted(p.name for p in with_reading(load_cache, smollm2_reading).joinpath("kv").iterdir())
    args = ["--backend", "llama-cpp", "--model", SMOLLM2, "--port", str(free_port())]
    args += ["--cache-dir", str(load_cache), "--load-wait", "300", "-k", str(k)]
    log = tmp_path / "app.log"
    with app_process(args, env=app_env(), log=log) as url:
        wait_for_line(log, "ready: the local model answers")
        # The page starts from `rag warm`'s reading of the article: it reads nothing again.
        assert sorted(p.name for p in (load_cache / "kv").iterdir()) == saved
        warm = gradio_client.Client(url, verbose=False).predict("Who is Victor Cha?", api_name="/ask")
        assert warm["backend"] == f"llama-cpp:{SMOLLM2}" and not warm["fallback"], warm  # model loaded
        results, latencies, wall, errors = ask_all_at_once(url, questions)
        serial = {
            q: gradio_client.Client(url, verbose=False).predict(q, api_name="/ask") for q in questions[:3]
        }
        after = gradio_client.Client(url, verbose=False).predict("Who is Victor Cha?", api_name="/ask")
    assert errors == []
    assert sorted(results) == sorted(questions), "questions lost"
    for q in questions:
        result = results[q]
        assert_own_answer(q, result, expected[q], read=retriever)
        assert result["error"] is None and not result["fallback"], result
        assert result["backend"] == f"llama-cpp:{SMOLLM2}"
    assert after["answer"] == warm["answer"]  # still up, and the model still gives the same reply
    same = sum(serial[q]["answer"] == results[q]["answer"] for q in serial)
    record(
        "llama-cpp-smollm2-135m",
        list(latencies.values()),
        wall,
        concurrency=10,
        app_concurrency=4,
        same_as_asked_alone=f"{same}/{len(serial)}",
        refused=sum(results[q]["refused"] for q in questions),
    )
