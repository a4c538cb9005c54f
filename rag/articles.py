"""Articles added to (or removed from) a corpus folder while the app runs.

An upload (``.txt``, ``.md``, ``.json`` or ``.html``) or a JSON body ``{title, text, date?,
author?}`` is checked here: its size, that it is UTF-8 text, that its name holds no path, that it
has a body. HTML pages go through ``trafilatura`` (main text, title, author, date) and, like JSON
bodies, are saved in the corpus's JSON article format, which :mod:`rag.corpus` reads back.
A file is written to a temporary name in the corpus folder and renamed into place, so a reader
never sees half of it, and a failure leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from .corpus import parse_document
from .text import clean_text
from .types import Document

MAX_ARTICLE_BYTES = 2 * 1024 * 1024
UPLOAD_SUFFIXES = (".txt", ".md", ".json", ".html", ".htm")
MAX_ID_CHARS = 80
TEMP_PREFIX = ".adding-"


class ArticleError(ValueError):
    """Why an article cannot be added or removed; ``status`` is the HTTP status that fits."""

    def __init__(self, message: str, *, status: int = 400, code: str = "invalid_article") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class NewArticle:
    """A checked article, ready to be written as ``filename`` into a corpus folder."""

    id: str
    filename: str
    content: bytes
    document: Document


def summary(doc: Document) -> dict:
    """What ``GET /v1/articles`` lists for one article."""
    return {
        "id": doc.id,
        "title": doc.title,
        "date": doc.date,
        "author": doc.author,
        "paragraphs": len(doc.paragraphs),
    }


def slug(text: str) -> str:
    """An article id from a title or file name, as :func:`rag.corpus.load_corpus` would make it."""
    value = re.sub(r"[^\w.-]+", "-", text.strip().lower()).strip("-.")
    return value[:MAX_ID_CHARS].rstrip("-.")


def check_filename(name: str) -> tuple[str, str]:
    """``(stem, suffix)`` of an uploaded file's name; a name with a path or no usable stem is refused."""
    if not isinstance(name, str) or not name.strip():
        raise ArticleError("the file has no name", code="bad_filename")
    if "\0" in name or name != PurePosixPath(name).name or name != PureWindowsPath(name).name:
        raise ArticleError(f"the file name {name!r} holds a path: send the name only", code="bad_filename")
    if name.startswith(".") or name in ("..", "."):
        raise ArticleError(f"the file name {name!r} is hidden or empty", code="bad_filename")
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        allowed = ", ".join(s for s in UPLOAD_SUFFIXES if s != ".htm")
        raise ArticleError(
            f"the file type {suffix or '(none)'} is not accepted: send {allowed}",
            status=415,
            code="unsupported_file_type",
        )
    stem = slug(Path(name).stem)
    if not stem:
        raise ArticleError(f"the file name {name!r} gives no usable article id", code="bad_filename")
    return stem, suffix


def decode(content: bytes, what: str = "the file") -> str:
    """UTF-8 text of an upload (a BOM is dropped); binary or other encodings are refused."""
    if len(content) > MAX_ARTICLE_BYTES:
        raise ArticleError(
            f"{what} is {len(content):,} bytes, over the {MAX_ARTICLE_BYTES:,}-byte (2 MB) limit",
            status=413,
            code="too_large",
        )
    if b"\0" in content:
        raise ArticleError(f"{what} is binary, not text", code="binary_file")
    try:
        return content.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError:
        raise ArticleError(f"{what} is not UTF-8 text", code="not_utf8") from None


def from_upload(filename: str, content: bytes) -> NewArticle:
    """An uploaded file: checked, parsed as the corpus will read it; HTML turned into JSON."""
    stem, suffix = check_filename(filename)
    text = decode(content)
    if not text.strip():
        raise ArticleError("the article is empty", code="empty_article")
    if suffix in (".html", ".htm"):
        return _from_html(stem, text)
    if suffix == ".json":
        document = _parse(text, stem, ".json")
        return _as_json(stem, document)  # saved without any "id" field: the file name is the id
    document = _parse(text, stem, suffix)
    return NewArticle(stem, stem + suffix, text.encode("utf-8"), document)


def from_fields(data: object) -> NewArticle:
    """A JSON body ``{"title": str, "text": str, "date"?: str, "author"?: str, "id"?: str}``."""
    if not isinstance(data, Mapping):
        raise ArticleError('the body must be a JSON object: {"title": ..., "text": ...}', code="bad_body")
    unknown = sorted(set(data) - {"title", "text", "date", "author", "id"})
    if unknown:
        raise ArticleError(f"unknown field(s): {', '.join(unknown)}", code="bad_body")
    for key in ("title", "text", "date", "author", "id"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise ArticleError(f'"{key}" must be a string', code="bad_body")
    title = clean_text(data.get("title") or "")
    text = data.get("text") or ""
    if not title:
        raise ArticleError('"title" is missing or empty', code="bad_body")
    if len(text.encode("utf-8")) > MAX_ARTICLE_BYTES:
        raise ArticleError("the text is over the 2 MB limit", status=413, code="too_large")
    if "\0" in text:
        raise ArticleError("the text is binary, not text", code="binary_file")
    paragraphs = [clean_text(" ".join(b.split())) for b in re.split(r"\n\s*\n", text)]
    paragraphs = [p for p in paragraphs if p]
    if not paragraphs:
        raise ArticleError("the article is empty: no text", code="empty_article")
    article_id = slug(data.get("id") or title)
    if not article_id:
        raise ArticleError('the title gives no usable article id: send an "id"', code="bad_body")
    record = {
        "title": title,
        "paragraphs": paragraphs,
        "date": data.get("date"),
        "author": data.get("author"),
    }
    return _record(article_id, record)


def _from_html(stem: str, html: str) -> NewArticle:
    import trafilatura  # the web extra; only HTML uploads need it

    found = trafilatura.bare_extraction(
        html, with_metadata=True, include_comments=False, include_tables=False, as_dict=True
    )
    text = (found or {}).get("text") or ""
    paragraphs = [clean_text(line) for line in text.splitlines()]
    paragraphs = [p for p in paragraphs if p]
    if not paragraphs:
        raise ArticleError("no article text found in the HTML page", code="empty_article")
    title = clean_text(found.get("title") or "") or None
    record = {
        "title": title,
        "paragraphs": paragraphs,
        "date": found.get("date"),
        "author": found.get("author"),
    }
    return _record(stem, record)


def _record(article_id: str, record: dict) -> NewArticle:
    record = {k: v for k, v in record.items() if v not in (None, "")}
    text = json.dumps(record, ensure_ascii=False, indent=1) + "\n"
    return NewArticle(
        article_id, article_id + ".json", text.encode("utf-8"), _parse(text, article_id, ".json")
    )


def _as_json(article_id: str, doc: Document) -> NewArticle:
    record = {
        "title": doc.title,
        "subtitle": doc.subtitle,
        "author": doc.author,
        "publisher": doc.publisher,
        "date": doc.date,
        "caption": doc.caption,
        "paragraphs": [
            {"text": p.text, "section": p.section} if p.section else p.text for p in doc.paragraphs
        ],
    }
    return _record(article_id, record)


def _parse(text: str, article_id: str, suffix: str) -> Document:
    try:
        return parse_document(text, doc_id=article_id, suffix=suffix, source=article_id + suffix)
    except (ValueError, TypeError, AttributeError) as exc:  # json, yaml and "no body paragraphs"
        reason = str(exc) or type(exc).__name__
        if "no body paragraphs" in reason or reason == "no text":
            raise ArticleError("the article is empty: no body paragraphs", code="empty_article") from None
        raise ArticleError(f"the article cannot be read: {reason}", code="unreadable_article") from None


# -- the corpus folder ---------------------------------------------------------------------
def write(folder: str | os.PathLike, article: NewArticle, existing_ids: Iterable[str]) -> Path:
    """Write ``article`` into ``folder`` atomically; a duplicate id is refused, nothing is overwritten.

    Callers that may run at the same time must hold one lock around this call.
    """
    folder = Path(folder)
    if article.id in set(existing_ids) or any(folder.glob(f"{glob_escape(article.id)}.*")):
        raise ArticleError(
            f"an article with the id {article.id!r} already exists: delete it first or use another "
            "title or file name",
            status=409,
            code="duplicate_id",
        )
    target = folder / article.filename
    fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(article.content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, target)  # the caller serialises writers, so the check above still holds
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return target


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def file_of(folder: str | os.PathLike, doc: Document) -> Path:
    """The file of ``doc`` inside ``folder`` (refusing any source that points outside it)."""
    folder = Path(folder).resolve()
    if not doc.source:
        raise ArticleError(f"the article {doc.id!r} has no file", status=409, code="no_file")
    path = (folder / doc.source).resolve()
    if folder not in path.parents:
        raise ArticleError(
            f"the article {doc.id!r} is not inside the corpus folder", status=409, code="no_file"
        )
    return path
