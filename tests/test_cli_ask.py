"""``rag ask``: real subprocesses for the exit codes and output, in-process runs for the options."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from backend_helpers import SECRET_KEY, free_port, linked_cache
from conftest import ARTICLE_ID, CORPUS_DIR

from rag.cli import main

TROOPS = "Who confirmed the troops were in Russia?"


@pytest.fixture(scope="module")
def cli_cache(tmp_path_factory, cache_root, embedder) -> Path:
    """One cache folder for this module's commands, reusing the session's ONNX export."""
    return linked_cache(tmp_path_factory.mktemp("cli-cache"), cache_root)


@pytest.fixture
def env(clean_env):
    return {k: v for k, v in clean_env.items() if not k.startswith("OPENAI_")}


def rag(args, env, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rag", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


def ask(cli_cache, question, *flags) -> int:
    """``rag ask QUESTION FLAGS`` in this process, on the project's corpus and the test cache."""
    return main(["ask", question, *flags, "--cache-dir", str(cli_cache), "--corpus", str(CORPUS_DIR)])


def test_ask_json_prints_the_answer_with_citations_passages_and_timings(cli_cache, env, tmp_path):
    proc = rag(
        [
            "ask",
            TROOPS,
            "--backend",
            "extractive",
            "--json",
            "--cache-dir",
            str(cli_cache),
            "--corpus",
            str(CORPUS_DIR),
        ],
        env,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {"answer", "refused", "citations", "passages", "timings"} <= set(data)
    assert "NATO" in data["answer"] and "[¶3]" in data["answer"]
    assert data["refused"] is False and data["fallback"] is False and data["error"] is None
    assert data["backend"] == "extractive"
    assert data["citations"] and all(set(c) == {"doc", "paragraph", "text"} for c in data["citations"])
    first = data["citations"][0]
    assert (first["doc"], first["paragraph"]) == (ARTICLE_ID, 3) and first["text"].startswith("NATO")
    assert data["passages"]
    for p in data["passages"]:
        assert set(p) == {"doc", "paragraphs", "text", "score"}
        assert p["doc"] == ARTICLE_ID and p["paragraphs"] and isinstance(p["score"], float)
    assert 3 in data["passages"][0]["paragraphs"]
    timings = data["timings"]
    assert set(timings) == {"retrieve_s", "first_token_s", "total_s"}
    assert all(isinstance(v, float) and v >= 0 for v in timings.values())


def test_ask_openai_with_nothing_listening_exits_0_with_the_fallback_answer(cli_cache, env, tmp_path):
    env = {**env, "OPENAI_API_KEY": SECRET_KEY}
    args = [
        "ask",
        TROOPS,
        "--backend",
        "openai",
        "--base-url",
        "http://127.0.0.1:9",
        "--cache-dir",
        str(cli_cache),
        "--corpus",
        str(CORPUS_DIR),
    ]
    proc = rag(args, env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "NATO and the United States confirmed" in proc.stdout and "[¶3]" in proc.stdout
    assert "--base-url" in proc.stderr and "extractive answer shown" in proc.stderr
    assert SECRET_KEY not in proc.stdout + proc.stderr


def test_ask_json_reports_the_fallback(cli_cache, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    url = f"http://127.0.0.1:{free_port()}/v1"
    assert ask(cli_cache, TROOPS, "--backend", "openai", "--base-url", url, "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["fallback"] is True and "--base-url" in data["error"]
    assert data["citations"][0]["paragraph"] == 3


def test_ask_without_fallback_prints_the_error(cli_cache, capsys):
    url = f"http://127.0.0.1:{free_port()}/v1"
    assert ask(cli_cache, TROOPS, "--backend", "openai", "--base-url", url, "--no-fallback", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["fallback"] is False and "--base-url" in data["error"]
    assert data["answer"].startswith("The language model failed") and data["citations"] == []


def test_ask_with_a_history_file_answers_the_follow_up(cli_cache, capsys, tmp_path):
    history = tmp_path / "history.json"
    history.write_text(
        json.dumps(
            [
                {"role": "user", "content": "Who is Kim Yo-jong?"},
                {"role": "assistant", "content": "She is Kim Jong-un's sister. [¶24]"},
            ]
        ),
        "utf-8",
    )
    flags = ("--backend", "extractive", "--json", "--history", str(history))
    assert ask(cli_cache, "What did she accuse them of?", *flags) == 0
    data = json.loads(capsys.readouterr().out)
    assert "Kim Yo-jong" in data["query"]
    assert 24 in [c["paragraph"] for c in data["citations"]]


def test_ask_text_output_lists_citations_and_declines_clearly(cli_cache, capsys):
    assert ask(cli_cache, "What did Zelensky say?", "--backend", "extractive") == 0
    out = capsys.readouterr().out
    assert out.startswith("The article does not say.")
    assert "note: The article never mentions Zelensky." in out
    assert "(extractive; retrieval" in out
    assert ask(cli_cache, TROOPS, "--backend", "extractive") == 0
    out = capsys.readouterr().out
    assert f"[¶3] ({ARTICLE_ID}) NATO and the United States" in out


def test_ask_empty_question_is_a_message_not_a_crash(cli_cache, capsys):
    assert ask(cli_cache, "   ", "--backend", "extractive") == 0
    captured = capsys.readouterr()
    assert "Please type a question about the article." in captured.out
    assert "error: Please type a question" in captured.err


def test_ask_with_the_local_model_waits_for_its_article_to_be_read(
    cache_root, capsys, tmp_path, two_articles
):
    """`rag ask` is one question and then the process ends: a reading left in the background would
    die with it, so every later `rag ask` would be told "ask again in a minute" and quoted at.
    It waits instead, for the article the question is about (not the corpus's first article)."""
    from backend_helpers import SMOLLM2

    from rag.assistant import QUOTED_WHILE_READING

    cache = linked_cache(tmp_path / "cache", cache_root)  # nothing read before
    flags = ["--model", SMOLLM2, "--json", "--corpus", str(two_articles), "--cache-dir", str(cache)]
    assert main(["ask", "How often do the driverless trains run during rush hour?", *flags]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["backend"].startswith("llama-cpp"), data  # the model answered, not the quoting path
    assert QUOTED_WHILE_READING not in data["notes"] and not data["fallback"]
    assert {c["doc"] for c in data["citations"]} <= {"seoul-subway"}
    assert list((cache / "kv").glob("*.bin")), "the article's reading was not kept for the next question"
