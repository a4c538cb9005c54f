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


def test_the_built_wheel_alone_answers_evaluates_and_serves(tmp_path):
    """``pip install .`` (not editable): the wheel's own copy of ``rag`` runs ``rag ask``,
    ``rag eval --dataset PATH`` and ``rag serve`` from a folder that is not the checkout."""
    import json
    import subprocess
    import sys

    from conftest import EVAL_DIR
    from web_helpers import app_env, free_port, stop_process, wait_http

    wheels, site, work = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    work.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(REPO)],
                   check=True, capture_output=True, timeout=300)  # fmt: skip
    (wheel,) = wheels.glob("korea_herald_rag-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=300)  # fmt: skip
    env = app_env(PYTHONPATH=str(site))  # the wheel's rag comes before the checkout's
    cache = ["--cache-dir", str(tmp_path / "cache")]

    def rag(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "rag", *args], cwd=work, env=env, capture_output=True,
                              text=True, timeout=600)  # fmt: skip

    where = subprocess.run([sys.executable, "-c", "import rag; print(rag.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert where.stdout.strip().startswith(str(site)), where.stdout
    ask = rag("ask", "Who is Hong Min?", "--backend", "extractive", "--json", *cache)
    assert ask.returncode == 0, ask.stderr[-2000:]
    answer = json.loads(ask.stdout)
    assert "Hong Min" in answer["answer"] and answer["citations"], answer
    dataset = work / "mine.jsonl"
    dataset.write_text("\n".join((EVAL_DIR / "qa.jsonl").read_text("utf-8").splitlines()[:3]) + "\n", "utf-8")
    run = work / "run"
    evaluated = rag("eval", "--dataset", str(dataset), "--backend", "extractive", "--out", str(run), *cache)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert json.loads((run / "results.json").read_text("utf-8"))["backends"]["extractive"]["counts"]
    port = free_port()
    serve = [sys.executable, "-m", "rag", "serve", "--backend", "extractive", "--port", str(port), *cache]
    proc = subprocess.Popen(serve, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/v1/models", proc=proc)
        wait_http(f"http://127.0.0.1:{port}/", proc=proc)
    finally:
        stop_process(proc)
