"""The "naive RAG" baseline: what the grounded pipeline is measured against.

The defaults of LlamaIndex's starter pipeline: fixed 1,024-token windows of each article's text
(tiktoken ``cl100k_base``, paragraph boundaries ignored, no overlap), dense-only top-2 search
with the same embedder as the real retriever (an in-memory exact FAISS index), the windows shown
in the order they come in the corpus (so questions about one short article share one prompt
prefix, which llama.cpp evaluates once, as the pipeline's own article prompt is), the plain
prompt of
:func:`rag.prompt.build_plain_prompt`, and the same backend object as the pipeline (a loaded
model is shared, not loaded twice). No query rewriting, no evidence threshold, no citation
or grounding checks, no refusal flag: whatever the model writes is the answer (its prompt lets it
say that the article does not say, and the metrics count that as a decline).

Note the embedder reads at most its own window (256 word pieces for all-MiniLM-L6-v2), so the
tail of a window is not embedded; that is part of what makes the baseline naive.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from ..backends import BackendError, ChatBackend
from ..embeddings import Embedder
from ..index import IndexConfig, build_index, search_index
from ..prompt import build_plain_prompt
from ..tokens import get_encoding
from ..types import Answer, ChatMessage, Document, Passage, Timings

NAIVE_SUFFIX = " (naive RAG)"


@dataclass(frozen=True)
class NaiveConfig:
    """Settings of the baseline."""

    chunk_tokens: int = 1024
    k: int = 2
    max_tokens: int = 120
    temperature: float = 0.0


def article_text(doc: Document) -> str:
    """The article as one text: title, photo caption, then the body paragraphs."""
    parts = [doc.title, doc.caption or "", *(p.text for p in doc.paragraphs)]
    return "\n\n".join(p for p in parts if p)


def token_windows(text: str, size: int) -> list[str]:
    """Consecutive ``size``-token windows of ``text`` (the last one shorter), no overlap."""
    if size < 1:
        raise ValueError("the window size must be at least 1 token")
    enc = get_encoding()
    ids = enc.encode(text, disallowed_special=())
    return [enc.decode(ids[i : i + size]) for i in range(0, len(ids), size)]


class NaiveRAG:
    """Fixed-window chunks, dense top-k, plain prompt, one backend; ``ask`` mirrors :class:`Assistant`."""

    def __init__(
        self,
        documents: Iterable[Document],
        embedder: Embedder,
        backend: ChatBackend,
        config: NaiveConfig | None = None,
    ) -> None:
        self.config = config or NaiveConfig()
        self.embedder = embedder
        self.backend = backend
        self.chunks: list[Passage] = []
        for doc in documents:
            for i, window in enumerate(token_windows(article_text(doc), self.config.chunk_tokens)):
                self.chunks.append(Passage(window, doc.id, (), 0.0, ("dense",), f"{doc.id}#w{i}", doc.title))
        if not self.chunks:
            raise ValueError("the naive baseline needs at least one article with text")
        vectors = embedder.encode([c.text for c in self.chunks])
        self.index = build_index(vectors, IndexConfig(kind="flat"))

    @property
    def name(self) -> str:
        return self.backend.name + NAIVE_SUFFIX

    def search(self, query: str) -> list[Passage]:
        """The ``k`` windows closest to ``query`` by cosine similarity, in corpus order."""
        scores, ids = search_index(self.index, self.embedder.encode_query(query), self.config.k)
        found = sorted(zip(ids.tolist(), scores.tolist(), strict=True))
        return [replace(self.chunks[i], score=s) for i, s in found if i >= 0]

    def ask(self, question: str, history: Sequence[Mapping | ChatMessage] | None = None) -> Answer:
        """Retrieve for the raw question, prompt the model with the windows (after the history)."""
        start = time.perf_counter()
        passages = self.search(question) if question.strip() else []
        retrieve_s = time.perf_counter() - start
        system, user = build_plain_prompt(question, [p.text for p in passages])
        past = [
            m if isinstance(m, ChatMessage) else ChatMessage(m["role"], m["content"]) for m in history or ()
        ]
        messages = (system, *past, user)
        first_token_s = None
        pieces: list[str] = []
        error = None
        try:
            for piece in self.backend.stream(
                messages, max_tokens=self.config.max_tokens, temperature=self.config.temperature
            ):
                if first_token_s is None:
                    first_token_s = time.perf_counter() - start
                pieces.append(piece)
        except BackendError as exc:
            error = str(exc)
        return Answer(
            text="".join(pieces).strip(),
            refused=False,
            passages=tuple(passages),
            backend=self.name,
            query=question,
            error=error,
            timings=Timings(retrieve_s, first_token_s, time.perf_counter() - start),
        )
