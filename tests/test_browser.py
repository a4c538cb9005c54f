"""The page in a real headless Chromium: streaming, citation links, settings, and that no
text from the article, a corpus file or a model reply can run script in the page.

Needs Debian's chromium (``apt-get install -y chromium``); skipped without it.
"""

from __future__ import annotations

import os
import re
import shutil
import time

import pytest
from conftest import ARTICLE_PATH
from playwright import sync_api
from web_helpers import (
    OUTPUT,
    REPO,
    EchoBackend,
    EndlessBackend,
    FailingBackend,
    HostileBackend,
    app_in_process,
    app_process,
    chromium_browser,
    free_port,
    registered,
)

from rag.corpus import load_corpus
from rag.retriever import Retriever

pytestmark = pytest.mark.slow
expect = sync_api.expect

QUESTION = "Who confirmed that North Korean troops were in Russia?"
TIMEOUT = 120_000  # ms; generous for a busy 2-core machine, never asserted as a speed
MODEL_TIMEOUT = 600_000  # ms; the default model, while the other test worker may run a model too

# Records every state of the reply being written, to show that text arrives in pieces.
WATCH = """() => {
  window.__drafts = [];
  const chat = document.querySelector('#rag-chat');
  new MutationObserver(() => {
    const pending = chat.querySelector('.rag-pending');
    if (pending) window.__drafts.push(pending.textContent);
  }).observe(chat, {subtree: true, childList: true, characterData: true});
}"""

# Anything a hostile string could have slipped into the page.
INJECTED = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    for (const name of el.getAttributeNames()) if (name.startsWith('on')) bad.push(`${el.tagName} ${name}`);
    const tag = el.tagName.toLowerCase();
    if (tag === 'script' && el.textContent.includes('__xss')) bad.push('script');
    if (tag === 'img' && el.getAttribute('src') === 'x') bad.push('img');
    if (tag === 'iframe') bad.push('iframe');
    if (tag === 'svg' && el.closest('#rag-chat, #rag-article, #rag-sources, #rag-header')
        && !el.closest('button, .icon-button, [class*=icon]')) bad.push('svg');
    if (tag === 'a' && (el.getAttribute('href') || '').startsWith('javascript')) bad.push('javascript link');
  }
  return {bad, xss: window.__xss === undefined ? null : window.__xss};
}"""


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as browser:
        yield browser


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.dialogs = []
    page.errors = []

    def on_dialog(dialog):
        page.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    yield page
    context.close()


@pytest.fixture(scope="module")
def documents():
    from conftest import CORPUS_DIR

    return load_corpus(CORPUS_DIR).documents


@pytest.fixture(scope="module")
def echo_app(documents, retriever):
    """The page with a deterministic streaming model, and in Settings every other backend: the
    stand-ins of the tests below (one app for all of them: each test has its own browser session,
    whose settings start from the default)."""
    backends = registered(
        echo=lambda **_: EchoBackend(delay=0.05),
        failing=lambda **_: FailingBackend(),
        endless=lambda **_: EndlessBackend(),
        hostile=lambda **_: HostileBackend(),
        **{"slow-echo": lambda **_: EchoBackend(delay=0.5)},
    )
    with backends, app_in_process(documents, retriever, backend="echo") as (url, _):
        yield url


def open_page(page, url):
    page.goto(url)
    for part in ("#rag-article .rag-para", "#rag-chat", "#rag-input textarea", "#rag-send"):
        expect(page.locator(part).first).to_be_visible(timeout=TIMEOUT)


def ask(page, question, answers_before=0, timeout=TIMEOUT):
    page.locator("#rag-input textarea").fill(question)
    page.locator("#rag-input textarea").press("Enter")
    final = page.locator("#rag-chat .rag-answer:not(.rag-pending)")
    expect(final).to_have_count(answers_before + 1, timeout=timeout)
    return final.nth(answers_before)


def click_first_marker(page, answer):
    marker = answer.locator("a.rag-cite").first
    target = marker.get_attribute("href")[1:]
    marker.click()
    paragraph = page.locator(f'[id="{target}"]')
    expect(paragraph).to_have_class(re.compile(r"\brag-focus\b"))
    expect(paragraph).to_be_in_viewport()
    return target, paragraph


def choose_backend(page, name):
    if not page.locator("#rag-backend").is_visible():
        page.locator("#rag-settings").get_by_text("Settings").first.click()
    page.locator("#rag-backend").get_by_text(name, exact=False).first.click()


def screenshot(page, name):
    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / name
    page.screenshot(path=str(path))
    return path


def test_answer_streams_in_and_a_marker_shows_its_paragraph(page, echo_app):
    open_page(page, echo_app)
    expect(page.locator("#rag-header")).to_contain_text("North Korea’s support puts Russian President Putin")
    expect(page.locator("#rag-header")).to_contain_text("October 24, 2024")
    page.evaluate(WATCH)
    answer = ask(page, QUESTION)
    drafts = [d for d in page.evaluate("window.__drafts") if "NATO" in d]
    final_text = answer.locator(".rag-text").inner_text()
    assert drafts, "no streamed text was shown before the final answer"
    assert any(len(d.split()) < len(final_text.split()) for d in drafts), "the reply did not arrive in pieces"
    assert "NATO and the United States confirmed" in final_text
    expect(answer.locator(".rag-meta")).to_contain_text("echo")
    expect(answer.locator(".rag-meta")).to_contain_text("first text")

    target, paragraph = click_first_marker(page, answer)
    assert target.endswith("-3")
    expect(paragraph).to_have_class(re.compile(r"\brag-cited\b"))
    expect(paragraph).to_contain_text("NATO and the United States confirmed")
    card = page.locator(f'[id="{target.replace("rag-p-", "rag-s-")}"]')
    expect(card).to_contain_text("¶3")
    expect(card).to_have_class(re.compile(r"\brag-focus\b"))
    assert not page.dialogs and not page.errors
    screenshot(page, "browser-streamed-answer.png")


def test_extractive_answer_with_sources(page, echo_app):
    open_page(page, echo_app)
    choose_backend(page, "Extractive")
    answer = ask(page, "What did Victor Cha say about North Korean casualties?")
    expect(answer.locator(".rag-meta")).to_contain_text("extractive")
    expect(page.locator("#rag-sources .rag-src").first).to_be_visible()
    click_first_marker(page, answer)
    screenshot(page, "web-chat-extractive.png")


def test_the_default_app_answers_with_its_local_model_and_screenshot(page, tmp_path):
    # `make chat` as a reader starts it: `python app.py` and its packaged model, which reads the
    # article in the background (or loads its reading from .cache/kv, kept from an earlier start).
    port = free_port()
    with app_process(["--port", str(port)], log=tmp_path / "app.log") as url:
        open_page(page, url)
        status = page.locator("#rag-status")
        expect(status).to_contain_text("Local model", timeout=TIMEOUT)
        expect(status).to_contain_text("ready", timeout=MODEL_TIMEOUT)  # loaded, and the article read
        answer = ask(page, QUESTION, timeout=MODEL_TIMEOUT)
        expect(answer.locator(".rag-meta")).to_contain_text("llama-cpp")
        expect(answer).to_have_class(re.compile(r"\brag-ok\b"))  # not a fallback, error or refusal
        expect(answer.locator(".rag-text")).to_contain_text("NATO")
        target, paragraph = click_first_marker(page, answer)
        expect(paragraph).to_contain_text("NATO")
        expect(page.locator(f'[id="{target.replace("rag-p-", "rag-s-")}"]')).to_be_visible()
        page.wait_for_timeout(800)  # let the smooth scroll settle for the picture
        page.evaluate("window.scrollTo(0, 0)")  # the header in the picture too
        path = screenshot(page, "web-chat.png")
    assert not page.dialogs and not page.errors
    if os.environ.get("RAG_UPDATE_DOCS_SCREENSHOT") == "1":  # refresh the README picture on demand
        shutil.copy(path, REPO / "docs" / "screenshot.png")


def test_follow_up_uses_the_conversation(page, echo_app):
    open_page(page, echo_app)
    choose_backend(page, "Extractive")
    ask(page, "Who is Victor Cha?")
    follow = ask(page, "Where does he work?", answers_before=1)
    expect(follow).to_contain_text("Center for Strategic and International Studies")
    expect(follow).not_to_have_class(re.compile(r"rag-refused"))


def test_a_question_sent_as_the_last_answer_lands_is_not_lost(page, documents, retriever):
    # The box is free again with the reply's last output, a moment before its event ends (on a
    # busy machine, longer). A question sent in that moment must still be answered. The moment
    # is stretched here to a second, by a pause when the reply's answer stream is closed.
    with app_in_process(documents, retriever, backend="extractive") as (url, service):
        answers = service.stream

        def slow_to_close(*args, **kwargs):
            try:
                yield from answers(*args, **kwargs)
            finally:
                time.sleep(1.0)

        service.stream = slow_to_close
        open_page(page, url)
        ask(page, "Who is Victor Cha?")
        second = ask(page, "Who is Kim Du-yeon?", answers_before=1, timeout=30_000)
        expect(second).to_contain_text("Kim Du-yeon")
        expect(page.locator("#rag-chat .rag-q")).to_have_count(2)


def test_refusal_error_and_fallback_look_different(page, echo_app):
    open_page(page, echo_app)
    choose_backend(page, "Extractive")
    refused = ask(page, "What is the recipe for kimchi stew?")
    expect(refused).to_have_class(re.compile(r"\brag-refused\b"))
    expect(refused.locator(".rag-badge")).to_have_text("Not in the article")

    choose_backend(page, "failing")
    fallback = ask(page, QUESTION, answers_before=1)
    expect(fallback).to_have_class(re.compile(r"\brag-fallback\b"))
    expect(fallback.locator(".rag-badge").first).to_contain_text("Fallback")
    expect(fallback.locator(".rag-fix")).to_contain_text("connection refused")
    expect(fallback.locator(".rag-meta")).to_contain_text("instead of failing")

    page.locator("#rag-input textarea").fill("x" * 2500)
    page.locator("#rag-send").click()
    error = page.locator("#rag-chat .rag-answer").nth(2)
    expect(error).to_have_class(re.compile(r"\brag-error\b"), timeout=TIMEOUT)
    expect(error.locator(".rag-badge")).to_have_text("Error")
    expect(error).to_contain_text("Please ask something shorter")


def test_retry_clear_and_examples(page, echo_app):
    open_page(page, echo_app)
    choose_backend(page, "Extractive")
    page.locator("#rag-chat").get_by_text("Who is Kim Du-yeon?").first.click()  # made from its speakers
    answers = page.locator("#rag-chat .rag-answer:not(.rag-pending)")
    expect(answers).to_have_count(1, timeout=TIMEOUT)
    page.locator("#rag-retry").click()
    expect(page.locator("#rag-chat .rag-pending")).to_have_count(0, timeout=TIMEOUT)
    expect(answers).to_have_count(1)
    expect(page.locator("#rag-chat .rag-q")).to_have_count(1)
    page.locator("#rag-clear").click()
    expect(answers).to_have_count(0)
    expect(page.locator("#rag-sources")).to_contain_text("Ask a question")
    expect(page.locator("#rag-article .rag-cited")).to_have_count(0)


def test_stop_ends_a_reply_and_the_chat_goes_on(page, echo_app):
    open_page(page, echo_app)
    choose_backend(page, "slow-echo")
    page.locator("#rag-input textarea").fill(QUESTION)
    page.locator("#rag-send").click()
    expect(page.locator("#rag-chat .rag-pending .rag-text")).to_contain_text("NATO", timeout=TIMEOUT)
    page.locator("#rag-stop").click()
    expect(page.locator("#rag-chat .rag-stopped")).to_have_count(1, timeout=TIMEOUT)
    expect(page.locator("#rag-chat .rag-pending")).to_have_count(0)
    choose_backend(page, "Extractive")
    answer = ask(page, "Who is Victor Cha?", answers_before=1)  # after the stopped one
    expect(answer).to_contain_text("Victor Cha")
    assert not page.errors


def test_no_draft_lands_after_stop_or_clear(page, echo_app):
    # Stop's event and the cancel of the reply travel side by side; with a draft every 10 ms,
    # one sent just before the cancel would land after "Stopped." and stay on the page.
    open_page(page, echo_app)
    choose_backend(page, "endless")
    for stops in range(1, 6):
        page.locator("#rag-input textarea").fill(QUESTION)
        page.locator("#rag-send").click()
        expect(page.locator("#rag-chat .rag-pending .rag-text")).to_contain_text("NATO", timeout=TIMEOUT)
        page.locator("#rag-stop").click()
        expect(page.locator("#rag-chat .rag-stopped")).to_have_count(stops, timeout=TIMEOUT)
        page.wait_for_timeout(300)  # time for a late draft to arrive
        expect(page.locator("#rag-chat .rag-pending")).to_have_count(0, timeout=1)
        expect(page.locator("#rag-input textarea")).to_be_editable()
    page.locator("#rag-input textarea").fill(QUESTION)  # and Clear in the middle of a reply
    page.locator("#rag-send").click()
    expect(page.locator("#rag-chat .rag-pending .rag-text")).to_contain_text("NATO", timeout=TIMEOUT)
    page.locator("#rag-clear").click()
    expect(page.locator("#rag-chat .rag-q")).to_have_count(0, timeout=TIMEOUT)
    page.wait_for_timeout(300)
    expect(page.locator("#rag-chat .rag-q, #rag-chat .rag-answer")).to_have_count(0, timeout=1)
    expect(page.locator("#rag-input textarea")).to_be_editable()
    assert not page.errors


def test_hostile_model_reply_cannot_run_script(page, echo_app):
    open_page(page, echo_app)
    choose_backend(page, "hostile")
    page.evaluate(WATCH)
    answer = ask(page, QUESTION)
    page.wait_for_timeout(500)
    drafts = page.evaluate("window.__drafts")
    result = page.evaluate(INJECTED)
    expect(answer.locator(".rag-meta")).to_be_visible()
    assert any("<img src=x onerror=" in d for d in drafts), "the hostile text was not shown as text"
    assert result == {"bad": [], "xss": None}
    assert page.dialogs == []


HOSTILE_ARTICLE = """---
title: "<script>window.__xss=1;alert('title')</script>Harbour ${alert(5)} news {{x}}"
author: "<img src=x onerror=\\"window.__xss=2;alert('author')\\">"
publisher: "Evil </title><script>alert(6)</script> Press"
date: 2024-05-01
caption: "<svg onload=\\"window.__xss=3;alert('caption')\\"></svg> A boat in the harbour."
---

The lighthouse keeper <img src=x onerror="window.__xss=4;alert('para')"> counted 42 ships on Monday.

## <iframe src="javascript:alert(7)"></iframe> Storm damage

Fishermen said the storm <script>window.__xss=5;alert('p2')</script> destroyed three boats near the pier.

The harbour master <a href="javascript:alert(8)">promised</a> repairs before the summer season.
"""


def test_hostile_corpus_file_cannot_run_script(page, tmp_path, embedder):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "harbour.md").write_text(HOSTILE_ARTICLE, "utf-8")
    documents = load_corpus(folder).documents
    retriever = Retriever.from_corpus(folder, embedder=embedder, cache_dir=str(tmp_path / "cache"))
    with app_in_process(documents, retriever, backend="extractive") as (url, _):
        open_page(page, url)
        assert "<script>" in page.title()  # the title is text, not markup
        expect(page.locator("#rag-header")).to_contain_text("<script>window.__xss=1")
        expect(page.locator("#rag-article")).to_contain_text('<img src=x onerror="window.__xss=4')
        answer = ask(page, "How many ships did the lighthouse keeper count?")
        expect(answer).to_contain_text("counted 42 ships")
        expect(answer).to_contain_text("<img src=x")
        click_first_marker(page, answer)
        ask(page, "What did the fishermen say about the storm?", answers_before=1)
        page.wait_for_timeout(500)
        result = page.evaluate(INJECTED)
        screenshot(page, "browser-hostile-corpus.png")
    assert result == {"bad": [], "xss": None}
    assert page.dialogs == []


def test_page_makes_no_outside_requests(page, echo_app):
    outside = []
    page.on("request", lambda r: None if r.url.startswith(echo_app) else outside.append(r.url))
    open_page(page, echo_app)
    page.wait_for_timeout(1000)
    assert [u for u in outside if not u.startswith(("data:", "blob:"))] == []


GWANGJU = (
    "# Gwangju opens its kimchi festival\n\n"
    "The city of Gwangju opened its annual kimchi festival on Friday, organisers said.\n\n"
    "About 40,000 visitors tasted kimchi from 120 local makers on the first day.\n"
)


def test_an_article_added_while_the_app_runs_shows_in_the_panel(page, article_corpus, tmp_path, embedder):
    documents = load_corpus(article_corpus).documents
    retriever = Retriever.from_corpus(article_corpus, embedder=embedder, cache_dir=str(tmp_path / "cache"))
    with app_in_process(documents, retriever, backend="extractive") as (url, _):
        open_page(page, url)
        expect(page.locator("#rag-article")).not_to_contain_text("kimchi")
        (article_corpus / "gwangju.md").write_text(GWANGJU, "utf-8")
        page.wait_for_timeout(2200)  # the app looks at the corpus folder at most every 2 s
        answer = ask(page, "How many visitors tasted kimchi at the Gwangju festival?")
        expect(answer).to_contain_text("40,000")
        target, paragraph = click_first_marker(page, answer)
        assert target == "rag-p-gwangju-2"
        expect(paragraph).to_contain_text("About 40,000 visitors tasted kimchi")
        page.reload()  # a new visitor sees it too, before asking anything
        for part in ("#rag-article .rag-para", "#rag-input textarea"):
            expect(page.locator(part).first).to_be_visible(timeout=TIMEOUT)
        expect(page.locator("#rag-article")).to_contain_text("About 40,000 visitors tasted kimchi")


def test_upload_an_article_through_the_page_and_ask_about_it(page, article_corpus, tmp_path, embedder):
    """The "Add an article" button saves and indexes the file; the "Ask about" picker then
    scopes the question to it, and the answer cites its paragraph."""
    documents = load_corpus(article_corpus).documents
    retriever = Retriever.from_corpus(article_corpus, embedder=embedder, cache_dir=str(tmp_path / "cache"))
    upload = tmp_path / "gwangju-kimchi.md"
    upload.write_text(GWANGJU, "utf-8")
    bad = tmp_path / "notes.txt"
    bad.write_bytes("Caf\xe9 cr\xe8me".encode("latin-1"))
    with app_in_process(documents, retriever, backend="extractive") as (url, service):
        open_page(page, url)
        expect(page.locator("#rag-upload")).to_be_visible()
        with page.expect_file_chooser() as chooser:
            page.locator("#rag-upload").click()
        chooser.value.set_files(str(bad))
        expect(page.locator("#rag-upload-result")).to_contain_text("Not added: the file is not UTF-8 text")
        assert sorted(p.name for p in article_corpus.iterdir()) == [ARTICLE_PATH.name]
        with page.expect_file_chooser() as chooser:
            page.locator("#rag-upload").click()
        chooser.value.set_files(str(upload))
        result = page.locator("#rag-upload-result")
        expect(result).to_contain_text("Added “Gwangju opens its kimchi festival”", timeout=TIMEOUT)
        assert (article_corpus / "gwangju-kimchi.md").read_text("utf-8") == GWANGJU
        assert "gwangju-kimchi" in service.documents_by_id()
        expect(page.locator("#rag-doc input")).to_have_value("Gwangju opens its kimchi festival")
        expect(page.locator("#rag-article")).to_contain_text("About 40,000 visitors tasted kimchi")
        answer = ask(page, "How many visitors came on the first day?")
        expect(answer).to_contain_text("40,000")
        target, _ = click_first_marker(page, answer)
        assert target == "rag-p-gwangju-kimchi-2"
        screenshot(page, "upload-and-ask.png")


def test_starters_under_an_empty_chat_ask_about_the_whole_article(page, echo_app):
    open_page(page, echo_app)
    chat = page.locator("#rag-chat")
    for starter in ("Summarize the article", "Who is quoted?", "Key points"):
        expect(chat.get_by_text(starter, exact=True).first).to_be_visible()
    page.evaluate(WATCH)
    chat.get_by_text("Summarize the article", exact=True).first.click()
    answers = page.locator("#rag-chat .rag-answer:not(.rag-pending)")
    expect(answers).to_have_count(1, timeout=TIMEOUT)
    summary = answers.nth(0)
    assert [d for d in page.evaluate("window.__drafts") if d.strip()], "the summary did not stream"
    expect(summary).to_have_class(re.compile(r"\brag-ok\b"))
    assert summary.locator("a.rag-cite").count() >= 3  # every sentence of it cites its paragraph
    expect(summary.locator(".rag-text")).to_contain_text("debt")  # the lead first
    click_first_marker(page, summary)
    people = ask(page, "Who is quoted?", answers_before=1)
    for name in ("Cha", "Kim Du-yeon", "Seiler", "Hong Min"):
        expect(people.locator(".rag-text")).to_contain_text(name)
    points = ask(page, "Key points", answers_before=2)
    assert points.locator(".rag-text").inner_text().count("\n- ") >= 4  # one bullet per line
    assert not page.dialogs and not page.errors
    screenshot(page, "browser-starters.png")
