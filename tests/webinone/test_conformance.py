"""The WebinOne backends (v1 legacy and v2 admin) run the conformance suite against the simulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import pytest
from orderbridge_webinone import WebinOneV1, WebinOneV2
from orderbridge_webinone.simulator import WebinOneSimulator

import orderbridge as ob
from orderbridge.sandbox import SimServer
from orderbridge.testing import BackendConformance, PagedBackendFactory

from .conftest import load, real_v2_doc

CANARY = "canary-webinone-secret-3a9b2c"
SEEDED = 23
PAGE_SIZE = 5
"""A small page, so that a few orders take several pages (the paging test's sizes follow it)."""


def _site(count: int, *, seed: int = 5) -> tuple[WebinOneSimulator, SimServer]:
    sim = WebinOneSimulator(client_secret=CANARY)
    sim.seed(count, seed=seed)
    return sim, SimServer(sim).start()


@pytest.fixture(scope="module")
def webinone_site() -> Iterator[tuple[WebinOneSimulator, SimServer]]:
    """A simulated site with ``SEEDED`` orders (one per test module)."""
    sim, server = _site(SEEDED)
    yield sim, server
    server.stop()


class _WebinOneConformance(BackendConformance):
    client_class: type[WebinOneV1 | WebinOneV2]
    version: Literal["v1", "v2"]

    def connect(self, sim: WebinOneSimulator, server: SimServer) -> WebinOneV1 | WebinOneV2:
        """A client of the simulated site, paging ``PAGE_SIZE`` orders at a time."""
        resolver = ob.ReferenceResolver(sim.catalog_tables(), use_hooks=False)
        return self.client_class(
            server.url,
            client_id=sim.client_id,
            client_secret=CANARY,
            allow_http=True,
            page_size=PAGE_SIZE,
            resolver=resolver,
        )

    @pytest.fixture
    def backend_class(self) -> type[ob.Backend]:
        return self.client_class

    @pytest.fixture
    def sample_documents(self, webinone_site: tuple[WebinOneSimulator, SimServer]) -> list[Any]:
        sim, _ = webinone_site
        served = [sim.order_doc(i, self.version) for i in sim.order_ids()[:10]]
        return [*self.page_samples(), *served]

    def page_samples(self) -> list[Any]:
        return []

    @pytest.fixture
    def backend(
        self, webinone_site: tuple[WebinOneSimulator, SimServer]
    ) -> Iterator[WebinOneV1 | WebinOneV2]:
        sim, server = webinone_site
        backend = self.connect(sim, server)
        yield backend
        backend.close()

    @pytest.fixture
    def unauthorized_backend(
        self, webinone_site: tuple[WebinOneSimulator, SimServer]
    ) -> Iterator[WebinOneV1 | WebinOneV2]:
        sim, server = webinone_site
        backend = self.client_class(
            server.url,
            allow_http=True,
            client_id=sim.client_id,
            client_secret="wrong-" + CANARY,
            max_retries=0,
        )
        yield backend
        backend.close()

    @pytest.fixture
    def expected_order_count(self) -> int:
        return SEEDED

    @pytest.fixture
    def canary_secret(self) -> str:
        return CANARY

    @pytest.fixture
    def paged_backend_factory(self, request: pytest.FixtureRequest) -> PagedBackendFactory:
        def factory(count: int) -> tuple[ob.Backend, int]:
            sim, server = _site(count)
            request.addfinalizer(server.stop)
            backend = self.connect(sim, server)
            request.addfinalizer(backend.close)
            return backend, PAGE_SIZE

        return factory


class TestWebinOneV2Conformance(_WebinOneConformance):
    client_class = WebinOneV2
    version = "v2"

    def page_samples(self) -> list[Any]:
        return [real_v2_doc()]


class TestWebinOneV1Conformance(_WebinOneConformance):
    client_class = WebinOneV1
    version = "v1"

    def page_samples(self) -> list[Any]:
        return [load("v1_order.json")]
