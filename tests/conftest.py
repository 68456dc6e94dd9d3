from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
import responses

if TYPE_CHECKING:
    from .postgres import PostgresServer

pytest_plugins = ["orderbridge.testing"]


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    """A `responses` mock that fails any request not registered (no request reaches the network)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the session (tests/postgres.py); without the server binaries the
    tests that need it skip, or fail where services are required (CI: tests/services.py)."""
    from .postgres import PostgresMissing, PostgresServer
    from .services import service_missing

    try:
        server = PostgresServer.start()
    except PostgresMissing as exc:
        service_missing(str(exc))
    yield server
    server.stop()
