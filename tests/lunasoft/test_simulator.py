from __future__ import annotations

import base64
import time
from typing import Any

import pytest
from orderbridge_lunasoft.simulator import CartSimulator

import orderbridge as ob
from orderbridge import jsonutil
from orderbridge.sandbox import Faults, HttpError, Request, SimServer, available_simulators

B = "/api/v1/shopping_cart"
KEY = {"Authorization": "Bearer sandbox-lunasoft-key"}


def call(sim: CartSimulator, method: str, target: str, **kw: Any) -> tuple[int, Any]:
    kw.setdefault("headers", KEY)
    try:
        response = sim.handle(Request.make(method, B + target, **kw))
    except HttpError as exc:
        response = exc.to_response()
    body = response.body
    return response.status, jsonutil.loads(body) if isinstance(body, bytes) else body


@pytest.fixture(scope="module")
def sim() -> CartSimulator:
    s = CartSimulator()
    s.seed(120, seed=2)
    return s


def test_registered() -> None:
    assert available_simulators()["lunasoft-cart"] is CartSimulator


def test_list_pages_default_sort_and_filters(sim: CartSimulator) -> None:
    status, first = call(sim, "GET", "/orders")
    assert status == 200 and len(first["orders"]) == 50 and first["next_page"] == 2
    ids = [int(o["id"]) for o in first["orders"]]
    assert ids == sorted(ids, reverse=True) and "statuses" not in first["orders"][0]
    _, last = call(sim, "GET", "/orders?sort=id&page=3")
    assert len(last["orders"]) == 20 and last["next_page"] is False
    _, beyond = call(sim, "GET", "/orders?page=9")
    assert beyond == {"orders": [], "next_page": False}
    lowest = min(sim.orders)
    _, by_id = call(sim, "GET", f"/orders?sort=id&id={lowest + 100}")
    assert [int(o["id"]) for o in by_id["orders"]] == list(range(lowest + 100, lowest + 120))
    created = sim.orders[lowest + 110]["created"]
    _, after = call(sim, "GET", "/orders?sort=-created&created_on_after=" + created.replace("+", "%2B"))
    assert [int(o["id"]) for o in after["orders"]] == list(range(lowest + 119, lowest + 109, -1))
    for bad in ("?page=0", "?sort=total", "?id=x", "?created_on_after=soon"):
        status, body = call(sim, "GET", "/orders" + bad)
        assert status == 400 and body["errors"]


def test_auth(sim: CartSimulator) -> None:
    assert call(sim, "GET", "/orders", headers={})[0] == 401
    assert call(sim, "GET", "/orders", headers={"Authorization": "Bearer nope"})[0] == 401
    basic = base64.b64encode(b"sandbox:sandbox-password").decode()
    assert call(sim, "GET", "/orders", headers={"Authorization": f"Basic {basic}"})[0] == 200
    assert sim.credentials() == {"api_key": "sandbox-lunasoft-key"}
    assert sim.urls("http://127.0.0.1:1") == {"base": "http://127.0.0.1:1" + B}


def test_get_and_add_status() -> None:
    sim = CartSimulator(known_statuses=["Shipped"])
    sim.seed(3, seed=1)
    oid = str(min(sim.orders))
    status, order = call(sim, "GET", f"/orders/{oid}")
    assert status == 200 and order["statuses"]
    before = len(order["statuses"])
    body = {"status": {"status": "Shipped", "notes": "Tracking", "notify_customer": False}}
    status, after = call(sim, "POST", f"/orders/{oid}", json=body)
    assert status == 200 and len(after["statuses"]) == before + 1
    assert after["statuses"][0]["status"] == "Shipped" and after["current_status"] == "Shipped"
    ob.get_backend("lunasoft-cart").to_canonical(after)  # still a valid, time-ordered document
    status, refused = call(sim, "POST", f"/orders/{oid}", json={"status": {"status": "Lost"}})
    assert status == 200 and refused["errors"] and len(refused["statuses"]) == before + 1
    assert call(sim, "POST", f"/orders/{oid}", json={"state": 1})[0] == 400
    assert call(sim, "POST", "/orders/999999", json=body)[0] == 404
    assert call(sim, "GET", "/orders/abc")[0] == 404


def test_seeding_is_fast_and_deterministic() -> None:
    started = time.perf_counter()
    sim = CartSimulator()
    sim.seed(20_000, seed=9)
    assert time.perf_counter() - started < 10
    again = CartSimulator()
    again.seed(20_000, seed=9)
    assert sim.orders == again.orders


def test_served_over_http() -> None:
    sim = CartSimulator()
    sim.seed(5)
    with SimServer(sim, faults=Faults()) as server:
        backend = ob.connect("lunasoft-cart", base_url=server.urls()["base"], **sim.credentials())
        assert len(list(backend.iter_orders())) == 5
    assert server.errors == []
