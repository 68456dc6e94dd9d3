"""The webinone-v1 client against mocked HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import responses
from orderbridge_webinone import WebinOneV1

import orderbridge as ob

from .conftest import V1, add_json, deep, load, sent, serve_list

FIELDS = "Status,Member,Discount,GiftVoucher,Tax,ShippingInfo,OrderLines,Payments,CustomCrmGroups"


def q(offset: int, limit: int, **extra: str) -> dict[str, str]:
    return {"fields": FIELDS, **extra, "order_by": "Id", "offset": str(offset), "limit": str(limit)}


def test_list_asks_for_every_part_and_pages(mock: responses.RequestsMock) -> None:
    client = WebinOneV1("https://shop.example.com", token="t", page_size=2, site_timezone="Australia/Sydney")
    sample = load("v1_list.json")["Items"][0]
    second, third = dict(deep(sample), Id=28070), dict(deep(sample), Id=28071)
    serve_list(mock, V1, [sample, second, third])
    orders = list(client.iter_orders(where={"StatusId": 13176}))
    assert [o.source.remote_id for o in orders if o.source] == ["28057", "28070", "28071"]
    assert orders[0].created_at == datetime(2022, 1, 14, 9, 47, 37, tzinfo=ZoneInfo("Australia/Sydney"))
    assert sent(mock.calls) == [
        ("GET", "/api/v1/orders", q(0, 2, where='{"StatusId":13176}'), None),
        ("GET", "/api/v1/orders", q(1, 2, where='{"StatusId":13176}'), None),  # the seam, then one more
        ("GET", "/api/v1/orders", q(2, 2, where='{"StatusId":13176}'), None),  # short: the end
    ]


def test_get(mock: responses.RequestsMock, v1: WebinOneV1, v1_doc: dict[str, Any]) -> None:
    add_json(mock, "GET", f"{V1}/28057", v1_doc)
    order = v1.get_order("28057")
    assert order.source == ob.SourceRef("webinone-v1", "28057")
    assert v1.from_canonical(order, site_timezone="Australia/Sydney") == v1_doc
    assert sent(mock.calls) == [("GET", "/api/v1/orders/28057", {}, None)]


def test_update_puts_the_documented_body(
    mock: responses.RequestsMock, v1: WebinOneV1, v1_doc: dict[str, Any]
) -> None:
    add_json(mock, "GET", f"{V1}/28057", v1_doc)
    changed = dict(deep(v1_doc), AWBNumber="TRACK-1")
    add_json(mock, "PUT", f"{V1}/28057", changed)
    wanted = WebinOneV1.to_canonical(deep(v1_doc), site_timezone="Australia/Sydney").evolve(
        tracking_number="TRACK-1"
    )
    result = v1.update_order("28057", wanted)
    assert result.tracking_number == "TRACK-1"
    assert sent(mock.calls)[1] == (
        "PUT",
        "/api/v1/orders/28057",
        {},
        {
            "Id": 28057,
            "AWBNumber": "TRACK-1",
            "CreatedDateTime": "2022-01-14T09:47:37",
            "Currency": "USD",
            "Country": "US",
            "InvoiceDate": "2022-01-14T09:47:37",
            "InvoiceNumber": 65,
            "MainOrderId": None,
            "MemberId": 28049,
            "OrderName": "General Payment",
            "PaymentState": "Succeeded",
            "StatusId": 13176,
            "TrackingUrl": None,
        },
    )
    assert list(sent(mock.calls)[1][3])[:3] == ["Id", "AWBNumber", "CreatedDateTime"]  # the page's order


def test_update_without_changes_is_one_get(
    mock: responses.RequestsMock, v1: WebinOneV1, v1_doc: dict[str, Any]
) -> None:
    add_json(mock, "GET", f"{V1}/28057", v1_doc)
    v1.update_order("28057", WebinOneV1.to_canonical(deep(v1_doc), site_timezone="Australia/Sydney"))
    assert len(mock.calls) == 1


def test_create_and_delete_are_refused_before_any_request(
    mock: responses.RequestsMock, v1: WebinOneV1
) -> None:
    with pytest.raises(ob.UnsupportedOperation, match="create_order"):
        v1.create_order(ob.Order(name="x"))
    with pytest.raises(ob.UnsupportedOperation, match="delete_order"):
        v1.delete_order("1")
    assert len(mock.calls) == 0


def test_v1_references_are_status_and_member_only(v1: WebinOneV1, v1_doc: dict[str, Any]) -> None:
    order = WebinOneV1.to_canonical(v1_doc).evolve(discounts=(ob.Discount(code="X"),))
    assert v1.references(order) == [("status", "Paid"), ("member", "28049")]


def test_bad_zone_option() -> None:
    with pytest.raises(ob.ConfigurationError):
        WebinOneV1("https://shop.example.com", token="t", site_timezone="Nowhere/Town")
