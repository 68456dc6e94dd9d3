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
``paged_backend_factory``
    A callable ``factory(count) -> (backend, page_size)``: a backend connected to
    a fresh site holding exactly ``count`` orders, and the number of orders per
    list page it reads (a small page keeps the test quick, where the backend
    takes one). The suite lists sites of 0, 1, ``page_size``, ``page_size + 1``
    and ``2 * page_size + 1`` orders. The factory closes what it starts (register
    cleanups with ``request.addfinalizer``). ``None`` (default) skips that test::

        @pytest.fixture
        def paged_backend_factory(self, request):
            def factory(count):
                sim = AcmeSimulator(api_key=CANARY)
                sim.seed(count)
                server = SimServer(sim).start()
                request.addfinalizer(server.stop)
                return AcmeBackend(server.url, api_key=CANARY), PAGE_SIZE
            return factory

What the translation tests feed ``to_canonical``: each sample, and copies of
one with a mistake in a line. The suite looks for the first list of objects
(the order's lines) holding a number (a ``Decimal``, a decimal string such as
``"12.50"``, or a whole number that is not an id), replaces that value by the
float ``19.99`` and by the text ``"ten"``, and expects an
:class:`~orderbridge.InvalidOrder` whose ``field`` names the line
(``lines[0].price``). A backend that reads through the document pipeline
(``_iter_documents``) must also turn a sample holding NaN into an
``InvalidOrder`` with a field path from ``decode_record``, never an exception.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest

import orderbridge as ob
from orderbridge import jsonutil

__all__ = ["BackendConformance", "PagedBackendFactory", "walk_values"]

PagedBackendFactory = Callable[[int], "tuple[ob.Backend, int]"]
"""``factory(count) -> (backend, page_size)``: see the ``paged_backend_factory`` fixture."""

_ID_KEY = re.compile(r"(?:^|_)id$|Id$|ID$")
_DECIMAL_TEXT = re.compile(r"-?[0-9]+\.[0-9]+")

Path = tuple[str | int, ...]
"""Keys and list indexes leading to a value inside a document."""


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


def _number_rank(key: Any, value: Any) -> int | None:
    """How well ``value`` stands for a money or quantity field (lower is better; None: not a number)."""
    if isinstance(value, Decimal):
        return 0
    if isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value):
        return 1
    if isinstance(value, int) and not isinstance(value, bool):
        # Ids are numbers too, but a backend may take any value as an id.
        return None if isinstance(key, str) and _ID_KEY.search(key) else 2
    return None


def _line_number_path(doc: Any, path: Path = ()) -> Path | None:
    """The path of a number in the first list of objects inside ``doc`` that holds one.

    Only objects are searched on the way (not list items), so the list found is
    one of the order's own (its lines, payments...), not a list inside a line.
    """
    if not isinstance(doc, Mapping):
        return None
    for key, value in doc.items():
        if isinstance(value, list) and value and all(isinstance(item, Mapping) for item in value):
            for index, item in enumerate(value):
                ranked = [
                    (rank, n, k)
                    for n, (k, v) in enumerate(item.items())
                    if (rank := _number_rank(k, v)) is not None
                ]
                if ranked:
                    return (*path, key, index, min(ranked)[2])
        elif isinstance(value, Mapping):
            found = _line_number_path(value, (*path, key))
            if found is not None:
                return found
    return None


def _with_value(doc: Any, path: Path, value: Any) -> Any:
    """A deep copy of ``doc`` with the value at ``path`` replaced by ``value``."""
    changed = copy.deepcopy(doc)
    parent = changed
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return changed


def _spell(path: Path) -> str:
    """``("lines", 0, "price")`` as ``lines[0].price``."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def _line_number_field(samples: Sequence[Any]) -> tuple[Any, Path]:
    """The first sample with a number in a list of objects, and that number's path; else skip."""
    for doc in samples:
        path = _line_number_path(doc)
        if path is not None:
            return doc, path
    pytest.skip("no sample holds a list of objects (order lines) with a number in it")


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

    @pytest.fixture
    def paged_backend_factory(self) -> PagedBackendFactory | None:
        """``factory(count) -> (backend, page_size)`` (``None``: skip the paging test)."""
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

    def test_declares_its_options(self, backend_class: type[ob.Backend]) -> None:
        """Options declared once (``Options``): read strictly, listed by the docs and the CLI."""
        assert backend_class.Options is not None, "declare the backend's options (Backend.Options)"
        secrets = backend_class.secret_options()
        for info in ob.declared_options(backend_class.Options):
            assert info.doc, f"option {info.name} needs a one-line doc"
            if info.name in {"client_secret", "api_key", "password", "token"}:
                assert info.name in secrets, f"option {info.name} holds a secret: declare it secret=True"

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

    @pytest.mark.parametrize("bad", [19.99, "ten"], ids=["float", "text"])
    def test_bad_line_value_names_the_field(
        self, backend_class: type[ob.Backend], sample_documents: list[Mapping[str, Any]], bad: Any
    ) -> None:
        doc, path = _line_number_field(sample_documents)
        where = _spell(path)
        list_key, index = path[-3], path[-2]
        with pytest.raises(ob.InvalidOrder) as info:
            backend_class.to_canonical(_with_value(doc, path, bad))
        field = info.value.field
        assert field is not None, f"{where} = {bad!r}: the InvalidOrder names no field ({info.value})"
        assert str(list_key) in field and f"[{index}]" in field, (
            f"{where} = {bad!r}: the InvalidOrder names field {field!r}, not the line {list_key}[{index}]"
        )

    def test_decode_record_turns_nan_into_invalid_order(
        self,
        backend_class: type[ob.Backend],
        sample_documents: list[Mapping[str, Any]],
        request: pytest.FixtureRequest,
    ) -> None:
        if backend_class._iter_documents is ob.Backend._iter_documents:
            pytest.skip("the backend does not read through the document pipeline (_iter_documents)")
        try:
            backend: ob.Backend = request.getfixturevalue("backend")
        except pytest.FixtureLookupError:
            pytest.skip("no backend fixture")
        nan = jsonutil.loads('{"x": NaN}')
        docs: list[tuple[str, Any]] = []
        for sample in sample_documents:
            if isinstance(sample, Mapping):
                docs.append(("x", {**sample, **nan}))
                break
        found = next(((d, p) for d in sample_documents if (p := _line_number_path(d))), None)
        if found is not None:
            sample, path = found
            docs.append((_spell(path), _with_value(sample, path, nan["x"])))
            docs.append((_spell(path), _with_value(sample, path, float("nan"))))
        if not docs:
            pytest.skip("no sample is an object to put NaN into")
        for where, doc in docs:
            try:
                record = backend.decode_record(doc)
            except Exception as exc:  # the pipeline must not raise for a bad document
                pytest.fail(f"decode_record raised {type(exc).__name__} for NaN at {where}: {exc}")
            assert isinstance(record, ob.InvalidOrder), f"NaN at {where} was accepted"
            assert record.field is not None and where in record.field, (
                f"NaN at {where}: the InvalidOrder names field {record.field!r}"
            )

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

    def test_lists_every_order_at_the_page_edges(
        self, backend_class: type[ob.Backend], paged_backend_factory: PagedBackendFactory | None
    ) -> None:
        if ob.Capability.READ not in backend_class.capabilities:
            pytest.skip("the backend does not read")
        if paged_backend_factory is None:
            pytest.skip("no paged_backend_factory fixture")
        empty, page_size = paged_backend_factory(0)
        assert isinstance(page_size, int) and page_size >= 1, f"page size {page_size!r} is not a count"
        sizes = sorted({1, page_size, page_size + 1, 2 * page_size + 1})
        for count, backend in [(0, empty)] + [(n, paged_backend_factory(n)[0]) for n in sizes]:
            where = f"a site of {count} orders, {page_size} per page"
            records = list(backend.iter_records())
            bad = [r for r in records if not isinstance(r, ob.Order)]
            assert not bad, f"{where}: not orders: {bad[:3]!r}"
            assert len(records) == count, f"{where}: {len(records)} records listed"
            ids = [backend.remote_id_of(r) for r in records if isinstance(r, ob.Order)]
            assert len(set(ids)) == len(ids), f"{where}: an order was listed twice"
            listed = [backend.remote_id_of(o) for o in backend.iter_orders()]
            assert listed == ids, f"{where}: iter_orders() and iter_records() list different orders"

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
