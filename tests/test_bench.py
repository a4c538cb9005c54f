"""Smoke test of ``python -m benchmarks.retrieval``: tiny sizes, fake vectors, no timing checks."""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
from conftest import EVAL_DIR, REPO

from benchmarks import retrieval as bench


def test_bench_retrieval_smoke(tmp_path):
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        "\n".join(json.dumps({"question": q}) for q in ("Who is Hong Min?", "What did Kim Yo-jong condemn?")),
        "utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.retrieval", "--sizes", "200", "--fake-embeddings",
         "--queries", "20", "--no-progress", "--questions", str(questions), "--out", str(tmp_path / "out")],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    tmp_path = tmp_path / "out"

    report = json.loads((tmp_path / "bench-retrieval.json").read_text("utf-8"))
    markdown = (tmp_path / "bench-retrieval.md").read_text("utf-8")
    for key in ("command", "date", "machine", "versions", "article", "scale", "runtime_s"):
        assert key in report
    assert report["machine"]["cores"] >= 1 and report["machine"]["cpu"]
    assert "faiss-cpu" in report["versions"]

    article = report["article"]
    assert article["chunks"] > 0 and article["model"]["load_s"] > 0
    assert article["build"]["status"] == "built" and article["build"]["total_s"] > 0
    assert article["second_start"]["status"] == "loaded"
    assert article["second_start"]["encode_calls"] == 0
    for mode in ("hybrid", "dense", "bm25"):
        stats = article["second_start"]["search"][mode]
        assert stats["n"] == 20 and 0 < stats["p50_ms"] <= stats["p95_ms"]

    kinds = {row["embedding"]["vectors"] for row in report["scale"]}
    assert kinds == {"random", "static"}
    for row in report["scale"]:
        assert row["target"] == 200 and 150 <= row["chunks"] <= 260 and row["sentences"] > row["chunks"]
        assert row["build"]["total_s"] > 0 and row["build"]["phases_s"]["faiss+bm25"] > 0
        assert row["index"]["kind"] == {"chunks": "IndexFlatIP", "sentences": "IndexFlatIP"}
        assert all(n > 0 for n in row["index"]["bytes"].values())
        assert row["search_hybrid"]["p50_ms"] > 0
        assert row["reopen"]["status"] == "loaded" and row["reopen"]["encode_calls"] == 0
        assert 0 < row["recall"]["chunks"]["real queries"]["recall@10"] <= 1
        assert row["bm25_prototype"]["top20_overlap"] > 0.9
        profile = row["profile_hybrid"]
        assert 0 < profile["query embedding"]["p50_ms"] <= profile["whole search"]["p95_ms"]
        assert profile["BM25"]["n"] == 10  # 20 queries, the first 10 warm up
    assert "## Scale" in markdown and "**random**" in markdown and "**static**" in markdown
    assert article["second_start"]["question_files"] == [str(questions)]


def test_the_benchmark_questions_default_to_the_dev_set_only():
    """The held-out set is for the final report: no benchmark reads it by default."""
    defaults = bench.build_parser().parse_args([]).questions
    assert [p.name for p in defaults] == ["qa.jsonl"]
    assert "heldout" not in bench.build_parser().format_help()


def test_query_set_is_distinct_and_realistic():
    questions = bench.load_questions([EVAL_DIR / "qa.jsonl"])
    queries = bench.query_set(250, questions)
    assert len(queries) == len(set(queries)) == 250
    assert questions[0] in queries


def test_benchmarks_are_not_part_of_the_package():
    import rag

    package = Path(rag.__file__).parent
    assert not list(package.glob("bench*.py"))
    assert not (package / "web.py").exists()  # rag/web/ is a package


def test_static_vectors_are_unit_and_structured():
    class WordEmbedder:  # deterministic stand-in for the model: one random vector per text
        dimension = 16

        def encode(self, texts, *, progress=False):
            rows = [np.random.default_rng(zlib.crc32(t.encode())).standard_normal(16) for t in texts]
            return np.asarray(rows, dtype=np.float32)

    vectors = bench.StaticVectors(WordEmbedder()).encode(
        ["north korea sent troops", "north korea sent soldiers", "the weather was mild", ""]
    )
    assert vectors.shape == (4, 16)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_recall_at():
    exact = np.array([[1, 2, 3], [4, 5, 6]])
    approx = np.array([[1, 2, 9], [4, 5, 6]])
    assert bench.recall_at(approx, exact, 3) == (2 / 3 + 1) / 2


def test_conversation_cases_have_their_questions_and_render_each_case_on_its_own_line():
    from benchmarks import conversation

    assert len(conversation._plain(5)) == 5
    follow = conversation._follow_ups(5)
    assert follow and all(len(pair) == 2 for pair in follow)
    assert len(conversation._other_questions(3)) == 3
    report = {
        "library": {"first_answer_s": 2.0, "plain_p50_s": 1.0, "follow_up_p50_s": 1.5,
                    "follow_up_ratio": 1.5, "follow_up_tokens_evaluated_p50": 120},
        "switch": {"same_article_p50_s": 1.0, "switching_p50_s": 1.3, "switch_cost_s": 0.3},
        "new": {"article_words": 1222, "searchable_s": 1.2, "first_answer_s": 3.0, "read_s": 20.0},
        "new-sentences": {"first_answer_s": 9.5, "read_s": 30.0},
        "threads": [{"threads": 1, "neighbour": True, "p50_s": 2.0}],
    }  # fmt: skip
    rows = "\n".join(conversation.render(report))
    cases = ("first answer after `from_corpus`", "follow-up p50 (1.50×", "article switch", "searchable",
             "until the model has read it", "1 thread(s), next to a busy process",
             "the model writing from the best sentences | 9.50")  # fmt: skip
    for text in cases:
        assert text in rows, text
