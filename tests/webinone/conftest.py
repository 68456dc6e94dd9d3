"""Shared fixtures of the WebinOne tests: page samples, mocked HTTP, simulated sites."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses
from orderbridge_webinone import WebinOneV1, WebinOneV2
from orderbridge_webinone.simulator import WebinOneSimulator

import orderbridge as ob
from orderbridge import jsonutil
from orderbridge.sandbox import SimServer

DATA = Path(__file__).parent / "data"
BASE = "https://shop.example.com"
V2 = f"{BASE}/api/v2/admin/orders"
V1 = f"{BASE}/api/v1/orders"


def load(name: str) -> Any:
    """A sample of the pages, made strict JSON, parsed with exact Decimals."""
    return jsonutil.loads((DATA / name).read_text(encoding="utf-8"))


@pytest.fixture
def v2_doc() -> dict[str, Any]:
    """The v2 ``GET /api/v2/admin/orders/{id}`` sample of the page."""
    return load("v2_order.json")  # type: ignore[no-any-return]


@pytest.fixture
def v1_doc() -> dict[str, Any]:
    """The v1 ``GET /api/v1/orders/:id`` sample of the page."""
    return load("v1_order.json")  # type: ignore[no-any-return]


def real_v2_doc(order_id: int = 812, **changes: Any) -> dict[str, Any]:
    """A v2 document with realistic values (the page's placeholders replaced)."""
    doc = load("v2_order.json")
    doc.update(
        {
            "Id": order_id,
            "CurrencyCountry": "USD/US",
            "Currency": "USD",
            "Country": "US",
            "InvoiceNumber": 65,
            "OrderName": "General Payment",
            "MemberId": 28049,
            "StatusId": 13176,
            "MainOrderId": None,
            "IsDeleted": False,
        }
    )
    doc["StatusShort"] = {"Id": 13176, "Name": "Paid"}
    doc["Member"] = {"Id": 28049, "Email": "test@test.com", "FirstName": "Ann", "LastName": "Lee"}
    doc["Discount"] = {"Code": "SPRING10", "Cost": jsonutil.loads("10.00")}
    doc["GiftVoucher"] = {"Name": None, "Cost": jsonutil.loads("0.00")}
    doc["Tax"] = {"Code": "GST", "Rate": jsonutil.loads("10.00")}
    doc["ShippingInfo"] = {
        "Name": "Standard",
        "Cost": jsonutil.loads("5.95"),
        "Address": "1 Main St",
        "City": "Springfield",
        "State": "IL",
        "Zipcode": "62701",
        "Country": "US",
    }
    doc["OrderLines"] = [
        {
            "Id": order_id + 1,
            "EntityType": "Product",
            "ProductId": 3105,
            "ModuleId": 1720,
            "ProductName": "Plush Toy",
            "Quantity": 2,
            "TaxRate": jsonutil.loads("10.00"),
            "UnitPrice": jsonutil.loads("19.93"),
            "TotalPrice": jsonutil.loads("39.86"),
            "FileName": None,
            "IsDownload": False,
            "Attributes": [{"AttributeId": 502, "OptionsIds": ["5022"]}],
        },
        {
            "Id": order_id + 2,
            "EntityType": "Product",
            "ProductId": 3103,
            "ModuleId": 1720,
            "ProductName": "T-Shirt",
            "Quantity": 1,
            "TaxRate": jsonutil.loads("10.00"),
            "UnitPrice": jsonutil.loads("22.85"),
            "TotalPrice": jsonutil.loads("22.85"),
            "FileName": None,
            "IsDownload": False,
            "Attributes": [],
        },
    ]
    doc["Payments"] = [
        {
            "Id": order_id + 3,
            "Amount": jsonutil.loads("20.00"),
            "AmountCaptured": jsonutil.loads("20.00"),
            "GatewayReason": None,
            "TransactionId": None,
            "Status": "Succeeded",
            "PaymentType": "Cash",
            "PaymentGatewayType": "None",
            "Notes": "deposit",
            "CreatedDateTime": "2024-05-17T18:47:19.762Z",
        }
    ]
    doc["CustomCrmGroups"] = {"loyalty": {"tier": "Gold", "points": 120}}
    doc.update(changes)
    return doc


def page(items: list[dict[str, Any]], total: int | None = None) -> dict[str, Any]:
    """A list answer envelope."""
    return {"Items": items, "TotalItemsCount": len(items) if total is None else total}


def body_of(doc: Any) -> str:
    """A JSON body as the site would send it (Decimals as numbers)."""
    return jsonutil.dumps(doc)


def sent(calls: Any) -> list[tuple[str, str, dict[str, str], Any]]:
    """Every request sent: (method, path, query, JSON body or form or None), in order."""
    result = []
    for call in calls:
        request = call.request
        parts = urlsplit(request.url)
        body: Any = request.body
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        if body and request.headers.get("Content-Type", "").startswith("application/json"):
            body = jsonutil.loads(body)
        elif body:
            body = dict(parse_qsl(body))
        result.append(
            (request.method, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)), body)
        )
    return result


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    """``responses`` in strict mode: an unexpected request fails the test."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def add_json(
    rsps: responses.RequestsMock, method: str, url: str, doc: Any, status: int = 200, **kw: Any
) -> None:
    """Register one JSON answer."""
    rsps.add(method, url, body=body_of(doc), status=status, content_type="application/json", **kw)


def serve_list(
    rsps: responses.RequestsMock, url: str, docs: list[dict[str, Any]], total: int | None = None
) -> None:
    """Answer list requests on ``url`` as a site would: the ``Offset``/``Limit`` slice of ``docs``."""

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        query = {k.lower(): v for k, v in parse_qsl(urlsplit(request.url).query)}
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 100))
        return 200, {}, body_of(page(docs[offset : offset + limit], len(docs) if total is None else total))

    rsps.add_callback("GET", url, callback=answer, content_type="application/json")


ASSET_TABLES = {
    "discount": {"SPRING10": 4001, "VIP25": 4002},
    "gift_voucher": {"Gift voucher $20": 5001},
    "shipping_option": {"Standard": 6001},
    "tax": {"GST": 7001, "VAT": 7002},
}


def resolver() -> ob.ReferenceResolver:
    """Asset tables (order documents never carry asset ids); statuses and members by identity."""
    return ob.ReferenceResolver(ASSET_TABLES, use_hooks=False)


@pytest.fixture
def v2() -> Iterator[WebinOneV2]:
    """A v2 client with a ready token (no token requests), no waiting on retries."""
    client = WebinOneV2(BASE, token="tok-123", resolver=resolver(), sleep=lambda s: None, max_retries=1)
    yield client
    client.close()


@pytest.fixture
def v1() -> Iterator[WebinOneV1]:
    """A v1 client for a site in Sydney, with a ready token."""
    client = WebinOneV1(BASE, token="tok-123", site_timezone="Australia/Sydney", sleep=lambda s: None)
    yield client
    client.close()


@pytest.fixture
def sim() -> Iterator[tuple[WebinOneSimulator, SimServer]]:
    """A simulated site (UTC) on loopback, empty."""
    simulator = WebinOneSimulator()
    with SimServer(simulator) as server:
        yield simulator, server


def deep(doc: Any) -> Any:
    """A deep copy (documents are mutated by some tests)."""
    return copy.deepcopy(doc)


__all__ = [
    "BASE",
    "V1",
    "V2",
    "add_json",
    "body_of",
    "deep",
    "load",
    "page",
    "real_v2_doc",
    "sent",
    "serve_list",
]
