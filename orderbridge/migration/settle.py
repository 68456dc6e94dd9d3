"""One source order's way into the target: skip, adopt, finish in place, create, or leave alone.

The rules that make a run exactly-once, whatever happened to the state file:

* **Own copies first.** A copy is provably orderbridge's when it carries this
  order's :class:`~orderbridge.Stamp` or its id is recorded in this state.
  If one exists it is finished *in place* (``update_order`` applies only
  what is missing), or adopted as it is when it already holds everything.
  Deleting is reserved for a second copy of the same source order that is
  provably ours.
* **Unstamped look-alikes are not ours.** An order with the same natural key
  that carries no stamp is adopted only when it equals the source in every
  field the target holds. Otherwise, where the target holds stamps it is
  just another order (ours would be stamped) and the order is written; where
  it does not (the natural-key fallback), it is a *conflict*: reported with
  both ids, never overwritten, deleted or duplicated.
* **Look before writing again.** After an ambiguous create (the request may
  have been applied), the target is searched for a copy created since the
  write began before anything is sent again.
* **Nothing half-reported.** A create the target refuses outright is a clean
  failure; a write cut short stays ``pending`` with the id it got, and is
  finished in place by the final pass or the next run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from datetime import datetime, timedelta
from typing import Any, Final

from attrs import define, field

from orderbridge.backend import Backend, Capability, Stamp, merge_losses
from orderbridge.converters import order_to_dict
from orderbridge.errors import (
    AmbiguousWrite,
    AuthenticationError,
    ConnectionFailed,
    InvalidOrder,
    OrderbridgeError,
    PartialWrite,
    RateLimited,
    Rejected,
    ServerError,
    TransportError,
    UnresolvedReference,
    UnsupportedOperation,
)
from orderbridge.migration.compare import holds_all, holds_part_of
from orderbridge.migration.ledger import TargetLedger, source_stamp
from orderbridge.migration.report import Failure, MigrationReport
from orderbridge.migration.state import DONE, Claim, ClaimLost, OrderState, Status
from orderbridge.model import Order
from orderbridge.references import reference_hint

__all__ = [
    "CLOCK_ALLOWANCE",
    "CREATE_ATTEMPTS",
    "Mode",
    "OrderMigrator",
    "content_hash",
    "failure_kind",
    "over_failure_limit",
    "retry_later",
]

log = logging.getLogger("orderbridge.migration")

CREATE_ATTEMPTS: Final = 3
"""Creates of one order per pass after ambiguous answers (each preceded by a look in the target)."""

CIRCUIT_LIMIT: Final = 5
"""Orders in a row that find the target unreachable (after the transport's retries) before the run stops."""

CLOCK_ALLOWANCE: Final = timedelta(minutes=2)
"""How far the target's clock may be behind ours when telling a copy created by an ambiguous
write (created after the write began) from an older order with the same natural key."""


class Mode:
    """What a re-run does with orders already migrated."""

    SKIP: Final = "skip"
    """Leave migrated orders alone (default)."""
    UPDATE: Final = "update"
    """Update migrated orders whose source changed since; unchanged ones cost no write."""


def content_hash(order: Order) -> str:
    """A stable hash of an order's canonical content (detects a changed source)."""
    text = json.dumps(order_to_dict(order), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _StoreJournal:
    """Records the target id of a create in the state store the moment the target gives it.

    Only the id: it is committed before the backend sends its next request, so
    a kill after it leaves a copy that is provably ours. The other steps (lines,
    payments, assets) are not stored: a copy cut short is finished by reading it
    from the target, which holds exactly what landed.
    """

    def __init__(self, store: Any, source_id: str) -> None:
        self.store = store
        self.source_id = source_id

    def record(self, step: str, detail: dict[str, Any]) -> None:
        if step == "order" and "order_id" in detail:
            self.store.set_target(self.source_id, str(detail["order_id"]))


def retry_later(exc: BaseException) -> bool:
    """Whether a failure is worth a final pass (transient: the target may answer later)."""
    if isinstance(exc, PartialWrite):
        return retry_later(exc.cause)
    if isinstance(exc, Rejected | AuthenticationError):
        return False
    return isinstance(exc, AmbiguousWrite | ServerError | RateLimited | ConnectionFailed) or (
        type(exc) is TransportError
    )


def over_failure_limit(failed: int, max_failures: int | None, *, dry_run: bool) -> bool:
    """Whether ``failed`` failures stop a run whose limit is ``max_failures``.

    ``None`` and ``0`` mean no limit (``--max-failures 0`` lifts a configured
    one); ``N`` stops the run once ``N`` orders have failed. A dry run never
    stops for failures: it reads every selected order, so that its lists of
    failures and unresolved references are complete.
    """
    return not dry_run and bool(max_failures) and failed >= (max_failures or 0)


def failure_kind(exc: BaseException) -> str:
    """A short classification of a failure for the report."""
    if isinstance(exc, PartialWrite):
        return "partial-write:" + failure_kind(exc.cause)
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


def _parse_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


@define
class OrderMigrator:
    """Takes one source order at a time into the target (thread-safe; one per run)."""

    source: Backend
    target: Backend
    store: Any
    report: MigrationReport
    dry_run: bool
    mode: str
    ledger: TargetLedger | None
    stop: threading.Event
    max_failures: int | None
    lock: threading.Lock = field(factory=threading.Lock)
    claim_lock: threading.Lock = field(factory=threading.Lock)
    retry: list[Order] = field(factory=list)
    recover: list[Order] = field(factory=list)
    """Orders taken over from a worker that stopped during this run: settled at the end, against
    a ledger read again (see :class:`~orderbridge.migration.state.Claim`)."""
    final: bool = False
    source_site: str = ""
    unreachable: int = 0

    # ------------------------------------------------------------ entry point

    def handle(self, order: Order) -> None:
        """Migrate one order; record its outcome once (a transient failure may wait for the final pass)."""
        source_id = self.source.remote_id_of(order)
        try:
            if not self.dry_run and not self._claim(order, source_id):
                return
            action = self._migrate(order, source_id)
        except ClaimLost as exc:  # another worker took it over: its outcome is that worker's
            log.warning("%s", exc)
            with self.lock:
                self.report.count("elsewhere", source_id)
            return
        except Exception as exc:  # one order's failure never stops the run
            self._count_unreachable(exc)
            if not self.final and not self.dry_run and retry_later(exc):
                log.info("order %s: %s; retried in the final pass", source_id, exc)
                with self.lock:
                    self.retry.append(order)
                return
            self.fail(source_id, exc)
            return
        with self.lock:
            self.report.count(action, source_id)
            self.unreachable = 0

    def _claim(self, order: Order, source_id: str) -> bool:
        """Whether this worker handles ``order`` now: not when another worker of a shared state holds
        it (counted as handled elsewhere), nor when it is taken over to be settled at the end."""
        claim = self.store.claim(source_id)
        if claim == Claim.MINE:
            return True
        with self.lock:
            if claim == Claim.RECOVER:
                self.recover.append(order)
            else:
                self.report.count("elsewhere", source_id)
        return False

    def _count_unreachable(self, exc: BaseException) -> None:
        """Open the circuit after :data:`CIRCUIT_LIMIT` orders in a row found the target unreachable."""
        cause = exc.cause if isinstance(exc, PartialWrite) else exc
        with self.lock:
            self.unreachable = self.unreachable + 1 if isinstance(cause, ConnectionFailed) else 0
            if self.unreachable >= CIRCUIT_LIMIT and self.report.stopped_reason is None:
                self.report.stopped_reason = (
                    f"{self.unreachable} orders in a row could not reach the target ({cause}); "
                    "stopped instead of failing every order"
                )
                self.stop.set()

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
            written = self.target.update_order(state.target_id, order, stamp=self._stamp(order))
            self.store.mark_done(source_id, Status.UPDATED, self.target.remote_id_of(written), digest)
            return "updated"
        if self.dry_run:
            self._plan_checks(order)
            return self._plan(order, source_id, state)
        self._account(order)
        return self._settle(order, source_id, digest, state)

    # ------------------------------------------------------------ dry run

    def _plan_checks(self, order: Order) -> None:
        self.target.from_canonical(order)  # a translation error shows in the plan, as it would in the run
        unresolved = self._account(order)
        if unresolved and self.target.on_unresolved == "fail":
            kind, value = unresolved[0]
            raise UnresolvedReference(kind=kind, value=value, order=order.label, target=self.target.name)

    def _plan(self, order: Order, source_id: str, state: OrderState | None) -> str:
        if self.ledger is None:
            return "would create"
        copies = self._own_copies(order, state)
        if copies:
            entry = self.ledger.get(copies[0])
            complete = entry is not None and holds_all(order, entry.copy, self.target)
            return "would adopt" if complete else "would finish in place"
        matches = self.ledger.unstamped_matches(order)
        if not matches:
            return "would create"
        if any(self._equal(order, tid) for tid in matches):
            return "would adopt"
        return "would create" if self.target.writes_stamps else "conflict"

    def _account(self, order: Order) -> list[tuple[str, str]]:
        """Count what the target cannot hold and which references it cannot resolve."""
        losses = merge_losses(self.target.losses(order))
        unresolved = self.target.unresolved_references(order)
        with self.lock:
            self.report.add_losses(losses, order.currency)
            for kind, value in unresolved:
                self.report.add_unresolved(kind, value, reference_hint(order, kind, value))
        return unresolved

    # ------------------------------------------------------------ the ledger rules

    def _stamp(self, order: Order) -> Stamp | None:
        """The stamp this run writes with ``order`` (``None`` when the target holds none)."""
        if not self.target.writes_stamps:
            return None
        return source_stamp(order, self.source, self.source_site)

    def _own_copies(self, order: Order, state: OrderState | None) -> list[str]:
        """Target ids provably this order's: stamped as it, or recorded in this state."""
        stamp = self._stamp(order)
        ids = self.ledger.stamped(stamp) if self.ledger is not None and stamp is not None else []
        recorded = state.target_id if state is not None else None
        if recorded is not None and recorded not in ids:
            # A recorded id the target no longer lists (deleted by someone) is no copy.
            if self.ledger is None or self.ledger.get(recorded) is not None:
                ids.insert(0, recorded)
        return ids

    def _equal(self, order: Order, target_id: str) -> bool:
        entry = self.ledger.get(target_id) if self.ledger is not None else None
        return entry is not None and holds_all(order, entry.copy, self.target)

    def _settle(self, order: Order, source_id: str, digest: str, state: OrderState | None) -> str:
        copies = self._own_copies(order, state)
        if not copies and state is not None and state.status == Status.PENDING:
            found = self._find_unrecorded(order, source_id, _parse_time(state.changed_at))
            copies = [found] if found is not None else []
        if copies:
            keep = copies[0]
            self._remove_duplicates(source_id, keep, copies[1:])
            return self._converge(order, source_id, digest, keep)
        if self.ledger is not None:
            outcome = self._adopt_or_conflict(order, source_id, digest)
            if outcome is not None:
                return outcome
        return self._create(order, source_id, digest)

    def _adopt_or_conflict(self, order: Order, source_id: str, digest: str) -> str | None:
        assert self.ledger is not None
        with self.claim_lock:  # two source orders with one natural key must not adopt one copy
            matches = [
                tid
                for tid in self.ledger.unstamped_matches(order)
                if self.store.source_of(tid) in (None, source_id)
            ]
            for tid in matches:
                if self._equal(order, tid):
                    self.store.mark_done(source_id, Status.ADOPTED, tid, digest)
                    return "adopted"
        if matches and self.target.writes_stamps:
            cut_short = self._cut_short_copy(order, matches)
            if cut_short is not None:
                return self._converge(order, source_id, digest, cut_short)
        if not matches or self.target.writes_stamps:
            # With stamps, an unstamped look-alike is simply another order of the target's.
            return None
        message = (
            f"the target holds order {', '.join(matches)} with this order's natural key, not written by "
            "orderbridge and different from it: left alone (fix or remove it, then run again)"
        )
        self.store.mark_conflict(source_id, message)
        with self.lock:
            self.report.add_conflict(source_id, matches)
        log.warning("order %s: conflict with target order(s) %s", source_id, ", ".join(matches))
        return "conflict"

    def _cut_short_copy(self, order: Order, matches: list[str]) -> str | None:
        """An unstamped copy a killed create left before its stamp landed, if one is among ``matches``.

        Only with stamps, and only a copy created while this source's migration
        was writing (after its oldest stamped copy, less :data:`CLOCK_ALLOWANCE`)
        that holds nothing but a beginning of this order.
        """
        assert self.ledger is not None
        opened = self.ledger.first_stamped_at
        if opened is None or not self.target.sets_created_at:
            return None
        for target_id in reversed(matches):  # newest first
            entry = self.ledger.get(target_id)
            made = entry.copy.created_at if entry is not None else None
            if entry is None or made is None or made < opened - CLOCK_ALLOWANCE:
                continue
            if holds_part_of(order, entry.copy, self.target):
                log.warning(
                    "order %s: copy %s lost its stamp to a kill; finishing it", order.label, target_id
                )
                return target_id
        return None

    def _remove_duplicates(self, source_id: str, keep: str, extra: list[str]) -> None:
        """Delete second copies of one source order; each is provably ours (stamped or recorded)."""
        for target_id in extra:
            if Capability.DELETE not in self.target.capabilities:
                log.warning(
                    "order %s: duplicate copy %s left (the target cannot delete)", source_id, target_id
                )
                continue
            log.warning("order %s: removing duplicate copy %s (keeping %s)", source_id, target_id, keep)
            self.target.delete_order(target_id)
            if self.ledger is not None:
                self.ledger.discard(target_id)
            with self.lock:
                self.report.duplicates_removed += 1

    def _converge(self, order: Order, source_id: str, digest: str, target_id: str) -> str:
        """Finish the copy ``target_id`` in place, or adopt it when it already holds everything."""
        stamp = self._stamp(order)
        entry = self.ledger.get(target_id) if self.ledger is not None else None
        stamped = stamp is None or (
            entry is not None and entry.stamp is not None and entry.stamp.same_order(stamp)
        )
        if entry is not None and stamped and holds_all(order, entry.copy, self.target):
            self.store.mark_done(source_id, Status.ADOPTED, target_id, digest)
            return "adopted"
        if Capability.UPDATE not in self.target.capabilities:
            raise UnsupportedOperation(
                self.target.name,
                "update_order (to finish a half-written copy in place)",
                self.target.capabilities,
            )
        self.store.mark_pending(source_id, digest, target_id)  # one commit: the write and its copy
        log.info("order %s: finishing copy %s in place", source_id, target_id)
        written = self.target.update_order(target_id, order, stamp=stamp)
        if self.ledger is not None:
            self.ledger.add(written)
        self.store.mark_done(source_id, Status.WRITTEN, self.target.remote_id_of(written), digest)
        with self.lock:
            self.report.finished_in_place += 1
        return "written"

    def _create(self, order: Order, source_id: str, digest: str) -> str:
        mark = self.target.newest_seen()  # before the write: only what comes after it can be our copy
        began = _parse_time(self.store.mark_pending(source_id, digest))
        last: AmbiguousWrite | None = None
        for attempt in range(CREATE_ATTEMPTS):
            if attempt:
                found = self._find_unrecorded(order, source_id, began, mark)
                if found is not None:
                    return self._converge(order, source_id, digest, found)
            try:
                written = self.target.create_order(
                    order, journal=_StoreJournal(self.store, source_id), stamp=self._stamp(order)
                )
            except AmbiguousWrite as exc:
                log.warning("order %s: %s; looking in the target before writing again", source_id, exc)
                last = exc
                continue
            except PartialWrite as exc:
                target_id = exc.written.get("order_id")
                if target_id is None:
                    raise
                self.store.set_target(source_id, str(target_id))
                if not retry_later(exc.cause):
                    raise  # stays pending with its id: finished in place once the cause is fixed
                log.warning("order %s: written in part (%s); finishing it in place", source_id, exc.cause)
                return self._converge(order, source_id, digest, str(target_id))
            except OrderbridgeError as exc:
                # Backends raise PartialWrite once anything was written: nothing reached the target.
                field_name = exc.field if isinstance(exc, InvalidOrder) else None
                self.store.mark_clean_failure(source_id, str(exc), field_name)
                raise
            if self.ledger is not None:
                self.ledger.add(written)
            self.store.mark_done(source_id, Status.WRITTEN, self.target.remote_id_of(written), digest)
            return "written"
        found = self._find_unrecorded(order, source_id, began, mark)
        if found is not None:
            return self._converge(order, source_id, digest, found)
        assert last is not None
        raise last

    def _find_unrecorded(
        self, order: Order, source_id: str, began: datetime | None, mark: str | None = None
    ) -> str | None:
        """The copy a create left without its id reaching us, if the target holds one.

        ``began`` is when the write began (our clock); ``mark`` the target's
        :meth:`~orderbridge.Backend.newest_seen` mark taken just before it.
        """
        if Capability.READ not in self.target.capabilities:
            return None
        stamp = self._stamp(order)
        created_after = began - CLOCK_ALLOWANCE if began is not None else None
        ledger = self.ledger
        before_ledger = ledger is not None and began is not None and began < ledger.read_at

        def accept(candidate: Order) -> bool:
            if candidate.is_deleted:
                return False
            own = self.target.stamp_of(candidate)
            if own is not None:
                return stamp is not None and own.same_order(stamp)
            target_id = self.target.remote_id_of(candidate)
            owner = self.store.source_of(target_id)
            if owner is not None:
                return bool(owner == source_id)
            # Listed before this write began: the target's own order, not our copy.
            return not (ledger is not None and not before_ledger and ledger.get(target_id) is not None)

        if ledger is not None and before_ledger:
            for target_id in reversed(ledger.unstamped_matches(order)):
                entry = ledger.get(target_id)
                if entry is None or not accept(entry.copy):
                    continue
                made = entry.copy.created_at
                if not self.target.sets_created_at or created_after is None or made is None:
                    return target_id
                if made >= created_after:
                    return target_id
            return None
        found = self.target.find_order(order, accept=accept, created_after=created_after, after=mark)
        return None if found is None else self.target.remote_id_of(found)

    # ------------------------------------------------------------ failures

    def fail(self, source_id: str, exc: BaseException) -> None:
        """Record one order's failure (once) and stop the run where every order would fail alike."""
        name = exc.field if isinstance(exc, InvalidOrder) else None
        kind = failure_kind(exc)
        # The report and the state name order and field in their own columns: the message says neither.
        message = exc.message if isinstance(exc, InvalidOrder) else str(exc)
        if isinstance(exc, PartialWrite):
            target_id = exc.written.get("order_id")
            message += f" (copy {target_id} is finished in place by the next run)" if target_id else ""
        if not self.dry_run:
            self.store.mark_failed(source_id, message, name)
        log.info("order %s failed: %s%s", source_id, f"field {name}: " if name else "", message)
        with self.lock:
            self.report.add_failure(Failure(source_id=source_id, message=message, field=name, kind=kind))
            cause = exc.cause if isinstance(exc, PartialWrite) else exc
            if isinstance(cause, AuthenticationError) and self.report.stopped_reason is None:
                # Every other order would fail the same way: stop and say so.
                self.report.stopped_reason = (
                    f"the {self._side(cause)} refused the credentials: {cause.message}"
                )
                self.stop.set()
            if over_failure_limit(self.report.failed, self.max_failures, dry_run=self.dry_run):
                self.report.stopped_reason = f"{self.report.failed} failures reached --max-failures"
                self.stop.set()

    def _side(self, error: TransportError) -> str:
        target_url = getattr(getattr(self.target, "transport", None), "base_url", None)
        if target_url and error.url and error.url.startswith(str(target_url)):
            return f"target ({self.target.name})"
        return "source or target"
