"""One bad order in a list page is one failed record: the orders around it are read (v1 and v2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import responses
from orderbridge_webinone import WebinOneV1, WebinOneV2

import orderbridge as ob
from orderbridge import jsonutil

from .conftest import BASE, V1, V2, deep, load, real_v2_doc

RAW = "__raw__"
Mutation = Callable[[dict[str, Any]], bytes | None]


def _with(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(doc: dict[str, Any]) -> None:
        target: Any = doc
        for step in path[:-1]:
            target = target[step]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return apply


_DELETE = object()


def _raw(path: list[Any], token: bytes) -> Callable[[dict[str, Any]], bytes]:
    """The document as JSON bytes with ``token`` written raw at ``path`` (NaN, 1e400, bad UTF-8...)."""

    def apply(doc: dict[str, Any]) -> bytes:
        _with(path, RAW)(doc)
        return jsonutil.dumps(doc).encode().replace(f'"{RAW}"'.encode(), token)

    return apply


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


# kind -> (mutation of a good document, the field the failure must name, whether the id is readable)
KINDS: dict[str, tuple[Callable[[dict[str, Any]], Any], str | None, bool]] = {
    "wrong type": (_with(["OrderLines", 0, "Quantity"], "two"), "OrderLines[0].Quantity", True),
    "missing Id": (_with(["Id"], _DELETE), "Id", False),
    "NaN": (_raw(["OrderLines", 0, "UnitPrice"], b"NaN"), "OrderLines[0].UnitPrice", True),
    "Infinity": (_raw(["OrderLines", 0, "Quantity"], b"Infinity"), "OrderLines[0].Quantity", True),
    "-Infinity": (_raw(["OrderLines", 0, "UnitPrice"], b"-Infinity"), "OrderLines[0].UnitPrice", True),
    "1e400": (_raw(["OrderLines", 0, "UnitPrice"], b"1e400"), "OrderLines[0].UnitPrice", True),
    "not an object": (lambda doc: b"42", None, False),
    "deep nesting": (
        _raw(["CustomCrmGroups"], b'{"g": {"f": ' + _deep(100_000) + b"}}"),
        "CustomCrmGroups.g.f",
        True,
    ),
    "bad UTF-8": (_raw(["OrderName"], b'"caf\xe9 \xff"'), "OrderName", True),
    "line without UnitPrice": (
        _with(["OrderLines", 0, "UnitPrice"], _DELETE),
        "OrderLines[0].UnitPrice",
        True,
    ),
    "line without Quantity": (_with(["OrderLines", 0, "Quantity"], _DELETE), "OrderLines[0].Quantity", True),
    "no lines": (_with(["OrderLines"], _DELETE), "OrderLines", True),
    "line that is not an object": (_with(["OrderLines", 0], "x"), "OrderLines[0]", True),
}


def _page(url: str, good: list[dict[str, Any]], bad: bytes) -> bytes:
    parts = [jsonutil.dumps(good[0]).encode(), bad, jsonutil.dumps(good[1]).encode()]
    return b'{"Items": [' + b",".join(parts) + b'], "TotalItemsCount": 3}'


def _bad_bytes(good: dict[str, Any], kind: str) -> bytes:
    mutate = KINDS[kind][0]
    doc = deep(good)
    result = mutate(doc)
    return result if isinstance(result, bytes) else jsonutil.dumps(doc).encode()


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
