"""Parcelo, a platform orderbridge has never seen, runs conformance suite 2 like any plugin."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

import orderbridge as ob
from orderbridge.sandbox import SimServer
from orderbridge.testing import BackendConformance, FailingWriteFactory, PagedBackendFactory

from .backend import PER_PAGE, ParceloBackend
from .bugs import EXACT_ONLY
from .simulator import EXACT_PRICES, PRICES, ParceloSimulator, generate

KEY = "canary-parcelo-key-81f2"
SEEDED = 30


def _prices() -> tuple[Any, ...]:
    return EXACT_PRICES if os.environ.get("NEVERSEEN_BUG") in EXACT_ONLY else PRICES


def _serve(request: pytest.FixtureRequest, docs: list[dict[str, Any]], **sim_options: Any) -> ParceloBackend:
    sim = ParceloSimulator(api_key=KEY, **sim_options)
    sim.add(docs)
    server = SimServer(sim).start()
    request.addfinalizer(server.stop)
    backend = ParceloBackend(base_url=server.url, api_key=KEY, allow_http=True)
    request.addfinalizer(backend.close)
    return backend


@pytest.fixture(scope="module")
def parcelo_server() -> Iterator[SimServer]:
    sim = ParceloSimulator(api_key=KEY)
    sim.add(generate(SEEDED, seed=3, prices=_prices()))
    with SimServer(sim) as server:
        yield server


class TestParceloConformance(BackendConformance):
    @pytest.fixture
    def backend_class(self) -> type[ob.Backend]:
        return ParceloBackend

    @pytest.fixture
    def sample_documents(self) -> list[dict[str, Any]]:
        return generate(12, seed=9, prices=_prices())

    @pytest.fixture
    def backend(self, parcelo_server: SimServer) -> Iterator[ParceloBackend]:
        backend = ParceloBackend(base_url=parcelo_server.url, api_key=KEY, allow_http=True)
        yield backend
        backend.close()

    @pytest.fixture
    def expected_order_count(self) -> int:
        return SEEDED

    @pytest.fixture
    def canary_secret(self) -> str:
        return KEY

    @pytest.fixture
    def unauthorized_backend(self, parcelo_server: SimServer) -> ParceloBackend:
        return ParceloBackend(base_url=parcelo_server.url, api_key="wrong", allow_http=True)

    @pytest.fixture
    def paged_backend_factory(self, request: pytest.FixtureRequest) -> PagedBackendFactory:
        # The backend's default page size: the one its users get.
        def factory(count: int) -> tuple[ob.Backend, int]:
            return _serve(request, generate(count, seed=4)), PER_PAGE

        return factory

    @pytest.fixture
    def failing_write_factory(self, request: pytest.FixtureRequest) -> FailingWriteFactory:
        def factory(requests: int) -> ob.Backend:
            return _serve(request, [], fail_writes_after=requests)

        return factory
