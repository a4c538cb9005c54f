"""rag.corpus: parsing the seed article, other formats, page debris and bad files."""

from __future__ import annotations

import json
import logging
import re
import shutil

import pytest
from conftest import ARTICLE_ID, ARTICLE_PATH, CORPUS_DIR, SAMPLE_ARTICLES

from rag import CorpusError, load_corpus
from rag.corpus import parse_document

HEADINGS = ("Symbolic, strategic implications", "Nuclear saber-rattling")
DATE_LINE = "October 24, 2024"
DEBRIS = ("restmb_idxmake2-10.jpg", "scroll to top")


def raw_body_blocks(raw: str) -> list[str]:
    """The article body straight from the file: blocks after the date line, minus headings and debris.

    Deliberately independent of rag.corpus (no shared regexes or helpers).
    """
    body = raw.split(f"\n{DATE_LINE}\n", 1)[1]
    blocks = [" ".join(b.split()) for b in body.split("\n\n")]
    return [b for b in blocks if b and b not in HEADINGS and b.lower() != "scroll to top"]


def naive_sentences(block: str) -> list[str]:
    """Split at . ! ? (optionally followed by a closing quote) + space + capital or opening quote."""
    pattern = r"(?<=[.!?])\s+(?=[“‘\"A-Z])|(?<=[.!?][”’\"])\s+(?=[“‘\"A-Z])"
    return [s for s in re.split(pattern, block) if s.strip()]


def all_text(doc) -> list[str]:
    fields = [doc.title, doc.subtitle, doc.author, doc.publisher, doc.date, doc.caption, *doc.sections]
    return [f for f in fields if f] + [p.text for p in doc.paragraphs]


# -- the seed article --------------------------------------------------------------------
def test_seed_article_metadata(article_doc):
    doc = article_doc
    assert doc.id == ARTICLE_ID
    assert doc.title == "North Korea’s support puts Russian President Putin in its debt, say experts"
    assert doc.subtitle == (
        "The development may also set the stage for reciprocal support from Moscow for Kim Jong-un's "
        "aggressive ambitions, especially if North Korean casualties occur in the Ukraine war."
    )
    assert doc.author == "Ji Da-gyum"
    assert doc.publisher == "The Korea Herald"
    assert doc.date == "2024-10-24"
    assert doc.caption is not None
    assert doc.caption.startswith("North Korean leader Kim Jong-un (right) inspects a strategic missile base")
    assert doc.caption.endswith("PHOTO: YONHAP/THE KOREA HERALD")
    assert doc.sections == HEADINGS
    assert doc.source == ARTICLE_PATH.name


def test_seed_article_has_27_paragraphs_in_order(article_doc, article_raw):
    paragraphs = article_doc.paragraphs
    assert len(paragraphs) == 27
    assert [p.number for p in paragraphs] == list(range(1, 28))
    assert all(p.doc == ARTICLE_ID for p in paragraphs)
    # Same blocks, same order as the file itself (read without the parser).
    assert [p.text for p in paragraphs] == raw_body_blocks(article_raw)
    assert paragraphs[0].text.startswith("SEOUL – North Korea’s dispatch of personnel")
    assert paragraphs[2].text.startswith("NATO and the United States confirmed for the first time")
    assert paragraphs[-1].text == (
        "North Korea is not recognized as a nuclear-weapon state under the Nuclear Non-Proliferation "
        "Treaty, however."
    )


def test_seed_article_sections_follow_headings(article_doc):
    sections = [p.section for p in article_doc.paragraphs]
    assert sections[:12] == [None] * 12
    assert sections[12:20] == [HEADINGS[0]] * 8
    assert sections[20:] == [HEADINGS[1]] * 7
    assert article_doc.paragraphs[12].text.startswith("Seiler further pointed out")
    assert article_doc.paragraphs[20].text.startswith("While attention remained focused")


def test_headings_are_not_paragraphs(article_doc):
    assert not any(p.text in HEADINGS for p in article_doc.paragraphs)


def test_page_debris_removed(article_doc):
    for text in all_text(article_doc):
        for debris in DEBRIS:
            assert debris not in text.lower(), (debris, text)


def test_byline_kept_once(article_doc):
    assert article_doc.author == "Ji Da-gyum"
    for text in all_text(article_doc):
        if text is not article_doc.author:
            assert "Ji Da-gyum" not in text


def test_every_body_sentence_survives_verbatim(article_doc, article_raw):
    paragraphs = [p.text for p in article_doc.paragraphs]
    sentences = [s for block in raw_body_blocks(article_raw) for s in naive_sentences(block)]
    assert len(sentences) >= 30  # 27 blocks, several with more than one sentence
    last_index = 0
    for sentence in sentences:
        where = [i for i, text in enumerate(paragraphs) if sentence in text]
        assert where, f"sentence lost in cleaning: {sentence!r}"
        assert max(where) >= last_index, f"sentence out of order: {sentence!r}"
        last_index = min(i for i in where if i >= last_index)


def test_caption_survives_verbatim(article_doc, article_raw):
    assert article_doc.caption in article_raw


@pytest.mark.parametrize(
    "glued",
    [
        "however.scroll to top",
        "however. scroll to top",
        "however.scroll to top\n",
        "however.  Scroll To Top  \n",
    ],
)
def test_scroll_to_top_glued_to_last_paragraph(article_raw, glued):
    text = article_raw.replace("however.\n\nscroll to top", glued)
    assert text != article_raw
    doc = parse_document(text, doc_id="glued")
    assert len(doc.paragraphs) == 27
    assert doc.paragraphs[-1].text.endswith("Non-Proliferation Treaty, however.")
    assert all("scroll to top" not in p.text.lower() for p in doc.paragraphs)


def test_crlf_and_bom_give_the_same_document(article_doc, article_raw, tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    data = b"\xef\xbb\xbf" + article_raw.replace("\n", "\r\n").encode("utf-8")
    (folder / ARTICLE_PATH.name).write_bytes(data)
    doc = load_corpus(folder).documents[0]
    assert doc.title == article_doc.title
    assert [p.text for p in doc.paragraphs] == [p.text for p in article_doc.paragraphs]
    assert doc.caption == article_doc.caption


def test_paragraph_lookup(article_doc):
    assert article_doc.paragraph(3).number == 3
    for bad in (0, 28, -1):
        with pytest.raises(KeyError):
            article_doc.paragraph(bad)


def test_load_single_file_path():
    corpus = load_corpus(ARTICLE_PATH)
    assert [d.id for d in corpus.documents] == [ARTICLE_ID]


# -- several articles, several formats --------------------------------------------------------
def test_sample_folder_each_format_is_an_article():
    corpus = load_corpus(SAMPLE_ARTICLES)
    assert [d.id for d in corpus.documents] == ["busan-port", "jeju-tourism", "seoul-subway"]
    assert corpus.skipped == ()

    busan = corpus.document("busan-port")  # JSON
    assert busan.title == "Busan port handles record container volume"
    assert (busan.author, busan.publisher, busan.date) == (
        "Choi Yun-seo",
        "Busan Maritime News",
        "2024-01-15",
    )
    assert [p.section for p in busan.paragraphs] == [None, "Trade", "Trade", "Labour"]
    assert busan.sections == ("Trade", "Labour")

    jeju = corpus.document("jeju-tourism")  # news text
    assert jeju.title == "Jeju tourism rebounds as cruise ships return"
    assert jeju.subtitle == "Island officials expect three million foreign visitors this year."
    assert (jeju.author, jeju.publisher, jeju.date) == ("Kang Ha-neul", "The Island Times", "2024-03-05")
    assert len(jeju.paragraphs) == 3
    assert jeju.paragraphs[-1].text.endswith("at 10,000.")

    seoul = corpus.document("seoul-subway")  # markdown with front matter
    assert seoul.title == "Seoul opens driverless subway line to the airport"
    assert (seoul.author, seoul.publisher, seoul.date) == ("Park Min-ji", "The Seoul Daily", "2024-03-02")
    assert seoul.caption == "A driverless train waits at Gimpo station. PHOTO: SEOUL DAILY"
    assert len(seoul.paragraphs) == 5
    assert [p.section for p in seoul.paragraphs][2:] == ["Safety checks", "Safety checks", "Next steps"]

    with pytest.raises(KeyError):
        corpus.document("nope")


def test_markdown_h1_is_the_title_not_a_section():
    """``#`` is the title (module docstring); it must not also become a section heading."""
    seoul = load_corpus(SAMPLE_ARTICLES).document("seoul-subway")
    assert seoul.sections == ("Safety checks", "Next steps")
    assert [p.section for p in seoul.paragraphs] == [
        None,
        None,
        "Safety checks",
        "Safety checks",
        "Next steps",
    ]


def test_markdown_without_front_matter_takes_h1_title(tmp_path):
    (tmp_path / "note.md").write_text("# A short note\n\nFirst line of text.\n\n## Later\n\nSecond part.\n")
    doc = load_corpus(tmp_path).documents[0]
    assert doc.title == "A short note"
    assert doc.sections == ("Later",)
    assert [(p.number, p.text, p.section) for p in doc.paragraphs] == [
        (1, "First line of text.", None),
        (2, "Second part.", "Later"),
    ]


def test_markdown_heading_directly_followed_by_text(tmp_path):
    """A heading line followed by its paragraph without a blank line (common Markdown)."""
    (tmp_path / "tight.md").write_text(
        "# Title\n\n## Background\nThe first paragraph starts right under its heading.\n\n"
        "Another paragraph.\n"
    )
    doc = load_corpus(tmp_path).documents[0]
    assert doc.sections == ("Background",)
    assert [p.text for p in doc.paragraphs] == [
        "The first paragraph starts right under its heading.",
        "Another paragraph.",
    ]


def test_mixed_folder_ids_are_unique_and_stable(tmp_path):
    shutil.copytree(SAMPLE_ARTICLES, tmp_path / "c")
    shutil.copy(ARTICLE_PATH, tmp_path / "c" / ARTICLE_PATH.name)
    (tmp_path / "c" / "nested").mkdir()
    (tmp_path / "c" / "nested" / "Jeju Tourism.md").write_text("# Nested\n\nA nested article body.\n")
    (tmp_path / "c" / "jeju-tourism.md").write_text("# Same stem\n\nSame file name, other suffix.\n")
    corpus = load_corpus(tmp_path / "c")
    ids = [d.id for d in corpus.documents]
    assert len(ids) == len(set(ids)) == 6
    assert {"busan-port", "jeju-tourism", "seoul-subway", ARTICLE_ID, "nested--jeju-tourism"} <= set(ids)
    assert "jeju-tourism-2" in ids
    assert all(p.doc == d.id for d in corpus.documents for p in d.paragraphs)
    # Loading again gives the same ids and fingerprint.
    again = load_corpus(tmp_path / "c")
    assert [d.id for d in again.documents] == ids
    assert again.fingerprint == corpus.fingerprint


def test_json_id_field_cannot_collide_with_another_article(tmp_path):
    (tmp_path / "a.md").write_text("# First\n\nFirst article text.\n")
    (tmp_path / "b.json").write_text(
        json.dumps({"id": "a", "title": "Second", "paragraphs": ["Second text."]})
    )
    corpus = load_corpus(tmp_path)
    ids = [d.id for d in corpus.documents]
    assert len(ids) == 2
    assert len(set(ids)) == 2, f"two articles share an id: {ids}"


def test_fingerprint_changes_with_content(tmp_path):
    shutil.copytree(SAMPLE_ARTICLES, tmp_path / "c")
    before = load_corpus(tmp_path / "c").fingerprint
    path = tmp_path / "c" / "jeju-tourism.txt"
    path.write_text(path.read_text().replace("three million", "four million"))
    assert load_corpus(tmp_path / "c").fingerprint != before


# -- bad files ------------------------------------------------------------------------------
def test_bad_files_are_skipped_with_a_reason(tmp_path, caplog):
    folder = tmp_path / "c"
    folder.mkdir()
    shutil.copy(SAMPLE_ARTICLES / "jeju-tourism.txt", folder)
    (folder / "binary.txt").write_bytes(b"Title\n\nSome\x00binary\x00bytes.\n")
    (folder / "latin1.md").write_bytes("# Café\n\nUn café crème à Séoul.\n".encode("latin-1"))
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blank.md").write_text("\n\n   \n")
    (folder / "big.txt").write_text("Big title\n\n" + "A long paragraph of words. " * 200)
    (folder / "broken.json").write_text('{"title": "x", "paragraphs": [')
    (folder / "wrong.json").write_text('["not", "an", "object"]')
    (folder / "ignored.pdf").write_bytes(b"%PDF-1.4\x00")
    with caplog.at_level(logging.WARNING, logger="rag.corpus"):
        corpus = load_corpus(folder, max_file_bytes=2000)
    assert [d.id for d in corpus.documents] == ["jeju-tourism"]
    reasons = dict(corpus.skipped)
    assert set(reasons) == {
        "binary.txt",
        "latin1.md",
        "empty.txt",
        "blank.md",
        "big.txt",
        "broken.json",
        "wrong.json",
    }
    assert "NUL" in reasons["binary.txt"]
    assert "UTF-8" in reasons["latin1.md"]
    assert reasons["empty.txt"] == "no text"
    assert "no body paragraphs" in reasons["blank.md"]
    assert "2,000-byte limit" in reasons["big.txt"]
    assert "paragraphs" in reasons["wrong.json"]
    assert reasons["broken.json"]
    for name in reasons:
        assert any(name in r.getMessage() for r in caplog.records), f"no warning logged for {name}"


def test_empty_folder_raises_clear_error(tmp_path):
    with pytest.raises(CorpusError, match=r"no readable article .*no \.txt, \.md or \.json files"):
        load_corpus(tmp_path)


def test_missing_folder_raises_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="corpus folder not found"):
        load_corpus(tmp_path / "does-not-exist")


def test_folder_of_only_bad_files_names_them(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"\x00\x01")
    (tmp_path / "b.txt").write_bytes(b"")
    with pytest.raises(CorpusError) as info:
        load_corpus(tmp_path)
    message = str(info.value)
    assert "a.txt" in message and "NUL" in message and "b.txt" in message


def test_corpus_error_is_a_value_error():
    # The CLI reports ValueError subclasses as "error: ..." with exit code 2.
    assert issubclass(CorpusError, ValueError)


def test_project_corpus_folder_loads_without_skips():
    corpus = load_corpus(CORPUS_DIR)
    assert corpus.skipped == ()
    assert len(corpus.fingerprint) == 64


def test_weekday_dateline_is_the_date_not_a_section():
    """Wire and Wikinews stories open with "Friday, August 15, 2008": the date, not a heading."""
    text = (
        "Storm closes harbour\n\nFriday, August 15, 2008\n\n"
        "A storm closed the harbour on Thursday, officials said.\n\nShips waited offshore for a day.\n"
    )
    doc = parse_document(text, doc_id="storm")
    assert doc.date == "2008-08-15"
    assert doc.sections == ()
    assert [p.text[:7] for p in doc.paragraphs] == ["A storm", "Ships w"]


def test_heading_words_do_not_count_dashes_or_score_marks():
    """A sports subheading ("Group A — Spain 2 – 1 Chile") is a heading like its shorter siblings."""
    text = (
        "Day one\n\nJune 1, 2018\n\nTwo matches were played.\n\n"
        "Group A — Spain 2 – 1 Chile Republic\n\nSpain won late on.\n\n"
        "Group B — Peru 0 – 0 Iran\n\nNobody scored.\n"
    )
    doc = parse_document(text, doc_id="cup")
    assert doc.sections == ("Group A — Spain 2 – 1 Chile Republic", "Group B — Peru 0 – 0 Iran")
    assert [p.section for p in doc.paragraphs] == [None, doc.sections[0], doc.sections[1]]


@pytest.mark.parametrize(
    ("header", "author", "publisher", "date"),
    [
        ("By Maria Lopez, Staff Reporter\n\nPublished March 3, 2025", "Maria Lopez", None, "2025-03-03"),
        ("Updated: Oct. 5, 2024 10:32 a.m. EST\n\nBY JOHN O'NEILL - The Times",
         "JOHN O'NEILL", "The Times", "2024-10-05"),
        ("By Ana Díaz and Li Wei | Associated Press", "Ana Díaz and Li Wei", "Associated Press", None),
        ("Posted on 2024-10-05 at 09:15", None, None, "2024-10-05"),
        ("SEPT. 3, 2024", None, None, "2024-09-03"),
        ("By Daniel Osei\n\nPublished: 9 September 2025", "Daniel Osei", None, "2025-09-09"),  # day first
        ("Tuesday, 3 Sept. 2024", None, None, "2024-09-03"),
    ],
)  # fmt: skip
def test_bylines_and_date_lines_are_the_articles_not_headings(header, author, publisher, date):
    """"By …" lines and "Published …" date lines (with a time, an abbreviated month) are read
    as the byline and the date, above or below each other, and never become section headings."""
    text = f"Bridge repairs approved\n\n{header}\n\nThe council voted on Monday.\n\nWork starts in May.\n"
    doc = parse_document(text, doc_id="bridge")
    assert (doc.author, doc.publisher, doc.date) == (author, publisher, date)
    assert doc.sections == ()
    assert [p.text for p in doc.paragraphs] == ["The council voted on Monday.", "Work starts in May."]


@pytest.mark.parametrize(
    ("first", "publisher"),
    [
        ("LEEDSHAM, Sept. 9 (Northern Wire) — The council voted on Monday.", "Northern Wire"),
        ("WASHINGTON (AP) - The council voted on Monday.", "AP"),
        ("PORTLAND (Ore.) — The council voted on Monday.", None),  # a place, not an agency
        ("SEOUL – The council voted on Monday.", None),
        ("The council (which meets monthly) voted on Monday.", None),  # no dateline
    ],
)
def test_the_agency_in_a_dateline_is_the_publisher(first, publisher):
    """A wire story names who filed it in its dateline's brackets; a publisher above wins."""
    text = f"Bridge repairs approved\n\nBy Maria Lopez\n\nMarch 3, 2025\n\n{first}\n\nWork starts in May.\n"
    doc = parse_document(text, doc_id="bridge")
    assert doc.publisher == publisher
    assert doc.paragraphs[0].text == first  # the dateline stays in the story
    above = parse_document(text.replace("By Maria Lopez", "By Maria Lopez | The Times"), doc_id="bridge")
    assert above.publisher == "The Times"


@pytest.mark.parametrize(
    "first",
    [
        "By the way, the council voted on Monday.",
        "By car, the trip takes two hours.",
        "By Tuesday, repairs had begun.",
    ],
)
def test_a_paragraph_that_starts_with_by_stays_a_paragraph(first):
    text = f"Bridge repairs approved\n\nMarch 3, 2025\n\n{first}\n\nWork starts in May.\n"
    doc = parse_document(text, doc_id="bridge")
    assert doc.author is None
    assert doc.paragraphs[0].text == first
