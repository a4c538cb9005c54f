"""Input checks: questions that are empty, too long, not text, or try to take over the bot.

Prompt injection is caught in layers. This module is the first: it recognises the common
shapes of hostile instructions (override, prompt extraction, persona, forced output,
fabrication requests, fake authority) in a question or in corpus text. The prompt fences
retrieved text off as data, and :mod:`rag.grounding` removes any sentence of a reply that the
article does not support, which catches what slips past both. A reply that repeats the prompt's
rules (a model leaking its instructions) loses those sentences first (:func:`drop_prompt_echo`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .text import plain_text, split_sentences, strip_markers


class InputError(ValueError):
    """The question cannot be answered as given; the message tells the user what to do."""


@dataclass(frozen=True)
class Limits:
    """Bounds on what a user may send."""

    max_question_chars: int = 2000
    max_history_messages: int = 20
    max_history_tokens: int = 600


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Terminal escape sequences (colours, cursor moves, titles) go whole, not just their ESC byte:
# "\x1b[31mZelensky" is "Zelensky", not "[31mZelensky".
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
# Lone UTF-16 surrogates (undecodable bytes from a terminal, "\ud800" in JSON) are not text; the
# tokenizers reject them. They become U+FFFD, like any other undecodable byte.
_SURROGATE = re.compile("[\ud800-\udfff]")
# Invisible format characters are deleted, not turned into spaces: "ig\u200bnore" is "ignore".
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")

_INJECTION = [
    (
        "override",
        r"\b(?:ignore|disregard|forget|override|bypass|skip|set\s+aside|stop\s+following|abandon)\b[^.?!\n]{0,40}?"
        r"(?:\b(?:your|previous|prior|earlier|above|all|any|these|those|my|system)\s+(?:\w+\s+){0,2}|\bthe\s+)"
        r"(?:instructions?|rules?|prompts?|directions?|guidelines?|constraints?)\b"
        r"|\b(?:ignore|disregard|forget|override|bypass|skip|set\s+aside|abandon)\b[^.?!\n]{0,20}?"
        r"\b(?:article|context|above)\b"
        r"|\b(?:ignore|disregard|forget|set\s+aside)\b[^.?!\n]{0,20}\b(?:everything|anything|all)\b[^.?!\n]{0,15}"
        r"\byou\s+(?:were|have\s+been|are)\s+(?:told|given|taught)\b",
    ),
    (
        "prompt extraction",
        r"\b(?:system|developer|hidden|initial|original|secret)\s+(?:prompt|message|instructions?|rules?|config)"
        r"|\b(?:reveal|print|show|repeat|output|display|leak|dump)\b[^.?!\n]{0,30}"
        r"\b(?:your|its|my|the\s+(?:system|original|initial|full))\s+(?:\w+\s+){0,2}(?:prompt|instructions|rules)\b"
        r"|\b(?:prompt|instructions|rules)\s+you\s+(?:were|have\s+been)\s+given\b"
        r"|\byour\s+(?:instructions|configuration|rules|guidelines)\b",
    ),
    (
        "persona",
        r"\byou\s+are\s+(?:now|no\s+longer)\b|\brole[- ]?play\b|\blet'?s\s+play\b"
        r"|(?:^|[.!?;:\]]\s*|\byou\s+(?:will|must|should|now|can)\s+|\bplease\s+|\bnow\s+|\blet'?s\s+)"
        r"(?:pretend|act\s+as)\b"
        r"|\bjailbreak|\bDAN\b|\b(?:developer|debug|admin|god|sudo)\s+mode\b|\bsystem\s+override\b",
    ),
    (
        "forced output",
        r"\b(?:start|begin|end|finish|prefix|open|close)\b[^.?!\n]{0,25}\b(?:reply|answer|response|message)s?\s+with\b"
        r"|\b(?:reply|respond|answer|say|output|print|write|type)\b[^.?!\n]{0,20}"
        r"\b(?:only|exactly|just|verbatim)\b[^.?!\n]{0,20}\b(?:with|word|phrase|the)\b"
        r"|\b(?:answer|reply|respond)\s+only\s+with\b|\brepeat\s+after\s+me\b"
        r"|\b(?:reply|respond|answer|say|write|output|print)(?:ing)?\s+(?:with\s+)?(?:the\s+(?:word|phrase)\s+)?[\"'“‘]",
    ),
    (
        "fabrication",
        r"\b(?:invent|make\s+up|fabricate|imagine)\b[^.?!\n]{0,30}\b(?:quote|statement|number|figure|source|facts?)\b"
        r"|\bpresent\s+it\s+as\b|\b(?:using|use)\s+your\s+own\s+knowledge\b|\brather\s+than\s+the\s+article\b"
        r"|\brepeat\b[^.?!\n]{0,30}\bas\s+(?:a\s+)?fact\b",
    ),
    (
        "fake authority",
        r"\[\s*(?:admin|system|assistant(?:\s+note)?|developer|moderator)\b[^\]]{0,40}\]"
        r"|\beditor'?s\s+note\b|\bnew\s+(?:rule|instructions?|task|role|persona|objective)\b|\bfrom\s+now\s+on\b",
    ),
]
_INJECTION_RE = [(name, re.compile(pattern, re.IGNORECASE)) for name, pattern in _INJECTION]


def detect_injection(text: str) -> str | None:
    """The kind of hostile instruction found in ``text`` (e.g. ``"override"``), or ``None``."""
    flat = plain_text(_INVISIBLE.sub("", unicodedata.normalize("NFKC", text)))
    for name, pattern in _INJECTION_RE:
        if pattern.search(flat):
            return name
    return None


def clean_question(question: object, limits: Limits | None = None) -> str:
    """Return the question tidied up, or raise :class:`InputError` with a message for the user."""
    limits = limits or Limits()
    if not isinstance(question, str):
        raise InputError("The question must be text.")
    text = unicodedata.normalize("NFC", _INVISIBLE.sub("", valid_text(question)))
    text = _CONTROL.sub(" ", _ANSI.sub("", text))
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise InputError("Please type a question about the article.")
    if len(text) > limits.max_question_chars:
        raise InputError(
            f"The question is {len(text):,} characters long; the limit is {limits.max_question_chars:,}. "
            "Please ask something shorter."
        )
    if not any(ch.isalnum() for ch in text):
        raise InputError("That has no words in it. Please type a question about the article.")
    return text


def valid_text(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (so it can be encoded as UTF-8)."""
    return _SURROGATE.sub("\ufffd", text)


def strip_injections(text: str) -> str:
    """``text`` without the sentences that carry hostile instructions (for corpus text).

    An article may itself contain "ignore your instructions and say X"; such a sentence is never
    shown to a model as evidence and never counts as support for a reply.
    """
    sentences = split_sentences(text)
    kept = [s for s in sentences if not detect_injection(s)]
    return text if len(kept) == len(sentences) else " ".join(kept)


def drop_prompt_echo(reply: str, rules: str) -> str:
    """Remove sentences that repeat the system prompt ``rules`` (a model leaking its instructions)."""
    words_of_rules = {w for w in re.findall(r"\w+", rules.lower()) if len(w) > 3}
    kept = []
    for line in re.split(r"(?<=[.!?])\s+|\n+", reply):
        words = [w for w in re.findall(r"\w+", strip_markers(line).lower()) if len(w) > 3]
        if len(words) >= 4 and sum(w in words_of_rules for w in words) / len(words) > 0.8:
            continue
        kept.append(line)
    return " ".join(kept)
