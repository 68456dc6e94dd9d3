"""Verification: read both sides through the id map and compare the canonical orders.

Compared: number and name, currency, totals, status, customer, lines and
payments. A field the source leaves empty may be filled in by the target
(its default currency, say) without a mismatch. A field the target cannot
hold (it is in the target's loss report for that order) is not compared: its
absence was reported at migration time.
The money and identity of an order are compared even then: a target that
computes its own total must arrive at the source's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from orderbridge.backend import Backend
from orderbridge.errors import NotFound
from orderbridge.migration.report import Mismatch, VerifyReport
from orderbridge.migration.state import OrderState, SQLiteStateStore, StateStore
from orderbridge.model import Order
from orderbridge.references import ReferenceResolver

__all__ = ["compare_orders", "verify"]

_ORDER_FIELDS = ("number", "name", "currency", "total")
_LINE_FIELDS = ("product_name", "product_ref", "quantity", "unit_price", "total_price")
_PAYMENT_FIELDS = ("amount", "payment_type", "created_at")
_CUSTOMER_FIELDS = ("email", "first_name", "last_name")
ALWAYS_COMPARED = frozenset(
    {"number", "total", "lines", "lines[].quantity", "lines[].unit_price", "payments[].amount"}
)
"""Compared whatever the loss report says."""


def _text(value: Any) -> str:
    return "null" if value is None else str(value)


def compare_orders(
    source: Order, target: Order, skip: frozenset[str] = frozenset(), *, status_id: str | None = None
) -> list[tuple[str, Any, Any]]:
    """Differences ``(field, source value, target value)`` between two canonical orders.

    ``skip`` holds canonical field paths the target cannot hold (``"lines[].sku"`` style).
    ``status_id``, when given, is the target status id the source's status maps to
    (names may differ between platforms); otherwise status names are compared.
    """
    diffs: list[tuple[str, Any, Any]] = []
    skip = skip - ALWAYS_COMPARED

    def check(path: str, pattern: str, a: Any, b: Any) -> None:
        # A value the source never had may be filled by the target (its currency, say).
        if pattern not in skip and a != b and (a is not None or pattern in ALWAYS_COMPARED):
            diffs.append((path, a, b))

    for name in _ORDER_FIELDS:
        check(name, name, getattr(source, name), getattr(target, name))
    if status_id is not None:
        check("status", "status", status_id, target.status and target.status.remote_id)
    else:
        check(
            "status.name",
            "status",
            source.status and source.status.name,
            target.status and target.status.name,
        )
    for name in _CUSTOMER_FIELDS:
        check(
            f"customer.{name}",
            f"customer.{name}",
            getattr(source.customer, name, None),
            getattr(target.customer, name, None),
        )
    check("lines.count", "lines", len(source.lines), len(target.lines))
    for i, (a, b) in enumerate(zip(source.lines, target.lines, strict=False)):
        for name in _LINE_FIELDS:
            check(f"lines[{i}].{name}", f"lines[].{name}", getattr(a, name), getattr(b, name))
    # A source payment the target cannot take at all is in the loss report as "payments[]".
    check("payments.count", "payments[]", len(source.payments), len(target.payments))
    for i, (pa, pb) in enumerate(zip(source.payments, target.payments, strict=False)):
        for name in _PAYMENT_FIELDS:
            check(f"payments[{i}].{name}", f"payments[].{name}", getattr(pa, name), getattr(pb, name))
    return diffs


def verify(
    source: Backend,
    target: Backend,
    state: str | StateStore,
    *,
    concurrency: int = 4,
    progress: Callable[[int], None] | None = None,
    resolver: ReferenceResolver | None = None,
) -> VerifyReport:
    """Compare every migrated order with its copy in the target; returns the findings.

    With the run's ``resolver``, statuses are compared by the target id the
    source's status maps to, so a mapped rename ("Complete" -> "Completed") is no mismatch.
    """
    store: Any = SQLiteStateStore(state) if isinstance(state, str) else state
    report = VerifyReport(source=source.name, target=target.name)

    def check(row: OrderState) -> tuple[OrderState, list[tuple[str, Any, Any]] | None]:
        assert row.target_id is not None
        original = source.get_order(row.source_id)
        try:
            copy = target.get_order(row.target_id)
        except NotFound:
            return row, None
        skip = frozenset(loss.field for loss in target.losses(original))
        status_id = None
        if resolver is not None and original.status is not None and original.status.name is not None:
            status_id = resolver.lookup(
                "status",
                original.status.name,
                order=original,
                target=target,
                fallback=original.status.remote_id,
            )
        return row, compare_orders(original, copy, skip, status_id=status_id)

    def rows() -> Iterator[OrderState]:
        yield from store.iter_done()

    try:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            for row, diffs in pool.map(check, rows()):
                report.checked += 1
                if diffs is None:
                    report.missing.append(row.source_id)
                else:
                    report.mismatches.extend(
                        Mismatch(row.source_id, row.target_id, name, _text(a), _text(b))
                        for name, a, b in diffs
                    )
                if progress is not None:
                    progress(report.checked)
    finally:
        if isinstance(state, str):
            store.close()
    return report
