"""Fixtures shared by the Acme tests: sample documents and a simulated shop on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from orderbridge_acme import AcmeBackend
from orderbridge_acme.simulator import AcmeSimulator

import orderbridge as ob
from orderbridge.sandbox import SimServer

# The conformance suite is a pytest plugin shipped with orderbridge.
pytest_plugins = ["orderbridge.testing"]

SAMPLES = Path(__file__).parent / "samples"
ACME_KEY = "canary-acme-key-7c1d9e"
"""The key the simulator expects; the conformance suite checks it never leaks."""
SEEDED = 45
"""Orders in the simulated shop: three pages of 20, 20 and 5."""
SHOP_ZONE = "Europe/Paris"
"""The simulated shop's time zone (the samples' local times are Paris times)."""


@pytest.fixture(scope="session")
def acme_key() -> str:
    """The API key of the simulated shop."""
    return ACME_KEY


@pytest.fixture
def sample_docs() -> list[dict[str, Any]]:
    """The hand-written sample documents, read as the transport reads answers (money stays Decimal)."""
    return [ob.jsonutil.loads(p.read_bytes()) for p in sorted(SAMPLES.glob("*.json"))]


@pytest.fixture(scope="module")
def acme_server() -> Iterator[SimServer]:
    """A simulated Acme shop with 45 seeded orders, served on a loopback port (one per test module)."""
    simulator = AcmeSimulator(api_key=ACME_KEY)
    simulator.seed(SEEDED, seed=7)
    with SimServer(simulator) as server:
        yield server


@pytest.fixture
def acme(acme_server: SimServer) -> Iterator[AcmeBackend]:
    """A backend connected to the simulated shop."""
    backend = AcmeBackend(acme_server.url, api_key=ACME_KEY, site_timezone=SHOP_ZONE)
    yield backend
    backend.close()
