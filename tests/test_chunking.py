"""rag.chunking: paragraph-aligned, sentence-preserving, window-safe chunks."""

from __future__ import annotations

import logging

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from rag import Chunker, ChunkingConfig
from rag.chunking import CAPTION_SECTION
from rag.text import split_sentences
from rag.tokens import TiktokenCounter
from rag.types import Document, Paragraph

TIKTOKEN = TiktokenCounter()


def _event(name: str) -> None:
    """Count a case in hypothesis statistics (``--hypothesis-show-statistics``)."""
    if currently_in_test_context():
        event(name)


# -- helpers -------------------------------------------------------------------------------
def paragraph_pieces(chunks) -> list[tuple[int, str]]:
    """(paragraph number, text) for every paragraph piece of every chunk, in chunk order."""
    out = []
    for chunk in chunks:
        segments = chunk.text.split("\n\n")
        assert len(segments) == len(chunk.paragraphs), chunk.id
        out.extend(zip(chunk.paragraphs, segments, strict=True))
    return out


def source_paragraphs(doc: Document, config: ChunkingConfig) -> list[Paragraph]:
    paragraphs = list(doc.paragraphs)
    if config.include_caption and doc.caption:
        paragraphs.insert(0, Paragraph(doc.id, 0, doc.caption, CAPTION_SECTION))
    return paragraphs


def embed_prefix(doc: Document, section: str | None, config: ChunkingConfig) -> str:
    """What the module docstring says is embedded before the text when ``context`` is on."""
    if not config.context:
        return ""
    return (doc.title if not section else f"{doc.title} — {section}") + "\n"


def sentence_spans(text: str) -> list[tuple[int, int]]:
    spans, position = [], 0
    for sentence in split_sentences(text):
        start = text.index(sentence, position)
        spans.append((start, start + len(sentence)))
        position = start + len(sentence)
    return spans


def check_chunks(doc: Document, chunks, config: ChunkingConfig, window, window_limit: int) -> None:
    """Every rule of rag.chunking, checked on the output of one document."""
    paragraphs = source_paragraphs(doc, config)
    by_number = {p.number: p for p in paragraphs}

    # Every chunk belongs to the document (unique ids: see test_chunk_ids_are_unique).
    assert all(c.doc == doc.id for c in chunks)

    # Paragraph numbers: consecutive, one section per chunk, the caption always alone.
    for chunk in chunks:
        _event("merged paragraphs" if len(chunk.paragraphs) > 1 else "single paragraph")
        numbers = list(chunk.paragraphs)
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), chunk.id
        assert {by_number[n].section for n in numbers} == {chunk.section}, chunk.id
        if 0 in numbers:
            assert numbers == [0] and chunk.section == CAPTION_SECTION

    # All text, in order: the pieces of each paragraph, joined by a space, are the paragraph.
    pieces = paragraph_pieces(chunks)
    order = [n for i, (n, _) in enumerate(pieces) if i == 0 or pieces[i - 1][0] != n]
    assert order == [p.number for p in paragraphs]
    for p in paragraphs:
        mine = [t for n, t in pieces if n == p.number]
        assert " ".join(mine) == p.text, p.number

        # Cuts fall on sentence ends, except inside a sentence too long for the window,
        # which is cut between words.
        spans = sentence_spans(p.text)
        ends = {end for _, end in spans}
        prefix = embed_prefix(doc, p.section, config)
        offset = 0
        for piece in mine[:-1]:
            offset += len(piece)
            if offset not in ends:
                start, end = next((s, e) for s, e in spans if s < offset < e)
                sentence = p.text[start:end]
                assert window.count(prefix + sentence) > window_limit, f"cut inside a sentence: {piece!r}"
                assert p.text[offset] == " "
                _event("a sentence cut at word boundaries")
            offset += 1  # the space between pieces

    # Limits: the embedded text fits the window, counted with the model's own tokenizer;
    # max_tokens (tiktoken) holds unless the chunk is a single over-long sentence.
    for chunk in chunks:
        assert window.count(chunk.embed_text) <= window_limit, chunk.id
        if TIKTOKEN.count(chunk.text) > config.max_tokens:
            assert len(chunk.paragraphs) == 1 and len(split_sentences(chunk.text)) == 1, chunk.id
        assert chunk.embed_text == embed_prefix(doc, chunk.section, config) + chunk.text


def make_doc(paragraphs: list[str], sections: list[str | None] | None = None, caption=None) -> Document:
    sections = sections or [None] * len(paragraphs)
    return Document(
        "doc",
        "A test article",
        tuple(
            Paragraph("doc", i, t, s) for i, (t, s) in enumerate(zip(paragraphs, sections, strict=True), 1)
        ),
        caption=caption,
        sections=tuple(dict.fromkeys(s for s in sections if s)),
    )


def long_paragraph(n: int = 30) -> str:
    return " ".join(
        f"Sentence {i} says that the delegation from Pyongyang met officials in Moscow on day {i}."
        for i in range(1, n + 1)
    )


# -- the seed article -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def seed_chunks(article_doc, embedder):
    chunker = Chunker(ChunkingConfig(), window=embedder, window_limit=embedder.max_tokens)
    return chunker.chunk([article_doc])


def test_seed_article_chunks_follow_every_rule(article_doc, seed_chunks, embedder):
    check_chunks(article_doc, seed_chunks, ChunkingConfig(), embedder, embedder.max_tokens)


def test_seed_article_chunk_shape(seed_chunks):
    assert seed_chunks[0].paragraphs == (0,)
    assert seed_chunks[0].section == CAPTION_SECTION
    assert seed_chunks[0].id.endswith(":0")
    merged = [c for c in seed_chunks if len(c.paragraphs) > 1]
    assert merged, "short paragraphs of the article should merge"
    assert any(3 in c.paragraphs for c in seed_chunks)
    covered = sorted(n for c in seed_chunks for n in c.paragraphs)
    assert covered == list(range(28))


def test_chunks_never_cross_sections(seed_chunks):
    for c in seed_chunks:
        if 12 in c.paragraphs:
            assert 13 not in c.paragraphs
        if 20 in c.paragraphs:
            assert 21 not in c.paragraphs


def test_chunk_text_is_verbatim_article_text(seed_chunks, article_raw):
    for c in seed_chunks:
        assert c.text in article_raw, c.id


def test_chunk_ids_name_the_paragraph_span(seed_chunks, article_doc):
    for c in seed_chunks:
        first, last = c.paragraphs[0], c.paragraphs[-1]
        span = str(first) if first == last else f"{first}-{last}"
        assert c.id == f"{article_doc.id}:{span}"


def test_caption_can_be_left_out(article_doc):
    chunks = Chunker(ChunkingConfig(include_caption=False)).chunk([article_doc])
    assert all(0 not in c.paragraphs for c in chunks)
    assert sorted(n for c in chunks for n in c.paragraphs) == list(range(1, 28))


def test_context_prefix(article_doc, embedder):
    config = ChunkingConfig(context=True)
    chunks = Chunker(config, window=embedder, window_limit=embedder.max_tokens).chunk([article_doc])
    check_chunks(article_doc, chunks, config, embedder, embedder.max_tokens)
    late = next(c for c in chunks if 21 in c.paragraphs)
    assert late.embed_text.startswith(f"{article_doc.title} — Nuclear saber-rattling\n")
    early = next(c for c in chunks if 1 in c.paragraphs)
    assert early.embed_text == f"{article_doc.title}\n{early.text}"


@pytest.mark.parametrize("max_tokens", [40, 80, 160, 400])
def test_size_is_configurable(article_doc, embedder, max_tokens):
    config = ChunkingConfig(max_tokens=max_tokens, min_tokens=min(48, max_tokens // 2))
    chunks = Chunker(config, window=embedder, window_limit=embedder.max_tokens).chunk([article_doc])
    check_chunks(article_doc, chunks, config, embedder, embedder.max_tokens)
    for c in chunks:
        if len(split_sentences(c.text)) > 1:
            assert TIKTOKEN.count(c.text) <= max_tokens


def test_smaller_chunks_give_more_chunks(article_doc):
    counts = [
        len(Chunker(ChunkingConfig(max_tokens=m, min_tokens=0)).chunk([article_doc])) for m in (40, 160, 400)
    ]
    assert counts[0] > counts[1] >= counts[2]


def test_min_tokens_zero_keeps_one_chunk_per_paragraph(article_doc):
    chunks = Chunker(ChunkingConfig(min_tokens=0, max_tokens=400)).chunk([article_doc])
    assert [c.paragraphs for c in chunks] == [(n,) for n in range(28)]


def test_invalid_config():
    with pytest.raises(ValueError):
        Chunker(ChunkingConfig(max_tokens=4))
    with pytest.raises(ValueError):
        Chunker(ChunkingConfig(min_tokens=-1))


# -- synthetic documents ------------------------------------------------------------------------
def test_short_paragraphs_merge(embedder):
    doc = make_doc([f"Short paragraph number {i}." for i in range(1, 6)])
    config = ChunkingConfig(max_tokens=160, min_tokens=48)
    chunks = Chunker(config, window=embedder, window_limit=embedder.max_tokens).chunk([doc])
    assert [c.paragraphs for c in chunks] == [(1, 2, 3, 4, 5)]
    assert chunks[0].text == "\n\n".join(p.text for p in doc.paragraphs)
    assert chunks[0].id == "doc:1-5"


def test_long_paragraph_splits_at_sentence_ends(embedder):
    text = long_paragraph(30)
    doc = make_doc(["Intro.", text, "Outro."])
    config = ChunkingConfig(max_tokens=100, min_tokens=20)
    chunks = Chunker(config, window=embedder, window_limit=embedder.max_tokens).chunk([doc])
    check_chunks(doc, chunks, config, embedder, embedder.max_tokens)
    parts = [c for c in chunks if c.paragraphs == (2,)]
    assert len(parts) >= 3
    assert [c.id for c in parts] == [f"doc:2.{i}" for i in range(1, len(parts) + 1)]
    sentences = split_sentences(text)
    for c in parts:
        assert TIKTOKEN.count(c.text) <= 100
        inner = split_sentences(c.text)
        assert inner and all(s in sentences for s in inner)
        assert c.text.startswith("Sentence ") and c.text.endswith(".")
    # Partial paragraphs never merge with their neighbours.
    assert all(c.paragraphs != (1, 2) and c.paragraphs != (2, 3) for c in chunks)


def test_paragraph_too_long_for_the_window_only(embedder):
    """Fits max_tokens (tiktoken) but not the model window: still split at sentence ends."""
    text = long_paragraph(20)
    doc = make_doc([text])
    config = ChunkingConfig(max_tokens=5000, min_tokens=0)
    chunks = Chunker(config, window=embedder, window_limit=64).chunk([doc])
    assert len(chunks) > 1
    check_chunks(doc, chunks, config, embedder, 64)


def test_sentence_longer_than_the_window_is_cut_at_words_with_a_warning(embedder, caplog):
    sentence = " ".join(f"word{i}" for i in range(400)) + "."
    assert embedder.count(sentence) > embedder.max_tokens
    doc = make_doc(["A normal first paragraph.", f"Before it. {sentence} After it."])
    config = ChunkingConfig(max_tokens=5000, min_tokens=0)
    with caplog.at_level(logging.WARNING, logger="rag.chunking"):
        chunks = Chunker(config, window=embedder, window_limit=embedder.max_tokens).chunk([doc])
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert (
        "doc ¶2" in warnings[0].getMessage()
        and "longer than the embedding window" in warnings[0].getMessage()
    )
    check_chunks(doc, chunks, config, embedder, embedder.max_tokens)
    parts = [c for c in chunks if c.paragraphs == (2,)]
    assert len(parts) >= 2
    assert " ".join(c.text for c in parts) == doc.paragraphs[1].text
    for c in parts:
        assert embedder.count(c.embed_text) <= embedder.max_tokens
    words = doc.paragraphs[1].text.split()
    assert all(set(c.text.split()) <= set(words) for c in parts)  # no word cut in half


def test_no_warning_when_everything_fits(article_doc, embedder, caplog):
    with caplog.at_level(logging.WARNING, logger="rag.chunking"):
        Chunker(window=embedder, window_limit=embedder.max_tokens).chunk([article_doc])
    assert not caplog.records


def test_repeated_sentences_get_distinct_chunk_ids():
    doc = make_doc(["Same words here. " * 10 + "Same words here."])
    chunks = Chunker(ChunkingConfig(max_tokens=8, min_tokens=0)).chunk([doc])
    assert len(chunks) > 2
    ids = [c.id for c in chunks]
    assert len(set(ids)) == len(ids), ids


def test_documents_are_chunked_in_order(article_doc):
    other = make_doc(["One more article paragraph."])
    chunks = Chunker().chunk([other, article_doc])
    assert chunks[0].doc == "doc"
    assert {c.doc for c in chunks[1:]} == {article_doc.id}


# -- properties ------------------------------------------------------------------------------
VOCAB = ["troops", "missile", "Kim", "Seoul", "the", "of", "said", "strategic", "a", "Russia’s", "Hwasong-18",
         "2024", "“we", "owe", "you”", "intercontinental", "U.S.", "treaty", "in", "Dr."]  # fmt: skip


@st.composite
def sentences(draw):
    long = draw(st.integers(0, 10)) == 0  # now and then a sentence longer than the small window
    n = draw(st.integers(70, 100)) if long else draw(st.integers(1, 30))
    body = draw(st.lists(st.sampled_from(VOCAB), min_size=n, max_size=n))
    first = draw(st.sampled_from(["North", "Officials", "Experts", "It", "Pyongyang", "7"]))
    end = draw(st.sampled_from([".", ".", "!", "?", ".”"]))
    return " ".join([first, *body]) + end


@st.composite
def documents(draw):
    n = draw(st.integers(1, 8))
    paragraphs = [" ".join(draw(st.lists(sentences(), min_size=1, max_size=4))) for _ in range(n)]
    # Sections come in runs, as in an article: a heading, then its paragraphs.
    names = [None, "Background", "Reaction"]
    sections = [names[i] for i in sorted(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))]
    caption = draw(st.none() | st.just("A caption under the photo. PHOTO: YONHAP"))
    return make_doc(paragraphs, sections, caption)


@given(
    doc=documents(),
    max_tokens=st.integers(8, 300),
    min_tokens=st.integers(0, 120),
    context=st.booleans(),
    include_caption=st.booleans(),
    small_window=st.booleans(),
)
def test_chunker_properties(embedder, doc, max_tokens, min_tokens, context, include_caption, small_window):
    config = ChunkingConfig(
        max_tokens=max_tokens, min_tokens=min_tokens, context=context, include_caption=include_caption
    )
    limit = 64 if small_window else embedder.max_tokens
    chunks = Chunker(config, window=embedder, window_limit=limit).chunk([doc])
    check_chunks(doc, chunks, config, embedder, limit)


@given(doc=documents(), max_tokens=st.integers(8, 300), min_tokens=st.integers(0, 120))
@example(
    doc=make_doc(["North troops. North troops troops troops troops. North troops."]),
    max_tokens=8,
    min_tokens=0,
)
def test_chunk_ids_are_unique(doc, max_tokens, min_tokens):
    config = ChunkingConfig(max_tokens=max_tokens, min_tokens=min_tokens)
    ids = [c.id for c in Chunker(config).chunk([doc])]
    assert len(set(ids)) == len(ids), ids


@given(doc=documents(), max_tokens=st.integers(8, 300), min_tokens=st.integers(0, 120))
def test_merged_chunks_stay_within_max_tokens(doc, max_tokens, min_tokens):
    """Paragraphs merge only "while the result stays within max_tokens" (module docstring)."""
    config = ChunkingConfig(max_tokens=max_tokens, min_tokens=min_tokens, include_caption=False)
    for chunk in Chunker(config).chunk([doc]):
        if len(chunk.paragraphs) > 1:
            assert TIKTOKEN.count(chunk.text) <= max_tokens, chunk.id
