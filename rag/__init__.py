"""Grounded question answering over news articles, with paragraph citations.

Public API::

    from rag import Retriever
    retriever = Retriever.from_corpus("corpus")
    passages = retriever.search("Who confirmed the troops were in Russia?", k=5)

    from rag import Assistant
    bot = Assistant.from_corpus("corpus", backend="extractive")
    answer = bot.ask("Who confirmed the troops were in Russia?")
"""

from .assistant import Assistant, AssistantConfig
from .backends import BackendError, ChatBackend, make_backend
from .chunking import Chunker, ChunkingConfig
from .corpus import Corpus, CorpusError, load_corpus
from .embeddings import Embedder, EmbedderError, SentenceTransformerEmbedder, make_embedder
from .index import IndexConfig
from .retriever import Retriever, RetrieverConfig
from .types import Answer, ChatMessage, Chunk, Citation, Document, Paragraph, Passage, StreamEvent, Timings

__all__ = [
    "Answer",
    "Assistant",
    "AssistantConfig",
    "BackendError",
    "ChatBackend",
    "ChatMessage",
    "Chunk",
    "Chunker",
    "ChunkingConfig",
    "Citation",
    "Corpus",
    "CorpusError",
    "Document",
    "Embedder",
    "EmbedderError",
    "IndexConfig",
    "Paragraph",
    "Passage",
    "Retriever",
    "RetrieverConfig",
    "SentenceTransformerEmbedder",
    "StreamEvent",
    "Timings",
    "load_corpus",
    "make_backend",
    "make_embedder",
]
