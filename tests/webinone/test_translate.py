"""Pure translation: page samples, normal form, generated documents, bad documents, losses."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from orderbridge_webinone import WebinOneV1, WebinOneV2, wire
from orderbridge_webinone.generator import generate_documents

import orderbridge as ob
from orderbridge import jsonutil

from .conftest import deep, real_v2_doc


def test_backends_are_registered() -> None:
    assert ob.get_backend("webinone-v2") is WebinOneV2
    assert ob.get_backend("webinone-v1") is WebinOneV1
    assert WebinOneV2.capabilities == {"read", "create", "update", "delete"}
    assert WebinOneV1.capabilities == {"read", "update"}


# ------------------------------------------------------------------ page samples


def test_v2_page_sample_round_trips_unchanged(v2_doc: dict[str, Any]) -> None:
    original = deep(v2_doc)
    order = WebinOneV2.to_canonical(v2_doc)
    back = WebinOneV2.from_canonical(order)
    assert back == original
    assert list(back) == list(original)  # key order as on the page
    assert v2_doc == original  # the input is not mutated
    assert jsonutil.loads(jsonutil.dumps(back)) == original


def test_v2_page_sample_mapping(v2_doc: dict[str, Any]) -> None:
    order = WebinOneV2.to_canonical(v2_doc)
    assert order.source == ob.SourceRef("webinone-v2", "0")
    assert order.number == "0"
    assert order.name == "string"
    assert order.currency is None  # "string" is no ISO code: kept verbatim in extras
    assert order.extras["webinone-v2"]["raw"] == {"Currency": "string"}
    assert order.status == ob.OrderStatus(name="string", remote_id="0")
    assert order.payment_state is ob.PaymentState.NONE
    assert order.invoiced_at == datetime(2024, 5, 17, 18, 47, 19, 762000, tzinfo=UTC)
    assert order.discounts == (ob.Discount(code="string", amount=Decimal(0)),)
    assert order.gift_vouchers == (ob.GiftVoucher(code="string", amount=Decimal(0)),)
    assert order.taxes == (ob.Tax(code="string", rate=Decimal(0)),)
    assert order.shipping == ob.ShippingOption(name="string", cost=Decimal(0))
    assert order.shipping_address == ob.Address(
        line1="string", city="string", state="string", postal_code="string", country="string"
    )
    line = order.lines[0]
    assert line.attributes == (ob.AttributeSelection(attribute_id="0", option_ids=("string",)),)
    assert line.extras == {"webinone-v2": {"EntityType": "Form", "ModuleId": 0}}
    assert order.payments[0].gateway == "stripe"
    assert order.payments[0].payment_type is ob.PaymentType.CREDIT_CARD
    assert order.custom_fields == {
        "<GroupAlias1>": {"<FieldAlias1>": "<value>", "<FieldAlias2>": False, "<FieldAlias3>": 0}
    }


@pytest.mark.parametrize("zone", ["UTC", "Australia/Sydney"])
def test_v1_page_sample(v1_doc: dict[str, Any], zone: str) -> None:
    order = WebinOneV1.to_canonical(v1_doc, site_timezone=zone)
    assert order.total == Decimal("10.00") and isinstance(order.total, Decimal)
    assert order.created_at == datetime(2022, 1, 14, 9, 47, 37, tzinfo=ZoneInfo(zone))
    assert order.created_at is not None and order.created_at.utcoffset() is not None
    assert order.customer == ob.Customer(remote_id="28049", email="test@test.com")
    assert order.status == ob.OrderStatus(name="Paid", remote_id="13176")
    assert order.discounts == () and order.gift_vouchers == () and order.taxes == ()  # empty assets
    assert order.shipping is None and order.shipping_address == ob.Address(country="US")
    assert order.payments[0].gateway == "None"  # v1 gateway 0
    assert order.payments[0].created_at == datetime(2022, 1, 14, 11, 47, tzinfo=ZoneInfo(zone))
    assert order.extras["webinone-v1"] == {"OrderCaseType": "FormCase", "quoted": ["Member.Id"]}
    back = WebinOneV1.from_canonical(order, site_timezone=zone)
    assert back == v1_doc and list(back) == list(v1_doc)
    assert back["Member"]["Id"] == "28049" and back["MemberId"] == 28049


def test_v1_sydney_instant_differs_from_utc(v1_doc: dict[str, Any]) -> None:
    utc = WebinOneV1.to_canonical(v1_doc)
    sydney = WebinOneV1.to_canonical(v1_doc, site_timezone="Australia/Sydney")
    assert utc.created_at is not None and sydney.created_at is not None
    assert utc.created_at - sydney.created_at == (utc.created_at - utc.created_at).__class__(hours=11)
    # written to v2 as UTC with Z
    assert WebinOneV2.from_canonical(sydney)["CreatedDateTime"] == "2022-01-13T22:47:37.000Z"


def test_unknown_time_zone_is_a_configuration_error(v1_doc: dict[str, Any]) -> None:
    with pytest.raises(ob.ConfigurationError, match="Mars/Olympus"):
        WebinOneV1.to_canonical(v1_doc, site_timezone="Mars/Olympus")


# ------------------------------------------------------------------ normal form


def test_null_parts_and_empty_assets_round_trip() -> None:
    doc = real_v2_doc()
    doc.update(
        Discount=None, GiftVoucher={"Name": None, "Cost": Decimal("0.00")}, Tax=None, ShippingInfo=None
    )
    doc.update(OrderLines=None, Payments=None, CustomCrmGroups=None, StatusShort=None, Member=None)
    order = WebinOneV2.to_canonical(doc)
    assert order.discounts == () and order.gift_vouchers == () and order.lines == ()
    assert order.status == ob.OrderStatus(remote_id="13176")
    assert order.customer == ob.Customer(remote_id="28049")
    assert WebinOneV2.from_canonical(order) == doc


def test_fields_always_sent_are_required() -> None:
    for doc, field in (
        ({"OrderName": "x", "OrderLines": []}, "Id"),
        ({"Id": 5, "OrderLines": [{"Id": 6, "Quantity": 1}]}, "OrderLines[0].UnitPrice"),
        ({"Id": 5, "OrderLines": [{"Id": 6, "UnitPrice": 1}]}, "OrderLines[0].Quantity"),
    ):
        with pytest.raises(ob.InvalidOrder) as info:
            WebinOneV2.to_canonical(doc)
        assert info.value.field == field, doc


def test_absent_keys_are_written_as_null() -> None:
    doc = {"Id": 5, "OrderName": "x", "OrderLines": None}
    normal = WebinOneV2.normalize(doc)
    assert list(normal) == list(WebinOneV2.from_canonical(WebinOneV2.to_canonical(real_v2_doc())))
    assert normal["Id"] == 5 and normal["OrderName"] == "x"
    assert normal["Discount"] is None and normal["OrderLines"] is None and normal["AWBNumber"] is None
    assert WebinOneV2.normalize(normal) == normal  # idempotent


def test_spellings_are_remembered() -> None:
    doc = real_v2_doc(
        MemberId="28049",  # an id sent as text
        InvoiceNumber="INV-65",  # a number that is not one
        StatusId=13177,  # disagrees with StatusShort.Id
        InvoiceDate="2024-05-17T18:47:19Z",  # another spelling of an instant
        Surprise={"new": True},  # a key not on the page
    )
    doc["OrderLines"][0]["Attributes"][0]["OptionsIds"] = ["5022", 5023]
    doc["Payments"][0]["Extra"] = 1
    order = WebinOneV2.to_canonical(doc)
    assert order.number == "INV-65" and order.customer is not None and order.customer.remote_id == "28049"
    assert order.lines[0].attributes[0].option_ids == ("5022", "5023")
    back = WebinOneV2.from_canonical(order)
    assert back == doc
    assert back["MemberId"] == "28049" and back["Member"]["Id"] == 28049
    assert back["OrderLines"][0]["Attributes"][0]["OptionsIds"] == ["5022", 5023]


def test_edited_times_are_written_in_the_normal_spelling() -> None:
    order = WebinOneV2.to_canonical(real_v2_doc(InvoiceDate="2024-05-17T18:47:19Z"))
    moved = order.evolve(invoiced_at=datetime(2024, 6, 1, tzinfo=UTC))
    assert WebinOneV2.from_canonical(moved)["InvoiceDate"] == "2024-06-01T00:00:00.000Z"


def test_foreign_order_ids_are_not_written_as_this_backends_ids(v1_doc: dict[str, Any]) -> None:
    order = WebinOneV1.to_canonical(v1_doc)
    doc = WebinOneV2.from_canonical(order)
    assert doc["Id"] is None and doc["OrderLines"][0]["Id"] is None and doc["Payments"][0]["Id"] is None
    assert doc["StatusId"] == 13176 and doc["MemberId"] == 28049  # references as held
    assert doc["Payments"][0]["PaymentGatewayType"] == "None"
    assert doc["CurrencyCountry"] == "USD/US"


@pytest.mark.parametrize(("number", "name"), [(0, "None"), (2, "stripe"), (42, "v1:42")])
def test_v1_gateway_table(number: int, name: str) -> None:
    assert wire.gateway_from_v1(number) == name
    assert wire.gateway_to_v1(name) == number


# ------------------------------------------------------------------ generated documents


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("zone", ["UTC", "Australia/Sydney"])
def test_generated_documents_round_trip(version: str, zone: str) -> None:
    docs = generate_documents(150, seed=7, version=version, site_timezone=zone)  # type: ignore[arg-type]
    for doc in docs:
        text = jsonutil.dumps(doc)
        doc = jsonutil.loads(text)
        if version == "v2":
            order = WebinOneV2.to_canonical(doc)
            back = WebinOneV2.from_canonical(order)
        else:
            order = WebinOneV1.to_canonical(doc, site_timezone=zone)
            back = WebinOneV1.from_canonical(order, site_timezone=zone)
        assert back == doc, doc["Id"]
        assert jsonutil.dumps(back) == text  # even the text, for the generator's spelling
        assert order == ob.order_from_dict(ob.order_to_dict(order))  # canonical JSON survives too


def test_v1_list_items_without_parts_round_trip() -> None:
    doc = next(iter(generate_documents(1, version="v1", single=False)))
    scalars = {k: v for k, v in doc.items() if not isinstance(v, dict | list)}
    order = WebinOneV1.to_canonical(scalars)
    assert order.customer is not None and order.customer.remote_id == str(doc["MemberId"])
    back = WebinOneV1.from_canonical(order)
    assert {k: back[k] for k in scalars} == scalars
    assert back["OrderLines"] is None and back["Discount"] is None  # normal form: absent -> null


# ------------------------------------------------------------------ bad documents


@pytest.mark.parametrize(
    ("change", "order", "field"),
    [
        ({"Id": None}, "?", "Id"),
        ({"Id": 1.5}, "?", "Id"),
        ({"TotalCost": "10.00"}, "812", "TotalCost"),
        ({"TotalCost": 10.0}, "812", "TotalCost"),
        ({"IsRecurring": "no"}, "812", "IsRecurring"),
        ({"OrderName": 5}, "812", "OrderName"),
        ({"InvoiceDate": "yesterday"}, "812", "InvoiceDate"),
        ({"InvoiceDate": "2024-05-17T18:47:19"}, "812", "InvoiceDate"),  # v2 times carry Z
        ({"Discount": []}, "812", "Discount"),
        ({"OrderLines": {}}, "812", "OrderLines"),
        ({"CustomCrmGroups": {"g": {"f": [1]}}}, "812", "CustomCrmGroups.g.f"),
    ],
)
def test_bad_documents_name_order_and_field(change: dict[str, Any], order: str, field: str) -> None:
    doc = real_v2_doc(**change)
    with pytest.raises(ob.InvalidOrder) as info:
        WebinOneV2.to_canonical(doc)
    assert info.value.order == order
    assert info.value.field == field
    assert f"order {order}" in str(info.value) and field in str(info.value)


def test_bad_nested_fields_name_the_path() -> None:
    doc = real_v2_doc()
    doc["OrderLines"][1]["Quantity"] = -1
    with pytest.raises(ob.InvalidOrder) as info:
        WebinOneV2.to_canonical(doc)
    assert (info.value.order, info.value.field) == ("812", "OrderLines[1].Quantity")
    doc = real_v2_doc()
    doc["Payments"][0]["Amount"] = "20"
    with pytest.raises(ob.InvalidOrder) as info:
        WebinOneV2.to_canonical(doc)
    assert info.value.field == "Payments[0].Amount"
    doc = real_v2_doc()
    doc["OrderLines"][0]["Attributes"][0]["AttributeId"] = None
    with pytest.raises(ob.InvalidOrder) as info:
        WebinOneV2.to_canonical(doc)
    assert info.value.field == "OrderLines[0].Attributes[0].AttributeId"
    with pytest.raises(ob.InvalidOrder, match="Currency"):
        WebinOneV1.to_canonical({"Id": 3, "Currency": 12})


def test_not_an_object() -> None:
    with pytest.raises(ob.InvalidOrder) as info:
        WebinOneV2.to_canonical([1, 2])  # type: ignore[arg-type]
    assert info.value.order == "?"


# ------------------------------------------------------------------ losses


def test_v2_losses_name_what_v2_cannot_hold() -> None:
    order = WebinOneV2.to_canonical(real_v2_doc()).evolve(
        billing_address=ob.Address(company="ACME"),
        notes="call first",
        status_history=(ob.StatusChange(status="Paid"),),
        customer=ob.Customer(remote_id="28049", phone="555"),
    )
    order = order.evolve(
        lines=(order.lines[0].__class__(product_name="x", sku="SKU-1"),),
        payments=(ob.Payment(amount=Decimal(1), transaction_id="tx"),),
        discounts=(ob.Discount(code="A"), ob.Discount(code="B", kind="rule")),
    )
    fields = {loss.field for loss in WebinOneV2.losses(order)}
    assert {
        "billing_address", "notes", "status_history", "customer.phone", "lines[].sku",
        "payments[].transaction_id", "created_at", "total", "discounts[1:]", "discounts[].kind",
        "extras.webinone-v2.OrderCaseType",
    } <= fields  # fmt: skip
    assert "custom_fields" not in fields and "name" not in fields and "shipping_address" not in fields


def test_losses_of_an_order_v2_can_hold_entirely() -> None:
    order = ob.Order(name="n", number="5", lines=(ob.OrderLine(product_name="x", unit_price=Decimal(1)),))
    assert WebinOneV2.losses(order) == ()
    assert {loss.field for loss in WebinOneV1.losses(order)} == {"lines"}
    assert all(isinstance(loss, ob.Loss) for loss in WebinOneV1.losses(order))


# ------------------------------------------------------------------ schema 2


@pytest.mark.parametrize("backend", [WebinOneV2, WebinOneV1])
def test_shipping_info_and_tax_code_fill_shipping_lines_and_tax_lines(backend: Any) -> None:
    doc = real_v2_doc() if backend is WebinOneV2 else None
    if doc is None:
        from .conftest import load

        doc = load("v1_order.json")
        doc["ShippingInfo"].update(Name="Courier", Cost=Decimal("7.50"))
        doc["Tax"] = {"Code": "GST", "Rate": Decimal(10)}
    order = backend.to_canonical(doc)
    info = doc["ShippingInfo"]
    assert order.shipping_lines == (ob.ShippingLine(name=info["Name"], cost=info["Cost"]),)
    assert order.taxes == (ob.TaxLine(code=doc["Tax"]["Code"], rate=doc["Tax"]["Rate"], applies_to="order"),)
    assert backend.from_canonical(order) == doc


def test_several_shipping_lines_write_the_first_and_lose_the_rest_as_money() -> None:
    order = WebinOneV2.to_canonical(real_v2_doc())
    two = order.evolve(
        shipping_lines=[
            ob.ShippingLine(name="Standard", cost=Decimal("5.95")),
            ob.ShippingLine(name="Gift box", cost=Decimal(3)),
        ]
    )
    # One shipping option per WebinOne order: the first line's (a site has no "Standard + Gift box").
    info = WebinOneV2.from_canonical(two)["ShippingInfo"]
    assert info["Name"] == "Standard" and info["Cost"] == Decimal("5.95")
    losses = {loss.field: loss for loss in WebinOneV2.losses(two)}
    assert losses["shipping_lines[1:]"].amount == Decimal(3)
    assert WebinOneV2.from_canonical(order.evolve(shipping_lines=()))["ShippingInfo"]["Cost"] == 0


# ------------------------------------------------------------------ the wire schema (msgspec structs)


@pytest.mark.parametrize(
    ("message", "field", "text"),
    [
        (
            "Expected `str | null`, got `int` - at `$.OrderLines[0].ProductName`",
            "OrderLines[0].ProductName",
            "must be str | null, got int",
        ),
        (
            "Object missing required field `OptionsIds` - at `$.OrderLines[0].Attributes[1]`",
            "OrderLines[0].Attributes[1].OptionsIds",
            "is required",
        ),
        (
            "Object contains unknown field `Extra` - at `$.OrderLines[0].Attributes[0]`",
            "OrderLines[0].Attributes[0]",
            "has keys that are not on the page: Extra",
        ),
        ("Expected `str` - at `key` in `$.Member`", "Member", "has a key that is not text"),
        ("Expected `object`, got `array`", None, "must be object, got array"),
    ],
)
def test_schema_errors_name_the_wire_path(message: str, field: str | None, text: str) -> None:
    from orderbridge_webinone import schema

    error = schema.invalid(message)
    assert (error.field, error.message) == (field, text)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("Member", "Id"), True, "Member.Id"),
        (("StatusShort", "Name"), 5, "StatusShort.Name"),
        (("ShippingInfo", "City"), ["x"], "ShippingInfo.City"),
        (("OrderLines", 0, "IsDownload"), "yes", "OrderLines[0].IsDownload"),
        (("OrderLines", 0, "Attributes", 0, "OptionsIds"), None, "OrderLines[0].Attributes[0].OptionsIds"),
        (("OrderLines", 0, "Attributes", 0, "Extra"), 1, "OrderLines[0].Attributes[0]"),
        (("Payments", 0, "PaymentGatewayType"), 2, "Payments[0].PaymentGatewayType"),
        (("Payments", 0, "CreatedDateTime"), 20240517, "Payments[0].CreatedDateTime"),
    ],
)
def test_bad_types_in_parts_name_the_wire_path(path: tuple[Any, ...], value: Any, field: str) -> None:
    doc = real_v2_doc()
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ob.InvalidOrder) as info:
        WebinOneV2.to_canonical(doc)
    assert (info.value.order, info.value.field) == ("812", field)
    assert info.value.message.startswith(("must be", "has keys", "is required"))


def test_a_mapping_that_is_not_a_dict_reads_as_a_dict() -> None:
    from types import MappingProxyType

    doc = real_v2_doc()
    assert WebinOneV2.to_canonical(MappingProxyType(doc)) == WebinOneV2.to_canonical(doc)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"TotalCost": Decimal("1e20")}, "TotalCost"),  # out of range for an amount (the model's check)
        ({"AmountPaid": Decimal("1e20")}, "AmountPaid"),
        ({"AmountPending": Decimal("NaN")}, "AmountPending"),
    ],
)
def test_amounts_the_model_refuses_name_the_wire_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ob.InvalidOrder) as info:
        WebinOneV2.to_canonical(real_v2_doc(**change))
    assert (info.value.order, info.value.field) == ("812", field)


@pytest.mark.parametrize("key", ["Quantity", "UnitPrice", "TotalPrice", "TaxRate"])
def test_line_amounts_that_are_not_finite_name_the_wire_field(key: str) -> None:
    doc = real_v2_doc()
    doc["OrderLines"][1][key] = Decimal("NaN")
    with pytest.raises(ob.InvalidOrder) as info:
        WebinOneV2.to_canonical(doc)
    assert info.value.field == f"OrderLines[1].{key}"
