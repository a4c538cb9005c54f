"""``python -m benchmarks.repack``: the local model with and without llama.cpp's weight repacking.

llama.cpp can copy quantised weights into an interleaved layout at load ("CPU_REPACK"), for
wider CPU kernels. Whether that pays depends on the CPU, so the default of
:class:`rag.backends.LlamaCppBackend` (``repack``) was chosen from this benchmark. Each run is a
fresh process (load time is what is measured first); the two settings alternate so that a
slow patch of the machine hits both. Per run: seconds to load, prompt tokens read per second
(the article's first ``--tokens`` tokens) and tokens written per second.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = ROOT / "corpus" / "korea-herald-2024-10-24-north-korea-russia.txt"


def one_run(repack: bool, tokens: int, write: int) -> dict:
    """Load the default model with ``repack``; time the load, a prompt read and a reply."""
    from rag.backends.llama_cpp import LlamaCppBackend

    backend = LlamaCppBackend(repack=repack)
    start = time.perf_counter()
    llm = backend.load()
    load_s = time.perf_counter() - start
    prompt = llm.tokenize(ARTICLE.read_text("utf-8").encode("utf-8"))[:tokens]
    start = time.perf_counter()
    llm.eval(prompt)
    read_s = time.perf_counter() - start
    start = time.perf_counter()
    written = 0
    for _ in llm.create_completion(prompt, max_tokens=write, temperature=0.0, stream=True):
        written += 1
    write_s = time.perf_counter() - start
    return {
        "repack": repack,
        "load_s": load_s,
        "read_tokens_per_s": len(prompt) / read_s,
        "write_tokens_per_s": written / write_s if write_s else 0.0,
        "tokens_read": len(prompt),
        "tokens_written": written,
    }


def run(rounds: int, tokens: int, write: int) -> dict:
    runs = []
    for _ in range(rounds):
        for repack in (False, True):
            cmd = [sys.executable, "-m", "benchmarks.repack", "--child", str(int(repack)),
                   "--tokens", str(tokens), "--write", str(write)]  # fmt: skip
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900, check=True)
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    summary = {}
    for repack in (False, True):
        mine = [r for r in runs if r["repack"] is repack]
        summary["repacked" if repack else "plain"] = {
            key: statistics.median(r[key] for r in mine)
            for key in ("load_s", "read_tokens_per_s", "write_tokens_per_s")
        }
    return {"runs": runs, "median": summary, "cores": os.cpu_count(), "rounds": rounds}


def render(report: dict) -> list[str]:
    plain, packed = report["median"]["plain"], report["median"]["repacked"]
    rows = [
        f"Median of {report['rounds']} fresh processes each, {report['cores']} cores.",
        "",
        "| weights | load | prompt read | reply written |",
        "|---|---|---|---|",
    ]
    for name, m in (("plain (default)", plain), ("repacked", packed)):
        rows.append(
            f"| {name} | {m['load_s']:.2f} s | {m['read_tokens_per_s']:.1f} tok/s | "
            f"{m['write_tokens_per_s']:.1f} tok/s |"
        )
    rows.append(
        f"| plain ÷ repacked | {plain['load_s'] / packed['load_s']:.2f}× the time | "
        f"{plain['read_tokens_per_s'] / packed['read_tokens_per_s']:.2f}× the speed | "
        f"{plain['write_tokens_per_s'] / packed['write_tokens_per_s']:.2f}× the speed |"
    )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.repack", description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3, help="runs of each setting (default 3)")
    p.add_argument("--tokens", type=int, default=600, help="prompt tokens read per run (default 600)")
    p.add_argument("--write", type=int, default=32, help="tokens written per run (default 32)")
    p.add_argument("--out", help="write bench-repack.json and bench-repack.md here")
    p.add_argument("--child", choices=["0", "1"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child is not None:
        print(json.dumps(one_run(args.child == "1", args.tokens, args.write)))
        return 0
    report = run(args.rounds, args.tokens, args.write)
    given = argv if argv is not None else sys.argv[1:]
    report["command"] = " ".join(["python -m benchmarks.repack", *given])
    title = "# llama.cpp weight repacking: load and speed"
    lines = [title, "", f"`{report['command']}`", "", *render(report)]
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "bench-repack.json").write_text(json.dumps(report, indent=2))
        (out / "bench-repack.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
