"""``python -m benchmarks.attribution``: who says each quote and claim, against a hand-written gold set.

Gold: ``eval/attribution/quotes.jsonl`` (see its README): every quotation and reported claim of
the seed article and of the four news-open articles, with the speaker's full name. Methods:

- ``textacy``: ``textacy.extract.triples.direct_quotations`` on spaCy's parse of the article, its
  speaker text taken as it is ("Cha");
- ``textacy+resolve``: the same quotations, their speaker tokens resolved to full names by
  :mod:`rag.attribution`'s name and pronoun resolution;
- ``resolver``: :func:`rag.attribution.attribute`.

A gold item is found when a statement of the same kind in the same paragraph overlaps its text
by a Jaccard of at least 0.5 (characters); its speaker is right when the found statement names the
same speaker (case, accents, a leading "the" and the order of joint speakers ignored; a surname
alone is wrong). Speaker accuracy counts every gold item, so a missed item is a wrong one; a null
gold speaker is right only when the method found the item and said None.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from rag.corpus import load_corpus
from rag.people import fold
from rag.types import Document, Paragraph

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "eval" / "attribution" / "quotes.jsonl"
SEED = ROOT / "corpus"
NEWS_OPEN = (
    ROOT / "eval" / "news-open" / "corpora",
    ROOT.parent / "shared" / "benchmarks" / "news-open" / "corpora",
)
METHODS = ("textacy", "textacy+resolve", "resolver")


@dataclass(frozen=True)
class Found:
    """A statement as any method reports it."""

    paragraph: int
    start: int
    end: int
    speaker: str | None
    kind: str
    how: str = ""


def news_open_dir() -> Path | None:
    """Where the news-open articles are (the project's copy first), or None."""
    return next((p for p in NEWS_OPEN if p.is_dir()), None)


def load_gold(path: Path = GOLD) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def documents(corpora: list[str | None]) -> dict[str | None, Document]:
    """The parsed article of each corpus (None: the seed article), as the product numbers it."""
    out: dict[str | None, Document] = {}
    folder = news_open_dir()
    for corpus in dict.fromkeys(corpora):
        if corpus is None:
            out[None] = load_corpus(SEED).documents[0]
        elif folder is not None:
            out[corpus] = load_corpus(folder / corpus).documents[0]
    return out


def occurrences(text: str, part: str) -> list[int]:
    """Every offset where ``part`` occurs in ``text``."""
    out, k = [], text.find(part)
    while k >= 0:
        out.append(k)
        k = text.find(part, k + 1)
    return out


def same_speaker(a: str | None, b: str | None) -> bool:
    def norm(name: str | None) -> frozenset[str] | None:
        if name is None:
            return None
        parts = [fold(p).replace(".", "").strip() for p in fold(name).split(" and ")]
        return frozenset(p[4:] if p.startswith("the ") else p for p in parts)

    return norm(a) == norm(b)


def score(
    gold: list[dict], found: dict[str | None, list[Found]], docs: dict[str | None, Document]
) -> tuple[list[dict], list[dict]]:
    """One row per gold item: found, predicted speaker, right; then the statements no gold item matched."""
    rows: list[dict] = []
    used: set = set()
    for g in gold:
        doc = docs[g["corpus"]]
        text = doc.paragraph(g["paragraph"]).text
        best, best_j = None, 0.0
        for g0 in occurrences(text, g["text"]):  # a short text can occur twice ("and Emergency")
            g1 = g0 + len(g["text"])
            for f in found.get(g["corpus"], []):
                if f.paragraph != g["paragraph"] or f.kind != g["kind"]:
                    continue
                inter = max(0, min(g1, f.end) - max(g0, f.start))
                j = inter / (max(g1, f.end) - min(g0, f.start))
                if j > best_j:
                    best, best_j = f, j
        hit = best is not None and best_j >= 0.5
        if hit:
            used.add((g["corpus"], best))
        predicted = best.speaker if hit else None
        rows.append(
            {
                "id": g["id"],
                "kind": g["kind"],
                "corpus": g["corpus"],
                "paragraph": g["paragraph"],
                "gold": g["speaker"],
                "found": hit,
                "predicted": predicted,
                "how": best.how if hit else "",
                "right": hit and same_speaker(predicted, g["speaker"]),
                "text": g["text"][:80],
            }
        )
    extras = [
        {
            "corpus": c,
            "paragraph": f.paragraph,
            "kind": f.kind,
            "speaker": f.speaker,
            "how": f.how,
            "text": docs[c].paragraph(f.paragraph).text[f.start : f.end][:80],
        }
        for c, items in found.items()
        for f in items
        if (c, f) not in used
    ]
    return rows, extras


def run_resolver(doc: Document, nlp) -> list[Found]:
    from rag.attribution import attribute

    return [
        Found(s.paragraph, s.start, s.end, s.speaker, s.kind, s.how) for s in attribute(doc, nlp).statements
    ]


def _paragraph_of(doc: Document, start: int) -> tuple[int, int]:
    pos = 0
    for p in doc.paragraphs:
        if start < pos + len(p.text) + 2:
            return p.number, pos
        pos += len(p.text) + 2
    return doc.paragraphs[-1].number, pos


def run_textacy(doc: Document, nlp, resolve: bool) -> list[Found]:
    """textacy's direct quotations; with ``resolve``, on the resolver's parse with its names."""
    from textacy.extract.triples import direct_quotations

    from rag.speech import SpeechReader

    if resolve:
        reader = SpeechReader(doc, nlp)
        reader.run()
        parts = reader.parts
    else:
        parts = [(nlp("\n\n".join(p.text for p in doc.paragraphs)), 0)]
    out = []
    for part, (sdoc, base) in enumerate(parts):
        try:
            triples = list(direct_quotations(sdoc))
        except ValueError:  # textacy gives up on an odd number of quotation marks
            continue
        for t in triples:
            inner = [tok for tok in t.content if not tok.is_quote] or list(t.content)
            start = base + inner[0].idx
            end = base + inner[-1].idx + len(inner[-1])
            number, pstart = _paragraph_of(doc, start)
            speaker = " ".join(tok.text for tok in t.speaker) or None
            how = "textacy"
            if resolve and t.speaker:
                members = {tok.i for tok in t.speaker}
                head = next((tok for tok in t.speaker if tok.head.i not in members), t.speaker[-1])
                hit = reader._resolve(part, head, 0)
                speaker, how = (hit[0], hit[1]) if hit else (speaker, "textacy")
            out.append(Found(number, start - pstart, end - pstart, speaker, "quote", how))
    return out


def summarise(rows: list[dict]) -> dict:
    def share(items: list[dict], key: str) -> dict:
        n = len(items)
        return {"n": n, key: round(sum(r[key] for r in items) / n, 3) if n else None}

    out: dict = {"all": {**share(rows, "right"), "found": share(rows, "found")["found"]}}
    for kind in ("quote", "claim"):
        mine = [r for r in rows if r["kind"] == kind]
        out[kind] = {**share(mine, "right"), "found": share(mine, "found")["found"]}
    out["per_article"] = {}
    for corpus in dict.fromkeys(r["corpus"] for r in rows):
        mine = [r for r in rows if r["corpus"] == corpus]
        quotes = [r for r in mine if r["kind"] == "quote"]
        out["per_article"][corpus or "seed"] = {
            **share(mine, "right"),
            "found": share(mine, "found")["found"],
            "quotes_right": share(quotes, "right")["right"],
        }
    return out


def timings(docs: dict[str | None, Document], nlp, repeat: int) -> dict:
    from textacy.extract.triples import direct_quotations

    from rag.attribution import attribute

    out = {}
    for corpus, doc in docs.items():
        text = "\n\n".join(p.text for p in doc.paragraphs)
        attribute(doc, nlp)
        resolver, parse, textacy = [], [], []
        for _ in range(repeat):
            t = time.perf_counter()
            attribute(doc, nlp)
            resolver.append(time.perf_counter() - t)
            t = time.perf_counter()
            sdoc = nlp(text)
            parse.append(time.perf_counter() - t)
            with contextlib.suppress(ValueError):
                list(direct_quotations(sdoc))
            textacy.append(time.perf_counter() - t)
        out[corpus or "seed"] = {
            "chars": len(text),
            "resolver_ms": round(1000 * statistics.median(resolver), 1),
            "parse_only_ms": round(1000 * statistics.median(parse), 1),
            "textacy_ms": round(1000 * statistics.median(textacy), 1),
        }
    return out


def scale(doc: Document, nlp, copies: tuple[int, ...] = (1, 10, 50)) -> list[dict]:
    """Time for an article made of ``n`` copies of ``doc``'s paragraphs (one run each)."""
    from rag.attribution import attribute

    out = []
    for n in copies:
        paragraphs = [p.text for _ in range(n) for p in doc.paragraphs]
        big = Document("big", "big", tuple(Paragraph("big", i + 1, t) for i, t in enumerate(paragraphs)))
        t = time.perf_counter()
        result = attribute(big, nlp)
        seconds = time.perf_counter() - t
        chars = sum(len(p) for p in paragraphs)
        per_1000 = round(1000 * seconds / (chars / 1000), 1)
        out.append({"copies": n, "chars": chars, "seconds": round(seconds, 2), "ms_per_1000_chars": per_1000,
                    "statements": len(result.statements)})  # fmt: skip
    return out


def run(repeat: int = 5) -> dict:
    from rag.attribution import load_nlp

    gold = load_gold()
    docs = documents([g["corpus"] for g in gold])
    gold = [g for g in gold if g["corpus"] in docs]
    t = time.perf_counter()
    nlp = load_nlp()
    load_s = time.perf_counter() - t
    report: dict = {"gold_items": len(gold), "model_load_s": round(load_s, 2), "methods": {}}
    for method in METHODS:
        found: dict[str | None, list[Found]] = {}
        for corpus, doc in docs.items():
            if method == "resolver":
                found[corpus] = run_resolver(doc, nlp)
            else:
                found[corpus] = run_textacy(doc, nlp, resolve=method == "textacy+resolve")
        rows, extras = score(gold, found, docs)
        report["methods"][method] = {
            "summary": summarise(rows),
            "extra_statements": len(extras),
            "misses": [r for r in rows if not r["right"]],
            "extras": extras,
        }
    report["timings"] = timings(docs, nlp, repeat)
    report["scale"] = scale(docs[None], nlp)
    return report


def render(report: dict) -> list[str]:
    lines = [
        f"Gold: {report['gold_items']} items (`eval/attribution/quotes.jsonl`). Speaker accuracy counts "
        "every gold item (a missed item is wrong); found = recall of the statements. Why each miss happens, "
        "and the libraries tried: [docs/attribution.md](../../docs/attribution.md).",
        "",
        "| method | quotes: right speaker | quotes found | claims: right speaker | claims found | all right |"
        " extra statements |",
        "|---|---|---|---|---|---|---|",
    ]
    for method, m in report["methods"].items():
        s = m["summary"]
        lines.append(
            f"| {method} | {s['quote']['right']:.3f} ({s['quote']['n']}) | {s['quote']['found']:.3f} | "
            f"{s['claim']['right']:.3f} ({s['claim']['n']}) | {s['claim']['found']:.3f} | "
            f"{s['all']['right']:.3f} | {m['extra_statements']} |"
        )
    lines += [
        "",
        "Per article (right speaker, all items / quotes only / found):",
        "",
        "| article | " + " | ".join(report["methods"]) + " |",
        "|---|" + "---|" * len(report["methods"]),
    ]
    for art in next(iter(report["methods"].values()))["summary"]["per_article"]:
        cells = []
        for m in report["methods"].values():
            a = m["summary"]["per_article"][art]
            cells.append(f"{a['right']:.2f} / {a['quotes_right']:.2f} / {a['found']:.2f} (n={a['n']})")
        lines.append(f"| {art} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Model load: {report['model_load_s']} s. Per article, median of runs after a warm-up:",
        "",
        "| article | chars | resolver (parse included) | spaCy parse alone | textacy (parse included) |",
        "|---|---|---|---|---|",
    ]
    for art, t in report["timings"].items():
        lines.append(
            f"| {art} | {t['chars']} | {t['resolver_ms']} ms | {t['parse_only_ms']} ms | "
            f"{t['textacy_ms']} ms |"
        )
    lines += ["", "Long articles (the seed article's paragraphs repeated; one run each):", "",
              "| copies | chars | resolver | per 1,000 chars | statements |",
              "|---|---|---|---|---|"]  # fmt: skip
    for r in report["scale"]:
        lines.append(
            f"| {r['copies']} | {r['chars']:,} | {r['seconds']} s | {r['ms_per_1000_chars']} ms | "
            f"{r['statements']} |"
        )
    for method, m in report["methods"].items():
        lines += ["", f"Misses of {method} ({len(m['misses'])}):", ""]
        for r in m["misses"]:
            got = f"said {r['predicted']!r} ({r['how']})" if r["found"] else "not found"
            lines.append(
                f"- {r['id']} ¶{r['paragraph']} {r['kind']} gold {r['gold']!r}: {got} — “{r['text']}”"
            )
        if m["extras"]:
            lines += ["", f"Statements of {method} that match no gold item ({len(m['extras'])}):", ""]
            for e in m["extras"]:
                lines.append(
                    f"- {e['corpus'] or 'seed'} ¶{e['paragraph']} {e['kind']} {e['speaker']!r} "
                    f"({e['how']}) — “{e['text']}”"
                )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timing runs per article")
    parser.add_argument("--out", type=Path, help="folder for attribution.json and attribution.md")
    args = parser.parse_args(argv)
    report = run(args.repeat)
    lines = [
        "# Speaker attribution: libraries and the resolver",
        "",
        "`python -m benchmarks.attribution --out eval/results`",
        "",
        *render(report),
    ]
    print("\n".join(lines))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "attribution.json").write_text(
            json.dumps(report, indent=1, ensure_ascii=False) + "\n", "utf-8"
        )
        (args.out / "attribution.md").write_text("\n".join(lines) + "\n", "utf-8")


if __name__ == "__main__":
    main()
