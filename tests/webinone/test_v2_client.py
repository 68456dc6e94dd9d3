"""The webinone-v2 client against mocked HTTP: every request's method, path, query and body."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import attrs
import pytest
import responses
from orderbridge_webinone import WebinOneV2

import orderbridge as ob

from .conftest import BASE, V2, add_json, deep, page, real_v2_doc, resolver, sent, serve_list

D = Decimal


def items(n: int, first: int = 1) -> list[dict[str, Any]]:
    return [real_v2_doc(order_id=i) for i in range(first, first + n)]


def q(offset: int, limit: int, **extra: str) -> dict[str, str]:
    return {**extra, "Order_By": "Id", "Offset": str(offset), "Limit": str(limit)}


# ------------------------------------------------------------------ reading


@pytest.mark.parametrize(("count", "offsets"), [(0, [0]), (3, [0, 2]), (4, [0, 2]), (7, [0, 2, 4, 6])])
def test_paging_edges(mock: responses.RequestsMock, count: int, offsets: list[int]) -> None:
    # Pages overlap by one order (the seam that tells a shifted list); a short page ends the walk.
    client = WebinOneV2(BASE, token="tok", page_size=3)
    docs = items(count)
    serve_list(mock, V2, docs)
    orders = list(client.iter_orders())
    assert [o.source.remote_id for o in orders if o.source] == [str(d["Id"]) for d in docs]
    assert sent(mock.calls) == [("GET", "/api/v2/admin/orders", q(o, 3), None) for o in offsets]
    assert mock.calls[0].request.headers["Authorization"] == "Bearer tok"


def test_paging_is_lazy(mock: responses.RequestsMock) -> None:
    client = WebinOneV2(BASE, token="tok", page_size=2)
    add_json(mock, "GET", V2, page(items(2), total=10))
    iterator = client.iter_orders()
    assert len(mock.calls) == 0
    next(iterator)
    next(iterator)
    assert len(mock.calls) == 1


def test_where_is_passed_through_untouched(mock: responses.RequestsMock, v2: WebinOneV2) -> None:
    add_json(mock, "GET", V2, page([]))
    add_json(mock, "GET", V2, page([]))
    assert list(v2.iter_orders(where='{ "StatusId" : 5 }')) == []
    assert list(v2.iter_orders(where={"StatusId": 5})) == []
    assert [c[2] for c in sent(mock.calls)] == [
        q(0, 100, Where='{ "StatusId" : 5 }'),
        q(0, 100, Where='{"StatusId":5}'),
    ]
    with pytest.raises(ob.ConfigurationError, match="status"):
        list(v2.iter_orders(status=5))


def test_get_and_count(mock: responses.RequestsMock, v2: WebinOneV2) -> None:
    add_json(mock, "GET", f"{V2}/812", real_v2_doc())
    add_json(mock, "GET", V2, page(items(1), total=4321))
    order = v2.get_order("812")
    assert order.source == ob.SourceRef("webinone-v2", "812") and order.total is not None
    assert v2.count_orders() == 4321
    assert sent(mock.calls) == [
        ("GET", "/api/v2/admin/orders/812", {}, None),
        ("GET", "/api/v2/admin/orders", q(0, 1), None),
    ]


@pytest.mark.parametrize(
    ("status", "error"),
    [(404, ob.NotFound), (400, ob.Rejected), (401, ob.AuthenticationError), (500, ob.ServerError)],
)
def test_error_mapping(
    mock: responses.RequestsMock, v2: WebinOneV2, status: int, error: type[Exception]
) -> None:
    add_json(mock, "GET", f"{V2}/7", {"Message": "no", "Errors": ["Id: bad"]}, status=status)
    with pytest.raises(error) as info:
        v2.get_order("7")
    assert info.value.status == status  # type: ignore[attr-defined]


def test_malformed_answers(mock: responses.RequestsMock, v2: WebinOneV2) -> None:
    mock.add("GET", f"{V2}/7", body="{not json", content_type="application/json")
    with pytest.raises(ob.MalformedResponse):
        v2.get_order("7")
    add_json(mock, "GET", V2, {"Items": "x"})
    with pytest.raises(ob.MalformedResponse):
        list(v2.iter_orders())
    bad = real_v2_doc(TotalCost="free")
    add_json(mock, "GET", f"{V2}/8", bad)
    with pytest.raises(ob.InvalidOrder) as info:
        v2.get_order("8")
    assert (info.value.order, info.value.field) == ("812", "TotalCost")


def test_find_order_scans_from_the_end(mock: responses.RequestsMock) -> None:
    client = WebinOneV2(BASE, token="tok", page_size=100)
    target = real_v2_doc(order_id=150, InvoiceNumber=77, OrderName="Wanted")
    middle = items(100, first=101)
    middle[49] = target
    add_json(mock, "GET", V2, page(items(1), total=250))  # the count
    add_json(mock, "GET", V2, page(items(50, first=201), total=250))  # last page
    add_json(mock, "GET", V2, page(middle, total=250))
    found = client.find_order(ob.Order(number="77", name="Wanted"))
    assert found is not None and found.source == ob.SourceRef("webinone-v2", "150")
    assert [c[2] for c in sent(mock.calls)] == [q(0, 1), q(200, 100), q(100, 100)]


def test_find_order_none(mock: responses.RequestsMock, v2: WebinOneV2) -> None:
    add_json(mock, "GET", V2, page([], total=0))
    assert v2.find_order(ob.Order(number="1", name="x")) is None
    assert v2.find_order(ob.Order(number="1")) is None  # no natural key: no request
    assert len(mock.calls) == 1


# ------------------------------------------------------------------ creating


class Journal:
    def __init__(self) -> None:
        self.entries: list[tuple[str, dict[str, Any]]] = []

    def record(self, step: str, detail: dict[str, Any]) -> None:
        self.entries.append((step, detail))


def source_order() -> ob.Order:
    """What a source (here another v2 site) holds: 2 lines, 3 assets, 1 payment, custom fields."""
    doc = real_v2_doc(order_id=5000)
    doc["GiftVoucher"] = {"Name": None, "Cost": D("0.00")}
    return WebinOneV2.to_canonical(doc)


def state(order_id: int, lines: int = 0, payments: int = 0, **changes: Any) -> dict[str, Any]:
    """The target's order after some steps of a create."""
    doc = real_v2_doc(order_id=order_id, **changes)
    doc["OrderLines"] = [dict(doc["OrderLines"][i % 2], Id=order_id + 10 + i) for i in range(lines)]
    doc["Payments"] = [dict(doc["Payments"][0], Id=order_id + 20 + i) for i in range(payments)]
    doc["CustomCrmGroups"] = {}
    return doc


def register_create(mock: responses.RequestsMock, oid: int = 900) -> None:
    add_json(mock, "POST", V2, state(oid), status=201)
    mock.add("PUT", f"{V2}/{oid}/custom-crm-groups", status=204)
    # lines, then payments, then assets
    add_json(mock, "POST", f"{V2}/{oid}/order-lines", state(oid, 1), status=201)
    add_json(mock, "POST", f"{V2}/{oid}/order-lines", state(oid, 2), status=201)
    add_json(mock, "POST", f"{V2}/{oid}/payments", state(oid, 2, 1), status=201)
    add_json(mock, "PUT", f"{V2}/{oid}/discount-code", state(oid, 2, 1))
    add_json(mock, "PUT", f"{V2}/{oid}/shipping", state(oid, 2, 1))
    add_json(mock, "PUT", f"{V2}/{oid}/tax", state(oid, 2, 1))


EXPECTED_CREATE = [
    (
        "POST",
        "/api/v2/admin/orders",
        {},
        {
            "InvoiceDate": "2024-05-17T18:47:19.762Z",
            "InvoiceNumber": 65,
            "MemberId": 28049,
            "OrderName": "General Payment",
            "PaymentState": "None",
            "StatusId": "13176",
            "TrackingURL": "string",
            "ShippingZipCode": "62701",
            "ShippingState": "IL",
            "ShippingAddress": "1 Main St",
            "ShippingCity": "Springfield",
            "ShippingCountry": "US",
            "AWBNumber": "string",
        },
    ),
    ("PUT", "/api/v2/admin/orders/900/custom-crm-groups", {}, {"loyalty": {"tier": "Gold", "points": 120}}),
    (
        "POST",
        "/api/v2/admin/orders/900/order-lines",
        {},
        {
            "ProductId": 3105,
            "ProductName": "Plush Toy",
            "Quantity": 2,
            "UnitPrice": D("19.93"),
            "Attributes": [{"AttributeId": 502, "OptionsIds": ["5022"]}],
        },
    ),
    (
        "POST",
        "/api/v2/admin/orders/900/order-lines",
        {},
        {
            "ProductId": 3103,
            "ProductName": "T-Shirt",
            "Quantity": 1,
            "UnitPrice": D("22.85"),
            "Attributes": [],
        },
    ),
    ("PUT", "/api/v2/admin/orders/900/discount-code", {}, {"DiscountId": "4001"}),
    ("PUT", "/api/v2/admin/orders/900/shipping", {}, {"ShippingOptionId": "6001"}),
    ("PUT", "/api/v2/admin/orders/900/tax", {}, {"TaxId": "7001"}),
    (
        "POST",
        "/api/v2/admin/orders/900/payments",
        {},
        {
            "OrderId": "900",
            "Notes": "deposit",
            "PaymentType": "Cash",
            "Amount": D("20.00"),
            "CreatedDateTime": "2024-05-17T18:47:19.762Z",
        },
    ),
]


def test_create_sequence(mock: responses.RequestsMock, v2: WebinOneV2) -> None:
    register_create(mock)
    order = source_order()
    journal = Journal()
    result = v2.create_order(order, journal=journal)
    calls = sent(mock.calls)
    # lines, payments, then assets (each answer settles an unclear POST before it)
    in_order = [EXPECTED_CREATE[i] for i in (0, 1, 2, 3, 7, 4, 5, 6)]
    for got, want in zip(calls, in_order, strict=True):
        assert got[:3] == want[:3]
        assert got[3] == want[3], got[1]
    # 1 order + 1 custom groups + 2 lines + 3 assets + 1 payment, and no final GET
    assert len(calls) == 1 + 1 + len(order.lines) + 3 + len(order.payments) == v2.transport.request_count
    assert result.source == ob.SourceRef("webinone-v2", "900")
    assert [line.remote_id for line in result.lines] == ["910", "911"]
    assert result.custom_fields == {"loyalty": {"tier": "Gold", "points": 120}}  # merged locally (204)
    assert journal.entries[0] == ("order", {"order_id": "900"})
    assert [e[0] for e in journal.entries] == [
        "order", "custom_groups", "line", "line", "payment", "discount", "shipping_option", "tax",
    ]  # fmt: skip
    assert [p.remote_id for p in result.payments] == ["920"]


def test_create_body_key_order_follows_the_page(mock: responses.RequestsMock, v2: WebinOneV2) -> None:
    register_create(mock)
    v2.create_order(source_order())
    keys = list(sent(mock.calls)[0][3])
    page_order = [
        "AWBNumber", "InvoiceDate", "InvoiceNumber", "MainOrderId", "MemberId", "OrderName", "PaymentState",
        "StatusId", "TrackingURL", "ShippingZipCode", "ShippingState", "ShippingAddress", "ShippingCity",
        "ShippingCountry",
    ]  # fmt: skip
    assert keys == [k for k in page_order if k in keys]


def test_minimal_create_is_one_request(mock: responses.RequestsMock, v2: WebinOneV2) -> None:
    add_json(mock, "POST", V2, state(77), status=201)
    result = v2.create_order(ob.Order(name="Bare"))
    assert sent(mock.calls) == [("POST", "/api/v2/admin/orders", {}, {"OrderName": "Bare"})]
    assert result.source == ob.SourceRef("webinone-v2", "77")


def test_partial_write_when_the_second_line_fails(mock: responses.RequestsMock, v2: WebinOneV2) -> None:
    add_json(mock, "POST", V2, state(900), status=201)
    mock.add("PUT", f"{V2}/900/custom-crm-groups", status=204)
    add_json(mock, "POST", f"{V2}/900/order-lines", state(900, 1), status=201)
    add_json(
        mock, "POST", f"{V2}/900/order-lines", {"Message": "bad", "Errors": ["Quantity: no"]}, status=400
    )
    journal = Journal()
    with pytest.raises(ob.PartialWrite) as info:
        v2.create_order(source_order(), journal=journal)
    assert info.value.written == {
        "order_id": "900",
        "lines": ["910"],
        "payments": [],
        "steps": ["order", "custom_groups", "line"],
    }
    assert isinstance(info.value.cause, ob.Rejected)
    assert len(mock.calls) == 4
    assert [e[0] for e in journal.entries] == ["order", "custom_groups", "line"]


def test_unclear_line_post_is_settled_by_the_payment_answer_after_it(
    mock: responses.RequestsMock, v2: WebinOneV2
) -> None:
    """A line POST without a clear answer: a payment goes next, and its answer shows the line landed."""
    lines = tuple(ob.OrderLine(product_name=f"p{i}", unit_price=D(1)) for i in range(2))
    add_json(mock, "POST", V2, state(900), status=201)
    mock.add("POST", f"{V2}/900/order-lines", status=502)  # applied, but the answer is lost
    add_json(mock, "POST", f"{V2}/900/payments", state(900, 1, 1), status=201)  # shows the line
    add_json(mock, "POST", f"{V2}/900/order-lines", state(900, 2, 1), status=201)
    created = v2.create_order(ob.Order(name="x", lines=lines, payments=(ob.Payment(amount=D("1.00")),)))
    assert [ln.remote_id for ln in created.lines] == ["910", "911"]
    calls = [(m, p.rsplit("/", 1)[-1]) for m, p, _, _ in sent(mock.calls)]
    assert calls == [
        ("POST", "orders"),
        ("POST", "order-lines"),
        ("POST", "payments"),
        ("POST", "order-lines"),
    ]


def test_unclear_payment_post_settled_by_later_answers_keeps_every_payment(
    mock: responses.RequestsMock, v2: WebinOneV2
) -> None:
    """A payment POST without a clear answer, posted again without one, then fine: two payments, in order."""
    pays = (ob.Payment(amount=D("1.00")), ob.Payment(amount=D("2.00")))
    add_json(mock, "POST", V2, state(900), status=201)
    mock.add("POST", f"{V2}/900/payments", status=502)  # first payment: unclear
    add_json(mock, "GET", f"{V2}/900", state(900))  # before the second payment: it did not land
    mock.add("POST", f"{V2}/900/payments", status=503)  # posted again: unclear again
    add_json(mock, "GET", f"{V2}/900", state(900))  # still not there
    add_json(mock, "POST", f"{V2}/900/payments", state(900, 0, 1), status=201)  # third try lands
    add_json(mock, "POST", f"{V2}/900/payments", state(900, 0, 2), status=201)  # then the second payment
    created = v2.create_order(ob.Order(name="x", payments=pays))
    assert [p.remote_id for p in created.payments] == ["920", "921"]
    posts = [p for m, p, _, _ in sent(mock.calls) if m == "POST"]
    assert len(posts) == 5  # the order, three tries of the first payment, the second payment


def test_ambiguous_first_post_propagates(mock: responses.RequestsMock, v2: WebinOneV2) -> None:
    mock.add("POST", V2, status=502)
    with pytest.raises(ob.AmbiguousWrite):
        v2.create_order(ob.Order(name="x", lines=(ob.OrderLine(product_name="p", unit_price=D(1)),)))
    assert len(mock.calls) == 1  # never retried blindly


def test_ambiguous_line_post_that_never_lands_is_a_partial_write(
    mock: responses.RequestsMock, v2: WebinOneV2
) -> None:
    add_json(mock, "POST", V2, state(900), status=201)
    mock.add("POST", f"{V2}/900/order-lines", status=502)
    add_json(mock, "GET", f"{V2}/900", state(900))  # each look shows no new line
    with pytest.raises(ob.PartialWrite) as info:
        v2.create_order(ob.Order(name="x", lines=(ob.OrderLine(product_name="p", unit_price=D(1)),)))
    assert isinstance(info.value.cause, ob.AmbiguousWrite)
    assert info.value.written["steps"] == ["order"]
    methods = [(m, p) for m, p, _, _ in sent(mock.calls)]
    # looked at the order before each new try: POST, GET, POST, GET, POST
    assert methods[1:] == [
        ("POST", "/api/v2/admin/orders/900/order-lines"), ("GET", "/api/v2/admin/orders/900"),
    ] * 2 + [("POST", "/api/v2/admin/orders/900/order-lines")]  # fmt: skip


def test_ambiguous_line_post_that_landed_is_not_sent_again(
    mock: responses.RequestsMock, v2: WebinOneV2
) -> None:
    add_json(mock, "POST", V2, state(900), status=201)
    mock.add("POST", f"{V2}/900/order-lines", status=502)
    add_json(mock, "GET", f"{V2}/900", state(900, 1))  # the server applied it before failing
    created = v2.create_order(ob.Order(name="x", lines=(ob.OrderLine(product_name="p", unit_price=D(1)),)))
    assert len(created.lines) == 1
    posts = [p for m, p, _, _ in sent(mock.calls) if m == "POST"]
    assert posts == ["/api/v2/admin/orders", "/api/v2/admin/orders/900/order-lines"]


def test_stamp_is_written_right_after_the_order_before_lines(mock: responses.RequestsMock) -> None:
    client = WebinOneV2(
        BASE, token="tok", resolver=resolver(), sleep=lambda s: None, stamp_field="migration.source"
    )
    register_create(mock)
    stamp = ob.Stamp("webinone-v1", "https://old.example.com", "5000")
    order = source_order()
    client.create_order(order, stamp=stamp)
    calls = sent(mock.calls)
    assert calls[1][:2] == ("PUT", "/api/v2/admin/orders/900/custom-crm-groups")
    assert calls[1][3] == {**order.custom_fields, "migration": {"source": stamp.text()}}
    assert all(p.endswith("order-lines") is False for _, p, _, _ in calls[:2])
    held = real_v2_doc(order_id=900)
    held["CustomCrmGroups"] = {"migration": {"source": stamp.text()}}
    assert client.stamp_of(WebinOneV2.to_canonical(held)) == stamp
    assert client.writes_stamps
    with pytest.raises(ob.ConfigurationError, match=r"GroupAlias\.FieldAlias"):
        WebinOneV2(BASE, token="tok", stamp_field="no-dot")


def test_unresolved_reference_before_any_request(mock: responses.RequestsMock) -> None:
    resolver = ob.ReferenceResolver({"status": {"Paid": "1"}}, identity=False, use_hooks=False)
    client = WebinOneV2(BASE, token="tok", resolver=resolver)
    order = source_order()
    with pytest.raises(ob.UnresolvedReference) as info:
        client.create_order(order)
    assert (info.value.kind, info.value.value, info.value.order) == ("member", "28049", "webinone-v2:5000")
    with pytest.raises(ob.UnresolvedReference):
        client.update_order("900", order)
    assert len(mock.calls) == 0
    plan = client.plan_references(order)
    assert plan == {"status": "1", "member": None, "discount": None, "shipping_option": None, "tax": None}
    assert client.unresolved_references(order) == [
        ("member", "28049"), ("discount", "SPRING10"), ("shipping_option", "Standard"), ("tax", "GST"),
    ]  # fmt: skip
    assert client.references(order) == [
        ("status", "Paid"), ("member", "28049"), ("discount", "SPRING10"),
        ("shipping_option", "Standard"), ("tax", "GST"),
    ]  # fmt: skip
    assert len(mock.calls) == 0


def test_identity_gives_no_asset_id(mock: responses.RequestsMock) -> None:
    client = WebinOneV2(BASE, token="tok")  # default resolver: identity only
    order = source_order()
    assert client.plan_references(order) == {
        "status": "13176", "member": "28049", "discount": None, "shipping_option": None, "tax": None,
    }  # fmt: skip
    with pytest.raises(ob.UnresolvedReference) as info:
        client.create_order(order)
    assert (info.value.kind, info.value.value) == ("discount", "SPRING10")
    assert len(mock.calls) == 0


def test_omit_policy_writes_without_unresolved_references(mock: responses.RequestsMock) -> None:
    resolver = ob.ReferenceResolver({"status": {"Paid": "1"}}, identity=False, use_hooks=False)
    client = WebinOneV2(BASE, token="tok", resolver=resolver, on_unresolved="omit")
    add_json(mock, "POST", V2, state(900), status=201)
    order = source_order().evolve(lines=(), payments=(), custom_fields={})
    client.create_order(order)
    assert len(mock.calls) == 1  # no asset requests: none resolved
    body = sent(mock.calls)[0][3]
    assert body["StatusId"] == "1" and "MemberId" not in body
    with pytest.raises(ob.ConfigurationError):
        WebinOneV2(BASE, token="tok", on_unresolved="ignore")


def test_resolved_ids_are_sent(mock: responses.RequestsMock) -> None:
    tables = {"status": {"Paid": 7}, "member": {"28049": 99}, "discount": {"SPRING10": 4001}}
    client = WebinOneV2(BASE, token="tok", resolver=ob.ReferenceResolver(tables, use_hooks=False))
    order = source_order().evolve(lines=(), payments=(), custom_fields={}, taxes=(), shipping_lines=())
    add_json(mock, "POST", V2, state(900), status=201)
    add_json(mock, "PUT", f"{V2}/900/discount-code", state(900))
    client.create_order(order)
    calls = sent(mock.calls)
    assert calls[0][3]["StatusId"] == "7" and calls[0][3]["MemberId"] == 99
    assert calls[1] == ("PUT", "/api/v2/admin/orders/900/discount-code", {}, {"DiscountId": "4001"})


def test_an_order_of_another_platform_sends_none_of_its_ids(mock: responses.RequestsMock) -> None:
    # The same order as a cart's (ids of the cart), identity on: the member, status, parent order,
    # products and attributes are the cart's ids, never sent; assets come from the tables by code.
    order = source_order().evolve(source=ob.SourceRef("lunasoft-cart", "5000"), parent_order_ref="4999")
    foreign = {"28049", "13176", "4999", "3105", "3103", "502", "5022"}
    client = WebinOneV2(BASE, token="tok", resolver=resolver(), on_unresolved="omit")
    assert client.plan_references(order)["member"] is None  # identity does not cross platforms
    register_create(mock)
    client.create_order(order)
    calls = sent(mock.calls)
    order_body = calls[0][3]
    assert not {"MemberId", "StatusId", "MainOrderId"} & set(order_body), order_body
    lines = [body for _, path, _, body in calls if path.endswith("/order-lines")]
    assert [(b["ProductId"], b["Attributes"]) for b in lines] == [(None, []), (None, [])]
    # A table value is the target's id: sent.
    assert ("PUT", "/api/v2/admin/orders/900/discount-code", {}, {"DiscountId": "4001"}) in calls
    sent_values = {str(v) for _, _, _, body in calls if isinstance(body, dict) for v in body.values()}
    assert not sent_values & foreign


def test_table_values_are_sent_as_written(mock: responses.RequestsMock) -> None:
    # The pages type DiscountId (and the other asset ids) as strings: an operator's
    # table value is the site's id even when it is not all digits.
    tables = {"status": {"Paid": "7"}, "member": {"28049": "M-7"}, "discount": {"SPRING10": "D1"}}
    client = WebinOneV2(BASE, token="tok", resolver=ob.ReferenceResolver(tables, use_hooks=False))
    order = source_order().evolve(lines=(), payments=(), custom_fields={}, taxes=(), shipping_lines=())
    assert client.plan_references(order) == {"status": "7", "member": "M-7", "discount": "D1"}
    assert client.unresolved_references(order) == []
    add_json(mock, "POST", V2, state(900), status=201)
    add_json(mock, "PUT", f"{V2}/900/discount-code", state(900))
    client.create_order(order)
    calls = sent(mock.calls)
    assert calls[0][3]["StatusId"] == "7" and calls[0][3]["MemberId"] == "M-7"
    assert calls[1] == ("PUT", "/api/v2/admin/orders/900/discount-code", {}, {"DiscountId": "D1"})


def test_identity_code_is_unresolved_even_beside_table_values(mock: responses.RequestsMock) -> None:
    tables = {"discount": {"SPRING10": "D1"}}
    client = WebinOneV2(BASE, token="tok", resolver=ob.ReferenceResolver(tables, use_hooks=False))
    order = source_order()
    assert client.plan_references(order) == {
        "status": "13176", "member": "28049", "discount": "D1", "shipping_option": None, "tax": None,
    }  # fmt: skip
    with pytest.raises(ob.UnresolvedReference) as info:
        client.create_order(order)
    assert (info.value.kind, info.value.value) == ("shipping_option", "Standard")
    assert len(mock.calls) == 0


def test_currency_other_than_the_sites_profile_costs_one_put(
    mock: responses.RequestsMock, v2: WebinOneV2
) -> None:
    add_json(mock, "POST", V2, state(900), status=201)
    add_json(mock, "PUT", f"{V2}/900", state(900, Currency="EUR", Country="FR"))
    v2.create_order(ob.Order(name="x", currency="EUR", country="FR"))
    calls = sent(mock.calls)
    assert [c[:2] for c in calls] == [("POST", "/api/v2/admin/orders"), ("PUT", "/api/v2/admin/orders/900")]
    assert calls[1][3]["Currency"] == "EUR" and calls[1][3]["Country"] == "FR" and calls[1][3]["Id"] == 900


# ------------------------------------------------------------------ updating and deleting


def test_update_changes_only_what_differs(mock: responses.RequestsMock, v2: WebinOneV2) -> None:
    current = real_v2_doc(order_id=812)
    add_json(mock, "GET", f"{V2}/812", current)
    wanted = WebinOneV2.to_canonical(deep(current))
    changed_line = attrs.evolve(wanted.lines[1], quantity=D(3))
    wanted = wanted.evolve(name="Renamed", lines=(wanted.lines[0], changed_line), payments=())
    after_put = real_v2_doc(order_id=812, OrderName="Renamed")
    add_json(mock, "PUT", f"{V2}/812", after_put)
    add_json(mock, "PUT", f"{V2}/order-lines/814", after_put)
    mock.add("DELETE", f"{V2}/payments/815", status=204)
    final = real_v2_doc(order_id=812, OrderName="Renamed", Payments=[])
    add_json(mock, "GET", f"{V2}/812", final)
    result = v2.update_order("812", wanted)
    calls = sent(mock.calls)
    assert [c[:2] for c in calls] == [
        ("GET", "/api/v2/admin/orders/812"),
        ("PUT", "/api/v2/admin/orders/812"),
        ("PUT", "/api/v2/admin/orders/order-lines/814"),
        ("DELETE", "/api/v2/admin/orders/payments/815"),
        ("GET", "/api/v2/admin/orders/812"),  # the last answer was a 204: read the result once
    ]
    assert calls[1][3] == {
        "Id": 812, "AWBNumber": "string", "Currency": "USD", "Country": "US",
        "InvoiceDate": "2024-05-17T18:47:19.762Z", "InvoiceNumber": 65, "MemberId": 28049,
        "OrderName": "Renamed", "PaymentState": "None", "StatusId": "13176", "TrackingURL": "string",
        "ShippingZipCode": "62701", "ShippingState": "IL", "ShippingAddress": "1 Main St",
        "ShippingCity": "Springfield", "ShippingCountry": "US", "MainOrderId": None,
    }  # fmt: skip
    assert list(calls[1][3])[:5] == ["Id", "AWBNumber", "Currency", "Country", "InvoiceDate"]
    assert calls[2][3] == {
        "Id": 814,
        "ProductId": "3103",
        "ProductName": "T-Shirt",
        "Quantity": 3,
        "UnitPrice": D("22.85"),
    }
    assert result.name == "Renamed" and result.payments == ()


def test_update_of_an_identical_order_is_one_get(mock: responses.RequestsMock, v2: WebinOneV2) -> None:
    current = real_v2_doc(order_id=812)
    add_json(mock, "GET", f"{V2}/812", current)
    result = v2.update_order("812", WebinOneV2.to_canonical(deep(current)))
    assert len(mock.calls) == 1
    assert result == WebinOneV2.to_canonical(current)


def test_update_assets_and_custom_groups(mock: responses.RequestsMock, v2: WebinOneV2) -> None:
    current = real_v2_doc(order_id=812)
    add_json(mock, "GET", f"{V2}/812", current)
    wanted = WebinOneV2.to_canonical(deep(current))
    wanted = wanted.evolve(
        discounts=(),
        taxes=(ob.Tax(code="VAT"),),
        custom_fields={"loyalty": {"tier": "Gold", "points": 130}},
    )
    mock.add("PUT", f"{V2}/812/custom-crm-groups", status=204)
    add_json(mock, "PUT", f"{V2}/812/discount-code", current)
    add_json(mock, "PUT", f"{V2}/812/tax", current)
    v2.update_order("812", wanted)
    assert sent(mock.calls)[1:] == [
        ("PUT", "/api/v2/admin/orders/812/custom-crm-groups", {}, {"loyalty": {"points": 130}}),
        ("PUT", "/api/v2/admin/orders/812/discount-code", {}, {"DiscountId": None}),
        ("PUT", "/api/v2/admin/orders/812/tax", {}, {"TaxId": "7002"}),
    ]


def test_update_adds_lines_and_payments_of_a_foreign_order(
    mock: responses.RequestsMock, v2: WebinOneV2
) -> None:
    current = state(812)
    current["Discount"] = {"Code": "SPRING10", "Cost": D("10.00")}
    add_json(mock, "GET", f"{V2}/812", current)
    wanted = source_order().evolve(
        source=ob.SourceRef("webinone-v1", "1"),
        custom_fields={},
        number="65",
    )
    wanted = wanted.evolve(lines=wanted.lines[:1])
    add_json(mock, "POST", f"{V2}/812/order-lines", state(812, 1))
    add_json(mock, "POST", f"{V2}/812/payments", state(812, 1, 1))
    result = v2.update_order("812", wanted)
    assert [c[:2] for c in sent(mock.calls)] == [
        ("GET", "/api/v2/admin/orders/812"),
        ("POST", "/api/v2/admin/orders/812/order-lines"),
        ("POST", "/api/v2/admin/orders/812/payments"),
    ]
    assert len(result.lines) == 1 and len(result.payments) == 1


def test_delete(mock: responses.RequestsMock, v2: WebinOneV2) -> None:
    mock.add("DELETE", f"{V2}/812", status=204)
    assert v2.delete_order("812") is None
    mock.add("DELETE", f"{V2}/813", status=404, json={"Message": "Order 813 not found"})
    with pytest.raises(ob.NotFound):
        v2.delete_order("813")
    assert [c[:2] for c in sent(mock.calls)] == [
        ("DELETE", "/api/v2/admin/orders/812"),
        ("DELETE", "/api/v2/admin/orders/813"),
    ]


# ------------------------------------------------------------------ endpoint methods


def test_small_endpoint_methods(mock: responses.RequestsMock, v2: WebinOneV2) -> None:
    doc = real_v2_doc()
    line = doc["OrderLines"][0]
    add_json(mock, "GET", f"{V2}/order-lines/813", line)
    add_json(mock, "PUT", f"{V2}/order-lines/813", doc)
    mock.add("DELETE", f"{V2}/order-lines/813", status=204)
    add_json(mock, "POST", f"{V2}/812/order-lines", doc)
    add_json(mock, "PUT", f"{V2}/812/gift-voucher", doc)
    add_json(mock, "PUT", f"{V2}/payments/815", doc)
    mock.add("DELETE", f"{V2}/payments/815", status=204)
    add_json(mock, "POST", f"{V2}/812/payments", doc)
    add_json(mock, "GET", f"{V2}/812/payments", page(doc["Payments"], total=3))
    add_json(mock, "GET", f"{V2}/812/payments", page(doc["Payments"] * 2, total=3))
    assert v2.get_line("813") == line
    v2.update_line("813", {"Id": 813, "ProductName": "x"})
    v2.delete_line("813")
    v2.add_line("812", {"ProductName": "y", "Quantity": 1, "UnitPrice": D("1.50")})
    v2.set_gift_voucher("812", "5001")
    v2.update_payment("815", {"Id": 815, "OrderId": "812", "Amount": D("2.00")})
    v2.delete_payment("815")
    v2.add_payment("812", {"OrderId": "812", "Amount": D("3.00")})
    assert len(v2.list_payments("812")) == 3
    assert sent(mock.calls) == [
        ("GET", "/api/v2/admin/orders/order-lines/813", {}, None),
        ("PUT", "/api/v2/admin/orders/order-lines/813", {}, {"Id": 813, "ProductName": "x"}),
        ("DELETE", "/api/v2/admin/orders/order-lines/813", {}, None),
        (
            "POST",
            "/api/v2/admin/orders/812/order-lines",
            {},
            {"ProductName": "y", "Quantity": 1, "UnitPrice": D("1.50")},
        ),
        ("PUT", "/api/v2/admin/orders/812/gift-voucher", {}, {"GiftVoucherId": "5001"}),
        ("PUT", "/api/v2/admin/orders/payments/815", {}, {"Id": 815, "OrderId": "812", "Amount": D("2.00")}),
        ("DELETE", "/api/v2/admin/orders/payments/815", {}, None),
        ("POST", "/api/v2/admin/orders/812/payments", {}, {"OrderId": "812", "Amount": D("3.00")}),
        ("GET", "/api/v2/admin/orders/812/payments", q(0, 100), None),
        ("GET", "/api/v2/admin/orders/812/payments", q(1, 100), None),
    ]


# ------------------------------------------------------------------ credentials


def test_oauth_token_request_and_canary_secret(
    mock: responses.RequestsMock, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "canary-7f3a9c1e5d"
    monkeypatch.delenv("WEBINONE_CLIENT_ID", raising=False)
    client = WebinOneV2(BASE, client_id="app-1", client_secret=canary, sleep=lambda s: None, max_retries=1)
    add_json(
        mock,
        "POST",
        f"{BASE}/api/v1/oauth/token",
        {"access_token": "at-1", "token_type": "Bearer", "expires_in": 3600},
    )
    add_json(mock, "GET", f"{V2}/1", {"Message": f"echo {canary}"}, status=400)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ob.Rejected) as info:
        client.get_order("1")
    assert sent(mock.calls)[0] == (
        "POST", "/api/v1/oauth/token", {},
        {"grant_type": "client_credentials", "client_id": "app-1", "client_secret": canary},
    )  # fmt: skip
    assert mock.calls[1].request.headers["Authorization"] == "Bearer at-1"
    shown = [
        str(info.value),
        repr(info.value),
        repr(client),
        repr(client.transport),
        caplog.text,
        str(vars(client)),
    ]
    assert not any(canary in text for text in shown)
    mock.add("POST", f"{BASE}/api/v1/oauth/token", json={"error": f"invalid_client {canary}"}, status=401)
    client2 = WebinOneV2(BASE, client_id="app-1", client_secret=canary)
    with pytest.raises(ob.AuthenticationError) as info2:
        client2.get_order("1")
    assert canary not in str(info2.value) and canary not in repr(client2)


def test_credentials_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEBINONE_CLIENT_ID", raising=False)
    monkeypatch.delenv("WEBINONE_CLIENT_SECRET", raising=False)
    with pytest.raises(ob.ConfigurationError, match="WEBINONE_CLIENT_ID"):
        WebinOneV2(BASE)
    monkeypatch.setenv("WEBINONE_CLIENT_ID", "env-id")
    monkeypatch.setenv("WEBINONE_CLIENT_SECRET", "canary-env-secret")
    client = WebinOneV2(BASE)
    assert "canary-env-secret" not in repr(client) and "canary-env-secret" not in repr(client.transport)
    with pytest.raises(ob.ConfigurationError, match="http"):
        WebinOneV2("http://shop.example.com", token="t")
    with pytest.raises(ob.ConfigurationError, match="base_url"):
        WebinOneV2(token="t")
    assert ob.connect("webinone-v2", base_url=BASE, token="t").name == "webinone-v2"


# ------------------------------------------------------------------ preflight of the mapped ids


@pytest.mark.parametrize(
    ("tables", "named"),
    [
        ({"status": {"Paid": "paid"}}, "[references.status] 'Paid' = 'paid': webinone-v2 takes StatusId"),
        ({"member": {"28049": "M-7"}}, "[references.member] '28049' = 'M-7': webinone-v2 takes MemberId"),
        ({"status": {"Paid": "0"}}, "[references.status] 'Paid' = '0'"),  # 0 is the pages' "no id"
    ],
)
def test_preflight_refuses_a_mapped_id_the_api_types_as_an_integer(
    mock: responses.RequestsMock, tables: dict[str, dict[str, str]], named: str
) -> None:
    client = WebinOneV2(BASE, token="tok", resolver=ob.ReferenceResolver(tables, use_hooks=False))
    with pytest.raises(ob.ConfigurationError) as info:
        client.preflight()
    assert str(info.value).startswith(named) and "\n" not in str(info.value)
    assert len(mock.calls) == 0  # before any request


def test_preflight_takes_integer_ids_and_asset_ids_as_text(mock: responses.RequestsMock) -> None:
    # The pages type DiscountId, GiftVoucherId, ShippingOptionId and TaxId as strings: not checked.
    tables = {"status": {"Paid": 2041}, "member": {"28049": "51230"}, "discount": {"SPRING10": "D1"}}
    client = WebinOneV2(BASE, token="tok", resolver=ob.ReferenceResolver(tables, use_hooks=False))
    for path in ("order-statuses", "members", "discount-codes"):  # a site without catalog lists
        add_json(mock, "GET", f"{BASE}/api/v2/admin/{path}", {"Message": "No HTTP resource"}, status=404)
    add_json(mock, "GET", V2, page([], total=0))
    client.preflight()
    assert [c[1] for c in sent(mock.calls)] == [
        "/api/v2/admin/order-statuses",
        "/api/v2/admin/members",
        "/api/v2/admin/discount-codes",
        "/api/v2/admin/orders",
    ]


def test_preflight_checks_mapped_ids_against_the_catalog_a_site_lists(mock: responses.RequestsMock) -> None:
    # "GST" = "twelve" is a tax mapping whose value is no tax id of the site: said as such.
    tables = {"tax": {"GST": "twelve"}}
    client = WebinOneV2(BASE, token="tok", resolver=ob.ReferenceResolver(tables, use_hooks=False))
    taxes = [{"Id": 7000, "Code": "GST", "Rate": 10}, {"Id": 7001, "Code": "VAT", "Rate": 20}]
    add_json(mock, "GET", f"{BASE}/api/v2/admin/tax-codes", page(taxes))
    with pytest.raises(ob.ConfigurationError) as caught:
        client.preflight()
    assert str(caught.value) == (
        "[references.tax] 'GST' = 'twelve': not a valid tax id on webinone-v2 "
        "(it lists 2: 7000 GST, 7001 VAT)"
    )
    assert client.list_references("tax") == [
        ob.ReferenceCandidate("7000", "GST"),
        ob.ReferenceCandidate("7001", "VAT"),
    ]
