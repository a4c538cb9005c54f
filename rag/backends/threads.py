"""How many CPU threads a local model should use right now."""

from __future__ import annotations

import time


class CpuShare:
    """How many threads to use now: every core, or one fewer while other processes are busy.

    Measured on the 2-core machines here (``benchmarks/conversation.py``, threads case): alone, two
    threads read a prompt 1.9x and write 1.4x faster than one; next to one other busy process,
    two threads are 1.1x (reading) and 2x (writing) slower than one, and two llama.cpp processes
    that each take every core slow each other down 30-100 fold. So the CPU time that other
    processes used since the last request decides: at least half a core, and one core is left
    to them.
    """

    WINDOW = 1.0  # seconds of history a decision is based on, at least

    def __init__(self) -> None:
        self._last = self._sample()
        self._decision: int | None = None

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        try:
            import psutil

            busy = sum(psutil.cpu_times()[:3])  # user + nice + system, every core
            own = sum(psutil.Process().cpu_times()[:2])
        except (ImportError, OSError):  # pragma: no cover - psutil is a dependency
            return None
        return time.monotonic(), busy, own

    def threads(self, cores: int) -> int:
        """Threads for the next request on a machine with ``cores`` cores."""
        if cores <= 1:
            return 1
        now, last = self._sample(), self._last
        if now is None or last is None:
            return cores
        if self._decision is None and now[0] - last[0] < 0.2:  # too short to tell: look 0.2 s
            time.sleep(0.2)
            now = self._sample() or now
        if now[0] - last[0] >= self.WINDOW or self._decision is None:
            span = max(now[0] - last[0], 1e-3)
            others = max(0.0, (now[1] - last[1]) - (now[2] - last[2])) / span
            self._decision = self.decide(others, cores)
            self._last = now
        return min(self._decision, cores)

    @staticmethod
    def decide(others: float, cores: int) -> int:
        """Threads when other processes used ``others`` cores on average (one left to them)."""
        return max(1, cores - 1) if others >= 0.5 else cores
