"""An in-memory target backend with scripted faults, for engine tests."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import orderbridge as ob


class MemoryTarget(ob.Backend):
    """Holds orders in a dict; ``faults[number]`` lists faults for successive create attempts.

    Faults: ``"ambiguous-applied"`` (stored, then AmbiguousWrite), ``"ambiguous-lost"``
    (AmbiguousWrite, nothing stored), ``"rejected"`` (Rejected, nothing stored),
    ``"server-error"`` (a 500 on the POST: AmbiguousWrite, nothing stored), ``"partial"``
    (order stored, then PartialWrite caused by a server error), ``"partial-rejected"``
    (same, caused by a rejection).
    """

    name: ClassVar[str] = "memory"
    capabilities: ClassVar[frozenset[str]] = frozenset({"read", "create", "update", "delete"})
    natural_key_fields: ClassVar[tuple[str, ...]] = ("number",)

    def __init__(self, faults: dict[str, list[str]] | None = None) -> None:
        self.orders: dict[str, ob.Order] = {}
        self.faults = {k: list(v) for k, v in (faults or {}).items()}
        self.ids = itertools.count(1000)
        self.lock = threading.Lock()
        self.calls: list[tuple[str, str]] = []
        self.unresolvable: set[str] = set()

    @classmethod
    def from_canonical(cls, order: ob.Order) -> dict[str, Any]:
        return ob.order_to_dict(order)

    @classmethod
    def _losses(cls, order: ob.Order) -> tuple[ob.Loss, ...]:
        return (ob.Loss("notes", "memory drops notes"),) if order.notes else ()

    def _store(self, order: ob.Order) -> str:
        with self.lock:
            target_id = str(next(self.ids))
            self.orders[target_id] = order.evolve(source=ob.SourceRef(self.name, target_id))
        return target_id

    def _create_order(self, order: ob.Order, *, journal: ob.WriteJournal | None = None) -> ob.Order:
        self.calls.append(("create", order.number or "?"))
        queue = self.faults.get(order.number or "", [])
        fault = queue.pop(0) if queue else None
        if fault == "ambiguous-lost":
            raise ob.AmbiguousWrite("connection dropped", method="POST", url="memory://orders")
        if fault == "rejected":
            raise ob.Rejected("the target refused the order", status=400)
        if fault == "server-error":
            raise ob.AmbiguousWrite("status 500", method="POST", url="memory://orders", status=500)
        target_id = self._store(order)
        if journal is not None:
            journal.record("order", {"order_id": target_id})
        if fault == "ambiguous-applied":
            raise ob.AmbiguousWrite("connection dropped", method="POST", url="memory://orders")
        if fault in ("partial", "partial-rejected"):
            cause: Exception = (
                ob.ServerError("boom", status=500)
                if fault == "partial"
                else ob.Rejected("bad line", status=400)
            )
            raise ob.PartialWrite("line 1 failed", written={"order_id": target_id, "lines": []}, cause=cause)
        return self.orders[target_id]

    def _update_order(
        self, remote_id: str, order: ob.Order, *, journal: ob.WriteJournal | None = None
    ) -> ob.Order:
        self.calls.append(("update", remote_id))
        with self.lock:
            if remote_id not in self.orders:
                raise ob.NotFound("gone")
            self.orders[remote_id] = order.evolve(source=ob.SourceRef(self.name, remote_id))
            return self.orders[remote_id]

    def _delete_order(self, remote_id: str) -> None:
        self.calls.append(("delete", remote_id))
        with self.lock:
            if self.orders.pop(remote_id, None) is None:
                raise ob.NotFound("gone")

    def _get_order(self, remote_id: str) -> ob.Order:
        with self.lock:
            try:
                return self.orders[remote_id]
            except KeyError:
                raise ob.NotFound(remote_id) from None

    def _iter_orders(self, **filters: Any) -> Iterator[ob.Order]:
        with self.lock:
            items = list(self.orders.values())
        return iter(items)

    def unresolved_references(self, order: ob.Order) -> list[tuple[str, str]]:
        status = order.status.name if order.status else None
        return [("status", status)] if status in self.unresolvable else []

    def copies(self, number: str) -> int:
        return sum(1 for o in self.orders.values() if o.number == number)


class FakeTime:
    """A clock that only moves when someone sleeps; records every sleep."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now
