"""Verification both ways: every source order once in the target, equal, and nothing extra.

``verify`` reads the source's orders and the target's ledger (each once,
through list pages) and reports, for a migration's state:

* **missing**: source orders the target holds no copy of (by stamp, id map,
  or, without stamps, an equal natural-key match);
* **duplicated**: source orders with two or more copies in the target;
* **extra**: target orders carrying this source's stamp that the id map
  does not name (a copy a lost state or another run left behind);
* **mismatches**: fields where the mapped copy differs from the source
  (see :func:`~orderbridge.migration.compare.compare_orders`);
* **money lost**: copies lacking money the target cannot hold (money losses:
  a fee on a target without fees), with the totals of both sides; a total
  short by exactly that amount is explained, any other difference is a mismatch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from orderbridge.backend import Backend
from orderbridge.errors import InvalidOrder
from orderbridge.migration.compare import (
    ALWAYS_COMPARED,
    compare_orders,
    holds_all,
    money_lost,
    target_status_id,
)
from orderbridge.migration.engine import Selection, preflight, selected_records
from orderbridge.migration.ledger import TargetLedger, source_stamp
from orderbridge.migration.report import Mismatch, MoneyLost, VerifyReport
from orderbridge.migration.state import StateStore, open_state_store
from orderbridge.model import Order
from orderbridge.references import ReferenceResolver

__all__ = ["ALWAYS_COMPARED", "compare_orders", "verify"]


def _text(value: Any) -> str:
    return "null" if value is None else str(value)


def verify(
    source: Backend,
    target: Backend,
    state: str | Path | StateStore,
    *,
    concurrency: int = 4,
    progress: Callable[[int], None] | None = None,
    resolver: ReferenceResolver | None = None,
    selection: Selection | None = None,
) -> VerifyReport:
    """Compare the source with the target through the state's id map and the target's stamps.

    With the run's ``resolver``, statuses are compared by the target id the
    source's status maps to, so a mapped rename ("Complete" -> "Completed") is
    no mismatch. ``selection`` (the run's) limits which source orders are
    expected in the target. ``concurrency`` is accepted for compatibility (both sides are
    read through list pages, one after the other). Both ends are first checked
    read-only (:func:`~orderbridge.migration.engine.preflight`): an endpoint that
    is not ready is one :class:`~orderbridge.errors.PreflightFailed` line.
    """
    preflight(source=source, target=target)
    owned = isinstance(state, str | Path)
    store: Any = open_state_store(state) if isinstance(state, str | Path) else state
    try:
        id_map = {row.source_id: row.target_id for row in store.iter_done() if row.target_id is not None}
    finally:
        if owned:
            store.close()
    site = source.site()
    ledger = TargetLedger.read(target, source.name, site)
    report = VerifyReport(source=source.name, target=target.name)
    stamped: set[str] = set(ledger.stamped_by(source.name, site))
    for record in selected_records(source, selection or Selection()):
        if isinstance(record, InvalidOrder):
            report.unreadable += 1
            continue
        stamped.update(_check_one(record, source, target, ledger, id_map, report, resolver))
        if progress is not None:
            progress(report.checked)
    report.extra = sorted(stamped - set(id_map.values()), key=lambda t: (len(t), t))
    return report


def _check_one(
    original: Order,
    source: Backend,
    target: Backend,
    ledger: TargetLedger,
    id_map: dict[str, str],
    report: VerifyReport,
    resolver: ReferenceResolver | None,
) -> list[str]:
    """Check one source order; returns the target ids stamped as it."""
    source_id = source.remote_id_of(original)
    report.checked += 1
    mapped = id_map.get(source_id)
    stamp = source_stamp(original, source, source.site())
    stamped = ledger.stamped(stamp) if stamp is not None else []
    copies = list(stamped)
    if mapped is not None and mapped not in copies and ledger.get(mapped) is not None:
        copies.insert(0, mapped)
    if not target.writes_stamps:
        # Without stamps, an equal order under the natural key is a copy too.
        copies += [
            tid
            for tid in ledger.unstamped_matches(original)
            if tid not in copies
            and (entry := ledger.get(tid)) is not None
            and holds_all(original, entry.copy, target)
        ]
    if not copies:
        report.missing.append(source_id)
        return stamped
    if len(copies) > 1:
        report.duplicated.append((source_id, sorted(copies)))
    keep = mapped if mapped in copies else copies[0]
    entry = ledger.get(keep)
    assert entry is not None
    losses = target.losses(original)
    skip = frozenset(loss.field for loss in losses)
    lost = money_lost(losses)
    status_id = target_status_id(original, target, resolver) if resolver is not None else None
    for name, a, b in compare_orders(original, entry.copy, skip, status_id=status_id, lost=lost):
        report.mismatches.append(Mismatch(source_id, keep, name, _text(a), _text(b)))
    if lost:
        report.money_lost.append(
            MoneyLost(
                source_id,
                keep,
                fields=[loss.field for loss in losses if loss.amount],
                amount=str(lost),
                source_total=_text(original.total),
                target_total=_text(entry.copy.total),
            )
        )
    return stamped
