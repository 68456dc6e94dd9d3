"""One bad order in a cart list page is one failed record: the orders around it are read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import responses
from orderbridge_lunasoft.generator import generate_orders

import orderbridge as ob
from orderbridge import jsonutil

from ..poison import DELETE, bad_bytes, raw_at, set_at

BASE = "https://shop.example.com/api/v1/shopping_cart"
KINDS: dict[str, tuple[Callable[[dict[str, Any]], Any], str | None, bool]] = {
    "wrong type": (set_at(["line_items", 0, "quantity"], {"n": 1}), "line_items[0].quantity", True),
    "missing id": (set_at(["id"], DELETE), None, False),
    "NaN": (raw_at(["line_items", 0, "cost"], b"NaN"), "line_items[0].cost", True),
    "Infinity": (raw_at(["total"], b"Infinity"), "total", True),
    "1e400": (raw_at(["line_items", 0, "cost"], b"1e400"), "line_items[0].cost", True),
    "not an object": (lambda doc: b'"an order"', None, False),
    "deep nesting": (
        raw_at(["order_description"], b"[" * 100_000 + b"]" * 100_000),
        "order_description",
        True,
    ),
    "bad UTF-8": (raw_at(["order_description"], b'"\xc3\x28 broken"'), "order_description", True),
    "no line_items": (set_at(["line_items"], DELETE), "line_items", True),
    "line without cost": (set_at(["line_items", 0, "cost"], DELETE), "line_items[0].cost", True),
    "line without quantity": (set_at(["line_items", 0, "quantity"], DELETE), "line_items[0].quantity", True),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_one_poisoned_document_is_one_failed_record(kind: str) -> None:
    docs = []
    for doc in generate_orders(3, seed=4, start_id=100):
        doc.pop("statuses")
        docs.append(doc)
    mutate, field, id_readable = KINDS[kind]
    bad = bad_bytes(docs[1], mutate)
    items = [jsonutil.dumps(docs[0]).encode(), bad, jsonutil.dumps(docs[2]).encode()]
    body = b'{"orders": [' + b",".join(items) + b'], "next_page": false}'
    with responses.RequestsMock() as rsps:
        rsps.add("GET", BASE + "/orders", body=body, content_type="application/json")
        backend = ob.connect(
            "lunasoft-cart", base_url=BASE, api_key="k", fetch_statuses=False, sleep=lambda s: None
        )
        records = list(backend.iter_records())
    assert len(records) == 3
    good = [r for r in records if isinstance(r, ob.Order)]
    assert [o.source.remote_id for o in good if o.source] == ["100", "102"]
    (failed,) = [r for r in records if isinstance(r, ob.InvalidOrder)]
    assert failed.order == ("101" if id_readable else "?"), str(failed)
    if field is not None:
        assert failed.field is not None and failed.field.startswith(field), str(failed)
