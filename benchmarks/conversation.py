"""``python -m benchmarks.conversation``: a conversation with the default backend, case by case.

Each case runs in a fresh process (so a model load or a cold cache is counted where it belongs)
and prints one JSON line; :func:`run` collects them into one report:

* ``library``: ``Assistant.from_corpus(corpus)`` and a first question with no ``warm()`` call,
  model load included; then plain questions and follow-ups (a question, its real answer, and a
  follow-up that leans on it), p50 of each and their ratio;
* ``switch``: a corpus of two articles, both read before; questions that alternate between
  them against questions that stay on one;
* ``new``: with the model loaded, a new corpus of one 1,400-word article: seconds until it is
  searchable, until its first answer (while the model reads it), until the model has read it;
* ``new-sentences``: the same with ``AssistantConfig(while_reading="sentences")``: the model
  answers from the best sentences while it reads, instead of the answer quoting them;
* ``threads``: answer latency with 1 thread, 2 threads and the automatic choice, alone and next
  to a CPU-bound process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus"
DEV = ROOT / "eval" / "qa.jsonl"
SQUAD = ROOT / "eval" / "squad2-open"
OTHER = "Normans"  # the squad2-open article used as a second and as a new article


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def _items(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def _plain(n: int) -> list[str]:
    return [i["question"] for i in _items(DEV) if i["answerable"] and not i.get("turns")][:n]


def _follow_ups(n: int) -> list[tuple[str, str]]:
    return [tuple(i["turns"]) for i in _items(DEV) if i.get("turns") and len(i["turns"]) == 2][:n]


def _other_questions(n: int) -> list[str]:
    items = _items(SQUAD / "qa-200.jsonl")
    return [i["question"] for i in items if i["corpus"] == OTHER and i["answerable"]][:n]


def _timed(bot, question: str, history=None) -> tuple[float, float, object]:
    start = time.perf_counter()
    first = None
    answer = None
    for event in bot.stream(question, history):
        if event.kind == "delta" and first is None:
            first = time.perf_counter() - start
        if event.kind == "final":
            answer = event.answer
    total = time.perf_counter() - start
    return (first if first is not None else total), total, answer


def case_library(n: int) -> dict:
    """The plain library API: no warm(); first answer, plain questions, follow-ups."""
    from rag import Assistant

    start = time.perf_counter()
    bot = Assistant.from_corpus(str(SEED))
    opened = time.perf_counter() - start
    first_token, question_s, answer = _timed(bot, "Who is Hong Min?")
    first_answer = time.perf_counter() - start
    plain = [_timed(bot, q)[1] for q in _plain(n)]
    follow = []
    evaluated = []
    for question, follow_up in _follow_ups(n):
        reply = bot.ask(question)
        history = [{"role": "user", "content": question}, {"role": "assistant", "content": reply.text}]
        before = getattr(bot.backend, "evaluated_tokens", 0)
        follow.append(_timed(bot, follow_up, history)[1])
        evaluated.append(getattr(bot.backend, "evaluated_tokens", 0) - before)
    return {
        "first_answer_s": first_answer,
        "from_corpus_s": opened,
        "first_question_s": question_s,
        "first_token_s": first_answer - question_s + first_token,
        "first_reply": answer.text if answer else None,
        "plain_p50_s": _median(plain),
        "follow_up_p50_s": _median(follow),
        "follow_up_ratio": _median(follow) / _median(plain),
        "follow_up_tokens_evaluated_p50": _median(evaluated),
        "questions": len(plain),
        "follow_ups": len(follow),
    }


def _two_articles(folder: Path) -> Path:
    corpus = folder / "two"
    corpus.mkdir()
    shutil.copy(SEED / "korea-herald-2024-10-24-north-korea-russia.txt", corpus / "seed.txt")
    shutil.copy(SQUAD / "corpora" / OTHER / "article.json", corpus / "other.json")
    return corpus


def case_switch(n: int) -> dict:
    """Questions that alternate between two read articles against the same questions asked
    article by article (so the cost is the switch, not the other article's questions)."""
    from rag import Assistant

    with tempfile.TemporaryDirectory() as tmp:
        corpus = _two_articles(Path(tmp))
        cache = Path(tmp) / "cache"
        bot = Assistant.from_corpus(str(corpus), retriever_config=_config(cache))
        for doc in bot.retriever.corpus.documents:
            bot.warm(doc.id)
        seed_q, other_q = _plain(n), _other_questions(n)
        same = []  # staying on one article: the same questions, each article's in a row
        for questions in (seed_q, other_q):
            _timed(bot, questions[0])  # untimed: moves the model to this article
            same += [_timed(bot, q)[1] for q in questions]
        alternating = []
        for a, b in zip(seed_q, other_q, strict=False):
            alternating.append(_timed(bot, b)[1])
            alternating.append(_timed(bot, a)[1])
    return {
        "same_article_p50_s": _median(same),
        "switching_p50_s": _median(alternating),
        "switch_cost_s": _median(alternating) - _median(same),
        "questions": len(alternating),
    }


def _config(cache: Path):
    from rag import RetrieverConfig

    return RetrieverConfig(cache_dir=str(cache))


def case_new(n: int, while_reading: str = "quote") -> dict:
    """A new one-article corpus while the model is loaded: searchable, first answer, read."""
    from rag import Assistant, AssistantConfig, Retriever

    bot = Assistant.from_corpus(str(SEED))
    bot.ask("Who is Hong Min?")  # the model is loaded and has read the seed article
    with tempfile.TemporaryDirectory() as tmp:
        # What the model reads now is saved in a fresh folder: a state saved by an earlier run
        # would make the new article count as read already.
        bot.backend.cache_dir = Path(tmp) / "model-cache"
        corpus = Path(tmp) / "new"
        corpus.mkdir()
        shutil.copy(SQUAD / "corpora" / OTHER / "article.json", corpus / "article.json")
        words = sum(len(p.split()) for p in json.loads((corpus / "article.json").read_text())["paragraphs"])
        start = time.perf_counter()
        retriever = Retriever.from_corpus(corpus, config=_config(Path(tmp) / "cache"))
        retriever.search(_other_questions(1)[0], k=4)
        searchable = time.perf_counter() - start
        new_bot = Assistant(retriever, bot.backend, AssistantConfig(while_reading=while_reading))
        _, _, answer = _timed(new_bot, _other_questions(1)[0])
        first_answer = time.perf_counter() - start
        reading = getattr(bot.backend, "reading", False)
        while getattr(bot.backend, "reading", False):
            time.sleep(0.1)
        read = time.perf_counter() - start
        after = [_timed(new_bot, q)[1] for q in _other_questions(n)[1:]]
    return {
        "article_words": words,
        "searchable_s": searchable,
        "first_answer_s": first_answer,
        "first_answer_from_best_sentences": bool(answer and any("still reading" in x for x in answer.notes)),
        "first_answer_backend": answer.backend if answer else None,
        "first_reply": answer.text if answer else None,
        "while_reading": while_reading,
        "model_was_reading": reading,
        "read_s": read,
        "later_p50_s": _median(after) if after else None,
    }


def case_threads(n: int, threads: int | None) -> dict:
    """Answer latency with ``threads`` (None: automatic) on the seed article, read before."""
    from rag import Assistant

    bot = Assistant.from_corpus(str(SEED), threads=threads)
    bot.warm()
    bot.ask("Who is Hong Min?")
    totals = [_timed(bot, q)[1] for q in _plain(n)]
    return {"threads": threads or "auto", "p50_s": _median(totals), "questions": len(totals)}


def case_new_sentences(n: int) -> dict:
    """``new``, with the model answering from the best sentences while it reads."""
    return case_new(n, while_reading="sentences")


CASES = {"library": case_library, "switch": case_switch, "new": case_new, "new-sentences": case_new_sentences}


def _child(case: str, n: int, threads: int | None = None, busy: bool = False) -> dict:
    """Run one case in a fresh process (with a CPU-bound neighbour when ``busy``)."""
    neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        cmd = [sys.executable, "-m", "benchmarks.conversation", "--case", case, "-n", str(n)]
        if threads is not None:
            cmd += ["--threads", str(threads)]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800,
                              env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})  # fmt: skip
    finally:
        if neighbour is not None:
            neighbour.kill()
            neighbour.wait()
    if done.returncode != 0:
        return {"error": done.stderr[-2000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(n: int = 5, threads_cases: bool = True) -> dict:
    """Every case, each in its own process, one after the other."""
    report = {"load_before": os.getloadavg()}
    for case in CASES:
        report[case] = _child(case, n)
    if threads_cases:
        report["threads"] = [
            {**_child("threads", n, t, busy), "neighbour": busy}
            for busy in (False, True)
            for t in (1, 2, 0)  # 0: automatic
        ]
    report["load_after"] = os.getloadavg()
    return report


def render(report: dict) -> list[str]:
    """Markdown lines: one row per case."""
    lib, switch, new = report.get("library", {}), report.get("switch", {}), report.get("new", {})
    sentences = report.get("new-sentences", {})
    rows = [
        "| case | seconds | target |",
        "|---|---|---|",
    ]
    if "first_answer_s" in lib:
        rows += [
            f"| library, first answer after `from_corpus` (model load included, no `warm()`; "
            f"`from_corpus` {lib.get('from_corpus_s', float('nan')):.2f}, the question "
            f"{lib.get('first_question_s', float('nan')):.2f}) | {lib['first_answer_s']:.2f} | ≤ 6 |",
            f"| plain question p50 | {lib['plain_p50_s']:.2f} | |",
            f"| follow-up p50 ({lib['follow_up_ratio']:.2f}× a plain question; "
            f"{lib['follow_up_tokens_evaluated_p50']:.0f} prompt tokens evaluated) | "
            f"{lib['follow_up_p50_s']:.2f} | ≤ 2× plain |",
        ]
    if "switch_cost_s" in switch:
        rows.append(
            f"| article switch p50 (two read articles, alternating; staying: "
            f"{switch['same_article_p50_s']:.2f}) | {switch['switching_p50_s']:.2f} "
            f"({switch['switch_cost_s']:+.2f}) | ≤ +1 |"
        )
    if "searchable_s" in new:
        rows += [
            f"| new corpus ({new['article_words']} words): searchable | {new['searchable_s']:.2f} | ≤ 3 |",
            f"| new corpus: first answer, quoting the best sentences while the model reads | "
            f"{new['first_answer_s']:.2f} | ≤ 6 |",
            f"| new corpus: until the model has read it | {new['read_s']:.2f} | |",
        ]
    if "first_answer_s" in sentences:
        rows += [
            f"| new corpus, `while_reading=\"sentences\"`: first answer, the model writing from the "
            f"best sentences | {sentences['first_answer_s']:.2f} | |",
            f"| new corpus, `while_reading=\"sentences\"`: until the model has read it | "
            f"{sentences['read_s']:.2f} | |",
        ]
    for key, value in report.items():
        if isinstance(value, dict) and "error" in value:
            rows.append(f"| {key}: failed | {value['error'][-200:]!r} | |")
    for t in report.get("threads", []):
        if "p50_s" in t:
            who = "next to a busy process" if t["neighbour"] else "alone"
            rows.append(f"| answer p50, {t['threads']} thread(s), {who} | {t['p50_s']:.2f} | |")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.conversation", description=__doc__.split("\n")[0])
    p.add_argument("--case", choices=[*CASES, "threads"], help="run one case here and print its JSON")
    p.add_argument("-n", type=int, default=5, help="questions per measurement (default 5)")
    p.add_argument("--threads", type=int, default=None, help="threads for the threads case (0: automatic)")
    p.add_argument("--out", help="write conversation.json and conversation.md here")
    p.add_argument("--no-threads", action="store_true", help="skip the six thread-count cases")
    args = p.parse_args(argv)
    if args.case == "threads":
        print(json.dumps(case_threads(args.n, args.threads or None)))
        return 0
    if args.case:
        print(json.dumps(CASES[args.case](args.n)))
        return 0
    report = run(args.n, threads_cases=not args.no_threads)
    given = argv if argv is not None else sys.argv[1:]
    report["command"] = " ".join(["python -m benchmarks.conversation", *given])
    lines = render(report)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "conversation.json").write_text(json.dumps(report, indent=2))
        (out / "conversation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
