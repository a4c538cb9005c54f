"""``rag eval`` end to end on a small dataset: files, keys, report, charts, skips, baselines.

The runs use the real retriever and the extractive backend. The naive-RAG plumbing is checked
with a scripted stand-in for a language model (registered as a backend for one test), so the
test needs no model file; the real model runs in the README's smoke command instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from conftest import CORPUS_DIR, EVAL_DIR

from rag.backends.registry import BACKENDS
from rag.cli import main as cli_main
from rag.evaluation.dataset import load_dataset
from rag.evaluation.runner import load_items
from rag.prompt import PLAIN_SYSTEM_PROMPT

PICK = ("dev-003", "dev-006", "dev-022", "dev-080", "dev-057", "dev-071")  # factoid x2, attribution,
# follow-up, unanswerable, injection
RATE_KEYS = (
    "hit@1", "hit@3", "hit@5", "mrr", "answer_accuracy", "exact_match", "f1", "decline_accuracy",
    "false_refusal_rate", "citation_precision", "citation_recall",
)  # fmt: skip
SECONDS_KEYS = ("latency_p50_s", "latency_p95_s", "first_token_p50_s")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    lines = {json.loads(line)["id"]: line for line in (EVAL_DIR / "qa.jsonl").read_text("utf-8").splitlines()}
    path = tmp_path_factory.mktemp("eval-data") / "small.jsonl"
    path.write_text("\n".join(lines[i] for i in PICK) + "\n", "utf-8")
    return path


def eval_args(dataset: Path, out: Path, cache: Path, *extra: str) -> list[str]:
    return [
        "eval", "--dataset", str(dataset), "--out", str(out),
        "--corpus", str(CORPUS_DIR), "--cache-dir", str(cache), *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(dataset, cache_root, embedder, tmp_path_factory) -> Path:
    """One run: extractive, plus an OpenAI server that is not there (must be skipped)."""
    out = tmp_path_factory.mktemp("eval-run") / "run"
    args = eval_args(dataset, out, cache_root, "--backend", "extractive", "openai")
    code = cli_main([*args, "--base-url", "http://127.0.0.1:9/v1", "--api-key", "sk-test-not-a-key"])
    assert code == 0
    return out


def test_results_json_has_every_key_in_range(run_dir):
    results = json.loads((run_dir / "results.json").read_text("utf-8"))
    row = results["backends"]["extractive"]
    for key in RATE_KEYS:
        assert isinstance(row[key], float), key
        assert 0.0 <= row[key] <= 1.0, key
    for key in SECONDS_KEYS:
        assert row[key] is not None and row[key] >= 0.0, key
    assert row["counts"]["items"] == len(PICK)
    assert row["counts"]["answerable"] == 4 and row["counts"]["declinable"] == 2
    assert set(row["per_type"]) == {"factoid", "attribution", "followup", "unanswerable", "injection"}
    assert all(0.0 <= t["accuracy"] <= 1.0 for t in row["per_type"].values())
    assert set(results["retrieval"]) == {"hybrid (this retriever)", "bm25 paragraphs", "dense paragraphs"}
    assert results["run"]["items"] == len(PICK) and not results["run"]["dataset_problems"]


def test_unreachable_backend_is_skipped_with_a_reason(run_dir):
    results = json.loads((run_dir / "results.json").read_text("utf-8"))
    assert "openai" not in results["backends"]
    assert "127.0.0.1:9" in results["skipped"]["openai"]
    assert "sk-test-not-a-key" not in (run_dir / "results.json").read_text("utf-8")


def test_items_jsonl_has_one_line_per_item_and_backend(run_dir):
    rows = [json.loads(line) for line in (run_dir / "items.jsonl").read_text("utf-8").splitlines()]
    assert len(rows) == len(PICK)
    assert [r["id"] for r in rows] == list(PICK)
    followup = next(r for r in rows if r["id"] == "dev-080")
    assert len(followup["earlier_replies"]) == 1 and followup["turns"][-1] == followup["question"]
    for r in rows:
        assert {"question", "reply", "refused", "citations", "metrics", "timings"} <= set(r)
        assert set(r["timings"]) == {"retrieve_s", "first_token_s", "total_s"}


def test_report_mentions_backends_tables_and_charts(run_dir):
    report = (run_dir / "report.md").read_text("utf-8")
    assert "| metric | extractive |" in report
    assert "openai skipped" in report
    assert "bm25 paragraphs" in report and "dense paragraphs" in report
    assert "injection (n=1, decline)" in report
    for name in ("accuracy_by_type.png", "latency.png"):
        assert f"({name})" in report
        data = (run_dir / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 1000


def test_pngs_decode(run_dir):
    from matplotlib import image

    for name in ("accuracy_by_type.png", "latency.png"):
        pixels = image.imread(run_dir / name)
        assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100


def test_compare_reports_the_change(run_dir, dataset, cache_root, tmp_path):
    out = tmp_path / "again"
    assert cli_main([*eval_args(dataset, out, cache_root), "--compare", str(run_dir)]) == 0
    report = (out / "report.md").read_text("utf-8")
    assert f"## Change since `{run_dir}`" in report
    assert "| metric | backend | old | new | Δ |" in report
    assert "Items now wrong (0)" in report  # same code, same data: nothing flips


def test_limit_and_retrieval_only_mode(dataset, cache_root, embedder, tmp_path, capsys):
    assert (
        cli_main(["eval", "--retrieval", "--json", "--dataset", str(dataset), "--cache-dir", str(cache_root)])
        == 0
    )
    table = json.loads(capsys.readouterr().out)
    assert table["hybrid (this retriever)"]["n"] == 4
    out = tmp_path / "limited"
    assert cli_main([*eval_args(dataset, out, cache_root), "--limit", "2"]) == 0
    assert len((out / "items.jsonl").read_text("utf-8").splitlines()) == 2


def test_check_flags_evidence_missing_from_the_article(tmp_path, cache_root, embedder, capsys):
    path = tmp_path / "bad.jsonl"
    bad = {
        "id": "x1",
        "question": "Who?",
        "answers": ["Nobody"],
        "evidence": ["this sentence is not in the article"],
        "type": "factoid",
        "answerable": True,
    }
    path.write_text(json.dumps(bad) + "\n", "utf-8")
    assert cli_main(["eval", "--check", "--dataset", str(path), "--cache-dir", str(cache_root)]) == 1
    assert "evidence not found verbatim" in capsys.readouterr().out


class ScriptedModel:
    """Stands in for a language model: quotes the first line of the data it is given."""

    name = "scripted:test"
    context_window = 4096

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(
        self, messages: Sequence, *, max_tokens: int = 256, temperature: float = 0.0, stop=None
    ) -> Iterator[str]:
        user = messages[-1].content
        if "Context:\n" not in user:  # probe or rewrite
            reply = "OK"
        elif messages[0].content == PLAIN_SYSTEM_PROMPT:  # the naive baseline: its second window
            context = user.split("Context:\n", 1)[1]
            reply = "The article does not say." if "PWNED" in user else context.split("\n\n")[1]
        else:  # the assistant's prompt: the first paragraph of the context
            reply = user.split("Context:\n", 1)[1].split("\n\n")[0]
        for word in reply.split(" "):
            yield word + " "


def test_naive_rag_row_shares_the_backend(dataset, cache_root, embedder, tmp_path, monkeypatch):
    made = []

    def factory(**options):
        made.append(ScriptedModel())
        return made[-1]

    monkeypatch.setitem(BACKENDS, "scripted", factory)
    out = tmp_path / "naive"
    assert cli_main([*eval_args(dataset, out, cache_root, "--backend", "scripted", "--naive")]) == 0
    assert len(made) == 1  # one backend object for both rows
    results = json.loads((out / "results.json").read_text("utf-8"))
    assert list(results["backends"]) == ["scripted", "scripted (naive RAG)"]
    naive = results["backends"]["scripted (naive RAG)"]
    assert naive["naive"] is True and naive["model"] == "scripted:test (naive RAG)"
    assert naive["citation_precision"] is None and naive["citation_recall"] is None
    assert naive["counts"]["citations"] == 0
    assert naive["decline_accuracy"] == pytest.approx(0.5)  # declines the injection, not the other
    lines = (out / "items.jsonl").read_text("utf-8").splitlines()
    assert len(lines) == 2 * len(load_dataset(dataset))
    naive_rows = [json.loads(line) for line in lines if "naive" in json.loads(line)["backend"]]
    assert all(len(r["passages"]) <= 3 and r["citations"] == [] for r in naive_rows)
    report = (out / "report.md").read_text("utf-8")
    assert "scripted (naive RAG)" in report and "n/a" in report


def test_per_type_and_limit_select_in_file_order(dataset):
    one_each = load_items(dataset, per_type=1)
    assert [i.id for i in one_each] == [i for i in PICK if i != "dev-006"]  # the second factoid goes
    assert [i.id for i in load_items(dataset, limit=2, per_type=1)] == ["dev-003", "dev-022"]
    with pytest.raises(ValueError):
        load_items(dataset, limit=0)


def test_context_flag_is_recorded_in_the_run(run_dir, dataset, cache_root, embedder, tmp_path):
    default = json.loads((run_dir / "results.json").read_text("utf-8"))["run"]["config"]["assistant"]
    assert default["article_context_tokens"] > 0  # the whole article when it fits
    out = tmp_path / "sentences"
    assert cli_main([*eval_args(dataset, out, cache_root), "--limit", "1", "--context", "sentences"]) == 0
    run = json.loads((out / "results.json").read_text("utf-8"))["run"]
    assert run["config"]["assistant"]["article_context_tokens"] == 0


# -- questions about several articles (the `corpus` key), ablations and replayed replies ----------
@pytest.fixture(scope="module")
def corpora_dataset(tmp_path_factory) -> Path:
    """Two one-article corpora beside a dataset whose items name them."""
    import shutil

    from conftest import SAMPLE_ARTICLES

    root = tmp_path_factory.mktemp("corpora-data")
    for name, file in (("port", "busan-port.json"), ("island", "jeju-tourism.txt")):
        (root / "corpora" / name).mkdir(parents=True)
        shutil.copy(SAMPLE_ARTICLES / file, root / "corpora" / name / file)
    items = [
        {"id": "p1", "corpus": "port", "question": "How many containers did the port of Busan handle?",
         "answers": ["23 million"], "evidence": ["handled a record 23 million containers"]},
        {"id": "p2", "corpus": "port", "question": "Who is the mayor of Busan?", "answers": [],
         "evidence": [], "type": "unanswerable", "answerable": False},
        {"id": "i1", "corpus": "island", "question": "How many foreign visitors do officials expect?",
         "answers": ["three million"], "evidence": ["expect three million foreign visitors"]},
    ]  # fmt: skip
    (root / "qa.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items), "utf-8")
    return root / "qa.jsonl"


def test_items_naming_their_corpus_are_asked_about_that_article(corpora_dataset, cache_root, tmp_path):
    out = tmp_path / "run"
    args = ["eval", "--dataset", str(corpora_dataset), "--out", str(out), "--cache-dir", str(cache_root)]
    assert cli_main(args) == 0
    results = json.loads((out / "results.json").read_text("utf-8"))
    row = results["backends"]["extractive"]
    assert set(row["per_corpus"]) == {"port", "island"}
    assert row["per_corpus"]["port"]["counts"]["items"] == 2
    assert row["per_corpus"]["island"]["counts"]["items"] == 1
    assert results["retrieval"]["hybrid (this retriever)"]["n"] == 2
    assert results["retrieval"]["hybrid (this retriever)"]["hit@1"] == 1.0
    records = [json.loads(line) for line in (out / "items.jsonl").read_text("utf-8").splitlines()]
    assert {r["id"]: r["corpus"] for r in records} == {"p1": "port", "p2": "port", "i1": "island"}
    assert all(c["doc"] in ("busan-port", "jeju-tourism") for r in records for c in r["citations"])
    assert next(r for r in records if r["id"] == "i1")["metrics"]["correct"]
    assert "## By article" in (out / "report.md").read_text("utf-8")


def test_an_item_naming_a_missing_corpus_is_an_error(corpora_dataset, cache_root, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    item = {"id": "x", "corpus": "nowhere", "question": "Who?", "answerable": False}
    bad.write_text(json.dumps(item) + "\n")
    assert cli_main(["eval", "--dataset", str(bad), "--corpora", str(corpora_dataset.parent / "corpora"),
                     "--out", str(tmp_path / "o"), "--cache-dir", str(cache_root)]) == 2  # fmt: skip
    assert "nowhere" in capsys.readouterr().err


def test_ablation_rows_switch_one_check_off_each(dataset, cache_root, embedder, tmp_path):
    out = tmp_path / "ablation"
    assert cli_main([*eval_args(dataset, out, cache_root), "--ablation"]) == 0
    backends = json.loads((out / "results.json").read_text("utf-8"))["backends"]
    from rag.evaluation.runner import EXTRACTIVE_CHECKS

    assert set(backends) == {"extractive", *(f"extractive without {c}" for c in EXTRACTIVE_CHECKS)}
    # The injection item is declined as hostile only while the injection check is on.
    records = [json.loads(line) for line in (out / "items.jsonl").read_text("utf-8").splitlines()]
    reasons = {r["backend"]: r["decline_reason"] for r in records if r["id"] == "dev-071"}
    assert reasons["extractive"] == "hostile instructions"
    assert reasons["extractive without injection"] != "hostile instructions"
    assert all(reason == "hostile instructions" for b, reason in reasons.items() if "injection" not in b)
    report = (out / "report.md").read_text("utf-8")
    assert "## Ablation: one check switched off per row" in report
    assert "| extractive | injection |" in report


def test_replayed_replies_come_from_the_file_and_new_ones_from_the_model(tmp_path):
    from rag.evaluation.replay import ReplayBackend
    from rag.types import ChatMessage

    model = ScriptedModel()
    calls = []
    real = model.stream

    def counted(messages, **options):
        calls.append(messages)
        return real(messages, **options)

    model.stream = counted
    first = ReplayBackend(model, tmp_path)
    ask = [ChatMessage("user", "Context:\nThe port grew.\n\nmore")]
    text = "".join(first.stream(ask, max_tokens=5))
    assert text.strip() == "The port grew." and len(calls) == 1
    again = ReplayBackend(model, tmp_path)  # a later run: read from the file
    assert "".join(again.stream(ask, max_tokens=5)) == text and len(calls) == 1
    assert "".join(again.stream(ask, max_tokens=6)) and len(calls) == 2  # other options: asked again
    assert again.hits == 1 and again.misses == 1


def test_a_replayed_run_counts_tokens_with_the_model_as_the_live_run_did(tmp_path):
    """Whether an article is read whole is decided with the model's own count; a replay of a
    local model, which may never need to answer, loads it for that (not to answer)."""
    from backend_helpers import SMOLLM2

    from rag.backends.llama_cpp import LlamaCppBackend
    from rag.evaluation.replay import ReplayBackend

    inner = LlamaCppBackend(SMOLLM2, cache_dir=tmp_path, n_ctx=512, threads=1)
    replay = ReplayBackend(inner, tmp_path / "replay")
    assert replay.status == inner.status == "not loaded"
    assert replay.load() is inner._llm is not None
    assert replay.status == "ready"
    assert ReplayBackend(ScriptedModel(), tmp_path / "scripted").status == "ready"  # a backend with no status
