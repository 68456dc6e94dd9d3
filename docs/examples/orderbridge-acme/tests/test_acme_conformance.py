"""The orderbridge conformance suite, run against the Acme backend and its simulator."""

from __future__ import annotations

from typing import Any

import pytest
from orderbridge_acme import AcmeBackend
from orderbridge_acme.simulator import PAGE_SIZE, AcmeSimulator, generate_orders

import orderbridge as ob
from orderbridge.sandbox import SimServer
from orderbridge.testing import BackendConformance, PagedBackendFactory


class TestAcme(BackendConformance):
    """Every test of :class:`BackendConformance`, fed by the fixtures below."""

    @pytest.fixture
    def backend_class(self) -> type[ob.Backend]:
        return AcmeBackend

    @pytest.fixture
    def sample_documents(self, sample_docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Hand-written samples (the odd cases) plus what the simulator serves.
        return [*sample_docs, *generate_orders(30, seed=3)]

    @pytest.fixture
    def backend(self, acme: AcmeBackend) -> AcmeBackend:
        return acme

    @pytest.fixture
    def expected_order_count(self) -> int:
        return 45

    @pytest.fixture
    def canary_secret(self, acme_key: str) -> str:
        return acme_key

    @pytest.fixture
    def unauthorized_backend(self, acme_server: SimServer) -> AcmeBackend:
        return AcmeBackend(acme_server.url, api_key="not-the-key")

    @pytest.fixture
    def paged_backend_factory(self, request: pytest.FixtureRequest, acme_key: str) -> PagedBackendFactory:
        # A fresh shop per size; the suite lists 0, 1, 20, 21 and 41 orders (20 per page).
        def factory(count: int) -> tuple[ob.Backend, int]:
            simulator = AcmeSimulator(api_key=acme_key)
            simulator.seed(count, seed=7)
            server = SimServer(simulator).start()
            request.addfinalizer(server.stop)
            backend = AcmeBackend(server.url, api_key=acme_key, site_timezone="Europe/Paris")
            request.addfinalizer(backend.close)
            return backend, PAGE_SIZE

        return factory
