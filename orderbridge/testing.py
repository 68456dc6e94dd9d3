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
    takes one; the backend's default page size is where off-by-ones hide). The
    suite lists sites of 0, 1, ``page_size - 1``, ``page_size``, ``page_size + 1``,
    ``2 * page_size``, ``2 * page_size + 1`` and ``3 * page_size`` orders, and
    writes into ``factory(0)``'s empty site. The factory closes what it starts
    (register cleanups with ``request.addfinalizer``). ``None`` (default) skips
    the paging and write tests::

        @pytest.fixture
        def paged_backend_factory(self, request):
            def factory(count):
                sim = AcmeSimulator(api_key=CANARY)
                sim.seed(count)
                server = SimServer(sim).start()
                request.addfinalizer(server.stop)
                return AcmeBackend(server.url, api_key=CANARY), PAGE_SIZE
            return factory

``failing_write_factory``
    A callable ``factory(requests) -> backend`` on a fresh, empty site whose write
    requests fail after ``requests`` succeeded; ``None`` (default) skips the
    ``PartialWrite`` test.

The suite is split by concern into mixins (:class:`ClassConformance`,
:class:`TranslationConformance`, :class:`BadDocumentConformance`,
:class:`ReadConformance`, :class:`PagingConformance`, :class:`WriteConformance`,
:class:`LossConformance`, :class:`SecretsConformance`); :class:`BackendConformance`
combines them. Tests ask for capability fixtures (``reading_backend``,
``site_factory``, ``creating_backend``) that skip in one place when the backend
lacks the capability or the fixture. Round trips compare type for type
(:func:`exact_difference`); writes compare what the target holds
(:func:`held_differences`); orders from another platform are made with
:func:`foreign_order`.

What the translation tests feed ``to_canonical``: each sample, and copies of
one with a mistake in a line. The suite looks for the first list of objects
(the order's lines) holding a number (a ``Decimal``, a decimal string such as
``"12.50"``, or a whole number that is not an id), replaces that value by the
floats ``19.99`` and ``12.5`` and by the text ``"ten"``, and expects an
:class:`~orderbridge.InvalidOrder` whose ``field`` names the line
(``lines[0].price``). A backend that reads through the document pipeline
(``_iter_documents``) must also turn a sample holding NaN into an
``InvalidOrder`` with a field path from ``decode_record``, never an exception.
Every backend's ``decode_record_bytes`` must give the record ``decode_record``
gives for the parsed bytes: for each sample, the sample with a key no page has,
and the sample with a ``NaN``.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Final

import attrs
import pytest

import orderbridge as ob
from orderbridge import jsonutil

__all__ = [
    "FOREIGN_BACKEND",
    "FOREIGN_IDS",
    "SCHEMA_2_FIELDS",
    "BackendConformance",
    "BadDocumentConformance",
    "ClassConformance",
    "ConformanceFixtures",
    "FailingWriteFactory",
    "LossConformance",
    "PagedBackendFactory",
    "PagingConformance",
    "ReadConformance",
    "RecordingJournal",
    "SecretsConformance",
    "TranslationConformance",
    "WriteConformance",
    "exact_difference",
    "find_floats",
    "foreign_order",
    "held_differences",
    "schema_2_differences",
    "schema_2_order",
    "walk_values",
]

PagedBackendFactory = Callable[[int], "tuple[ob.Backend, int]"]
"""``factory(count) -> (backend, page_size)``: see the ``paged_backend_factory`` fixture."""
FailingWriteFactory = Callable[[int], ob.Backend]
"""``factory(requests) -> backend``: see the ``failing_write_factory`` fixture."""

_ID_KEY = re.compile(r"(?:^|_)id$|Id$|ID$")
_DECIMAL_TEXT = re.compile(r"-?[0-9]+\.[0-9]+")

Path = tuple[str | int, ...]
"""Keys and list indexes leading to a value inside a document."""


def walk_values(value: Any, path: str = "order") -> Iterator[tuple[str, Any]]:
    """Every leaf value inside a canonical object or a document, with its path (extras included)."""
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


def exact_difference(expected: Any, actual: Any, path: str = "doc") -> str | None:
    """Where ``actual`` differs from ``expected`` in value *or type*, else ``None``.

    Unlike ``==`` (where ``Decimal("12") == 12 == 12.0``), types must match and
    a float anywhere is a difference even when its value is equal. The one
    exception is what the wire cannot tell apart: an ``int`` and a ``Decimal``
    written as the same JSON number (``12`` and ``Decimal("12")``; never
    ``Decimal("12.0")``, which is written ``12.0``). Mappings compare as
    mappings, lists and tuples as sequences.
    """
    if isinstance(actual, float):
        return f"{path} is the float {actual!r}; money must be Decimal (or text)"
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        if list(expected) != list(actual) and set(expected) != set(actual):
            missing = sorted(map(str, set(expected) - set(actual)))
            added = sorted(map(str, set(actual) - set(expected)))
            return f"{path}: keys differ (missing {missing}, added {added})"
        for key in expected:
            found = exact_difference(expected[key], actual[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(expected, list | tuple) and isinstance(actual, list | tuple):
        if len(expected) != len(actual):
            return f"{path}: {len(expected)} items expected, {len(actual)} found"
        for i, (a, b) in enumerate(zip(expected, actual, strict=True)):
            found = exact_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return None
    if _same_json_number(expected, actual):
        return None
    if type(expected) is not type(actual):
        kinds = type(expected).__name__, type(actual).__name__
        return f"{path}: {kinds[0]} {expected!r} expected, {kinds[1]} {actual!r} found"
    if expected != actual:
        return f"{path}: {expected!r} expected, {actual!r} found"
    return None


def _same_json_number(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` are an int and a Decimal that JSON writes as the same number text."""
    kinds = {type(a), type(b)}
    if kinds != {int, Decimal}:
        return False
    number = a if isinstance(a, Decimal) else b
    return bool(number.is_finite() and number.as_tuple().exponent == 0 and a == b)


def find_floats(value: Any, path: str = "doc") -> list[str]:
    """The paths of every float inside ``value`` (a document, or a canonical object)."""
    return [where for where, leaf in walk_values(value, path) if isinstance(leaf, float)]


def _pattern(path: str) -> str:
    """``order.lines[0].sku`` as the loss-style pattern ``lines[].sku``."""
    return re.sub(r"\[\d+\]", "[]", path.removeprefix("order.").removeprefix("order"))


def _lost(pattern: str, lost: frozenset[str]) -> bool:
    """Whether ``pattern`` or a field that holds it is among the ``lost`` loss fields."""
    parts = pattern.split(".")
    for n in range(1, len(parts) + 1):
        prefix = ".".join(parts[:n])
        if prefix in lost or prefix.removesuffix("[]") in lost:
            return True
    # "discounts[1:]" style: a loss of some items of a list covers its items.
    head = parts[0].split("[")[0]
    return any(f.startswith(head + "[") and f != head + "[]" for f in lost)


_SERVER_KEYS = frozenset({"remote_id", "source", "extras"})
"""Canonical leaves a target assigns or keeps for itself (ids, its own extras): not compared after a write."""


def held_differences(written: ob.Order, read: ob.Order, losses: Sequence[ob.Loss]) -> list[str]:
    """Fields set in ``written`` that ``read`` does not hold equally, type-exact, leaving out
    what ``losses`` names (the target cannot keep it), ids and extras (the target's own)."""
    lost = frozenset(loss.field for loss in losses)
    have = dict(walk_values(read))
    found = []
    if "lines" not in lost and len(written.lines) != len(read.lines):
        found.append(f"lines: {len(written.lines)} written, {len(read.lines)} read back")
    for path, value in walk_values(written):
        pattern = _pattern(path)
        if value is None or any(part.split("[")[0] in _SERVER_KEYS for part in pattern.split(".")):
            continue
        if _lost(pattern, lost) or path not in have:
            continue
        back = have[path]
        if back is None and pattern not in ("number", "total"):
            continue  # the target leaves it empty: reported as a loss or not, it is not a wrong value
        if type(value) is not type(back) or value != back:
            found.append(f"{pattern}: {value!r} written, {back!r} read back")
    return found


class RecordingJournal:
    """A :class:`~orderbridge.WriteJournal` that keeps every ``(step, detail)`` it is told."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, dict[str, Any]]] = []

    def record(self, step: str, detail: dict[str, Any]) -> None:
        """Keep the step."""
        self.steps.append((step, dict(detail)))


FOREIGN_BACKEND = "conformance-elsewhere"
"""The backend name of the suite's order "from another platform" (a name no backend has)."""
FOREIGN_IDS: dict[str, str] = {
    "source.remote_id": "70000001",
    "customer.remote_id": "70000002",
    "status.remote_id": "70000003",
    "parent_order_ref": "70000004",
    "lines[].product_ref": "70000005",
}
"""The canary ids the foreign order carries: none may appear in a document written for another platform."""
_FOREIGN_EXTRA = "conformance-extra-canary"


def foreign_order(order: ob.Order) -> ob.Order:
    """``order`` as if read from another platform: its source, ids and extras are that platform's."""
    customer = order.customer or ob.Customer(email="conformance@example.com")
    status = order.status or ob.OrderStatus(name="Pending")
    lines = [
        attrs.evolve(
            line,
            product_ref=FOREIGN_IDS["lines[].product_ref"],
            remote_id=None,
            extras={FOREIGN_BACKEND: {"canary": _FOREIGN_EXTRA}},
        )
        for line in order.lines
    ]
    return order.evolve(
        source=ob.SourceRef(FOREIGN_BACKEND, FOREIGN_IDS["source.remote_id"]),
        customer=attrs.evolve(customer, remote_id=FOREIGN_IDS["customer.remote_id"]),
        status=attrs.evolve(status, remote_id=FOREIGN_IDS["status.remote_id"]),
        parent_order_ref=FOREIGN_IDS["parent_order_ref"],
        lines=lines,
        payments=[attrs.evolve(p, remote_id=None) for p in order.payments],
        extras={FOREIGN_BACKEND: {"canary": _FOREIGN_EXTRA}},
    )


SCHEMA_2_FIELDS: Final = (
    "prices_include_tax", "shipping_lines", "fees", "refunds", "metadata", "taxes[].name",
    "taxes[].applies_to", "taxes[].applies_to_index", "lines[].variant_ref", "lines[].subtotal",
    "lines[].discount_amount", "lines[].tax_amount", "lines[].metadata",
)  # fmt: skip
"""The canonical fields schema 2 added (loss-style patterns; ``SourceRef.site`` aside: a source is
never written). :meth:`LossConformance.test_schema_2_fields_are_kept_or_reported` checks each."""

_CONFORMANCE_ZONE = timezone(timedelta(hours=1))


def schema_2_order(order: ob.Order) -> ob.Order:
    """``order`` with every field schema 2 added set: two shipping lines, a fee and a credit, a
    refund, a labelled tax on the lines, metadata with nested and repeated keys, per-line
    variant, subtotal, discount and tax amounts, and a source site."""
    lines = [
        attrs.evolve(
            line,
            variant_ref="conformance-variant",
            subtotal=(line.unit_price or Decimal(0)) * line.quantity,
            discount_amount=Decimal("0.50"),
            tax_amount=Decimal("0.25"),
            metadata=(ob.MetaEntry(key="engraving", value="A.L."),),
        )
        for line in order.lines
    ]
    taxes = [attrs.evolve(t, name="VAT 10%", applies_to=ob.TaxTarget.LINE) for t in order.taxes] or [
        ob.TaxLine(code="VAT", rate=Decimal("10"), name="VAT 10%", applies_to=ob.TaxTarget.LINE)
    ]
    refund_lines = [ob.RefundLine(line_index=0, quantity=Decimal(1), amount=Decimal("1.00"))] if lines else []
    source = attrs.evolve(order.source, site="https://conformance.example") if order.source else None
    return order.evolve(
        source=source,
        prices_include_tax=False,
        shipping_lines=[
            ob.ShippingLine(
                name="Conformance post", method="post", cost=Decimal("4.00"), tax_amount=Decimal("0.40")
            ),
            ob.ShippingLine(name="Conformance express", cost=Decimal("6.50")),
        ],
        fees=[
            ob.Fee(
                name="Gift wrap", amount=Decimal("3.50"), tax_amount=Decimal("0.35"), tax_rate=Decimal(10)
            ),
            ob.Fee(name="Loyalty credit", amount=Decimal("-1.00")),
        ],
        refunds=[
            ob.Refund(
                amount=Decimal("1.00"),
                reason="conformance",
                lines=refund_lines,
                at=datetime(2024, 3, 7, 10, 15, tzinfo=_CONFORMANCE_ZONE),
            )
        ],
        taxes=taxes,
        lines=lines,
        metadata=(
            ob.MetaEntry(key="gift_message", value={"text": "Happy birthday", "lines": [1, Decimal("2.5")]}),
            ob.MetaEntry(key="gift_message", value="a second entry of the same key"),
        ),
    )


def _schema_2_path(pattern: str) -> bool:
    return any(pattern == f or pattern.startswith((f + ".", f + "[")) for f in SCHEMA_2_FIELDS)


def schema_2_differences(written: ob.Order, read: ob.Order, losses: Sequence[ob.Loss]) -> list[str]:
    """The schema 2 fields set in ``written`` that ``read`` does not hold equally (type-exact; an
    empty value read back counts as not held) and that ``losses`` does not name."""
    lost = frozenset(loss.field for loss in losses)
    have = dict(walk_values(read))
    found: list[str] = []
    seen: set[str] = set()
    for path, value in walk_values(written):
        pattern = _pattern(path)
        if value is None or not _schema_2_path(pattern) or _lost(pattern, lost):
            continue
        if any(part.split("[")[0] in _SERVER_KEYS for part in pattern.split(".")):
            continue
        back = have.get(path)
        if (type(value) is not type(back) or value != back) and pattern not in seen:
            seen.add(pattern)
            found.append(f"{pattern}: {value!r} written, {back!r} read back, and no loss names it")
    return found


_DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")


def _date_paths(doc: Any, path: Path = ()) -> Iterator[Path]:
    """Paths of the strings inside ``doc`` that look like a date or a time."""
    if isinstance(doc, Mapping):
        for key, value in doc.items():
            yield from _date_paths(value, (*path, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from _date_paths(value, (*path, i))
    elif isinstance(doc, str) and _DATE_TEXT.match(doc):
        yield path


_EXACT_AMOUNTS = (Decimal("12.5"), Decimal("12.0"), Decimal("12"), Decimal("0.25"))
"""Amounts a float holds exactly: a float written for one of these still equals it under ``==``."""


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


class ConformanceFixtures:
    """The fixtures every part of the suite shares: defaults, and the capability fixtures.

    A capability fixture (``reading_backend``, ``site_factory``, ``creating_backend``...)
    gives what a test needs, or skips it in one place, naming why: the tests
    themselves never test a capability.
    """

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
        """``factory(count) -> (backend, page_size)`` (``None``: skip the paging and write tests)."""
        return None

    @pytest.fixture
    def failing_write_factory(self) -> FailingWriteFactory | None:
        """``factory(requests) -> backend`` on an empty site whose write requests fail after
        ``requests`` succeeded (``None``: skip the ``PartialWrite`` test)."""
        return None

    # ------------------------------------------------------------ capability fixtures

    @pytest.fixture
    def sample_orders(
        self, backend_class: type[ob.Backend], sample_documents: list[Mapping[str, Any]]
    ) -> list[ob.Order]:
        """The samples as canonical orders."""
        return [backend_class.to_canonical(doc) for doc in sample_documents]

    @pytest.fixture
    def write_sample(self, sample_orders: list[ob.Order]) -> ob.Order:
        """The sample order with the most lines (the one a write can get most wrong)."""
        if not sample_orders:
            pytest.fail("provide at least one sample document")
        return max(sample_orders, key=lambda order: len(order.lines))

    @pytest.fixture
    def reading_backend(self, backend_class: type[ob.Backend], request: pytest.FixtureRequest) -> ob.Backend:
        """The ``backend`` fixture, for a backend that reads."""
        if ob.Capability.READ not in backend_class.capabilities:
            pytest.skip("the backend does not read")
        backend: ob.Backend = request.getfixturevalue("backend")
        return backend

    @pytest.fixture
    def site_factory(
        self, backend_class: type[ob.Backend], paged_backend_factory: PagedBackendFactory | None
    ) -> PagedBackendFactory:
        """``paged_backend_factory``, for a backend that reads."""
        if ob.Capability.READ not in backend_class.capabilities:
            pytest.skip("the backend does not read")
        if paged_backend_factory is None:
            pytest.skip("no paged_backend_factory fixture")
        return paged_backend_factory

    @pytest.fixture
    def creating_backend(
        self, backend_class: type[ob.Backend], site_factory: PagedBackendFactory
    ) -> ob.Backend:
        """A backend connected to a fresh, empty site, for a backend that creates orders."""
        if ob.Capability.CREATE not in backend_class.capabilities:
            pytest.skip("the backend does not create orders")
        return site_factory(0)[0]


class ClassConformance(ConformanceFixtures):
    """The backend class: name, capabilities, registration, documentation, declared options."""

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


class TranslationConformance(ConformanceFixtures):
    """``to_canonical`` and ``from_canonical``: exact round trips, no floats, aware times."""

    def test_samples_are_given(self, sample_documents: list[Mapping[str, Any]]) -> None:
        assert sample_documents, "provide at least one sample document"

    def test_every_sample_round_trips_exactly(
        self, backend_class: type[ob.Backend], sample_documents: list[Mapping[str, Any]]
    ) -> None:
        """``from_canonical(to_canonical(doc))`` is ``doc``, type for type (``Decimal`` is no ``int``)."""
        for doc in sample_documents:
            order = backend_class.to_canonical(doc)
            found = exact_difference(doc, backend_class.from_canonical(order))
            assert found is None, f"{order.label} does not round-trip: {found}"

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

    def test_output_holds_no_float_even_for_exact_amounts(
        self, backend_class: type[ob.Backend], sample_orders: list[ob.Order], write_sample: ob.Order
    ) -> None:
        """No float in ``from_canonical``'s output, even for 12.5 or 12.0 (which a float holds exactly)."""
        for order in sample_orders:
            floats = find_floats(backend_class.from_canonical(order))
            assert not floats, f"{order.label}: floats in the document at {floats[:5]}"
        written = 0
        for amount in _EXACT_AMOUNTS:
            order = _with_amounts(write_sample, amount)
            try:
                doc = backend_class.from_canonical(order)
            except ob.InvalidOrder:
                continue  # an amount the platform refuses (said so, not rounded): fine
            written += 1
            floats = find_floats(doc)
            assert not floats, f"amounts of {amount}: floats in the document at {floats[:5]}"
        assert written, "from_canonical refused every sample order with exactly representable amounts"

    def test_times_keep_their_instant_and_zone(
        self, backend_class: type[ob.Backend], write_sample: ob.Order
    ) -> None:
        """An aware time in an unusual zone comes back as the same instant, never naive."""
        when = datetime(2024, 3, 5, 14, 22, 10, tzinfo=timezone(timedelta(hours=5, minutes=45)))
        order = write_sample.evolve(created_at=when)
        back = backend_class.to_canonical(backend_class.from_canonical(order))
        if back.created_at is None:
            pytest.skip("the documents hold no creation time")
        assert back.created_at.utcoffset() is not None, "created_at came back naive"
        assert back.created_at == when, (
            f"created_at {when.isoformat()} came back as {back.created_at.isoformat()}"
        )


def _with_amounts(order: ob.Order, amount: Decimal) -> ob.Order:
    """``order`` with every money amount set to ``amount`` (quantities kept)."""
    lines = [
        attrs.evolve(
            line,
            unit_price=amount if line.unit_price is not None else None,
            total_price=amount * line.quantity if line.total_price is not None else None,
            subtotal=amount * line.quantity if line.subtotal is not None else None,
            tax_amount=amount if line.tax_amount is not None else None,
        )
        for line in order.lines
    ]
    payments = [attrs.evolve(p, amount=amount if p.amount is not None else None) for p in order.payments]
    return order.evolve(
        total=amount if order.total is not None else None,
        lines=lines,
        payments=payments,
        shipping_lines=[
            attrs.evolve(ship, cost=amount if ship.cost is not None else None)
            for ship in order.shipping_lines
        ],
        fees=[attrs.evolve(fee, amount=amount if fee.amount is not None else None) for fee in order.fees],
    )


class BadDocumentConformance(ConformanceFixtures):
    """A bad document is an :class:`~orderbridge.InvalidOrder` naming its field, never another exception."""

    @pytest.mark.parametrize("bad", [19.99, 12.5, "ten"], ids=["float", "exact-float", "text"])
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

    @pytest.mark.parametrize("bad", ["not a date", "2024-13-45T99:99:99"], ids=["text", "out-of-range"])
    def test_bad_date_raises_invalid_order_naming_it(
        self, backend_class: type[ob.Backend], sample_documents: list[Mapping[str, Any]], bad: str
    ) -> None:
        """An unparseable date is an ``InvalidOrder`` whose ``field`` names it (not a TypeError)."""
        tried = refused = 0
        for doc in sample_documents:
            for path in _date_paths(doc):
                tried += 1
                where = _spell(path)
                try:
                    backend_class.to_canonical(_with_value(doc, path, bad))
                except ob.InvalidOrder as exc:
                    refused += 1
                    assert exc.field is not None and str(path[-1]) in exc.field, (
                        f"{where} = {bad!r}: the InvalidOrder names field {exc.field!r}"
                    )
                except Exception as exc:
                    pytest.fail(f"{where} = {bad!r} raised {type(exc).__name__}, not InvalidOrder: {exc}")
            if tried:
                break  # one sample's dates are enough
        if not tried:
            pytest.skip("no sample holds a date")
        assert refused, f"a bad date ({bad!r}) was accepted in every date field of a sample"

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

    def test_decode_record_bytes_agrees_with_decode_record(
        self,
        backend_class: type[ob.Backend],
        sample_documents: list[Mapping[str, Any]],
        request: pytest.FixtureRequest,
    ) -> None:
        """The bytes of a document give the record its parsed form gives (a faster reader included)."""
        try:
            backend: ob.Backend = request.getfixturevalue("backend")
        except pytest.FixtureLookupError:
            pytest.skip("no backend fixture")
        texts: list[bytes] = []
        for sample in sample_documents:
            texts.append(jsonutil.dumpb(sample))
            if isinstance(sample, Mapping):
                texts.append(jsonutil.dumpb({**sample, "orderbridgeConformanceKey": 1}))
                texts.append(jsonutil.dumpb(dict(sample))[:-1] + b',"orderbridgeNaN":NaN}')
        for data in texts:
            fast = backend.decode_record_bytes(data)
            slow = backend.decode_record(jsonutil.loads(data))
            if isinstance(slow, ob.InvalidOrder):
                assert isinstance(fast, ob.InvalidOrder), (
                    f"{data[:80]!r}: accepted from bytes, refused parsed"
                )
                assert (str(fast), fast.field, fast.order) == (str(slow), slow.field, slow.order)
            else:
                assert isinstance(fast, ob.Order), f"{data[:80]!r}: refused from bytes: {fast}"
                assert ob.order_to_json(fast) == ob.order_to_json(slow)


class ReadConformance(ConformanceFixtures):
    """Listing, getting, counting; operations the backend lacks fail before any request."""

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
        self, reading_backend: ob.Backend, request: pytest.FixtureRequest
    ) -> None:
        backend = reading_backend
        expected: int = request.getfixturevalue("expected_order_count")
        orders = list(backend.iter_orders())
        assert len(orders) == expected
        ids = [backend.remote_id_of(o) for o in orders]
        assert len(set(ids)) == len(ids), "an order was listed twice"
        for order in orders[:3]:
            remote_id = backend.remote_id_of(order)
            assert backend.remote_id_of(backend.get_order(remote_id)) == remote_id

    def test_count_is_exact_or_unknown(
        self, reading_backend: ob.Backend, request: pytest.FixtureRequest
    ) -> None:
        """``count_orders()`` is ``None`` (unknown) or exactly what ``iter_orders()`` lists."""
        count = reading_backend.count_orders()
        if count is not None:
            assert count == request.getfixturevalue("expected_order_count")

    def test_missing_order_raises_not_found(self, reading_backend: ob.Backend, missing_order_id: str) -> None:
        with pytest.raises(ob.NotFound):
            reading_backend.get_order(missing_order_id)


class PagingConformance(ConformanceFixtures):
    """Listing sites of sizes the suite chooses around the page size: nothing skipped or repeated."""

    def test_lists_every_order_at_the_page_edges(self, site_factory: PagedBackendFactory) -> None:
        empty, page_size = site_factory(0)
        assert isinstance(page_size, int) and page_size >= 1, f"page size {page_size!r} is not a count"
        sizes = sorted(
            n
            for n in {
                1,
                page_size - 1,
                page_size,
                page_size + 1,
                2 * page_size,
                2 * page_size + 1,
                3 * page_size,
            }
            if n >= 1
        )
        for count, backend in [(0, empty)] + [(n, site_factory(n)[0]) for n in sizes]:
            where = f"a site of {count} orders, {page_size} per page"
            records = list(backend.iter_records())
            bad = [r for r in records if not isinstance(r, ob.Order)]
            assert not bad, f"{where}: not orders: {bad[:3]!r}"
            assert len(records) == count, f"{where}: {len(records)} records listed"
            ids = [backend.remote_id_of(r) for r in records if isinstance(r, ob.Order)]
            assert len(set(ids)) == len(ids), f"{where}: an order was listed twice"
            listed = [backend.remote_id_of(o) for o in backend.iter_orders()]
            assert listed == ids, f"{where}: iter_orders() and iter_records() list different orders"
            counted = backend.count_orders()
            assert counted is None or counted == count, f"{where}: count_orders() says {counted}"


class WriteConformance(ConformanceFixtures):
    """Creating orders: read back equal, journaled, recognisable, deletable, partial writes said."""

    def test_created_order_reads_back_equal(
        self, creating_backend: ob.Backend, write_sample: ob.Order
    ) -> None:
        """Every field the target holds (not in its losses) reads back equal, type for type."""
        backend = creating_backend
        created = backend.create_order(write_sample)
        back = backend.get_order(backend.remote_id_of(created))
        losses = backend.losses(write_sample)
        wrong = held_differences(write_sample, back, losses)
        assert not wrong, f"the created order reads back different: {wrong[:5]}"
        wrong = held_differences(created, back, ())
        assert not wrong, f"create_order returned an order the site does not hold: {wrong[:5]}"

    def test_journal_records_the_order_first(
        self, creating_backend: ob.Backend, write_sample: ob.Order
    ) -> None:
        """A journaled write names the order's id in its first step, ``order``, before anything else."""
        journal = RecordingJournal()
        created = creating_backend.create_order(write_sample, journal=journal)
        if not journal.steps:
            return  # one request: nothing to journal
        remote_id = creating_backend.remote_id_of(created)
        step, detail = journal.steps[0]
        assert step == "order", f"the first journal step is {step!r}, not 'order'"
        assert remote_id in {str(v) for v in detail.values()}, (
            f"the 'order' step {detail!r} does not name the created order {remote_id!r}"
        )
        assert [s for s, _ in journal.steps].count("order") == 1, "the order was journaled twice"

    def test_created_order_is_found_again(self, creating_backend: ob.Backend, write_sample: ob.Order) -> None:
        """A migration recognises what it wrote: by the stamp it wrote, or by ``find_order``."""
        backend = creating_backend
        source = write_sample.source or ob.SourceRef("conformance-source", "4242")
        stamp = ob.Stamp(source.backend, "https://source.example", source.remote_id)
        if backend.writes_stamps:
            created = backend.create_order(write_sample, stamp=stamp)
        else:
            created = backend.create_order(write_sample)
        remote_id = backend.remote_id_of(created)
        if backend.writes_stamps:
            found = backend.stamp_of(backend.get_order(remote_id))
            assert found is not None and found.same_order(stamp), f"the stamp read back is {found!r}"
            ledger = [o for o in backend.iter_ledger() if isinstance(o, ob.Order)]
            assert any(backend.stamp_of(o) == found for o in ledger), "the ledger does not show the stamp"
        if backend.natural_key(write_sample) is None:
            assert backend.writes_stamps, "neither a stamp nor a natural key recognises the created order"
            return
        copy = backend.find_order(write_sample)
        assert copy is not None, "find_order does not find the order create_order wrote"
        assert backend.remote_id_of(copy) == remote_id, "find_order found another order"

    def test_deleted_order_is_not_found(self, creating_backend: ob.Backend, write_sample: ob.Order) -> None:
        backend = creating_backend
        if ob.Capability.DELETE not in backend.capabilities:
            pytest.skip("the backend does not delete orders")
        remote_id = backend.remote_id_of(backend.create_order(write_sample))
        backend.delete_order(remote_id)
        with pytest.raises(ob.NotFound):
            backend.get_order(remote_id)

    def test_partial_write_says_what_was_written(
        self,
        backend_class: type[ob.Backend],
        failing_write_factory: FailingWriteFactory | None,
        write_sample: ob.Order,
    ) -> None:
        """A write cut short raises ``PartialWrite`` naming the order the site now holds, as journaled."""
        if failing_write_factory is None:
            pytest.skip("no failing_write_factory fixture")
        backend = failing_write_factory(1)
        journal = RecordingJournal()
        with pytest.raises(ob.PartialWrite) as info:
            backend.create_order(write_sample, journal=journal)
        written = info.value.written
        order_id = written.get("order_id")
        assert order_id is not None, f"PartialWrite.written names no order_id: {written!r}"
        assert journal.steps and journal.steps[0][0] == "order", "the order was not journaled first"
        assert str(order_id) in {str(v) for v in journal.steps[0][1].values()}
        steps = written.get("steps")
        if steps is not None:
            assert [s.split(":")[0] for s in steps] == [s for s, _ in journal.steps], (
                f"PartialWrite.written steps {steps} are not the journal's {journal.steps}"
            )

    def test_foreign_order_is_created_without_its_ids(
        self, creating_backend: ob.Backend, write_sample: ob.Order
    ) -> None:
        """An order from another platform: its customer, status, product and parent ids are not written."""
        if self.stores_foreign_orders:
            pytest.skip("the backend stores orders of every platform with their source")
        backend = creating_backend
        order = foreign_order(write_sample)
        try:
            created = backend.create_order(order)
        except ob.UnresolvedReference:
            return  # refused before writing: no foreign id was written
        back = backend.get_order(backend.remote_id_of(created))
        canaries = set(FOREIGN_IDS.values())
        for path, value in walk_values(back):
            if "remote_id" in path or "ref" in path:
                assert str(value) not in canaries, f"{path} holds the other platform's id {value!r}"


class LossConformance(ConformanceFixtures):
    """Losses: what a write cannot keep, foreign extras included; foreign ids never written."""

    def test_losses_are_well_formed(
        self, backend_class: type[ob.Backend], sample_orders: list[ob.Order]
    ) -> None:
        for order in [*sample_orders, *map(foreign_order, sample_orders[:3])]:
            for loss in backend_class.losses(order):
                assert isinstance(loss, ob.Loss), f"{loss!r} is no orderbridge.Loss"
                assert isinstance(loss.field, str) and loss.field and isinstance(loss.reason, str)
                assert loss.amount is None or type(loss.amount) is Decimal, (
                    f"{loss.field}: amount not Decimal"
                )

    def test_losses_include_other_backends_extras(
        self, backend_class: type[ob.Backend], write_sample: ob.Order
    ) -> None:
        """Extras belong to one backend: another backend's are a loss, or (a staging store) kept."""
        order = foreign_order(write_sample)
        if backend_class.keeps_foreign_extras:
            back = backend_class.to_canonical(backend_class.from_canonical(order))
            assert back.extras.get(FOREIGN_BACKEND) == order.extras[FOREIGN_BACKEND]
            return
        fields = {loss.field for loss in backend_class.losses(order)}
        expected = {f"extras.{FOREIGN_BACKEND}"}
        if order.lines:
            expected.add(f"lines[].extras.{FOREIGN_BACKEND}")
        assert expected <= fields, (
            f"losses do not name the other backend's extras: {sorted(expected - fields)}"
        )

    def test_schema_2_fields_are_kept_or_reported(
        self, backend_class: type[ob.Backend], write_sample: ob.Order
    ) -> None:
        """Every field schema 2 added (fees, refunds, shipping lines, metadata, per-line amounts...):
        written and read back through the translation, it is either kept or named by ``losses()``."""
        order = schema_2_order(write_sample)
        losses = backend_class.losses(order)
        back = backend_class.to_canonical(backend_class.from_canonical(order))
        missing = schema_2_differences(order, back, losses)
        assert not missing, "dropped without a loss:\n" + "\n".join(missing)

    def test_foreign_order_translates_without_its_ids(
        self, backend_class: type[ob.Backend], write_sample: ob.Order
    ) -> None:
        """No id of another platform (customer, status, products, parent, the order's own) in the document."""
        if self.stores_foreign_orders:
            pytest.skip("the backend stores orders of every platform with their source")
        order = foreign_order(write_sample)
        doc = backend_class.from_canonical(order)
        canaries = {value: field for field, value in FOREIGN_IDS.items()}
        for path, value in walk_values(doc, "doc"):
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value) in canaries:
                pytest.fail(f"{path} holds the other platform's {canaries[str(value)]} {value!r}")
            if not backend_class.keeps_foreign_extras:
                assert value != _FOREIGN_EXTRA, f"{path} holds another backend's extras"


class SecretsConformance(ConformanceFixtures):
    """Credentials: wrong ones are an ``AuthenticationError``; the secret never shows."""

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


class BackendConformance(
    ClassConformance,
    TranslationConformance,
    BadDocumentConformance,
    ReadConformance,
    PagingConformance,
    WriteConformance,
    LossConformance,
    SecretsConformance,
):
    """Every part of the suite in one class (suite 1's name, kept). Inherit and provide the fixtures."""
