"""Repair after verify: write what is missing, remove copies that are provably orderbridge's twice.

``repair`` acts only on what :func:`~orderbridge.migration.verify.verify` found:

* a **duplicated** source order keeps the copy the id map names (else the
  oldest) and loses the others that carry its stamp or that the map names;
  an unstamped look-alike is never deleted (it may be the target's own);
* a **missing** source order is written by a normal migration run limited to
  those ids (which reads the target's ledger first, so nothing is duplicated).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from orderbridge.backend import Backend, Capability
from orderbridge.errors import NotFound, UnsupportedOperation
from orderbridge.migration.engine import Selection, migrate
from orderbridge.migration.ledger import TargetLedger
from orderbridge.migration.report import MigrationReport, VerifyReport
from orderbridge.migration.state import StateStore, open_state_store

__all__ = ["repair"]

log = logging.getLogger("orderbridge.migration")


def repair(
    source: Backend,
    target: Backend,
    *,
    state: str | Path | StateStore,
    findings: VerifyReport,
    **migrate_options: Any,
) -> MigrationReport:
    """Fix what ``findings`` (a verify of this source, target and state) reported; returns the report."""
    owned = isinstance(state, str | Path)
    store: Any = open_state_store(state, lock=True) if isinstance(state, str | Path) else state
    removed = 0
    try:
        store.lock()
        store.bind(source.endpoint(), target.endpoint())
        removed = _remove_duplicates(source, target, store, findings)
        for source_id in findings.missing:
            row = store.get(source_id)
            if row is not None and row.status != "pending":
                store.forget(source_id)  # its recorded copy is gone: write it afresh
        store.end_run(clean=False)  # the next run reads the target's ledger first
    finally:
        if owned:
            store.close()
        else:
            store.unlock()
    selection = Selection(ids=tuple(findings.missing))
    if findings.missing:
        report = migrate(source, target, state=state, selection=selection, **migrate_options)
    else:
        report = MigrationReport(source=source.name, target=target.name)
    report.duplicates_removed += removed
    return report


def _remove_duplicates(source: Backend, target: Backend, store: Any, findings: VerifyReport) -> int:
    if not findings.duplicated:
        return 0
    if Capability.DELETE not in target.capabilities:
        raise UnsupportedOperation(
            target.name, "delete_order (to remove a duplicate copy)", target.capabilities
        )
    ledger = TargetLedger.read(target, source.name, source.site())
    removed = 0
    for source_id, copies in findings.duplicated:
        row = store.get(source_id)
        mapped = row.target_id if row is not None else None
        # Stamped copies (verify found them by this order's stamp) and the mapped one are ours.
        provable = {tid for tid in copies if (e := ledger.get(tid)) is not None and e.stamp is not None}
        provable |= {mapped} if mapped else set()
        keep = mapped if mapped in copies else sorted(copies, key=_id_order)[0]
        for target_id in copies:
            if target_id == keep or target_id not in provable:
                continue
            log.warning("order %s: removing duplicate copy %s (keeping %s)", source_id, target_id, keep)
            try:
                target.delete_order(target_id)
            except NotFound:
                pass
            removed += 1
        if row is None or row.target_id != keep:
            store.set_target(source_id, keep) if row is not None else None
    return removed


def _id_order(target_id: str) -> tuple[int, str]:
    return (int(target_id), "") if target_id.isdigit() else (0, target_id)
