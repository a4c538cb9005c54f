"""Small text utilities: sentence splitting, normalisation, word tokens."""

from __future__ import annotations

import re
import unicodedata

# Words after which a full stop does not end a sentence.
_ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof sr jr st gen lt col maj capt sgt adm gov sen rep pres amb
    rev hon inc corp co ltd no vs etc e.g i.e cf al fig jan feb mar apr jun jul aug
    sep sept oct nov dec u.s u.k u.n a.m p.m approx dept est
    """.split()
)
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+)")
_NEXT_START = re.compile(r"\s+([\"'“‘(\[]?[A-Z0-9\u0080-\uffff])")
_WORD = re.compile(r"\w+(?:[-'’]\w+)*", re.UNICODE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences, keeping every character except the spaces between them.

    Rule based: a sentence ends at ``.``, ``!``, ``?`` or ``…`` (with any closing quotes) that is
    followed by whitespace and a capital, digit, opening quote or non-Latin character, unless
    the word before the stop is a known abbreviation or a single initial.
    """
    text = text.strip()
    if not text:
        return []
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        nxt = _NEXT_START.match(text, end)
        if not nxt:
            continue
        if match.group(0).startswith(".") and _is_abbreviation(text[start : match.start()]):
            continue
        sentence = text[start:end].strip()
        if sentence:
            sentences.append(sentence)
        start = end
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _is_abbreviation(before: str) -> bool:
    words = before.split()
    if not words:
        return False
    last = words[-1].lstrip("\"'“‘(").lower()
    if len(last) == 1 and last.isalpha():  # an initial, as in "John F. Kennedy"
        return True
    return last in _ABBREVIATIONS


def clean_text(text: str) -> str:
    """NFC-normalise, drop control and zero-width characters, and collapse runs of spaces."""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", text)
    return re.sub(r"[ \t\r\f\v]+", " ", text).strip()


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters and digits; hyphenated words kept whole)."""
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def normalize_quotes(text: str) -> str:
    """Replace typographic quotes and dashes with their ASCII look-alikes."""
    table = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "—": "-", "–": "-"})
    return text.translate(table)
