"""Load articles from a folder and parse each into metadata and numbered paragraphs.

Supported files: ``.txt`` (news-site text as copied from a page, like the seed article),
``.md`` (optional YAML front matter, ``#`` title, ``##`` section headings) and ``.json``
(``{"title": ..., "paragraphs": [...], ...}``). Every file becomes one :class:`Document`
whose id is the file name without its extension.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import yaml

from .text import DATELINE, clean_text
from .types import Document, Paragraph

log = logging.getLogger(__name__)

PARSER_VERSION = "3"
SUFFIXES = (".txt", ".md", ".markdown", ".json")
MAX_FILE_BYTES = 20 * 1024 * 1024

_IMAGE_FILE = re.compile(r"^\S+\.(?:jpe?g|png|gif|webp|svg|bmp)$", re.IGNORECASE)
_DEBRIS_SUFFIX = re.compile(r"\s*(?:scroll to top|back to top|advertisement)\s*$", re.IGNORECASE)
_DEBRIS_BLOCK = re.compile(
    r"^(?:scroll to top|back to top|advertisement|share|print|email|"
    r"copyright .*|all rights reserved\.?)$",
    re.IGNORECASE,
)
_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec"
)
_WEEKDAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
# A date line: "October 24, 2024", "Friday, August 15, 2008" (Wikinews) or "2024-10-24", maybe
# after "Published" / "Updated" and before a time ("Published March 3, 2025 10:32 a.m. EST").
_DATE = re.compile(
    r"^(?:(?:first\s+)?(?:published|posted|updated|last\s+updated|dated)(?:\s+on)?\s*:?\s+)?"
    rf"(?P<date>(?:(?:{_WEEKDAYS}),\s+)?"
    rf"(?:(?:{_MONTHS})\.? \d{{1,2}}, \d{{4}}|\d{{1,2}} (?:{_MONTHS})\.? \d{{4}})"
    r"|\d{4}-\d{2}-\d{2})"
    r"(?:\s*(?:,|\||-|–|at)?\s*\d{1,2}[:.]\d{2}(?:\s*[ap]\.?m\.?)?(?:\s+[A-Z]{2,5})?)?\s*$",
    re.IGNORECASE,
)
# A byline: "By Maria Lopez", "BY MARIA LOPEZ, Staff Reporter", "By Ana Díaz and Li Wei | AP".
_NAME_WORD = r"[A-Z][\w.'’-]*"
_BYLINE = re.compile(
    rf"^(?:By|BY|by)\s+(?!(?:{_WEEKDAYS}|{_MONTHS}|Then|Now|Today|Tomorrow)\b)(?P<name>{_NAME_WORD}(?:\s+(?:{_NAME_WORD}|and|&|de|da|del|van|von|der|la|le|bin))*)"
    r"\s*(?:(?:[,;|–—]|\s-)\s*(?P<role>[^.!?]{1,60}))?$"
)
_PUBLISHER_WORDS = re.compile(
    r"\b(?:Herald|Times|Post|News|Press|Journal|Agency|Tribune|Gazette|Reuters|Yonhap|"
    r"Associated|Guardian|Daily|Telegraph|Chronicle|Observer|Media|Broadcasting)\b"
)
# The agency in a dateline's brackets: "(AP)", "(Northern Wire)"; not a place ("(Ore.)").
_DATELINE_AGENCY = re.compile(r".*\((?P<agency>[^().]{2,40})\)")
_CAPTION_MARK = re.compile(r"\b(?:PHOTO|Photo|Image|Credit)\s*:", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?…:;\"”’)]$")


class CorpusError(ValueError):
    """The corpus folder cannot be used (missing, empty, or no readable article)."""


@dataclass(frozen=True)
class Corpus:
    """The articles of a corpus folder, the files that were skipped, and a content hash."""

    root: str
    documents: tuple[Document, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    fingerprint: str = ""

    def document(self, doc_id: str) -> Document:
        """Return the document with id ``doc_id``."""
        for doc in self.documents:
            if doc.id == doc_id:
                return doc
        raise KeyError(f"no document {doc_id!r} in {self.root}")


def load_corpus(root: str | Path, *, max_file_bytes: int = MAX_FILE_BYTES) -> Corpus:
    """Read every supported file under ``root`` (recursively, sorted by path).

    Unreadable files (binary, not UTF-8, too large, no paragraphs) are skipped with a
    logged warning and listed in :attr:`Corpus.skipped`; nothing else is lost.
    """
    root = Path(root)
    if root.is_file():
        files = [root]
        base = root.parent
    elif root.is_dir():
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        base = root
    else:
        raise CorpusError(f"corpus folder not found: {root}")
    digest = hashlib.sha256(f"parser={PARSER_VERSION}".encode())
    documents: list[Document] = []
    skipped: list[tuple[str, str]] = []
    used_ids: set[str] = set()
    for path in files:
        rel = path.relative_to(base).as_posix()
        try:
            raw = _read_bytes(path, max_file_bytes)
            doc = parse_document(
                raw.decode("utf-8"),
                doc_id=_unique_id(path, base, used_ids),
                suffix=path.suffix.lower(),
                source=rel,
            )
        except (UnicodeDecodeError, ValueError, OSError, yaml.YAMLError) as exc:
            reason = _reason(exc)
            log.warning("skipping %s: %s", rel, reason)
            skipped.append((rel, reason))
            continue
        if doc.id in used_ids:  # a JSON "id" field can repeat another article's id
            new_id = _free_id(doc.id, used_ids)
            doc = replace(doc, id=new_id, paragraphs=tuple(replace(p, doc=new_id) for p in doc.paragraphs))
        used_ids.add(doc.id)
        documents.append(doc)
        digest.update(rel.encode() + b"\0" + raw + b"\0")
    if not documents:
        detail = "; ".join(f"{p}: {r}" for p, r in skipped) or "no .txt, .md or .json files"
        raise CorpusError(f"no readable article in {root} ({detail})")
    return Corpus(str(root), tuple(documents), tuple(skipped), digest.hexdigest())


def signature(root: str | Path) -> tuple[tuple[str, int, int], ...]:
    """Cheap fingerprint of a corpus folder (names, sizes, modification times), to notice edits."""
    root = Path(root)
    if root.is_file():
        files = [root]
    elif root.is_dir():
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    else:
        return ()
    out = []
    for path in files:
        try:
            st = path.stat()
        except OSError:
            continue
        out.append((str(path), st.st_size, st.st_mtime_ns))
    return tuple(out)


def _read_bytes(path: Path, limit: int) -> bytes:
    size = path.stat().st_size
    if size > limit:
        raise ValueError(f"file is {size:,} bytes, over the {limit:,}-byte limit")
    raw = path.read_bytes()
    if b"\0" in raw:
        raise ValueError("binary file (contains NUL bytes)")
    return raw.removeprefix(b"\xef\xbb\xbf")


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return str(exc) or type(exc).__name__


def _unique_id(path: Path, base: Path, used: set[str]) -> str:
    rel = path.relative_to(base).with_suffix("").as_posix()
    slug = re.sub(r"[^\w.-]+", "-", rel.replace("/", "--")).strip("-").lower() or "article"
    return _free_id(slug, used)


def _free_id(slug: str, used: set[str]) -> str:
    candidate, n = slug, 2
    while candidate in used:
        candidate, n = f"{slug}-{n}", n + 1
    return candidate


def parse_document(text: str, *, doc_id: str, suffix: str = ".txt", source: str | None = None) -> Document:
    """Parse the text of one file into a :class:`Document` (format chosen by ``suffix``)."""
    if suffix == ".json":
        return _parse_json(text, doc_id, source)
    if suffix in (".md", ".markdown"):
        return _parse_markdown(text, doc_id, source)
    return _parse_news_text(text, doc_id, source)


def _blocks(text: str) -> list[str]:
    blocks = [clean_text(" ".join(b.splitlines())) for b in re.split(r"\n\s*\n", text)]
    return [b for b in blocks if b]


def _strip_debris(blocks: list[str]) -> list[str]:
    kept = []
    for block in blocks:
        if _IMAGE_FILE.match(block) or _DEBRIS_BLOCK.match(block):
            continue
        block = _DEBRIS_SUFFIX.sub("", block)
        if block:
            kept.append(block)
    return kept


def _is_heading(block: str) -> bool:
    """A short block that is no sentence: a section heading. Dashes and scores' punctuation are no
    words ("Group F — Sweden 1 – 0 Korea Republic" is seven)."""
    n_words = sum(any(c.isalnum() for c in w) for w in block.split())
    return n_words <= 8 and not _SENTENCE_END.search(block) and not block[:1].islower()


def _parse_date(block: str) -> str | None:
    match = _DATE.match(block)
    if not match:
        return None
    block = re.sub(rf"^(?:{_WEEKDAYS}),\s+", "", match.group("date"), flags=re.IGNORECASE).title()
    # "Sept." / "September": "Sep", first or second
    block = re.sub(r"\b([A-Za-z]{3})[a-z]*\.?(?= )", lambda m: m.group(1), block)
    for fmt in ("%b %d, %Y", "%d %b %Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(block, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def _parse_news_text(text: str, doc_id: str, source: str | None) -> Document:
    blocks = _strip_debris(_blocks(text))
    if not blocks:
        raise ValueError("no text")
    date_at = next((i for i, b in enumerate(blocks[:15]) if _parse_date(b)), None)
    if date_at is None:
        header, body, date = blocks[:1], blocks[1:], None
    else:
        header, body, date = blocks[:date_at], blocks[date_at + 1 :], _parse_date(blocks[date_at])
    title = header[0] if header else blocks[0]
    meta: dict[str, str | None] = {"subtitle": None, "author": None, "publisher": None, "caption": None}
    # A byline under the date line (or with none) is still a byline.
    at = next((i for i, b in enumerate(body[:3]) if _BYLINE.match(b)), None)
    if at is not None:
        header, body = header + body[: at + 1], body[at + 1 :]
    for i, block in enumerate(header[1:], start=1):
        n_words = len(block.split())
        if byline := _BYLINE.match(block):
            role = byline.group("role")
            meta["author"] = meta["author"] or byline.group("name").strip()
            if role and _PUBLISHER_WORDS.search(role):
                meta["publisher"] = meta["publisher"] or role.strip()
        elif n_words <= 5 and not _SENTENCE_END.search(block):
            key = "publisher" if _PUBLISHER_WORDS.search(block) else "author"
            meta[key] = meta[key] or block  # a repeated byline is kept once
        elif _CAPTION_MARK.search(block) or (i > 1 and meta["subtitle"]):
            meta["caption"] = block if not meta["caption"] else f"{meta['caption']} {block}"
        elif not meta["subtitle"]:
            meta["subtitle"] = block
        else:
            body.insert(0, block)
    # A news agency's dateline names who filed the story: "LEEDSHAM, Sept. 9 (Northern Wire) — …".
    line = DATELINE.match(body[0]) if body else None
    filed = _DATELINE_AGENCY.match(line.group(0)) if line else None
    if filed and not meta["publisher"]:
        meta["publisher"] = filed.group("agency").strip()
    return _document(doc_id, title, body, source=source, date=date, **meta)


def _document(
    doc_id: str, title: str, body: list[str], *, source: str | None, **meta: str | None
) -> Document:
    paragraphs: list[Paragraph] = []
    sections: list[str] = []
    section: str | None = None
    for block in body:
        if _is_heading(block) and block != body[-1]:
            section = block
            sections.append(block)
            continue
        paragraphs.append(Paragraph(doc_id, len(paragraphs) + 1, block, section))
    if not paragraphs:
        raise ValueError("no body paragraphs")
    return Document(
        doc_id, clean_text(title), tuple(paragraphs), sections=tuple(sections), source=source, **meta
    )


def _parse_markdown(text: str, doc_id: str, source: str | None) -> Document:
    meta: dict = {}
    front = re.match(r"^---\s*\n(.*?)\n---\s*\n", text, re.DOTALL)
    if front:
        meta = yaml.safe_load(front.group(1)) or {}
        if not isinstance(meta, dict):
            raise ValueError("front matter is not a mapping")
        text = text[front.end() :]
    title = str(meta.get("title") or "")
    body: list[str] = []
    paragraphs: list[Paragraph] = []
    sections: list[str] = []
    section: str | None = None
    text = re.sub(r"(?m)^(#{1,6}[ \t].*)$", r"\n\1\n", text)  # a heading line is its own block
    for block in _strip_debris(_blocks(text)):
        heading = re.match(r"^(#{1,6})\s+(.*)$", block)
        if heading and len(heading.group(1)) == 1 and (not title or not (paragraphs or sections)):
            title = title or heading.group(2).strip()  # "# Title" (the front-matter title wins)
        elif heading:
            section = heading.group(2).strip()
            sections.append(section)
        else:
            body.append(block)
            paragraphs.append(Paragraph(doc_id, len(paragraphs) + 1, block, section))
    if not paragraphs:
        raise ValueError("no body paragraphs")
    title = title or _first_words(paragraphs[0].text)
    return Document(
        doc_id,
        clean_text(title),
        tuple(paragraphs),
        sections=tuple(sections),
        source=source,
        **_meta_fields(meta),
    )


def _parse_json(text: str, doc_id: str, source: str | None) -> Document:
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("paragraphs"), list):
        raise ValueError('JSON article needs an object with a "paragraphs" list')
    doc_id = str(data.get("id") or doc_id)
    paragraphs: list[Paragraph] = []
    sections: list[str] = []
    for item in data["paragraphs"]:
        body, section = (item.get("text"), item.get("section")) if isinstance(item, dict) else (item, None)
        body = clean_text(str(body or ""))
        if not body:
            continue
        if section and section not in sections:
            sections.append(str(section))
        paragraphs.append(Paragraph(doc_id, len(paragraphs) + 1, body, section))
    if not paragraphs:
        raise ValueError("no body paragraphs")
    title = clean_text(str(data.get("title") or "")) or _first_words(paragraphs[0].text)
    return Document(
        doc_id, title, tuple(paragraphs), sections=tuple(sections), source=source, **_meta_fields(data)
    )


def _meta_fields(meta: dict) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for key in ("subtitle", "author", "publisher", "date", "caption"):
        value = meta.get(key)
        out[key] = clean_text(str(value)) if value not in (None, "") else None
    return out


def _first_words(text: str, n: int = 10) -> str:
    words = text.split()
    return " ".join(words[:n]) + ("…" if len(words) > n else "")
