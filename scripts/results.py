"""Write the README's results table and docs/results.md from the saved runs.

``python scripts/results.py`` reads ``eval/results/<set>/results.json`` (``rag eval``), the
ablation runs ``eval/results/ablation-<set>/results.json``, the calibrator file and the
benchmark reports ``eval/results/*.md``, then

* replaces the block between ``<!-- RESULTS-START -->`` and ``<!-- RESULTS-END -->`` in
  README.md with one table (every set, every backend, the naive baseline);
* writes docs/results.md with the full tables, the ablations and the benchmarks.

Every number in both comes from those files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "eval" / "results"
START, END = "<!-- RESULTS-START -->", "<!-- RESULTS-END -->"
WHOLE_START, WHOLE_END = "<!-- WHOLE-START -->", "<!-- WHOLE-END -->"
WHOLE_TYPES = ("summary", "key-points", "people", "list", "why")
SETS = (
    ("dev", "the article, dev set", "eval/qa.jsonl", "written for this article; rules and thresholds were "
     "chosen on it"),
    ("news", "4 news articles (news-open)", "eval/news-open/qa.jsonl", "Wikinews and NASA news with "
     "quotes, attribution, follow-ups and near-miss unanswerables; no rule or threshold fitted on them"),
    ("heldout", "the article, held-out set", "eval/heldout.jsonl", "written separately; run once for "
     "this report, never for tuning"),
    ("squad2", "8 other articles (squad2-open)", "eval/squad2-open/qa-200.jsonl", "SQuAD 2.0 questions "
     "by crowd workers, half unanswerable; calibrators are fitted on qa-train.jsonl, never on these"),
)  # fmt: skip
HEADLINE = (
    ("answer_accuracy", "accuracy"),
    ("f1", "token F1"),
    ("decline_accuracy", "declines"),
    ("false_refusal_rate", "false refusals"),
    ("citation_precision", "citation precision"),
    ("first_token_p50_s", "first token p50"),
    ("latency_p50_s", "answer p50"),
)
LABELS = {
    "llama-cpp": "local model (default)",
    "extractive": "extractive",
    "llama-cpp (naive RAG)": "naive RAG, same model",
}


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text("utf-8")) if path.is_file() else None


def _fmt(value, key: str) -> str:
    if value is None:
        return "n/a"
    if key.endswith("_s"):
        return f"{value:.2f} s" if value >= 0.1 else f"{value * 1000:.0f} ms"
    return f"{value:.2f}"


def headline_table() -> list[str]:
    """One row per set and backend: the README's table."""
    lines = ["| questions | backend | " + " | ".join(label for _, label in HEADLINE) + " |",
             "|---|---|" + "---|" * len(HEADLINE)]  # fmt: skip
    for folder, title, _, _ in SETS:
        results = _load(RESULTS / folder / "results.json")
        if not results:
            continue
        n = results["run"]["items"]
        for name, row in results["backends"].items():
            cells = " | ".join(_fmt(row.get(key), key) for key, _ in HEADLINE)
            lines.append(f"| {title} ({n}) | {LABELS.get(name, name)} | {cells} |")
    return lines


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.1f}×" if a is not None and b else "n/a"


def whole_table() -> list[str]:
    """Whole-article requests (``eval/whole/qa.jsonl``): key-point recall, refusals, citations,
    length kept, and a summary's time against a single-fact question's in the same run."""
    results = _load(RESULTS / "whole" / "results.json")
    if not results:
        return []
    run = results["run"]
    lines = [f"Whole-article requests (`eval/whole/qa.jsonl`, {run['items']} items: summaries, key points, "
             "who is quoted, lists, why/how, and single-fact controls), commit "
             f"{run.get('git_commit')}:", "",
             "| backend | key-point recall | " + " | ".join(WHOLE_TYPES) + " | refusals | citation precision "
             "| length kept | summary first text / fact first token | summary / fact answer |",
             "|---|---|" + "---|" * len(WHOLE_TYPES) + "---|---|---|---|---|"]  # fmt: skip
    for name, row in results["backends"].items():
        types = row.get("per_type", {})
        by_type = " | ".join(_fmt((types.get(t) or {}).get("key_point_recall"), "") for t in WHOLE_TYPES)
        summary, fact = types.get("summary") or {}, types.get("factoid") or {}
        first = _ratio(summary.get("first_token_p50_s"), fact.get("first_token_p50_s"))
        total = _ratio(summary.get("latency_p50_s"), fact.get("latency_p50_s"))
        keys = ("key_point_recall", "false_refusal_rate", "citation_precision", "length_kept")
        recall, *rest = (_fmt(row.get(key), "") for key in keys)
        cells = " | ".join(rest)
        lines.append(f"| {LABELS.get(name, name)} | {recall} | {by_type} | {cells} | {first} | {total} |")
    return lines


def full_tables() -> list[str]:
    out = []
    for folder, title, dataset, how in SETS:
        results = _load(RESULTS / folder / "results.json")
        if not results:
            continue
        run = results["run"]
        load = (run.get("host") or {}).get("load_before", ["?"])[0]
        out += [f"## {title[0].upper() + title[1:]}", "", f"`{dataset}`, {run['items']} items: {how}.", ""]
        out += [f"Run: commit {run.get('git_commit')}, {run.get('created')}, load average {load} at the "
                f"start; report: [eval/results/{folder}/report.md](../eval/results/{folder}/report.md).", ""]
        report = (RESULTS / folder / "report.md").read_text("utf-8")
        summary = report.split("## Summary", 1)[1].split("\n\n", 2)[1] if "## Summary" in report else ""
        out += [summary, ""]
        for section in ("## By article", "## Retrieval only"):
            if section in report:
                body = report.split(section, 1)[1].split("\n## ", 1)[0].strip()
                out += [f"#{section}", "", body, ""]
    return out


def ablation_tables() -> list[str]:
    out = []
    for folder, title, _, _ in SETS:
        report_path = RESULTS / f"ablation-{folder}" / "report.md"
        if not report_path.is_file():
            continue
        report = report_path.read_text("utf-8")
        marker = "## Ablation: one check switched off per row"
        if marker in report:
            body = report.split(marker, 1)[1].split("\n## ", 1)[0].strip()
            commit = re.search(r"Code: commit (\w+)", report)
            code = [f"Code at commit `{commit.group(1)}`.", ""] if commit else []
            out += [f"### Ablation on {title}", "", *code, body, ""]
    return out


def benchmarks() -> list[str]:
    out = []
    names = ("conversation.md", "bench-repack.md", "bench-answers.md", "bench-api.md", "bench-retrieval.md")
    for name in names:
        path = RESULTS / name
        if path.is_file():
            body = [line.replace("# ", "### ", 1) if line.startswith("# ") else line
                    for line in path.read_text("utf-8").splitlines()]  # fmt: skip
            out += [*body, ""]
    return out


# What each set is and what was fitted on it (moved here from the README's front page).
SETS_USED = [
    '- **the article, dev set** (`eval/qa.jsonl`): written for this article; the pipeline was',
    "  developed on it and the calibrator's threshold must keep its false refusals within 5%;",
    '- **4 news articles** (`eval/news-open/qa.jsonl`, Wikinews and NASA): quotes, attribution,',
    '  two-paragraph answers, numbers, near-miss unanswerables and follow-ups; the answer path is',
    '  judged on it and the dev set first, and no rule or threshold is fitted on it',
    '  ([news-answers.md](news-answers.md));',
    '- **whole-article requests** (`eval/whole/qa.jsonl`, its own table below):',
    '  summaries, key points, who is quoted, lists and why/how, scored by key-point recall;',
    '- **the article, held-out set** (`eval/heldout.jsonl`): written separately, run once for this',
    '  table; no test, rule or threshold reads it;',
    '- **8 other articles** (`eval/squad2-open/qa-200.jsonl`): SQuAD 2.0 questions written by crowd',
    '  workers, half of them unanswerable on purpose; the calibrator is fitted on the other 777',
    '  questions (`qa-train.jsonl`), never on these.',
]


def results_page() -> str:
    out = ["# Results", "", "Generated by `python scripts/results.py` from `eval/results/`; every number "
           "below comes from a file there. Accuracy is lenient (a gold answer contained, or token F1 ≥ 0.5); "
           "declines are over unanswerable and injection questions.", ""]  # fmt: skip
    out += ["## All sets", "", *headline_table(), ""]
    out += ["## How each set was used", "", *SETS_USED, ""]
    whole = whole_table()
    if whole:
        out += ["## Whole-article requests", "", *whole, "",
                "Report: [eval/results/whole/report.md](../eval/results/whole/report.md).", ""]
    out += full_tables()
    ablations = ablation_tables()
    if ablations:
        out += ["## Ablations", "", "Each row: the whole pipeline with one check switched off "
                "(`rag eval --ablation`; for a language model add `--replay DIR`, which reuses its replies, "
                "so latency is not measured). Only the backends listed were run.", "",
                *ablations]  # fmt: skip
    calibration = ROOT / "rag" / "calibration.json"
    if calibration.is_file():
        data = json.loads(calibration.read_text("utf-8"))
        out += ["## Calibrators", ""]
        for name, c in data.get("calibrators", {}).items():
            notes = c.get("notes", {})
            weights = ", ".join(f"{n} {w:+.2f}" for n, w in zip(c["names"], c["weights"], strict=True))
            out += [f"- **{name}**: fitted on {notes.get('items')} answered items of "
                    f"{', '.join(notes.get('trained_on', []))} ({notes.get('right')} right); AUROC "
                    f"{notes.get('auroc')} (cross-validated {notes.get('auroc_cv')}); weights on "
                    f"standardised signals: {weights}; threshold {c['threshold']:.2f} "
                    f"({notes.get('threshold_rule', '')})."]
            for run, m in (notes.get("at_threshold") or {}).items():
                out += [f"  - at the threshold on {run}: accuracy {m['accuracy']:.3f}, declines "
                        f"{m['declines']:.3f}, false refusals {m['false_refusals']:.3f}"]
        out += ["", "![coverage and accuracy of the llm calibrator on qa-train](calibration-llm.png)", ""]
    bench = benchmarks()
    out += ["## Speed", "", "### A conversation with the default backend", "", *speed_lines(), "", *bench]
    return "\n".join(out).rstrip() + "\n"


def speed_lines() -> list[str]:
    """A conversation's speed list (docs/results.md), from ``python -m benchmarks.conversation``."""
    report = _load(RESULTS / "conversation.json")
    if not report:
        return ["No conversation benchmark in this run (`python -m benchmarks.conversation --out "
                "eval/results` writes it); the answer latencies of each set are in the table above."]
    lib, switch, new = report.get("library", {}), report.get("switch", {}), report.get("new", {})
    load = report.get("load_before", ["?"])[0]
    command = report.get("command", "python -m benchmarks.conversation --out eval/results")
    out = [f"`{command}` (default backend, 2 cores, load "
           f"{load:.2f} before):", ""]  # fmt: skip
    if "first_answer_s" in lib:
        out += [
            f"- library, first answer after `from_corpus`, model load included, no `warm()`: "
            f"{lib['first_answer_s']:.1f} s"
            + (f" (`from_corpus` {lib['from_corpus_s']:.1f} s, then the first question "
               f"{lib['first_question_s']:.1f} s)" if "first_question_s" in lib else ""),
            f"- plain question p50 {lib['plain_p50_s']:.1f} s; follow-up p50 {lib['follow_up_p50_s']:.1f} s "
            f"({lib['follow_up_ratio']:.2f}× a plain question, {lib['follow_up_tokens_evaluated_p50']:.0f} "
            "prompt tokens evaluated: the article is not read again)",
        ]
    if "switch_cost_s" in switch:
        cost = switch["switch_cost_s"]
        out.append(f"- switching between two read articles: {cost:+.2f} s over staying on one")
    if "searchable_s" in new:
        out.append(
            f"- a new {new['article_words']}-word article: searchable after {new['searchable_s']:.1f} s; "
            f"first answer (quoting its best sentences, while the model reads it) after "
            f"{new['first_answer_s']:.1f} s; read by the model after {new['read_s']:.1f} s"
        )
    sentences = report.get("new-sentences", {})
    if "first_answer_s" in sentences:
        out.append(
            f"- the same with `while_reading=\"sentences\"` (the model writes from the best sentences "
            f"between its reading steps): first answer after {sentences['first_answer_s']:.1f} s, read "
            f"after {sentences['read_s']:.1f} s"
        )
    return out


def _fill(text: str, start: str, end: str, lines: list[str]) -> str:
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no {start} … {end} block")
    block = "\n".join(lines)
    return pattern.sub(lambda _: f"{start}\n{block}\n{end}", text)


def update(readme: Path = ROOT / "README.md", page: Path = ROOT / "docs" / "results.md") -> None:
    whole = whole_table()
    readme.write_text(_fill(readme.read_text("utf-8"), START, END, headline_table()), "utf-8")
    design = ROOT / "docs" / "whole-article.md"
    if whole and design.is_file() and WHOLE_START in design.read_text("utf-8"):
        design.write_text(_fill(design.read_text("utf-8"), WHOLE_START, WHOLE_END, whole), "utf-8")
    page.write_text(results_page(), "utf-8")


if __name__ == "__main__":
    update()
