"""``rag eval``: retrieval metrics (``--retrieval``) and, per backend, answer metrics.

``rag eval --retrieval`` prints hit@k and MRR of the retriever and of the BM25-only and
dense-only paragraph baselines. Without it, every item of the dataset is put to each backend
through :class:`~rag.assistant.Assistant` (follow-ups as real multi-turn conversations; only
the last reply is scored) and, with ``--naive``, to the naive-RAG baseline of each language
model backend. Output folder (default ``runs/<timestamp>`` beside the dataset): ``results.json``,
``items.jsonl``, ``report.md`` and PNG charts. Metrics: :mod:`rag.evaluation.metrics`;
dataset format: docs/evaluation.md.

Flags and their environment defaults come from :mod:`rag.settings` (docs/configuration.md); the
command's own are in :mod:`rag.evaluation.cli_args`, a run's provenance in
:mod:`rag.evaluation.provenance`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import settings
from ..assistant import CHECK_NAMES, Assistant, AssistantConfig
from ..backends import BackendError, backend_names, make_backend
from ..backends.registry import EXTRACTIVE
from ..calibration import load_calibrators
from ..chunking import ChunkingConfig
from ..retriever import Retriever, RetrieverConfig
from ..types import Answer, ChatMessage
from . import report
from .cli_args import assistant_config, eval_parser
from .dataset import TYPES, WHOLE_TYPES, EvalItem, load_dataset
from .metrics import ItemScore, Summary, score_item, summarize, supports
from .naive import NAIVE_SUFFIX, NaiveConfig, NaiveRAG
from .provenance import run_metadata
from .replay import ReplayBackend
from .retrieval import evaluate_reranked, evaluate_retriever, holds

log = logging.getLogger(__name__)

DEFAULT_BACKENDS = ("extractive",)

Ask = Callable[[str, list[dict[str, str]]], Any]  # (question, history) -> Answer
CORPORA = "corpora"  # folder beside a dataset holding the corpora its items name
# The checks the extractive backend goes through (the others act on a model's reply).
EXTRACTIVE_CHECKS = ("injection", "unknown_names", "calibrator", "who_said")


def add_parser(sub) -> None:
    """The ``rag eval`` command, run by :func:`main` (its flags: :mod:`rag.evaluation.cli_args`)."""
    eval_parser(sub).set_defaults(func=main)


# -- items ------------------------------------------------------------------------------------
def load_items(path: str | Path, limit: int | None = None, per_type: int | None = None) -> list[EvalItem]:
    """The dataset: at most ``per_type`` items of each type, then the first ``limit`` (file order kept)."""
    items = load_dataset(path)
    if per_type is not None:
        if per_type < 1:
            raise ValueError("--per-type must be at least 1")
        seen: dict[str, int] = {}
        kept = []
        for item in items:
            seen[item.type] = seen.get(item.type, 0) + 1
            if seen[item.type] <= per_type:
                kept.append(item)
        items = kept
    if limit is not None:
        if limit < 1:
            raise ValueError("--limit must be at least 1")
        items = items[:limit]
    return items


def dataset_problems(items: Sequence[EvalItem], retriever) -> list[str]:
    """What would make an item unscorable: evidence not verbatim in any paragraph, unknown types."""
    texts = []
    for doc in retriever.corpus.documents:
        texts += [p.text for p in doc.paragraphs]
        if doc.caption:
            texts.append(doc.caption)
    problems = []
    for item in items:
        for e in item.evidence:
            if not any(holds(t, [e]) for t in texts):
                problems.append(f"{item.id}: evidence not found verbatim in any paragraph: {e[:80]!r}")
        if item.type not in (*TYPES, *WHOLE_TYPES):
            known = ", ".join((*TYPES, *WHOLE_TYPES))
            problems.append(f"{item.id}: unknown type {item.type!r} (known: {known})")
        if item.type in ("unanswerable", "injection") and item.answerable:
            problems.append(f"{item.id}: type {item.type} but answerable is true")
    return problems


def corpora_problems(items: Sequence[EvalItem], retrievers: Mapping[str | None, Any]) -> list[str]:
    """:func:`dataset_problems` of each corpus's items, checked against that corpus."""
    out = []
    for name, retriever in retrievers.items():
        out += dataset_problems([i for i in items if i.corpus == name], retriever)
    return out


def converse(ask: Ask | Callable[[EvalItem], Ask], item: EvalItem) -> tuple[Any, list[Any]]:
    """Ask the earlier turns (building the history from the real replies), then the scored one.

    ``ask`` is either an :data:`Ask` or a router giving the :data:`Ask` for an item's corpus.
    """
    if isinstance(ask, Router):
        ask = ask.for_item(item)
    history: list[dict[str, str]] = []
    earlier = []
    for turn in item.history_turns:
        reply = ask(turn, list(history))
        earlier.append(reply)
        history += [{"role": "user", "content": turn}, {"role": "assistant", "content": reply.text}]
    return ask(item.question, list(history)), earlier


# -- rows -------------------------------------------------------------------------------------
class Router:
    """The :data:`Ask` of each item's corpus, made on first use (one assistant per article).

    ``make(corpus)`` builds the asker for a corpus name (``None``: the main corpus) and returns
    it with the seconds spent preparing it (priming a local model on its articles), summed in
    :attr:`prime_s`.
    """

    def __init__(self, make: Callable[[str | None], tuple[Ask, float | None]]) -> None:
        self._make = make
        self._asks: dict[str | None, Ask] = {}
        self.prime_s: float | None = None

    def for_item(self, item: EvalItem) -> Ask:
        if item.corpus not in self._asks:
            ask, seconds = self._make(item.corpus)
            self._asks[item.corpus] = ask
            if seconds is not None:
                self.prime_s = (self.prime_s or 0.0) + seconds
        return self._asks[item.corpus]


@dataclass(frozen=True)
class Row:
    """One column of the report: a label, how to ask, and whether it is the naive baseline."""

    label: str
    model: str
    ask: Ask | Router
    naive: bool = False
    load_s: float | None = None
    prime_s: float | None = None
    threshold: float | None = None  # the calibrated confidence it answers at, if any


@dataclass(frozen=True)
class RowResult:
    """A row's summary, its item scores and its items.jsonl records."""

    row: Row
    summary: Summary
    scores: tuple[ItemScore, ...]
    records: tuple[dict, ...]


def item_record(label: str, item: EvalItem, answer, earlier: Sequence, score: ItemScore) -> dict:
    """The items.jsonl line of one item under one backend."""
    return {
        "backend": label,
        "id": item.id,
        "corpus": item.corpus,
        "type": item.type,
        "answerable": item.answerable,
        "question": item.question,
        "turns": list(item.turns),
        "earlier_replies": [a.text for a in earlier],
        "query": answer.query,
        "reply": answer.text,
        "refused": answer.refused,
        "decline_reason": getattr(answer, "decline_reason", None),  # once Answer carries it
        "notes": list(getattr(answer, "notes", ())),
        "fallback": answer.fallback,
        "error": answer.error,
        "removed": list(answer.removed),
        "citations": [
            {"doc": c.doc, "paragraph": c.paragraph, "supported": supports(c, item.evidence)}
            for c in answer.citations
        ],
        "passages": [
            {"label": p.label(), "chunk": p.chunk_id, "score": round(p.score, 4)} for p in answer.passages
        ],
        "gold": list(item.answers),
        "confidence": getattr(answer, "confidence", None),
        "signals": dict(getattr(answer, "signals", {}) or {}),
        "metrics": score.as_dict(),
        "timings": {
            "retrieve_s": answer.timings.retrieve_s,
            "first_token_s": answer.timings.first_token_s,
            "total_s": answer.timings.total_s,
        },
    }


def run_row(
    row: Row,
    items: Sequence[EvalItem],
    *,
    progress: bool = True,
    on_record: Callable[[dict], None] | None = None,
) -> RowResult:
    """Put every item to one backend; an unexpected exception fails that item, not the run."""
    from tqdm import tqdm

    scores, records = [], []
    for item in tqdm(items, desc=row.label, unit="q", disable=not progress, file=sys.stderr):
        try:
            answer, earlier = converse(row.ask, item)
        except Exception as exc:  # keep a long run going; the item is recorded as an error
            log.exception("%s failed on %s", row.label, item.id)
            answer, earlier = Answer(text="", refused=False, error=f"{type(exc).__name__}: {exc}"), []
        score = score_item(item, answer, naive=row.naive)
        record = item_record(row.label, item, answer, earlier, score)
        scores.append(score)
        records.append(record)
        if on_record:
            on_record(record)
    summary = summarize(scores, citations=not row.naive)
    return RowResult(row, summary, tuple(scores), tuple(records))


# -- backends ---------------------------------------------------------------------------------
def open_backend(name: str, options: Mapping[str, Any]):
    """Build a backend and check it answers (loading a local model); return it and the seconds taken.

    Raises :class:`~rag.backends.BackendError` with the reason when it is unavailable.
    """
    if name == "openai" and not (options.get("base_url") or options.get("api_key")):  # nothing configured
        raise BackendError(
            "no server configured: set --base-url / OPENAI_BASE_URL or --api-key / OPENAI_API_KEY"
        )
    start = time.perf_counter()
    backend = make_backend(name, **options)
    try:
        "".join(backend.stream((ChatMessage("user", "Reply with the word OK."),), max_tokens=2))
    except BackendError:
        raise
    except Exception as exc:  # a broken backend must not end the run
        raise BackendError(f"{type(exc).__name__}: {exc}") from exc
    return backend, time.perf_counter() - start


def _ask(assistant) -> Ask:
    return lambda question, history: assistant.ask(question, history=history)


# -- retrieval-only table ---------------------------------------------------------------------
def open_retrievers(args: argparse.Namespace, items: Sequence[EvalItem]) -> dict[str | None, Any]:
    """One retriever per corpus the items name (``None``: the main corpus, ``--corpus``).

    A named corpus is the folder of that name under ``--corpora`` (default: ``corpora/`` beside
    the dataset). Every index goes into one cache folder, so the embedder is exported once.
    """
    names = list(dict.fromkeys(i.corpus for i in items))
    out: dict[str | None, Any] = {}
    for name in names:
        if name is None:
            out[None] = settings.open_retriever(args)
            continue
        root = Path(args.corpora) if getattr(args, "corpora", None) else Path(args.dataset).parent / CORPORA
        folder = root / name
        if not folder.is_dir():
            raise FileNotFoundError(f"no corpus folder {folder} for the items of corpus {name!r} (--corpora)")
        cache = str(settings.cache_root(args))
        out[name] = Retriever.from_corpus(
            folder,
            embed_model=args.embed_model,
            embed_backend=args.embed_backend,
            mode=args.mode,
            expand=args.expand,
            cache_dir=cache,
        )
    return out


def _weighted(tables: Sequence[dict[str, float]]) -> dict[str, float]:
    """hit@k and MRR of several corpora together (weighted by their numbers of items)."""
    n = sum(t["n"] for t in tables)
    if not n:
        return {"hit@1": 0.0, "hit@3": 0.0, "hit@5": 0.0, "mrr": 0.0, "n": 0}
    return {k: sum(t[k] * t["n"] for t in tables) / n for k in ("hit@1", "hit@3", "hit@5", "mrr")} | {"n": n}


def baseline_table(
    args: argparse.Namespace, items: Sequence[EvalItem], retrievers: Mapping[str | None, Any]
) -> dict[str, dict[str, float]]:
    """hit@k and MRR for this retriever and the BM25-only and dense-only paragraph baselines,
    over every corpus the items name."""
    paragraphs = ChunkingConfig(min_tokens=0)  # one chunk per paragraph
    tables: dict[str, list[dict[str, float]]] = {}
    for name, ours in retrievers.items():
        group = [i for i in items if i.corpus == name]
        base = RetrieverConfig(
            embed_model=args.embed_model,
            embed_backend=args.embed_backend,
            chunking=paragraphs,
            sentence_vectors=False,
            acronyms=False,
            cache_dir=ours.config.cache_dir,
        )
        baseline = Retriever.from_corpus(ours.corpus.root, config=base, embedder=ours.embedder)
        for label, value in (
            ("hybrid (this retriever)", evaluate_retriever(ours, group)),
            ("bm25 paragraphs", evaluate_retriever(baseline, group, mode="bm25")),
            ("dense paragraphs", evaluate_retriever(baseline, group, mode="dense")),
        ):
            tables.setdefault(label, []).append(value.as_dict())
    return {label: _weighted(parts) for label, parts in tables.items()}


def retrieval_table(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """hit@k and MRR for this retriever and the BM25-only and dense-only paragraph baselines."""
    items = load_items(args.dataset, getattr(args, "limit", None), getattr(args, "per_type", None))
    return baseline_table(args, items, open_retrievers(args, items))


def _print_retrieval(args: argparse.Namespace) -> int:
    table = retrieval_table(args)
    if args.json:
        print(json.dumps(table, indent=2))
        return 0
    n = next(iter(table.values()))["n"]
    print(f"Retrieval on {args.dataset} ({n:.0f} answerable items)")
    print(f"{'retriever':26s} {'hit@1':>6s} {'hit@3':>6s} {'hit@5':>6s} {'MRR':>6s}")
    for name, row in table.items():
        print(f"{name:26s} {row['hit@1']:6.3f} {row['hit@3']:6.3f} {row['hit@5']:6.3f} {row['mrr']:6.3f}")
    return 0


# -- the run ----------------------------------------------------------------------------------
def evaluate(
    items: Sequence[EvalItem],
    rows: Iterable[Row],
    *,
    progress: bool = True,
    on_record: Callable[[dict], None] | None = None,
) -> list[RowResult]:
    """Run every row over ``items`` in turn."""
    return [run_row(row, items, progress=progress, on_record=on_record) for row in rows]


def build_results(
    meta: Mapping, results: Sequence[RowResult], skipped: Mapping[str, str], retrieval: Mapping
) -> dict:
    """The content of results.json: run metadata, one object per backend, skips, retrieval table."""
    backends = {}
    for r in results:
        corpora = list(dict.fromkeys(s.corpus for s in r.scores))
        per_corpus = {}
        if len(corpora) > 1:
            for name in corpora:
                scores = [s for s in r.scores if s.corpus == name]
                per_corpus[str(name)] = summarize(scores, citations=not r.row.naive).as_dict()
        prime_s = r.row.ask.prime_s if isinstance(r.row.ask, Router) else r.row.prime_s
        backends[r.row.label] = {
            **r.summary.as_dict(),
            "model": r.row.model,
            "naive": r.row.naive,
            "load_s": r.row.load_s,
            "prime_s": prime_s,
            "threshold": r.row.threshold,
            "per_corpus": per_corpus,
        }
    return {"run": dict(meta), "backends": backends, "skipped": dict(skipped), "retrieval": dict(retrieval)}


def _read_old(folder: str | Path) -> tuple[dict, list[dict]]:
    folder = Path(folder)
    path = folder / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"--compare: no results.json in {folder}")
    old = json.loads(path.read_text("utf-8"))
    items_path = folder / "items.jsonl"
    old_items = []
    if items_path.is_file():
        old_items = [json.loads(line) for line in items_path.read_text("utf-8").splitlines() if line.strip()]
    return old, old_items


def _check(args: argparse.Namespace) -> int:
    items = load_items(args.dataset, args.limit, args.per_type)
    retrievers = open_retrievers(args, items)
    problems = corpora_problems(items, retrievers)
    kinds = {t: sum(i.type == t for i in items) for t in dict.fromkeys(i.type for i in items)}
    print(f"{args.dataset}: {len(items)} items ({', '.join(f'{k} {v}' for k, v in kinds.items())})")
    for problem in problems:
        print(f"problem: {problem}")
    print("ok" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


def run(args: argparse.Namespace) -> int:
    """The full evaluation: every backend (and naive baseline), files written, summary printed."""
    names = list(dict.fromkeys(args.backend or DEFAULT_BACKENDS))
    unknown = [n for n in names if n not in backend_names()]
    if unknown:
        raise ValueError(f"unknown backend {', '.join(unknown)}: use {', '.join(backend_names())}")
    old, old_items = _read_old(args.compare) if args.compare else (None, [])
    items = load_items(args.dataset, args.limit, args.per_type)
    items = sorted(items, key=lambda i: list(dict.fromkeys(j.corpus for j in items)).index(i.corpus))
    runs = Path(args.dataset).parent / "runs"
    out = Path(args.out) if args.out else runs / datetime.now().strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)

    retrievers = open_retrievers(args, items)
    first = next(iter(retrievers.values()))
    config = assistant_config(args)
    naive_config = NaiveConfig(max_tokens=config.max_answer_tokens, temperature=config.temperature)
    meta = run_metadata(args, items, first, config, naive_config)
    meta["corpora"] = {str(k): str(r.corpus.root) for k, r in retrievers.items()}
    meta["replay"] = str(args.replay) if getattr(args, "replay", None) else None
    meta["dataset_problems"] = corpora_problems(items, retrievers)
    for problem in meta["dataset_problems"]:
        print(f"warning: {problem}", file=sys.stderr)
    retrieval = baseline_table(args, items, retrievers)

    cache = settings.cache_root(args, Path(first.corpus.root))
    skipped: dict[str, str] = {}
    rows: list[Row] = []
    backends_opened: list[Any] = []
    variants = [("", config)]
    if getattr(args, "ablation", False):
        variants += [(f" without {check}", replace(config, checks=config.checks.without(check)))
                     for check in CHECK_NAMES if check not in getattr(args, "without", [])]  # fmt: skip
    for name in names:
        if name == EXTRACTIVE:
            for suffix, variant in variants:
                if suffix and suffix.split()[-1] not in EXTRACTIVE_CHECKS:
                    continue

                def extractive_for(corpus, variant=variant):
                    return _ask(Assistant(retrievers[corpus], None, variant)), None

                threshold = _threshold(variant, EXTRACTIVE)
                rows.append(Row(EXTRACTIVE + suffix, EXTRACTIVE, Router(extractive_for), threshold=threshold))
            continue
        try:
            backend, load_s = open_backend(name, settings.backend_options(name, args, cache))
        except BackendError as exc:
            skipped[name] = str(exc)
            if args.naive:
                skipped[name + NAIVE_SUFFIX] = str(exc)
            print(f"skipping {name}: {exc}", file=sys.stderr)
            continue
        if getattr(args, "replay", None):
            backend = ReplayBackend(backend, Path(args.replay))
        backends_opened.append(backend)

        for suffix, variant in variants:

            def assistant_for(corpus, backend=backend, variant=variant):
                assistant = Assistant(retrievers[corpus], backend, variant)
                # Latency is measured warm: each article is read (or its state loaded) first.
                seconds = [assistant.warm(doc.id) for doc in retrievers[corpus].corpus.documents]
                return _ask(assistant), sum(s for s in seconds if s is not None) if any(seconds) else None

            row = Row(name + suffix, backend.name, Router(assistant_for), load_s=load_s)
            rows.append(replace(row, threshold=_threshold(variant, "llm")))
        if args.naive:

            def naive_for(corpus, backend=backend):
                retriever = retrievers[corpus]
                naive = NaiveRAG(retriever.corpus.documents, retriever.embedder, backend, naive_config)
                return naive.ask, None

            naive_name = backend.name + NAIVE_SUFFIX
            rows.append(Row(name + NAIVE_SUFFIX, naive_name, Router(naive_for), naive=True, load_s=load_s))
    models = [r for r in rows if r.label in names and r.label != EXTRACTIVE]
    if getattr(args, "rerank", False) and models:
        backend = next(b for b in backends_opened if b.name == models[0].model)
        parts = []
        for corpus, retriever in retrievers.items():
            assistant = Assistant(retriever, backend, config)
            for doc in retriever.corpus.documents:
                assistant.warm(doc.id)
            parts.append(evaluate_reranked(assistant, [i for i in items if i.corpus == corpus]).as_dict())
        retrieval["hybrid + model reranker"] = _weighted(parts)
    if args.naive and not any(r.naive for r in rows) and not skipped:
        print("note: --naive needs a language-model backend (llama-cpp or openai)", file=sys.stderr)

    with (out / "items.jsonl").open("w", encoding="utf-8") as fh:

        def write(record: dict) -> None:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            fh.flush()

        row_results = evaluate(items, rows, on_record=write)
    results = build_results(meta, row_results, skipped, retrieval)
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", "utf-8")
    records = [rec for r in row_results for rec in r.records]
    path = report.write_report(
        out,
        results,
        records,
        old=old,
        old_items=old_items,
        old_name=f"`{args.compare}`" if args.compare else "",
    )
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
        return 0
    print(f"{args.dataset}: {len(items)} items\n")
    print(report.summary_table(results))
    print()
    print(report.type_table(results))
    print()
    print(report.retrieval_table(results))
    for name, reason in skipped.items():
        print(f"\nskipped {name}: {reason}")
    print(f"\nreport: {path}")
    return 0


def _threshold(config: AssistantConfig, kind: str) -> float | None:
    """The confidence a backend of ``kind`` answers at under ``config`` (``None``: no calibrator)."""
    if not config.checks.calibrator:
        return None
    calibrator = (config.calibrators or load_calibrators()).get(kind)
    return calibrator.threshold if calibrator else None


def main(args: argparse.Namespace) -> int:
    if args.retrieval:
        return _print_retrieval(args)
    if args.check:
        return _check(args)
    return run(args)
