"""`make chat` opens the page while the local model's set-up still runs in the background.

The set-up (``scripts/setup.sh --chat``) holds an exclusive ``flock`` on ``.cache/setup/lock`` and
writes its progress to ``.cache/setup/status``; here a real ``flock`` process holds the lock.
"""

from __future__ import annotations

import subprocess
import time

import pytest
from backend_helpers import SMOLLM2, linked_cache

from rag.settings import WebConfig
from rag.web.render import render_status, status_busy
from rag.web.service import Service
from rag.web.setup_watch import SetupWatch

QUESTION = "Who confirmed that North Korean troops were in Russia?"
PROGRESS = "building llama.cpp for this CPU: 45% (about 1 min left)"


class HeldLock:
    """A real ``flock FILE cat`` process: holds the lock until its input is closed."""

    def __init__(self, lock) -> None:
        self.proc = subprocess.Popen(["flock", str(lock), "cat"], stdin=subprocess.PIPE)

    def held(self, watch: SetupWatch, within: float = 30) -> None:
        deadline = time.monotonic() + within
        while watch.pending() is None:  # the process needs a moment to take the lock
            assert self.proc.poll() is None and time.monotonic() < deadline, "flock did not take the lock"
            time.sleep(0.02)

    def release(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture
def setup_folder(tmp_path):
    folder = tmp_path / "setup"
    folder.mkdir()
    (folder / "status").write_text(PROGRESS + "\n")
    return folder


def test_no_lock_or_a_free_lock_means_no_set_up_is_running(setup_folder):
    watch = SetupWatch(setup_folder)
    assert watch.pending() is None  # no lock file: nothing ever ran here
    (setup_folder / "lock").touch()
    assert watch.pending() is None  # the set-up ended (its status file stays)
    assert watch.wait(timeout=5) is True


def test_a_held_lock_reports_the_set_up_s_progress_until_it_ends(setup_folder):
    watch = SetupWatch(setup_folder)
    holder = HeldLock(setup_folder / "lock")
    try:
        holder.held(watch)
        assert watch.pending() == PROGRESS
        assert watch.wait(timeout=0.2) is False
    finally:
        holder.release()
    assert watch.wait(timeout=30) is True
    assert watch.pending() is None


def test_the_page_quotes_the_article_while_the_local_model_is_set_up(
    setup_folder, tmp_path, article_corpus, cache_root, embedder, retriever
):
    """Questions do not wait for the build: they are quoted at once and say why; once the set-up
    ends the local model loads by itself."""
    watch = SetupWatch(setup_folder)
    holder = HeldLock(setup_folder / "lock")
    said: list[str] = []
    try:
        holder.held(watch)
        config = WebConfig(backend="llama-cpp", model=SMOLLM2, threads=1)
        cache = linked_cache(tmp_path / "cache", cache_root)
        service = Service(
            config, retriever.corpus.documents, lambda: retriever, cache_root=cache,
            local_setup=watch, say=said.append,
        )  # fmt: skip
        service.start()
        status = service.status()
        assert status["model"] == f"setting up: {PROGRESS}"
        assert PROGRESS in render_status(status) and status_busy(status)
        final = next(e for e in service.stream(QUESTION) if e.kind == "final").answer
        assert final.backend == "extractive" and not final.fallback and final.error is None
        assert final.citations and any("still being set up" in n and PROGRESS in n for n in final.notes)
        assert service.local_status() is None  # no model was created while it is not installed
    finally:
        holder.release()
    assert watch.wait(timeout=30)
    deadline = time.monotonic() + 300
    while service.local_status() != "ready":  # created and loaded in the background now
        assert time.monotonic() < deadline and not str(service.local_status()).startswith("failed")
        time.sleep(0.1)
    assert any("still being set up" in s for s in said) and any("set-up is done" in s for s in said)
    final = next(e for e in service.stream(QUESTION) if e.kind == "final").answer
    assert not any("still being set up" in n for n in final.notes)
