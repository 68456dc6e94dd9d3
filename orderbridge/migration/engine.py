"""The migration engine: stream orders from a source, write them to a target.

Guarantees, and how they are kept:

* **Never a duplicate.** Each source order's row in the state store goes
  ``pending`` before the first write request. A row left ``pending`` (the run
  was killed, or a write was ambiguous) is settled before writing again: the
  target id the journal recorded is deleted, or, when the kill came between
  the create request and its journal entry, the target is searched by natural
  key and the copy found there deleted. Only then is the order written anew.
* **Never half-written.** A multi-request write that fails part-way
  (:class:`~orderbridge.errors.PartialWrite`) is removed from the target and
  retried; if it still fails the copy is removed and the order recorded as
  failed with its reason.
* **Resumable.** Completed rows are skipped (mode ``skip``) or updated only when
  the source changed since (mode ``update``, by content hash); pending rows of
  a killed run are recovered first.
* **Memory does not grow with the source.** Orders are read lazily and at most
  ``2 x concurrency`` are in flight.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from attrs import define, frozen

from orderbridge.backend import Backend, Capability
from orderbridge.converters import order_to_dict
from orderbridge.errors import (
    AmbiguousWrite,
    AuthenticationError,
    ConfigurationError,
    InvalidOrder,
    NotFound,
    OrderbridgeError,
    PartialWrite,
    Rejected,
    TransportError,
    UnresolvedReference,
    UnsupportedOperation,
)
from orderbridge.migration.report import Failure, MigrationReport
from orderbridge.migration.state import DONE, OrderState, SQLiteStateStore, StateStore, Status
from orderbridge.model import Order

__all__ = ["Mode", "Progress", "Selection", "content_hash", "migrate"]

log = logging.getLogger("orderbridge.migration")

WRITE_ATTEMPTS: Final = 4
"""Attempts per order within one run (transient failures only; the transport retries too)."""


class Mode:
    """What a re-run does with orders already migrated."""

    SKIP: Final = "skip"
    """Leave migrated orders alone (default)."""
    UPDATE: Final = "update"
    """Update migrated orders whose source changed since; unchanged ones cost no write."""


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


def content_hash(order: Order) -> str:
    """A stable hash of an order's canonical content (detects a changed source)."""
    text = json.dumps(order_to_dict(order), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _StoreJournal:
    """Writes a backend's step notes into the state store as they happen."""

    def __init__(self, store: StateStore, source_id: str) -> None:
        self.store = store
        self.source_id = source_id

    def record(self, step: str, detail: dict[str, Any]) -> None:
        if step == "order" and "order_id" in detail:
            self.store.set_target(self.source_id, str(detail["order_id"]))
        self.store.add_step(self.source_id, step, detail)


class _NullStore:
    """The state of a dry run without a state file: nothing migrated yet, nothing recorded."""

    def check_identity(self, source: str, target: str) -> None:
        return None

    def get(self, source_id: str) -> OrderState | None:
        return None

    def close(self) -> None:
        return None


@define
class _Run:
    source: Backend
    target: Backend
    store: Any
    report: MigrationReport
    dry_run: bool
    mode: str
    lock: threading.Lock
    stop: threading.Event
    max_failures: int | None

    # ------------------------------------------------------------ per order

    def handle(self, order: Order) -> None:
        source_id = self.source.remote_id_of(order)
        try:
            action = self._migrate(order, source_id)
        except Exception as exc:  # one order's failure never stops the run
            self._fail(source_id, exc)
            return
        with self.lock:
            if action == "written":
                self.report.written += 1
            elif action == "updated":
                self.report.updated += 1
            elif action == "skipped":
                self.report.skipped += 1
            else:
                self.report.planned[action] += 1

    def _migrate(self, order: Order, source_id: str) -> str:
        state = self.store.get(source_id)
        digest = content_hash(order)
        if state is not None and state.status in DONE:
            if self.mode == Mode.SKIP or state.content_hash == digest:
                return "skipped"
            if self.dry_run:
                self._plan_checks(order)
                return "would update"
            assert state.target_id is not None
            self._account(order)
            journal = _StoreJournal(self.store, source_id)
            written = self.target.update_order(state.target_id, order, journal=journal)
            self.store.mark_done(source_id, Status.UPDATED, self.target.remote_id_of(written), digest)
            return "updated"
        if self.dry_run:
            self._plan_checks(order)
            return "would create"
        self._account(order)
        self._write(order, source_id, digest, state)
        return "written"

    def _plan_checks(self, order: Order) -> None:
        self.target.from_canonical(order)  # a translation error shows in the plan, as it would in the run
        unresolved = self._account(order)
        if unresolved and self.target.on_unresolved == "fail":
            kind, value = unresolved[0]
            raise UnresolvedReference(kind=kind, value=value, order=order.label, target=self.target.name)

    def _account(self, order: Order) -> list[tuple[str, str]]:
        """Count what the target cannot hold and which references it cannot resolve."""
        losses = {loss.field: loss.reason for loss in self.target.losses(order)}
        unresolved = self.target.unresolved_references(order)
        with self.lock:
            self.report.losses.update(losses.keys())
            for field, reason in losses.items():
                self.report.loss_reasons.setdefault(field, reason)
            for kind, value in unresolved:
                self.report.add_unresolved(kind, value)
        return unresolved

    def _write(self, order: Order, source_id: str, digest: str, state: OrderState | None) -> None:
        # A row that is not complete may have left a copy in the target.
        dirty = state is not None and (state.status == Status.PENDING or state.target_id is not None)
        known_target = state.target_id if state is not None else None
        last_error: BaseException | None = None
        for _attempt in range(WRITE_ATTEMPTS):
            self.store.mark_pending(source_id, digest)
            if dirty:
                self._remove_copies(order, source_id, known_target)
                dirty, known_target = False, None
            try:
                written = self.target.create_order(order, journal=_StoreJournal(self.store, source_id))
            except AmbiguousWrite as exc:
                log.warning("order %s: %s; looking in the target before writing again", source_id, exc)
                dirty, last_error = True, exc
                continue
            except PartialWrite as exc:
                known_target = exc.written.get("order_id")
                dirty, last_error = True, exc
                if not _transient(exc.cause):
                    break
                log.warning(
                    "order %s: partial write (%s); removing it and writing again", source_id, exc.cause
                )
                continue
            self.store.mark_done(source_id, Status.WRITTEN, self.target.remote_id_of(written), digest)
            return
        # Give up on this order for this run, leaving nothing half-written behind.
        assert last_error is not None
        if dirty:
            self._remove_copies(order, source_id, known_target)
        field = last_error.field if isinstance(last_error, InvalidOrder) else None
        self.store.mark_clean_failure(source_id, str(last_error), field)
        raise last_error

    def _remove_copies(self, order: Order, source_id: str, known_target: str | None) -> None:
        if Capability.DELETE not in self.target.capabilities:
            raise UnsupportedOperation(
                self.target.name, "delete_order (to remove a half-written copy)", self.target.capabilities
            )
        if known_target is not None:
            try:
                self.target.delete_order(known_target)
            except NotFound:
                pass
        else:
            # The create may have reached the target without its id reaching us.
            for _ in range(WRITE_ATTEMPTS + 2):
                found = self.target.find_order(order)
                if found is None:
                    break
                log.warning("order %s: removing an unrecorded copy in the target", source_id)
                self.target.delete_order(self.target.remote_id_of(found))
        self.store.set_target(source_id, None)

    def _fail(self, source_id: str, exc: BaseException) -> None:
        field = exc.field if isinstance(exc, InvalidOrder) else None
        kind = _failure_kind(exc)
        message = str(exc)
        if not self.dry_run:
            self.store.mark_failed(source_id, message, field)
        log.info("order %s failed: %s", source_id, message)
        with self.lock:
            self.report.add_failure(Failure(source_id=source_id, message=message, field=field, kind=kind))
            cause = exc.cause if isinstance(exc, PartialWrite) else exc
            if isinstance(cause, AuthenticationError) and self.report.stopped_reason is None:
                # Every other order would fail the same way: stop and say so.
                self.report.stopped_reason = (
                    f"the {self._side(cause)} refused the credentials: {cause.message}"
                )
                self.stop.set()
            if self.max_failures is not None and self.report.failed >= self.max_failures:
                self.report.stopped_reason = f"{self.report.failed} failures reached --max-failures"
                self.stop.set()

    def _side(self, error: TransportError) -> str:
        target_url = getattr(getattr(self.target, "transport", None), "base_url", None)
        if target_url and error.url and error.url.startswith(str(target_url)):
            return f"target ({self.target.name})"
        return "source or target"

    def fail_unreadable(self, error: InvalidOrder) -> None:
        """A source document that could not even be translated."""
        self._fail(error.order or "?", error)


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, TransportError | AmbiguousWrite) and not isinstance(exc, Rejected)


def _failure_kind(exc: BaseException) -> str:
    if isinstance(exc, PartialWrite):
        return "partial-write:" + _failure_kind(exc.cause)
    if isinstance(exc, UnresolvedReference):
        return "unresolved-reference"
    if isinstance(exc, InvalidOrder):
        return "invalid-order"
    if isinstance(exc, Rejected):
        return "rejected"
    if isinstance(exc, TransportError):
        return "transport"
    if isinstance(exc, OrderbridgeError):
        return type(exc).__name__
    return "bug:" + type(exc).__name__


def _selected(run: _Run, selection: Selection) -> Iterator[Order | InvalidOrder]:
    if selection.ids:
        for source_id in selection.ids:
            try:
                yield run.source.get_order(source_id)
            except InvalidOrder as exc:
                yield exc
            except NotFound as exc:
                yield InvalidOrder(f"not found in the source: {exc}", order=source_id)
        return
    taken = 0
    for record in run.source.iter_records():
        if selection.limit is not None and taken >= selection.limit:
            return
        if isinstance(record, InvalidOrder):
            taken += 1
            yield record
            continue
        if selection.matches(record, run.source.remote_id_of(record)):
            taken += 1
            yield record


def migrate(
    source: Backend,
    target: Backend,
    *,
    state: str | Path | StateStore | None = "orderbridge-state.sqlite",
    dry_run: bool = False,
    mode: str = Mode.SKIP,
    concurrency: int = 4,
    selection: Selection | None = None,
    max_failures: int | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> MigrationReport:
    """Migrate orders from ``source`` to ``target``; returns the report.

    ``state`` is the state file (or a :class:`StateStore`); a dry run reads it
    when it exists and never writes it, nor the target. ``concurrency`` worker
    threads write in parallel (reads stay in order on the calling thread).
    ``max_failures`` stops the run early. Setting ``stop`` (or Ctrl-C) lets the
    orders in flight finish and returns a report marked interrupted.
    """
    if mode not in (Mode.SKIP, Mode.UPDATE):
        raise ConfigurationError(f"mode must be 'skip' or 'update', not {mode!r}")
    if concurrency < 1:
        raise ConfigurationError("concurrency must be at least 1")
    if Capability.READ not in source.capabilities:
        raise UnsupportedOperation(source.name, "read (as a migration source)", source.capabilities)
    if not dry_run and Capability.CREATE not in target.capabilities:
        raise UnsupportedOperation(target.name, "create (as a migration target)", target.capabilities)
    if not dry_run and mode == Mode.UPDATE and Capability.UPDATE not in target.capabilities:
        raise UnsupportedOperation(target.name, "update (mode 'update')", target.capabilities)
    selection = selection or Selection()
    store, owned, state_path = _open_store(state, dry_run)
    report = MigrationReport(
        source=source.name,
        target=target.name,
        dry_run=dry_run,
        mode=mode,
        state_path=state_path,
        started_at=datetime.now(UTC).isoformat(),
    )
    run = _Run(
        source=source,
        target=target,
        store=store,
        report=report,
        dry_run=dry_run,
        mode=mode,
        lock=threading.Lock(),
        stop=stop or threading.Event(),
        max_failures=max_failures,
    )
    started = time.monotonic()
    try:
        store.check_identity(source.name, target.name)
        total = _total(source, selection)
        _drive(run, selection, concurrency, total, progress)
    finally:
        report.duration_seconds = time.monotonic() - started
        report.finished_at = datetime.now(UTC).isoformat()
        if owned:
            store.close()
    if report.interrupted or report.stopped_reason or report.failed:
        report.resume_hint = (
            "run the same command again: migrated orders are skipped, failed and unfinished ones are retried"
            if not dry_run
            else None
        )
    return report


def _open_store(state: str | Path | StateStore | None, dry_run: bool) -> tuple[Any, bool, str | None]:
    if state is None:
        if not dry_run:
            raise ConfigurationError("a migration needs a state file (it is what makes it resumable)")
        return _NullStore(), False, None
    if isinstance(state, str | Path):
        path = Path(state)
        if dry_run and not path.exists():
            return _NullStore(), False, str(path)
        return SQLiteStateStore(path), True, str(path)
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
    run: _Run, selection: Selection, concurrency: int, total: int | None, progress: Progress | None
) -> None:
    done = 0
    in_flight: set[Future[None]] = set()
    report = run.report

    def settle(futures: set[Future[None]]) -> None:
        nonlocal done
        for future in futures:
            future.result()  # handle() never raises; this surfaces engine bugs
            done += 1
            if progress is not None:
                progress(done, total, report)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="orderbridge-worker") as pool:
        try:
            if not run.dry_run:
                _recover_pending(run, pool)
            for record in _selected(run, selection):
                if run.stop.is_set():
                    break
                with run.lock:
                    report.read += 1
                if isinstance(record, InvalidOrder):
                    run.fail_unreadable(record)
                    done += 1
                    if progress is not None:
                        progress(done, total, report)
                    continue
                in_flight.add(pool.submit(run.handle, record))
                if len(in_flight) >= 2 * concurrency:
                    finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                    settle(finished)
            finished, in_flight = wait(in_flight)
            settle(finished)
        except KeyboardInterrupt:
            run.stop.set()
            report.interrupted = True
            log.warning("interrupted: finishing the %d order(s) in flight", len(in_flight))
            finished, in_flight = wait(in_flight)
            settle(finished)
    if run.stop.is_set() and report.stopped_reason is None:
        report.interrupted = True


def _recover_pending(run: _Run, pool: ThreadPoolExecutor) -> None:
    """Remove what a killed run left half-written, before anything new is written.

    Each pending row's copy in the target (by recorded id, else by natural
    key) is deleted and the row forgotten, so the order is written afresh
    when the source stream reaches it. Done first so that a copy created
    without its id being recorded is among the newest orders of the target.
    """
    pending = list(run.store.iter_pending())
    if not pending:
        return
    log.info("cleaning up %d order(s) a previous run left unfinished", len(pending))

    def clean(row: OrderState) -> None:
        try:
            order = run.source.get_order(row.source_id)
            run._remove_copies(order, row.source_id, row.target_id)
            run.store.forget(row.source_id)
        except Exception as exc:
            run._fail(row.source_id, exc)
            return
        with run.lock:
            run.report.recovered += 1

    for future in [pool.submit(clean, row) for row in pending]:
        future.result()
