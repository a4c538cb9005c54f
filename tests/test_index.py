"""rag.index and the index cache of Retriever.from_corpus: build, reuse, rebuild, survive."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil

import faiss
import numpy as np
import pytest
from conftest import SAMPLE_ARTICLES

from rag import ChunkingConfig, IndexConfig, Retriever
from rag.index import (
    MANIFEST_FILE,
    IndexStore,
    IndexStoreError,
    _atomic_write,
    build_index,
    choose_kind,
    search_index,
)

QUESTION = "Who confirmed the troops were in Russia?"
INDEX_FILES = {"chunks.faiss", "sentences.faiss", "chunks.jsonl", "sentences.jsonl", MANIFEST_FILE}


@pytest.fixture
def sample_corpus(tmp_path):
    """A private, editable copy of the sample articles."""
    folder = tmp_path / "articles"
    shutil.copytree(SAMPLE_ARTICLES, folder)
    return folder


@pytest.fixture(scope="session")
def pristine(tmp_path_factory, embedder):
    """The sample articles (never edited) and a cache with their default index, built once."""
    root = tmp_path_factory.mktemp("pristine")
    shutil.copytree(SAMPLE_ARTICLES, root / "articles")
    r = Retriever.from_corpus(root / "articles", embedder=embedder, cache_dir=str(root / "cache"))
    assert r.info.status == "built"
    return root / "articles", root / "cache"


@pytest.fixture
def prebuilt(pristine, tmp_path):
    """(corpus, cache): a private copy of the pristine cache, same corpus: opens as "loaded"."""
    corpus, cache = pristine
    shutil.copytree(cache, tmp_path / "cache", symlinks=True)
    return corpus, tmp_path / "cache"


def open_retriever(corpus, cache, embedder, **overrides) -> Retriever:
    return Retriever.from_corpus(corpus, embedder=embedder, cache_dir=str(cache), **overrides)


def temp_files(folder) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".export-")]


def unit_vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


# -- build once, then reuse ----------------------------------------------------------------------
def test_second_open_reuses_the_index_without_embedding(article_corpus, tmp_path, counting):
    cache = tmp_path / "cache"
    first = counting()
    built = open_retriever(article_corpus, cache, first)
    assert built.info.status == "built"
    assert first.encode_calls == 2  # chunks, then sentences
    assert first.encoded_texts == len(built.chunks) + len(built.sentences)

    second = counting()
    loaded = open_retriever(article_corpus, cache, second)
    assert loaded.info.status == "loaded"
    assert second.encode_calls == 0
    assert loaded.info.folder == built.info.folder
    assert loaded.chunks == built.chunks
    assert loaded.sentences == built.sentences
    assert [(p.chunk_id, round(p.score, 6)) for p in loaded.search(QUESTION)] == [
        (p.chunk_id, round(p.score, 6)) for p in built.search(QUESTION)
    ]
    folder = tmp_path / "cache" / "index"
    (saved,) = list(folder.iterdir())
    assert {p.name for p in saved.iterdir()} >= INDEX_FILES
    assert temp_files(cache) == []


def test_manifest_records_what_the_index_depends_on(article_corpus, tmp_path, counting):
    r = open_retriever(article_corpus, tmp_path / "cache", counting())
    manifest = json.loads((tmp_path / "cache" / "index").glob("*/manifest.json").__next__().read_text())
    assert manifest["model"] == r.embedder.name
    assert manifest["corpus"] == r.corpus.fingerprint
    assert manifest["chunking"]["max_tokens"] == ChunkingConfig().max_tokens
    assert manifest["index"]["kind"] == "auto"
    assert set(manifest["files"]) == INDEX_FILES - {MANIFEST_FILE}
    assert r.info.chunks == len(r.chunks)


# -- what triggers a rebuild ----------------------------------------------------------------------
def _edit(corpus):
    path = corpus / "jeju-tourism.txt"
    path.write_text(path.read_text().replace("three million", "four million"))


def _add(corpus):
    (corpus / "extra.md").write_text("# Extra\n\nA brand new article about Gwangju.\n")


def _remove(corpus):
    (corpus / "busan-port.json").unlink()


@pytest.mark.parametrize("change", [_edit, _add, _remove], ids=["edit", "add", "remove"])
def test_corpus_change_rebuilds(sample_corpus, tmp_path, counting, change):
    cache = tmp_path / "cache"
    assert open_retriever(sample_corpus, cache, counting()).info.status == "built"
    change(sample_corpus)
    again = counting()
    r = open_retriever(sample_corpus, cache, again)
    assert r.info.status == "built"
    assert again.encode_calls > 0
    texts = " ".join(c.text for c in r.chunks)
    if change is _edit:
        assert "four million" in texts and "three million" not in texts
    if change is _add:
        assert "Gwangju" in texts
    if change is _remove:
        assert all(c.doc != "busan-port" for c in r.chunks)
    assert open_retriever(sample_corpus, cache, counting()).info.status == "loaded"


SETTINGS = [
    {"chunking": ChunkingConfig(max_tokens=60, min_tokens=0)},
    {"chunking": ChunkingConfig(context=True)},
    {"index": IndexConfig(kind="hnsw")},
    {"sentence_vectors": False},
]
SETTING_IDS = ["chunk-size", "chunk-context", "index-kind", "sentence-vectors"]


@pytest.mark.parametrize("overrides", SETTINGS, ids=SETTING_IDS)
def test_settings_change_rebuilds(prebuilt, counting, overrides):
    sample_corpus, cache = prebuilt
    assert open_retriever(sample_corpus, cache, counting()).info.status == "loaded"
    changed = counting()
    r = open_retriever(sample_corpus, cache, changed, **overrides)
    assert r.info.status == "built"
    assert changed.encode_calls > 0
    assert open_retriever(sample_corpus, cache, counting(), **overrides).info.status == "loaded"


@pytest.mark.parametrize("overrides", SETTINGS, ids=SETTING_IDS)
def test_switching_settings_back_reloads(prebuilt, counting, overrides):
    """_index_folder: "one folder per corpus location and settings, so switching settings back is instant"."""
    sample_corpus, cache = prebuilt
    assert open_retriever(sample_corpus, cache, counting(), **overrides).info.status == "built"
    back = counting()
    assert open_retriever(sample_corpus, cache, back).info.status == "loaded"
    assert back.encode_calls == 0


def test_model_identity_change_rebuilds(prebuilt, counting):
    sample_corpus, cache = prebuilt
    assert open_retriever(sample_corpus, cache, counting()).info.status == "loaded"
    other = counting(name="some-other-model@1")
    r = open_retriever(sample_corpus, cache, other)
    assert r.info.status == "built"
    assert other.encode_calls > 0
    assert open_retriever(sample_corpus, cache, counting(name="some-other-model@1")).info.status == "loaded"


def test_same_folder_stale_manifest_rebuilds(sample_corpus, tmp_path, counting, caplog):
    """A corpus edit keeps the folder (keyed by location and settings): the manifest catches it."""
    cache = tmp_path / "cache"
    first = open_retriever(sample_corpus, cache, counting())
    _edit(sample_corpus)
    with caplog.at_level(logging.INFO, logger="rag.index"):
        second = open_retriever(sample_corpus, cache, counting())
    assert second.info.folder == first.info.folder
    assert second.info.status == "built"
    assert any("stale" in r.getMessage() and "corpus" in r.getMessage() for r in caplog.records)


# -- damaged caches ----------------------------------------------------------------------------
def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _garbage(path):
    path.write_bytes(b"\x00garbage\xff" * 10)


def _delete(path):
    path.unlink()


def _empty(path):
    path.write_bytes(b"")


DAMAGE = [
    ("chunks.faiss", _truncate),
    ("chunks.faiss", _garbage),
    ("sentences.faiss", _truncate),
    ("chunks.jsonl", _truncate),
    ("chunks.jsonl", _empty),
    ("sentences.jsonl", _delete),
    (MANIFEST_FILE, _truncate),
    (MANIFEST_FILE, _garbage),
    (MANIFEST_FILE, _empty),
    (MANIFEST_FILE, _delete),
]


@pytest.mark.parametrize(("name", "damage"), DAMAGE, ids=[f"{n}-{d.__name__[1:]}" for n, d in DAMAGE])
def test_damaged_file_is_detected_and_rebuilt(prebuilt, counting, name, damage):
    sample_corpus, cache = prebuilt
    built = open_retriever(sample_corpus, cache, counting())
    assert built.info.status == "loaded"
    damage(cache / "index" / os.path.basename(built.info.folder) / name)
    again = counting()
    r = open_retriever(sample_corpus, cache, again)
    assert r.info.status == "built"
    assert again.encode_calls > 0
    assert r.chunks == built.chunks
    assert r.search("cruise ships in Jeju", k=1)[0].doc == "jeju-tourism"
    assert open_retriever(sample_corpus, cache, counting()).info.status == "loaded"  # repaired


@pytest.mark.parametrize("name", ["chunks.faiss", "chunks.jsonl"])
def test_garbage_with_a_matching_checksum_is_still_rebuilt(prebuilt, counting, name):
    """Even a file whose SHA-256 was updated in the manifest must parse, or the index is rebuilt."""
    sample_corpus, cache = prebuilt
    built = open_retriever(sample_corpus, cache, counting())
    folder = cache / "index" / os.path.basename(built.info.folder)
    junk = b"not a faiss index, not json\n"
    (folder / name).write_bytes(junk)
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    manifest["files"][name] = hashlib.sha256(junk).hexdigest()
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    r = open_retriever(sample_corpus, cache, counting())
    assert r.info.status == "built"
    assert r.search("Busan containers", k=1)[0].doc == "busan-port"


# -- unwritable caches ----------------------------------------------------------------------------
def test_cache_under_a_regular_file_still_gives_a_retriever(pristine, tmp_path, counting, caplog):
    sample_corpus = pristine[0]
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING):
        r = open_retriever(sample_corpus, blocker / "cache", counting())
    assert r.info.status == "built (not saved)"
    assert any("cannot write the index cache" in rec.getMessage() for rec in caplog.records)
    assert r.search("driverless subway", k=1)[0].doc == "seoul-subway"
    assert blocker.read_text() == "a file where the cache folder should be"


def test_read_only_cache_folder_still_gives_a_retriever(pristine, tmp_path, counting, caplog):
    sample_corpus = pristine[0]
    cache = tmp_path / "ro-cache"
    cache.mkdir()
    cache.chmod(0o555)
    try:
        probe = cache / "probe"
        try:
            probe.touch()
        except OSError:
            pass
        else:
            probe.unlink()
            pytest.skip("running as root (or similar): chmod does not stop writes here")
        with caplog.at_level(logging.WARNING):
            r = open_retriever(sample_corpus, cache, counting())
        assert r.info.status == "built (not saved)"
        assert any("cannot write the index cache" in rec.getMessage() for rec in caplog.records)
        assert r.search("driverless subway", k=1)[0].doc == "seoul-subway"
    finally:
        cache.chmod(0o755)


# -- atomic writes --------------------------------------------------------------------------------
def test_atomic_write_failure_leaves_no_temp_file(tmp_path):
    target = tmp_path / "blocked"
    target.mkdir()
    (target / "inside").write_text("x")  # os.replace cannot overwrite a non-empty folder
    with pytest.raises(OSError):
        _atomic_write(target, b"new data")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocked"]
    ok = tmp_path / "ok.bin"
    _atomic_write(ok, b"data")
    assert ok.read_bytes() == b"data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocked", "ok.bin"]


def test_failed_save_is_detected_on_load(tmp_path):
    store = IndexStore(tmp_path / "store")
    v1 = {"corpus": "one"}
    small, large = build_index(unit_vectors(5)), build_index(unit_vectors(9, seed=1))
    store.save({"chunks": small}, {"chunks": [{"i": i} for i in range(5)]}, v1)
    assert store.load(v1)[0]["chunks"].ntotal == 5
    # A second save dies after writing chunks.faiss (chunks.jsonl is blocked by a folder).
    (tmp_path / "store" / "chunks.jsonl").unlink()
    (tmp_path / "store" / "chunks.jsonl").mkdir()
    (tmp_path / "store" / "chunks.jsonl" / "x").write_text("x")
    with pytest.raises(IndexStoreError, match="cannot write the index cache"):
        store.save({"chunks": large}, {"chunks": [{"i": i} for i in range(9)]}, {"corpus": "two"})
    assert temp_files(tmp_path) == []
    # The old manifest no longer matches chunks.faiss: the half-written index is never used.
    assert store.load(v1) is None
    assert store.load({"corpus": "two"}) is None


def test_store_roundtrip_and_staleness(tmp_path):
    store = IndexStore(tmp_path / "s")
    assert store.load({"a": 1}) is None  # nothing saved yet
    vectors = unit_vectors(20)
    store.save({"chunks": build_index(vectors)}, {"chunks": [{"n": i} for i in range(20)]}, {"a": 1})
    indexes, records = store.load({"a": 1})
    assert records["chunks"] == [{"n": i} for i in range(20)]
    scores, ids = search_index(indexes["chunks"], vectors[7], 3)
    assert ids[0] == 7 and scores[0] == pytest.approx(1.0, abs=1e-5)
    assert store.load({"a": 2}) is None
    assert store.load({"a": 1, "b": 0}) is None
    assert temp_files(tmp_path) == []


# -- index kinds ----------------------------------------------------------------------------------
def test_choose_kind():
    config = IndexConfig()
    assert choose_kind(0, config) == "flat"
    assert choose_kind(config.hnsw_threshold - 1, config) == "flat"
    assert choose_kind(config.hnsw_threshold, config) == "hnsw"
    assert choose_kind(10**6, config) == "hnsw"
    assert choose_kind(10, IndexConfig(hnsw_threshold=5)) == "hnsw"
    for kind in ("flat", "hnsw", "ivf"):
        assert choose_kind(10, IndexConfig(kind=kind)) == kind
        assert choose_kind(10**6, IndexConfig(kind=kind)) == kind


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (IndexConfig(), faiss.IndexFlatIP),
        (IndexConfig(hnsw_threshold=100), faiss.IndexHNSWFlat),
        (IndexConfig(kind="hnsw"), faiss.IndexHNSWFlat),
        (IndexConfig(kind="ivf"), faiss.IndexIVFFlat),
        (IndexConfig(kind="flat", hnsw_threshold=1), faiss.IndexFlatIP),
    ],
)
def test_build_index_kinds_find_each_vector(config, expected):
    vectors = unit_vectors(400)
    index = build_index(vectors, config)
    assert type(index) is expected
    assert index.ntotal == 400
    found = sum(search_index(index, vectors[i], 1)[1][0] == i for i in range(0, 400, 10))
    assert found >= 38  # exact for flat; approximate indexes still find (almost) every vector itself


def test_ivf_parameters():
    index = build_index(unit_vectors(400), IndexConfig(kind="ivf", ivf_nprobe=4))
    assert index.nlist == 80  # 4·√400
    assert index.nprobe == 4
    tiny = build_index(unit_vectors(3), IndexConfig(kind="ivf"))
    assert tiny.nlist == 3 and tiny.nprobe == 3


def test_hnsw_parameters():
    index = build_index(unit_vectors(50), IndexConfig(kind="hnsw", hnsw_m=16, ef_search=40))
    assert index.hnsw.efSearch == 40
    assert index.hnsw.nb_neighbors(1) == 16


def test_unknown_kind():
    with pytest.raises(ValueError, match="unknown index kind"):
        build_index(unit_vectors(3), IndexConfig(kind="annoy"))


def test_search_index_edges():
    index = build_index(unit_vectors(3))
    scores, ids = search_index(index, unit_vectors(1)[0], 10)
    assert len(ids) == 3 and sorted(ids.tolist()) == [0, 1, 2]
    assert list(scores) == sorted(scores, reverse=True)
    empty = build_index(np.zeros((0, 32), dtype=np.float32))
    assert len(search_index(empty, unit_vectors(1)[0], 5)[1]) == 0


@pytest.mark.parametrize(
    ("index", "kind"),
    [
        (IndexConfig(kind="ivf"), "IndexIVFFlat"),
        (IndexConfig(hnsw_threshold=1), "IndexHNSWFlat"),
        (IndexConfig(kind="flat"), "IndexFlatIP"),
    ],
)
def test_retriever_on_every_index_kind(article_corpus, tmp_path, counting, index, kind):
    cache = tmp_path / "cache"
    r = open_retriever(article_corpus, cache, counting(), index=index)
    assert r.info.kind == kind
    assert 3 in r.search(QUESTION, k=1, mode="dense")[0].paragraphs
    assert 3 in r.search(QUESTION, k=1)[0].paragraphs
    again = open_retriever(article_corpus, cache, counting(), index=index)
    assert again.info.status == "loaded" and again.info.kind == kind
