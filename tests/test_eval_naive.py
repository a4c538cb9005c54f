"""The naive-RAG baseline: LlamaIndex's starter defaults, on the real article and embedder."""

from __future__ import annotations

from backend_helpers import ScriptedBackend

from rag.evaluation.naive import NaiveConfig, NaiveRAG, article_text, token_windows
from rag.tokens import get_encoding


def test_windows_cover_the_text_in_order_without_overlap(article_doc):
    text = article_text(article_doc)
    windows = token_windows(text, 1024)
    enc = get_encoding()
    assert all(len(enc.encode(w)) <= 1024 for w in windows)
    assert "".join(windows) == text


def test_top_windows_come_in_corpus_order_so_prompts_share_a_prefix(article_doc, embedder):
    backend = ScriptedBackend("The article does not say.")
    naive = NaiveRAG([article_doc], embedder, backend, NaiveConfig(chunk_tokens=256, k=3))
    assert len(naive.chunks) > 3
    for question in ("Who is Hong Min?", "What did Kim Yo-jong condemn?", "When did Putin visit Pyongyang?"):
        found = naive.search(question)
        order = [naive.chunks.index(next(c for c in naive.chunks if c.chunk_id == p.chunk_id)) for p in found]
        assert len(found) == 3 and order == sorted(order)


def test_a_short_article_is_read_whole_and_the_prompt_is_the_same_for_every_question(article_doc, embedder):
    backend = ScriptedBackend("The article does not say.")
    naive = NaiveRAG([article_doc], embedder, backend)
    assert len(naive.chunks) <= NaiveConfig().k  # the seed article fits in the default top-2
    first = naive.ask("Who is Hong Min?")
    second = naive.ask("What did Kim Yo-jong condemn?")
    heads = [call[-1].content.split("Question:")[0] for call in backend.calls]
    assert heads[0] == heads[1] and "Hong Min" in heads[0]
    assert first.text == second.text == "The article does not say." and not first.refused
