"""Index integrity under stress: processes racing to build, a process killed while it saves, a
cache folder that is really read-only, and a corpus edited while the web app runs.

Already proven in ``test_index.py`` and not repeated here: a truncated, garbage, empty or
missing index file (each of the five) is detected and rebuilt
(``test_damaged_file_is_detected_and_rebuilt``, ``test_garbage_with_a_matching_checksum_is_still_
rebuilt``), a save that fails half-way is never loaded (``test_failed_save_is_detected_on_load``),
and a cache path that cannot be created gives an in-memory index
(``test_cache_under_a_regular_file_still_gives_a_retriever``). ``test_index.py``'s own read-only
test skips when run as root (chmod does not stop root); here the folder is mounted read-only in a
private mount namespace, which stops root too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from backend_helpers import free_port, linked_cache
from conftest import ARTICLE_ID, ARTICLE_PATH
from web_helpers import app_env, app_process

from rag import Retriever
from rag.index import MANIFEST_FILE

pytestmark = pytest.mark.reliability

TROOPS = "Who confirmed the troops were in Russia?"
INDEX_FILES = {"chunks.faiss", "sentences.faiss", "chunks.jsonl", "sentences.jsonl", MANIFEST_FILE}

# A child process that opens (or builds) the index of CORPUS in CACHE and prints what it got.
# "race": wait for the GO file first, so two children start building at the same moment.
# "crash:NAME": the write of NAME stops half-way (temp file half written) and the child waits
# there, to be killed by the test.
CHILD = r"""
import json, os, sys, tempfile, time
from pathlib import Path
corpus, cache, mode = sys.argv[1], sys.argv[2], sys.argv[3]
from rag import Retriever, make_embedder
embedder = make_embedder(cache_dir=cache)
embedder.encode(["warm up"])
if mode.startswith("crash:"):
    import rag.index as index
    target, real = mode.split(":", 1)[1], index._atomic_write
    def stalled_write(path, data):
        if path.name == target:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.write(fd, data[: len(data) // 2])
            os.fsync(fd)
            print("WRITING", path.name, flush=True)
            time.sleep(300)
        real(path, data)
    index._atomic_write = stalled_write
if mode == "race":
    go = Path(sys.argv[4])
    print("READY", flush=True)
    while not go.exists():
        time.sleep(0.005)
r = Retriever.from_corpus(corpus, embedder=embedder, cache_dir=cache)
top = r.search("Who confirmed the troops were in Russia?", k=1)[0]
print(json.dumps({"status": r.info.status, "chunks": len(r.chunks), "folder": r.info.folder,
                  "top": list(top.paragraphs)}), flush=True)
"""


@pytest.fixture
def child_script(tmp_path) -> Path:
    path = tmp_path / "child.py"
    path.write_text(CHILD)
    return path


def start_child(script, corpus, cache, mode, *extra, env, prefix=()) -> subprocess.Popen:
    args = [*prefix, sys.executable, str(script), str(corpus), str(cache), mode, *map(str, extra)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def child_result(proc: subprocess.Popen, timeout: float = 300) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def wait_for_line(proc: subprocess.Popen, word: str, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith(word):
            return line
        if not line and proc.poll() is not None:
            raise AssertionError(f"child exited ({proc.returncode}): {proc.stderr.read()[-3000:]}")
    raise AssertionError(f"child never printed {word}")


def index_folder(cache: Path) -> Path:
    (folder,) = (cache / "index").iterdir()
    return folder


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# -- two processes build the same index at once ---------------------------------------------------------
def test_two_processes_building_at_once_make_one_good_index(
    article_corpus, tmp_path, cache_root, embedder, child_script, clean_env
):
    cache = linked_cache(tmp_path / "cache", cache_root)
    go = tmp_path / "go"
    children = [start_child(child_script, article_corpus, cache, "race", go, env=clean_env) for _ in range(2)]
    for child in children:
        wait_for_line(child, "READY")
    go.touch()  # both start building now
    results = [child_result(child) for child in children]
    assert sorted(r["status"] for r in results) == ["built", "loaded"], results  # one built, one waited
    assert results[0]["chunks"] == results[1]["chunks"] and results[0]["folder"] == results[1]["folder"]
    assert all(3 in r["top"] for r in results)
    folder = index_folder(cache)
    assert {p.name for p in folder.iterdir()} == INDEX_FILES | {".lock"}
    again = child_result(start_child(child_script, article_corpus, cache, "plain", env=clean_env))
    assert again["status"] == "loaded" and again["chunks"] == results[0]["chunks"]


# -- a process killed while it saves ------------------------------------------------------------------------
def test_killed_while_saving_a_fresh_index_is_rebuilt_on_next_start(
    article_corpus, tmp_path, cache_root, child_script, clean_env, embedder
):
    cache = linked_cache(tmp_path / "cache", cache_root)
    child = start_child(child_script, article_corpus, cache, "crash:chunks.faiss", env=clean_env)
    wait_for_line(child, "WRITING")
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=60)
    folder = index_folder(cache)
    assert MANIFEST_FILE not in {p.name for p in folder.iterdir()}
    assert leftovers(folder), "the kill left no half-written temp file: nothing was tested"
    r = Retriever.from_corpus(article_corpus, embedder=embedder, cache_dir=str(cache))
    assert r.info.status == "built"
    assert 3 in r.search(TROOPS, k=1)[0].paragraphs
    assert (
        Retriever.from_corpus(article_corpus, embedder=embedder, cache_dir=str(cache)).info.status == "loaded"
    )


def test_killed_while_replacing_an_index_never_serves_the_mix(
    article_corpus, tmp_path, cache_root, child_script, clean_env, embedder
):
    """v1 saved; the article is edited (v2) and the rebuild is killed after three of the four data
    files were replaced: v2's data beside v1's manifest. Back at v1, that mix must not be loaded."""
    cache = linked_cache(tmp_path / "cache", cache_root)
    article = article_corpus / ARTICLE_PATH.name
    v1 = article.read_text("utf-8")
    first = Retriever.from_corpus(article_corpus, embedder=embedder, cache_dir=str(cache))
    assert first.info.status == "built"
    article.write_text(
        v1.replace("Victor Cha", "Victor Chaa") + "\nA new closing paragraph about Busan.\n", "utf-8"
    )
    child = start_child(child_script, article_corpus, cache, "crash:sentences.jsonl", env=clean_env)
    wait_for_line(child, "WRITING")
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=60)
    folder = index_folder(cache)
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    assert manifest["corpus"] == first.corpus.fingerprint  # still v1's manifest ...
    assert "Busan" in (folder / "chunks.jsonl").read_text()  # ... beside v2's chunks
    article.write_text(v1, "utf-8")
    back = Retriever.from_corpus(article_corpus, embedder=embedder, cache_dir=str(cache))
    assert back.info.status == "built", "a half-replaced index was loaded as if whole"
    assert back.chunks == first.chunks
    assert all("Busan" not in c.text for c in back.chunks)
    assert (
        Retriever.from_corpus(article_corpus, embedder=embedder, cache_dir=str(cache)).info.status == "loaded"
    )


def test_temp_files_of_a_killed_save_are_cleaned_up(
    article_corpus, tmp_path, cache_root, child_script, clean_env, embedder
):
    """Every killed save leaves a half-written ``.NAME.*.tmp`` (as large as the index); the next
    save, which holds the build lock, should remove them or they pile up in the cache forever."""
    cache = linked_cache(tmp_path / "cache", cache_root)
    for _ in range(2):
        child = start_child(child_script, article_corpus, cache, "crash:sentences.faiss", env=clean_env)
        wait_for_line(child, "WRITING")
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
    folder = index_folder(cache)
    assert leftovers(folder)
    r = Retriever.from_corpus(article_corpus, embedder=embedder, cache_dir=str(cache))
    assert r.info.status == "built"
    assert leftovers(folder) == [], "temp files of killed saves are never removed"


# -- a read-only cache folder, read-only even for root -------------------------------------------------
def read_only(folder: Path) -> list[str]:
    """Command prefix: run in a private mount namespace where ``folder`` is mounted read-only."""
    shell = (
        f'mount --bind "{folder}" "{folder}" && mount -o remount,ro,bind "{folder}" "{folder}" && exec "$@"'
    )
    return ["unshare", "--mount", "sh", "-c", shell, "sh"]


@pytest.fixture(scope="module")
def mount_namespaces():
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no mount namespaces here: {probe.stderr.decode()[:200]}")


def test_read_only_cache_builds_in_memory(
    mount_namespaces, article_corpus, tmp_path, cache_root, embedder, child_script, clean_env
):
    cache = linked_cache(tmp_path / "cache", cache_root)
    before = sorted(p.name for p in cache.iterdir())
    child = start_child(child_script, article_corpus, cache, "plain", env=clean_env, prefix=read_only(cache))
    result = child_result(child)
    assert result["status"] == "built (not saved)" and 3 in result["top"]
    assert sorted(p.name for p in cache.iterdir()) == before  # nothing written


def test_read_only_cache_with_a_saved_index_loads_it(
    mount_namespaces, article_corpus, tmp_path, cache_root, child_script, clean_env, embedder
):
    cache = linked_cache(tmp_path / "cache", cache_root)
    built = Retriever.from_corpus(article_corpus, embedder=embedder, cache_dir=str(cache))
    assert built.info.status == "built"
    (index_folder(cache) / ".lock").unlink(missing_ok=True)  # as shipped in a read-only image
    child = start_child(child_script, article_corpus, cache, "plain", env=clean_env, prefix=read_only(cache))
    result = child_result(child)
    assert result["status"] == "loaded" and result["chunks"] == len(built.chunks)


# -- the corpus changes while the web app runs ---------------------------------------------------------
GWANGJU = (
    "# Gwangju opens its kimchi festival\n\n"
    "The city of Gwangju opened its annual kimchi festival on Friday, organisers said.\n\n"
    "About 40,000 visitors tasted kimchi from 120 local makers on the first day.\n"
)
KIMCHI = "How many visitors tasted kimchi at the Gwangju festival?"


def test_corpus_edits_while_the_app_runs(article_corpus, tmp_path, cache_root, embedder):
    from gradio_client import Client  # here, not at module level: the tests above need no web app

    cache = linked_cache(tmp_path / "cache", cache_root)
    article = article_corpus / ARTICLE_PATH.name
    original = article.read_text("utf-8")
    args = ["--backend", "extractive", "--port", str(free_port()), "--cache-dir", str(cache)]
    args += ["--corpus", str(article_corpus), "--corpus-check", "0"]  # look before every question
    with app_process(args, env=app_env(), log=tmp_path / "app.log") as url:
        client = Client(url, verbose=False)

        def ask(question: str) -> dict:
            return client.predict(question, api_name="/ask")

        before = ask(KIMCHI)
        assert before["refused"] and not any(c["doc"] == "gwangju" for c in before["citations"])

        (article_corpus / "gwangju.md").write_text(GWANGJU, "utf-8")  # an article is added
        added = ask(KIMCHI)
        assert not added["refused"] and "40,000" in added["answer"], added
        assert {c["doc"] for c in added["citations"]} == {"gwangju"}

        article.write_text(
            original.replace("for the first time on Wednesday", "for the first time on Thursday")
        )
        edited = ask(TROOPS)  # an article is edited
        assert "Thursday" in edited["answer"] and "Wednesday" not in edited["answer"], edited["answer"]
        assert edited["citations"][0]["doc"] == ARTICLE_ID

        (article_corpus / "gwangju.md").unlink()  # an article is deleted
        deleted = ask(KIMCHI)
        assert deleted["refused"] and not any(c["doc"] == "gwangju" for c in deleted["citations"])
        assert all(p["doc"] == ARTICLE_ID for p in deleted["passages"])

        article.write_bytes(b"\x00\x01 not an article any more \x00")  # the corpus becomes unreadable
        stale = ask(TROOPS)
        assert stale["error"] is None and stale["citations"], stale  # the old index keeps serving
        assert "Thursday" in stale["answer"]
        notes = " ".join(stale["notes"])
        assert "cannot be re-read" in notes, (
            f"no word to the reader that the corpus is broken: {stale['notes']}"
        )

        article.write_text(original, "utf-8")  # repaired
        repaired = ask(TROOPS)
        assert "Wednesday" in repaired["answer"] and not repaired["notes"], repaired


def test_corpus_folder_removed_while_the_app_runs(article_corpus, tmp_path, cache_root, embedder):
    from gradio_client import Client

    cache = linked_cache(tmp_path / "cache", cache_root)
    args = ["--backend", "extractive", "--port", str(free_port()), "--cache-dir", str(cache)]
    args += ["--corpus", str(article_corpus), "--corpus-check", "0"]  # look before every question
    with app_process(args, env=app_env(), log=tmp_path / "app.log") as url:
        client = Client(url, verbose=False)
        first = client.predict(TROOPS, api_name="/ask")
        shutil.rmtree(article_corpus)
        after = client.predict(TROOPS, api_name="/ask")
    assert after["answer"] == first["answer"] and after["citations"] == first["citations"]
