"""Shared fixtures: the seed article, one real embedder per session, tmp caches.

Everything here is real: the packaged all-MiniLM-L6-v2 exported once to ONNX into a
session tmp folder, real FAISS files written under pytest's tmp dirs. Nothing is written to
the project's own ``.cache`` folder: every retriever gets an explicit ``cache_dir``.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from rag import Retriever, load_corpus, make_embedder
from rag.embeddings import EmbedderWrapper

REPO = Path(__file__).resolve().parent.parent
CORPUS_DIR = REPO / "corpus"
ARTICLE_PATH = CORPUS_DIR / "korea-herald-2024-10-24-north-korea-russia.txt"
ARTICLE_ID = "korea-herald-2024-10-24-north-korea-russia"
DATA = Path(__file__).resolve().parent / "data"
SAMPLE_ARTICLES = DATA / "articles"
EVAL_DIR = REPO / "eval"


def eval_items() -> list[dict]:
    """Every item of the dev set, as the raw JSON objects.

    Never the held-out set: no test may pin behaviour on it (it is for the final report only).
    """
    lines = (EVAL_DIR / "qa.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


# Property tests call the real tokenizers; correctness only, never speed.
settings.register_profile(
    "rag",
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", parent=settings.get_profile("rag"), max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "rag"))


# -- the order files are run in ------------------------------------------------------------
# Longest first, by their worker-seconds in a `make test` run (docs/setup-profile.md): the files
# with real models, browsers and servers, then the middling ones, so the small files come last
# and even out the two workers' ends. `make test` hands whole files to its two workers in
# collection order (pytest-xdist's ``--dist loadfile``); started last, one of the long ones ran
# alone for a minute while the other worker had nothing left to do.
LONG_FIRST = (
    "test_backend_llama_cpp",
    "test_reliability_injection",
    "test_reliability_load",
    "test_browser",
    "test_reliability_index",
    "test_api",
    "test_web",
    "test_reliability_defaults",
    "test_reliability_faults",
    "test_cli",
    "test_overview",
    "test_backend_openai",
    "test_cli_ask",
    "test_index",
    "test_packaging",
    "test_eval_runner",
    "test_grounding",
    "test_assistant",
    "test_retriever",
    "test_bench",
    "test_readme",
)


def pytest_collection_modifyitems(config, items) -> None:
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))  # stable: files stay whole


# -- the article ------------------------------------------------------------------------
@pytest.fixture(scope="session")
def article_raw() -> str:
    return ARTICLE_PATH.read_text("utf-8")


@pytest.fixture(scope="session")
def article_doc():
    corpus = load_corpus(CORPUS_DIR)
    assert len(corpus.documents) == 1
    return corpus.documents[0]


# -- embedder and caches ----------------------------------------------------------------
@pytest.fixture(scope="session")
def cache_root(tmp_path_factory) -> Path:
    """Session cache folder: holds the one ONNX export (``onnx/``) and session indexes."""
    return tmp_path_factory.mktemp("rag-cache")


@pytest.fixture(scope="session")
def embedder(cache_root):
    """The default embedder (packaged all-MiniLM-L6-v2 on ONNX Runtime), loaded once."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.onnx tracer chatter during the one-time export
        return make_embedder(cache_dir=cache_root)


@pytest.fixture
def fresh_cache(tmp_path, cache_root, embedder) -> Path:
    """An empty cache folder for one test that reuses the session's ONNX export (symlink)."""
    folder = tmp_path / "cache"
    folder.mkdir()
    (folder / "onnx").symlink_to(cache_root / "onnx", target_is_directory=True)
    return folder


@pytest.fixture(scope="session")
def retriever(embedder, tmp_path_factory) -> Retriever:
    """The default retriever over the project's corpus (hybrid, no expansion)."""
    return Retriever.from_corpus(
        CORPUS_DIR, embedder=embedder, cache_dir=str(tmp_path_factory.mktemp("retriever-cache"))
    )


@pytest.fixture
def story(embedder, tmp_path):
    """``story(text, name)``: a retriever over one article written in the test, in its own folder."""

    def make(text: str, name: str = "story") -> Retriever:
        folder = tmp_path / "corpus"
        folder.mkdir(exist_ok=True)
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
        return Retriever.from_corpus(folder, embedder=embedder, cache_dir=str(tmp_path / "idx"))

    return make


@pytest.fixture
def article_corpus(tmp_path) -> Path:
    """A private copy of the corpus folder, free to edit."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(ARTICLE_PATH, folder / ARTICLE_PATH.name)
    return folder


@pytest.fixture
def two_articles(article_corpus) -> Path:
    """A private corpus folder with the seed article and a short second one (a Seoul subway line)."""
    shutil.copy(SAMPLE_ARTICLES / "seoul-subway.md", article_corpus / "seoul-subway.md")
    return article_corpus


class CountingEmbedder(EmbedderWrapper):
    """A real embedder that counts ``encode`` calls (and can pretend to be another model)."""

    def __init__(self, inner, name: str | None = None) -> None:
        super().__init__(inner)
        self._name = name or inner.name
        self.encode_calls = 0
        self.encoded_texts = 0

    @property
    def name(self) -> str:
        return self._name

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.encode_calls += 1
        self.encoded_texts += len(texts)
        return self.inner.encode(texts, progress=progress)


@pytest.fixture
def counting(embedder):
    """Factory: ``counting(name=None)`` wraps the session embedder in a fresh counter."""

    def make(name: str | None = None) -> CountingEmbedder:
        return CountingEmbedder(embedder, name)

    return make


def clean_environ() -> dict[str, str]:
    """Environment for subprocesses, without any RAG_* setting leaking in from the shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env["HF_HUB_OFFLINE"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


@pytest.fixture
def clean_env():
    return clean_environ()


# -- SmolLM2's reading of the seed article, once per run ---------------------------------------
@pytest.fixture(scope="session")
def smollm2_reading(tmp_path_factory, cache_root, embedder) -> Path:
    """A cache folder where ``rag warm`` had the packaged SmolLM2 read the seed article.

    Made once for the whole run (the pytest-xdist workers share it, under a file lock), for
    the tests whose subject is not the reading itself: they copy its saved state
    (:func:`with_reading`) and start where ``rag warm`` left the page, as a user who ran it would.
    """
    import subprocess
    import sys

    from backend_helpers import SMOLLM2, linked_cache
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the run's own folder
    folder = root / "smollm2-reading"
    with FileLock(str(root / "smollm2-reading.lock")):
        if not (folder / "kv").is_dir():
            linked_cache(folder, cache_root)
            command = [sys.executable, "-m", "rag", "warm", "--model", SMOLLM2]
            command += ["--corpus", str(CORPUS_DIR), "--cache-dir", str(folder)]
            proc = subprocess.run(command, capture_output=True, text=True, timeout=600, env=clean_environ())
            assert proc.returncode == 0, proc.stderr[-2000:]
            assert list((folder / "kv").glob("*.bin")), "rag warm saved no reading"
    return folder


def with_reading(cache: Path, reading: Path) -> Path:
    """``cache`` with a copy of the saved readings in ``reading`` (see :func:`smollm2_reading`)."""
    shutil.copytree(reading / "kv", cache / "kv", dirs_exist_ok=True)
    return cache
