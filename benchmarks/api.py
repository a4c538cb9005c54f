"""``python -m benchmarks.api``: what the HTTP API costs, and how fast an added article is usable.

Against the real server (``python app.py`` on 127.0.0.1, a private copy of the corpus):

* overhead of ``POST /v1/chat/completions`` over the library call (``Assistant.ask``) for the
  same questions, extractive backend: per question, API wall time minus library wall time;
* ``POST /v1/search`` latency (client wall time, k=5);
* a 1,500-word article added with ``POST /v1/articles``: seconds until the call returns (it is
  indexed by then) and until a search finds it;
* with the local model (default ``qwen2.5-coder-1.5b``, loaded and warm): the same article added,
  then seconds to the first answer about it (``--no-llm`` skips this part).

Writes ``bench-api.json`` and ``bench-api.md`` under ``--out``, with the load average around
each part: above the core count, other work competed for the CPU and times are inflated.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

import httpx
import numpy as np

from rag.assistant import Assistant
from rag.evaluation.dataset import load_dataset
from rag.retriever import Retriever, default_corpus

ROOT = Path(__file__).resolve().parent.parent
DATASET = ROOT / "eval" / "qa.jsonl"
TARGETS = {"overhead_p50_ms": 20.0, "search_p50_ms": 15.0, "searchable_s": 3.0, "first_answer_s": 6.0}
DISTRICTS = (
    "Jung-gu", "Dong-gu", "Seo-gu", "Nam-gu", "Buk-gu", "Gwangsan-gu", "Suseong-gu", "Dalseo-gu",
    "Haeundae-gu", "Saha-gu", "Yeonje-gu", "Geumjeong-gu", "Sasang-gu", "Gangseo-gu", "Suyeong-gu",
    "Busanjin-gu", "Dongnae-gu", "Yeongdo-gu", "Gijang-gun",
)  # fmt: skip


def festival_article(words: int = 1500) -> dict:
    """A coherent news-like article of about ``words`` words, one paragraph per district."""
    paragraphs = [
        "The city of Gwangju opened its annual kimchi festival on Friday, and organisers said the "
        "nine-day event drew more visitors than any year since it began in 1994."
    ]
    i = 0
    while sum(len(p.split()) for p in paragraphs) < words:
        district = DISTRICTS[i % len(DISTRICTS)]
        visitors, makers, tons = 1_200 + 317 * i, 14 + 3 * i, 2 + i
        paragraphs.append(
            f"In {district}, {visitors:,} visitors came to the festival grounds on the opening day, "
            f"the district office said. {makers} local kimchi makers set up stalls there, and together "
            f"they sold about {tons} tons of cabbage kimchi, radish kimchi and cucumber kimchi before "
            f"the stalls closed at nine in the evening. Officials in {district} said the crowds were "
            f"larger than expected and that extra buses would run between the stations and the grounds "
            f"for the rest of the week, while volunteers handed out maps in four languages."
        )
        i += 1
    return {
        "title": "Gwangju kimchi festival draws record crowds",
        "text": "\n\n".join(paragraphs),
        "date": "2024-11-01",
        "author": "Lee Min-ji",
    }


def percentiles(samples_s: Sequence[float]) -> dict[str, float]:
    ms = np.asarray(samples_s, dtype=float) * 1000
    return {
        "n": int(ms.size),
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "mean_ms": float(ms.mean()),
    }


def load() -> float:
    return os.getloadavg()[0]


@contextlib.contextmanager
def server(args: list[str], log: Path, timeout: float = 300) -> Iterator[str]:
    """``python app.py ARGS`` on a free port of 127.0.0.1 until the block ends; yield its URL."""
    from benchmarks.answers import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "GRADIO_", "OPENAI_"))}
    env["GRADIO_ANALYTICS_ENABLED"] = "False"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "--port", str(port), *args],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not come up (see {log})")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url + "/v1/articles", timeout=60).status_code == 200:
                        break
                time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def chat(http: httpx.Client, question: str, **extra) -> tuple[float, dict]:
    start = time.perf_counter()
    reply = http.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": question}], **extra}
    )
    seconds = time.perf_counter() - start
    reply.raise_for_status()
    return seconds, reply.json()


def first_chunk(http: httpx.Client, question: str, **extra) -> tuple[float, float, str]:
    """Seconds to the first content delta and to ``[DONE]`` of a streamed answer, and its text."""
    body = {"messages": [{"role": "user", "content": question}], "stream": True, **extra}
    start = time.perf_counter()
    first, text = None, ""
    with http.stream("POST", "/v1/chat/completions", json=body) as reply:
        for line in reply.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            delta = json.loads(line[6:])["choices"]
            piece = delta[0]["delta"].get("content") if delta else None
            if piece:
                first = first if first is not None else time.perf_counter() - start
                text += piece
    return (first if first is not None else float("nan")), time.perf_counter() - start, text


def overhead(http: httpx.Client, bot: Assistant, questions: Sequence[str]) -> dict:
    """API minus library time per question (interleaved, after a warm-up)."""
    for q in questions[:5]:
        bot.ask(q)
        chat(http, q)
    api, lib, diff = [], [], []
    for q in questions:
        start = time.perf_counter()
        expected = bot.ask(q)
        lib_s = time.perf_counter() - start
        api_s, reply = chat(http, q)
        if reply["choices"][0]["message"]["content"] != expected.text:
            raise RuntimeError(f"the API and the library answered {q!r} differently")
        api.append(api_s)
        lib.append(lib_s)
        diff.append(api_s - lib_s)
    return {"api": percentiles(api), "library": percentiles(lib), "overhead": percentiles(diff)}


def search(http: httpx.Client, retriever: Retriever, queries: Sequence[str]) -> dict:
    for q in queries[:10]:
        http.post("/v1/search", json={"query": q, "k": 5})
        retriever.search(q, k=5)
    api, lib = [], []
    for q in queries:
        start = time.perf_counter()
        reply = http.post("/v1/search", json={"query": q, "k": 5})
        api.append(time.perf_counter() - start)
        reply.raise_for_status()
        start = time.perf_counter()
        retriever.search(q, k=5)
        lib.append(time.perf_counter() - start)
    return {"api": percentiles(api), "library": percentiles(lib)}


def ingest(http: httpx.Client, article: dict, probe: str) -> dict:
    """POST the article, then search for it; seconds for each, and whether it came first."""
    before = load()
    start = time.perf_counter()
    added = http.post("/v1/articles", json=article)
    post_s = time.perf_counter() - start
    added.raise_for_status()
    doc = added.json()["article"]["id"]
    found = http.post("/v1/search", json={"query": probe, "k": 1}).json()["passages"]
    searchable_s = time.perf_counter() - start
    return {
        "id": doc,
        "words": len(article["text"].split()),
        "paragraphs": added.json()["article"]["paragraphs"],
        "post_s": post_s,
        "searchable_s": searchable_s,
        "found_first": bool(found) and found[0]["doc"] == doc,
        "load_before": before,
    }


def llm_part(corpus: Path, cache: Path, model: str | None, article: dict, log: Path) -> dict:
    """The local model loaded and warm; then an article added and its first answer timed."""
    args = [
        "--backend",
        "llama-cpp",
        "--corpus",
        str(corpus),
        "--cache-dir",
        str(cache),
        "--load-wait",
        "900",
    ]
    args += ["--model", model] if model else []
    out: dict = {"model": model or "qwen2.5-coder-1.5b", "load_before": load()}
    start = time.perf_counter()
    with server(args, log) as url, httpx.Client(base_url=url, timeout=900) as http:
        _, warm = chat(http, "Who is Hong Min?")
        out["first_answer_after_start_s"] = time.perf_counter() - start
        out["warm_backend"] = warm["backend"]
        out["warm_fallback"] = warm["fallback"]
        again_s, _ = chat(http, "What did Kim Yo-jong condemn?")
        out["seed_article_answer_s"] = again_s
        out["ingest"] = ingest(http, article, "How many visitors came to the festival in Dong-gu?")
        question = "How many visitors came to the festival grounds in Dong-gu on the opening day?"
        first_s, total_s, text = first_chunk(http, question, doc=out["ingest"]["id"])
        out["first_answer"] = {
            "question": question,
            "first_content_s": first_s,
            "total_s": total_s,
            "answer": text,
        }
        second_s, reply = chat(
            http, "How many kimchi makers set up stalls in Seo-gu?", doc=out["ingest"]["id"]
        )
        out["second_answer"] = {
            "total_s": second_s,
            "backend": reply["backend"],
            "answer": reply["choices"][0]["message"]["content"],
        }
    out["load_after"] = load()
    return out


def run(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="rag-bench-api-"))
    try:
        corpus = work / "corpus"
        shutil.copytree(Path(args.corpus) if args.corpus else default_corpus(), corpus)
        cache = work / "cache"
        cache.mkdir()
        source = Path(args.model_cache).resolve()
        for part in ("onnx", "models"):  # reuse the exported embedder and the joined model file
            if (source / part).is_dir():
                (cache / part).symlink_to(source / part, target_is_directory=True)
        if (source / "kv").is_dir():  # the model's saved reading of the seed article (copied: runs add more)
            shutil.copytree(source / "kv", cache / "kv")
        items = [i for i in load_dataset(args.dataset) if i.answerable and not i.turns]
        questions = list(dict.fromkeys(i.question for i in items))[: args.questions]
        queries = list(dict.fromkeys(i.question for i in load_dataset(args.dataset)))[: args.queries]
        report: dict = {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(["python -m benchmarks.api", *sys.argv[1:]]),
            "machine": {
                "cpu": platform.processor() or platform.machine(),
                "cores": os.cpu_count(),
                "load_before": os.getloadavg(),
            },
            "targets": TARGETS,
        }
        article = festival_article()
        retriever = Retriever.from_corpus(corpus, cache_dir=str(cache))
        bot = Assistant(retriever, None)
        server_args = ["--backend", "extractive", "--corpus", str(corpus), "--cache-dir", str(cache)]
        with (
            server(server_args, work / "extractive.log") as url,
            httpx.Client(base_url=url, timeout=300) as http,
        ):
            report["overhead"] = {**overhead(http, bot, questions), "load": [load()]}
            report["search"] = {**search(http, retriever, queries), "load": [load()]}
            report["ingest"] = []
            for n in range(args.repeats):
                probe = "How many visitors came to the festival in Dong-gu?"
                result = ingest(http, {**article, "title": f"{article['title']} ({n + 1})"}, probe)
                report["ingest"].append(result)
                http.delete(f"/v1/articles/{result['id']}").raise_for_status()
        if args.llm:
            report["llm"] = llm_part(corpus, cache, args.model, article, work / "llm.log")
        report["machine"]["load_after"] = os.getloadavg()
        return report
    finally:
        shutil.rmtree(work, ignore_errors=True)


def verdict(value: float, target: float) -> str:
    return "meets" if value <= target else "MISSES"


def render(report: dict) -> str:
    m, o, s = report["machine"], report["overhead"], report["search"]
    ingest = report["ingest"]
    searchable = statistics.median(r["searchable_s"] for r in ingest)
    lines = [
        "# HTTP API: overhead, search latency, articles added",
        "",
        f"`{report['command']}` on {report['date']}: {m['cpu']}, {m['cores']} cores; load average "
        f"{m['load_before'][0]:.2f} before, {m['load_after'][0]:.2f} after (1 minute).",
        "",
        "| measurement | p50 | p95 | target | |",
        "|---|---|---|---|---|",
        f"| chat completion overhead over `Assistant.ask` (extractive, {o['overhead']['n']} questions) "
        f"| {o['overhead']['p50_ms']:.1f} ms | {o['overhead']['p95_ms']:.1f} ms | p50 ≤ 20 ms "
        f"| {verdict(o['overhead']['p50_ms'], TARGETS['overhead_p50_ms'])} |",
        f"| chat completion through the API, whole | {o['api']['p50_ms']:.1f} ms | {o['api']['p95_ms']:.1f} ms | | |",  # noqa: E501
        f"| `Assistant.ask` in the same process as the client | {o['library']['p50_ms']:.1f} ms "
        f"| {o['library']['p95_ms']:.1f} ms | | |",
        f"| `POST /v1/search` (k=5, {s['api']['n']} queries) | {s['api']['p50_ms']:.1f} ms "
        f"| {s['api']['p95_ms']:.1f} ms | p50 ≤ 15 ms | {verdict(s['api']['p50_ms'], TARGETS['search_p50_ms'])} |",  # noqa: E501
        f"| `Retriever.search` in the client's process | {s['library']['p50_ms']:.1f} ms "
        f"| {s['library']['p95_ms']:.1f} ms | | |",
        "",
        f"A {ingest[0]['words']:,}-word article ({ingest[0]['paragraphs']} paragraphs) added with "
        "`POST /v1/articles` (the call returns once it is saved and indexed), then searched:",
        "",
        "| run | POST returned | searchable (POST + first search) | found first | load before |",
        "|---|---|---|---|---|",
    ]
    for i, r in enumerate(ingest, 1):
        lines.append(
            f"| {i} | {r['post_s']:.2f} s | {r['searchable_s']:.2f} s | {r['found_first']} | {r['load_before']:.2f} |"  # noqa: E501
        )
    lines += ["", f"Median searchable after {searchable:.2f} s (target ≤ 3 s: {verdict(searchable, 3.0)})."]
    llm = report.get("llm")
    if llm:
        first = llm["first_answer"]
        lines += [
            "",
            f"With the local model ({llm['model']}) loaded and warm: first answer after start-up "
            f"{llm['first_answer_after_start_s']:.1f} s (backend {llm['warm_backend']}, fallback {llm['warm_fallback']}); "  # noqa: E501
            f"a question on the seed article {llm['seed_article_answer_s']:.2f} s. The article added: "
            f"searchable after {llm['ingest']['searchable_s']:.2f} s; its first answer (streamed; the API "
            f"sends the checked answer, so the first text arrives with the whole) after "
            f"{first['total_s']:.2f} s (first text {first['first_content_s']:.2f} s; target ≤ 6 s: "
            f"{verdict(first['total_s'], TARGETS['first_answer_s'])}); a second question on it "
            f"{llm['second_answer']['total_s']:.2f} s. Load average {llm['load_before']:.2f} before, "
            f"{llm['load_after']:.2f} after.",
            "",
            f"First answer: {first['answer']}",
            "",
            f"Second answer ({llm['second_answer']['backend']}): {llm['second_answer']['answer']}",
        ]
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.api", description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "eval" / "results"), help="folder for bench-api.{json,md}")
    p.add_argument("--corpus", help="corpus folder copied for the run (default: the seed article)")
    p.add_argument("--dataset", type=Path, default=DATASET, help="questions (default eval/qa.jsonl)")
    p.add_argument("--model-cache", default=str(ROOT / ".cache"),
                   help="cache folder whose onnx/ and models/ are reused (default .cache)")  # fmt: skip
    p.add_argument("--questions", type=int, default=40, help="questions timed for the overhead (40)")
    p.add_argument("--queries", type=int, default=80, help="search queries timed (80)")
    p.add_argument("--repeats", type=int, default=3, help="times the article is added (3)")
    p.add_argument("--model", help="local model for the last part (default qwen2.5-coder-1.5b)")
    p.add_argument("--no-llm", dest="llm", action="store_false", help="skip the local-model part")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    report = run(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench-api.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")
    text = render(report)
    (out / "bench-api.md").write_text(text, "utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
