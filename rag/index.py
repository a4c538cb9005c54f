"""FAISS vector index: choosing its type, and saving it safely with a manifest.

Index type rule (``kind="auto"``), inner product on unit vectors (= cosine):

* fewer than ``hnsw_threshold`` vectors (default 50,000): ``IndexFlatIP``, exact search;
* from there up: ``IndexHNSWFlat`` (M=32, efConstruction=80, efSearch=128), approximate
  (recall against exact search is measured by ``rag bench retrieval``; see README, Scale).

``"flat"``, ``"hnsw"`` and ``"ivf"`` (``IndexIVFFlat``, nlist = 4·√n, nprobe 16) can be forced.

On disk a saved index is a folder with ``chunks.faiss``, ``sentences.faiss``, ``chunks.jsonl``,
``sentences.jsonl`` and ``manifest.json``.
Files are written to temporary names and renamed into place (atomic on POSIX); the manifest,
written last, records the SHA-256 of the other files, so a partial or corrupt write is
detected on load and the index is rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class IndexConfig:
    """Which FAISS index to build. Part of the manifest: changing it rebuilds."""

    kind: str = "auto"
    hnsw_threshold: int = 50_000
    hnsw_m: int = 32
    ef_construction: int = 80
    ef_search: int = 128
    ivf_nprobe: int = 16


def choose_kind(n_vectors: int, config: IndexConfig) -> str:
    """Apply the documented rule: exact search for small corpora, HNSW for large ones."""
    if config.kind != "auto":
        return config.kind
    return "flat" if n_vectors < config.hnsw_threshold else "hnsw"


def build_index(vectors: np.ndarray, config: IndexConfig | None = None) -> faiss.Index:
    """Build a FAISS inner-product index over ``vectors`` (rows must be unit length)."""
    config = config or IndexConfig()
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    kind = choose_kind(n, config)
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = config.ef_construction
        index.hnsw.efSearch = config.ef_search
    elif kind == "ivf":
        nlist = max(1, min(n, int(4 * math.sqrt(max(n, 1)))))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.nprobe = min(config.ivf_nprobe, nlist)
    else:
        raise ValueError(f"unknown index kind {config.kind!r}: use auto, flat, hnsw or ivf")
    if n:
        index.add(vectors)
    return index


def search_index(
    index: faiss.Index, query: np.ndarray, k: int, among: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(scores, ids)`` of the ``k`` nearest rows; ids of missing hits are dropped.

    ``among``: only rows with these ids are searched (FAISS's own ID selector, so an
    approximate index still finds the nearest allowed rows).
    """
    k = min(k, index.ntotal if among is None else len(among))
    if k <= 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    params = _only(index, among) if among is not None else None
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # one query: OpenMP threads only add start-up and spinning cost
    try:
        x = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        scores, ids = index.search(x, k, params=params) if params is not None else index.search(x, k)
    finally:
        faiss.omp_set_num_threads(threads)
    keep = ids[0] >= 0
    return scores[0][keep], ids[0][keep]


def _only(index: faiss.Index, ids: np.ndarray) -> faiss.SearchParameters:
    """Search parameters restricting ``index`` to ``ids``, keeping the index's own search settings."""
    selector = faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64))
    if isinstance(index, faiss.IndexHNSW):
        return faiss.SearchParametersHNSW(sel=selector, efSearch=index.hnsw.efSearch)
    if isinstance(index, faiss.IndexIVF):
        return faiss.SearchParametersIVF(sel=selector, nprobe=index.nprobe)
    return faiss.SearchParameters(sel=selector)


class IndexStoreError(RuntimeError):
    """The cache folder cannot be written."""


class IndexStore:
    """A folder holding named FAISS indexes, named JSON-lines record files and a manifest."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    def load(self, expected: dict[str, Any]) -> tuple[dict[str, faiss.Index], dict[str, list[dict]]] | None:
        """Return ``(indexes, records)`` when the saved copy matches ``expected`` and is intact.

        Returns ``None`` (and logs why: absent, stale, corrupt) when it must be rebuilt.
        """
        manifest_path = self.folder / MANIFEST_FILE
        if not manifest_path.exists():
            log.info("no saved index in %s", self.folder)
            return None
        try:
            manifest = json.loads(manifest_path.read_text("utf-8"))
            stale = [k for k, v in expected.items() if manifest.get(k) != v]
            if stale:
                log.info("saved index in %s is stale (%s changed): rebuilding", self.folder, ", ".join(stale))
                return None
            blobs = {}
            for name, digest in manifest["files"].items():
                blobs[name] = (self.folder / name).read_bytes()
                if _sha256_bytes(blobs[name]) != digest:
                    log.warning("saved index file %s is corrupt or partial: rebuilding", self.folder / name)
                    return None
            indexes = {
                n.removesuffix(".faiss"): faiss.deserialize_index(np.frombuffer(b, dtype=np.uint8))
                for n, b in blobs.items()
                if n.endswith(".faiss")
            }
            records = {
                n.removesuffix(".jsonl"): [json.loads(line) for line in b.decode("utf-8").splitlines()]
                for n, b in blobs.items()
                if n.endswith(".jsonl")
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError) as exc:
            log.warning("saved index in %s is unreadable (%s): rebuilding", self.folder, exc)
            return None
        return indexes, records

    def save(
        self, indexes: dict[str, faiss.Index], records: dict[str, list[dict]], manifest: dict[str, Any]
    ) -> None:
        """Write atomically: data files first, the manifest (with their SHA-256) last."""
        files = {f"{n}.faiss": faiss.serialize_index(ix).tobytes() for n, ix in indexes.items()}
        for name, rows in records.items():
            files[f"{name}.jsonl"] = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for stale in self.folder.glob(".*.tmp"):  # left by a save that was killed (we hold the lock)
                with contextlib.suppress(OSError):
                    stale.unlink()
            for name, data in files.items():
                _atomic_write(self.folder / name, data)
            full = {**manifest, "files": {n: _sha256_bytes(d) for n, d in files.items()}}
            _atomic_write(self.folder / MANIFEST_FILE, json.dumps(full, indent=2, sort_keys=True).encode())
        except OSError as exc:
            raise IndexStoreError(
                f"cannot write the index cache in {self.folder}: {exc.strerror or exc}"
            ) from exc

    def lock(self, timeout: float = 600):
        """An inter-process lock for building this index (a no-op where the folder is read-only)."""
        from filelock import FileLock, Timeout

        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            return FileLock(str(self.folder / ".lock"), timeout=timeout).acquire()
        except (OSError, Timeout) as exc:
            log.warning("cannot lock %s (%s); continuing without a lock", self.folder, exc)
            return contextlib.nullcontext()


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
