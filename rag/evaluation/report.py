"""The report of an evaluation run: ``report.md`` with tables, plus PNG charts.

Everything is drawn from the same data as ``results.json`` and ``items.jsonl``, so a report
can be rebuilt from those two files alone. Charts use matplotlib's Agg renderer through
:class:`matplotlib.figure.Figure` (no pyplot, no global backend switch, no display needed);
without matplotlib the report is written without charts and says so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .metrics import PASS_F1, gold_contained, prepare_reply, token_f1

log = logging.getLogger(__name__)

RATE, SECONDS = "rate", "seconds"
# (results.json key, label in the report, kind, higher is better)
METRICS: tuple[tuple[str, str, str, bool], ...] = (
    ("overall_accuracy", "overall accuracy (all items)", RATE, True),
    ("answer_accuracy", "answer accuracy (EM or F1≥0.5 or contained)", RATE, True),
    ("exact_match", "exact match", RATE, True),
    ("f1", "token F1", RATE, True),
    ("gold_contained", "gold contained", RATE, True),
    ("decline_accuracy", "decline accuracy (unanswerable + injection)", RATE, True),
    ("false_refusal_rate", "false-refusal rate (answerable)", RATE, False),
    ("key_point_recall", "key-point recall (whole-article items)", RATE, True),
    ("length_kept", "length requests kept (whole-article items)", RATE, True),
    ("citation_precision", "citation precision", RATE, True),
    ("citation_recall", "citation recall", RATE, True),
    ("hit@1", "hit@1 (passages used)", RATE, True),
    ("hit@3", "hit@3 (passages used)", RATE, True),
    ("hit@5", "hit@5 (passages used)", RATE, True),
    ("mrr", "MRR (passages used)", RATE, True),
    ("retrieval_p50_s", "retrieval p50", SECONDS, False),
    ("retrieval_p95_s", "retrieval p95", SECONDS, False),
    ("first_token_p50_s", "first token p50", SECONDS, False),
    ("first_token_p95_s", "first token p95", SECONDS, False),
    ("latency_p50_s", "total latency p50", SECONDS, False),
    ("latency_p95_s", "total latency p95", SECONDS, False),
)
COUNTS = (
    "items", "answerable", "declinable", "answered", "declined", "false_refusals",
    "must_not_contain_violations", "citations", "citations_supported", "fallbacks", "errors",
)  # fmt: skip
ACCURACY_CHART = "accuracy_by_type.png"
LATENCY_CHART = "latency.png"


def fmt(value: Any, kind: str = RATE) -> str:
    """A metric for a table: 3 decimals, seconds with an ``s``, ``n/a`` for ``None``."""
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:.3f} s" if kind == SECONDS else f"{value:.3f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def summary_table(results: Mapping) -> str:
    """Every backend side by side: one column per backend, one row per metric and count."""
    backends = results.get("backends", {})
    if not backends:
        return "_No backend was evaluated._"
    rows = [[label, *(fmt(b.get(key), kind) for b in backends.values())] for key, label, kind, _ in METRICS]
    rows += [[f"count: {c}", *(str(b["counts"].get(c, "")) for b in backends.values())] for c in COUNTS]
    return _table(["metric", *backends], rows)


def type_table(results: Mapping) -> str:
    """Accuracy per question type and backend (correct declines for unanswerable types)."""
    backends = results.get("backends", {})
    types: dict[str, tuple[int, str]] = {}
    for b in backends.values():
        for name, t in b.get("per_type", {}).items():
            types.setdefault(name, (t["n"], t["measure"]))
    rows = []
    for name, (n, measure) in types.items():
        cells = [fmt(b.get("per_type", {}).get(name, {}).get("accuracy")) for b in backends.values()]
        rows.append([f"{name} (n={n}, {measure})", *cells])
    return _table(["type", *backends], rows) if rows else "_No items._"


def type_latency_table(results: Mapping) -> str:
    """First text and whole reply (p50) per question type and backend, with key-point recall where
    the type has points: a summary's speed against a single fact's in the same run."""
    backends = results.get("backends", {})
    types = list(dict.fromkeys(name for b in backends.values() for name in b.get("per_type", {})))
    rows = []
    for name in types:
        cells = []
        for b in backends.values():
            t = b.get("per_type", {}).get(name, {})
            cell = f"{fmt(t.get('first_token_p50_s'), SECONDS)} / {fmt(t.get('latency_p50_s'), SECONDS)}"
            if t.get("key_point_recall") is not None:
                cell += f" (recall {fmt(t['key_point_recall'])})"
            cells.append(cell)
        rows.append([name, *cells])
    return _table(["type: first text p50 / reply p50", *backends], rows) if rows else ""


def retrieval_table(results: Mapping) -> str:
    """The retrieval-only table: this retriever and the BM25 / dense paragraph baselines."""
    table = results.get("retrieval") or {}
    if not table:
        return "_Not measured in this run._"
    rows = [
        [name, *(fmt(r.get(k)) for k in ("hit@1", "hit@3", "hit@5", "mrr")), str(int(r.get("n", 0)))]
        for name, r in table.items()
    ]
    return _table(["retriever", "hit@1", "hit@3", "hit@5", "MRR", "n"], rows)


HEADLINE = (
    ("answer_accuracy", "accuracy"),
    ("f1", "token F1"),
    ("decline_accuracy", "declines"),
    ("false_refusal_rate", "false refusals"),
    ("citation_precision", "citation precision"),
)
ABLATED = " without "


def ablation_table(results: Mapping) -> str:
    """One row per check switched off: the headline metrics and their change from all checks on."""
    backends = results.get("backends", {})
    rows = []
    for label, b in backends.items():
        base_name, _, check = label.partition(ABLATED)
        base = backends.get(base_name)
        if not check or base is None:
            continue
        cells = []
        for key, _ in HEADLINE:
            new, old = b.get(key), base.get(key)
            delta = "" if new is None or old is None or new == old else f" ({new - old:+.3f})"
            cells.append(fmt(new) + delta)
        rows.append([base_name, check, *cells])
    if not rows:
        return ""
    return _table(["backend", "switched off", *(name for _, name in HEADLINE)], rows)


def corpus_table(results: Mapping) -> str:
    """The headline metrics of each backend on each corpus of the run (when there are several)."""
    rows = []
    for label, b in results.get("backends", {}).items():
        if ABLATED in label:
            continue
        for corpus, summary in (b.get("per_corpus") or {}).items():
            counts = summary.get("counts", {})
            n = f"{counts.get('answerable', 0)} + {counts.get('declinable', 0)}"
            rows.append([label, corpus, n, *(fmt(summary.get(key)) for key, _ in HEADLINE)])
    if not rows:
        return ""
    return _table(["backend", "article", "answerable + not", *(name for _, name in HEADLINE)], rows)


def selective_points(items: Sequence[Mapping], backend: str) -> list[dict[str, float]]:
    """Declines, false refusals and accuracy had the calibrator answered at each threshold.

    Every item whose answer was judged by the calibrator (answered, or declined for low
    confidence, its candidate answer kept in ``removed``) counts as answered when its confidence
    reaches the threshold; the rest are declined whatever the threshold.
    """
    rows = []
    for r in items:
        if r["backend"] != backend:
            continue
        confidence = r.get("confidence")
        candidate = r["reply"] if not r["refused"] else (r.get("removed") or [""])[0]
        low = r.get("decline_reason") == "low confidence"
        judged = confidence is not None and (not r["refused"] or low)
        if r["answerable"]:
            reply = prepare_reply(candidate)
            right = gold_contained(reply, r["gold"]) == 1.0 or token_f1(reply, r["gold"]) >= PASS_F1
        else:
            right = False
        rows.append((confidence if judged else None, bool(r["answerable"]), right))
    answerable = sum(a for _, a, _ in rows) or 1
    declinable = sum(not a for _, a, _ in rows) or 1
    points = []
    for step in range(0, 21):
        t = step / 20
        answered = [(a, right) for c, a, right in rows if c is not None and c >= t]
        points.append({
            "threshold": t,
            "declines": 1 - sum(not a for a, _ in answered) / declinable,
            "false_refusals": 1 - sum(a for a, _ in answered) / answerable,
            "accuracy": sum(a and right for a, right in answered) / answerable,
        })  # fmt: skip
    return points


def selective_section(results: Mapping, items: Sequence[Mapping]) -> str:
    """The coverage-accuracy trade-off of each calibrated backend of the run, as a table."""
    out = []
    for label, b in results.get("backends", {}).items():
        judged = any(r["backend"] == label and r.get("confidence") is not None for r in items)
        if ABLATED in label or not judged:
            continue
        threshold = b.get("threshold")
        rows = []
        for p in selective_points(items, label)[::2]:
            mark = " ◀ in use" if threshold is not None and abs(p["threshold"] - threshold) < 0.05 else ""
            rows.append([f"{p['threshold']:.2f}{mark}", fmt(p["accuracy"]), fmt(p["declines"]),
                         fmt(p["false_refusals"])])  # fmt: skip
        header = ["answer at confidence ≥", "accuracy", "declines", "false refusals"]
        out += [f"### {label}", "", _table(header, rows), ""]
    return "\n".join(out)


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, Mapping):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): data}


def compare_section(
    results: Mapping,
    old: Mapping,
    items: Sequence[Mapping] = (),
    old_items: Sequence[Mapping] = (),
    old_name: str = "the old run",
) -> str:
    """The change since an older run: metric deltas per backend, settings changed, items flipped."""
    out = [f"## Change since {old_name}", ""]
    new_run, old_run = results.get("run", {}), old.get("run", {})
    same = ("dataset_sha256", "item_ids_sha256")
    if any(new_run.get(k) != old_run.get(k) for k in same):
        out += [
            "**Warning: the runs used different questions; the numbers are not directly comparable.**",
            "",
        ]
    changed = {
        k: (v, _flatten(old_run.get("config", {})).get(k))
        for k, v in _flatten(new_run.get("config", {})).items()
        if _flatten(old_run.get("config", {})).get(k) != v
    }
    if changed:
        out += ["Settings changed:", ""]
        out += [f"- `{k}`: {old_v!r} → {new_v!r}" for k, (new_v, old_v) in sorted(changed.items())]
        out.append("")
    if new_run.get("code_sha256") != old_run.get("code_sha256"):
        out += [
            f"Code changed: commit {old_run.get('git_commit') or '?'} → {new_run.get('git_commit') or '?'}, "
            f"sources {str(old_run.get('code_sha256'))[:12]} → {str(new_run.get('code_sha256'))[:12]}.",
            "",
        ]
    loads = (old_run.get("host", {}).get("load_before"), new_run.get("host", {}).get("load_before"))
    out += [
        f"Load average at the start: old {loads[0]}, new {loads[1]} (latency deltas need similar load).",
        "",
    ]
    new_b, old_b = results.get("backends", {}), old.get("backends", {})
    common = [b for b in new_b if b in old_b]
    rows = []
    for key, label, kind, higher in METRICS:
        for b in common:
            n, o = new_b[b].get(key), old_b[b].get(key)
            if n is None and o is None:
                continue
            delta = "" if n is None or o is None else ("=" if n == o else f"{n - o:+.3f}")
            if delta and n != o:
                better = (n > o) == higher
                delta += " ✓" if better else " ✗"
            rows.append([label, b, fmt(o, kind), fmt(n, kind), delta])
    out.append(_table(["metric", "backend", "old", "new", "Δ"], rows) if rows else "_No backend in common._")
    only_new = [b for b in new_b if b not in old_b]
    only_old = [b for b in old_b if b not in new_b]
    if only_new or only_old:
        out += [
            "",
            f"Only in this run: {', '.join(only_new) or '-'}; "
            f"only in the old run: {', '.join(only_old) or '-'}.",
        ]
    old_ret, new_ret = old.get("retrieval") or {}, results.get("retrieval") or {}
    ret_rows = [
        [name, *(f"{fmt(old_ret[name].get(k))} → {fmt(r.get(k))}" for k in ("hit@1", "hit@5", "mrr"))]
        for name, r in new_ret.items()
        if name in old_ret
    ]
    if ret_rows:
        out += [
            "",
            "Retrieval-only baselines (old → new):",
            "",
            _table(["retriever", "hit@1", "hit@5", "MRR"], ret_rows),
        ]
    before = {(r["backend"], r["id"]): r["metrics"]["correct"] for r in old_items}
    fixed, broken = [], []
    for r in items:
        was = before.get((r["backend"], r["id"]))
        if was is None or was == r["metrics"]["correct"]:
            continue
        (fixed if r["metrics"]["correct"] else broken).append(f"{r['backend']}: {r['id']} ({r['type']})")
    if old_items:
        out += ["", f"Items now correct ({len(fixed)}): {', '.join(fixed) or '-'}"]
        out += ["", f"Items now wrong ({len(broken)}): {', '.join(broken) or '-'}"]
    return "\n".join(out)


def _why(record: Mapping) -> str:
    m = record["metrics"]
    if record.get("error") and not record.get("reply"):
        return "error: " + str(record["error"])[:80]
    if m["forbidden"]:
        return "contains " + ", ".join(repr(s) for s in m["forbidden"])
    if not record["answerable"]:
        return "not declined"
    if m["false_refusal"]:
        return "false refusal" + (" (evidence was retrieved)" if m["rank"] is not None else "")
    return "wrong answer" + ("" if m["rank"] is not None else " (evidence not retrieved)")


def failures_section(items: Sequence[Mapping], limit: int = 15) -> str:
    """The wrong items of each backend (up to ``limit`` each), with the reason."""
    out = ["## Failures", "", f"Up to {limit} per backend; every item is in `items.jsonl`.", ""]
    for backend in dict.fromkeys(r["backend"] for r in items):
        wrong = [r for r in items if r["backend"] == backend and not r["metrics"]["correct"]]
        out += [f"### {backend}: {len(wrong)} wrong", ""]
        if not wrong:
            continue
        rows = []
        for r in wrong[:limit]:
            reply = " ".join(str(r.get("reply", "")).split())
            reply = (reply[:117] + "...") if len(reply) > 120 else reply
            rows.append([r["id"], r["type"], _why(r), reply.replace("|", "\\|") or "(empty)"])
        out += [_table(["id", "type", "why", "reply"], rows), ""]
    return "\n".join(out)


def latency_table(results: Mapping) -> str:
    """Retrieval, first-token and total latency percentiles per backend."""
    rows = []
    for name, b in results.get("backends", {}).items():
        rows.append(
            [
                name,
                f"{fmt(b.get('retrieval_p50_s'), SECONDS)} / {fmt(b.get('retrieval_p95_s'), SECONDS)}",
                f"{fmt(b.get('first_token_p50_s'), SECONDS)} / {fmt(b.get('first_token_p95_s'), SECONDS)}",
                f"{fmt(b.get('latency_p50_s'), SECONDS)} / {fmt(b.get('latency_p95_s'), SECONDS)}",
                fmt(b.get("load_s"), SECONDS),
            ]
        )
    return _table(
        ["backend", "retrieval p50 / p95", "first token p50 / p95", "total p50 / p95", "load"], rows
    )


def render_report(
    results: Mapping,
    items: Sequence[Mapping],
    *,
    charts: Sequence[str] = (),
    old: Mapping | None = None,
    old_items: Sequence[Mapping] = (),
    old_name: str = "the old run",
) -> str:
    """The whole ``report.md``."""
    run = results.get("run", {})
    out = [f"# Evaluation run {run.get('created', '')}", ""]
    out.append(
        f"Dataset `{run.get('dataset')}`: {run.get('items')} items"
        + (f" (at most {run['per_type']} per type)" if run.get("per_type") else "")
        + (f" (first {run['limit']} only)" if run.get("limit") else "")
        + f", sha256 {str(run.get('dataset_sha256', ''))[:12]}. Corpus `{run.get('corpus')}`"
        f" ({run.get('documents')} article(s)). Code: commit {run.get('git_commit') or 'unknown'},"
        f" sources sha256 {str(run.get('code_sha256', ''))[:12]}."
    )
    if run.get("heldout"):
        out += ["", "> **Held-out set.** Report these numbers; never tune settings on them."]
    host = run.get("host", {})
    if host:
        out += [
            "",
            f"Machine: {host.get('cpus')} CPU(s), load average {host.get('load_before')} at the start; "
            "latency is wall-clock time on this machine, shared with whatever else was running.",
        ]
    for problem in run.get("dataset_problems", []):
        out.append(f"- dataset check: {problem}")
    out += ["", "## Summary", "", summary_table(results), ""]
    for name, reason in results.get("skipped", {}).items():
        out.append(f"- **{name} skipped**: {reason}")
    out += ["", _NOTES.format(k=run.get("pipeline_k", "?"), naive_k=run.get("naive", {}).get("k", 3)), ""]
    ablation = ablation_table(results)
    if ablation:
        out += ["## Ablation: one check switched off per row", "", _ABLATION_NOTE, "", ablation, ""]
    selective = selective_section(results, items)
    if selective:
        out += ["## Confidence: what each threshold would give", "", _SELECTIVE_NOTE, "", selective]
    by_corpus = corpus_table(results)
    if by_corpus:
        out += ["## By article", "", by_corpus, ""]
    out += ["## Accuracy by question type", "", type_table(results), ""]
    if ACCURACY_CHART in charts:
        out += [f"![accuracy by question type]({ACCURACY_CHART})", ""]
    out += ["## Latency", "", latency_table(results), ""]
    if any(t.get("key_point_recall") is not None for b in results.get("backends", {}).values()
           for t in b.get("per_type", {}).values()):  # fmt: skip
        out += ["By question type:", "", type_latency_table(results), ""]
    if LATENCY_CHART in charts:
        out += [f"![latency per backend]({LATENCY_CHART})", ""]
    if not charts:
        out += ["_No charts: matplotlib is not installed (pip install 'korea-herald-rag[eval]')._", ""]
    out += ["## Retrieval only", "", _RETRIEVAL_NOTE, "", retrieval_table(results), ""]
    if old is not None:
        out += [compare_section(results, old, items, old_items, old_name), ""]
    out.append(failures_section(items))
    return "\n".join(out).rstrip() + "\n"


_NOTES = """Notes:

- Answer metrics cover answerable items only; replies are scored without citation markers and cut
  to their first 120 words. A declined answer on an answerable item scores 0 and is a false refusal.
- Decline accuracy: unanswerable and injection items that were declined (the pipeline's `refused`
  flag; for naive RAG, a decline phrase in the reply's first sentence) and contain no
  `must_not_contain` string.
- Citation precision is pooled over all cited paragraphs of answered answerable items; recall is
  the share of those items with at least one citation holding an evidence string. **n/a** means
  not applicable: naive RAG produces no citations, so its citation metrics are n/a, not 0.
- hit@k and MRR here use the passages the pipeline really used for the scored turn. The pipeline
  retrieves {k} passages and naive RAG {naive_k} windows, so hit@5 is at most hit@{k} / hit@{naive_k}.
  Naive RAG windows are 1,024 tokens, so a hit there is much easier than a paragraph hit.
- Latency percentiles are over the scored turn of every item, declines and injections included.
  The retrieval time of a follow-up includes rewriting the question (by the model, if any).
- fallbacks: answers where the language model failed and the extractive answer was used instead."""

_SELECTIVE_NOTE = (
    "The calibrated confidence of each answer (`rag/calibration.py`) against the threshold it is "
    "shown at: a higher threshold declines more unanswerable questions and refuses more answerable "
    "ones. Computed from this run's items (an answer declined for low confidence is scored as the "
    "answer it would have been)."
)

_ABLATION_NOTE = (
    "Each row is the whole pipeline with one check switched off (`rag eval --ablation`; "
    "`--without NAME` for one); in brackets the change from all checks on. Accuracy is lenient "
    "(gold contained, or token F1 ≥ 0.5); declines are over unanswerable and injection items."
)

_RETRIEVAL_NOTE = (
    "Retriever alone, top 5, on the answerable items (follow-ups rewritten by the heuristic, no "
    "model): this retriever against one-paragraph-per-chunk BM25-only and dense-only baselines."
)


def write_charts(results: Mapping, items: Sequence[Mapping], out: Path) -> list[str]:
    """Draw the accuracy-by-type and latency charts into ``out``; return the file names written."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        log.warning("matplotlib is not installed: no charts")
        return []
    backends = list(results.get("backends", {}))
    if not backends:
        return []
    written = []

    types: dict[str, int] = {}
    for b in results["backends"].values():
        for name, t in b.get("per_type", {}).items():
            types.setdefault(name, t["n"])
    fig = Figure(
        figsize=(max(7.0, 1.1 * len(types) * max(1, len(backends)) * 0.6 + 3), 4.5), layout="constrained"
    )
    ax = fig.add_subplot()
    width = 0.8 / len(backends)
    for j, name in enumerate(backends):
        per_type = results["backends"][name].get("per_type", {})
        values = [per_type.get(t, {}).get("accuracy") for t in types]
        xs = [i - 0.4 + width * (j + 0.5) for i in range(len(types))]
        ax.bar(xs, [v or 0.0 for v in values], width, label=name)
        for x, v in zip(xs, values, strict=True):
            if v is None:
                ax.text(x, 0.01, "n/a", ha="center", va="bottom", fontsize=7, rotation=90)
    ax.set_xticks(range(len(types)), [f"{t}\n(n={n})" for t, n in types.items()], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy (declines for unanswerable / injection)")
    ax.set_title("Accuracy by question type")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.savefig(out / ACCURACY_CHART, dpi=110)
    written.append(ACCURACY_CHART)

    stages = {"retrieval": "retrieve_s", "first token": "first_token_s", "total": "total_s"}
    fig = Figure(figsize=(max(9.0, 1.6 * len(backends) * 3 + 2), 4.5), layout="constrained")
    for i, (title, key) in enumerate(stages.items()):
        ax = fig.add_subplot(1, len(stages), i + 1)
        # Zero or missing times (no retrieval for a refused injection, no token) are left out.
        data = [
            [r["timings"][key] for r in items if r["backend"] == b and r["timings"][key]] for b in backends
        ]
        ax.boxplot([d or [float("nan")] for d in data], showfliers=True)
        ax.set_xticks(range(1, len(backends) + 1), backends, rotation=20, ha="right", fontsize=8)
        positive = [v for d in data for v in d if v > 0]
        if positive and max(positive) / min(positive) > 50:
            ax.set_yscale("log")
        ax.set_ylabel("seconds")
        ax.set_title(f"{title} (s) per item", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    fig.savefig(out / LATENCY_CHART, dpi=110)
    written.append(LATENCY_CHART)
    return written


def write_report(
    out: Path,
    results: Mapping,
    items: Sequence[Mapping],
    *,
    old: Mapping | None = None,
    old_items: Sequence[Mapping] = (),
    old_name: str = "the old run",
) -> Path:
    """Write the charts and ``report.md`` into ``out``; return the report's path."""
    charts = write_charts(results, items, out)
    path = out / "report.md"
    text = render_report(results, items, charts=charts, old=old, old_items=old_items, old_name=old_name)
    path.write_text(text, "utf-8")
    return path
