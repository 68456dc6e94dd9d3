"""The WebinOne simulator, over real loopback HTTP with plain ``requests`` (never the orderbridge client).

These tests pin the simulator to the API pages: shapes and key names of v1 and v2,
the token flow, paging, validation, and the site's pricing rule.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from orderbridge_webinone.generator import (
    PAYMENT_GATEWAY_TYPES,
    V1_PARTS,
    LineRecord,
    OrderRecord,
    generate_documents,
)
from orderbridge_webinone.simulator import MAX_LIMIT, WebinOneSimulator

from orderbridge import jsonutil
from orderbridge.sandbox import SimServer, serve

TIMEOUT = 5
V2 = "/api/v2/admin/orders"
V1 = "/api/v1/orders"
TOKEN = "/api/v1/oauth/token"
V2_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
V1_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
V2_KEYS = (
    "Id AWBNumber CurrencyCountry Currency Country InvoiceDate InvoiceNumber IsDeleted IsRecurring "
    "MainOrderId MemberId OrderName PaymentState StatusId TotalCost CreatedDateTime HasSubscriptions "
    "HasPaidSubscription TrackingURL TransactionId AmountPaid AmountPending OrderCaseType "
    "StatusShort Discount GiftVoucher Tax ShippingInfo Member OrderLines Payments CustomCrmGroups"
).split()
V1_SCALARS = (
    "Id AWBNumber AmountPaid AmountPending CreatedDateTime CurrencyCountry Currency Country "
    "HasPaidSubscription HasSubscriptions InvoiceDate InvoiceNumber IsRecurring MainOrderId MemberId "
    "OrderCaseType OrderName PaymentState StatusId TotalCost TrackingUrl TransactionId"
).split()
LINE_KEYS = (
    "Id EntityType ProductId ModuleId ProductName Quantity TaxRate UnitPrice TotalPrice FileName "
    "IsDownload Attributes"
).split()
V2_PAYMENT_KEYS = (
    "Id Amount AmountCaptured GatewayReason TransactionId Status PaymentType PaymentGatewayType "
    "Notes CreatedDateTime"
).split()


class FakeClock:
    """An aware clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Site:
    """A simulator served on loopback plus a logged-in ``requests`` session."""

    def __init__(self, sim: WebinOneSimulator, server: SimServer) -> None:
        self.sim = sim
        self.server = server
        self.url = server.url
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {self.token()}"

    def token(self, **form: str) -> str:
        data = {"grant_type": "client_credentials", **self.sim.credentials(), **form}
        answer = requests.post(self.url + TOKEN, data=data, timeout=TIMEOUT)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        """Send, check the status, return the Decimal-exact JSON body (or None when empty)."""
        answer = self.http.request(method, self.url + path, timeout=TIMEOUT, **kwargs)
        assert answer.status_code == expect, f"{method} {path}: {answer.status_code} {answer.text}"
        return jsonutil.loads(answer.content) if answer.content else None

    def send(self, method: str, path: str, body: Any, expect: int = 200) -> Any:
        """A JSON write with the body encoded Decimal-exact."""
        headers = {"Content-Type": "application/json"}
        return self.call(method, path, expect, data=jsonutil.dumps(body).encode(), headers=headers)


@pytest.fixture
def make_site() -> Iterator[Any]:
    servers: list[SimServer] = []

    def make(sim: WebinOneSimulator | None = None, seed_count: int = 0, seed: int = 0) -> Site:
        sim = sim if sim is not None else WebinOneSimulator()
        if seed_count:
            sim.seed(seed_count, seed=seed)
        server = SimServer(sim).start()
        servers.append(server)
        return Site(sim, server)

    yield make
    for server in servers:
        assert server.errors == [], server.errors  # a 500 is a simulator bug
        server.stop()


# ---------------------------------------------------------------- auth


def test_token_flow(make_site: Any) -> None:
    site = make_site()
    creds = site.sim.credentials()
    answer = requests.post(
        site.url + TOKEN, data={"grant_type": "client_credentials", **creds}, timeout=TIMEOUT
    ).json()
    assert set(answer) == {"access_token", "token_type", "expires_in"}
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 3600
    headers = {"Authorization": f"Bearer {answer['access_token']}"}
    assert requests.get(site.url + V2, headers=headers, timeout=TIMEOUT).status_code == 200

    wrong = {"grant_type": "client_credentials", "client_id": creds["client_id"], "client_secret": "nope"}
    refused = requests.post(site.url + TOKEN, data=wrong, timeout=TIMEOUT)
    assert refused.status_code == 401 and refused.json() == {"error": "invalid_client"}
    bad_grant = {**creds, "grant_type": "password"}
    assert requests.post(site.url + TOKEN, data=bad_grant, timeout=TIMEOUT).status_code == 400
    as_json = requests.post(
        site.url + TOKEN, json={"grant_type": "client_credentials", **creds}, timeout=TIMEOUT
    )
    assert as_json.status_code == 400  # the token endpoint takes a form, not JSON


def test_every_endpoint_needs_a_valid_token(make_site: Any) -> None:
    site = make_site(seed_count=3)
    order_id = site.sim.order_ids()[0]
    for method, path in [
        ("GET", V2),
        ("GET", f"{V2}/{order_id}"),
        ("GET", V1),
        ("PUT", f"{V1}/{order_id}"),
        ("DELETE", f"{V2}/{order_id}"),
        ("POST", V2),
    ]:
        bare = requests.request(method, site.url + path, json={}, timeout=TIMEOUT)
        assert bare.status_code == 401, (method, path)
        assert bare.headers["WWW-Authenticate"].startswith("Bearer")
        assert set(bare.json()) == {"Message", "Errors"}
        forged = requests.request(
            method, site.url + path, headers={"Authorization": "Bearer forged"}, timeout=5
        )
        assert forged.status_code == 401
    assert site.sim.order_count() == 3  # nothing was deleted without a token


def test_token_expiry_follows_the_clock(make_site: Any) -> None:
    clock = FakeClock(datetime(2024, 5, 17, 18, 0, tzinfo=UTC))
    site = make_site(WebinOneSimulator(token_ttl=60, clock=clock))
    site.call("GET", V2)
    clock.now += timedelta(seconds=59)
    site.call("GET", V2)
    clock.now += timedelta(seconds=1)
    site.call("GET", V2, expect=401)
    site.http.headers["Authorization"] = f"Bearer {site.token()}"  # a fresh token works again
    site.call("GET", V2)
    site.sim.revoke_tokens()
    site.call("GET", V1, expect=401)


def test_custom_credentials() -> None:
    sim = WebinOneSimulator(client_id="app-1", client_secret="s3cr3t-é")
    assert sim.credentials() == {"client_id": "app-1", "client_secret": "s3cr3t-é"}
    assert "s3cr3t" not in repr(sim)


# ---------------------------------------------------------------- lists


def test_v2_list_paging_sorting_and_filtering(make_site: Any) -> None:
    site = make_site(seed_count=25)
    ids = site.sim.order_ids()
    everything = site.call("GET", V2)
    assert set(everything) == {"Items", "TotalItemsCount"}
    assert everything["TotalItemsCount"] == 25 and [o["Id"] for o in everything["Items"]] == ids

    page = site.call("GET", V2, params={"Offset": 20, "Limit": 10})
    assert page["TotalItemsCount"] == 25 and [o["Id"] for o in page["Items"]] == ids[20:]
    backwards = site.call("GET", V2, params={"Order_By": "-Id", "Limit": 3})
    assert [o["Id"] for o in backwards["Items"]] == ids[::-1][:3]
    by_invoice = site.call("GET", V2, params={"Order_By": "-InvoiceNumber", "Limit": 2})
    assert [o["InvoiceNumber"] for o in by_invoice["Items"]] == [25, 24]

    one = site.call("GET", V2, params={"Where": '{"InvoiceNumber": 7}'})
    assert one["TotalItemsCount"] == 1 and one["Items"][0]["InvoiceNumber"] == 7
    assert site.call("GET", V2, params={"Where": jsonutil.dumps({"Id": ids[3]})})["Items"][0]["Id"] == ids[3]
    assert site.call("GET", V2, params={"Where": '{"Id": 1}'}) == {"Items": [], "TotalItemsCount": 0}
    status_id = one["Items"][0]["StatusId"]
    same_status = site.call("GET", V2, params={"Where": jsonutil.dumps({"StatusId": status_id}), "Limit": 2})
    assert same_status["TotalItemsCount"] >= 1 and len(same_status["Items"]) <= 2
    assert all(o["StatusId"] == status_id for o in same_status["Items"])

    for params in [
        {"Where": '{"Total": 5}'},
        {"Where": '{"Id": {"$gt": 5}}'},
        {"Where": "Id = 5"},
        {"Where": "[1]"},
        {"Offset": -1},
        {"Limit": 0},
        {"Limit": "ten"},
        {"Order_By": "Colour"},
    ]:
        error = site.call("GET", V2, expect=400, params=params)
        assert set(error) == {"Message", "Errors"}, params


def test_limit_is_capped(make_site: Any) -> None:
    site = make_site(seed_count=MAX_LIMIT + 20)
    page = site.call("GET", V1, params={"limit": 5000})
    assert len(page["Items"]) == MAX_LIMIT and page["TotalItemsCount"] == MAX_LIMIT + 20
    assert len(site.call("GET", V2)["Items"]) == 100  # the default Limit


def test_v1_list_fields_select_the_nested_parts(make_site: Any) -> None:
    site = make_site(seed_count=5)
    bare = site.call("GET", V1, params={"limit": 2})["Items"][0]
    assert list(bare) == V1_SCALARS
    some = site.call("GET", V1, params={"fields": "Payments,Status", "limit": 2})["Items"][0]
    assert list(some) == [*V1_SCALARS, "Status", "Payments"]
    full = site.call("GET", V1, params={"fields": ",".join(V1_PARTS), "offset": 1, "limit": 1})
    assert full["TotalItemsCount"] == 5 and list(full["Items"][0]) == [*V1_SCALARS, *V1_PARTS]
    assert full["Items"][0]["Id"] == site.sim.order_ids()[1]
    site.call("GET", V1, expect=400, params={"fields": "Status,Colours"})
    filtered = site.call("GET", V1, params={"where": '{"InvoiceNumber": 2}', "order_by": "-Id"})
    assert [o["InvoiceNumber"] for o in filtered["Items"]] == [2]


# ---------------------------------------------------------------- shapes


def _seeded_order_with(site: Site, predicate: Any) -> int:
    for order_id in site.sim.order_ids():
        if predicate(site.sim.order_doc(order_id)):
            return order_id
    raise AssertionError("no seeded order matches")


def test_v1_and_v2_shapes_differ_as_the_pages_say(make_site: Any) -> None:
    site = make_site(WebinOneSimulator(site_timezone="Australia/Sydney"), seed_count=60)
    order_id = _seeded_order_with(
        site,
        lambda d: (
            d["Member"] and d["TrackingURL"] and any(p["PaymentGatewayType"] != "None" for p in d["Payments"])
        ),
    )
    v2 = site.call("GET", f"{V2}/{order_id}")
    v1 = site.call("GET", f"{V1}/{order_id}")
    v1_item = site.call(
        "GET", V1, params={"where": jsonutil.dumps({"Id": order_id}), "fields": "Member,Payments"}
    )

    assert list(v2) == V2_KEYS
    assert list(v1) == [*V1_SCALARS, *V1_PARTS]
    assert v2["StatusShort"] == v1["Status"] and "Status" not in v2 and "StatusShort" not in v1
    assert v2["TrackingURL"] == v1["TrackingUrl"] and "TrackingUrl" not in v2 and "TrackingURL" not in v1
    assert "IsDeleted" not in v1 and v2["IsDeleted"] is False

    # Times: v2 UTC with milliseconds and Z; v1 naive local time of the site.
    assert V2_TIME.match(v2["CreatedDateTime"]) and V1_TIME.match(v1["CreatedDateTime"])
    utc = datetime.fromisoformat(v2["CreatedDateTime"])
    local = datetime.fromisoformat(v1["CreatedDateTime"]).replace(tzinfo=ZoneInfo("Australia/Sydney"))
    assert local == utc
    # Member id: a string in the single-order answer (as on the page), a number in list items.
    assert v1["Member"]["Id"] == str(v2["Member"]["Id"]) and isinstance(v2["Member"]["Id"], int)
    assert v1_item["Items"][0]["Member"]["Id"] == v2["Member"]["Id"]
    # Gateway: a number in v1, a name in v2, one table.
    for p1, p2 in zip(v1["Payments"], v2["Payments"], strict=True):
        assert list(p2) == V2_PAYMENT_KEYS
        assert isinstance(p1["PaymentGatewayType"], int)
        assert PAYMENT_GATEWAY_TYPES[p1["PaymentGatewayType"]] == p2["PaymentGatewayType"]
        assert V1_TIME.match(p1["CreatedDateTime"]) and V2_TIME.match(p2["CreatedDateTime"])
    # Money is a JSON number with two decimals (exact Decimal here), ids are integers.
    raw = requests.get(site.url + f"{V2}/{order_id}", headers=site.http.headers, timeout=TIMEOUT).text
    assert re.search(r'"TotalCost":-?\d+\.\d\d[,}]', raw)
    assert isinstance(v2["TotalCost"], Decimal) and v2["TotalCost"] == v1["TotalCost"]
    assert all(list(line) == LINE_KEYS and isinstance(line["Id"], int) for line in v2["OrderLines"])
    assert v2["OrderLines"] == v1["OrderLines"]
    assert v2["CurrencyCountry"] == "USD/US"


# ---------------------------------------------------------------- writes and totals


def test_create_lines_assets_payments_groups_and_totals(make_site: Any) -> None:
    clock = FakeClock(datetime(2024, 5, 17, 18, 47, 5, 68123, tzinfo=UTC))
    site = make_site(WebinOneSimulator(clock=clock, currency="EUR", country="FR", id_start=28000))
    tables = site.sim.catalog_tables()
    member_id = next(iter(tables["member"].values()))
    created = site.send(
        "POST",
        V2,
        {
            "OrderName": "Commande №1 ✨",
            "MemberId": member_id,
            "StatusId": str(tables["status"]["Paid"]),
            "InvoiceNumber": 65,
            "InvoiceDate": "2024-05-17T18:47:19.760Z",
            "TrackingURL": "https://t.example/1",
            "ShippingCity": "Paris",
            "PaymentState": "PartiallyPaid",
        },
        expect=201,
    )
    order_id = created["Id"]
    assert order_id == 28000 and list(created) == V2_KEYS
    assert created["CreatedDateTime"] == "2024-05-17T18:47:05.068Z"  # the server's clock, to the millisecond
    assert created["InvoiceDate"] == "2024-05-17T18:47:19.760Z" and created["InvoiceNumber"] == 65
    assert (created["Currency"], created["Country"], created["CurrencyCountry"]) == ("EUR", "FR", "EUR/FR")
    assert created["StatusShort"] == {"Id": tables["status"]["Paid"], "Name": "Paid"}
    assert created["Member"]["Id"] == member_id and created["OrderLines"] == [] and created["Payments"] == []
    assert created["TotalCost"] == Decimal("0.00") and created["ShippingInfo"]["City"] == "Paris"

    mug = site.send(
        "POST",
        f"{V2}/{order_id}/order-lines",
        {
            "ProductId": 3101,
            "ProductName": "Café Crème Mug",
            "Quantity": 3,
            "UnitPrice": Decimal("14.99"),
            "Attributes": [{"AttributeId": 502, "OptionsIds": ["5021", "5023"]}],
        },
        expect=201,
    )
    line = mug["OrderLines"][0]
    assert line["TotalPrice"] == Decimal("44.97") and line["Attributes"][0]["OptionsIds"] == ["5021", "5023"]
    order = site.send(
        "POST",
        f"{V2}/{order_id}/order-lines",
        {"ProductName": "抹茶 Tin", "Quantity": 1, "UnitPrice": Decimal("20.00")},
        expect=201,
    )
    tea_id = order["OrderLines"][1]["Id"]
    assert order["TotalCost"] == Decimal("64.97")

    site.send("PUT", f"{V2}/{order_id}/tax", {"TaxId": tables["tax"]["CA-SALES"]})  # 7.25 %
    site.send("PUT", f"{V2}/{order_id}/discount-code", {"DiscountId": tables["discount"]["WELCOME5"]})
    site.send(
        "PUT",
        f"{V2}/{order_id}/gift-voucher",
        {"GiftVoucherId": str(tables["gift_voucher"]["Bon cadeau 🎁 $10"])},
    )
    order = site.send(
        "PUT", f"{V2}/{order_id}/shipping", {"ShippingOptionId": tables["shipping_option"]["Express"]}
    )
    # 64.97 - 5.00 - 10.00 + 14.50 + round(64.97 * 7.25 %, 2) = 64.47 + 4.71
    assert order["Tax"] == {"Code": "CA-SALES", "Rate": Decimal("7.25")}
    assert order["Discount"] == {"Code": "WELCOME5", "Cost": Decimal("5.00")}
    assert order["GiftVoucher"] == {"Name": "Bon cadeau 🎁 $10", "Cost": Decimal("10.00")}
    assert (order["ShippingInfo"]["Name"], order["ShippingInfo"]["Cost"]) == ("Express", Decimal("14.50"))
    assert order["TotalCost"] == Decimal("69.18")
    assert all(line["TaxRate"] == Decimal("7.25") for line in order["OrderLines"])

    paid = site.send(
        "POST",
        f"{V2}/{order_id}/payments",
        {"OrderId": str(order_id), "PaymentType": "Cash", "Amount": Decimal("50.00"), "Notes": "acompte"},
        expect=201,
    )
    payment = paid["Payments"][0]
    assert payment["Status"] == "Succeeded" and payment["AmountCaptured"] == Decimal("50.00")
    assert payment["PaymentGatewayType"] == "None" and payment["GatewayReason"] is None
    assert payment["TransactionId"] is None and payment["CreatedDateTime"] == "2024-05-17T18:47:05.068Z"
    assert (paid["AmountPaid"], paid["AmountPending"]) == (Decimal("50.00"), Decimal("19.18"))
    later = site.send(
        "POST",
        f"{V2}/{order_id}/payments",
        {"PaymentType": "CreditCard", "Amount": 10, "CreatedDateTime": "2024-06-01T10:00:00Z"},
        expect=201,
    )
    assert later["AmountPending"] == Decimal("9.18")
    listing = site.call("GET", f"{V2}/{order_id}/payments", params={"Order_By": "-Id", "Limit": 1})
    assert listing["TotalItemsCount"] == 2 and listing["Items"][0]["Amount"] == Decimal("10.00")
    cash = site.call("GET", f"{V2}/{order_id}/payments", params={"Where": '{"PaymentType": "Cash"}'})
    assert cash["TotalItemsCount"] == 1

    # Lines: read one, change it, delete another: totals follow.
    assert site.call("GET", f"{V2}/order-lines/{line['Id']}") == {**line, "TaxRate": Decimal("7.25")}
    order = site.send("PUT", f"{V2}/order-lines/{line['Id']}", {"Id": line["Id"], "Quantity": 1})
    assert order["OrderLines"][0]["TotalPrice"] == Decimal("14.99")
    assert site.call("DELETE", f"{V2}/order-lines/{tea_id}", expect=204) is None
    site.call("GET", f"{V2}/order-lines/{tea_id}", expect=404)
    # 14.99 - 5 - 10 + 14.50 + 1.09
    assert site.call("GET", f"{V2}/{order_id}")["TotalCost"] == Decimal("15.58")

    # Payments: update and delete.
    order = site.send("PUT", f"{V2}/payments/{payment['Id']}", {"Amount": Decimal("5.58"), "Notes": None})
    assert order["Payments"][0]["AmountCaptured"] == Decimal("5.58") and order["Payments"][0]["Notes"] is None
    assert order["AmountPending"] == Decimal("0.00")
    site.call("DELETE", f"{V2}/payments/{payment['Id']}", expect=204)
    assert site.call("GET", f"{V2}/{order_id}")["AmountPaid"] == Decimal("10.00")

    # Custom CRM groups: 204, merged field by field, every scalar kind kept exactly.
    groups = {
        "gift_options": {"gift_wrap": True, "message": "Joyeux anniversaire 🎂"},
        "loyalty": {"points": 120, "rate": Decimal("2.50"), "referrer": None},
    }
    assert site.send("PUT", f"{V2}/{order_id}/custom-crm-groups", groups, expect=204) is None
    site.send("PUT", f"{V2}/{order_id}/custom-crm-groups", {"loyalty": {"points": 121}}, expect=204)
    assert site.call("GET", f"{V2}/{order_id}")["CustomCrmGroups"] == {
        "gift_options": {"gift_wrap": True, "message": "Joyeux anniversaire 🎂"},
        "loyalty": {"points": 121, "rate": Decimal("2.50"), "referrer": None},
    }
    # Clearing an asset with null.
    assert site.send("PUT", f"{V2}/{order_id}/tax", {"TaxId": None})["Tax"] == {
        "Code": None,
        "Rate": Decimal("0.00"),
    }


def test_ids_come_from_one_site_sequence_and_differ_between_sites(make_site: Any) -> None:
    a = make_site(WebinOneSimulator(id_start=28000))
    b = make_site(WebinOneSimulator(id_start=1000))
    order_a = a.send("POST", V2, {"OrderName": "a"}, expect=201)
    order_b = b.send("POST", V2, {"OrderName": "b"}, expect=201)
    assert (order_a["Id"], order_b["Id"]) == (28000, 1000)
    with_line = a.send(
        "POST", f"{V2}/28000/order-lines", {"ProductName": "x", "Quantity": 1, "UnitPrice": 1}, 201
    )
    line_id = with_line["OrderLines"][0]["Id"]
    assert line_id == 28001
    a.call("GET", f"{V2}/{line_id}", expect=404)  # a line id never names an order
    a.call("GET", f"{V2}/order-lines/28000", expect=404)
    # Without InvoiceNumber the site assigns its next one.
    assert order_a["InvoiceNumber"] == order_b["InvoiceNumber"] == 1


def test_validation_answers_400_404_415(make_site: Any) -> None:
    site = make_site(WebinOneSimulator(strict_fields=False), seed_count=2)
    order_id = site.sim.order_ids()[0]
    line_id = site.sim.order_doc(order_id)["OrderLines"][0]["Id"]

    def bad(method: str, path: str, body: Any, *names: str) -> None:
        error = site.send(method, path, body, expect=400)
        assert error["Message"] and isinstance(error["Errors"], list)
        text = jsonutil.dumps(error)
        for name in names:
            assert name in text, (name, error)

    bad("POST", f"{V2}/{order_id}/order-lines", {"Quantity": 1, "UnitPrice": 1}, "ProductName")
    bad(
        "POST",
        f"{V2}/{order_id}/order-lines",
        {"ProductName": "x", "Quantity": "2", "UnitPrice": 1},
        "Quantity",
    )
    bad(
        "POST",
        f"{V2}/{order_id}/order-lines",
        {"ProductName": "x", "Quantity": 1, "UnitPrice": "9.99"},
        "UnitPrice",
    )
    bad(
        "POST",
        f"{V2}/{order_id}/order-lines",
        {"ProductName": "x", "Quantity": 1.5, "UnitPrice": 1},
        "Quantity",
    )
    bad(
        "POST",
        f"{V2}/{order_id}/order-lines",
        {"ProductName": "", "Quantity": 1, "UnitPrice": 1},
        "ProductName",
    )
    bad("POST", f"{V2}/{order_id}/payments", {"PaymentType": "Cash"}, "Amount")
    bad("POST", f"{V2}/{order_id}/payments", {"Amount": 5, "PaymentType": "Barter"}, "PaymentType")
    bad("POST", f"{V2}/{order_id}/payments", {"Amount": 5, "OrderId": order_id + 8}, "OrderId")
    bad("POST", V2, {"StatusId": 99}, "StatusId", "99")
    bad("POST", V2, {"MemberId": 1}, "MemberId")
    bad("POST", V2, {"InvoiceNumber": "sixty", "InvoiceDate": "yesterday"}, "InvoiceNumber", "InvoiceDate")
    bad("POST", V2, {"PaymentState": "Paid"}, "PaymentState")
    bad("PUT", f"{V2}/{order_id}", {"Id": order_id + 1}, "Id")
    bad("PUT", f"{V2}/{order_id}", {"Currency": "euro"}, "Currency")
    bad("PUT", f"{V2}/{order_id}/discount-code", {"DiscountId": 123456}, "DiscountId")
    bad("PUT", f"{V2}/{order_id}/gift-voucher", {}, "GiftVoucherId")
    bad("PUT", f"{V2}/{order_id}/shipping", {"ShippingOptionId": 1}, "ShippingOptionId")
    bad("PUT", f"{V2}/{order_id}/tax", {"TaxId": True}, "TaxId")
    bad("PUT", f"{V2}/{order_id}/custom-crm-groups", {"g": {"f": [1]}}, "g.f")
    bad("PUT", f"{V2}/{order_id}/custom-crm-groups", {"g": "flat"}, "g")
    bad("PUT", f"{V2}/order-lines/{line_id}", {"ProductName": None}, "ProductName")
    bad("PUT", f"{V1}/{order_id}", {"StatusId": 5}, "StatusId")
    bad("POST", V2, [1, 2])

    not_json = site.call("POST", V2, expect=400, data=b"{nope", headers={"Content-Type": "application/json"})
    assert not_json["Message"]
    site.call(
        "POST",
        V2,
        expect=415,
        data=b"OrderName=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    missing = order_id + 10_000
    for method, path in [
        ("GET", f"{V2}/{missing}"),
        ("DELETE", f"{V2}/{missing}"),
        ("GET", f"{V1}/{missing}"),
        ("GET", f"{V2}/abc"),
        ("GET", f"{V2}/order-lines/{missing}"),
        ("DELETE", f"{V2}/order-lines/{missing}"),
        ("DELETE", f"{V2}/payments/{missing}"),
        ("GET", f"{V2}/{missing}/payments"),
    ]:
        error = site.call(method, path, expect=404)
        assert set(error) == {"Message", "Errors"}
    for method, path in [
        ("PUT", f"{V2}/{missing}"),
        ("PUT", f"{V1}/{missing}"),
        ("POST", f"{V2}/{missing}/payments"),
        ("PUT", f"{V2}/payments/{missing}"),
        ("PUT", f"{V2}/{missing}/tax"),
    ]:
        site.send(method, path, {"TaxId": None}, expect=404)
    # v1 has no create and no delete.
    site.send("POST", V1, {}, expect=405)
    site.call("DELETE", f"{V1}/{order_id}", expect=405)
    assert site.sim.order_count() == 2


def test_unknown_fields_ignored_unless_strict(make_site: Any) -> None:
    lenient = make_site()
    order = lenient.send(
        "POST", V2, {"OrderName": "x", "TrackingUrl": "v1 name", "OrderLines": [{"a": 1}]}, 201
    )
    assert order["TrackingURL"] is None and order["OrderLines"] == []  # like an ASP.NET binder: ignored
    strict = make_site(WebinOneSimulator(strict_fields=True))
    error = strict.send("POST", V2, {"OrderName": "x", "TrackingUrl": "v1 name"}, expect=400)
    assert error["Errors"] == ["TrackingUrl: unknown field"]


def test_delete_answers_204_without_body(make_site: Any) -> None:
    site = make_site(seed_count=4)
    seeded = site.sim.order_ids()[1]
    answer = site.http.delete(f"{site.url}{V2}/{seeded}", timeout=TIMEOUT)
    assert answer.status_code == 204 and answer.content == b""
    site.call("GET", f"{V2}/{seeded}", expect=404)
    site.call("DELETE", f"{V2}/{seeded}", expect=404)
    assert site.call("GET", V2)["TotalItemsCount"] == 3 and seeded not in site.sim.order_ids()
    created = site.send("POST", V2, {}, expect=201)["Id"]
    site.call("DELETE", f"{V2}/{created}", expect=204)
    site.call("GET", f"{V1}/{created}", expect=404)


def test_default_delete_is_real(make_site: Any) -> None:
    site = make_site(seed_count=3)
    seeded = site.sim.order_ids()[0]
    site.call("DELETE", f"{V2}/{seeded}", expect=204)
    site.call("GET", f"{V1}/{seeded}", expect=404)
    assert site.sim.order_count() == 2 and seeded not in site.sim.order_ids()
    assert site.sim.deleted_ids() == [] and site.sim.live_order_ids() == site.sim.order_ids()
    assert all(item["IsDeleted"] is False for item in site.call("GET", V2)["Items"])


def test_soft_delete_keeps_the_order_listed_and_readable(make_site: Any) -> None:
    site = make_site(WebinOneSimulator(soft_delete=True), seed_count=3)
    seeded = site.sim.order_ids()[1]
    created = site.send("POST", V2, {}, expect=201)["Id"]
    for order_id in (seeded, created):
        answer = site.http.delete(f"{site.url}{V2}/{order_id}", timeout=TIMEOUT)
        assert answer.status_code == 204 and answer.content == b""
        assert site.call("GET", f"{V2}/{order_id}")["IsDeleted"] is True
        assert site.call("GET", f"{V1}/{order_id}")["Id"] == order_id
    page = site.call("GET", V2)
    assert page["TotalItemsCount"] == 4
    assert {i["Id"]: i["IsDeleted"] for i in page["Items"]} == {
        i: i in (seeded, created) for i in site.sim.order_ids()
    }
    assert [i["Id"] for i in site.call("GET", V1)["Items"]] == site.sim.order_ids()
    assert site.sim.order_count() == 4
    assert site.sim.deleted_ids() == sorted((seeded, created))
    assert site.sim.live_order_ids() == [i for i in site.sim.order_ids() if i not in (seeded, created)]


def test_soft_deleted_order_answers_404_to_a_second_delete_and_to_writes(make_site: Any) -> None:
    site = make_site(WebinOneSimulator(soft_delete=True), seed_count=2)
    order_id = site.sim.order_ids()[0]
    before = site.call("GET", f"{V2}/{order_id}")
    line_id, payment_id = before["OrderLines"][0]["Id"], before["Payments"][0]["Id"]
    site.call("DELETE", f"{V2}/{order_id}", expect=204)
    site.call("DELETE", f"{V2}/{order_id}", expect=404)
    with pytest.raises(KeyError):
        site.sim.remove_order(order_id)
    site.send("PUT", f"{V2}/{order_id}", {"OrderName": "again"}, expect=404)
    site.send("PUT", f"{V1}/{order_id}", {"OrderName": "again"}, expect=404)
    site.send("PUT", f"{V2}/{order_id}/custom-crm-groups", {"G": {"F": 1}}, expect=404)
    site.send("PUT", f"{V2}/{order_id}/discount-code", {"DiscountId": None}, expect=404)
    site.send(
        "POST", f"{V2}/{order_id}/order-lines", {"ProductName": "x", "Quantity": 1, "UnitPrice": 1}, 404
    )
    site.send("PUT", f"{V2}/order-lines/{line_id}", {"Quantity": 2}, expect=404)
    site.call("DELETE", f"{V2}/order-lines/{line_id}", expect=404)
    site.send("POST", f"{V2}/{order_id}/payments", {"Amount": 1}, expect=404)
    site.send("PUT", f"{V2}/payments/{payment_id}", {"Notes": "x"}, expect=404)
    site.call("DELETE", f"{V2}/payments/{payment_id}", expect=404)
    after = site.call("GET", f"{V2}/{order_id}")
    assert after == {**before, "IsDeleted": True}
    assert site.call("GET", f"{V2}/order-lines/{line_id}")["Id"] == line_id  # reads still work


def test_remove_order_soft_deletes_under_the_knob() -> None:
    sim = WebinOneSimulator(soft_delete=True)
    sim.seed(2)
    first = sim.order_ids()[0]
    sim.remove_order(first)
    assert sim.order_doc(first)["IsDeleted"] is True and sim.order_count() == 2
    assert sim.deleted_ids() == [first] and sim.live_order_ids() == sim.order_ids()[1:]


def test_v1_put_updates_and_answers_the_v1_order(make_site: Any) -> None:
    site = make_site(WebinOneSimulator(site_timezone="America/New_York"), seed_count=3)
    order_id = site.sim.order_ids()[2]
    tables = site.sim.catalog_tables()
    before = site.call("GET", f"{V1}/{order_id}")
    body = {
        **{
            k: before[k]
            for k in (
                "Id",
                "AWBNumber",
                "Currency",
                "Country",
                "InvoiceNumber",
                "MainOrderId",
                "MemberId",
                "OrderName",
                "PaymentState",
            )
        },
        "CreatedDateTime": "2022-01-14T09:47:37",
        "InvoiceDate": "2022-01-15T00:30:00",
        "StatusId": tables["status"]["Shipped"],
        "TrackingUrl": "https://track.example.com/1Z9",
    }
    after = site.send("PUT", f"{V1}/{order_id}", body)
    assert list(after) == [*V1_SCALARS, *V1_PARTS]
    assert after["CreatedDateTime"] == "2022-01-14T09:47:37" and after["InvoiceDate"] == "2022-01-15T00:30:00"
    assert after["Status"] == {"Id": tables["status"]["Shipped"], "Name": "Shipped"}
    assert after["TrackingUrl"] == "https://track.example.com/1Z9" and isinstance(after["Member"]["Id"], str)
    assert after["OrderLines"] == before["OrderLines"] and after["TotalCost"] == before["TotalCost"]
    v2 = site.call("GET", f"{V2}/{order_id}")
    assert v2["CreatedDateTime"] == "2022-01-14T14:47:37.000Z"  # New York is UTC-5 in January
    assert v2["TrackingURL"] == "https://track.example.com/1Z9"
    assert site.send("PUT", f"{V1}/{order_id}", {"OrderName": "Solo"})["InvoiceDate"] == "2022-01-15T00:30:00"


# ---------------------------------------------------------------- seeding, catalogs, store hooks


def _money_ok(value: Any) -> bool:
    return isinstance(value, Decimal) and value == value.quantize(Decimal("0.01"))


def test_seed_is_deterministic_realistic_and_consistent() -> None:
    a, b, c = WebinOneSimulator(), WebinOneSimulator(), WebinOneSimulator()
    a.seed(300, seed=42)
    b.seed(300, seed=42)
    c.seed(300, seed=43)
    docs = [a.order_doc(i) for i in a.order_ids()]
    assert docs == [b.order_doc(i) for i in b.order_ids()]
    assert docs != [c.order_doc(i) for i in c.order_ids()]
    assert docs == list(generate_documents(300, seed=42))  # same documents without a server
    assert [a.order_doc(i, "v1") for i in a.order_ids()] == list(
        generate_documents(300, seed=42, version="v1")
    )

    catalog = a.catalog
    assert len({d["InvoiceNumber"] for d in docs}) == 300
    for doc in docs:
        subtotal = sum((line["TotalPrice"] for line in doc["OrderLines"]), Decimal("0.00"))
        assert all(line["TotalPrice"] == line["Quantity"] * line["UnitPrice"] for line in doc["OrderLines"])
        tax = (subtotal * doc["Tax"]["Rate"] / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        expected = (
            subtotal
            - doc["Discount"]["Cost"]
            - doc["GiftVoucher"]["Cost"]
            + doc["ShippingInfo"]["Cost"]
            + tax
        )
        assert doc["TotalCost"] == expected > 0
        paid = sum((p["Amount"] for p in doc["Payments"] if p["Status"] == "Succeeded"), Decimal("0.00"))
        assert doc["AmountPaid"] == paid and doc["AmountPending"] == doc["TotalCost"] - paid
        assert doc["StatusId"] in catalog.statuses and doc["MemberId"] in catalog.members
        assert 1 <= len(doc["OrderLines"]) <= 4 and len(doc["Payments"]) <= 3
        assert all(_money_ok(v) for v in (doc["TotalCost"], doc["AmountPaid"], doc["AmountPending"]))

    def share(predicate: Any) -> int:
        return sum(1 for d in docs if predicate(d))

    assert share(lambda d: d["AmountPaid"] and d["AmountPending"] > 0) > 10  # partially paid
    assert share(lambda d: not d["Payments"]) > 10
    assert share(lambda d: d["Discount"]["Code"]) > 10 and share(lambda d: d["GiftVoucher"]["Name"]) > 3
    assert share(lambda d: d["Tax"]["Code"]) > 50 and share(lambda d: d["ShippingInfo"]["Name"]) > 50
    assert share(lambda d: any(line["IsDownload"] and line["FileName"] for line in d["OrderLines"])) > 10
    assert share(lambda d: any(line["Attributes"] for line in d["OrderLines"])) > 30
    assert share(lambda d: d["CustomCrmGroups"]) > 30 and share(lambda d: d["IsRecurring"]) >= 1
    assert (
        share(lambda d: d["TransactionId"]) > 30 and share(lambda d: d["AWBNumber"] and d["TrackingURL"]) > 10
    )
    assert share(lambda d: any(p["GatewayReason"] for p in d["Payments"])) > 3
    assert {p["PaymentType"] for d in docs for p in d["Payments"]} >= {
        "CreditCard",
        "Cash",
        "PayPal",
        "Check",
    }
    assert {d["PaymentState"] for d in docs} >= {"None", "Succeeded", "PartiallyPaid"}
    crm_values = [v for d in docs for g in d["CustomCrmGroups"].values() for v in g.values()]
    assert {type(v) for v in crm_values} >= {str, bool, int, Decimal}
    names = " ".join(line["ProductName"] for d in docs for line in d["OrderLines"])
    members = " ".join(f"{d['Member']['FirstName']} {d['Member']['LastName']}" for d in docs)
    assert re.search(r"[À-ÿ]", names + members) and re.search(r"[\u4e00-\u9fff]", names + members)
    assert re.search(r"[\U0001F300-\U0001FAFF]", names + members)  # emoji
    years = {d["CreatedDateTime"][:4] for d in docs}
    assert len(years) >= 5 and [d["CreatedDateTime"] for d in docs] == sorted(
        d["CreatedDateTime"] for d in docs
    )


def test_generate_documents_matches_the_served_v1_shapes(make_site: Any) -> None:
    site = make_site(WebinOneSimulator(site_timezone="Europe/Paris", id_start=28000), seed_count=5, seed=9)
    served = [site.call("GET", f"{V1}/{i}") for i in site.sim.order_ids()]
    assert served == list(
        generate_documents(5, seed=9, version="v1", site_timezone="Europe/Paris", first_id=28000)
    )
    listed = site.call("GET", V1, params={"fields": ",".join(V1_PARTS)})["Items"]
    offline = generate_documents(
        5, seed=9, version="v1", single=False, site_timezone="Europe/Paris", first_id=28000
    )
    assert listed == list(offline)


def test_same_catalog_seed_gives_identical_catalogs() -> None:
    source = WebinOneSimulator(catalog_seed=7, id_start=28000)
    target = WebinOneSimulator(catalog_seed=7, id_start=1000)
    other = WebinOneSimulator(catalog_seed=8)
    assert source.catalog == target.catalog and source.catalog_tables() == target.catalog_tables()
    assert set(source.catalog.statuses) != set(other.catalog.statuses)
    tables = source.catalog_tables()
    assert set(tables) == {"status", "discount", "gift_voucher", "shipping_option", "tax", "member"}
    assert tables["status"]["Paid"] in source.catalog.statuses
    assert all(tables["member"][str(i)] == i for i in source.catalog.members)
    source.seed(3)
    target.seed(3)
    assert not set(source.order_ids()) & set(target.order_ids())


def test_big_seed_is_instant_and_pages_quickly(make_site: Any) -> None:
    started = time.perf_counter()
    sim = WebinOneSimulator()
    sim.seed(100_000, seed=1)
    # Generous bounds, never timing luck: eager generation of 100,000 orders would take minutes.
    assert time.perf_counter() - started < 20 and sim.order_count() == 100_000
    site = make_site(sim)
    started = time.perf_counter()
    last = site.call("GET", V2, params={"Offset": 99_950, "Limit": 100})
    found = site.call("GET", V2, params={"Where": '{"InvoiceNumber": 99999}'})
    assert time.perf_counter() - started < 20
    assert len(last["Items"]) == 50 and last["Items"][-1]["Id"] == sim.order_ids()[-1]
    assert found["Items"][0]["InvoiceNumber"] == 99_999


def test_store_hooks(make_site: Any) -> None:
    site = make_site(seed_count=2)
    sim = site.sim
    first = sim.order_ids()[0]
    with sim.lock:
        sim.order_record(first).order_name = "written directly"
    assert site.call("GET", f"{V2}/{first}")["OrderName"] == "written directly"
    status_id = next(iter(sim.catalog.statuses))
    record = OrderRecord(
        id=0,
        invoice_number=900,
        created=datetime(2020, 1, 1, tzinfo=UTC),
        invoice_date=None,
        status_id=status_id,
        currency="USD",
        country="US",
        lines=[LineRecord(id=0, product_name="Hat", quantity=2, unit_price=Decimal("3.50"))],
    )
    new_id = sim.add_record(record)
    doc = site.call("GET", f"{V2}/{new_id}")
    assert doc["TotalCost"] == Decimal("7.00") and doc["OrderLines"][0]["Id"] == new_id + 1
    assert sim.order_doc(new_id, "v1")["InvoiceDate"] is None
    sim.remove_order(new_id)
    with pytest.raises(KeyError):
        sim.order_doc(new_id)
    assert sim.requests_log.count("GET") >= 1
    sim.reset()
    assert sim.order_count() == 0 and len(sim.requests_log) == 0
    assert site.call("GET", V2) == {"Items": [], "TotalItemsCount": 0}  # the token survived the reset


def test_concurrent_writes_get_unique_ids(make_site: Any) -> None:
    site = make_site()
    order_id = site.send("POST", V2, {}, expect=201)["Id"]
    seen: list[int] = []

    def worker() -> None:
        with requests.Session() as http:
            http.headers.update(site.http.headers)
            for _ in range(10):
                answer = http.post(f"{site.url}{V2}/{order_id}/payments", json={"Amount": 1}, timeout=TIMEOUT)
                assert answer.status_code == 201
                seen.append(max(p["Id"] for p in answer.json()["Payments"]))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    payments = site.call("GET", f"{V2}/{order_id}/payments", params={"Limit": 500})
    assert payments["TotalItemsCount"] == 60 == len({p["Id"] for p in payments["Items"]})
    assert site.call("GET", f"{V2}/{order_id}")["AmountPaid"] == Decimal("60.00")


def test_serve_starts_it_with_default_knobs() -> None:
    with serve(["webinone"], seed_counts=3, simulators={"webinone": WebinOneSimulator}) as servers:
        server = servers["webinone"]
        sim = server.simulator
        assert isinstance(sim, WebinOneSimulator) and sim.order_count() == 3
        token = requests.post(
            server.url + TOKEN,
            data={"grant_type": "client_credentials", **sim.credentials()},
            timeout=TIMEOUT,
        ).json()["access_token"]
        answer = requests.get(server.url + V1, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
        assert answer.json()["TotalItemsCount"] == 3
