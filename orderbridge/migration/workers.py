"""The threads that write orders: as many at once as the concurrency limit allows, fed by a short queue.

The reading thread puts orders into a queue a few orders deep; a worker that
finishes an order takes the next one from it at once. A pool that is handed
one order each time one finishes (``concurrent.futures.wait`` on the orders
in flight, then ``submit``) makes every finished worker wait for the reading
thread to wake up and answer, two waits for the GIL per order: at 16 workers
that left each of them idle 2% of the time, and ``wait`` itself cost the
reading thread a lock per order in flight, per order.

A worker holds one of :attr:`AdaptiveLimit.limit
<orderbridge.migration.concurrency.AdaptiveLimit.limit>` slots from one order
to the next, so at most that many are in flight whatever the number of
threads, and a worker going on to its next order asks nobody; when the limit
comes down, the extra workers give their slots up after their order and wait,
before taking another.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, Final

from orderbridge.migration.concurrency import AdaptiveLimit

__all__ = ["OrderWorkers"]

_CLOSE: Final = object()
"""Put once per thread at the end: the thread that takes it stops."""


class OrderWorkers:
    """Worker threads handling queued items, at most ``limit.limit`` at once.

    ``handle(item)`` is called on a worker thread for each item put with
    :meth:`put` (unless ``stop`` is set by the time a worker takes it: then it
    is dropped, counted in :attr:`dropped`). :meth:`finished` yields one
    ``None`` per handled item, or the exception ``handle`` raised (an engine
    bug: ``handle`` is meant never to raise), for the reading thread's
    progress; after :meth:`close`, which joins the threads, it yields all that
    is left. Leaving the ``with`` block closes it: the items in flight and in
    the queue finish (or are dropped once ``stop`` is set).
    """

    def __init__(
        self,
        handle: Callable[[Any], None],
        limit: AdaptiveLimit,
        *,
        stop: threading.Event,
        name: str = "orderbridge-worker",
    ) -> None:
        self._handle = handle
        self._limit = limit
        self._stop = stop
        self._name = name
        # A few orders ready per worker count: enough that a worker never waits for the reader,
        # few enough that stopping drops little that was read.
        self._ready: queue.Queue[Any] = queue.Queue(maxsize=max(2, limit.policy.ceiling // 4))
        self._finished: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()
        self._slots = threading.Condition()
        self._busy = 0  # slots held (a thread holds one from item to item)
        self._waiting = 0  # threads waiting for a slot
        self._threads: list[threading.Thread] = []
        self._closes_sent = 0
        self.dropped = 0
        """Items taken after ``stop`` was set, not handled."""

    @property
    def busy(self) -> int:
        """Threads holding a slot (handling an item, or about to take the next)."""
        return self._busy

    def __enter__(self) -> OrderWorkers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def put(self, item: Any) -> None:
        """Queue ``item`` for a worker; blocks while the queue is full."""
        if self._closes_sent:
            raise RuntimeError("OrderWorkers is closed")
        self._start_threads()
        self._ready.put(item)

    def finished(self) -> Iterator[BaseException | None]:
        """One entry per item finished since the last call (``None``, or what ``handle`` raised);
        after :meth:`close`, every one that is left."""
        while True:
            try:
                yield self._finished.get_nowait()
            except queue.Empty:
                return

    def close(self) -> None:
        """Let the queued items finish (or be dropped once ``stop`` is set), then stop the threads."""
        # Counted, so that a second call (after Ctrl-C interrupted the first) sends no more
        # than there are threads left to take them: the queue would fill and never drain.
        while self._closes_sent < len(self._threads):
            self._ready.put(_CLOSE)
            self._closes_sent += 1
        for thread in self._threads:
            thread.join()

    def _start_threads(self) -> None:
        # One thread per slot the limit allows now (never more than its ceiling); a thread
        # started when the limit was higher stays, waiting for a slot before it takes an item.
        wanted = min(self._limit.limit, self._limit.policy.ceiling)
        while len(self._threads) < wanted:
            thread = threading.Thread(
                target=self._work, name=f"{self._name}_{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _work(self) -> None:
        # A thread holds its slot from one item to the next, so a finished worker goes straight
        # on; it gives the slot up only when the limit came down below the slots held.
        self._take_slot()
        try:
            while True:
                item = self._ready.get()
                if item is _CLOSE:
                    return
                notice: BaseException | None = None
                try:
                    if self._stop.is_set():
                        with self._slots:
                            self.dropped += 1
                    else:
                        self._handle(item)
                except BaseException as exc:  # reported to the reading thread, which raises it
                    notice = exc
                self._finished.put(notice)
                self._fit_to_limit()
        finally:
            self._free_slot()

    def _take_slot(self) -> None:
        with self._slots:
            self._wait_for_slot()

    def _wait_for_slot(self) -> None:
        """Wait until the limit leaves room, then hold a slot (the caller holds ``_slots``)."""
        self._waiting += 1
        while self._busy >= self._limit.limit:
            self._slots.wait()
        self._waiting -= 1
        self._busy += 1

    def _free_slot(self) -> None:
        with self._slots:
            self._busy -= 1
            self._slots.notify()

    def _fit_to_limit(self) -> None:
        """Give the slot up when more are held than the limit allows now; wake waiting threads
        when it allows more (unlocked reads first: the common case, nothing to do, takes no lock)."""
        limit = self._limit.limit
        if self._busy > limit:
            with self._slots:
                if self._busy > self._limit.limit:
                    self._busy -= 1
                    self._wait_for_slot()
        elif self._waiting and self._busy < limit:
            with self._slots:
                room = self._limit.limit - self._busy
                if room > 0:
                    self._slots.notify(room)
