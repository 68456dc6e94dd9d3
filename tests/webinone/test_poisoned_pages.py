"""One bad order in a list page is one failed record: the orders around it are read (v1 and v2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import responses
from orderbridge_webinone import WebinOneV1, WebinOneV2

import orderbridge as ob
from orderbridge import jsonutil

from ..poison import DELETE, bad_bytes, raw_at, set_at
from .conftest import BASE, V1, V2, deep, load, real_v2_doc


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


# kind -> (mutation of a good document, the field the failure must name, whether the id is readable)
KINDS: dict[str, tuple[Callable[[dict[str, Any]], Any], str | None, bool]] = {
    "wrong type": (set_at(["OrderLines", 0, "Quantity"], "two"), "OrderLines[0].Quantity", True),
    "missing Id": (set_at(["Id"], DELETE), "Id", False),
    "NaN": (raw_at(["OrderLines", 0, "UnitPrice"], b"NaN"), "OrderLines[0].UnitPrice", True),
    "Infinity": (raw_at(["OrderLines", 0, "Quantity"], b"Infinity"), "OrderLines[0].Quantity", True),
    "-Infinity": (raw_at(["OrderLines", 0, "UnitPrice"], b"-Infinity"), "OrderLines[0].UnitPrice", True),
    "1e400": (raw_at(["OrderLines", 0, "UnitPrice"], b"1e400"), "OrderLines[0].UnitPrice", True),
    "not an object": (lambda doc: b"42", None, False),
    "deep nesting": (
        raw_at(["CustomCrmGroups"], b'{"g": {"f": ' + _deep(100_000) + b"}}"),
        "CustomCrmGroups.g.f",
        True,
    ),
    "bad UTF-8": (raw_at(["OrderName"], b'"caf\xe9 \xff"'), "OrderName", True),
    "line without UnitPrice": (
        set_at(["OrderLines", 0, "UnitPrice"], DELETE),
        "OrderLines[0].UnitPrice",
        True,
    ),
    "line without Quantity": (set_at(["OrderLines", 0, "Quantity"], DELETE), "OrderLines[0].Quantity", True),
    "no lines": (set_at(["OrderLines"], DELETE), "OrderLines", True),
    "line that is not an object": (set_at(["OrderLines", 0], "x"), "OrderLines[0]", True),
}


def _page(url: str, good: list[dict[str, Any]], bad: bytes) -> bytes:
    parts = [jsonutil.dumps(good[0]).encode(), bad, jsonutil.dumps(good[1]).encode()]
    return b'{"Items": [' + b",".join(parts) + b'], "TotalItemsCount": 3}'


def _bad_bytes(good: dict[str, Any], kind: str) -> bytes:
    return bad_bytes(good, KINDS[kind][0])


def _v2_docs() -> list[dict[str, Any]]:
    return [real_v2_doc(order_id=i) for i in (100, 200, 300)]


def _v1_docs() -> list[dict[str, Any]]:
    sample = load("v1_list.json")["Items"][0]
    return [dict(deep(sample), Id=i) for i in (100, 200, 300)]


CLIENTS: dict[str, tuple[str, Callable[[], ob.Backend], Callable[[], list[dict[str, Any]]]]] = {
    "webinone-v2": (V2, lambda: WebinOneV2(BASE, token="t", sleep=lambda s: None), _v2_docs),
    "webinone-v1": (V1, lambda: WebinOneV1(BASE, token="t", sleep=lambda s: None), _v1_docs),
}


@pytest.mark.parametrize("backend", sorted(CLIENTS))
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_one_poisoned_document_is_one_failed_record(backend: str, kind: str) -> None:
    url, make, docs = CLIENTS[backend]
    first, middle, last = docs()
    body = _page(url, [first, last], _bad_bytes(middle, kind))
    with responses.RequestsMock() as rsps:
        rsps.add("GET", url, body=body, content_type="application/json")
        records = list(make().iter_records())
    assert len(records) == 3
    good = [r for r in records if isinstance(r, ob.Order)]
    assert [o.source.remote_id for o in good if o.source] == ["100", "300"]
    (bad,) = [r for r in records if isinstance(r, ob.InvalidOrder)]
    _, field, id_readable = KINDS[kind]
    assert bad.order == ("200" if id_readable else "?"), str(bad)
    if field is not None:
        assert bad.field is not None and bad.field.startswith(field), str(bad)
    assert "Traceback" not in str(bad) and len(str(bad)) < 400
