"""``python -m benchmarks.answers``: answer latency per backend, cold starts and peak memory.

Measured on the machine it runs on, in one run so the numbers compare as ratios:

* warm latency per backend: time to first token and to the full answer, p50 and p95, over
  distinct questions of the eval sets, after one warm-up question;
* cold start of ``rag ask`` per backend: a fresh process from launch to printed answer, with
  its peak resident memory;
* cold start of the web chat: ``python app.py`` from launch until the page answers HTTP 200,
  and until its local model is loaded;
* a conversation, case by case (:mod:`benchmarks.conversation`): the library's first answer,
  plain questions against follow-ups, switching articles, a new corpus until it is searchable,
  answered and read, and the thread count alone and next to a busy process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import psutil

from benchmarks import conversation
from rag.evaluation.dataset import load_dataset
from rag.evaluation.metrics import percentile
from rag.retriever import default_cache_root, default_corpus
from rag.settings import add_corpus_flags

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = (ROOT / "eval" / "qa.jsonl",)  # the default of --dataset (the dev set; never the held-out)


def _questions(n: int, files: Sequence[Path] = QUESTIONS) -> list[str]:
    out: list[str] = []
    for path in files:
        out += [it.question for it in load_dataset(path) if it.answerable and not it.turns]
    return list(dict.fromkeys(out))[:n]


def warm_latency(
    backend: str, options: dict, questions: Sequence[str], corpus: str | None, cache_dir: str | None
) -> dict:
    """First-token and total latency of ``questions`` on one warm assistant."""
    from rag.assistant import Assistant
    from rag.retriever import Retriever, RetrieverConfig

    retriever = Retriever.from_corpus(corpus, config=RetrieverConfig(cache_dir=cache_dir))
    bot = Assistant.from_corpus(retriever=retriever, backend=backend, **options)
    bot.warm()  # the article prompt, from the cache folder (see `rag warm`)
    bot.ask("Who is Hong Min?")  # warm-up: loads the model, fills caches
    first, total = [], []
    for question in questions:
        answer = bot.ask(question)
        total.append(answer.timings.total_s)
        first.append(
            answer.timings.first_token_s
            if answer.timings.first_token_s is not None
            else answer.timings.total_s
        )
    return {
        "backend": bot.backend_name,
        "questions": len(total),
        "first_token_p50_s": percentile(first, 50),
        "first_token_p95_s": percentile(first, 95),
        "total_p50_s": percentile(total, 50),
        "total_p95_s": percentile(total, 95),
        "rss_mib": psutil.Process().memory_info().rss / 2**20,
    }


def _watch(cmd: list[str], until, timeout: float) -> tuple[float, float, int]:
    """Run ``cmd``; return (seconds until ``until(proc)`` is true, peak RSS MiB of the tree, exit)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT,
                            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})  # fmt: skip
    peak, elapsed = 0.0, None
    try:
        ps = psutil.Process(proc.pid)
        while time.perf_counter() - start < timeout:
            try:
                rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True))
                peak = max(peak, rss / 2**20)
            except psutil.Error:
                pass
            if until(proc):
                elapsed = time.perf_counter() - start
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return (elapsed if elapsed is not None else float("nan")), peak, proc.returncode or 0


def cold_ask(backend: str, extra: list[str]) -> dict:
    """``rag ask`` in a fresh process, from launch to exit."""
    cmd = [sys.executable, "-m", "rag", "ask", "What did Kim Yo-jong condemn?", "--backend", backend, *extra]
    seconds, peak, code = _watch(cmd, lambda p: p.poll() is not None, 300)
    return {"backend": backend, "seconds": seconds, "peak_rss_mib": peak, "exit": code}


def first_reading(extra: list[str], cache_dir: str | None) -> dict:
    """``rag warm`` with no saved state: the one-time cost of reading the article into the model.

    The saved states are moved aside first and the other models' put back after (this run
    writes its own again), so the cold ``rag ask`` measured after it starts from the state a
    set-up leaves behind.
    """
    root = Path(cache_dir) if cache_dir else default_cache_root(default_corpus())
    kv, aside = root / "kv", root / "kv.bench-aside"
    shutil.rmtree(aside, ignore_errors=True)
    if kv.exists():
        kv.rename(aside)  # other models' states are put back below
    try:
        cmd = [sys.executable, "-m", "rag", "warm", *extra]
        seconds, peak, code = _watch(cmd, lambda p: p.poll() is not None, 600)
    finally:
        if aside.exists():
            kv.mkdir(parents=True, exist_ok=True)
            for old in aside.iterdir():
                if not (kv / old.name).exists():
                    old.rename(kv / old.name)
            shutil.rmtree(aside, ignore_errors=True)
    return {"seconds": seconds, "peak_rss_mib": peak, "exit": code}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cold_web(backend: str, extra: list[str]) -> dict:
    """``python app.py`` from launch until the page answers HTTP 200."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"

    def up(_proc) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    cmd = [sys.executable, "app.py", "--port", str(port), "--backend", backend, *extra]
    seconds, peak, _ = _watch(cmd, up, 120)
    return {"backend": backend, "page_up_s": seconds, "peak_rss_mib_until_up": peak}


def run(args: argparse.Namespace) -> dict:
    models = args.models or ["qwen2.5-coder-1.5b"]
    report: dict = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python -m benchmarks.answers", *sys.argv[1:]]),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "load_before": os.getloadavg(),
        },
        "warm": [],
        "cold_ask": [],
        "cold_web": [],
    }
    runs = [("extractive", {}, [])] + [("llama-cpp", {"model": m}, ["--model", m]) for m in models]
    for backend, options, extra in runs:
        if backend == "llama-cpp":
            report.setdefault("first_reading", []).append(
                {**first_reading(extra, args.cache_dir), "model": options.get("model")}
            )
        report["cold_ask"].append({**cold_ask(backend, extra), "model": options.get("model")})
    questions = _questions(args.questions, args.dataset)
    for backend, options, _ in runs:
        report["warm"].append(warm_latency(backend, options, questions, args.corpus, args.cache_dir))
    report["cold_web"].append(cold_web("llama-cpp", ["--model", models[0]]))
    report["cold_web"].append(cold_web("extractive", []))
    if not args.no_conversation:
        report["conversation"] = conversation.run(args.conversation_questions)
    report["machine"]["load_after"] = os.getloadavg()
    return report


def render(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# Answer latency, cold starts and memory",
        "",
        f"`{report['command']}` on {report['date']}: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB; "
        f"load average {m['load_before'][0]:.2f} before, {m['load_after'][0]:.2f} after.",
        "",
        "| backend | questions | first token p50 / p95 | full answer p50 / p95 | process RSS after |",
        "|---|---|---|---|---|",
    ]
    for w in report["warm"]:
        first = f"{w['first_token_p50_s']:.3f} / {w['first_token_p95_s']:.3f} s"
        total = f"{w['total_p50_s']:.3f} / {w['total_p95_s']:.3f} s"
        lines.append(f"| {w['backend']} | {w['questions']} | {first} | {total} | {w['rss_mib']:.0f} MiB |")
    lines += ["", "| cold start | seconds | peak RSS |", "|---|---|---|"]
    for c in report["cold_ask"]:
        label = c["backend"] + (f" ({c['model']})" if c.get("model") else "")
        lines.append(f"| `rag ask` {label} | {c['seconds']:.2f} | {c['peak_rss_mib']:.0f} MiB |")
    for c in report["cold_web"]:
        peak = f"{c['peak_rss_mib_until_up']:.0f} MiB"
        lines.append(f"| web chat page up, {c['backend']} | {c['page_up_s']:.2f} | {peak} |")
    for c in report.get("first_reading", []):
        label = f"`rag warm` ({c['model']}): first reading of the article, once per model"
        lines.append(f"| {label} | {c['seconds']:.2f} | {c['peak_rss_mib']:.0f} MiB |")
    if "conversation" in report:
        lines += ["", "## A conversation with the default backend, case by case", ""]
        lines += conversation.render(report["conversation"])
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    """The flags of ``python -m benchmarks.answers``."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.answers",
        description="Answer latency per backend, cold starts of `rag ask` and the web chat, peak memory.",
    )
    p.add_argument("--models", nargs="+", help="local models to time (default qwen2.5-coder-1.5b)")
    p.add_argument("--questions", type=int, default=20, help="timed questions per backend (default 20)")
    p.add_argument(
        "--dataset", nargs="+", type=Path, default=list(QUESTIONS), metavar="JSONL",
        help="evaluation files the timed questions come from (default eval/qa.jsonl)",
    )  # fmt: skip
    p.add_argument("--conversation-questions", type=int, default=5, help="questions per conversation case")
    p.add_argument("--no-conversation", action="store_true", help="skip the conversation cases")
    p.add_argument("--out", default=str(ROOT / "eval" / "results"), help="folder for bench-answers.{json,md}")
    add_corpus_flags(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.answers [flags]``."""
    args = build_parser().parse_args(argv)
    report = run(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench-answers.json").write_text(json.dumps(report, indent=2))
    text = render(report)
    (out / "bench-answers.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
