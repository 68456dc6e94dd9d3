"""The conformance suite for backend authors, shipped as a pytest plugin.

Every built-in backend runs it; a new backend proves itself the same way.
Load the plugin and inherit the test class, providing fixtures::

    # conftest.py
    pytest_plugins = ["orderbridge.testing"]

    # test_conformance.py
    import pytest
    from orderbridge.testing import BackendConformance

    class TestAcme(BackendConformance):
        @pytest.fixture
        def backend_class(self):
            return AcmeBackend

        @pytest.fixture
        def sample_documents(self):
            return [json.loads(p.read_text()) for p in SAMPLES.glob("*.json")]

        @pytest.fixture
        def backend(self, acme_simulator):          # a connected instance
            return AcmeBackend(base_url=acme_simulator.url, api_key=CANARY)

        @pytest.fixture
        def expected_order_count(self):
            return 120

        @pytest.fixture
        def canary_secret(self):
            return CANARY

Fixtures:

``backend_class`` (required)
    The backend class under test.
``sample_documents`` (required)
    Order documents exactly as the platform's read API returns them.
``backend``
    An instance connected to a site (a simulator or a ``responses`` mock)
    holding ``expected_order_count`` orders. Needed for backends that read.
``expected_order_count``
    How many orders ``backend`` lists.
``missing_order_id``
    An id the site does not have (default ``"999999999"``).
``canary_secret``
    The secret ``backend`` was configured with, or ``None`` (default) when it has none.
``unauthorized_backend``
    An instance connected with wrong credentials, or ``None`` (default) to skip that test.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest

import orderbridge as ob

__all__ = ["BackendConformance", "walk_values"]


def walk_values(value: Any, path: str = "order") -> Iterator[tuple[str, Any]]:
    """Every leaf value inside a canonical object, with its path (extras included)."""
    if attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            yield from walk_values(getattr(value, field.name), f"{path}.{field.name}")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from walk_values(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from walk_values(item, f"{path}[{i}]")
    else:
        yield path, value


def _operations(backend: ob.Backend) -> dict[str, Any]:
    order = ob.Order(number="conformance")
    return {
        ob.Capability.READ: lambda: backend.get_order("1"),
        ob.Capability.CREATE: lambda: backend.create_order(order),
        ob.Capability.UPDATE: lambda: backend.update_order("1", order),
        ob.Capability.DELETE: lambda: backend.delete_order("1"),
        ob.Capability.ADD_STATUS: lambda: backend.add_status("1", ob.StatusChange(status="Shipped")),
    }


class BackendConformance:
    """Tests every backend must pass. Inherit and provide the fixtures listed in the module docs."""

    stores_foreign_orders = False
    """True for a staging backend (like ``jsonl``) whose orders keep the source they came from."""

    @pytest.fixture
    def missing_order_id(self) -> str:
        """An id the site does not hold."""
        return "999999999"

    @pytest.fixture
    def canary_secret(self) -> str | None:
        """The secret ``backend`` was configured with (``None``: the backend has none)."""
        return None

    @pytest.fixture
    def unauthorized_backend(self) -> ob.Backend | None:
        """An instance with wrong credentials (``None``: skip the authentication test)."""
        return None

    # ------------------------------------------------------------ the class

    def test_declares_name_and_capabilities(self, backend_class: type[ob.Backend]) -> None:
        assert isinstance(backend_class.name, str) and backend_class.name
        assert backend_class.capabilities <= ob.Capability.ALL
        assert backend_class.description, "give the backend a one-line description"

    def test_is_registered_through_a_plugin(self, backend_class: type[ob.Backend]) -> None:
        assert ob.get_backend(backend_class.name) is backend_class

    def test_public_names_are_documented(self, backend_class: type[ob.Backend]) -> None:
        assert backend_class.__doc__, "the backend class needs a docstring"
        for name in ("to_canonical", "from_canonical"):
            assert getattr(backend_class, name).__doc__, f"{name} needs a docstring"

    # ------------------------------------------------------------ translation

    def test_samples_are_given(self, sample_documents: list[Mapping[str, Any]]) -> None:
        assert sample_documents, "provide at least one sample document"

    def test_every_sample_round_trips(
        self, backend_class: type[ob.Backend], sample_documents: list[Mapping[str, Any]]
    ) -> None:
        for doc in sample_documents:
            order = backend_class.to_canonical(doc)
            assert backend_class.from_canonical(order) == doc, f"{order.label} does not round-trip"

    def test_samples_keep_canonical_invariants(
        self, backend_class: type[ob.Backend], sample_documents: list[Mapping[str, Any]]
    ) -> None:
        for doc in sample_documents:
            order = backend_class.to_canonical(doc)
            assert order.source is not None
            if not self.stores_foreign_orders:
                assert order.source.backend == backend_class.name
            assert isinstance(order.source.remote_id, str)
            for path, value in walk_values(order):
                assert not isinstance(value, float), f"{path} is a float; money must be Decimal"
                if isinstance(value, datetime):
                    assert value.utcoffset() is not None, f"{path} is a naive datetime"
            for line in order.lines:
                assert isinstance(line.quantity, Decimal)

    def test_samples_survive_canonical_json(
        self, backend_class: type[ob.Backend], sample_documents: list[Mapping[str, Any]]
    ) -> None:
        for doc in sample_documents:
            order = backend_class.to_canonical(doc)
            assert ob.order_from_json(ob.order_to_json(order)) == order

    def test_bad_document_names_the_field(self, backend_class: type[ob.Backend]) -> None:
        with pytest.raises(ob.InvalidOrder):
            backend_class.to_canonical({"unexpected": object()})

    # ------------------------------------------------------------ operations

    def test_unsupported_operations_raise_before_any_request(
        self, backend_class: type[ob.Backend], request: pytest.FixtureRequest
    ) -> None:
        missing = ob.Capability.ALL - backend_class.capabilities
        if not missing:
            pytest.skip("the backend supports every operation")
        backend: ob.Backend = request.getfixturevalue("backend")
        import responses

        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            for capability in sorted(missing):
                with pytest.raises(ob.UnsupportedOperation):
                    _operations(backend)[capability]()
            assert len(mock.calls) == 0, "a request was sent before the capability check"

    def test_lists_every_order_to_the_end(
        self, backend_class: type[ob.Backend], request: pytest.FixtureRequest
    ) -> None:
        if ob.Capability.READ not in backend_class.capabilities:
            pytest.skip("the backend does not read")
        backend: ob.Backend = request.getfixturevalue("backend")
        expected: int = request.getfixturevalue("expected_order_count")
        orders = list(backend.iter_orders())
        assert len(orders) == expected
        ids = [backend.remote_id_of(o) for o in orders]
        assert len(set(ids)) == len(ids), "an order was listed twice"
        for order in orders[:3]:
            remote_id = backend.remote_id_of(order)
            assert backend.remote_id_of(backend.get_order(remote_id)) == remote_id

    def test_missing_order_raises_not_found(
        self, backend_class: type[ob.Backend], request: pytest.FixtureRequest, missing_order_id: str
    ) -> None:
        if ob.Capability.READ not in backend_class.capabilities:
            pytest.skip("the backend does not read")
        backend: ob.Backend = request.getfixturevalue("backend")
        with pytest.raises(ob.NotFound):
            backend.get_order(missing_order_id)

    def test_wrong_credentials_raise_authentication_error(
        self, unauthorized_backend: ob.Backend | None, canary_secret: str | None
    ) -> None:
        if unauthorized_backend is None:
            pytest.skip("no unauthorized_backend fixture")
        with pytest.raises(ob.AuthenticationError) as info:
            next(iter(unauthorized_backend.iter_orders()))
        if canary_secret:
            assert canary_secret not in str(info.value) and canary_secret not in repr(info.value)

    def test_secret_never_reaches_logs_errors_or_reprs(
        self,
        backend_class: type[ob.Backend],
        request: pytest.FixtureRequest,
        canary_secret: str | None,
        missing_order_id: str,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        if not canary_secret:
            pytest.skip("the backend holds no secret")
        backend: ob.Backend = request.getfixturevalue("backend")
        caplog.set_level(logging.DEBUG)
        seen = [repr(backend), str(backend)]
        if ob.Capability.READ in backend_class.capabilities:
            list(backend.iter_orders())
            try:
                backend.get_order(missing_order_id)
            except ob.OrderbridgeError as exc:
                seen += [str(exc), repr(exc)]
        seen += [record.getMessage() for record in caplog.records]
        for text in seen:
            assert canary_secret not in text
