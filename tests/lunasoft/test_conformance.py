from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from orderbridge_lunasoft import LunasoftCartBackend
from orderbridge_lunasoft.generator import generate_orders
from orderbridge_lunasoft.simulator import PAGE_SIZE, CartSimulator

import orderbridge as ob
from orderbridge.sandbox import SimServer
from orderbridge.testing import BackendConformance, PagedBackendFactory

from .conftest import load

CANARY = "canary-conformance-key-5f4e3d"


@pytest.fixture(scope="module")
def cart_server() -> Iterator[SimServer]:
    sim = CartSimulator(api_key=CANARY)
    sim.seed(60, seed=4)
    with SimServer(sim) as server:
        yield server


class TestLunasoftCart(BackendConformance):
    @pytest.fixture
    def backend_class(self) -> type[ob.Backend]:
        return LunasoftCartBackend

    @pytest.fixture
    def sample_documents(self) -> list[Any]:
        listed = load("sample_list.json")["orders"]
        return [load("sample_order.json"), *listed, *generate_orders(20, seed=8)]

    @pytest.fixture
    def backend(self, cart_server: SimServer) -> LunasoftCartBackend:
        return LunasoftCartBackend(cart_server.urls()["base"], api_key=CANARY, fetch_statuses=False)

    @pytest.fixture
    def unauthorized_backend(self, cart_server: SimServer) -> LunasoftCartBackend:
        return LunasoftCartBackend(cart_server.urls()["base"], api_key="wrong-" + CANARY)

    @pytest.fixture
    def expected_order_count(self) -> int:
        return 60

    @pytest.fixture
    def canary_secret(self) -> str:
        return CANARY

    @pytest.fixture
    def paged_backend_factory(self, request: pytest.FixtureRequest) -> PagedBackendFactory:
        # The cart's list page is fixed at 50 orders server-side: the sizes follow it.
        def factory(count: int) -> tuple[ob.Backend, int]:
            sim = CartSimulator(api_key=CANARY)
            sim.seed(count, seed=5)
            server = SimServer(sim).start()
            request.addfinalizer(server.stop)
            backend = LunasoftCartBackend(server.urls()["base"], api_key=CANARY, fetch_statuses=False)
            request.addfinalizer(backend.close)
            return backend, PAGE_SIZE

        return factory
