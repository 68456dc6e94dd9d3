"""A local simulator of the Acme Shop order API, for tests, ``orderbridge sandbox`` and demos.

It serves the five endpoints the backend uses (see :mod:`orderbridge_acme.backend`)
from an in-memory store, checks the ``X-Acme-Key`` header on every request and
answers like the real API: 401 ``{"error": ...}`` without a valid key, 404 for an
unknown order, 422 for a document it cannot store, 409 for a number already taken.
"""

from __future__ import annotations

import hmac
import random
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from orderbridge.sandbox import HttpError, Request, Response, Simulator, empty, json_response, route

__all__ = ["PAGE_SIZE", "AcmeSimulator", "generate_orders"]

PAGE_SIZE = 20
"""Orders per list page."""

_ZONE = timezone(timedelta(hours=1))
_START = datetime(2024, 1, 8, 9, 0, tzinfo=_ZONE)
_PRODUCTS = (
    ("MUG-01", "Acme mug", "12.50"),
    ("TEE-M", "Acme T-shirt (M)", "19.90"),
    ("CAP-RED", "Red cap", "14.00"),
    ("ANVIL-S", "Small anvil", "89.00"),
    (None, "Gift card", "25.00"),
)
_PEOPLE = (
    ("ada@example.com", "Ada Lovelace"),
    ("grace@example.com", "Grace Brewster Hopper"),
    ("linus@example.org", "Linus"),
    ("anon@example.net", None),
)
_STATUSES = ("pending", "paid", "paid", "shipped", "cancelled")
_CENT = Decimal("0.01")


def _total(lines: Iterable[Mapping[str, Any]], fees: Iterable[Mapping[str, Any]] = ()) -> str:
    """The shop's total: its lines' prices times quantities, plus its fees (a negative fee takes off)."""
    items = sum((Decimal(line["price"]) * line["qty"] for line in lines), Decimal(0))
    charges = sum((Decimal(fee["amount"]) for fee in fees if fee.get("amount") is not None), Decimal(0))
    return format((items + charges).quantize(_CENT), "f")


_UTC = UTC
_LOCAL = "%Y-%m-%d %H:%M:%S"


# --8<-- [start:generator]
def generate_orders(count: int, *, seed: int = 0, first_id: int = 1001) -> list[dict[str, Any]]:
    """``count`` plausible order documents, oldest first; the same ``seed`` gives the same orders."""
    rng = random.Random(seed)
    placed = _START
    orders = []
    for number in range(first_id, first_id + count):
        placed += timedelta(minutes=rng.randint(5, 600), seconds=rng.randint(0, 59))
        lines = [
            {"sku": sku, "title": title, "qty": rng.randint(1, 4), "price": price}
            for sku, title, price in rng.sample(_PRODUCTS, rng.randint(1, 3))
        ]
        email, name = rng.choice(_PEOPLE)
        gift_wrap = rng.random() < 0.2
        fees = [{"name": "Gift wrap", "amount": "3.50"}] if gift_wrap else []
        refunds = []
        if rng.random() < 0.1:  # a refund of one item, two days later (local time and its UTC twin)
            at = placed + timedelta(days=2)
            refunds.append(
                {
                    "id": f"R-{number}",
                    "amount": lines[0]["price"],
                    "reason": "returned",
                    "refunded_at": at.strftime(_LOCAL),
                    "refunded_at_gmt": at.astimezone(_UTC).strftime(_LOCAL),
                }
            )
        orders.append(
            {
                "id": str(number),
                "number": f"A-{number}",
                "status": rng.choice(_STATUSES),
                "currency": "EUR",
                "placed_at": placed.isoformat(),
                "total": _total(lines, fees),
                "customer": {"email": email, "name": name},
                "lines": lines,
                "fees": fees,
                "refunds": refunds,
                "gift_wrap": gift_wrap,
            }
        )
    return orders


# --8<-- [end:generator]


def _error(status: int, message: str) -> HttpError:
    return HttpError(status, message, {"error": message})


# --8<-- [start:simulator]
class AcmeSimulator(Simulator):
    """An in-memory Acme Shop: list, get, create, replace and delete orders.

    Options: ``api_key`` (the key clients must send in ``X-Acme-Key``) and
    ``clock`` (returns the aware time a new order is placed at).
    """

    name: ClassVar[str] = "acme"
    description: ClassVar[str] = "Acme Shop order API: list, get, create, replace, delete"

    def __init__(
        self, *, api_key: str = "sandbox-acme-key", clock: Callable[[], datetime] | None = None
    ) -> None:
        self.api_key = api_key
        self.clock = clock or (lambda: datetime.now(_ZONE).replace(microsecond=0))
        self.orders: dict[str, dict[str, Any]] = {}
        """The store: order id -> order document, in the order they were added."""
        self._next_id = 1001
        super().__init__()

    # ------------------------------------------------------------ setup

    def seed(self, count: int, *, seed: int = 0) -> None:
        """Add ``count`` generated orders (deterministic for a ``seed``)."""
        with self.lock:
            self.add_orders(generate_orders(count, seed=seed, first_id=self._next_id))

    def add_orders(self, docs: Iterable[Mapping[str, Any]]) -> None:
        """Put order documents in the store as they are (ids must be digits)."""
        with self.lock:
            for doc in docs:
                self.orders[str(doc["id"])] = dict(doc)
                self._next_id = max(self._next_id, int(doc["id"]) + 1)

    def credentials(self) -> dict[str, str]:
        """Keyword options a client needs: ``{"api_key": ...}``."""
        return {"api_key": self.api_key}

    # ------------------------------------------------------------ handlers

    def _authenticate(self, request: Request) -> None:
        sent = request.headers.get("X-Acme-Key", "")
        if not hmac.compare_digest(sent.encode(), self.api_key.encode()):
            raise _error(401, "missing or invalid X-Acme-Key")

    @route("GET", "/orders")
    def list_orders(self, request: Request) -> Response:
        """``GET /orders?page=N``: 20 orders per page, oldest first."""
        self._authenticate(request)
        page_text = request.query.get("page", "1")
        if not page_text.isdigit() or int(page_text) < 1:
            raise _error(400, "page must be a whole number >= 1")
        page = int(page_text)
        with self.lock:
            docs = list(self.orders.values())
            chosen = docs[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
            more = len(docs) > page * PAGE_SIZE
            return json_response({"orders": chosen, "next": page + 1 if more else None})

    @route("GET", "/orders/{order_id}")
    def get_order(self, request: Request, order_id: str) -> Response:
        """``GET /orders/{id}``."""
        self._authenticate(request)
        with self.lock:
            if order_id not in self.orders:
                raise _error(404, f"no order {order_id}")
            return json_response(self.orders[order_id])

    @route("POST", "/orders")
    def create_order(self, request: Request) -> Response:
        """``POST /orders``: store a new order; 201 with the order as stored."""
        self._authenticate(request)
        body = request.json()
        if not isinstance(body, dict) or "id" in body:
            raise _error(422, "body must be an order object without 'id'")
        with self.lock:
            doc = self._stored(body, str(self._next_id))
            self.add_orders([doc])
            return json_response(doc, status=201)

    @route("PUT", "/orders/{order_id}")
    def replace_order(self, request: Request, order_id: str) -> Response:
        """``PUT /orders/{id}``: replace the order with the body; the order as stored."""
        self._authenticate(request)
        body = request.json()
        if not isinstance(body, dict) or body.get("id", order_id) != order_id:
            raise _error(422, "body must be an order object with the path's id, or none")
        with self.lock:
            if order_id not in self.orders:
                raise _error(404, f"no order {order_id}")
            doc = self._stored(body, order_id)
            self.orders[order_id] = doc
            return json_response(doc)

    @route("DELETE", "/orders/{order_id}")
    def delete_order(self, request: Request, order_id: str) -> Response:
        """``DELETE /orders/{id}``: 204."""
        self._authenticate(request)
        with self.lock:
            if self.orders.pop(order_id, None) is None:
                raise _error(404, f"no order {order_id}")
            return empty()

    def _stored(self, body: Mapping[str, Any], order_id: str) -> dict[str, Any]:
        """The order ``body`` describes, as the shop stores it under ``order_id`` (422/409 if it cannot)."""
        lines = body.get("lines")
        if not isinstance(lines, list) or not lines:
            raise _error(422, "an order needs at least one line")
        for i, line in enumerate(lines):
            try:
                ok = isinstance(line, dict) and isinstance(line["qty"], int) and Decimal(line["price"]) >= 0
            except (KeyError, TypeError, InvalidOperation):
                ok = False
            if not ok:
                raise _error(422, f"lines[{i}] needs a whole 'qty' and a 'price' string")
        fees, refunds = body.get("fees") or [], body.get("refunds") or []
        for key, items in (("fees", fees), ("refunds", refunds)):
            for i, item in enumerate(items if isinstance(items, list) else [None]):
                try:
                    ok = isinstance(item, dict) and (
                        item["amount"] is None or Decimal(item["amount"]).is_finite()
                    )
                except (KeyError, TypeError, InvalidOperation):
                    ok = False
                if not ok:
                    raise _error(422, f"{key}[{i}] needs an 'amount' string")
        number = body.get("number") or f"A-{order_id}"
        if any(doc["number"] == number and key != order_id for key, doc in self.orders.items()):
            raise _error(409, f"order number {number} is taken")
        return {
            "id": order_id,
            "number": number,
            "status": body.get("status") or "pending",
            "currency": body.get("currency") or "EUR",
            "placed_at": body.get("placed_at") or self.clock().isoformat(),
            "total": body.get("total") or _total(lines, fees),
            "customer": body.get("customer") or {"email": None, "name": None},
            "lines": lines,
            "fees": fees,
            "refunds": refunds,
            "gift_wrap": body.get("gift_wrap") is True,
        }


# --8<-- [end:simulator]
