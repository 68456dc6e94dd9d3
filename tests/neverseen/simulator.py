"""An in-memory Parcelo shop served on loopback (see :mod:`tests.neverseen.backend` for the API)."""

from __future__ import annotations

import hmac
import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, ClassVar

from orderbridge.sandbox import HttpError, Request, Response, Simulator, json_response, route
from orderbridge.sandbox.app import empty

_START = datetime(2024, 1, 8, 9, 0, tzinfo=timezone(timedelta(hours=1)))
PRICES: tuple[Decimal, ...] = (Decimal("19.99"), Decimal("12.50"), Decimal("7"), Decimal("0.10"))
"""Unit prices of generated items."""
EXACT_PRICES: tuple[Decimal, ...] = (Decimal("12.50"), Decimal("12.0"), Decimal("12"), Decimal("0.25"))
"""Prices a float holds exactly (a float bug hides behind ``==`` with these)."""


def generate(
    count: int, *, seed: int = 0, first_id: int = 1, prices: tuple[Decimal, ...] = PRICES
) -> list[dict[str, Any]]:
    """``count`` plausible Parcelo order documents, oldest first."""
    rng = random.Random(seed)
    docs = []
    when = _START
    for ident in range(first_id, first_id + count):
        when += timedelta(minutes=rng.randint(1, 500))
        items = [
            {"sku": f"SKU-{rng.randint(1, 9)}", "name": f"Thing {n}", "qty": rng.randint(1, 3),
             "unit_price": rng.choice(prices)}
            for n in range(rng.randint(1, 3))
        ]  # fmt: skip
        total = sum((item["unit_price"] * item["qty"] for item in items), Decimal(0))
        docs.append(
            {
                "id": ident,
                "ref": f"P-{ident}",
                "state": rng.choice(("open", "paid", "shipped")),
                "currency": "EUR",
                "created": when.isoformat(),
                "customer": {"id": rng.randint(50, 60), "email": f"c{ident}@example.com"}
                if rng.random() < 0.8
                else None,
                "items": items,
                "grand_total": total,
            }
        )
    return docs


class ParceloSimulator(Simulator):
    """Parcelo's order API in memory; ``fail_writes_after`` makes later write requests answer 500."""

    name: ClassVar[str] = "parcelo"
    description: ClassVar[str] = "Parcelo order API (tests)"

    def __init__(self, *, api_key: str, fail_writes_after: int | None = None) -> None:
        self.api_key = api_key
        self.orders: dict[int, dict[str, Any]] = {}
        self.fail_writes_after = fail_writes_after
        self.writes = 0
        super().__init__()

    def add(self, docs: list[dict[str, Any]]) -> None:
        """Store documents as they are."""
        with self.lock:
            for doc in docs:
                self.orders[doc["id"]] = doc

    def _auth(self, request: Request) -> None:
        if not hmac.compare_digest(request.headers.get("X-Parcelo-Key", "").encode(), self.api_key.encode()):
            raise HttpError(401, "bad key", {"error": "bad key"})

    def _write(self, request: Request) -> None:
        self._auth(request)
        self.writes += 1
        if self.fail_writes_after is not None and self.writes > self.fail_writes_after:
            raise HttpError(500, "write failed", {"error": "write failed"})

    @route("GET", "/orders")
    def list_orders(self, request: Request) -> Response:
        """``GET /orders?page=N&per_page=M`` with X-Total-Count and X-Total-Pages."""
        self._auth(request)
        page, per_page = int(request.query.get("page", "1")), int(request.query.get("per_page", "25"))
        with self.lock:
            docs = list(self.orders.values())
        pages = -(-len(docs) // per_page)
        chosen = docs[(page - 1) * per_page : page * per_page]
        headers = {"X-Total-Count": str(len(docs)), "X-Total-Pages": str(pages)}
        return json_response(chosen, headers=headers)

    @route("GET", "/orders/{order_id}")
    def get_order(self, request: Request, order_id: str) -> Response:
        """``GET /orders/{id}``."""
        self._auth(request)
        doc = self.orders.get(int(order_id)) if order_id.isdigit() else None
        if doc is None:
            raise HttpError(404, "no such order", {"error": "not found"})
        return json_response(doc)

    @route("POST", "/orders")
    def create(self, request: Request) -> Response:
        """``POST /orders``: the order without items."""
        self._write(request)
        body = request.json()
        with self.lock:
            ident = max(self.orders, default=0) + 1
            fields = ("ref", "state", "currency", "created", "customer", "grand_total")
            doc = {"id": ident, **{k: body.get(k) for k in fields}, "items": []}
            if doc["created"] is None:
                doc["created"] = _START.isoformat()
            self.orders[ident] = doc
        return json_response(doc, status=201)

    @route("POST", "/orders/{order_id}/items")
    def add_item(self, request: Request, order_id: str) -> Response:
        """``POST /orders/{id}/items``: one item."""
        self._write(request)
        doc = self.orders.get(int(order_id))
        if doc is None:
            raise HttpError(404, "no such order", {"error": "not found"})
        doc["items"].append(request.json())
        return json_response({"index": len(doc["items"]) - 1}, status=201)

    @route("DELETE", "/orders/{order_id}")
    def delete(self, request: Request, order_id: str) -> Response:
        """``DELETE /orders/{id}``."""
        self._write(request)
        if self.orders.pop(int(order_id), None) is None:
            raise HttpError(404, "no such order", {"error": "not found"})
        return empty(204)
