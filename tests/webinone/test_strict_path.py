"""The fast read path (JSON bytes straight into the strict schema) gives exactly the records of the dict path.

The dict path (``jsonutil.loads``, then ``decode_record``) is the reference: for
every document, good or bad, the bytes path must give the same order (same
canonical JSON, same v1 and v2 documents) or the same ``InvalidOrder``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from orderbridge_webinone import WebinOneV1, WebinOneV2, schema
from orderbridge_webinone import translate as tr
from orderbridge_webinone.generator import generate_documents

import orderbridge as ob
from orderbridge import jsonutil

from ..poison import DELETE, raw_at, set_at
from .conftest import BASE, V1, V2

ZONES = ("UTC", "Australia/Sydney", "America/New_York")


def _backend(version: str, zone: str = "UTC") -> ob.Backend:
    if version == "v2":
        return WebinOneV2(BASE, token="t", sleep=lambda s: None)
    return WebinOneV1(BASE, token="t", site_timezone=zone, sleep=lambda s: None)


def _same_record(fast: ob.Order | ob.InvalidOrder, slow: ob.Order | ob.InvalidOrder) -> None:
    if isinstance(slow, ob.InvalidOrder):
        assert isinstance(fast, ob.InvalidOrder), fast
        assert (str(fast), fast.field, fast.order) == (str(slow), slow.field, slow.order)
        return
    assert isinstance(fast, ob.Order), str(fast)
    assert fast == slow
    assert ob.order_to_json(fast) == ob.order_to_json(slow)
    for target in (WebinOneV2, WebinOneV1):
        assert jsonutil.dumpb(target.from_canonical(fast)) == jsonutil.dumpb(target.from_canonical(slow))


def _amounts(order: ob.Order) -> Iterator[Any]:
    yield order.total
    for line in order.lines:
        yield from (line.quantity, line.unit_price, line.total_price)
    for pay in order.payments:
        yield pay.amount


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("seed", [1, 7, 23])
@pytest.mark.parametrize("zone", ZONES)
def test_generated_documents_take_the_fast_path_and_match(version: str, seed: int, zone: str) -> None:
    backend = _backend(version, zone)
    own = tr.V2 if version == "v2" else tr.V1
    for doc in generate_documents(60, version=version, seed=seed):  # type: ignore[arg-type]
        data = jsonutil.dumpb(doc)
        fast = tr.to_canonical_strict(data, own, backend._zone)  # type: ignore[attr-defined]
        assert fast is not None, "a generated document must take the fast path"
        _same_record(fast, backend.decode_record(jsonutil.loads(data)))
        _same_record(backend.decode_record_bytes(data), backend.decode_record(jsonutil.loads(data)))
        assert all(type(v) is Decimal for v in _amounts(fast) if v is not None)
        assert fast.created_at is None or fast.created_at.tzinfo is not None
        assert all(isinstance(p.created_at, datetime | None) for p in fast.payments)


# ------------------------------------------------------------------ bad and unusual documents

_GOOD = {
    "v1": next(iter(generate_documents(1, version="v1", seed=3))),
    "v2": next(iter(generate_documents(1, version="v2", seed=3))),
}

# Changes a document may take; each must give the dict path's record, fast path or not.
MUTATIONS: dict[str, Any] = {
    "unknown key": set_at(["Extra"], {"a": 1}),
    "unknown key in a line": set_at(["OrderLines", 0, "Colour"], "red"),
    "unknown key in a payment": set_at(["Payments", 0, "Fee"], Decimal("0.30")),
    "unknown key in Member": set_at(["Member", "Phone"], "123"),
    "unknown key in ShippingInfo": set_at(["ShippingInfo", "Lat"], 1),
    "unknown key in Discount": set_at(["Discount", "Id"], 5),
    "wrong type": set_at(["OrderLines", 0, "Quantity"], "two"),
    "text amount": set_at(["TotalCost"], "4.42"),
    "float literal in an id": raw_at(["Id"], b"1.0"),
    "bool id": set_at(["Id"], True),
    "text id": set_at(["Id"], "0042"),
    "big id": raw_at(["Id"], b"123456789012345678901234567890"),
    "missing Id": set_at(["Id"], DELETE),
    "no lines": set_at(["OrderLines"], DELETE),
    "null lines": set_at(["OrderLines"], None),
    "NaN": raw_at(["OrderLines", 0, "UnitPrice"], b"NaN"),
    "1e400": raw_at(["OrderLines", 0, "UnitPrice"], b"1e400"),
    "huge exponent": raw_at(["TotalCost"], b"1e99999999999999999999"),
    "bad UTF-8": raw_at(["OrderName"], b'"caf\xe9 \xff"'),
    "lone surrogate": raw_at(["OrderName"], b'"\\ud800"'),
    "bad timestamp": set_at(["CreatedDateTime"], "yesterday"),
    "odd timestamp spelling": set_at(["CreatedDateTime"], "2022-01-14 09:47:37"),
    "deep custom field": raw_at(["CustomCrmGroups"], b'{"g": {"f": ' + b"[" * 70 + b"]" * 70 + b"}}"),
    "custom list value": set_at(["CustomCrmGroups"], {"g": {"f": [1, 2]}}),
    "custom scalar values": set_at(["CustomCrmGroups"], {"g": {"a": 1, "b": "x", "c": None, "d": True}}),
    "custom group not an object": set_at(["CustomCrmGroups"], {"g": 3}),
    "null part": set_at(["ShippingInfo"], None),
    "line not an object": set_at(["OrderLines", 0], "x"),
    "attribute with an unknown key": set_at(
        ["OrderLines", 0, "Attributes"], [{"AttributeId": 1, "OptionsIds": ["2"], "X": 1}]
    ),
    "negative quantity": set_at(["OrderLines", 0, "Quantity"], -1),
    "not an object": lambda doc: b"[1, 2]",
    "not JSON": lambda doc: b'{"Id": 1,',
    "duplicate key": lambda doc: jsonutil.dumpb(doc)[:-1] + b',"Id":"x"}',
}


def _mutated(version: str, name: str, good: dict[str, Any] | None = None) -> bytes:
    doc = copy.deepcopy(_GOOD[version] if good is None else good)
    if not doc.get("Payments"):  # every mutation needs a payment and a line to change
        doc["Payments"] = [{"Id": 9, "Amount": Decimal("1.00"), "Status": "Succeeded"}]
    assert doc["OrderLines"]
    result = MUTATIONS[name](doc)
    return result if isinstance(result, bytes) else jsonutil.dumpb(doc)


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_a_changed_document_gives_the_dict_paths_record(version: str, name: str) -> None:
    data = _mutated(version, name)
    backend = _backend(version, "Australia/Sydney")
    try:
        slow = backend.decode_record(jsonutil.loads(data))
    except ValueError:  # not JSON: the bytes path says so as an InvalidOrder
        record = backend.decode_record_bytes(data)
        assert isinstance(record, ob.InvalidOrder) and "is not JSON" in str(record)
        return
    _same_record(backend.decode_record_bytes(data), slow)


def test_unknown_keys_leave_the_fast_path_and_are_kept() -> None:
    data = _mutated("v2", "unknown key in a line")
    assert schema.decode_strict(data, schema.V2Document) is None
    record = _backend("v2").decode_record_bytes(data)
    assert isinstance(record, ob.Order)
    assert record.lines[0].extras["webinone-v2"]["unknown"] == {"": {"Colour": "red"}}


# Any JSON value at any path of a good document: the bytes path agrees with the dict path.
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.decimals(allow_nan=False, allow_infinity=False, places=2)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


_ALL_PATHS = {version: [p for p in _paths(doc) if p] for version, doc in _GOOD.items()}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    version=st.sampled_from(["v1", "v2"]),
    data=st.data(),
    value=_JSON,
    new_key=st.booleans(),
)
def test_any_value_anywhere_gives_the_dict_paths_record(
    version: str, data: st.DataObject, value: Any, new_key: bool
) -> None:
    doc = copy.deepcopy(_GOOD[version])
    path = data.draw(st.sampled_from(_ALL_PATHS[version]))
    target: Any = doc
    for step in path[:-1]:
        target = target[step]
    if new_key and isinstance(target, dict):
        target[f"{path[-1]}X"] = value  # a key the page does not have
    else:
        target[path[-1]] = value
    raw = jsonutil.dumpb(doc)
    backend = _backend(version, "America/New_York")
    _same_record(backend.decode_record_bytes(raw), backend.decode_record(jsonutil.loads(raw)))


# ------------------------------------------------------------------ the read path of a client


def _page_bytes(items: list[bytes], total: int) -> bytes:
    return b'{"Items": [' + b",".join(items) + b'], "TotalItemsCount": ' + str(total).encode() + b"}"


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_a_page_reads_each_order_on_its_own_and_matches(version: str) -> None:
    """Clean orders, orders with unknown keys and bad orders on one page: the records of
    today's path (the page parsed, each item through decode_record), in order."""
    docs = list(generate_documents(6, version=version, seed=11))  # type: ignore[arg-type]
    items = [jsonutil.dumpb(d) for d in docs]
    items[1] = _mutated(version, "unknown key in a payment", docs[1])
    items[3] = _mutated(version, "NaN", docs[3])
    items[4] = _mutated(version, "wrong type", docs[4])
    items.insert(5, b"42")
    body = _page_bytes(items, len(items))
    url = V2 if version == "v2" else V1
    backend = _backend(version, "Australia/Sydney")
    expected = [backend.decode_record(item) for item in jsonutil.loads(body)["Items"]]
    with responses.RequestsMock() as rsps:
        rsps.add("GET", url, body=body, content_type="application/json")
        records = list(backend.iter_records())
    assert len(records) == len(expected) == 7
    for fast, slow in zip(records, expected, strict=True):
        _same_record(fast, slow)
    assert sum(isinstance(r, ob.InvalidOrder) for r in records) == 3


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_clean_pages_and_orders_build_no_dict(version: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The read path of a clean page (and of one order) goes straight from bytes to orders:
    neither the page's nor an order's dict is made."""
    docs = list(generate_documents(3, version=version, seed=5))  # type: ignore[arg-type]
    body = _page_bytes([jsonutil.dumpb(d) for d in docs], 3)
    url = V2 if version == "v2" else V1
    backend = _backend(version)
    expected = [backend.decode_record(d) for d in jsonutil.loads(body)["Items"]]

    def no_dict(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the dict path was taken")

    monkeypatch.setattr(jsonutil, "loads", no_dict)
    monkeypatch.setattr(schema, "decode", no_dict)
    with responses.RequestsMock() as rsps:
        rsps.add("GET", url, body=body, content_type="application/json")
        rsps.add(
            "GET", f"{url}/{docs[0]['Id']}", body=jsonutil.dumpb(docs[0]), content_type="application/json"
        )
        records = list(backend.iter_records())
        one = backend.get_order(str(docs[0]["Id"]))
    for fast, slow in zip(records, expected, strict=True):
        _same_record(fast, slow)
    _same_record(one, expected[0])


def test_a_page_the_envelope_reader_refuses_is_read_as_before() -> None:
    """NaN anywhere makes the page unreadable for msgspec: the page is parsed the tolerant way
    and the one bad order is one failed record."""
    docs = list(generate_documents(3, version="v2", seed=5))
    items = [jsonutil.dumpb(d) for d in docs]
    items[1] = items[1].replace(b'"OrderName":', b'"X":NaN,"OrderName":', 1)
    body = _page_bytes(items, 3)
    with responses.RequestsMock() as rsps:
        rsps.add("GET", V2, body=body, content_type="application/json")
        records = list(_backend("v2").iter_records())
    assert [type(r).__name__ for r in records] == ["Order", "InvalidOrder", "Order"]
    assert records[1].field == "X"  # type: ignore[union-attr]


def test_the_default_reads_bytes_through_decode_record() -> None:
    """A backend that does not override ``decode_record_bytes`` parses and calls ``decode_record``."""
    backend = ob.connect("jsonl", path="unused.jsonl")
    assert isinstance(backend.decode_record_bytes(b"{"), ob.InvalidOrder)
    order = ob.Order(source=ob.SourceRef("x", "1"), total=Decimal("1.10"))
    assert backend.decode_record_bytes(ob.order_to_json(order).encode()) == order
