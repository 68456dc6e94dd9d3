"""Adaptive concurrency: grow while the target keeps up, shrink on 429, 5xx or rising latency."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import orderbridge as ob
from orderbridge.migration.concurrency import AdaptiveLimit, Concurrency
from orderbridge.transport import RequestRecord
from tests.sites import Sites


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run_round(limit: AdaptiveLimit, clock: Clock, seconds: float, *, fill: bool = True) -> None:
    """One round of ``limit.limit`` orders of ``seconds`` each; not ``fill``: one fewer at once."""
    count = limit.limit
    at_once = count if fill else max(1, count - 1)
    done = 0
    while done < count:
        batch = min(at_once, count - done)
        starts = [limit.order_started() for _ in range(batch)]
        clock.now += seconds
        for started in starts:
            limit.order_finished(started)
        done += batch


def record(status: int | None, error: str | None = None) -> RequestRecord:
    return RequestRecord("POST", "https://shop.example.com/x", status, 0.01, 0, error)


def test_slow_start_doubles_while_the_target_keeps_up_then_stops_at_the_ceiling() -> None:
    clock = Clock()
    limit = AdaptiveLimit(Concurrency(), clock=clock)
    seen = [limit.limit]
    for _ in range(5):
        run_round(limit, clock, 0.1)
        seen.append(limit.limit)
    assert seen == [4, 8, 16, 32, 32, 32]
    assert limit.peak == 32 and limit.decreases == 0


def test_a_429_quarters_the_limit_and_a_5xx_halves_it_at_once_and_only_once_per_round() -> None:
    clock = Clock()
    limit = AdaptiveLimit(Concurrency(initial=16), clock=clock)
    limit.on_answer(record(429))
    limit.on_answer(record(429))  # the same round: the first one said it
    assert limit.limit == 4 and limit.decreases == 1  # "too many": a quarter (a site's rate is far below)
    run_round(limit, clock, 0.1)  # the round ends: no growth on top of the decrease
    assert limit.limit == 4
    run_round(limit, clock, 0.1)  # a clean round after a decrease: one more, no longer doubling
    assert limit.limit == 5
    limit.on_answer(record(503))  # a server error: half
    assert limit.limit == 2
    limit.on_answer(record(None, error="ConnectionError"))  # same round
    assert limit.limit == 2


def test_a_limit_that_met_a_429_is_a_ceiling_probed_again_after_a_calm_while() -> None:
    clock = Clock()
    limit = AdaptiveLimit(Concurrency(initial=8, ceiling_hold=5.0), clock=clock)
    limit.on_answer(record(429))  # at 8: 8 is too many for this site
    assert (limit.limit, limit.ceiling) == (2, 8)
    seen = []
    for _ in range(9):  # 0.9 s
        run_round(limit, clock, 0.1)
        seen.append(limit.limit)
    # The round that ends the 429's round changes nothing; then +1 a round up to one below the ceiling.
    assert seen == [2, 3, 4, 5, 6, 7, 7, 7, 7]
    clock.now += 4.0
    run_round(limit, clock, 0.1)  # 5 s after the 429: the ceiling is forgotten, the site probed
    assert limit.ceiling is None and limit.limit == 8
    limit.on_answer(record(429))  # still too many: remembered again
    assert (limit.limit, limit.ceiling) == (2, 8)


def test_a_ceiling_of_two_still_lets_two_orders_run() -> None:
    # One below a ceiling of 2 would hold a slow, rate-limited site at one order for the whole hold
    # (measured: 52 requests/s against a site that takes 100); two is the floor of the growth.
    clock = Clock()
    limit = AdaptiveLimit(Concurrency(initial=2, ceiling_hold=100.0), clock=clock)
    limit.on_answer(record(429))
    assert (limit.limit, limit.ceiling) == (1, 2)
    for _ in range(4):
        run_round(limit, clock, 0.1)
    assert limit.limit == 2 and limit.ceiling == 2


def test_a_5xx_halves_but_sets_no_ceiling() -> None:
    clock = Clock()
    limit = AdaptiveLimit(Concurrency(initial=8), clock=clock)
    limit.on_answer(record(503))  # a stray server error, not "too many"
    assert (limit.limit, limit.ceiling) == (4, None)
    for _ in range(6):  # the 503's round, then +1 a round, past 8
        run_round(limit, clock, 0.1)
    assert limit.limit == 9


def test_rising_latency_takes_a_fifth_off_and_the_baseline_follows_a_lasting_change() -> None:
    clock = Clock()
    limit = AdaptiveLimit(Concurrency(initial=10, window=3), clock=clock)
    run_round(limit, clock, 0.1)
    assert limit.limit == 20
    run_round(limit, clock, 0.2)  # twice as slow as the best round: queueing
    assert limit.limit == 16 and limit.decreases == 1
    run_round(limit, clock, 0.14)  # within the tolerance of the best: grows again, by one
    assert limit.limit == 17
    for _ in range(3):  # the site is slower for good: once the fast rounds leave the window...
        run_round(limit, clock, 0.3)
    before = limit.limit
    run_round(limit, clock, 0.3)
    assert limit.limit == before + 1  # ...0.3 s is the new normal


def test_request_times_not_order_times_tell_rising_latency() -> None:
    clock = Clock()
    limit = AdaptiveLimit(Concurrency(initial=4), clock=clock)
    for order_seconds in (0.1, 0.5):  # a round of big orders (many requests each) ...
        for _ in range(3):
            limit.on_answer(record(200))  # ... whose requests answer as fast as ever (0.01 s)
        run_round(limit, clock, order_seconds)
    assert limit.limit == 16 and limit.decreases == 0
    for _ in range(3):
        limit.on_answer(RequestRecord("POST", "https://shop.example.com/x", 200, 0.05, 0, None))
    run_round(limit, clock, 0.1)  # the same orders, but the target answers five times slower
    assert limit.limit == 12 and limit.decreases == 1


def test_a_round_that_never_filled_the_limit_does_not_grow_it() -> None:
    clock = Clock()
    limit = AdaptiveLimit(Concurrency(initial=6), clock=clock)
    run_round(limit, clock, 0.1, fill=False)  # the source could not keep six orders going
    assert limit.limit == 6


def test_bounds_and_a_fixed_number() -> None:
    clock = Clock()
    low = AdaptiveLimit(Concurrency(initial=2, minimum=2, maximum=5, ceiling_hold=0.2), clock=clock)
    low.on_answer(record(429))
    assert low.limit == 2  # never below the minimum
    for _ in range(5):  # the 429's round, one held at the ceiling, then (the hold over) +1 a round
        run_round(low, clock, 0.1)
    assert low.limit == 5
    fixed = AdaptiveLimit(Concurrency.of(3), clock=clock)
    fixed.on_answer(record(429))
    run_round(fixed, clock, 0.1)
    assert fixed.limit == 3 and not fixed.adaptive
    assert Concurrency.of(None).describe() == "adaptive 1-32" and Concurrency.of(7).describe() == "fixed 7"
    assert Concurrency.of(None, maximum=64).ceiling == 64
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ValueError, match="at least 1"):
            Concurrency.of(bad)  # type: ignore[arg-type]


def test_the_mean_is_weighted_by_time() -> None:
    clock = Clock()
    limit = AdaptiveLimit(Concurrency(initial=4), clock=clock)
    clock.now = 1.0
    limit.on_answer(record(503))  # 4 for one second, then 2 for one second
    clock.now = 2.0
    assert limit.mean() == pytest.approx(3.0)


# ---------------------------------------------------------------- in a migration


def _orders(n: int) -> list[ob.Order]:
    return [
        ob.Order(source=ob.SourceRef("webinone-v1", str(i)), number=str(i), total=Decimal("1.00"))
        for i in range(1, n + 1)
    ]


def test_a_migration_adapts_by_default_and_a_number_fixes_it(tmp_path: Path) -> None:
    source = ob.connect("jsonl", path=tmp_path / "source.jsonl")
    for order in _orders(60):
        source.create_order(order)
    report = ob.migrate(source, ob.connect("jsonl", path=tmp_path / "a.jsonl"), state=tmp_path / "a.sqlite")
    assert report.written == 60 and report.concurrency == "adaptive 1-32"
    assert report.to_dict()["concurrency"]["peak"] == report.workers_peak >= 4
    fixed = ob.migrate(
        source, ob.connect("jsonl", path=tmp_path / "b.jsonl"), state=tmp_path / "b.sqlite", concurrency=3
    )
    assert fixed.written == 60 and fixed.concurrency == "fixed 3" and fixed.workers_peak == 3
    assert "workers fixed 3" in fixed.summary()
    with pytest.raises(ob.ConfigurationError, match="at least 1"):
        ob.migrate(source, ob.connect("jsonl", path=tmp_path / "c.jsonl"), state=None, concurrency=0)


def test_429s_from_the_target_bring_the_workers_down(tmp_path: Path) -> None:
    sites = Sites(40)
    try:
        faults = sites.new_server.faults
        faults.rate_429, faults.retry_after = 0.3, 0
        faults.exempt_paths = frozenset({"/api/v1/oauth/token"})
        target = sites.target()
        report = ob.migrate(sites.source(), target, state=tmp_path / "s.sqlite", final_pass_delays=(0, 0))
        assert report.written == 40 and report.failed == 0
        assert not target.transport.on_request  # type: ignore[attr-defined]  # the run's listener is gone
    finally:
        sites.close()
    # Four workers to begin with; every round saw 429s, so the limit went down, never up.
    assert report.workers_peak == 4 and report.workers < 4 and report.concurrency == "adaptive 1-32"
