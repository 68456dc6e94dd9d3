"""A migration's time series: orders read and written, retries and 429s per interval.

The HTML report charts it. A run of 100,000 orders makes millions of events
(every request is one), so nothing is kept per event: each event adds one to
the count of its interval (one lock, one clock reading), and when the series
would grow past ``max_buckets`` intervals, neighbouring intervals are merged
two by two and the interval doubles. Memory is bounded by ``max_buckets``
whatever the run's length: one second per interval for a run of a few
minutes, sixteen for an hour.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Final

__all__ = ["SERIES", "Timeline"]

SERIES: Final = ("read", "written", "retries", "rate_limited")
"""What a timeline counts: orders read, orders written, requests repeated, and 429 answers."""


class Timeline:
    """Counts of :data:`SERIES` per interval since the timeline was made. Thread-safe.

    ``interval`` is the starting width of an interval in seconds; ``max_buckets``
    the most intervals kept (the width doubles rather than exceed it).
    """

    def __init__(
        self,
        *,
        interval: float = 1.0,
        max_buckets: int = 240,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval <= 0 or max_buckets < 2:
            raise ValueError("a timeline needs an interval above 0 and at least 2 buckets")
        self.interval = interval
        self.max_buckets = max_buckets
        self._clock = clock
        self._start = clock()
        self._lock = threading.Lock()
        self._counts: dict[str, list[int]] = {name: [] for name in SERIES}

    def add(self, series: str, count: int = 1) -> None:
        """Count ``count`` events of ``series`` (one of :data:`SERIES`) now."""
        now = self._clock()
        with self._lock:
            index = int((now - self._start) / self.interval)
            while index >= self.max_buckets:
                self._halve()
                index = int((now - self._start) / self.interval)
            column = self._counts[series]
            if index >= len(column):
                for other in self._counts.values():
                    other.extend([0] * (index + 1 - len(other)))
            column[index] += count

    def on_answer(self, record: Any) -> None:
        """A transport's request record: a repeated attempt is a retry; a 429 answer is counted too."""
        if getattr(record, "attempt", 0):
            self.add("retries")
        if getattr(record, "status", None) == 429:
            self.add("rate_limited")

    def finish(self) -> None:
        """Extend the series to now, so intervals without events at the end count as zeros."""
        self.add(SERIES[0], 0)

    def totals(self) -> dict[str, int]:
        """The sum of each series."""
        with self._lock:
            return {name: sum(column) for name, column in self._counts.items()}

    def to_dict(self) -> dict[str, Any]:
        """``{"interval_seconds": s, "read": [...], "written": [...], ...}``: one count per interval."""
        with self._lock:
            return {"interval_seconds": self.interval, **{k: list(v) for k, v in self._counts.items()}}

    def _halve(self) -> None:
        """Merge neighbouring intervals two by two; the interval doubles (called with the lock held)."""
        for name, column in self._counts.items():
            self._counts[name] = [sum(column[i : i + 2]) for i in range(0, len(column), 2)]
        self.interval *= 2
