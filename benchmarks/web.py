"""Time the web chat as a reader sees it, in headless Chromium (Debian's ``chromium``).

    .venv/bin/python -m benchmarks.web [--backend llama-cpp] [--out eval/results]

Starts ``python app.py`` on a free port, and records: seconds from launch until the page
answers, until the header says the local model is ready, and, for each question typed into
the page, seconds from pressing Enter to the first text of the reply and to the checked
final answer. Writes ``bench-web.json`` and ``bench-web.md``. Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
QUESTIONS = [
    "Who confirmed that North Korean troops were in Russia?",
    "What did Kim Yo-jong condemn?",
    "Why would China be uncomfortable?",
    "What treaty did Putin and Kim sign in June?",
    "What does Hong Min say the missile base inspection signals?",
    "How many North Korean troops died in Ukraine?",
]


def page_up(url: str, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(url)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="llama-cpp")
    parser.add_argument("--out", default=str(ROOT / "eval" / "results"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from benchmarks.answers import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "GRADIO_", "OPENAI_"))}
    env["GRADIO_ANALYTICS_ENABLED"] = "False"
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), "--backend", args.backend],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    report: dict = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.web " + " ".join(sys.argv[1:]),
        "machine": {"cpu": platform.machine(), "cores": os.cpu_count(), "load_before": os.getloadavg()},
        "backend": args.backend,
        "questions": [],
    }
    try:
        page_up(url)
        report["page_up_s"] = time.perf_counter() - start
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(url)
            page.locator("#rag-input textarea").wait_for(timeout=120_000)
            if args.backend == "llama-cpp":
                page.wait_for_function(
                    "() => /: ready/.test(document.querySelector('#rag-status')?.textContent || '')",
                    timeout=300_000,
                )
                report["model_ready_s"] = time.perf_counter() - start
            for n, question in enumerate(QUESTIONS):
                box = page.locator("#rag-input textarea")
                box.fill(question)
                asked = time.perf_counter()
                box.press("Enter")
                page.wait_for_function(
                    "n => { const d = document.querySelector('#rag-chat .rag-pending .rag-text');"
                    " const done = document.querySelectorAll('#rag-chat .rag-answer:not(.rag-pending)');"
                    " return (d && d.textContent.trim().length > 0) || done.length > n; }",
                    arg=n,
                    polling=50,  # ms; the default polls every frame, taking CPU from the model timed
                    timeout=300_000,
                )
                first = time.perf_counter() - asked
                final = page.locator("#rag-chat .rag-answer:not(.rag-pending)")
                final.nth(n).wait_for(timeout=300_000)
                done = time.perf_counter() - asked
                text = final.nth(n).inner_text()
                report["questions"].append(
                    {"question": question, "first_text_s": first, "final_s": done, "reply": text[:300]}
                )
            browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
    report["machine"]["load_after"] = os.getloadavg()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench-web.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    (out / "bench-web.md").write_text(render(report))
    print(render(report))
    return 0


def render(report: dict) -> str:
    qs = report["questions"]
    firsts = [q["first_text_s"] for q in qs]
    finals = [q["final_s"] for q in qs]
    m = report["machine"]
    lines = [
        "# The web chat as a reader sees it (headless Chromium)",
        "",
        f"`{report['command']}` on {report['date']}: {m['cpu']}, {m['cores']} cores; load average "
        f"{m['load_before'][0]:.2f} before, {m['load_after'][0]:.2f} after. Backend `{report['backend']}`.",
        "",
        f"- page up: {report['page_up_s']:.1f} s after launch",
    ]
    if "model_ready_s" in report:
        lines.append(f"- local model ready (header): {report['model_ready_s']:.1f} s after launch")
    lines += [
        f"- first text of a reply, from pressing Enter: median {statistics.median(firsts):.2f} s "
        f"(range {min(firsts):.2f}–{max(firsts):.2f} s)",
        f"- checked final answer: median {statistics.median(finals):.2f} s "
        f"(range {min(finals):.2f}–{max(finals):.2f} s)",
        "",
        "| question | first text | final answer |",
        "|---|---|---|",
    ]
    lines += [f"| {q['question']} | {q['first_text_s']:.2f} s | {q['final_s']:.2f} s |" for q in qs]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
