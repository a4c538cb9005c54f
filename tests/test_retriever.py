"""rag.retriever: the public search API over real indexes."""

from __future__ import annotations

import dataclasses
import shutil
import time

import pytest
from conftest import ARTICLE_ID, CORPUS_DIR, REPO, SAMPLE_ARTICLES

from rag import Passage, Retriever, RetrieverConfig
from rag.retriever import MAX_QUERY_CHARS, default_cache_root, default_corpus

QUESTION = "Who confirmed the troops were in Russia?"


@pytest.fixture(scope="module")
def expanded(embedder, tmp_path_factory) -> Retriever:
    return Retriever.from_corpus(
        CORPUS_DIR, embedder=embedder, cache_dir=str(tmp_path_factory.mktemp("expand")), expand=1
    )


@pytest.fixture(scope="module")
def samples(embedder, tmp_path_factory) -> Retriever:
    return Retriever.from_corpus(
        SAMPLE_ARTICLES, embedder=embedder, cache_dir=str(tmp_path_factory.mktemp("samples"))
    )


def test_readme_api(monkeypatch, embedder, tmp_path):
    """The README example, run from the project folder, as written (plus a private cache)."""
    monkeypatch.chdir(REPO)
    retriever = Retriever.from_corpus("corpus", embedder=embedder, cache_dir=str(tmp_path))
    passages = retriever.search("Who confirmed the troops were in Russia?", k=5)
    assert 1 <= len(passages) <= 5
    assert all(isinstance(p, Passage) for p in passages)
    top = passages[0]
    assert 3 in top.paragraphs
    assert top.doc == ARTICLE_ID
    assert isinstance(top.text, str) and "NATO and the United States confirmed" in top.text
    assert isinstance(top.paragraphs, tuple) and all(isinstance(n, int) for n in top.paragraphs)
    assert isinstance(top.score, float)
    assert set(top.retrievers) <= {"dense", "sentence", "bm25"} and top.retrievers
    assert top.chunk_id.startswith(f"{ARTICLE_ID}:")
    assert top.title.startswith("North Korea’s support puts")
    assert str(tmp_path) in retriever.info.folder


def test_passage_is_frozen(retriever):
    passage = retriever.search(QUESTION, k=1)[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        passage.text = "changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        passage.score = 1.0  # type: ignore[misc]


def test_default_corpus_is_the_project_corpus():
    assert default_corpus() == CORPUS_DIR


def test_top_passage_holds_paragraph_3(retriever):
    assert 3 in retriever.search(QUESTION, k=5)[0].paragraphs


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_modes(retriever, mode):
    passages = retriever.search(QUESTION, k=5, mode=mode)
    assert 1 <= len(passages) <= 5
    assert any(3 in p.paragraphs for p in passages[:3])
    scores = [p.score for p in passages]
    assert scores == sorted(scores, reverse=True)
    assert len({p.chunk_id for p in passages}) == len(passages)
    used = {name for p in passages for name in p.retrievers}
    if mode == "dense":
        assert used <= {"dense", "sentence"} and "dense" in used
    elif mode == "bm25":
        assert used == {"bm25"}
    else:
        assert used == {"dense", "sentence", "bm25"}


def test_mode_set_at_construction(embedder, tmp_path):
    r = Retriever.from_corpus(CORPUS_DIR, embedder=embedder, cache_dir=str(tmp_path), mode="bm25")
    assert {n for p in r.search(QUESTION) for n in p.retrievers} == {"bm25"}
    assert {n for p in r.search(QUESTION, mode="dense") for n in p.retrievers} <= {"dense", "sentence"}


def test_bm25_returns_nothing_without_shared_words(retriever):
    assert retriever.search("zzzqqq xylophone", mode="bm25") == []
    assert len(retriever.search("zzzqqq xylophone", mode="dense")) == 5


def test_bad_arguments(retriever):
    for query in ("", "   ", "\n\t"):
        with pytest.raises(ValueError, match="empty"):
            retriever.search(query)
    for k in (0, -3):
        with pytest.raises(ValueError, match="k must be"):
            retriever.search(QUESTION, k=k)
    with pytest.raises(ValueError, match="unknown retrieval mode"):
        retriever.search(QUESTION, mode="magic")


def test_huge_k_and_long_query(retriever):
    everything = retriever.search(QUESTION, k=1000)
    assert len(everything) == len(retriever.chunks)
    long_query = ("Who confirmed the troops were in Russia? " * 500)[: MAX_QUERY_CHARS * 2]
    assert retriever.search(long_query, k=3)


def test_passage_text_is_in_the_article(retriever, expanded, article_raw):
    queries = [QUESTION, "Hwasong-16B", "What did Kim Yo-jong condemn?", "KCNA photo", "China uncomfortable"]
    for r in (retriever, expanded):
        for query in queries:
            for mode in ("hybrid", "dense", "bm25"):
                for p in r.search(query, k=5, mode=mode):
                    if r is retriever:  # a chunk: one run of the article, verbatim
                        assert p.text in article_raw, (query, mode, p.chunk_id)
                    else:  # expanded passages may step over a section heading
                        for part in p.text.split("\n\n"):
                            assert part in article_raw, (query, mode, p.chunk_id)
                    assert p.text == "\n\n".join(r.paragraph(p.doc, n).text for n in p.paragraphs)


def test_expand_adds_neighbours(retriever, expanded):
    plain = retriever.search(QUESTION, k=5)
    wide = expanded.search(QUESTION, k=5)
    assert wide[0].chunk_id == plain[0].chunk_id
    first = plain[0].paragraphs
    assert wide[0].paragraphs == tuple(range(max(1, first[0] - 1), min(27, first[-1] + 1) + 1))
    assert set(first) < set(wide[0].paragraphs)
    # No paragraph is shown twice across the expanded passages.
    shown = [(p.doc, n) for p in wide for n in p.paragraphs]
    assert len(shown) == len(set(shown))
    # Every original hit's own paragraphs are still there (unless an earlier passage took them all).
    for p in wide:
        assert set(p.paragraphs) & set(next(q for q in plain if q.chunk_id == p.chunk_id).paragraphs)


def test_expand_keeps_the_caption_alone(expanded):
    hits = expanded.search("photo released by the Korean Central News Agency", k=5)
    caption = [p for p in hits if 0 in p.paragraphs]
    assert caption and caption[0].paragraphs == (0,)


def test_paragraph_lookup(retriever, article_doc):
    assert retriever.paragraph(ARTICLE_ID, 0).text == article_doc.caption
    assert retriever.paragraph(ARTICLE_ID, 27).text == article_doc.paragraphs[-1].text
    with pytest.raises(KeyError):
        retriever.paragraph(ARTICLE_ID, 28)
    with pytest.raises(KeyError):
        retriever.paragraph("no-such-article", 1)


def test_passage_label_names_article_and_paragraphs(retriever):
    labels = {p.paragraphs: p.label() for p in retriever.search(QUESTION, k=5)}
    for numbers, label in labels.items():
        span = f"¶{numbers[0]}" if len(numbers) == 1 else f"¶{numbers[0]}-{numbers[-1]}"
        assert label == f"{ARTICLE_ID} {span}"


def test_multi_article_corpus_cites_article_and_paragraph(samples):
    assert {d.id for d in samples.corpus.documents} == {"busan-port", "jeju-tourism", "seoul-subway"}
    cases = {
        "How many containers did the port of Busan handle?": ("busan-port", 1),
        "Which group wants to cap the number of cruise passengers?": ("jeju-tourism", 3),
        "How long were the signalling systems tested?": ("seoul-subway", 3),
    }
    for question, (doc, paragraph) in cases.items():
        top = samples.search(question, k=3)[0]
        assert top.doc == doc, question
        assert paragraph in top.paragraphs, question
        assert top.label().startswith(f"{doc} ¶")
        assert samples.paragraph(doc, paragraph).text in top.text
        assert top.title == samples.corpus.document(doc).title


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_search_scoped_to_one_article_finds_only_its_paragraphs(samples, mode):
    question = "How many containers did the port of Busan handle?"
    assert samples.search(question, k=1, mode=mode)[0].doc == "busan-port"
    for doc in ("jeju-tourism", "seoul-subway"):
        hits = samples.search(question, k=5, mode=mode, doc=doc)
        assert {p.doc for p in hits} <= {doc}
        if mode != "bm25":  # BM25 finds only passages sharing a word with the question
            assert hits
    top = samples.search(question, k=3, mode=mode, doc="busan-port")
    assert top[0].doc == "busan-port" and 1 in top[0].paragraphs


def test_search_scoped_to_an_unknown_article_is_an_error(samples):
    with pytest.raises(ValueError, match="no article"):
        samples.search("ports", doc="no-such-article")


def test_scoped_search_on_an_hnsw_index_keeps_to_the_article(embedder, tmp_path):
    from rag.index import IndexConfig

    hnsw = Retriever.from_corpus(
        SAMPLE_ARTICLES, embedder=embedder, cache_dir=str(tmp_path), index=IndexConfig(kind="hnsw")
    )
    assert hnsw.info.kind == "IndexHNSWFlat"
    hits = hnsw.search("How many containers did the port of Busan handle?", k=5, doc="seoul-subway")
    assert hits and {p.doc for p in hits} == {"seoul-subway"}


def test_two_retrievers_side_by_side(retriever, samples):
    question = "Who confirmed the troops were in Russia?"
    a, b = retriever.search(question, k=3), samples.search(question, k=3)
    assert {p.doc for p in a} == {ARTICLE_ID}
    assert {p.doc for p in b} <= {"busan-port", "jeju-tourism", "seoul-subway"}
    # Interleaved use: neither retriever's state leaks into the other.
    assert samples.search("Gimpo Airport driverless line", k=1)[0].doc == "seoul-subway"
    assert 3 in retriever.search(question, k=1)[0].paragraphs
    assert retriever.info.folder != samples.info.folder
    assert retriever.corpus.fingerprint != samples.corpus.fingerprint


def test_two_tmp_corpora_in_one_process(embedder, tmp_path, article_raw):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (one / "article.txt").write_text(article_raw)
    shutil.copy(SAMPLE_ARTICLES / "busan-port.json", two)
    cache = tmp_path / "cache"  # one shared cache root: indexes must not collide
    r1 = Retriever.from_corpus(one, embedder=embedder, cache_dir=str(cache))
    r2 = Retriever.from_corpus(two, embedder=embedder, cache_dir=str(cache))
    assert r1.info.folder != r2.info.folder
    q = "What drove the growth in exports?"
    assert r1.search(q, k=1)[0].doc == "article"
    assert r2.search(q, k=1)[0].doc == "busan-port"
    assert r1.search(q, k=1)[0].text != r2.search(q, k=1)[0].text
    assert Retriever.from_corpus(one, embedder=embedder, cache_dir=str(cache)).info.status == "loaded"


def test_acronym_query_finds_the_long_form(retriever, embedder, tmp_path):
    hits = retriever.search("KCNA", k=3, mode="bm25")
    assert hits and hits[0].paragraphs == (0,)  # the caption names the Korean Central News Agency
    plain = Retriever.from_corpus(CORPUS_DIR, embedder=embedder, cache_dir=str(tmp_path), acronyms=False)
    assert plain.search("KCNA", k=3, mode="bm25") == []


def test_linear_fusion(embedder, tmp_path):
    r = Retriever.from_corpus(CORPUS_DIR, embedder=embedder, cache_dir=str(tmp_path), fusion="linear")
    passages = r.search(QUESTION, k=5)
    assert 3 in passages[0].paragraphs
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)


def test_config_object_and_overrides(embedder, tmp_path):
    config = RetrieverConfig(cache_dir=str(tmp_path), candidates=5, expand=0)
    r = Retriever.from_corpus(CORPUS_DIR, config=config, embedder=embedder, mode="dense")
    assert r.config.mode == "dense" and r.config.candidates == 5
    assert config.mode == "hybrid"  # the caller's config is not modified


def test_default_cache_root_is_beside_the_corpus(tmp_path):
    corpus = tmp_path / "news" / "corpus"
    corpus.mkdir(parents=True)
    assert default_cache_root(corpus) == tmp_path / "news" / ".cache"
    assert (tmp_path / "news" / ".cache").is_dir()
    assert list((tmp_path / "news" / ".cache").iterdir()) == []  # the write probe is cleaned up


# -- dense candidates with a cosine that says nothing -------------------------------------------
ACRONYM_QUESTION = "What does the abbreviation CSIS stand for?"


@pytest.fixture(scope="module")
def no_floor(embedder, tmp_path_factory) -> Retriever:
    return Retriever.from_corpus(
        CORPUS_DIR, embedder=embedder, cache_dir=str(tmp_path_factory.mktemp("nofloor")), dense_min_score=0.0
    )


def test_weak_dense_matches_do_not_outvote_keywords(retriever, no_floor):
    """The embedder cannot place "CSIS" (every cosine is near 0.15); BM25 finds the full name in ¶4."""
    with_floor = retriever.search(ACRONYM_QUESTION, k=3)
    assert 4 in with_floor[0].paragraphs
    assert "bm25" in with_floor[0].retrievers
    assert all(4 not in p.paragraphs for p in no_floor.search(ACRONYM_QUESTION, k=3))


def test_confident_dense_matches_still_count(retriever):
    top = retriever.search(QUESTION, k=3)
    assert any("dense" in p.retrievers or "sentence" in p.retrievers for p in top)


@pytest.mark.parametrize("query", ["zzzz qqqq", "???", "북한 군대"])
def test_a_query_nothing_matches_well_still_gets_the_best_guesses(retriever, query):
    assert len(retriever.search(query, k=3)) == 3


class _Clock:
    """A stand-in for :mod:`time` in ``rag.retriever``: ``monotonic()`` is whatever the test sets."""

    def __init__(self) -> None:
        self.now = time.monotonic() + 1000.0  # later than anything the retriever saw

    def monotonic(self) -> float:
        return self.now


def test_changed_looks_at_the_corpus_folder_at_most_every_two_seconds(
    article_corpus, embedder, tmp_path, monkeypatch
):
    """The web app asks ``changed()`` before each question; by default it looks at the files at
    most every 2 s (``--corpus-check``); ``min_interval=0`` looks every time."""
    import rag.retriever

    r = Retriever.from_corpus(article_corpus, embedder=embedder, cache_dir=str(tmp_path / "cache"))
    clock = _Clock()
    monkeypatch.setattr(rag.retriever, "time", clock)
    assert not r.changed(min_interval=0)  # nothing changed yet; looked at the clock's now
    (article_corpus / "gwangju.md").write_text("# Gwangju\n\nA kimchi festival opened.\n", "utf-8")
    clock.now += 1.9
    assert not r.changed(), "looked again within 2 s"
    assert r.changed(min_interval=0)
    clock.now += 2.1
    assert r.changed()


# -- a keyword match only one paragraph holds ---------------------------------------------------
STUDY = REPO / "tests" / "data" / "news" / "sleep-study.txt"  # a news story written for the tests


@pytest.mark.parametrize("margin", [2.0, 0.0])
def test_a_decisive_keyword_match_is_kept_among_the_k(embedder, tmp_path, margin):
    """Only ¶1 holds "published" (BM25 scores it four times its second), but its one long sentence
    is about sleep and grades, so the embedder ranks it low: rank fusion alone leaves it out of
    the top 4, and "When was the study published?" could not be answered. The margin keeps it."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(STUDY, corpus)
    r = Retriever.from_corpus(corpus, embedder=embedder, cache_dir=str(tmp_path / "c"), lexical_margin=margin)
    top = [p.paragraphs for p in r.search("When was the study published?", k=4)]
    assert ((1,) in top) is (margin > 0)
    if margin:
        assert top[-1] == (1,)  # the rest keep their order ahead of it
