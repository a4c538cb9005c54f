"""Pure functions from answers and articles to the HTML of the page (no Gradio, no browser).

Everything put into the page is escaped here (:func:`html.escape`): article text, corpus
metadata, model replies and questions. Gradio's chat sanitiser is a second layer, not the
first. Citation markers become ``<a class="rag-cite" href="#rag-p-DOC-N">`` links (the
sanitiser drops ``data-*`` attributes, so the target lives in ``href``); a small script
scrolls the article panel to the paragraph and highlights it, and without the script the
link is still an ordinary in-page anchor.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from ..assistant import INJECTION_REPLY
from ..backends.registry import EXTRACTIVE
from ..conversation import speakers
from ..settings import LOCAL, REMOTE
from ..text import find_markers
from ..types import Answer, Document

FALLBACK_BADGE = "Fallback answer · quoted from the article"
BACKEND_LABELS = {
    LOCAL: "Local model (llama.cpp)",
    REMOTE: "Remote server (OpenAI-compatible)",
    EXTRACTIVE: "Extractive (quotes the article; no model)",
}
GENERIC_EXAMPLES = ["What is the article about?", "Who is quoted in the article?", "What happens next?"]


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def paragraph_id(doc: str, number: int) -> str:
    return f"rag-p-{doc}-{number}"


def source_id(doc: str, number: int) -> str:
    return f"rag-s-{doc}-{number}"


def nice_date(value: str | None) -> str:
    if not value:
        return ""
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        return value
    return f"{day.strftime('%B')} {day.day}, {day.year}"


def _paragraph_text(documents: Mapping[str, Document], doc: str, number: int) -> str | None:
    document = documents.get(doc)
    if document is None:
        return None
    if number == 0:
        return document.caption
    if 1 <= number <= len(document.paragraphs):
        return document.paragraphs[number - 1].text
    return None


class MarkerResolver:
    """Maps a marker as written (``¶3``, ``B¶3``) to the (doc, paragraph) it cites."""

    def __init__(self, documents: Mapping[str, Document], answer: Answer | None = None) -> None:
        self.documents = documents
        self.cited = [(c.doc, c.paragraph) for c in answer.citations] if answer else []
        self.retrieved = [(p.doc, n) for p in answer.passages for n in p.paragraphs] if answer else []
        order = list(dict.fromkeys([d for d, _ in self.cited] + [d for d, _ in self.retrieved]))
        self.doc_order = order or list(documents)

    def resolve(self, letter: str, number: int) -> tuple[str, int] | None:
        if letter:
            index = ord(letter.upper()) - ord("A")
            if 0 <= index < len(self.doc_order):
                doc = self.doc_order[index]
                if _paragraph_text(self.documents, doc, number) is not None:
                    return doc, number
            return None
        for pool in (self.cited, self.retrieved):
            docs = {d for d, n in pool if n == number}
            if len(docs) == 1:
                return docs.pop(), number
        if len(self.documents) == 1:
            (doc,) = self.documents
            if _paragraph_text(self.documents, doc, number) is not None:
                return doc, number
        return None


def cite_link(documents: Mapping[str, Document], doc: str, number: int, label: str) -> str:
    text = _paragraph_text(documents, doc, number) or ""
    preview = text if len(text) <= 160 else text[:157].rstrip() + "…"
    where = "photo caption" if number == 0 else f"paragraph {number}"
    if len(documents) > 1:
        where += f" of “{documents[doc].title}”"
    title = f"{where}: {preview}" if preview else where
    return (
        f'<a class="rag-cite" href="#{esc(paragraph_id(doc, number))}" title="{esc(title)}">{esc(label)}</a>'
    )


def linkify(text: str, documents: Mapping[str, Document], answer: Answer | None = None) -> tuple[str, list]:
    """Escape ``text`` and turn its citation markers into links; also return the cited targets."""
    resolver = MarkerResolver(documents, answer)
    out: list[str] = []
    targets: list[tuple[str, int]] = []
    last = 0
    for start, end, refs in find_markers(text):
        out.append(esc(text[last:start]))
        chips = []
        for letter, number in refs:
            label = f"{letter}¶{number}"
            target = resolver.resolve(letter, number)
            if target is None:
                chips.append(f'<span class="rag-cite rag-cite-missing">{esc(label)}</span>')
            else:
                targets.append(target)
                chips.append(cite_link(documents, target[0], target[1], label))
        out.append(f'<span class="rag-cites">{"".join(chips)}</span>')
        last = end
    out.append(esc(text[last:]))
    return "".join(out), list(dict.fromkeys(targets))


def render_question(text: str) -> str:
    return f'<div class="rag-q">{esc(text)}</div>'


def render_pending(status: str, draft: str, documents: Mapping[str, Document]) -> str:
    """The reply while it is being written: status note, and the draft text streamed so far."""
    parts = ['<div class="rag-answer rag-pending">']
    if draft:
        body, _ = linkify(draft, documents)
        draft_badge = '<span class="rag-badge rag-badge-draft">Draft · checking against the article</span>'
        parts.append(f'<div class="rag-badges">{draft_badge}</div>')
        parts.append(f'<div class="rag-text">{body}<span class="rag-caret"></span></div>')
    parts.append(
        f'<div class="rag-status"><span class="rag-spinner"></span>{esc(status or "Thinking…")}</div>'
    )
    parts.append("</div>")
    return "".join(parts)


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def answer_kind(answer: Answer) -> str:
    """``error``, ``declined``, ``refused``, ``fallback`` or ``ok`` — how the answer is shown."""
    if answer.error and not answer.fallback:
        return "error"
    if answer.refused and answer.text == INJECTION_REPLY:
        return "declined"
    if answer.refused:
        return "refused"
    if answer.fallback:
        return "fallback"
    return "ok"


def render_answer(answer: Answer, documents: Mapping[str, Document], requested: str = "") -> str:
    """A finished answer: badge for its kind, text with citation links, backend and timings."""
    kind = answer_kind(answer)
    body, _ = linkify(answer.text, documents, answer)
    badges = {
        "error": '<span class="rag-badge rag-badge-error">Error</span>',
        "declined": '<span class="rag-badge rag-badge-refused">Declined</span>',
        "refused": '<span class="rag-badge rag-badge-refused">Not in the article</span>',
        "fallback": f'<span class="rag-badge rag-badge-fallback">{FALLBACK_BADGE}</span>',
        "ok": "",
    }
    parts = [f'<div class="rag-answer rag-{kind}">']
    if badges[kind]:
        parts.append(f'<div class="rag-badges">{badges[kind]}')
        if answer.fallback and answer.refused:
            parts.append('<span class="rag-badge rag-badge-fallback">Fallback</span>')
        parts.append("</div>")
    parts.append(f'<div class="rag-text">{body}</div>')
    if kind == "error" and answer.error and answer.error.strip() != answer.text.strip():
        parts.append(f'<div class="rag-fix"><b>What to fix:</b> {esc(answer.error)}</div>')
    if answer.fallback:
        why = answer.error or "the language model did not answer"
        parts.append(
            f'<div class="rag-fix"><b>Why a fallback:</b> {esc(why)}. These sentences are quoted '
            "from the article, not written by the model.</div>"
        )
    for note in answer.notes:
        parts.append(f'<div class="rag-note">{esc(note)}</div>')
    if answer.removed:
        n = len(answer.removed)
        items = "".join(f"<li>{esc(s)}</li>" for s in answer.removed)
        parts.append(
            f'<details class="rag-removed"><summary>{n} sentence{"s" if n > 1 else ""} removed: '
            f"not supported by the article</summary><ul>{items}</ul></details>"
        )
    parts.append(render_meta(answer, requested))
    parts.append("</div>")
    return "".join(parts)


def render_meta(answer: Answer, requested: str = "") -> str:
    t = answer.timings
    backend = answer.backend or requested or "?"
    if answer.fallback and requested and requested != backend:
        backend = f"{backend} (instead of {requested})"
    bits = [f'<span class="rag-meta-backend">{esc(backend)}</span>']
    if t.first_token_s is not None and answer.backend != EXTRACTIVE and t.first_token_s != t.total_s:
        bits.append(f"first text {_seconds(t.first_token_s)}")
    bits.append(f"total {_seconds(t.total_s)}")
    if answer.citations:
        n = len(answer.citations)
        bits.append(f"{n} source{'s' if n > 1 else ''}")
    return f'<div class="rag-meta">{" · ".join(bits)}</div>'


def render_stopped() -> str:
    return '<div class="rag-answer rag-stopped"><div class="rag-text">Stopped.</div></div>'


def render_sources(answer: Answer | None, documents: Mapping[str, Document]) -> str:
    """The sources panel: each cited paragraph with its number and text, then what was retrieved."""
    if answer is None:
        return (
            '<div class="rag-sources"><p class="rag-empty">Ask a question: the paragraphs the answer '
            "relies on appear here, and are highlighted in the article below.</p></div>"
        )
    _, targets = linkify(answer.text, documents, answer)
    cited = [(c.doc, c.paragraph) for c in answer.citations] or targets
    heading = "Closest paragraphs (not enough to answer)" if answer.refused else "Cited paragraphs"
    multi = len(documents) > 1
    parts = ['<div class="rag-sources">']
    if cited:
        parts.append(f'<div class="rag-sources-head">{esc(heading)}</div>')
        for doc, number in dict.fromkeys(cited):
            text = _paragraph_text(documents, doc, number)
            if text is None:
                text = next((c.text for c in answer.citations if (c.doc, c.paragraph) == (doc, number)), "")
            label = "Caption" if number == 0 else f"¶{number}"
            where = (
                f'<span class="rag-src-doc">{esc(documents[doc].title)}</span>'
                if multi and doc in documents
                else ""
            )
            parts.append(
                f'<div class="rag-src" id="{esc(source_id(doc, number))}">'
                f'<a class="rag-goto" href="#{esc(paragraph_id(doc, number))}" title="Show in the article">'
                f'{esc(label)}</a>{where}<div class="rag-src-text">{esc(text)}</div></div>'
            )
    else:
        parts.append('<p class="rag-empty">This answer cites no paragraph.</p>')
    if answer.passages:
        rows = []
        for p in answer.passages:
            first = p.paragraphs[0] if p.paragraphs else 1
            label = p.label() if multi else p.label().replace(f"{p.doc} ", "")
            rows.append(
                f'<li><a class="rag-goto" href="#{esc(paragraph_id(p.doc, first))}">{esc(label)}</a>'
                f' <span class="rag-score">score {p.score:.3f}</span>'
                f'<div class="rag-src-text">{esc(p.text)}</div></li>'
            )
        parts.append(
            f'<details class="rag-retrieved"><summary>All {len(answer.passages)} retrieved passages'
            f"</summary><ol>{''.join(rows)}</ol></details>"
        )
    parts.append("</div>")
    return "".join(parts)


def render_article(documents: Mapping[str, Document], highlight: Sequence[tuple[str, int]] = (),
                   refused: bool = False) -> str:  # fmt: skip
    """Every article in full: metadata, caption (¶0) and numbered paragraphs under their sections."""
    marked = set(highlight)
    css = "rag-near" if refused else "rag-cited"
    parts = ['<div class="rag-articles">']
    for doc in documents.values():
        parts.append(f'<article class="rag-article" id="rag-doc-{esc(doc.id)}">')
        line = " · ".join(esc(x) for x in (doc.publisher, nice_date(doc.date)) if x)
        if line:
            parts.append(f'<div class="rag-kicker">{line}</div>')
        parts.append(f"<h2>{esc(doc.title)}</h2>")
        if doc.subtitle:
            parts.append(f'<p class="rag-subtitle">{esc(doc.subtitle)}</p>')
        if doc.author:
            parts.append(f'<p class="rag-byline">By {esc(doc.author)}</p>')
        if doc.caption:
            cls = f"rag-para rag-caption {css}" if (doc.id, 0) in marked else "rag-para rag-caption"
            parts.append(
                f'<figure class="{cls}" id="{esc(paragraph_id(doc.id, 0))}" tabindex="-1">'
                '<span class="rag-pn">Photo caption</span>'
                f"<figcaption>{esc(doc.caption)}</figcaption></figure>"
            )
        section = None
        for p in doc.paragraphs:
            if p.section and p.section != section and p.section != doc.title:
                parts.append(f"<h3>{esc(p.section)}</h3>")
            section = p.section
            cls = f"rag-para {css}" if (doc.id, p.number) in marked else "rag-para"
            parts.append(
                f'<p class="{cls}" id="{esc(paragraph_id(doc.id, p.number))}" tabindex="-1">'
                f'<span class="rag-pn">¶{p.number}</span>{esc(p.text)}</p>'
            )
        if doc.source:
            parts.append(f'<p class="rag-source-file">Source file: {esc(doc.source)}</p>')
        parts.append("</article>")
    parts.append("</div>")
    return "".join(parts)


def render_header(documents: Sequence[Document]) -> str:
    doc = documents[0]
    kicker = " · ".join(esc(x) for x in (doc.publisher, nice_date(doc.date)) if x)
    more = ""
    if len(documents) > 1:
        others = len(documents) - 1
        more = f'<span class="rag-more">and {others} more article{"s" if others > 1 else ""}</span>'
    byline = f'<div class="rag-head-byline">By {esc(doc.author)}</div>' if doc.author else ""
    return (
        '<header class="rag-head"><div class="rag-head-kicker">Ask the article'
        f"{' · ' + kicker if kicker else ''}</div>"
        f"<h1>{esc(doc.title)} {more}</h1>{byline}</header>"
    )


def render_status(status: Mapping[str, str]) -> str:
    """The pill in the header: index and model state."""
    index = status.get("index", "")
    items = []
    if index == "opening":
        items.append(("busy", "Opening the article index…"))
    elif index.startswith("failed"):
        items.append(("bad", f"Index {index}"))
    backend = status.get("backend")
    model = status.get("model")
    name = status.get("model_name", "")
    if backend == LOCAL:
        if model in ("loading", "not loaded"):
            items.append(("busy", f"Local model {name}: loading… (questions wait for it)"))
        elif model and model.startswith("setting up"):
            items.append(("busy", f"Local model {name}: {model}. Answers quote the article meanwhile."))
        elif model == "reading":
            items.append(("busy", f"Local model {name}: reading the article… (answers quote it meanwhile)"))
        elif model == "ready":
            took = status.get("load_seconds")
            items.append(("ok", f"Local model {name}: ready" + (f" (loaded in {took} s)" if took else "")))
        elif model:
            items.append(("bad", f"Local model {name}: {model}. Answers quote the article instead."))
    elif backend == REMOTE:
        items.append(("ok", f"Remote model {name} at {status.get('base_url', '')}"))
    elif backend == EXTRACTIVE:
        items.append(("ok", "Extractive answers: sentences quoted from the article, no model"))
    elif backend:
        items.append(("ok", f"Backend {backend}"))
    if index == "ready" and not items:
        items.append(("ok", "Ready"))
    spinner = '<span class="rag-spinner"></span>'
    pills = "".join(
        f'<span class="rag-pill rag-pill-{kind}">{spinner if kind == "busy" else ""}{esc(text)}</span>'
        for kind, text in items
    )
    return f'<div class="rag-status-bar" role="status" aria-live="polite">{pills}</div>'


def status_busy(status: Mapping[str, str]) -> bool:
    model = status.get("model") or ""
    return (
        status.get("index") == "opening"
        or model in ("loading", "not loaded", "reading")
        or model.startswith("setting up")
    )


@dataclass
class Turn:
    """One question and its answer (``None`` while it is being written, or if stopped)."""

    question: str
    answer: Answer | None = None
    requested: str = ""


def history_of(turns: Sequence[Turn]) -> list[dict[str, str]]:
    """Conversation memory for the model: finished turns without errors."""
    out: list[dict[str, str]] = []
    for t in turns:
        if t.answer is not None and not (t.answer.error and not t.answer.fallback):
            out += [{"role": "user", "content": t.question}, {"role": "assistant", "content": t.answer.text}]
    return out


def render_chat(turns: Sequence[Turn], documents: Mapping[str, Document], pending: str | None = None) -> list:
    messages: list[dict[str, str]] = []
    for i, t in enumerate(turns):
        messages.append({"role": "user", "content": render_question(t.question)})
        if t.answer is not None:
            messages.append({"role": "assistant", "content": render_answer(t.answer, documents, t.requested)})
        elif i == len(turns) - 1 and pending is not None:
            messages.append({"role": "assistant", "content": pending})
        else:
            messages.append({"role": "assistant", "content": render_stopped()})
    return messages


def examples_for(documents: Sequence[Document]) -> list[str]:
    """Example questions for the page, made from the first article: about the people it quotes
    (its speakers, see :func:`rag.conversation.speakers`), else generic ones."""
    if not documents:
        return GENERIC_EXAMPLES
    people = [p for p in speakers(p.text for p in documents[0].paragraphs) if len(p.split()) > 1]
    asked = [f"Who is {people[0]}?"] if people else []
    asked += [f"What did {name} say?" for name in people[1:3]]
    return [*asked, *GENERIC_EXAMPLES][:4]


# -- articles ------------------------------------------------------------------------------
def article_choices(documents: Iterable[Document]) -> list[tuple[str, str]]:
    """The "Ask about" picker: all articles, then each by title (its id as the value)."""
    return [("All articles", ""), *((doc.title or doc.id, doc.id) for doc in documents)]


def render_upload_result(doc: Document | None, error: str | None) -> str:
    """What the page says after an upload: the article added, or why it was not."""
    if doc is None:
        return f'<div class="rag-upload rag-upload-error" role="alert">Not added: {esc(error or "")}</div>'
    n = len(doc.paragraphs)
    return (
        f'<div class="rag-upload rag-upload-ok" role="status">Added “{esc(doc.title)}” '
        f"({n} paragraph{'s' if n != 1 else ''}). It is selected under “Ask about”.</div>"
    )
