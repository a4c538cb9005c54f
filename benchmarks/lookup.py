"""``python -m benchmarks.lookup``: the local model's replies with and without prompt-lookup drafts.

For each single-turn question of the dev set (``--limit``), the answer prompt the assistant
builds (the whole article, read once, then the question) is answered greedily twice on the same
loaded model: by llama-cpp-python's own ``create_completion`` and by
:func:`rag.backends.lookup.greedy_tokens` with ``--draft`` tokens drafted from the prompt. The
two replies must be the same text; what differs is the time to write them. Writes
``bench-lookup.json`` and ``bench-lookup.md`` under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(limit: int, drafts: list[int], max_tokens: int) -> dict:
    from rag import Assistant
    from rag.assistant import AssistantConfig, _Step
    from rag.backends.lookup import ends_reply, greedy_tokens

    bot = Assistant.from_corpus(ROOT / "corpus", config=AssistantConfig(while_reading="wait"))
    backend = bot.backend
    llm = backend.load()
    bot.warm()
    questions = [json.loads(line) for line in (ROOT / "eval" / "qa.jsonl").read_text("utf-8").splitlines()]
    questions = [q["question"] for q in questions if not q.get("turns")][:limit]
    rows = []
    for question in questions:
        passages = bot.retriever.search(question, k=bot.config.k)
        scored = bot.evidence.score(question, passages)
        signals = bot._signals(question, question, scored)
        step = _Step(question, question, passages, scored, time.perf_counter(), 0.0, signals)
        article, _ = bot.reading.primed(step.scored, wait=True)
        tokens = backend._tokens(bot._prompt(step, [], article).messages)
        row = {"question": question}
        with backend._turn():
            backend._restore(llm, tokens)
            start = time.perf_counter()
            chunks = llm.create_completion(tokens, max_tokens=max_tokens, temperature=0.0, stream=True)
            pieces = [c["choices"][0]["text"] for c in chunks]
            row["plain_s"] = time.perf_counter() - start
            plain = "".join(pieces).strip()
            for draft in drafts:
                backend._restore(llm, tokens)
                stats: dict[str, int] = {}
                start = time.perf_counter()
                out = list(greedy_tokens(llm, tokens, max_tokens, draft=draft, stats=stats))
                row[f"lookup{draft}_s"] = time.perf_counter() - start
                kept = [t for t in out if not ends_reply(llm, t)]
                text = llm.detokenize(kept).decode("utf-8", "ignore").strip()
                row[f"lookup{draft}_same"] = text == plain
                row[f"lookup{draft}_tokens_per_step"] = stats["tokens"] / max(1, stats["steps"] + 1)
        row["tokens"] = len(llm.tokenize(plain.encode("utf-8"), add_bos=False))
        rows.append(row)
    plain_p50 = statistics.median(r["plain_s"] for r in rows)
    summary: dict = {"questions": len(rows), "max_tokens": max_tokens, "plain_p50_s": plain_p50}
    for draft in drafts:
        summary[f"lookup{draft}"] = {
            "p50_s": statistics.median(r[f"lookup{draft}_s"] for r in rows),
            "same_reply": sum(r[f"lookup{draft}_same"] for r in rows),
            "total_ratio": sum(r[f"lookup{draft}_s"] for r in rows) / sum(r["plain_s"] for r in rows),
            "tokens_per_step": statistics.mean(r[f"lookup{draft}_tokens_per_step"] for r in rows),
        }
    return {"summary": summary, "rows": rows, "load": os.getloadavg()[0]}


def report(result: dict) -> str:
    s = result["summary"]
    lines = [
        "# Prompt-lookup drafts (`python -m benchmarks.lookup`)",
        "",
        f"{s['questions']} dev questions, the article read once, greedy replies of at most "
        f"{s['max_tokens']} tokens; load average {result['load']:.2f} before.",
        "",
        "| reply written by | p50 | total time against plain | same reply | tokens per step |",
        "|---|---|---|---|---|",
        f"| create_completion (plain) | {s['plain_p50_s']:.2f} s | 1.00 | | 1.0 |",
    ]
    for key, row in s.items():
        if key.startswith("lookup"):
            same = f"{row['same_reply']}/{s['questions']}"
            cells = [f"drafts of {key[6:]}", f"{row['p50_s']:.2f} s", f"{row['total_ratio']:.2f}", same,
                     f"{row['tokens_per_step']:.2f}"]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--draft", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--max-tokens", type=int, default=120)
    parser.add_argument("--out", default=str(ROOT / "eval" / "results"))
    args = parser.parse_args()
    result = run(args.limit, args.draft, args.max_tokens)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench-lookup.json").write_text(json.dumps(result, indent=2), "utf-8")
    (out / "bench-lookup.md").write_text(report(result), "utf-8")
    print(report(result))


if __name__ == "__main__":
    main()
