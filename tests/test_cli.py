"""The ``rag`` command, run as a real subprocess against tmp caches."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ARTICLE_ID, SAMPLE_ARTICLES

from rag.models import user_cache

PASSAGE_KEYS = {"text", "doc", "paragraphs", "score", "retrievers", "chunk_id", "title"}


def run(args, env, cwd, check=True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "rag", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_index_builds_then_loads(fresh_cache, clean_env, tmp_path):
    args = ["index", "--cache-dir", str(fresh_cache)]
    first = run(args, clean_env, tmp_path)
    assert "1 article(s), 27 paragraphs" in first.stdout
    assert "index built" in first.stdout
    assert str(fresh_cache) in first.stdout
    exports = {p: p.stat().st_mtime_ns for p in (user_cache() / "onnx").glob("*/export.json")}
    assert exports  # one export per model, shared by every corpus
    second = run(args, clean_env, tmp_path)
    assert "index loaded" in second.stdout
    assert (fresh_cache / "index").is_dir()
    after = {p: p.stat().st_mtime_ns for p in (user_cache() / "onnx").glob("*/export.json")}
    assert after == exports  # the ONNX export was reused, not made again


def test_index_reports_skipped_files(fresh_cache, clean_env, tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.md").write_text((SAMPLE_ARTICLES / "seoul-subway.md").read_text())
    (corpus / "bad.txt").write_bytes(b"\x00\x01")
    proc = run(["index", "--corpus", str(corpus), "--cache-dir", str(fresh_cache)], clean_env, tmp_path)
    assert "1 article(s), 5 paragraphs" in proc.stdout
    assert "skipped bad.txt: binary file" in proc.stderr


def test_search_json(fresh_cache, clean_env, tmp_path):
    proc = run(
        [
            "search",
            "Who confirmed the troops were in Russia?",
            "-k",
            "3",
            "--json",
            "--cache-dir",
            str(fresh_cache),
        ],
        clean_env,
        tmp_path,
    )
    passages = json.loads(proc.stdout)
    assert isinstance(passages, list) and len(passages) == 3
    for p in passages:
        assert set(p) == PASSAGE_KEYS
        assert p["doc"] == ARTICLE_ID
        assert isinstance(p["paragraphs"], list) and p["paragraphs"]
        assert isinstance(p["score"], float)
    assert 3 in passages[0]["paragraphs"]
    assert [p["score"] for p in passages] == sorted((p["score"] for p in passages), reverse=True)


def test_search_text_output_and_modes(fresh_cache, clean_env, tmp_path):
    proc = run(
        [
            "search",
            "Hwasong-16B",
            "-k",
            "2",
            "--mode",
            "bm25",
            "--expand",
            "1",
            "--cache-dir",
            str(fresh_cache),
        ],
        clean_env,
        tmp_path,
    )
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"1. [{ARTICLE_ID} ¶") and "(bm25)" in lines[0]
    assert "Hwasong-16B" in proc.stdout


def test_settings_from_environment(fresh_cache, clean_env, tmp_path):
    env = {**clean_env, "RAG_CACHE_DIR": str(fresh_cache), "RAG_CORPUS": str(SAMPLE_ARTICLES)}
    proc = run(["search", "driverless subway", "-k", "1", "--json"], env, tmp_path)
    assert json.loads(proc.stdout)[0]["doc"] == "seoul-subway"
    assert (fresh_cache / "index").is_dir()


def test_eval_retrieval_json_beats_both_baselines(fresh_cache, clean_env, tmp_path):
    proc = run(["eval", "--retrieval", "--json", "--cache-dir", str(fresh_cache)], clean_env, tmp_path)
    table = json.loads(proc.stdout)
    assert set(table) == {"hybrid (this retriever)", "bm25 paragraphs", "dense paragraphs"}
    for row in table.values():
        assert set(row) == {"hit@1", "hit@3", "hit@5", "mrr", "n"}
        assert 0.0 <= row["hit@1"] <= row["hit@3"] <= row["hit@5"] <= 1.0
        assert row["n"] >= 50
    hybrid = table["hybrid (this retriever)"]
    assert hybrid["hit@1"] > table["bm25 paragraphs"]["hit@1"]
    assert hybrid["hit@1"] > table["dense paragraphs"]["hit@1"]


def test_errors_exit_2_with_a_message(fresh_cache, clean_env, tmp_path):
    proc = run(
        ["search", "anything", "--corpus", str(tmp_path / "missing"), "--cache-dir", str(fresh_cache)],
        clean_env,
        tmp_path,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: corpus folder not found")
    assert "Traceback" not in proc.stderr


def test_unknown_model_offline_names_the_flag(tmp_path, clean_env):
    env = {**clean_env, "HF_HUB_OFFLINE": "1"}
    proc = run(
        [
            "search",
            "anything",
            "--embed-model",
            "no-such-org/no-such-model",
            "--cache-dir",
            str(tmp_path / "c"),
        ],
        env,
        tmp_path,
        check=False,
    )
    assert proc.returncode == 2
    assert "--embed-model" in proc.stderr and "RAG_EMBED_MODEL" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_console_script_help(clean_env, tmp_path):
    script = Path(sys.executable).with_name("rag")
    if not script.exists():
        pytest.skip("the rag console script is not installed in this environment")
    proc = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, env=clean_env, cwd=tmp_path
    )
    assert proc.returncode == 0
    for command in ("index", "search", "eval"):
        assert command in proc.stdout


def test_rag_warm_reads_every_article_of_the_corpus(tmp_path, two_articles, cache_root, capsys):
    """With articles added to the corpus, `rag warm` (run by the set-up) reads each one, so the
    first question about any of them is answered by the model, not by quoting."""
    from backend_helpers import SMOLLM2, linked_cache
    from conftest import ARTICLE_PATH

    from rag.cli import main

    cache = linked_cache(tmp_path / "cache", cache_root)
    assert main(["warm", "--model", SMOLLM2, "--corpus", str(two_articles), "--cache-dir", str(cache)]) == 0
    out = capsys.readouterr().out
    assert f"{ARTICLE_PATH.stem}: the model's reading is ready" in out
    assert "seoul-subway: the model's reading is ready" in out
    assert len(list((cache / "kv").glob("*.bin"))) == 2
