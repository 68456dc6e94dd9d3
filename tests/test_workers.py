"""The worker threads of a migration: at most the limit at once, fed by a short queue the reader fills."""

from __future__ import annotations

import threading

import pytest

from orderbridge.migration.concurrency import AdaptiveLimit, Concurrency
from orderbridge.migration.workers import OrderWorkers

WAIT = 10.0  # seconds a test waits for a thread before it fails (never reached when all is well)


class Gauge:
    """A ``handle`` that counts items in flight at once, each held until its event is set."""

    def __init__(self, held: dict[int, threading.Event] | None = None) -> None:
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.now = 0
        self.peak = 0
        self.handled: list[int] = []
        self.started: dict[int, threading.Event] = {}
        self.held = held or {}

    def wait_started(self, count: int) -> bool:
        """Wait until ``count`` items have started; False after :data:`WAIT` seconds."""
        with self.changed:
            return self.changed.wait_for(lambda: len(self.started) >= count, WAIT)

    def __call__(self, item: int) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.started.setdefault(item, threading.Event()).set()
            self.changed.notify_all()
        release = self.held.get(item)
        if release is not None:
            assert release.wait(WAIT)
        with self.lock:
            self.now -= 1
            self.handled.append(item)


def test_every_item_is_handled_once_and_never_more_than_the_limit_at_once() -> None:
    gauge = Gauge()
    limit = AdaptiveLimit(Concurrency(fixed=3))
    with OrderWorkers(gauge, limit, stop=threading.Event()) as workers:
        for item in range(200):
            workers.put(item)
        workers.close()
        notices = list(workers.finished())
    assert sorted(gauge.handled) == list(range(200))
    assert notices == [None] * 200
    assert gauge.peak <= 3


def test_a_worker_takes_the_next_queued_item_without_the_reading_thread() -> None:
    # The reader puts two items and turns to other work: the second starts as soon as the
    # first is done, with no call from the reader in between (no round trip per order).
    first_done = threading.Event()
    gauge = Gauge(held={0: first_done})
    limit = AdaptiveLimit(Concurrency(fixed=1))
    with OrderWorkers(gauge, limit, stop=threading.Event()) as workers:
        workers.put(0)
        workers.put(1)
        assert gauge.wait_started(1)
        assert 1 not in gauge.started  # one worker: the second waits in the queue
        first_done.set()
        assert gauge.wait_started(2)


def test_a_lower_limit_holds_the_extra_workers_back_and_a_higher_one_lets_them_go() -> None:
    releases = {item: threading.Event() for item in range(8)}
    gauge = Gauge(held=releases)
    limit = AdaptiveLimit(Concurrency(initial=4, maximum=8))
    with OrderWorkers(gauge, limit, stop=threading.Event()) as workers:
        for item in range(4):
            workers.put(item)
        assert gauge.wait_started(4)
        limit.limit = 2  # as a 5xx would set it
        for item in range(4):
            releases[item].set()
        for item in range(4, 8):
            workers.put(item)
        assert gauge.wait_started(6)  # two of the four new items: two slots
        with gauge.lock:
            in_flight, gauge.peak = gauge.now, 0
        assert in_flight == 2
        limit.limit = 4
        first = next(item for item in range(4, 8) if item in gauge.started)
        releases[first].set()  # a slot freed under the higher limit wakes the waiting workers
        assert gauge.wait_started(8)
        for item in range(4, 8):
            releases[item].set()
        workers.close()
    assert sorted(gauge.handled) == list(range(8))
    assert gauge.peak <= 4


def test_after_stop_queued_items_are_dropped_and_items_in_flight_finish() -> None:
    stop = threading.Event()
    release = threading.Event()
    gauge = Gauge(held={0: release})
    limit = AdaptiveLimit(Concurrency(fixed=1))
    with OrderWorkers(gauge, limit, stop=stop) as workers:
        workers.put(0)
        assert gauge.wait_started(1)
        workers.put(1)
        workers.put(2)
        stop.set()
        release.set()
        workers.close()
        notices = list(workers.finished())
    assert gauge.handled == [0]
    assert workers.dropped == 2 and notices == [None, None, None]


def test_what_handle_raises_reaches_the_reading_thread() -> None:
    def handle(item: int) -> None:
        if item == 3:
            raise RuntimeError("engine bug")

    with OrderWorkers(handle, AdaptiveLimit(Concurrency(fixed=2)), stop=threading.Event()) as workers:
        for item in range(6):
            workers.put(item)
        workers.close()
        notices = list(workers.finished())
    errors = [n for n in notices if n is not None]
    assert len(notices) == 6 and len(errors) == 1 and str(errors[0]) == "engine bug"


def test_closing_twice_is_safe_and_a_closed_pool_takes_nothing() -> None:
    workers = OrderWorkers(lambda item: None, AdaptiveLimit(Concurrency(fixed=4)), stop=threading.Event())
    for item in range(10):
        workers.put(item)
    workers.close()
    workers.close()  # as after a Ctrl-C that interrupted the first close: no more stops are queued
    assert len(list(workers.finished())) == 10
    with pytest.raises(RuntimeError, match="closed"):
        workers.put(11)
