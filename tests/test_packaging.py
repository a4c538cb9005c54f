"""What a wheel holds: every package of rag/ (pyproject lists them by hand), the seed article,
and nothing of the benchmarks or tests."""

from __future__ import annotations

import tomllib
from conftest import ARTICLE_PATH, REPO


def test_every_rag_package_is_listed_for_the_wheel():
    config = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "rag").rglob("__init__.py")}
    assert found <= listed, f"packages missing from pyproject.toml: {sorted(found - listed)}"
    assert not any(name.startswith(("benchmarks", "tests")) for name in listed)
    assert config["package-dir"]["rag._corpus"] == "corpus"
    assert config["package-data"]["rag._corpus"] == [ARTICLE_PATH.name]


def test_the_calibrators_ship_with_the_package():
    from rag.calibration import CALIBRATION_FILE, load_calibrators

    config = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    assert CALIBRATION_FILE.name in config["package-data"]["rag"]
    assert {"llm", "llm-no-verifier", "extractive"} <= set(load_calibrators())
