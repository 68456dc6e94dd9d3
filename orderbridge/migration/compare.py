"""Comparing a source order with a target's copy of it, field by field.

Compared: number and name, currency, totals, status, customer, lines and
payments. A field the source leaves empty may be filled in by the target
(its default currency, say) without a mismatch. A field the target cannot
hold (it is in the target's loss report for that order) is not compared: its
absence was reported at migration time. The money and identity of an order
are compared even then: a target that computes its own total must arrive at
the source's, less the money the target's loss report says it cannot hold
(money losses, :class:`~orderbridge.Loss` ``amount``): such a difference is
explained, not a mismatch (``verify`` lists it apart).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from orderbridge.backend import Backend, Loss
from orderbridge.model import Order
from orderbridge.references import ReferenceResolver

__all__ = [
    "ALWAYS_COMPARED",
    "compare_orders",
    "holds_all",
    "holds_part_of",
    "money_lost",
    "target_status_id",
    "total_explained",
]

_ORDER_FIELDS = ("number", "name", "currency", "total")
_LINE_FIELDS = ("product_name", "product_ref", "quantity", "unit_price", "total_price")
_PAYMENT_FIELDS = ("amount", "payment_type", "created_at")
_CUSTOMER_FIELDS = ("email", "first_name", "last_name")
ALWAYS_COMPARED = frozenset(
    {"number", "total", "lines", "lines[].quantity", "lines[].unit_price", "payments[].amount"}
)
"""Compared whatever the loss report says."""


def money_lost(losses: Iterable[Loss]) -> Decimal:
    """The summed ``amount`` of the money losses among ``losses`` (``0`` when there are none)."""
    return sum((loss.amount for loss in losses if loss.amount is not None), Decimal(0))


def total_explained(source: Order, target: Order, lost: Decimal) -> bool:
    """Whether the totals differ by exactly the money ``lost`` (a target that computes its total)."""
    return (
        bool(lost)
        and source.total is not None
        and target.total is not None
        and source.total - lost == target.total
    )


def compare_orders(
    source: Order,
    target: Order,
    skip: frozenset[str] = frozenset(),
    *,
    status_id: str | None = None,
    lost: Decimal = Decimal(0),
) -> list[tuple[str, Any, Any]]:
    """Differences ``(field, source value, target value)`` between two canonical orders.

    ``skip`` holds canonical field paths the target cannot hold (``"lines[].sku"`` style).
    ``status_id``, when given, is the target status id the source's status maps to
    (names may differ between platforms); otherwise status names are compared.
    ``lost`` is the money the target cannot hold (:func:`money_lost` of its losses):
    a target total short of the source's by exactly that is no difference.
    """
    diffs: list[tuple[str, Any, Any]] = []
    skip = skip - ALWAYS_COMPARED

    def check(path: str, pattern: str, a: Any, b: Any) -> None:
        # A value the source never had may be filled by the target (its currency, say).
        if pattern not in skip and a != b and (a is not None or pattern in ALWAYS_COMPARED):
            if path == "total" and total_explained(source, target, lost):
                return
            diffs.append((path, a, b))

    for name in _ORDER_FIELDS:
        check(name, name, getattr(source, name), getattr(target, name))
    if status_id is not None and target.status is not None and target.status.remote_id is not None:
        check("status", "status", status_id, target.status.remote_id)
    else:  # no id to compare (the mapping gives none, or the target's statuses carry none): names
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


def target_status_id(source: Order, target: Backend, resolver: ReferenceResolver | None = None) -> str | None:
    """The target's status id that ``source``'s status maps to, through ``resolver``
    (default: the target's own ``resolver`` attribute, if it has one); ``None`` when unknown."""
    resolver = resolver if resolver is not None else getattr(target, "resolver", None)
    if not isinstance(resolver, ReferenceResolver) or source.status is None or source.status.name is None:
        return None
    found, origin = resolver.lookup_origin(
        "status", source.status.name, order=source, target=target, fallback=source.status.remote_id
    )
    # Identity without a source id would "map" a status to its own name: that is no id.
    return None if origin == "identity" and source.status.remote_id is None else found


def holds_all(source: Order, copy: Order, target: Backend) -> bool:
    """Whether the target's ``copy`` holds ``source`` in every field the target can hold.

    Compared: what ``verify`` compares (number, name, currency, totals, status,
    customer, lines, payments), plus asset codes and custom fields the source sets.
    """
    losses = target.losses(source)
    skip = frozenset(loss.field for loss in losses)
    if compare_orders(
        source, copy, skip, status_id=target_status_id(source, target), lost=money_lost(losses)
    ):
        return False
    assets = (
        ("discounts", [d.code for d in source.discounts], [d.code for d in copy.discounts]),
        ("gift_vouchers", [g.code for g in source.gift_vouchers], [g.code for g in copy.gift_vouchers]),
        ("taxes", [t.code for t in source.taxes], [t.code for t in copy.taxes]),
    )
    for field, want, have in assets:
        if want and field not in skip and field + "[]" not in skip and want != have:
            return False
    if source.shipping_lines and not skip & {"shipping", "shipping_lines", "shipping_lines[]"}:
        want = [line.name for line in source.shipping_lines]
        have = [line.name for line in copy.shipping_lines]
        if "shipping_lines[1:]" in skip:  # a target that holds one shipping line: the first
            want, have = want[:1], have[:1]
        if want != have:
            return False
    if "custom_fields" not in skip:
        for group, fields in source.custom_fields.items():
            have_group = copy.custom_fields.get(group, {})
            if any(have_group.get(name) != value for name, value in fields.items()):
                return False
    return True


_PARTIAL_DIFFS = frozenset({"total", "lines.count", "payments.count"})


def holds_part_of(source: Order, copy: Order, target: Backend) -> bool:
    """Whether ``copy`` looks like a write of ``source`` cut short: what it holds equals the
    source, and it holds no more lines or payments than the source, in the same order."""
    if len(copy.lines) > len(source.lines) or len(copy.payments) > len(source.payments):
        return False
    losses = target.losses(source)
    skip = frozenset(loss.field for loss in losses)
    diffs = compare_orders(
        source, copy, skip, status_id=target_status_id(source, target), lost=money_lost(losses)
    )
    return all(name in _PARTIAL_DIFFS for name, _, _ in diffs)
