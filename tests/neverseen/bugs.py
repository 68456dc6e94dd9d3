"""The mistakes the conformance suite must catch, each a patch of the correct Parcelo backend.

``tests/neverseen/conftest.py`` applies the one named by the ``NEVERSEEN_BUG``
environment variable; ``test_suite_catches_bugs.py`` runs the suite once per bug
and expects it to fail.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

import orderbridge as ob

from . import backend as parcelo
from .backend import ParceloBackend


def _float_money(mp: pytest.MonkeyPatch) -> None:
    # Money written as a float: 12.5 == Decimal("12.5"), so `==` round trips miss it.
    mp.setattr(parcelo, "write_money", lambda value: None if value is None else float(value))


def _naive_time(mp: pytest.MonkeyPatch) -> None:
    # The offset dropped on the way out, and a naive time taken as UTC on the way in.
    original = ParceloBackend.from_canonical.__func__  # type: ignore[attr-defined]

    def from_canonical(cls: type[ParceloBackend], order: ob.Order) -> dict[str, Any]:
        doc: dict[str, Any] = original(cls, order)
        if order.created_at is not None:
            doc["created"] = order.created_at.replace(tzinfo=None).isoformat()
        return doc

    def read_time(doc: Any, key: str) -> datetime | None:
        text = doc[key]
        if text is None:
            return None
        try:
            value = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ob.InvalidOrder(str(exc), field=key) from None
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

    mp.setattr(ParceloBackend, "from_canonical", classmethod(from_canonical))
    mp.setattr(parcelo, "read_time", read_time)


def _paging_off_by_one(mp: pytest.MonkeyPatch) -> None:
    # "Is there another page?" asked with one order too many: a site of per_page + 1 loses its last.
    def page(self: ParceloBackend, number: int) -> tuple[Any, int | None, int | None]:
        per_page = self.options.per_page
        answer = self.transport.fetch("GET", "orders", params={"page": number, "per_page": per_page})
        total = answer.header_int("X-Total-Count") or 0
        more = number * per_page + 1 < total
        return answer.json(), number + 1 if more else None, total

    mp.setattr(ParceloBackend, "_page", page)


def _create_drops_a_line(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(ParceloBackend, "_items_to_write", lambda self, items: items[:-1] if len(items) > 1 else items)


def _find_never_finds(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(ParceloBackend, "_find_order", lambda self, order, **kwargs: None)


def _bad_date_type_error(mp: pytest.MonkeyPatch) -> None:
    # A date parsed without a guard: the parser's own ValueError escapes.
    mp.setattr(parcelo, "read_time", lambda doc, key: doc[key] and datetime.fromisoformat(doc[key]))


def _foreign_extras_dropped(mp: pytest.MonkeyPatch) -> None:
    # losses() overridden with only the backend's own: other backends' extras vanish unreported.
    own = ParceloBackend._losses.__func__  # type: ignore[attr-defined]
    mp.setattr(ParceloBackend, "losses", classmethod(lambda cls, order: tuple(own(cls, order))))


def _foreign_customer_id(mp: pytest.MonkeyPatch) -> None:
    # The customer's id written whatever system it belongs to.
    original = ParceloBackend.from_canonical.__func__  # type: ignore[attr-defined]

    def from_canonical(cls: type[ParceloBackend], order: ob.Order) -> dict[str, Any]:
        doc: dict[str, Any] = original(cls, order)
        if order.customer is not None and order.customer.remote_id is not None:
            doc["customer"]["id"] = int(order.customer.remote_id)
        return doc

    mp.setattr(ParceloBackend, "from_canonical", classmethod(from_canonical))


def _fees_dropped_silently(mp: pytest.MonkeyPatch) -> None:
    # Issue 14's Woo -> WebinOne run: fees the target cannot hold vanish, and no loss says so.
    own = ParceloBackend._losses.__func__  # type: ignore[attr-defined]

    def losses(cls: type[ParceloBackend], order: ob.Order) -> Any:
        return (loss for loss in own(cls, order) if not loss.field.startswith("fees"))

    mp.setattr(ParceloBackend, "_losses", classmethod(losses))


BUGS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "float-money": _float_money,
    "float-money-exact": _float_money,
    "naive-datetime": _naive_time,
    "paging-off-by-one": _paging_off_by_one,
    "create-drops-a-line": _create_drops_a_line,
    "find-never-finds": _find_never_finds,
    "bad-date-not-invalid-order": _bad_date_type_error,
    "foreign-extras-dropped": _foreign_extras_dropped,
    "foreign-customer-id": _foreign_customer_id,
    "fees-dropped-silently": _fees_dropped_silently,
}
"""Bug name -> the patch that plants it. ``float-money-exact`` also limits the samples to
prices a float holds exactly (12.50, 12.0, 12, 0.25)."""

EXACT_ONLY = frozenset({"float-money-exact"})
"""Bugs run with samples whose amounts are all exactly representable as floats."""
