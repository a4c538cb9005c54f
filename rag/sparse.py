"""BM25 keyword search over chunks (bm25s, with Snowball stemming and English stop words)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import bm25s
import numpy as np
import Stemmer

# bm25s sets its own logger to DEBUG on import, which floods any app's console; undo that.
logging.getLogger("bm25s").setLevel(logging.WARNING)


class BM25Index:
    """A BM25 index over a list of texts; ``search`` returns positions into that list."""

    def __init__(self, texts: Sequence[str], *, language: str = "english", k1: float = 1.2, b: float = 0.75):
        self._tokenizer = bm25s.tokenization.Tokenizer(stemmer=Stemmer.Stemmer(language), stopwords="en")
        self._size = len(texts)
        self._bm25 = bm25s.BM25(k1=k1, b=b)
        if texts:
            tokens = self._tokenizer.tokenize(list(texts), show_progress=False)
            self._bm25.index(tokens, show_progress=False)

    def __len__(self) -> int:
        return self._size

    @property
    def model(self) -> bm25s.BM25:
        """The underlying ``bm25s.BM25`` model (read it; do not change it)."""
        return self._bm25

    @property
    def tokenizer(self) -> bm25s.tokenization.Tokenizer:
        """The tokenizer the index and its queries go through."""
        return self._tokenizer

    def search(self, query: str, k: int, among: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(scores, ids)`` of up to ``k`` texts that share a term with ``query``.

        ``among``: only the texts at these positions are candidates.
        """
        k = min(k, self._size if among is None else len(among))
        if k <= 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        mask = None
        if among is not None:
            mask = np.zeros(self._size, dtype=np.float32)
            mask[among] = 1.0
        tokens = self._tokenizer.tokenize([query], update_vocab=False, show_progress=False)
        ids, scores = self._bm25.retrieve(tokens, k=k, show_progress=False, n_threads=1, weight_mask=mask)
        keep = scores[0] > 0
        return scores[0][keep].astype(np.float32), ids[0][keep].astype(np.int64)
