"""Greedy decoding that checks several tokens at once, drafted from the prompt (prompt lookup).

An answer about an article copies the article's words: after "the Comprehensive Strategic" the
next tokens are very likely those that followed the same words in the article. So each step
drafts up to ``draft`` tokens by finding the last ``ngram`` tokens earlier in the prompt (or the
reply) and taking what came after, and the model evaluates the step's token and the draft in one
batch: every drafted token its own greedy choice agrees with is kept, the first disagreement is
replaced by the model's choice. The reply is the plain greedy one; a batch of a few tokens costs a
little more than one token on a CPU, so a reply that copies gets written in fewer, larger steps
(``benchmarks/lookup.py`` measures it).

Works on llama-cpp-python's ``Llama`` object directly (its low-level context and batch), under
the caller's lock; only for temperature 0 and without a grammar.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from .kv_states import common_prefix


def propose(history: Sequence[int], ngram: int, draft: int) -> list[int]:
    """Up to ``draft`` tokens that followed the latest earlier occurrence of the last ``ngram``
    (down to 1) tokens of ``history``; ``[]`` when none occurs earlier."""
    n = len(history)
    for size in range(min(ngram, n - 1), 0, -1):
        tail = list(history[n - size :])
        for start in range(n - size - 1, -1, -1):
            if list(history[start : start + size]) == tail:
                follow = list(history[start + size : start + size + draft])
                if follow:
                    return follow
    return []


def greedy_tokens(
    llm, prompt: Sequence[int], max_tokens: int, *, draft: int = 6, ngram: int = 3, stats: dict | None = None
) -> Iterator[int]:
    """Yield the greedy reply to ``prompt`` token by token (end-of-generation token included).

    ``llm`` is a ``llama_cpp.Llama`` whose cache may already hold a prefix of ``prompt`` (it is
    reused). ``stats`` (optional) counts ``steps`` and ``tokens``: batches evaluated and tokens given.
    """
    n_vocab = llm.n_vocab()
    held = common_prefix(llm.input_ids[: llm.n_tokens], prompt)
    llm.n_tokens = min(held, len(prompt) - 1)
    llm.eval(list(prompt[llm.n_tokens :]))
    choice = int(np.argmax(np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(n_vocab,))))
    history = list(prompt)
    stats = stats if stats is not None else {}
    stats.setdefault("steps", 0)
    stats.setdefault("tokens", 0)
    produced = 0
    while True:
        stats["tokens"] += 1
        yield choice
        produced += 1
        history.append(choice)
        if produced >= max_tokens or ends_reply(llm, choice):
            break
        drafted = propose(history, ngram, draft)[: max_tokens - produced]
        batch = [choice, *drafted]
        past = llm.n_tokens
        llm._ctx.kv_cache_seq_rm(-1, past, -1)
        llm._batch.set_batch(batch, past, logits_all=True)
        llm._ctx.decode(llm._batch)
        llm.input_ids[past : past + len(batch)] = batch
        stats["steps"] += 1
        kept = 0
        for i in range(len(batch)):
            row = np.ctypeslib.as_array(llm._ctx.get_logits_ith(i), shape=(n_vocab,))
            best = int(np.argmax(row))
            if i < len(drafted) and best == drafted[i]:
                kept += 1
                continue
            choice = best
            break
        llm.n_tokens = past + 1 + kept  # the step's token and the drafted tokens kept
        llm._ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)
        stop = False
        for token in drafted[:kept]:
            stats["tokens"] += 1
            yield token
            produced += 1
            history.append(token)
            if produced >= max_tokens or ends_reply(llm, token):
                stop = True
                break
        if stop:
            break


def ends_reply(llm, token: int) -> bool:
    """Whether ``token`` ends the reply (end of generation: end of turn, end of text)."""
    from llama_cpp import llama_cpp

    return bool(llama_cpp.llama_vocab_is_eog(llm._model.vocab, token))
