"""``rag eval``: retrieval metrics (``--retrieval``) and, per backend, answer metrics.

``rag eval --retrieval`` prints hit@k and MRR of the retriever and of the BM25-only and
dense-only paragraph baselines. Without it, every item of the dataset is put to each backend
through :class:`~rag.assistant.Assistant` (follow-ups as real multi-turn conversations; only
the last reply is scored) and, with ``--naive``, to the naive-RAG baseline of each language
model backend. Output folder (default ``runs/<timestamp>`` beside the dataset): ``results.json``,
``items.jsonl``, ``report.md`` and PNG charts. Metrics: :mod:`rag.evaluation.metrics`;
dataset format: docs/evaluation.md.

Flags and their environment defaults come from :mod:`rag.settings` (docs/configuration.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
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
from .dataset import TYPES, WHOLE_TYPES, EvalItem, load_dataset
from .metrics import ItemScore, Summary, score_item, summarize, supports
from .naive import NAIVE_SUFFIX, NaiveConfig, NaiveRAG
from .replay import ReplayBackend
from .retrieval import evaluate_reranked, evaluate_retriever, holds

log = logging.getLogger(__name__)

DEFAULT_BACKENDS = ("extractive",)

Ask = Callable[[str, list[dict[str, str]]], Any]  # (question, history) -> Answer
CORPORA = "corpora"  # folder beside a dataset holding the corpora its items name
# The checks the extractive backend goes through (the others act on a model's reply).
EXTRACTIVE_CHECKS = ("injection", "unknown_names", "calibrator", "who_said")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "eval",
        help="evaluate retrieval and answers on a Q&A set",
        description="Evaluate retrieval and answers on a JSON-lines Q&A set (format: docs/evaluation.md).",
    )
    p.add_argument(
        "--dataset",
        default=str(settings.default_dataset()),
        help="JSON-lines Q&A file (default eval/qa.jsonl)",
    )
    p.add_argument("--retrieval", action="store_true", help="retrieval metrics only, with the two baselines")
    p.add_argument("--json", action="store_true", help="print JSON")
    settings.add_backend_flag(p, many=True)
    p.add_argument("--naive", action="store_true", help="also run the naive-RAG baseline of each LLM backend")
    p.add_argument(
        "--context",
        choices=["article", "sentences"],
        default="article",
        help="what a language model reads: the whole article when it fits (default) or the best sentences",
    )
    p.add_argument(
        "--citations",
        choices=["aligner", "model"],
        default="aligner",
        help="who places the [¶N] markers: the sentence checks (default) or the model, from "
        "labelled paragraphs",
    )
    p.add_argument(
        "--corpora",
        metavar="DIR",
        help="folder of the corpora that items name with their `corpus` key "
        "(default: corpora/ beside the dataset)",
    )
    p.add_argument(
        "--without",
        nargs="+",
        default=[],
        metavar="CHECK",
        help="switch checks off (an ablation): injection, echo, unknown_names, verifier, calibrator, "
        "who_said, speaker_context, second_look, "
        "facts, polarity, restates, together, placement, speakers, joint",
    )
    p.add_argument(
        "--single-fact",
        action="store_true",
        help="put every question through the single-fact path (as before whole-article requests had "
        "their own paths: summaries, key points, lists, people, why/how)",
    )
    p.add_argument(
        "--rerank",
        action="store_true",
        help="also measure retrieval with the language model as a reranker (its P(yes) per passage)",
    )
    p.add_argument(
        "--ablation",
        action="store_true",
        help="also run each backend once with each check switched off (one row per check; use --replay)",
    )
    p.add_argument(
        "--replay",
        metavar="DIR",
        help="keep every language-model reply in DIR and reuse it when the same prompt comes again "
        "(for ablations: answers are the same, latencies are not real)",
    )
    p.add_argument("--out", metavar="DIR", help="output folder (default runs/<timestamp> beside the dataset)")
    p.add_argument("--compare", metavar="OLD_DIR", help="report the change since the run in OLD_DIR")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N items of the dataset")
    p.add_argument(
        "--per-type", type=int, metavar="N", help="only the first N items of each question type (smoke runs)"
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="only check the dataset against the corpus (evidence found verbatim)",
    )
    settings.add_model_flags(p)
    settings.add_corpus_flags(p)
    p.set_defaults(func=main)


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
def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _git_commit() -> str | None:
    """The checked-out commit (read-only ``git rev-parse``), or ``None`` outside a repository."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def _code_digest() -> str:
    """SHA-256 of the package's Python sources: tells runs apart even with uncommitted changes."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def run_metadata(
    args: argparse.Namespace, items: Sequence[EvalItem], retriever, assistant_config, naive_config
) -> dict:
    """What a later reader needs to trust or compare a run: data, code, settings, machine."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "created": datetime.now().astimezone().isoformat(timespec="seconds"),
        "dataset": str(args.dataset),
        "dataset_sha256": _sha256(Path(args.dataset).read_bytes()),
        "item_ids_sha256": _sha256("\n".join(i.id for i in items).encode()),
        "heldout": "heldout" in Path(args.dataset).name.lower(),
        "items": len(items),
        "limit": args.limit,
        "per_type": args.per_type,
        "corpus": str(retriever.corpus.root),
        "documents": len(retriever.corpus.documents),
        "git_commit": _git_commit(),
        "code_sha256": _code_digest(),
        "pipeline_k": assistant_config.k,
        "naive": asdict(naive_config),
        "config": _jsonable({"assistant": asdict(assistant_config), "retriever": asdict(retriever.config)}),
        "host": {
            "cpus": os.cpu_count(),
            "load_before": [round(x, 2) for x in load] if load else None,
            "python": platform.python_version(),
        },
    }


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


def assistant_config(args: argparse.Namespace):
    """The :class:`~rag.assistant.AssistantConfig` the flags describe (``--context``, ``--ablate``)."""
    config = AssistantConfig()
    if getattr(args, "context", "article") == "sentences":
        config = replace(config, article_context_tokens=0)
    if getattr(args, "citations", "aligner") != "aligner":
        config = replace(config, citations=args.citations)
    if getattr(args, "without", None):
        config = replace(config, checks=config.checks.without(*args.without))
    if getattr(args, "single_fact", False):
        config = replace(config, whole_article=False)
    return config


def main(args: argparse.Namespace) -> int:
    if args.retrieval:
        return _print_retrieval(args)
    if args.check:
        return _check(args)
    return run(args)
