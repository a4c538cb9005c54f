"""Hybrid retrieval: dense (FAISS) plus BM25, fused, with optional neighbour expansion.

>>> retriever = Retriever.from_corpus("corpus")
>>> passages = retriever.search("Who confirmed the troops were in Russia?", k=5)

A :class:`Retriever` owns everything it needs (documents, chunks, embedder, indexes):
there is no global state, so several can live side by side in one process.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path

import faiss
import numpy as np

from .acronyms import AcronymMap
from .attribution import Attributions, Attributor
from .chunking import CAPTION_SECTION, Chunker, ChunkingConfig
from .corpus import Corpus, load_corpus, signature
from .embeddings import Embedder, make_embedder
from .index import FORMAT_VERSION, IndexConfig, IndexStore, IndexStoreError, build_index, search_index
from .models import user_cache, writable
from .sparse import BM25Index
from .text import split_sentences
from .types import Chunk, Document, Paragraph, Passage, Sentence

log = logging.getLogger(__name__)

MODES = ("hybrid", "dense", "bm25")
MAX_QUERY_CHARS = 4000
DEFAULT_CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def default_corpus() -> Path:
    """The project's own corpus folder (the article copy kept in ``corpus/``)."""
    if DEFAULT_CORPUS.is_dir():
        return DEFAULT_CORPUS
    packaged = Path(__file__).resolve().parent / "_corpus"
    return packaged if packaged.is_dir() else DEFAULT_CORPUS


@dataclass(frozen=True)
class RetrieverConfig:
    """Settings of a :class:`Retriever`. Everything is passed in; nothing is read from globals.

    ``fusion`` is ``"rrf"`` (reciprocal rank fusion, ``1/(rrf_k + rank)`` per retriever,
    weighted) or ``"linear"`` (weighted sum of min-max normalised scores).
    ``expand`` adds that many neighbouring paragraphs on each side of every passage.
    ``sentence_vectors`` also embeds every sentence on its own; a chunk then also ranks by its
    best-matching sentence (a third ranked list in the fusion). ``acronyms`` expands names and
    their initials found in the corpus on both sides of BM25 ("CSIS" finds the full name).
    ``dense_min_score``: in hybrid mode, dense candidates below this cosine are left out of the
    fusion, so a question the embedder cannot place (an acronym it does not know) is decided by
    BM25 instead of by noise (0.3 suits all-MiniLM-L6-v2, calibrated on the dev set; 0 = off).
    ``lexical_margin``: in hybrid mode, BM25's best chunk is kept among the ``k`` returned when
    its score is at least this many times BM25's second (a question word only that chunk holds,
    "published"), however the embedder ranks it; rank fusion alone forgets such a margin (0 = off).
    ``cache_dir`` holds this corpus's index (default ``.cache`` beside the corpus);
    ``model_cache_dir`` what is made once per model (the ONNX export), shared by every corpus
    (default ``~/.cache/korea-herald-rag``, else ``cache_dir``).
    """

    embed_model: str | None = None
    embed_backend: str = "onnx"
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    mode: str = "hybrid"
    fusion: str = "rrf"
    candidates: int = 20
    rrf_k: int = 60
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    expand: int = 0
    sentence_vectors: bool = True
    acronyms: bool = True
    dense_min_score: float = 0.3
    lexical_margin: float = 2.0
    cache_dir: str | None = None
    model_cache_dir: str | None = None


@dataclass(frozen=True)
class IndexInfo:
    """How the index of a retriever came to be: loaded from the cache or built now."""

    status: str
    folder: str | None
    chunks: int
    kind: str
    seconds: float


class Retriever:
    """Finds the passages of a corpus that best answer a question."""

    def __init__(
        self,
        corpus: Corpus,
        chunks: list[Chunk],
        sentences: list[Sentence],
        indexes: dict[str, faiss.Index],
        embedder: Embedder,
        config: RetrieverConfig,
        info: IndexInfo,
    ) -> None:
        if config.mode not in MODES:
            raise ValueError(f"unknown retrieval mode {config.mode!r}: use one of {', '.join(MODES)}")
        self.corpus = corpus
        self.chunks = chunks
        self.sentences = sentences
        self.indexes = indexes
        self.embedder = embedder
        self.config = config
        self.info = info
        self.documents: dict[str, Document] = {d.id: d for d in corpus.documents}
        self.acronyms = AcronymMap(c.text for c in chunks) if config.acronyms else None
        self._signature = signature(corpus.root)
        self._checked_at = time.monotonic()
        self._bm25 = BM25Index([c.embed_text for c in chunks])
        self._sentence_chunk = np.array([s.chunk for s in sentences], dtype=np.int64)
        self._attributions: dict[str, Attributions] = {}
        self._attributor: Attributor | None = None

    def _keywords(self, text: str) -> str:
        return self.acronyms.expand(text) if self.acronyms else text

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_corpus(
        cls,
        path: str | Path | None = None,
        *,
        config: RetrieverConfig | None = None,
        embedder: Embedder | None = None,
        progress: bool | None = None,
        **overrides,
    ) -> Retriever:
        """Load the articles under ``path`` (default: the project's corpus) and open or build the index.

        The index is reused from the cache folder when the corpus, model, chunking and index
        settings and library versions are unchanged, and rebuilt otherwise. Keyword arguments
        override fields of :class:`RetrieverConfig` (``mode="bm25"``, ``expand=1``, ...).
        """
        config = replace(config or RetrieverConfig(), **overrides)
        corpus = load_corpus(path if path is not None else default_corpus())
        cache_root = Path(config.cache_dir) if config.cache_dir else default_cache_root(Path(corpus.root))
        if embedder is None:
            models = Path(config.model_cache_dir) if config.model_cache_dir else user_cache() or cache_root
            embedder = make_embedder(config.embed_model, backend=config.embed_backend, cache_dir=models)
        chunker = Chunker(config.chunking, window=embedder, window_limit=embedder.max_tokens)
        expected = _manifest(corpus, embedder, config)
        folder = _index_folder(corpus, expected, cache_root)
        store = IndexStore(folder)
        start = time.perf_counter()
        with store.lock():
            loaded = store.load(expected)
            if loaded is not None:
                indexes, records = loaded
                chunks = [_chunk(r) for r in records["chunks"]]
                sentences = [Sentence(**r) for r in records.get("sentences", [])]
                status = "loaded"
            else:
                chunks = chunker.chunk(corpus.documents)
                sentences = _sentences(chunks) if config.sentence_vectors else []
                show = progress if progress is not None else len(chunks) >= 500
                indexes = {
                    "chunks": build_index(
                        embedder.encode([c.embed_text for c in chunks], progress=show), config.index
                    )
                }
                if sentences:
                    vectors = embedder.encode([s.text for s in sentences], progress=show)
                    indexes["sentences"] = build_index(vectors, config.index)
                records = {"chunks": [asdict(c) for c in chunks], "sentences": [asdict(s) for s in sentences]}
                status = "built"
                try:
                    store.save(indexes, records, expected)
                except IndexStoreError as exc:
                    log.warning("%s; the index stays in memory only", exc)
                    status = "built (not saved)"
        kind = type(indexes["chunks"]).__name__
        info = IndexInfo(status, str(folder), len(chunks), kind, time.perf_counter() - start)
        log.info("index %s: %d chunks, %s, %.2fs", status, len(chunks), kind, info.seconds)
        return cls(corpus, chunks, sentences, indexes, embedder, config, info)

    def attributions(self, doc: str | None = None) -> dict[str, Attributions]:
        """Who says what in each article (or in article ``doc``): its people and every quote and
        reported claim with its speaker (:mod:`rag.attribution`, spaCy). Resolved once per
        article and kept in the cache folder beside the index, so it is parsed when the article is
        first indexed and read back after."""
        wanted = [doc] if doc is not None else list(self.documents)
        missing = [d for d in wanted if d in self.documents and d not in self._attributions]
        if missing:
            if self._attributor is None:
                root = Path(self.config.cache_dir) if self.config.cache_dir else default_cache_root(
                    Path(self.corpus.root)
                )
                self._attributor = Attributor(root / "attribution")
            for name in missing:
                self._attributions[name] = self._attributor(self.documents[name])
        return {d: self._attributions[d] for d in wanted if d in self._attributions}

    def changed(self, min_interval: float = 2.0) -> bool:
        """True when the corpus folder's files changed since this retriever was opened.

        A cheap check (file names, sizes and times), done at most every ``min_interval`` seconds.
        """
        now = time.monotonic()
        if now - self._checked_at < min_interval:
            return False
        self._checked_at = now
        return signature(self.corpus.root) != self._signature

    def reload(self) -> Retriever:
        """A new retriever over the corpus as it is now (same settings and embedder)."""
        return Retriever.from_corpus(self.corpus.root, config=self.config, embedder=self.embedder)

    # -- lookup -------------------------------------------------------------------------
    def paragraph(self, doc: str, number: int) -> Paragraph:
        """Paragraph ``number`` of article ``doc`` (``0`` is the photo caption, if any)."""
        document = self.documents[doc]
        if number == 0 and document.caption:
            return Paragraph(doc, 0, document.caption, CAPTION_SECTION)
        return document.paragraph(number)

    # -- search -------------------------------------------------------------------------
    def search(
        self, query: str, k: int = 5, *, mode: str | None = None, doc: str | None = None
    ) -> list[Passage]:
        """Return up to ``k`` passages for ``query``, best first.

        ``mode`` is ``"hybrid"`` (default), ``"dense"`` or ``"bm25"``; ``doc`` limits the search
        to one article (its id). Raises ``ValueError`` for an empty query, ``k < 1`` or an
        unknown ``doc``; an over-long query is cut to ``MAX_QUERY_CHARS``.
        """
        if not isinstance(query, str) or not query.strip():
            raise ValueError("the query is empty")
        if k < 1:
            raise ValueError("k must be at least 1")
        mode = mode or self.config.mode
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}: use one of {', '.join(MODES)}")
        if doc is not None and doc not in self.documents:
            raise ValueError(f"no article {doc!r} in the corpus")
        return self._retrieve(query.strip()[:MAX_QUERY_CHARS], k, mode, doc)

    def _retrieve(self, query: str, k: int, mode: str, doc: str | None = None) -> list[Passage]:
        n = max(self.config.candidates, k)
        chunks = sentences = None
        if doc is not None and len(self.documents) > 1:
            chunks = np.array([i for i, c in enumerate(self.chunks) if c.doc == doc], dtype=np.int64)
            sentences = np.flatnonzero(np.isin(self._sentence_chunk, chunks))
        ranked: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if mode in ("hybrid", "dense"):
            vector = self.embedder.encode_query(query)
            ranked["dense"] = search_index(self.indexes["chunks"], vector, n, chunks)
            if "sentences" in self.indexes:
                ranked["sentence"] = self._best_sentence_per_chunk(vector, n, sentences)
        if mode in ("hybrid", "bm25"):
            ranked["bm25"] = self._bm25.search(self._keywords(query), n, chunks)
        fused = self._fuse(ranked)
        if mode == "hybrid" and self.config.dense_min_score > 0:
            fused = self._weak_last(ranked, fused)
        if mode == "hybrid" and self.config.lexical_margin > 0:
            fused = self._decisive_kept(ranked["bm25"], fused, k)
        fused = fused[:k]
        passages = [self._passage(i, score, found) for i, score, found in fused]
        return self._expand(passages) if self.config.expand else passages

    def _weak_last(self, ranked, fused):
        """Rank again without dense candidates whose cosine is below ``dense_min_score``.

        Such a cosine says nothing (the embedder cannot place the question, e.g. an acronym it
        does not know), so it must not outvote BM25. Candidates found only that way still come
        after the others, in their first order, so the number of results does not change.
        """
        floor = self.config.dense_min_score
        confident = {}
        for name, (scores, ids) in ranked.items():
            keep = scores >= floor if name != "bm25" else np.ones(len(ids), dtype=bool)
            confident[name] = (scores[keep], ids[keep])
        first = self._fuse(confident)
        if not first:
            return fused
        seen = {i for i, _, _ in first}
        low = first[-1][1]
        rest = [(i, low * 0.5 * score / fused[0][1], found) for i, score, found in fused if i not in seen]
        return first + rest

    def _decisive_kept(self, bm25, fused, k: int):
        """``fused`` with BM25's best chunk moved up to the ``k``-th place when it scores at
        least ``lexical_margin`` times BM25's second and ranks below ``k`` (the others keep
        their order)."""
        scores, ids = bm25
        if len(ids) < 2 or scores[1] <= 0 or scores[0] < self.config.lexical_margin * scores[1]:
            return fused
        at = next((n for n, (i, _, _) in enumerate(fused) if i == int(ids[0])), None)
        if at is None or at < k:
            return fused
        hit = fused[at]
        rest = fused[:at] + fused[at + 1:]
        score = rest[max(k - 2, 0)][1]  # the score of the place it takes, so the order stands
        return [*rest[: k - 1], (hit[0], score, hit[2]), *rest[k - 1:]]

    def _best_sentence_per_chunk(
        self, vector: np.ndarray, n: int, among: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rank chunks by their best-matching sentence (``among``: only these sentences)."""
        scores, ids = search_index(self.indexes["sentences"], vector, n * 4, among)
        best: dict[int, float] = {}
        for score, chunk in zip(scores.tolist(), self._sentence_chunk[ids].tolist(), strict=True):
            best.setdefault(chunk, score)  # hits arrive best first
        order = list(best)[:n]
        return np.array([best[c] for c in order], dtype=np.float32), np.array(order, dtype=np.int64)

    def _fuse(
        self, ranked: dict[str, tuple[np.ndarray, np.ndarray]]
    ) -> list[tuple[int, float, tuple[str, ...]]]:
        weights = {
            "dense": self.config.dense_weight,
            "sentence": self.config.dense_weight,
            "bm25": self.config.bm25_weight,
        }
        totals: dict[int, float] = {}
        found: dict[int, list[str]] = {}
        for name, (scores, ids) in ranked.items():
            if len(ids) == 0:
                continue
            if self.config.fusion == "linear":
                lo, hi = float(scores.min()), float(scores.max())
                parts = (scores - lo) / (hi - lo) if hi > lo else np.ones_like(scores)
            else:
                parts = 1.0 / (self.config.rrf_k + np.arange(1, len(ids) + 1))
            for i, part in zip(ids.tolist(), parts.tolist(), strict=False):
                totals[i] = totals.get(i, 0.0) + weights[name] * part
                found.setdefault(i, []).append(name)
        if len(ranked) == 1:  # a single retriever keeps its own scores
            ((scores, ids),) = ranked.values()
            return [
                (i, float(s), tuple(found[i])) for s, i in zip(scores.tolist(), ids.tolist(), strict=False)
            ]
        order = sorted(totals, key=lambda i: (-totals[i], i))
        return [(i, totals[i], tuple(found[i])) for i in order]

    def _passage(self, i: int, score: float, found: Sequence[str]) -> Passage:
        chunk = self.chunks[i]
        title = self.documents[chunk.doc].title if chunk.doc in self.documents else ""
        return Passage(chunk.text, chunk.doc, chunk.paragraphs, float(score), tuple(found), chunk.id, title)

    def _expand(self, passages: list[Passage]) -> list[Passage]:
        """Widen each passage by ``expand`` paragraphs each side; drop passages already covered."""
        out: list[Passage] = []
        seen: set[tuple[str, int]] = set()
        e = self.config.expand
        for p in passages:
            if p.paragraphs == (0,):
                numbers: Sequence[int] = (0,)
            else:
                last = len(self.documents[p.doc].paragraphs)
                numbers = range(max(1, min(p.paragraphs) - e), min(last, max(p.paragraphs) + e) + 1)
            fresh = tuple(n for n in numbers if (p.doc, n) not in seen)
            if not set(fresh) & set(p.paragraphs):
                continue
            seen.update((p.doc, n) for n in fresh)
            text = "\n\n".join(self.paragraph(p.doc, n).text for n in fresh)
            out.append(replace(p, text=text, paragraphs=fresh))
        return out


def _sentences(chunks: list[Chunk]) -> list[Sentence]:
    out = []
    for i, chunk in enumerate(chunks):
        for number, text in zip(chunk.paragraphs, chunk.text.split("\n\n"), strict=True):
            out.extend(Sentence(chunk.doc, number, i, s) for s in split_sentences(text))
    return out


def _chunk(record: dict) -> Chunk:
    return Chunk(**{**record, "paragraphs": tuple(record["paragraphs"])})


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("korea-herald-rag", "faiss-cpu", "sentence-transformers", "bm25s"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def _code_digest() -> str:
    """Hash of the code that decides what is indexed: a change to it rebuilds saved indexes."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for name in ("corpus.py", "chunking.py", "text.py", "index.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()[:16]


def _manifest(corpus: Corpus, embedder: Embedder, config: RetrieverConfig) -> dict:
    return {
        "format": FORMAT_VERSION,
        "code": _code_digest(),
        "corpus": corpus.fingerprint,
        "model": embedder.name,
        "dimension": embedder.dimension,
        "chunking": asdict(config.chunking),
        "sentence_vectors": config.sentence_vectors,
        "index": asdict(config.index),
        "versions": _versions(),
    }


def _index_folder(corpus: Corpus, manifest: dict, root: Path) -> Path:
    """One folder per corpus location and settings, so switching settings back is instant."""
    key = hashlib.sha256(
        repr(
            (
                str(Path(corpus.root).resolve()),
                manifest["model"],
                manifest["chunking"],
                manifest["index"],
                manifest["sentence_vectors"],
            )
        ).encode()
    ).hexdigest()[:12]
    name = Path(corpus.root).name or "corpus"
    return root / "index" / f"{name}-{key}"


def default_cache_root(corpus_root: Path) -> Path:
    """``.cache`` beside the corpus folder when writable, else ``~/.cache/korea-herald-rag``."""
    base = corpus_root.resolve().parent if corpus_root.is_dir() else corpus_root.resolve().parent.parent
    local = base / ".cache"
    return local if writable(local) else Path.home() / ".cache" / "korea-herald-rag"
