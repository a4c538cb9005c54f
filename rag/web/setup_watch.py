"""The local model's set-up, still running in the background when ``make chat`` opened the page.

``scripts/setup.sh --chat`` returns once the page can answer by quoting the article and leaves
the rest (the llama.cpp build, the packaged models) to a background process. That process holds
an exclusive ``flock`` on ``.cache/setup/lock`` until it ends and writes what it is doing (with
the time left) to ``.cache/setup/status``. The app waits on the lock itself, not on a timer.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from pathlib import Path


class SetupWatch:
    """Whether a set-up holds ``folder/lock``, what it says it is doing, and a wait for its end."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._guard = threading.Lock()
        self._ended: threading.Event | None = None

    def pending(self) -> str | None:
        """What the running set-up is doing (``"building llama.cpp: 45% (about 1 min left)"``),
        or ``None`` when no set-up is running."""
        lock = self.folder / "lock"
        if not lock.exists():
            return None
        try:
            fd = os.open(lock, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return self._message()
        except OSError:
            return None
        finally:
            os.close(fd)  # closing the descriptor also releases a lock it got
        return None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no set-up holds the lock (``True``), or ``timeout`` seconds (``False``)."""
        with self._guard:
            if self._ended is None:
                self._ended = threading.Event()
                threading.Thread(target=self._wait_for_lock, name="rag-setup-wait", daemon=True).start()
        return self._ended.wait(timeout)

    def _wait_for_lock(self) -> None:
        try:
            fd = os.open(self.folder / "lock", os.O_RDONLY)
        except OSError:
            fd = None
        try:
            if fd is not None:
                with contextlib.suppress(OSError):
                    fcntl.flock(fd, fcntl.LOCK_SH)  # granted when the set-up's exclusive lock goes
        finally:
            if fd is not None:
                os.close(fd)
            assert self._ended is not None
            self._ended.set()

    def _message(self) -> str:
        try:
            text = (self.folder / "status").read_text("utf-8").strip()
        except OSError:
            text = ""
        return text or "setting up"
