"""Per-host limits held across a whole Dask cluster: a scheduler plugin and the gate each worker installs.

The scheduler is the one place every worker talks to, and it outlives them, so
the limits live there (:class:`HostLimitsPlugin`). Before each attempt a
:class:`~orderbridge.transport.Transport` in a worker passes through the
process's :class:`ClusterGate` (installed with
:func:`~orderbridge.transport.add_request_gate`); for a host named in the
fleet's ``[hosts]`` it asks the scheduler for a lease:

* **concurrency**: at most ``concurrency`` leases of a host are out at once;
  a request waits (on the scheduler, a few seconds at a time) for one to be
  returned. A lease belongs to its worker: when the scheduler removes a
  worker (it died), its leases are returned at once, so a killed worker never
  holds a host's slots.
* **rate**: each lease comes with a start time, one ``1 / rate`` after the
  previous lease of that host (the token bucket of one slot per interval, kept
  by the scheduler); the worker sleeps until then. Two sites on one host, on
  any workers of the cluster, share its rate.

Hosts not named pay nothing: the gate looks the host up locally and lets the
request go. One lease costs two round trips to the scheduler (about 2 ms on
loopback), small beside an API's latency.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from attrs import define, field
from distributed.diagnostics.plugin import SchedulerPlugin

from orderbridge.fleet.config import HostLimit

__all__ = ["ACQUIRE", "RELEASE", "STATS", "ClusterGate", "HostLimitsPlugin", "host_stats"]

ACQUIRE: Final = "orderbridge_host_acquire"
RELEASE: Final = "orderbridge_host_release"
STATS: Final = "orderbridge_host_stats"
WAIT_STEP: Final = 5.0
"""Seconds one acquire waits on the scheduler for a free slot before the worker asks again."""


@define
class _Host:
    """One host's book on the scheduler."""

    next_start: float = float("-inf")
    leases: dict[str, str] = field(factory=dict)
    waiters: deque[asyncio.Future[None]] = field(factory=deque)
    granted: int = 0
    peak: int = 0
    returned_by_death: int = 0


class HostLimitsPlugin(SchedulerPlugin):
    """The scheduler's book of per-host leases (concurrency) and start times (rate)."""

    name = "orderbridge-host-limits"
    idempotent = True  # a second fleet on the same cluster keeps the book, and so shares the limits

    def __init__(self) -> None:
        self._hosts: dict[str, _Host] = {}

    async def start(self, scheduler: Any) -> None:
        """Register the handlers workers call."""
        scheduler.handlers[ACQUIRE] = self.acquire
        scheduler.handlers[RELEASE] = self.release
        scheduler.handlers[STATS] = self.stats

    def remove_worker(self, scheduler: Any, worker: str, **kwargs: Any) -> None:
        """A worker left (or died): the leases it held are returned."""
        for book in self._hosts.values():
            gone = [lease for lease, holder in book.leases.items() if holder == worker]
            for lease in gone:
                del book.leases[lease]
                book.returned_by_death += 1
                _wake_one(book)

    async def acquire(
        self,
        host: str,
        rate: float | None = None,
        concurrency: int | None = None,
        holder: str = "",
        timeout: float = WAIT_STEP,
    ) -> dict[str, Any]:
        """``{"granted": True, "lease": id or None, "wait": seconds}``; not granted within ``timeout``:
        ``{"granted": False}`` (the worker asks again)."""
        book = self._hosts.setdefault(host, _Host())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while concurrency is not None and len(book.leases) >= concurrency:
            remaining = deadline - loop.time()
            waiter: asyncio.Future[None] = loop.create_future()
            book.waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, max(remaining, 0.0))
            except TimeoutError:
                return {"granted": False}
            finally:
                if waiter in book.waiters:
                    book.waiters.remove(waiter)
        lease = None
        if concurrency is not None:
            lease = uuid.uuid4().hex
            book.leases[lease] = holder
            book.peak = max(book.peak, len(book.leases))
        wait = 0.0
        if rate is not None:
            now = time.monotonic()
            start = max(now, book.next_start)
            book.next_start = start + 1.0 / rate
            wait = start - now
        book.granted += 1
        return {"granted": True, "lease": lease, "wait": wait}

    async def release(self, host: str, lease: str) -> None:
        """Return a lease (one already returned, by a worker's death, is ignored)."""
        book = self._hosts.get(host)
        if book is not None and book.leases.pop(lease, None) is not None:
            _wake_one(book)

    async def stats(self) -> dict[str, dict[str, int]]:
        """Per host: leases ``granted``, the ``peak`` of leases out at once, ``in_flight`` now, and
        ``returned_by_death`` (leases of workers that died)."""
        return {
            host: {
                "granted": book.granted,
                "peak": book.peak,
                "in_flight": len(book.leases),
                "returned_by_death": book.returned_by_death,
            }
            for host, book in self._hosts.items()
        }


def _wake_one(book: _Host) -> None:
    while book.waiters:
        waiter = book.waiters.popleft()
        if not waiter.done():
            waiter.set_result(None)
            return


class ClusterGate:
    """The request gate of one worker process: asks the scheduler's :class:`HostLimitsPlugin` for leases.

    ``configure`` gives it the fleet's limits and the process's Dask worker;
    one gate serves every site running in the process.
    """

    def __init__(self) -> None:
        self.limits: tuple[HostLimit, ...] = ()
        self._worker: Any = None
        self._lock = threading.Lock()
        self._held = threading.local()

    def configure(self, limits: tuple[HostLimit, ...], worker: Any) -> None:
        """Use ``limits`` (the latest fleet's) through ``worker``'s connection to the scheduler."""
        with self._lock:
            self.limits = limits
            self._worker = worker

    @contextmanager
    def __call__(self, scheme: str, netloc: str) -> Iterator[None]:
        """Hold one attempt to ``netloc`` to its host's limits (no limit named: pass at once)."""
        limit = next((item for item in self.limits if item.matches(netloc)), None)
        held: set[str] = self._held.__dict__.setdefault("hosts", set())
        if limit is None or self._worker is None or limit.key in held:
            # A request sent while this thread holds the host's lease (the token an answer's
            # 401 asked for) rides on that lease: waiting for a second one could wait forever.
            yield
            return
        lease = self._acquire(limit)
        held.add(limit.key)
        try:
            yield
        finally:
            held.discard(limit.key)
            if lease is not None:
                self._call(RELEASE, host=limit.key, lease=lease)

    def _acquire(self, limit: HostLimit) -> str | None:
        while True:
            answer = self._call(
                ACQUIRE,
                host=limit.key,
                rate=limit.rate,
                concurrency=limit.concurrency,
                holder=self._worker.address,
                timeout=WAIT_STEP,
            )
            if answer["granted"]:
                break
        if answer["wait"] > 0:
            time.sleep(answer["wait"])
        lease: str | None = answer["lease"]
        return lease

    def _call(self, op: str, **kwargs: Any) -> Any:
        from distributed.utils import sync

        worker = self._worker
        return sync(worker.loop, getattr(worker.scheduler, op), **kwargs)


def host_stats(client: Any) -> dict[str, dict[str, int]]:
    """The scheduler's per-host lease counts (:meth:`HostLimitsPlugin.stats`), from a Dask client."""
    result: dict[str, dict[str, int]] = client.sync(getattr(client.scheduler, STATS))
    return result
