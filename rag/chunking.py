"""Paragraph-aligned, token-aware chunking.

Rules, in order:

* a chunk holds whole sentences of consecutive paragraphs of one article and one section,
  and records exactly which paragraph numbers it holds;
* a paragraph longer than ``max_tokens`` (tiktoken) is split at sentence ends;
* paragraphs shorter than ``min_tokens`` merge with their neighbours while the result
  stays within ``max_tokens``;
* the text that is embedded (optionally prefixed with the article title and section
  heading) must fit the embedding model's window, counted with the model's own tokenizer;
  no chunk is ever truncated silently. A single sentence too long for the window is the
  only thing cut, at word boundaries, with a logged warning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .text import split_sentences
from .tokens import TiktokenCounter, TokenCounter
from .types import Chunk, Document, Paragraph

log = logging.getLogger(__name__)

CAPTION_SECTION = "Photo caption"


@dataclass(frozen=True)
class ChunkingConfig:
    """How articles are cut into chunks. Part of the index manifest: changing it rebuilds."""

    max_tokens: int = 160
    min_tokens: int = 48
    context: bool = False
    encoding: str = "cl100k_base"
    include_caption: bool = True


@dataclass(eq=False)  # identity: two equal pieces of one paragraph are still two chunks
class _Unit:
    paragraphs: tuple[int, ...]
    text: str
    tokens: int
    section: str | None
    partial: bool


class Chunker:
    """Turns documents into chunks; see the module docstring for the rules."""

    def __init__(
        self,
        config: ChunkingConfig | None = None,
        *,
        window: TokenCounter | None = None,
        window_limit: int | None = None,
    ) -> None:
        self.config = config or ChunkingConfig()
        if self.config.max_tokens < 8 or self.config.min_tokens < 0:
            raise ValueError("max_tokens must be >= 8 and min_tokens >= 0")
        self.counter = TiktokenCounter(self.config.encoding)
        self.window = window
        self.window_limit = window_limit

    def chunk(self, documents: list[Document] | tuple[Document, ...]) -> list[Chunk]:
        """Chunk every document, in order."""
        return [c for doc in documents for c in self.chunk_document(doc)]

    def chunk_document(self, doc: Document) -> list[Chunk]:
        """Chunk one document."""
        paragraphs = list(doc.paragraphs)
        if self.config.include_caption and doc.caption:
            paragraphs.insert(0, Paragraph(doc.id, 0, doc.caption, CAPTION_SECTION))
        units = [u for p in paragraphs for u in self._units(doc, p)]
        chunks = []
        for group in self._merge(doc, units):
            first, last = group[0].paragraphs[0], group[-1].paragraphs[-1]
            numbers = tuple(dict.fromkeys(n for u in group for n in u.paragraphs))
            text = "\n\n".join(u.text for u in group)
            part = ""
            if group[0].partial:
                siblings = [u for u in units if u.paragraphs == group[0].paragraphs]
                part = f".{siblings.index(group[0]) + 1}"
            span = f"{first}" if first == last else f"{first}-{last}"
            chunks.append(
                Chunk(
                    id=f"{doc.id}:{span}{part}",
                    doc=doc.id,
                    paragraphs=numbers,
                    text=text,
                    embed_text=self._embed_text(doc, group[0].section, text),
                    section=group[0].section,
                )
            )
        return chunks

    def _embed_text(self, doc: Document, section: str | None, text: str) -> str:
        if not self.config.context:
            return text
        head = doc.title if not section else f"{doc.title} — {section}"
        return f"{head}\n{text}"

    def _fits(self, doc: Document, section: str | None, text: str, budget: int | None) -> bool:
        """True when ``text`` has at most ``budget`` tiktoken tokens and fits the embedding window."""
        if budget is not None and self.counter.count(text) > budget:
            return False
        if self.window is None or self.window_limit is None:
            return True
        return self.window.count(self._embed_text(doc, section, text)) <= self.window_limit

    def _units(self, doc: Document, para: Paragraph) -> list[_Unit]:
        budget = self.config.max_tokens
        if self._fits(doc, para.section, para.text, budget):
            return [_Unit((para.number,), para.text, self.counter.count(para.text), para.section, False)]
        pieces: list[str] = []
        current = ""
        for sentence in split_sentences(para.text):
            for piece in self._fit_sentence(doc, para, sentence):
                candidate = f"{current} {piece}".strip()
                if current and not self._fits(doc, para.section, candidate, budget):
                    pieces.append(current)
                    candidate = piece
                current = candidate
        if current:
            pieces.append(current)
        return [_Unit((para.number,), t, self.counter.count(t), para.section, True) for t in pieces]

    def _fit_sentence(self, doc: Document, para: Paragraph, sentence: str) -> list[str]:
        """A sentence that alone exceeds the embedding window is cut at word boundaries."""

        def limit(text: str) -> bool:
            return self._fits(doc, para.section, text, None)

        if limit(sentence):
            return [sentence]
        log.warning(
            "%s ¶%d: a sentence is longer than the embedding window; cut at word boundaries",
            doc.id,
            para.number,
        )
        out, current = [], ""
        for word in sentence.split():
            candidate = f"{current} {word}".strip()
            if current and not limit(candidate):
                out.append(current)
                candidate = word
            current = candidate
        if current:
            out.append(current)
        return out

    def _merge(self, doc: Document, units: list[_Unit]) -> list[list[_Unit]]:
        groups = [[u] for u in units]
        # Greedy, in reading order: a group joins the one before it when either is shorter
        #    than min_tokens and the result fits.
        merged: list[list[_Unit]] = []
        for group in groups:
            last = merged[-1] if merged else None
            short = last is not None and (
                _size(last) < self.config.min_tokens or _size(group) < self.config.min_tokens
            )
            if short and self._joinable(doc, last, group):
                last.extend(group)
            else:
                merged.append(group)
        groups = merged
        return groups

    def _joinable(self, doc: Document, left: list[_Unit], right: list[_Unit]) -> bool:
        """Whole paragraphs of one section (never the caption), within max_tokens and the window."""
        units = [*left, *right]
        if any(u.partial or u.paragraphs[0] == 0 for u in units):
            return False
        if len({u.section for u in units}) > 1 or _size(units) > self.config.max_tokens:
            return False
        # Counted joined: the blank line between paragraphs is a token or two of its own.
        return self._fits(doc, units[0].section, "\n\n".join(u.text for u in units), self.config.max_tokens)


def _size(units: list[_Unit]) -> int:
    return sum(u.tokens for u in units)
