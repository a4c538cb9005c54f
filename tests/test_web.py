"""The web chat end to end: a real ``python app.py`` answering through ``gradio_client``,
plus the pieces the page is built from (escaping, citation links, answer styles, settings).
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import urllib.error
import urllib.request
from dataclasses import replace
from html.parser import HTMLParser

import gradio_client  # a dependency of the web extra: missing, these tests fail rather than skip
import pytest
from web_helpers import (
    HOSTILE_HTML,
    EchoBackend,
    FailingBackend,
    SlowLoadingBackend,
    app_env,
    app_in_process,
    app_process,
    free_port,
    registered,
    running_app,
)

from rag import settings
from rag.assistant import INJECTION_REPLY
from rag.corpus import load_corpus
from rag.settings import WebConfig
from rag.types import Answer, Citation, Document, Paragraph, Passage, Timings
from rag.web.render import (
    MarkerResolver,
    answer_kind,
    examples_for,
    linkify,
    render_answer,
    render_article,
    render_header,
    render_pending,
    render_sources,
    render_status,
    status_busy,
)
from rag.web.service import Service, parse_history

QUESTION = "Who confirmed that North Korean troops were in Russia?"


@pytest.fixture(scope="module")
def app_cache(tmp_path_factory, cache_root, embedder):
    """A fresh index cache for the app process that reuses the session's ONNX export."""
    folder = tmp_path_factory.mktemp("web-cache")
    (folder / "onnx").symlink_to(cache_root / "onnx", target_is_directory=True)
    return folder


@pytest.fixture(scope="module")
def app_url(app_cache, tmp_path_factory):
    """``python app.py`` with the extractive backend on a free port."""
    port = free_port()
    log = tmp_path_factory.mktemp("web-log") / "app.log"
    args = ["--backend", "extractive", "--port", str(port), "--cache-dir", str(app_cache)]
    with app_process(args, log=log) as url:
        yield url


@pytest.fixture(scope="module")
def client(app_url):
    return gradio_client.Client(app_url, verbose=False)


def ask(client, question, history=None) -> dict:
    if history is None:
        return client.predict(question, api_name="/ask")
    return client.predict(question, history, api_name="/ask")


# -- through gradio_client, against the real app -------------------------------------------
def test_page_is_served_with_the_article(app_url):
    with urllib.request.urlopen(app_url + "/config") as reply:
        config = json.loads(reply.read())
    assert "North Korea’s support puts Russian President Putin in its debt" in config["title"]
    assert config.get("analytics_enabled") is False
    page = json.dumps(config["components"])
    assert "rag-article" in page and "Hwasong-18" in page  # the article panel is in the page


def test_only_ask_is_public(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert list(endpoints) == ["/ask"]


def test_ask_returns_json_with_citations(client):
    result = ask(client, QUESTION)
    assert set(result) >= {"answer", "refused", "backend", "citations", "passages", "timings", "error"}
    assert result["refused"] is False and result["error"] is None
    assert result["backend"] == "extractive"
    assert "NATO" in result["answer"] and "[¶3]" in result["answer"]
    assert {k: result["citations"][0][k] for k in ("doc", "paragraph")} == {
        "doc": "korea-herald-2024-10-24-north-korea-russia",
        "paragraph": 3,
    }
    assert result["citations"][0]["text"].startswith("NATO and the United States confirmed")
    passage = result["passages"][0]
    assert set(passage) == {"doc", "paragraphs", "text", "score"} and passage["paragraphs"]
    assert set(result["timings"]) == {"retrieve_s", "first_token_s", "total_s"}


def test_history_makes_a_follow_up_answerable(client):
    first = ask(client, "Who is Victor Cha?")
    history = [
        {"role": "user", "content": "Who is Victor Cha?"},
        {"role": "assistant", "content": first["answer"]},
    ]
    alone = ask(client, "Where does he work?")
    follow = ask(client, "Where does he work?", history)
    assert alone["refused"] is True  # "he" means nothing without the conversation
    assert follow["refused"] is False
    assert "Victor Cha" in follow["query"]
    assert "Center for Strategic and International Studies" in follow["answer"]
    assert 4 in [c["paragraph"] for c in follow["citations"]]
    as_text = ask(client, "Where does he work?", json.dumps(history))  # JSON text works too
    assert as_text["answer"] == follow["answer"]


@pytest.mark.parametrize(
    ("question", "expect"),
    [
        ("", "Please type a question"),
        ("   \n\t ", "Please type a question"),
        ("x" * 100_000, "the limit is 2,000"),
        ("\x00\x01\x02\x7f\ufffe\ud7ff" * 50, None),
        ("".join(chr(b) for b in bytes(range(256))) * 3, None),
    ],
    ids=["empty", "blank", "100k-chars", "control-chars", "binary-junk"],
)
def test_bad_input_gets_a_clear_message(client, question, expect):
    result = ask(client, question)
    assert isinstance(result["answer"], str) and result["answer"]
    if expect:
        assert expect in result["answer"] and result["error"]
    else:  # junk is either turned away with a message or found not to be in the article
        assert result["error"] or result["refused"]


@pytest.mark.parametrize("history", ["not json", '{"role": "user"}', [1, 2, 3], [{"role": "user"}, "x"]])
def test_bad_history_gets_a_clear_message(client, history):
    result = ask(client, QUESTION, history)
    assert "history" in result["error"] and result["citations"] == []


def test_app_still_answers_after_bad_input(client):
    ask(client, "\x00" * 1000)
    assert ask(client, QUESTION)["citations"]


def test_ten_simultaneous_clients_get_their_own_answers(app_url, client):
    questions = [  # each is answered from different paragraphs
        QUESTION,
        "In which month did Putin travel to Pyongyang?",
        "What facilities did North Korean state media report that Kim Jong-un toured?",
        "Which news agency put out the photo of Kim at the missile base?",
        "Which organization does Hong Min work for as a senior research fellow?",
        "How is Kim Yo-jong related to Kim Jong-un?",
        "What title does Victor Cha hold at the Center for Strategic and International Studies?",
        "What does DPRK stand for?",
        "How does Seiler characterize the so-called revisionist powers?",
        "According to the experts, in whose debt could the personnel dispatch leave Putin?",
    ]
    expected = {q: ask(client, q) for q in questions}  # one at a time first
    assert all(r["citations"] for r in expected.values())
    results: dict[str, dict] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(questions))

    def run(question: str) -> None:
        try:
            own = gradio_client.Client(app_url, verbose=False)
            barrier.wait()
            results[question] = ask(own, question)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(q,)) for q in questions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors
    for q in questions:
        assert results[q]["answer"] == expected[q]["answer"], q
        assert results[q]["citations"] == expected[q]["citations"], q
        assert results[q]["query"] == q  # each reply is about its own question


def test_password_from_the_environment(app_cache, tmp_path):
    port = free_port()
    env = app_env(RAG_PASSWORD="s3cret-pw", RAG_USER="tester")
    args = ["--backend", "extractive", "--port", str(port), "--cache-dir", str(app_cache)]
    with app_process(args, env=env, log=tmp_path / "app.log") as url:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url + "/config")
        assert refused.value.code == 401
        with pytest.raises(Exception):  # noqa: B017 - whatever the client raises, it is refused
            gradio_client.Client(url, verbose=False).predict(QUESTION, api_name="/ask")
        authed = gradio_client.Client(url, auth=("tester", "s3cret-pw"), verbose=False)
        assert authed.predict(QUESTION, api_name="/ask")["citations"]
    assert "s3cret-pw" not in (tmp_path / "app.log").read_text()


def test_a_stop_does_not_wait_for_idle_open_pages(app_cache, tmp_path):
    """An open page (here a connected ``gradio_client``) keeps a heartbeat stream open; a stop
    (Ctrl-C, SIGTERM) ends it at once instead of waiting out the 5-s grace period kept for
    answers still streaming."""
    import signal

    args = ["--backend", "extractive", "--port", str(free_port()), "--cache-dir", str(app_cache)]
    with running_app(args, log=tmp_path / "app.log") as (url, proc):
        page = gradio_client.Client(url, verbose=False)
        assert page.predict(QUESTION, api_name="/ask")["citations"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=3.5) in (0, 130)  # a clean stop, well before the 5-s grace period
    assert "graceful shutdown exceeded" not in (tmp_path / "app.log").read_text()


# -- in-process apps with stand-in models ---------------------------------------------------
@pytest.fixture(scope="module")
def article_documents():
    from conftest import CORPUS_DIR

    return load_corpus(CORPUS_DIR).documents


def test_api_with_a_streaming_model(article_documents, retriever):
    echo = registered(echo=lambda **_: EchoBackend(delay=0.0))
    with echo, app_in_process(article_documents, retriever, backend="echo") as (url, _):
        result = gradio_client.Client(url, verbose=False).predict(QUESTION, api_name="/ask")
    assert result["backend"] == "echo" and not result["fallback"]
    assert result["citations"] and result["timings"]["first_token_s"] is not None


def test_failing_model_gives_a_marked_fallback(article_documents, retriever):
    failing = registered(failing=lambda **_: FailingBackend())
    with failing, app_in_process(article_documents, retriever, backend="failing") as (url, _):
        result = gradio_client.Client(url, verbose=False).predict(QUESTION, api_name="/ask")
    assert result["fallback"] is True and result["backend"] == "extractive"
    assert "connection refused" in result["error"] and result["citations"]


def test_hostile_model_reply_comes_back_as_data(article_documents, retriever):
    from web_helpers import HostileBackend

    hostile = registered(hostile=lambda **_: HostileBackend())
    with hostile, app_in_process(article_documents, retriever, backend="hostile") as (url, _):
        result = gradio_client.Client(url, verbose=False).predict(QUESTION, api_name="/ask")
    assert isinstance(result["answer"], str)  # JSON text; escaping is the page's job (test_browser)


# -- waiting for the local model -----------------------------------------------------------
def _service(documents, retriever, **config) -> Service:
    service = Service(WebConfig(**config), documents, lambda: retriever)
    service.start()
    return service


def test_question_waits_for_the_loading_model(article_documents, retriever):
    slow = SlowLoadingBackend()
    with registered(**{"slow-loading": lambda **_: slow}):
        service = _service(article_documents, retriever, backend="slow-loading", load_wait=120)
        assert service.retriever(timeout=60) is retriever
        events = service.stream(QUESTION)
        first = next(events)
        assert first.kind == "status" and "loading" in first.text
        slow.finish()
        final = next(e for e in events if e.kind == "final").answer
    assert final.backend == "slow-loading" and not final.fallback and final.citations


def test_question_falls_back_when_the_model_is_still_loading(article_documents, retriever):
    with registered(**{"never-loads": lambda **_: SlowLoadingBackend()}):
        service = _service(article_documents, retriever, backend="never-loads", load_wait=0)
        final = next(e for e in service.stream(QUESTION) if e.kind == "final").answer
    assert final.fallback and final.backend == "extractive"
    assert "still loading" in final.error and final.citations


def test_status_reports_the_index_and_the_local_model(article_documents, retriever):
    gate = threading.Event()

    def slow_open():
        gate.wait(30)
        return retriever

    service = Service(WebConfig(backend="extractive"), article_documents, slow_open)
    service.start()
    assert service.status()["index"] == "opening"
    assert "Opening the article index" in render_status(service.status())
    gate.set()
    assert service.retriever(timeout=30) is retriever
    assert service.status()["index"] == "ready"
    local = service.status(service.settings(backend="llama-cpp"))
    assert local["backend"] == "llama-cpp" and local["model"] == "not loaded"
    assert "loading" in render_status({"index": "ready", "backend": "llama-cpp", "model": "loading"})
    reading = {"index": "ready", "backend": "llama-cpp", "model": "reading"}
    assert "reading the article" in render_status(reading) and status_busy(reading)
    failed = render_status({"index": "ready", "backend": "llama-cpp", "model": "failed: no such file"})
    assert "failed: no such file" in failed and "rag-pill-bad" in failed


def test_unopenable_index_is_reported_in_the_answer(article_documents):
    def broken():
        raise OSError("disk full")

    service = Service(WebConfig(backend="extractive"), article_documents, broken)
    service.start()
    final = next(e for e in service.stream(QUESTION) if e.kind == "final").answer
    assert "disk full" in final.error and "disk full" in final.text
    assert service.status()["index"].startswith("failed")


# -- settings ------------------------------------------------------------------------------
def _parse(argv, monkeypatch, **env):
    for key in ("GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT", "RAG_BACKEND", "OPENAI_API_KEY", "RAG_PASSWORD",
                "RAG_API_KEY", "RAG_BASE_URL", "OPENAI_BASE_URL"):  # fmt: skip
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    parser = argparse.ArgumentParser()
    settings.add_server_flags(parser)
    settings.add_corpus_flags(parser)
    return settings.web_config(parser.parse_args(argv))


def test_defaults_are_local_and_private(monkeypatch):
    config = _parse([], monkeypatch)
    assert (config.host, config.port, config.backend, config.password) == (
        "127.0.0.1",
        7860,
        "llama-cpp",
        None,
    )


def test_corpus_folder_is_looked_at_every_two_seconds_unless_set(monkeypatch):
    assert _parse([], monkeypatch).corpus_check == 2.0
    assert _parse(["--corpus-check", "0"], monkeypatch).corpus_check == 0.0
    assert _parse(["--corpus-check", "-1"], monkeypatch).corpus_check == 0.0


def test_host_and_port_from_flags_or_gradio_env(monkeypatch):
    assert _parse(["--host", "0.0.0.0", "--port", "9000"], monkeypatch).port == 9000
    config = _parse([], monkeypatch, GRADIO_SERVER_NAME="0.0.0.0", GRADIO_SERVER_PORT="8123")
    assert (config.host, config.port) == ("0.0.0.0", 8123)


def test_api_key_and_password_never_shown(monkeypatch):
    config = _parse([], monkeypatch, OPENAI_API_KEY="sk-secret-1", RAG_PASSWORD="pw-secret-2")
    assert config.api_key == "sk-secret-1" and config.password == "pw-secret-2"
    assert "sk-secret-1" not in repr(config) and "pw-secret-2" not in repr(config)


def test_launch_never_shares(monkeypatch):
    from rag.web.app import launch_options

    options = launch_options(_parse([], monkeypatch, RAG_PASSWORD="pw"))
    assert options["share"] is False and options["auth"] == [("reader", "pw")]
    assert "auth" not in launch_options(_parse([], monkeypatch))


def test_api_key_only_goes_to_the_configured_server(article_documents, retriever):
    config = WebConfig(backend="openai", base_url="https://llm.example.org/v1", api_key="sk-secret")
    service = Service(config, article_documents, lambda: retriever)
    ours = service.backend(service.settings("openai"))
    other = service.backend(service.settings("openai", base_url="https://evil.example.com/v1"))
    assert ours._key == "sk-secret" and ours.base_url == "https://llm.example.org/v1"
    assert other._key != "sk-secret" and other.base_url == "https://evil.example.com/v1"
    default = Service(WebConfig(backend="openai", api_key="sk-2"), article_documents, lambda: retriever)
    assert default.backend(default.settings("openai"))._key == "sk-2"  # no URL set: OpenAI itself
    typed = default.settings("openai", base_url="https://api.openai.com/v1/")
    assert default.backend(typed)._key == "sk-2"


def test_settings_are_validated(article_documents, retriever):
    service = Service(WebConfig(backend="extractive", k=4), article_documents, lambda: retriever)
    assert service.settings("no-such-backend").backend == "extractive"
    assert service.settings(k=99).k == 10 and service.settings(k=0).k == 1 and service.settings(k="x").k == 4


def test_parse_history():
    assert parse_history(None) == ([], None)
    assert parse_history('[{"role": "user", "content": "hi"}]') == ([{"role": "user", "content": "hi"}], None)
    assert parse_history("nope")[1] and parse_history({"role": "user"})[1] and parse_history([1])[1]


# -- rendering: everything escaped, markers linked, answers styled by kind ------------------
DOC = "doc-1"


def _doc(**overrides) -> Document:
    paragraphs = tuple(Paragraph(DOC, i, f"Paragraph {i} text.", None) for i in range(1, 4))
    fields = dict(id=DOC, title="A title", paragraphs=paragraphs, date="2024-10-24", caption="A caption.")
    fields.update(overrides)
    return Document(**fields)


def _answer(text="Paragraph 2 text. [¶2]", **overrides) -> Answer:
    fields = dict(
        text=text,
        refused=False,
        citations=(Citation(DOC, 2, "Paragraph 2 text."),),
        passages=(Passage("Paragraph 2 text.", DOC, (2,), 0.5),),
        backend="extractive",
        timings=Timings(0.01, 0.02, 0.03),
    )
    fields.update(overrides)
    return Answer(**fields)


def test_markers_become_links_to_the_article():
    docs = {DOC: _doc()}
    html, targets = linkify("One [¶2]. Two [¶1, ¶3]. Caption [¶0]. Bad [¶9].", docs, _answer())
    assert (
        'href="#rag-p-doc-1-2"' in html
        and 'href="#rag-p-doc-1-3"' in html
        and 'href="#rag-p-doc-1-0"' in html
    )
    assert "rag-cite-missing" in html  # ¶9 does not exist: shown, not linked
    assert targets == [(DOC, 2), (DOC, 1), (DOC, 3), (DOC, 0)]
    article = render_article(docs, targets)
    assert 'id="rag-p-doc-1-2"' in article and 'class="rag-para rag-cited" id="rag-p-doc-1-2"' in article


def test_lettered_markers_resolve_in_multi_article_answers():
    docs = {"a": _doc(id="a"), "b": _doc(id="b")}
    answer = _answer(citations=(Citation("a", 1, "x"), Citation("b", 2, "y")))
    resolver = MarkerResolver(docs, answer)
    assert resolver.resolve("A", 1) == ("a", 1) and resolver.resolve("B", 2) == ("b", 2)
    assert resolver.resolve("", 2) == ("b", 2) and resolver.resolve("C", 1) is None


SAFE_TAGS = {"div", "span", "a", "p", "h1", "h2", "h3", "b", "article", "figure", "figcaption", "header"}
SAFE_TAGS |= {"details", "summary", "ul", "ol", "li"}


def _tags(markup: str) -> list[tuple[str, dict]]:
    """Every start tag of ``markup`` as a browser would parse it, with its attributes."""
    found: list[tuple[str, dict]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, dict(attrs)))

    Collect().feed(markup)
    return found


@pytest.mark.parametrize(
    "hostile",
    [
        HOSTILE_HTML,
        '"><img src=x onerror=alert(1)>',
        "</title><script>alert(1)</script>",
        "${alert(1)} {{x}}",
    ],
)
def test_every_renderer_escapes_text(hostile):
    doc = _doc(
        title=hostile,
        subtitle=hostile,
        author=hostile,
        publisher=hostile,
        caption=hostile,
        date=hostile,
        source=hostile,
        paragraphs=(Paragraph(DOC, 1, hostile, hostile), Paragraph(DOC, 2, "ok", None)),
    )
    docs = {DOC: doc}
    answer = _answer(
        text=f"{hostile} [¶1]",
        citations=(Citation(DOC, 1, hostile),),
        passages=(Passage(hostile, DOC, (1,), 0.5),),
        removed=(hostile,),
        backend=hostile,
        error=hostile,
        fallback=True,
    )
    pieces = [
        render_answer(answer, docs, requested=hostile),
        render_answer(replace(answer, fallback=False), docs),
        render_pending(hostile, hostile + " [¶1]", docs),
        render_sources(answer, docs),
        render_article(docs, [(DOC, 1)]),
        render_header([doc]),
        render_status({"index": hostile, "backend": "openai", "model_name": hostile, "base_url": hostile}),
    ]
    for piece in pieces:
        tags = _tags(piece)
        assert {t for t, _ in tags} <= SAFE_TAGS, piece
        for _, attrs in tags:
            assert not [a for a in attrs if a.startswith("on")], attrs
            assert not str(attrs.get("href", "")).startswith("javascript"), attrs
        assert "&lt;" in piece or "&quot;" in piece or "${alert" in piece


@pytest.mark.parametrize(
    ("answer", "kind", "badge"),
    [
        (_answer(), "ok", None),
        (_answer("The article does not say.", refused=True, citations=()), "refused", "Not in the article"),
        (_answer(INJECTION_REPLY, refused=True, citations=()), "declined", "Declined"),
        (_answer("Please type a question.", error="Please type a question.", citations=()), "error", "Error"),
        (_answer(fallback=True, error="model failed"), "fallback", "Fallback"),
    ],
)
def test_answers_look_like_what_they_are(answer, kind, badge):
    assert answer_kind(answer) == kind
    html = render_answer(answer, {DOC: _doc()}, requested="llama-cpp")
    assert f"rag-{kind}" in html
    if badge:
        assert badge in html
    else:
        assert "rag-badge" not in html
    assert "total 30 ms" in html and "extractive" in html


def test_error_answer_says_what_to_fix():
    answer = _answer(
        "The language model failed.", error="cannot reach the server: set --base-url", citations=()
    )
    assert "What to fix:" in render_answer(answer, {DOC: _doc()}) and "--base-url" in render_answer(
        answer, {}
    )


def test_fallback_and_timings_are_shown():
    answer = _answer(fallback=True, error="connection refused", timings=Timings(0.1, 1.5, 4.25))
    html = render_answer(answer, {DOC: _doc()}, requested="llama-cpp:qwen")
    assert "instead of llama-cpp:qwen" in html and "connection refused" in html and "total 4.2 s" in html
    model = render_answer(
        replace(answer, backend="llama-cpp:qwen", fallback=False, error=None), {DOC: _doc()}
    )
    assert "first text 1.5 s" in model and "total 4.2 s" in model


def test_sources_list_cited_paragraphs_with_numbers():
    html = render_sources(_answer(), {DOC: _doc()})
    assert 'id="rag-s-doc-1-2"' in html and "¶2" in html and "Paragraph 2 text." in html
    assert "retrieved passages" in html
    refused = render_sources(
        _answer("The article does not say. Closest [¶1].", refused=True, citations=()), {DOC: _doc()}
    )
    assert "Closest paragraphs" in refused and 'id="rag-s-doc-1-1"' in refused


def test_header_shows_title_and_date():
    html = render_header([_doc()])
    assert "A title" in html and "October 24, 2024" in html


def test_rag_serve_command():
    """`rag serve` takes the same flags as `python app.py` (a missing command fails here, never skips)."""
    from rag import cli

    args = cli.build_parser().parse_args(["serve", "--backend", "extractive", "--port", "9999", "-k", "6"])
    assert args.func is cli._cmd_serve
    assert args.port == 9999 and args.k == 6 and args.backend == "extractive"
    config = settings.web_config(args)
    assert (config.port, config.k, config.backend) == (9999, 6, "extractive")


def test_remote_server_url_is_read_the_same_by_every_command(monkeypatch):
    """RAG_BASE_URL (else OPENAI_BASE_URL) means the same to `rag ask`, `rag eval` and `rag serve`."""
    from rag import cli

    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("RAG_BASE_URL", "http://127.0.0.1:8/v1")
    parser = cli.build_parser()
    for argv in (["ask", "q"], ["eval"], ["serve"]):
        args = parser.parse_args(argv)
        assert settings.model_settings(args).base_url == "http://127.0.0.1:8/v1", argv
    monkeypatch.delenv("RAG_BASE_URL")
    assert settings.model_settings(cli.build_parser().parse_args(["serve"])).base_url.endswith(":9/v1")


def test_repack_flag_reaches_the_local_backend_options_of_every_command():
    from rag import cli, settings

    parser = cli.build_parser()
    for argv in (["ask", "q"], ["eval"], ["serve"]):
        assert "repack" not in settings.backend_options("llama-cpp", parser.parse_args(argv), None), argv
        args = parser.parse_args([*argv, "--repack"])
        assert settings.backend_options("llama-cpp", args, None)["repack"] is True, argv
    assert settings.web_config(parser.parse_args(["serve", "--repack"])).models.repack is True


def test_backend_choices_come_from_the_registry():
    from rag import cli

    with registered(echo=lambda **_: EchoBackend()):
        parser = cli.build_parser()
        assert parser.parse_args(["ask", "q", "--backend", "echo"]).backend == "echo"
        assert parser.parse_args(["serve", "--backend", "echo"]).backend == "echo"
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["ask", "q", "--backend", "no-such-backend"])


def test_example_questions_come_from_the_article_not_from_code(article_documents):
    text = " ".join(p.text for p in article_documents[0].paragraphs)
    named = [q for q in examples_for(article_documents) if q.startswith("Who is ")]
    assert named and named[0].removeprefix("Who is ").rstrip("?") in text
    said = Paragraph("x", 1, "Maria Lopez said the bridge opened on Monday.")
    other = Document("x", "A quiet town", (said,))
    assert examples_for([other])[0] == "Who is Maria Lopez?"
    assert examples_for([]) and all(q.endswith("?") for q in examples_for([]))


def test_stop_waits_for_the_reply_to_end_and_only_its_own():
    from rag.web.app import Runs

    runs = Runs()
    started, shown = threading.Event(), []

    def reply(session):
        with runs.start(session) as run:
            started.set()
            while not run.ending.wait(0.01):
                pass
            shown.append(run.last)

    worker = threading.Thread(target=reply, args=("a",))
    worker.start()
    assert started.wait(5)
    assert runs.end("b", ("cleared",)) is True and shown == []  # another session: nothing to end
    assert runs.end("a", ("stopped",), wait=5) is True
    assert shown == [("stopped",)]  # it returned once the reply had ended, showing Stop's output
    worker.join(5)
    assert runs.end("a", ("stopped",)) is True  # ended replies are forgotten


def test_stop_gives_up_waiting_for_a_reply_that_never_looks():
    from rag.web.app import Runs

    runs = Runs()
    with runs.start("a"):
        assert runs.end("a", (), wait=0.05) is False
    assert runs.end("a", (), wait=0.05) is True


@pytest.mark.parametrize("chosen", [False, True], ids=["beside-the-corpus", "cache-dir"])
def test_the_page_keeps_the_model_state_where_rag_warm_does(tmp_path, monkeypatch, chosen):
    # Decided before the index opens; it once came from a document's file name, so the page
    # kept its reading of the article one folder up, where `rag warm` had not put it.
    from rag.cli import build_parser as cli_parser
    from rag.web.server import build_parser, make_service

    corpus = tmp_path / "work" / "corpus"
    corpus.mkdir(parents=True)
    (corpus / "harbour.md").write_text("# Harbour\n\nThe keeper counted 42 ships on Monday.\n", "utf-8")
    monkeypatch.chdir(tmp_path)  # a relative path must not decide it
    for name in [n for n in os.environ if n.startswith("RAG_")]:
        monkeypatch.delenv(name)
    flags = ["--corpus", str(corpus)] + (["--cache-dir", str(tmp_path / "elsewhere")] if chosen else [])
    args = build_parser().parse_args(flags)
    service = make_service(args, settings.web_config(args))
    warm = cli_parser().parse_args(["warm", *flags])
    assert service.cache_root == settings.cache_root(warm, corpus)
    assert service.cache_root == (tmp_path / "elsewhere" if chosen else tmp_path / "work" / ".cache")


def test_an_added_article_is_read_by_the_loaded_model_before_anyone_asks(
    tmp_path, article_corpus, cache_root, embedder
):
    """Reading a new article takes the local model a while; it starts when the article is added,
    not at the first question about it (which is quoted at until the reading is done)."""
    import time

    from backend_helpers import SMOLLM2, linked_cache

    from rag import Retriever
    from rag.articles import from_fields

    corpus = article_corpus
    cache = linked_cache(tmp_path / "cache", cache_root)
    retriever = Retriever.from_corpus(corpus, embedder=embedder, cache_dir=str(cache))
    config = WebConfig(backend="llama-cpp", model=SMOLLM2, threads=1)
    documents = retriever.corpus.documents
    service = Service(config, documents, lambda: retriever, cache_root=cache, corpus_folder=corpus)
    service.start()

    def readings(n: int, within: float = 180) -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if len(list((cache / "kv").glob("*.bin"))) >= n:
                return True
            time.sleep(0.2)
        return False

    assert readings(1), "the seed article was not read at start-up"
    assert service.local_status() == "ready"
    text = "The ferry left Mokpo at dawn with 300 passengers.\n\nIt reached Jeju by noon, the operator said."
    added = service.add_article(from_fields({"title": "A ferry to Jeju", "text": text}))
    assert added.id in service.ready_retriever().documents
    assert readings(2), "the added article was not read before a question asked for it"
