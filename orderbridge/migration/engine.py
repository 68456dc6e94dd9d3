"""The migration engine: stream orders from a source, write them to a target, exactly once.

The target is the ledger; the state store caches it. A run whose state is
new, lost, rebuilt or unfinished first reads the target's orders once (its
list pages) into a :class:`~orderbridge.migration.ledger.TargetLedger`, and
every order is then settled against it (see :mod:`orderbridge.migration.settle`):
adopted when the target already holds it, finished in place when a copy of
ours is incomplete, reported as a conflict when an order orderbridge did not
write stands in the way, created otherwise. A state file is held by one run
at a time and bound to its source and target endpoints.

Orders that fail transiently get a final pass with backoff; rows a killed run
left pending are finished even when this run's selection does not reach them.
Memory does not grow with the source: orders are read lazily and at most
the concurrency limit are in flight (the ledger holds a compact copy of each
target order while it is in use).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from attrs import frozen

from orderbridge.backend import Backend, Capability
from orderbridge.errors import (
    ConfigurationError,
    InvalidOrder,
    NotFound,
    OrderbridgeError,
    PreflightFailed,
    UnsupportedOperation,
)
from orderbridge.migration.concurrency import AdaptiveLimit, Concurrency
from orderbridge.migration.ledger import TargetLedger
from orderbridge.migration.report import MigrationReport
from orderbridge.migration.settle import Mode, OrderMigrator, content_hash
from orderbridge.migration.state import (
    Claim,
    OrderState,
    StateStore,
    is_state_url,
    now_text,
    open_state_store,
)
from orderbridge.migration.timeline import Timeline
from orderbridge.migration.workers import OrderWorkers
from orderbridge.model import Order
from orderbridge.references import NO_ID_SPACE, id_space_of
from orderbridge.transport import Transport

__all__ = [
    "FINAL_PASS_DELAYS",
    "Mode",
    "Progress",
    "Selection",
    "content_hash",
    "migrate",
    "preflight",
]

log = logging.getLogger("orderbridge.migration")

FINAL_PASS_DELAYS: Final = (2.0, 8.0)
"""Seconds waited before each final pass over orders that failed transiently."""


@frozen(kw_only=True)
class Selection:
    """Which source orders a run takes. Empty selection = all.

    ``since``/``until`` bound the creation time (inclusive, aware datetimes);
    ``min_id``/``max_id`` bound the source id (numerically when both are
    numbers); ``ids`` names orders one by one (fetched directly); ``limit``
    takes the first N selected (a trial run).
    """

    since: datetime | None = None
    until: datetime | None = None
    min_id: str | None = None
    max_id: str | None = None
    ids: tuple[str, ...] = ()
    limit: int | None = None

    def matches(self, order: Order, source_id: str) -> bool:
        """Whether ``order`` (known at the source as ``source_id``) is selected."""
        if self.since is not None and (order.created_at is None or order.created_at < self.since):
            return False
        if self.until is not None and (order.created_at is None or order.created_at > self.until):
            return False
        if self.min_id is not None and _id_less(source_id, self.min_id):
            return False
        return not (self.max_id is not None and _id_less(self.max_id, source_id))


def _id_less(a: str, b: str) -> bool:
    if a.isdigit() and b.isdigit():
        return int(a) < int(b)
    return a < b


Progress = Callable[[int, int | None, MigrationReport], None]
"""Called as ``progress(done, total, report)`` after each order; ``total`` may be ``None``."""


def selected_records(source: Backend, selection: Selection) -> Iterator[Order | InvalidOrder]:
    """The source records a run (or a verify) with ``selection`` takes, in source order."""
    if selection.ids:
        for source_id in selection.ids:
            try:
                yield source.get_order(source_id)
            except InvalidOrder as exc:
                yield exc
            except NotFound as exc:
                yield InvalidOrder(f"not found in the source: {exc}", order=source_id)
        return
    taken = 0
    for record in source.iter_records():
        if selection.limit is not None and taken >= selection.limit:
            return
        if isinstance(record, InvalidOrder):
            taken += 1
            yield record
            continue
        if selection.matches(record, source.remote_id_of(record)):
            taken += 1
            yield record


class _NullStore:
    """The state of a dry run without a state file: nothing migrated yet, nothing recorded."""

    def lock(self) -> None:
        return None

    def unlock(self) -> None:
        return None

    def bind(self, source: str, target: str) -> None:
        return None

    def needs_ledger(self) -> bool:
        return True

    def get(self, source_id: str) -> OrderState | None:
        return None

    def source_of(self, target_id: str) -> str | None:
        return None

    def claim(self, source_id: str) -> str:
        return Claim.MINE

    def close(self) -> None:
        return None


def migrate(
    source: Backend,
    target: Backend,
    *,
    state: str | Path | StateStore | None = "orderbridge-state.sqlite",
    dry_run: bool = False,
    mode: str = Mode.SKIP,
    concurrency: int | Concurrency | None = None,
    selection: Selection | None = None,
    max_failures: int | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    final_pass_delays: tuple[float, ...] = FINAL_PASS_DELAYS,
    sleep: Callable[[float], None] = time.sleep,
) -> MigrationReport:
    """Migrate orders from ``source`` to ``target``, exactly once; returns the report.

    ``state`` is the state file (or a :class:`StateStore`), held by this run
    alone and bound to both endpoints; a PostgreSQL state URL
    (``postgresql://user@host/db?migration=ID``, see
    :mod:`~orderbridge.migration.state_postgres`) is shared instead by every
    worker of that migration, each order claimed by one of them; a dry run reads it when it exists and
    never writes it, nor the target. ``concurrency`` is how many orders are
    written at once: ``None`` (the default) adapts it to the target
    (:class:`~orderbridge.migration.concurrency.Concurrency`: grows while the
    target keeps up, shrinks on 429, 5xx or rising latency, between 1 and 32),
    an integer fixes it; reads stay in order on the calling thread. Orders that failed
    transiently are tried again after each of ``final_pass_delays`` (waited
    with ``sleep``). ``max_failures`` stops a real run once that many orders
    have failed (``None`` or ``0``: never); a dry run ignores it and reads every
    selected order, so its failures and unresolved references are complete. Setting ``stop``
    (or Ctrl-C) lets the orders in flight finish and returns a report marked
    interrupted.
    """
    _check_arguments(source, target, dry_run=dry_run, mode=mode)
    _warn_about_identity(source, target)
    try:
        policy = Concurrency.of(concurrency)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    limit = AdaptiveLimit(policy)
    selection = selection or Selection()
    store, owned, state_path = _open_store(state, dry_run)
    report = MigrationReport(
        source=source.name,
        target=target.name,
        dry_run=dry_run,
        mode=mode,
        state_path=state_path,
        started_at=datetime.now(UTC).isoformat(),
        concurrency=policy.describe(),
        workers=limit.limit,
    )
    started = time.monotonic()
    requests_before = _requests(target)
    try:
        if not dry_run:
            store.lock()
        store.bind(source.endpoint(), target.endpoint())
        preflight(source=source, target=target)
        run = OrderMigrator(
            source=source,
            target=target,
            store=store,
            report=report,
            dry_run=dry_run,
            mode=mode,
            ledger=_read_ledger(source, target, store, report),
            stop=stop or threading.Event(),
            max_failures=max_failures,
            source_site=source.site(),
        )
        run_started = now_text()
        if not dry_run:
            store.begin_run()
        with _listening(target, limit), _recording(report.timeline, source, target):
            _drive(run, selection, limit, _total(source, selection), progress)
            if not dry_run:
                _final_passes(run, limit, final_pass_delays, sleep)
                _finish_left_pending(run, run_started, limit)
        if not dry_run:
            store.end_run(clean=not store.counts().get("pending") and not report.conflicts)
    finally:
        report.timeline.finish()
        report.workers = limit.limit
        report.workers_peak = limit.peak
        report.workers_mean = round(limit.mean(), 1)
        report.duration_seconds = time.monotonic() - started
        report.finished_at = datetime.now(UTC).isoformat()
        report.target_requests = _requests(target) - requests_before
        if owned:
            store.close()
        elif not dry_run:
            store.unlock()
    if report.interrupted or report.stopped_reason or report.failed:
        report.resume_hint = (
            "run the same command again: migrated orders are skipped, failed and unfinished ones are retried"
            if not dry_run
            else None
        )
    return report


def _check_arguments(source: Backend, target: Backend, *, dry_run: bool, mode: str) -> None:
    if mode not in (Mode.SKIP, Mode.UPDATE):
        raise ConfigurationError(f"mode must be 'skip' or 'update', not {mode!r}")
    if Capability.READ not in source.capabilities:
        raise UnsupportedOperation(source.name, "read (as a migration source)", source.capabilities)
    if not dry_run and Capability.CREATE not in target.capabilities:
        raise UnsupportedOperation(target.name, "create (as a migration target)", target.capabilities)
    if not dry_run and mode == Mode.UPDATE and Capability.UPDATE not in target.capabilities:
        raise UnsupportedOperation(target.name, "update (mode 'update')", target.capabilities)


def preflight(**ends: Backend) -> None:
    """Check each end read-only (:meth:`Backend.preflight`) before anything is read or written.

    Called as ``preflight(source=..., target=...)``: a failure is one
    :class:`~orderbridge.errors.PreflightFailed` line naming the side and its
    endpoint; a :class:`~orderbridge.errors.ConfigurationError` (a mapping-table
    value that cannot be an id, say) is raised as it is.
    """
    for side, backend in ends.items():
        try:
            with _retries_unlogged(backend):
                backend.preflight()
        except ConfigurationError:
            raise
        except OrderbridgeError as exc:
            raise PreflightFailed(f"the {side} ({backend.endpoint()}) failed its check: {exc}") from None


@contextmanager
def _retries_unlogged(backend: Backend) -> Iterator[None]:
    """A check that fails says so in its one line: its retries are logged at debug level only."""
    transport = getattr(backend, "transport", None)
    if not isinstance(transport, Transport):
        yield
        return
    level, transport.retry_log_level = transport.retry_log_level, logging.DEBUG
    try:
        yield
    finally:
        transport.retry_log_level = level


def _warn_about_identity(source: Backend, target: Backend) -> None:
    """Say once, at the start, that identity cannot resolve references between two id spaces."""
    resolver = target.resolver
    if resolver is None or not resolver.identity:
        return
    ids, wanted = id_space_of(source), id_space_of(target)
    if ids in (NO_ID_SPACE, wanted):
        return  # one id space (identity is the operator's call), or each order names its own
    log.warning(
        "identity does not apply: %s orders hold %s ids and %s takes %s ids; "
        "references (statuses, members, vouchers...) must come from mapping tables "
        "([references.<kind>]) or a plugin hook, and those that do not are unresolved",
        source.name, ids, target.name, wanted,
    )  # fmt: skip


def _read_ledger(
    source: Backend, target: Backend, store: Any, report: MigrationReport
) -> TargetLedger | None:
    """Read the target's ledger when the state alone cannot be trusted (always, without ``store``)."""
    if Capability.READ not in target.capabilities or (store is not None and not store.needs_ledger()):
        return None
    log.info("reading the target's orders to find what it already holds")
    ledger = TargetLedger.read(target, source.name, source.site())
    report.ledger = {
        "orders": len(ledger),
        "deleted": ledger.deleted,
        "unreadable": ledger.unreadable,
        "requests": ledger.requests,
        "seconds": round(ledger.seconds, 3),
    }
    return ledger


def _requests(target: Backend) -> int:
    count = getattr(getattr(target, "transport", None), "request_count", 0)
    return count if isinstance(count, int) else 0


def _open_store(state: str | Path | StateStore | None, dry_run: bool) -> tuple[Any, bool, str | None]:
    if state is None:
        if not dry_run:
            raise ConfigurationError("a migration needs a state file (it is what makes it resumable)")
        return _NullStore(), False, None
    if isinstance(state, str) and is_state_url(state):
        store: Any = open_state_store(state, lock=not dry_run)
        if dry_run and store.is_new:  # a dry run writes nothing, a binding included
            store.close()
            return _NullStore(), False, store.path
        return store, True, store.path
    if isinstance(state, str | Path):
        path = Path(state)
        if dry_run and not path.exists():
            return _NullStore(), False, str(path)
        return open_state_store(path, lock=not dry_run), True, str(path)
    path_attr = getattr(state, "path", None)
    return state, False, str(path_attr) if path_attr is not None else None


def _total(source: Backend, selection: Selection) -> int | None:
    if selection.ids:
        return len(selection.ids)
    if selection.since or selection.until or selection.min_id or selection.max_id:
        return selection.limit
    try:
        count = source.count_orders()
    except (OrderbridgeError, NotImplementedError):
        count = None
    if count is not None and selection.limit is not None:
        return min(count, selection.limit)
    return count if count is not None else selection.limit


def _drive(
    run: OrderMigrator,
    selection: Selection,
    limit: AdaptiveLimit,
    total: int | None,
    progress: Progress | None,
) -> None:
    done = 0
    report = run.report

    def settle(notices: Iterator[BaseException | None]) -> None:
        nonlocal done
        for notice in notices:
            if notice is not None:
                raise notice  # handle() never raises; this surfaces engine bugs
            done += 1
            if progress is not None:
                progress(done, total, report)

    def take(order: Order) -> None:
        with run.lock:
            report.count_read()
        _timed(run, limit, order)

    position = 0  # records taken from the source, for naming those with no readable id
    with OrderWorkers(take, limit, stop=run.stop) as workers:
        try:
            for record in _guarded(run, selected_records(run.source, selection)):
                if run.stop.is_set():
                    break
                position += 1
                if isinstance(record, InvalidOrder):
                    # A record with no readable id is keyed by its place in the read, so that
                    # two bad lines are two failures (and two state rows), not one "?".
                    with run.lock:
                        report.count_read()
                    unnamed = record.order in (None, "?")
                    run.fail(f"?#{position}" if unnamed else str(record.order), record)
                    done += 1
                    if progress is not None:
                        progress(done, total, report)
                    continue
                workers.put(record)
                settle(workers.finished())
            workers.close()
            settle(workers.finished())
            if report.stopped_reason is not None:
                run.stop.set()  # no final passes after a source that could not be read to its end
        except KeyboardInterrupt:
            run.stop.set()
            report.interrupted = True
            log.warning("interrupted: finishing the %d order(s) in flight", workers.busy)
            workers.close()
            settle(workers.finished())
    if run.stop.is_set() and report.stopped_reason is None:
        report.interrupted = True


def _timed(run: OrderMigrator, limit: AdaptiveLimit, order: Order) -> None:
    """Handle one order, telling the limit how long it took."""
    started = limit.order_started()
    try:
        run.handle(order)
    finally:
        limit.order_finished(started)
        run.report.workers = limit.limit


@contextmanager
def _listening(target: Backend, limit: AdaptiveLimit) -> Iterator[None]:
    """Feed the target transport's answers (429, 5xx, failures) to ``limit`` while the run lasts."""
    transport = getattr(target, "transport", None)
    if not isinstance(transport, Transport) or not limit.adaptive:
        yield
        return
    transport.ensure_pool(limit.policy.ceiling)
    transport.on_request.append(limit.on_answer)
    try:
        yield
    finally:
        transport.on_request.remove(limit.on_answer)


@contextmanager
def _recording(timeline: Timeline, *ends: Backend) -> Iterator[None]:
    """Count each end's retries and 429s in ``timeline`` while the run lasts (once per transport)."""
    transports: list[Transport] = []
    for backend in ends:
        transport = getattr(backend, "transport", None)
        if isinstance(transport, Transport) and all(t is not transport for t in transports):
            transports.append(transport)
    for transport in transports:
        transport.on_request.append(timeline.on_answer)
    try:
        yield
    finally:
        for transport in transports:
            transport.on_request.remove(timeline.on_answer)


def _guarded(run: OrderMigrator, records: Iterator[Order | InvalidOrder]) -> Iterator[Order | InvalidOrder]:
    """The source's records; a page that cannot be read (after the transport's retries) or paging
    that cannot be trusted ends the walk with the reason in the report, never an exception."""
    try:
        yield from records
    except ConfigurationError:
        raise  # a mistake in the configuration (a path, a filter), not a source fault
    except OrderbridgeError as exc:
        # Not run.stop: the orders already read (queued for a worker) are still written; the
        # run stops once they are (see _drive).
        log.error("the source could not be read any further: %s", exc)
        with run.lock:
            run.report.stopped_reason = f"the source could not be read any further ({exc})"
    finally:
        _note_paging(run)


def _note_paging(run: OrderMigrator) -> None:
    stats = run.source.paging_stats
    if stats is None:
        return
    with run.lock:
        run.report.source_claimed = stats.claimed
        run.report.source_notes = list(stats.notes)


def _handle_all(run: OrderMigrator, orders: list[Order], limit: AdaptiveLimit) -> None:
    """Handle ``orders``, at most the current limit at once."""
    with OrderWorkers(lambda order: _timed(run, limit, order), limit, stop=run.stop) as workers:
        for order in orders:
            workers.put(order)
        workers.close()
        for notice in workers.finished():
            if notice is not None:
                raise notice


def _final_passes(
    run: OrderMigrator, limit: AdaptiveLimit, delays: tuple[float, ...], sleep: Callable[[float], None]
) -> None:
    """Try the orders that failed transiently again, waiting longer before each pass."""
    for number, delay in enumerate(delays, start=1):
        if not run.retry or run.stop.is_set():
            break
        batch, run.retry = run.retry, []
        run.final = number == len(delays)
        log.info("final pass %d: %d order(s) that failed transiently, in %.0f s", number, len(batch), delay)
        sleep(delay)
        _handle_all(run, batch, limit)
    run.final = True
    leftover, run.retry = run.retry, []
    for order in leftover:  # no pass left (none configured, or the run was stopped)
        run.handle(order)


def _finish_left_pending(run: OrderMigrator, run_started: str, limit: AdaptiveLimit) -> None:
    """Finish rows an earlier run (or a stopped worker of a shared state) left pending.

    Those this run's selection did not reach, and those it took over from a
    worker that stopped while this one ran: their copies may be newer than the
    ledger read at the start, so the target's ledger is read again first.
    """
    if run.stop.is_set():
        return
    rows, stale = run.store.take_left_pending(run_started)
    taken_over, run.recover = run.recover, []
    if (stale or taken_over) and Capability.READ in run.target.capabilities:
        log.info("reading the target's orders again: a worker stopped while this one ran")
        run.ledger = _read_ledger(run.source, run.target, None, run.report)
    orders: list[Order] = list(taken_over)
    for row in rows:
        try:
            orders.append(run.source.get_order(row.source_id))
        except NotFound:
            log.warning(
                "order %s: unfinished in the state, no longer in the source; left pending", row.source_id
            )
        except Exception as exc:
            run.fail(row.source_id, exc)
    if orders:
        log.info("finishing %d order(s) an earlier run or worker left unfinished", len(orders))
        with run.lock:
            run.report.count_read(len(orders) - len(taken_over))  # those were read by this run
        _handle_all(run, orders, limit)
