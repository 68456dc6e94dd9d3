from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from orderbridge_lunasoft.simulator import CartSimulator

import orderbridge as ob
from orderbridge.sandbox import Faults, SimServer

pytestmark = pytest.mark.slow


@pytest.fixture
def served() -> Iterator[tuple[CartSimulator, SimServer]]:
    sim = CartSimulator()
    sim.seed(120, seed=11)
    with SimServer(sim) as server:
        yield sim, server
    assert server.errors == []


def connect(sim: CartSimulator, server: SimServer, **options: Any) -> ob.Backend:
    return ob.connect("lunasoft-cart", base_url=server.urls()["base"], sleep=lambda s: None,
                      **sim.credentials(), **options)  # fmt: skip


def test_walk_every_page_ascending(served: tuple[CartSimulator, SimServer]) -> None:
    sim, server = served
    backend = connect(sim, server, fetch_statuses=False)
    ids = [o.source.remote_id for o in backend.iter_orders()]  # type: ignore[union-attr]
    assert ids == [str(i) for i in sorted(sim.orders)]
    assert sim.requests_log.count("GET", "/api/v1/shopping_cart/orders") == 3
    newest = [o.source.remote_id for o in backend.iter_orders(sort="-id")]  # type: ignore[union-attr]
    assert newest == ids[::-1]
    resumed = [o.source.remote_id for o in backend.iter_orders(id=ids[100])]  # type: ignore[union-attr]
    assert resumed == ids[100:]


def test_get_round_trips_and_statuses_come_with_iter(served: tuple[CartSimulator, SimServer]) -> None:
    sim, server = served
    backend = connect(sim, server)
    first = min(sim.orders)
    order = backend.get_order(str(first))
    assert backend.from_canonical(order) == sim.orders[first]
    listed = next(iter(backend.iter_orders()))
    assert listed == order and listed.status_history


def test_add_status_and_refused_status(served: tuple[CartSimulator, SimServer]) -> None:
    sim, server = served
    backend = connect(sim, server)
    oid = str(min(sim.orders))
    before = backend.get_order(oid)
    after = backend.add_status(oid, ob.StatusChange(status="Shipped", notes="Tracking #1"))
    assert len(after.status_history) == len(before.status_history) + 1
    assert after.status_history[-1].status == "Shipped" and after.status_history[-1].notify_customer is False
    assert after.status == ob.OrderStatus(name="Shipped")
    with pytest.raises(ob.Rejected) as info:
        backend.add_status(oid, ob.StatusChange(status="Teleported"))
    assert "Teleported" in str(info.value.messages)
    assert backend.get_order(oid).status_history == after.status_history


def test_wrong_key_is_an_authentication_error(served: tuple[CartSimulator, SimServer]) -> None:
    _, server = served
    backend = ob.connect("lunasoft-cart", base_url=server.urls()["base"], api_key="canary-wrong-key-123")
    with pytest.raises(ob.AuthenticationError) as info:
        backend.get_order("1")
    assert "canary-wrong-key-123" not in str(info.value)


def test_429_with_retry_after_zero_is_recovered(served: tuple[CartSimulator, SimServer]) -> None:
    sim, server = served
    server.faults = Faults(rate_429=0.4, retry_after=0, seed=3)
    backend = connect(sim, server, max_retries=12)
    assert len(list(backend.iter_orders())) == 120
    assert backend.add_status(str(min(sim.orders)), ob.StatusChange(status="Complete")).status_history


def test_server_errors_and_drops_on_reads_are_recovered(served: tuple[CartSimulator, SimServer]) -> None:
    # error_rate answers 500, 502 or 503; the transport retries all three on a read.
    sim, server = served
    server.faults = Faults(error_rate=0.3, drop_rate=0.1, seed=5)
    backend = connect(sim, server, max_retries=12)
    assert len(list(backend.iter_orders())) == 120


def test_server_errors_on_every_read_end_as_server_error(served: tuple[CartSimulator, SimServer]) -> None:
    # Retries are bounded: a server that always fails is reported once they are spent
    # (a migration records it and a re-run retries the order).
    sim, server = served
    server.faults = Faults(error_rate=1.0, seed=1, only_methods=frozenset({"GET"}))
    backend = connect(sim, server, max_retries=3, fetch_statuses=False)
    with pytest.raises(ob.ServerError) as info:
        list(backend.iter_orders())
    assert info.value.status in (500, 502, 503)
