from collections.abc import Iterator

import pytest
import responses

pytest_plugins = ["orderbridge.testing"]


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    """A `responses` mock that fails any request not registered (no request reaches the network)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps
