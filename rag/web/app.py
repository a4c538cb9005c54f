"""The Gradio page: its layout and its events (``build_app``), and how it is launched.

The page is up before the slow parts are ready: the index opens and the local model loads in
background threads (:class:`~rag.web.service.Service`), and the page shows their progress. A
question asked while the local model is still loading waits for it (with a visible note) for
up to ``--load-wait`` seconds, then is answered from the article's own sentences (the
extractive backend), marked as a fallback. The HTML comes from :mod:`rag.web.render`.

Other programs use the ``/ask`` endpoint through ``gradio_client`` (see ``docs/web.md``), or the
OpenAI-compatible HTTP API under ``/v1`` (:mod:`rag.web.api`, ``docs/api.md``).
"""

from __future__ import annotations

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from .. import articles
from ..articles import MAX_ARTICLE_BYTES, UPLOAD_SUFFIXES, ArticleError
from ..backends import backend_names
from ..router import route
from ..settings import LOCAL, MAX_K, REMOTE, WebConfig
from ..types import Answer, Document
from .render import (
    BACKEND_LABELS,
    Turn,
    article_choices,
    examples_for,
    history_of,
    linkify,
    render_article,
    render_chat,
    render_header,
    render_pending,
    render_sources,
    render_status,
    render_upload_result,
    status_busy,
)
from .service import Service

STATIC = Path(__file__).resolve().parent.parent / "static"
API_NAME = "ask"
PLACEHOLDER = "Ask about the article…"
# Under an empty chat: requests about the whole article first, then questions about its people.
STARTERS = ("Summarize the article", "Who is quoted?", "Key points")
BUSY_PLACEHOLDER = "Answering… (Stop interrupts)"
STOP_WAIT = 5.0  # seconds Stop waits for the reply being written to end


@dataclass
class Run:
    """A reply being written: ``ending`` is set by Stop or Clear, with the ``last`` output
    the reply shows before it ends (what they show themselves); ``done`` once it has ended."""

    ending: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    last: tuple = ()


class Runs:
    """The reply being written in each browser session, so that Stop and Clear can end it.

    Gradio sends Stop's own event and the cancel of the reply side by side, and ends a run by
    sending its last output again, so a draft could land after "Stopped." and stay on the
    page. So the reply is asked to end with the output Stop will show as its own last one,
    and Stop waits until it has ended (or ``STOP_WAIT`` passes) before it answers.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, Run] = {}

    @contextmanager
    def start(self, session: str) -> Iterator[Run]:
        """Register a reply for ``session`` for the length of the block."""
        run = Run()
        with self._lock:
            self._runs[session] = run
        try:
            yield run
        finally:  # also when Gradio closes the cancelled generator
            run.done.set()
            with self._lock:
                if self._runs.get(session) is run:
                    del self._runs[session]

    def end(self, session: str, last: tuple, wait: float = STOP_WAIT) -> bool:
        """Ask the reply of ``session`` to show ``last`` and end; True once none is running."""
        with self._lock:
            run = self._runs.get(session)
        if run is None:
            return True
        run.last = last
        run.ending.set()
        return run.done.wait(wait)


def starters(documents) -> list[str]:
    """The questions offered under an empty chat: :data:`STARTERS`, then two about the article's
    people (:func:`~rag.web.render.examples_for`)."""
    extra = [q for q in examples_for(documents) if not route(q).whole]
    return [*STARTERS, *extra[:2]]


def ready() -> gr.Textbox:
    """The question box once no reply is being written."""
    return gr.Textbox(interactive=True, placeholder=PLACEHOLDER)


def _session(request: gr.Request | None) -> str:
    return str(getattr(request, "session_hash", None) or "")


def _read_static(name: str) -> str:
    return (STATIC / name).read_text("utf-8")


def build_app(service: Service, *, page_uploads: bool = True):
    """The Gradio Blocks of the page (mounted by :func:`rag.web.server.create_app`).

    ``page_uploads``: readers may add articles from the page (refused when the server listens
    beyond the loopback address without a password).
    """
    docs = service.documents_by_id()  # for the page as first served; handlers read them anew
    first = service.documents[0]
    defaults = service.settings()
    choices = [(BACKEND_LABELS.get(n, n), n) for n in backend_names()]
    runs = Runs()

    def article(answer: Answer | None, docs: Mapping[str, Document]) -> str:
        if answer is None:
            return render_article(docs)
        _, targets = linkify(answer.text, docs, answer)
        cited = [(c.doc, c.paragraph) for c in answer.citations] or targets
        return render_article(docs, cited, refused=answer.refused)

    def chat(question, turns, doc, backend, base_url, remote_model, k, request: gr.Request):
        """Answer ``question``, streaming into the chat; update the sources and the article."""
        turns = list(turns or [])
        text = question if isinstance(question, str) else ""
        if not text.strip():
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        settings = service.settings(backend, base_url, remote_model, k)
        docs = service.documents_by_id()
        history = history_of(turns)
        turns.append(Turn(text, None, settings.backend))
        status, draft = "Searching the article…", ""
        busy = gr.Textbox(value="", interactive=False, placeholder=BUSY_PLACEHOLDER)
        with runs.start(_session(request)) as run:
            pending = render_chat(turns, docs, render_pending(status, draft, docs))
            yield pending, turns, busy, gr.skip(), gr.skip()
            for event in service.stream(text, history, settings, doc=doc or None):
                if run.ending.is_set():  # Gradio sends a run's last output again at its end
                    yield run.last
                    return
                if event.kind == "status":
                    status = event.text
                elif event.kind == "delta":
                    draft += event.text
                    status = "Writing…"
                else:
                    assert event.answer is not None
                    docs = service.documents_by_id()  # a corpus change is picked up by this question
                    turns[-1] = Turn(text, event.answer, settings.backend)
                    yield (
                        render_chat(turns, docs),
                        turns,
                        ready(),
                        render_sources(event.answer, docs),
                        article(event.answer, docs),
                    )
                    return
                yield (
                    render_chat(turns, docs, render_pending(status, draft, docs)),
                    gr.skip(),
                    gr.skip(),
                    gr.skip(),
                    gr.skip(),
                )

    def retry(turns, doc, backend, base_url, remote_model, k, request: gr.Request):
        turns = list(turns or [])
        if not turns:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        last = turns.pop()
        yield from chat(last.question, turns, doc, backend, base_url, remote_model, k, request)

    def from_example(
        event: gr.SelectData, turns, doc, backend, base_url, remote_model, k, request: gr.Request
    ):
        value = event.value if isinstance(event.value, dict) else {}
        text = str(value.get("text", ""))
        yield from chat(text, turns, doc, backend, base_url, remote_model, k, request)

    def picker(value: str | None = None) -> gr.Dropdown:
        docs = service.documents_by_id()
        keep = value if value in docs else ""
        return gr.Dropdown(choices=article_choices(docs.values()), value=keep)

    def upload(file, current):
        """Add the uploaded file as an article; show what happened; offer it in the picker."""
        if not file:
            return gr.skip(), gr.skip(), gr.skip()
        path = Path(file if isinstance(file, str) else getattr(file, "name", ""))
        try:
            content = path.read_bytes()[: MAX_ARTICLE_BYTES + 1]
            doc = service.add_article(articles.from_upload(path.name, content))
        except (ArticleError, RuntimeError, OSError) as exc:
            return render_upload_result(None, str(exc)), gr.skip(), gr.skip()
        docs = service.documents_by_id()
        return render_upload_result(doc, None), picker(doc.id), render_article(docs)

    def undo(turns):
        turns = list(turns or [])
        if not turns:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        last = turns.pop()
        previous = next((t.answer for t in reversed(turns) if t.answer is not None), None)
        docs = service.documents_by_id()
        return (
            render_chat(turns, docs),
            turns,
            last.question,
            render_sources(previous, docs),
            article(previous, docs),
        )

    def clear(request: gr.Request):
        docs = service.documents_by_id()
        box_update = gr.Textbox(value="", interactive=True, placeholder=PLACEHOLDER)
        shown = [], [], box_update, render_sources(None, docs), article(None, docs)
        runs.end(_session(request), shown)  # so that no draft of a reply lands after it
        return shown

    def stopped(turns, request: gr.Request):
        docs = service.documents_by_id()
        shown = render_chat(list(turns or []), docs), gr.skip(), ready(), gr.skip(), gr.skip()
        runs.end(_session(request), shown)  # so that no draft of the reply lands after "Stopped."
        return shown

    def status(backend):
        current = service.status(service.settings(backend))
        return render_status(current), gr.Timer(active=status_busy(current))

    def settings_changed(backend):
        current = service.status(service.settings(backend))
        if backend == LOCAL and service.local_status() is None:
            threading.Thread(target=service.preload_local, daemon=True).start()
        return render_status(current), gr.Timer(active=True), gr.Group(visible=backend == REMOTE)

    def ask(question: str, history: list[dict] | None = None) -> dict:
        """Answer a question about the article, with the paragraphs it cites.

        history: earlier turns, a list of {"role": "user"|"assistant", "content": "..."}.
        Returns {answer, refused, backend, fallback, error, citations, passages, timings, ...}.
        """
        return service.ask(question, history)

    title = f"Ask the article — {first.title}"
    with gr.Blocks(title=title, analytics_enabled=False, fill_width=True) as demo:
        turns_state = gr.State([])
        with gr.Row(elem_id="rag-top", equal_height=True):
            gr.HTML(render_header(service.documents), elem_id="rag-header", js_on_load=None, scale=5)
            status_html = gr.HTML(
                render_status(service.status(defaults)), elem_id="rag-status", js_on_load=None, scale=2
            )
        with gr.Row(elem_id="rag-main"):
            with gr.Column(scale=6, min_width=360, elem_id="rag-chat-col"):
                with gr.Row(elem_id="rag-articles-row", equal_height=True):
                    doc_picker = gr.Dropdown(
                        article_choices(docs.values()),
                        value="",
                        label="Ask about",
                        elem_id="rag-doc",
                        scale=4,
                        min_width=200,
                        container=False,
                    )
                    add_button = gr.UploadButton(
                        "Add an article…",
                        file_types=list(UPLOAD_SUFFIXES),
                        file_count="single",
                        size="sm",
                        variant="secondary",
                        scale=1,
                        min_width=140,
                        elem_id="rag-upload",
                        visible=page_uploads and service.can_edit_articles(),
                    )
                upload_html = gr.HTML("", elem_id="rag-upload-result", js_on_load=None)
                chatbot = gr.Chatbot(
                    elem_id="rag-chat",
                    show_label=False,
                    height="calc(100vh - 365px)",
                    min_height=380,
                    render_markdown=False,  # messages are HTML built (and escaped) here
                    sanitize_html=True,
                    allow_tags=False,
                    feedback_options=None,
                    buttons=[],
                    layout="bubble",
                    placeholder=(
                        "<div class='rag-placeholder'><b>Ask anything about the article.</b><br>"
                        "Every answer cites the paragraphs it uses: click a ¶ marker to read it.</div>"
                    ),
                    examples=[{"text": q, "display_text": q} for q in starters(service.documents)],
                )
                with gr.Row(elem_id="rag-input-row"):
                    box = gr.Textbox(
                        placeholder=PLACEHOLDER,
                        show_label=False,
                        lines=1,
                        max_lines=4,
                        scale=8,
                        autofocus=True,
                        elem_id="rag-input",
                        container=False,
                    )
                    send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="rag-send")
                with gr.Row(elem_id="rag-actions"):
                    small: dict[str, Any] = {"size": "sm", "variant": "secondary", "scale": 0}
                    stop = gr.Button("■ Stop", elem_id="rag-stop", **small)
                    retry_btn = gr.Button("↻ Retry", elem_id="rag-retry", **small)
                    clear_btn = gr.Button("Clear conversation", elem_id="rag-clear", **small)
                with gr.Accordion("Settings", open=False, elem_id="rag-settings"):
                    backend = gr.Radio(
                        choices, value=defaults.backend, label="Who writes the answers", elem_id="rag-backend"
                    )
                    with gr.Group(visible=defaults.backend == REMOTE) as remote_group:
                        base_url = gr.Textbox(
                            value=service.config.base_url or "",
                            label="Server URL (OpenAI-compatible)",
                            placeholder="https://api.openai.com/v1",
                        )
                        remote_model = gr.Textbox(
                            value=defaults.remote_model, label="Model name on that server"
                        )
                        gr.Markdown(
                            "The API key is set on the server (`OPENAI_API_KEY`); it is only sent to the "
                            "server URL the app was started with."
                        )
                    k = gr.Slider(1, MAX_K, value=defaults.k, step=1, label="Passages retrieved per question")
            with gr.Column(scale=5, min_width=320, elem_id="rag-side"):
                gr.HTML("<div class='rag-panel-title'>Sources</div>", js_on_load=None)
                sources = gr.HTML(
                    render_sources(None, docs),
                    elem_id="rag-sources",
                    elem_classes=["rag-scroll"],
                    js_on_load=None,
                )
                gr.HTML("<div class='rag-panel-title'>The article</div>", js_on_load=None)
                article_html = gr.HTML(
                    render_article(docs), elem_id="rag-article", elem_classes=["rag-scroll"], js_on_load=None
                )
        timer = gr.Timer(1.0, active=status_busy(service.status(defaults)))

        settings_in = [doc_picker, backend, base_url, remote_model, k]
        outputs = [chatbot, turns_state, box, sources, article_html]
        private: dict[str, Any] = {"api_visibility": "private"}
        # A question sent between a reply's last output (which frees the box) and the end of its
        # event would be dropped by Gradio's default "once": it runs when that event ends instead.
        asked: dict[str, Any] = {"trigger_mode": "always_last", **private}
        events = [
            box.submit(chat, [box, turns_state, *settings_in], outputs, **asked),
            send.click(chat, [box, turns_state, *settings_in], outputs, **asked),
            retry_btn.click(retry, [turns_state, *settings_in], outputs, **private),
            chatbot.retry(retry, [turns_state, *settings_in], outputs, **private),
            chatbot.example_select(from_example, [turns_state, *settings_in], outputs, **private),
        ]
        stop.click(stopped, [turns_state], outputs, cancels=events, **private)
        chatbot.undo(undo, [turns_state], outputs, **private)
        clear_btn.click(clear, None, outputs, cancels=events, **private)
        chatbot.clear(clear, None, outputs, cancels=events, **private)
        quiet: dict[str, Any] = {"show_progress": "hidden", **private}
        timer.tick(status, [backend], [status_html, timer], **quiet)
        demo.load(status, [backend], [status_html, timer], **quiet)
        # Articles added since start, for a page opened before anything is asked.
        demo.load(lambda: article(None, service.documents_by_id()), None, [article_html], **quiet)
        demo.load(picker, [doc_picker], [doc_picker], **quiet)
        add_button.upload(
            upload, [add_button, doc_picker], [upload_html, doc_picker, article_html], **private
        )
        backend.change(settings_changed, [backend], [status_html, timer, remote_group], **quiet)
        gr.api(ask, api_name=API_NAME)
    demo.queue(default_concurrency_limit=service.config.concurrency)
    return demo


def launch_options(config: WebConfig) -> dict[str, Any]:
    """Arguments of ``Blocks.launch``: never a share link; auth when RAG_PASSWORD is set."""
    theme = gr.themes.Default(
        primary_hue="blue",
        neutral_hue="slate",
        font=["Inter", "ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
    )
    options: dict[str, Any] = {
        "server_name": config.host,
        "server_port": config.port,
        "share": False,
        "show_error": False,
        "footer_links": ["api"],
        "run_history": False,
        "enable_monitoring": False,
        "mcp_server": False,
        "ssr_mode": False,
        "pwa": False,
        "theme": theme,
        "css": _read_static("web.css"),
        "js": _read_static("web.js"),
    }
    if config.password:
        options["auth"] = [(config.user, config.password)]
        options["auth_message"] = "This reading companion is private. Sign in to ask about the article."
    return options


def mount_options(config: WebConfig) -> dict[str, Any]:
    """Arguments of ``gr.mount_gradio_app``: the launch options, and uploads capped at 2 MB."""
    options = {k: v for k, v in launch_options(config).items() if k != "share"}
    options["max_file_size"] = MAX_ARTICLE_BYTES
    return options


def mount_page(app, demo, config: WebConfig):
    """Mount the page ``demo`` at ``/`` of the FastAPI ``app`` (after the app's own routes)."""
    return gr.mount_gradio_app(app, demo, path="/", **mount_options(config))
