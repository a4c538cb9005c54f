"""The README's library examples run as written (in a copy of the project, on real files)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap

from conftest import CORPUS_DIR, REPO, SAMPLE_ARTICLES

README = REPO / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def library_blocks() -> list[str]:
    """The blocks that use the library itself (the gradio_client one needs a running chat)."""
    return [b for b in python_blocks() if "from rag import" in b]


def test_readme_shows_both_entry_points():
    imports = " ".join(library_blocks())
    assert "from rag import Retriever" in imports
    assert "from rag import Assistant" in imports


def test_public_names_import_from_the_package():
    import rag

    for name in rag.__all__:
        assert getattr(rag, name) is not None, name


def test_library_examples_run(tmp_path):
    shutil.copytree(CORPUS_DIR, tmp_path / "corpus")
    shutil.copytree(SAMPLE_ARTICLES, tmp_path / "other")
    code = "\n".join(library_blocks())
    code = code.replace("/path/to/other/articles", "other").replace("/tmp/idx", str(tmp_path / "idx"))
    # Run the blocks as a user would, then check what they produced.
    code += textwrap.dedent(
        """
        assert passages and passages[0].paragraphs, passages
        assert other.search("subway", k=1)[0].doc != p.doc
        assert isinstance(answer.text, str) and answer.text
        assert all(c.paragraph >= 0 and c.text for c in answer.citations)
        print("README-OK", answer.backend, answer.fallback)
        """
    )
    script = tmp_path / "readme_examples.py"
    script.write_text(code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # The last bot in the example points at a server that is not running: the reader still
    # gets the extractive answer, marked as a fallback.
    assert "README-OK extractive True" in done.stdout, done.stdout[-2000:]
