"""Where an evaluation run came from: data, code, settings and machine, for ``results.json``.

A later reader needs these to trust a run or to compare two (:mod:`rag.evaluation.report`
warns when the dataset or the sources differ).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from .dataset import EvalItem


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _git_commit() -> str | None:
    """The checked-out commit (read-only ``git rev-parse``), or ``None`` outside a repository."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def _code_digest() -> str:
    """SHA-256 of the package's Python sources: tells runs apart even with uncommitted changes."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def run_metadata(
    args: argparse.Namespace, items: Sequence[EvalItem], retriever, assistant_config, naive_config
) -> dict:
    """What a later reader needs to trust or compare a run: data, code, settings, machine."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "created": datetime.now().astimezone().isoformat(timespec="seconds"),
        "dataset": str(args.dataset),
        "dataset_sha256": _sha256(Path(args.dataset).read_bytes()),
        "item_ids_sha256": _sha256("\n".join(i.id for i in items).encode()),
        "heldout": "heldout" in Path(args.dataset).name.lower(),
        "items": len(items),
        "limit": args.limit,
        "per_type": args.per_type,
        "corpus": str(retriever.corpus.root),
        "documents": len(retriever.corpus.documents),
        "git_commit": _git_commit(),
        "code_sha256": _code_digest(),
        "pipeline_k": assistant_config.k,
        "naive": asdict(naive_config),
        "config": _jsonable({"assistant": asdict(assistant_config), "retriever": asdict(retriever.config)}),
        "host": {
            "cpus": os.cpu_count(),
            "load_before": [round(x, 2) for x in load] if load else None,
            "python": platform.python_version(),
        },
    }
