"""How many orders a migration has in flight: a fixed number, or adapted to the target as TCP does.

A migration is bound by the target API: throughput is orders in flight divided
by the time one order takes (Little's law). More orders in flight help until
the target (or this process) is saturated; past that point an order only
waits longer, and a rate-limited site answers 429. :class:`AdaptiveLimit`
finds that point and follows it:

- **additive increase**: after each *round* (as many finished orders as the
  limit allows in flight) in which the limit was reached, one more, or twice
  as many while starting up (slow start, until the first sign of saturation);
- **multiplicative decrease**: a 5xx or a connection failure from the target
  halves the limit at once, a 429 quarters it (at most once per round: a
  rate-limited site's rate is usually far below what slow start reached when
  its burst allowance ran out, and each step down costs a burst of 429s from
  the orders in flight); a round whose
  requests to the target took clearly longer than in the best recent rounds
  (rising latency: queueing) takes it down by a fifth. Request times, not
  order times, because orders differ in how many requests they need.

A limit that met a 429 (the site saying "too many", unlike a stray 5xx) is
remembered as a *ceiling*: growth stops one below it, and probes it again only
after ``ceiling_hold`` seconds without another 429 (then the ceiling is
forgotten); growth under a ceiling still reaches two orders, since one would
hold a slow site at half its rate for the whole hold. Without it the limit
would climb back to the rate a site refuses every few rounds, each time with
a burst of 429s from every order in flight; with it a rate-limited site sees
one such burst per ``ceiling_hold``.

The latency baseline is the fastest round of a recent window, as in TCP
Vegas/BBR, so a site that becomes slower for good is followed after the window
instead of holding the limit down forever. A round that never filled the limit
(the source could not keep up) changes nothing: no growth on credit. A fixed
:class:`Concurrency` (``--workers N``) never changes.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Final

from attrs import field, frozen

__all__ = ["DEFAULT_MAX_WORKERS", "AdaptiveLimit", "Concurrency"]

DEFAULT_MAX_WORKERS: Final = 32
"""The adaptive limit's default ceiling (and the transport's connection pool size)."""

_CONGESTED_STATUSES: Final = frozenset({429, 500, 502, 503, 504})


def _at_least_one(_: Any, attribute: Any, value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{attribute.name} must be at least 1, not {value}")


@frozen(kw_only=True)
class Concurrency:
    """A concurrency policy, as a value: ``Concurrency(fixed=8)`` or adaptive (the default).

    Adaptive: starts at ``initial`` and stays between ``minimum`` and
    ``maximum``; ``latency_tolerance`` is how much slower than the best recent
    round a round may be before the limit comes down; ``window`` is how many
    rounds the best is taken over.
    """

    fixed: int | None = field(default=None, validator=_at_least_one)
    initial: int = field(default=4, validator=_at_least_one)
    minimum: int = field(default=1, validator=_at_least_one)
    maximum: int = field(default=DEFAULT_MAX_WORKERS, validator=_at_least_one)
    latency_tolerance: float = 1.5
    congestion_factor: float = 0.5
    rate_limited_factor: float = 0.25
    latency_factor: float = 0.8
    window: int = 30
    ceiling_hold: float = 30.0

    @classmethod
    def of(cls, value: int | Concurrency | None, *, maximum: int | None = None) -> Concurrency:
        """``None``: adaptive (up to ``maximum``); an int: that many, fixed; a policy as it is."""
        if isinstance(value, Concurrency):
            return value
        if value is None:
            return cls(maximum=maximum or DEFAULT_MAX_WORKERS)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"concurrency must be an integer of at least 1, not {value!r}")
        return cls(fixed=value)

    @property
    def ceiling(self) -> int:
        """The most orders ever in flight (threads the pool needs)."""
        return self.fixed if self.fixed is not None else max(self.maximum, self.minimum)

    def describe(self) -> str:
        """``"fixed 8"`` or ``"adaptive 1-32"``."""
        return f"fixed {self.fixed}" if self.fixed is not None else f"adaptive {self.minimum}-{self.maximum}"


class AdaptiveLimit:
    """The current limit of orders in flight, fed by finished orders and the target's answers.

    Thread-safe. :meth:`on_answer` takes the transport's request records (429,
    5xx, connection failures are congestion); :meth:`order_started` and
    :meth:`order_finished` bracket each order.
    """

    def __init__(self, policy: Concurrency, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._lock = threading.Lock()
        fixed = policy.fixed
        start = fixed if fixed is not None else min(max(policy.initial, policy.minimum), policy.maximum)
        self.limit = start
        self.peak = start
        self.decreases = 0
        self._slow_start = fixed is None
        self._in_flight = 0
        self._round: list[float] = []
        self._answers: list[float] = []
        self._round_full = False
        self._congested = False
        self._best: deque[float] = deque(maxlen=policy.window)
        self.ceiling: int | None = None
        """The lowest limit that met a 429 lately (growth stops below it), or None."""
        self._ceiling_since = 0.0
        self._weighted = 0.0  # sum of limit x seconds, for the mean
        self._since = clock()
        self._started = self._since

    @property
    def adaptive(self) -> bool:
        """Whether the limit moves."""
        return self.policy.fixed is None

    def order_started(self) -> float:
        """Note an order going out; returns its start time for :meth:`order_finished`."""
        with self._lock:
            self._in_flight += 1
            if self._in_flight >= self.limit:
                self._round_full = True
            return self._clock()

    def order_finished(self, started: float) -> None:
        """Note an order done (whatever its outcome); a full round may move the limit."""
        now = self._clock()
        with self._lock:
            self._in_flight -= 1
            if not self.adaptive:
                return
            self._round.append(now - started)
            if len(self._round) >= self.limit:
                self._end_round(now)

    def on_answer(self, record: Any) -> None:
        """A target request record (``status``, ``error``): congestion halves the limit, once per round."""
        if not self.adaptive:
            return
        status = getattr(record, "status", None)
        if status in _CONGESTED_STATUSES or getattr(record, "error", None) is not None:
            with self._lock:
                if not self._congested:
                    self._congested = True
                    now = self._clock()
                    policy = self.policy
                    factor = policy.rate_limited_factor if status == 429 else policy.congestion_factor
                    lowered = math.floor(self.limit * factor)
                    if status == 429:
                        self.ceiling = self.limit if self.ceiling is None else min(self.ceiling, self.limit)
                        self._ceiling_since = now
                    self._set(lowered, now)
        elif isinstance(elapsed := getattr(record, "elapsed", None), float):
            with self._lock:
                self._answers.append(elapsed)

    def mean(self) -> float:
        """The limit averaged over the time so far."""
        with self._lock:
            now = self._clock()
            total = self._weighted + self.limit * (now - self._since)
            elapsed = now - self._started
            return total / elapsed if elapsed > 0 else float(self.limit)

    def _end_round(self, now: float) -> None:
        # The target's answer times when it has them: orders differ in how many requests
        # they take, requests do not (an order's own time stands in for a backend without HTTP).
        times = self._answers or self._round
        latency = sum(times) / len(times)
        best = min(self._best, default=latency)
        self._best.append(latency)
        full, congested = self._round_full, self._congested
        self._round, self._answers = [], []
        self._round_full, self._congested = self._in_flight >= self.limit, False
        if congested:
            return  # already decreased when the answer came
        if self.ceiling is not None and now - self._ceiling_since >= self.policy.ceiling_hold:
            self.ceiling = None  # no 429 for a while: probe the old ceiling (the site may allow more now)
        if latency > best * self.policy.latency_tolerance:
            self._set(math.floor(self.limit * self.policy.latency_factor), now)
        elif full:
            grown = self.limit * 2 if self._slow_start else self.limit + 1
            if self.ceiling is not None:
                grown = min(grown, max(self.ceiling - 1, self.limit, 2))  # 1 would starve a slow site
            self._set(grown, now)

    def _set(self, limit: int, now: float) -> None:
        limit = min(max(limit, self.policy.minimum), self.policy.maximum)
        if limit < self.limit:
            self._slow_start = False
            self.decreases += 1
        self._weighted += self.limit * (now - self._since)
        self._since = now
        self.limit = limit
        self.peak = max(self.peak, limit)
