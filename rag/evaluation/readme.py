"""Write the README's results section from the saved runs (``python -m rag.evaluation.readme``).

Reads ``eval/results/{dev,heldout}/results.json`` (``rag eval``), the model comparison runs
``eval/results/model-*/results.json`` and the benchmarks ``eval/results/bench-*.json``
(``python -m benchmarks.retrieval`` / ``benchmarks.answers``), and replaces the text between
``<!-- RESULTS-START -->`` and ``<!-- RESULTS-END -->`` in README.md. Every number in that
section comes from those files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "eval" / "results"
START, END = "<!-- RESULTS-START -->", "<!-- RESULTS-END -->"

ROWS = [
    ("answer accuracy (answerable)", "answer_accuracy", "≥ 0.85"),
    ("correct declines (unanswerable + injection)", "decline_accuracy", "≥ 0.90"),
    ("false refusals (answerable)", "false_refusal_rate", "≤ 0.05"),
    ("citation precision", "citation_precision", "≥ 0.90"),
    ("citation recall", "citation_recall", ""),
    ("exact match", "exact_match", ""),
    ("token F1", "f1", ""),
    ("hit@1 / hit@3 of the passages used", ("hit@1", "hit@3"), ""),
    ("first token p50 / p95", ("first_token_p50_s", "first_token_p95_s"), "p50 ≤ 1.0 s"),
    ("full answer p50 / p95", ("latency_p50_s", "latency_p95_s"), "p50 ≤ 3 s"),
]


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def _fmt(value, key: str) -> str:
    if value is None:
        return "n/a"
    if key.endswith("_s"):
        return f"{value:.2f} s" if value >= 0.1 else f"{value * 1000:.0f} ms"
    return f"{value:.3f}"


def _cell(row: dict, key) -> str:
    if isinstance(key, tuple):
        return " / ".join(_fmt(row.get(k), k) for k in key)
    return _fmt(row.get(key), key)


def quality_table(results: dict) -> list[str]:
    backends = results["backends"]
    names = list(backends)
    lines = ["| metric | " + " | ".join(names) + " | target |", "|---|" + "---|" * (len(names) + 1)]
    for label, key, target in ROWS:
        lines.append(f"| {label} | " + " | ".join(_cell(backends[n], key) for n in names) + f" | {target} |")
    return lines


def retrieval_table(results: dict) -> list[str]:
    lines = ["| retriever | hit@1 | hit@3 | hit@5 | MRR |", "|---|---|---|---|---|"]
    for name, row in (results.get("retrieval") or {}).items():
        if isinstance(row, dict) and "hit@1" in row:
            cells = " | ".join(f"{row[k]:.3f}" for k in ("hit@1", "hit@3", "hit@5", "mrr"))
            lines.append(f"| {name} | {cells} |")
    return lines


def section() -> str:
    out = ["## Results", ""]
    dev, heldout = _load(RESULTS / "dev" / "results.json"), _load(RESULTS / "heldout" / "results.json")
    runs = (
        ("Dev set (`eval/qa.jsonl`, 85 items; thresholds were calibrated on it)", dev, "", "dev"),
        ("Held-out set (`eval/heldout.jsonl`, 40 items; never used for tuning)", heldout,
         "--dataset eval/heldout.jsonl ", "heldout"),
    )  # fmt: skip
    for title, results, dataset, folder in runs:
        if not results:
            continue
        run = results["run"]
        load = run.get("host", {}).get("load_before", ["?"])[0]
        cmd = f"rag eval {dataset}--backend extractive llama-cpp --naive --out eval/results/{folder}"
        out += [
            f"### {title}",
            "",
            f"`{cmd}` (commit {run.get('git_commit')}, {run.get('created')}, 2 cores, load average {load} "
            f"at the start). Full report: [report.md](eval/results/{folder}/report.md).",
            "",
        ]
        out += [*quality_table(results), ""]
        out += ["Retrieval alone, same run (hit = a retrieved passage contains an evidence string):", ""]
        out += [*retrieval_table(results), ""]
    models = sorted(RESULTS.glob("model-*/results.json"))
    if models and dev:
        out += ["### Local models compared (dev set, same pipeline)", "",
                "| model | answer accuracy | correct declines | false refusals | citation precision "
                "| first token p50 | full answer p50 |", "|---|---|---|---|---|---|---|"]  # fmt: skip
        rows = [("qwen2.5-coder-1.5b (default)", dev["backends"].get("llama-cpp"))]
        rows += [
            (p.parent.name.removeprefix("model-"), _load(p)["backends"].get("llama-cpp")) for p in models
        ]
        for name, row in rows:
            if row:
                keys = ("answer_accuracy", "decline_accuracy", "false_refusal_rate", "citation_precision",
                        "first_token_p50_s", "latency_p50_s")  # fmt: skip
                out.append(f"| {name} | " + " | ".join(_fmt(row.get(k), k) for k in keys) + " |")
        out += [
            "",
            "Commands: `rag eval --backend llama-cpp --model NAME --out eval/results/model-NAME`.",
            "",
        ]
    for name, stop in (("bench-answers.md", None), ("bench-retrieval.md", "### Hybrid search profile")):
        path = RESULTS / name
        if path.exists():
            text = path.read_text()
            text = text[: text.index(stop)] if stop and stop in text else text
            body = [line for line in text.splitlines() if not line.startswith("# ")]
            out += [
                "### "
                + (
                    "Answer latency, cold starts, memory"
                    if "answers" in name
                    else "Retrieval speed and scale"
                ),
                "",
            ]
            out += [line.replace("## ", "#### ", 1) if line.startswith("## ") else line for line in body]
            out += ["", f"Full report: [eval/results/{name}](eval/results/{name}).", ""]
    return "\n".join(out).rstrip() + "\n"


def update(readme: Path = ROOT / "README.md") -> None:
    text = readme.read_text()
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{readme} has no {START} … {END} block")
    readme.write_text(pattern.sub(lambda _: f"{START}\n{section()}{END}", text))


if __name__ == "__main__":
    update()
