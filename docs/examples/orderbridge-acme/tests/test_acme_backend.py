"""The Acme backend's own tests, beyond the conformance suite: translation details and writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from orderbridge_acme import AcmeBackend

import orderbridge as ob


def test_translation_reads_the_document(sample_docs: list[dict[str, Any]]) -> None:
    order = AcmeBackend.to_canonical(sample_docs[0])
    assert order.source == ob.SourceRef("acme", "9001")
    assert order.total == Decimal("41.00")
    assert order.created_at is not None and order.created_at.utcoffset() is not None
    assert order.customer == ob.Customer(email="ada@example.com", first_name="Ada", last_name="Lovelace")
    assert order.lines[0].quantity == Decimal(3)
    assert order.fees == (ob.Fee(name="Gift wrap", amount=Decimal("3.50")),)
    assert order.extras["acme"] == {"gift_wrap": True}


# --8<-- [start:refund-test]
def test_a_refund_time_is_the_instant_of_its_utc_twin_in_the_local_offset(
    sample_docs: list[dict[str, Any]],
) -> None:
    (refund,) = AcmeBackend.to_canonical(sample_docs[0]).refunds
    assert (refund.remote_id, refund.amount, refund.reason) == ("R-77", Decimal("12.50"), "broken in transit")
    assert refund.at == datetime(2024, 3, 7, 9, 15, tzinfo=UTC)
    assert refund.at is not None and refund.at.utcoffset() == timedelta(hours=1)  # local - GMT


def test_a_local_time_alone_is_read_in_the_site_zone(sample_docs: list[dict[str, Any]]) -> None:
    doc = sample_docs[1]  # its refund has no refunded_at_gmt
    in_utc = AcmeBackend.to_canonical(doc).refunds[0].at
    in_new_york = AcmeBackend.to_canonical(doc, zone=ZoneInfo("America/New_York")).refunds[0].at
    assert in_utc == datetime(2024, 3, 8, 16, 30, tzinfo=UTC)
    assert in_new_york == datetime(2024, 3, 8, 21, 30, tzinfo=UTC)  # EST, five hours behind
    assert AcmeBackend.from_canonical(AcmeBackend.to_canonical(doc)) == doc  # still written alone


def test_the_site_zone_is_an_option_checked_on_connect() -> None:
    backend = ob.connect("acme", base_url="http://127.0.0.1:1", api_key="k", site_timezone="Europe/Paris")
    assert backend.zone == ZoneInfo("Europe/Paris")
    with pytest.raises(ob.OptionError, match="site_timezone"):
        ob.connect("acme", base_url="http://127.0.0.1:1", api_key="k", site_timezone="Mars/Olympus")


# --8<-- [end:refund-test]


def test_unknown_keys_are_kept_in_extras(sample_docs: list[dict[str, Any]]) -> None:
    order = AcmeBackend.to_canonical(sample_docs[1])
    assert order.extras["acme"]["unknown"] == {"loyalty_points": 12}
    assert order.lines[1].extras["acme"]["unknown"] == {"engraving_text": "G.H."}
    assert AcmeBackend.from_canonical(order) == sample_docs[1]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"total": 37.5}, "total"),
        ({"total": "3.75e1"}, "total"),
        ({"placed_at": "2024-03-05 14:22:10"}, "placed_at"),
        ({"lines": [{"sku": "X", "title": "X", "qty": 1.5, "price": "1.00"}]}, "lines[0].qty"),
        ({"customer": {"email": 7, "name": None}}, "customer.email"),
    ],
)
def test_bad_values_name_order_and_field(
    sample_docs: list[dict[str, Any]], change: dict[str, Any], field: str
) -> None:
    with pytest.raises(ob.InvalidOrder) as info:
        AcmeBackend.to_canonical({**sample_docs[0], **change})
    assert (info.value.order, info.value.field) == ("9001", field)


def test_losses_name_what_acme_cannot_hold() -> None:
    order = ob.Order(
        number="W-1",
        shipping_address=ob.Address(city="Lyon"),
        customer=ob.Customer(email="x@example.com", phone="555"),
        lines=[ob.OrderLine(product_name="Mug", unit_price=Decimal("2.00"), total_price=Decimal("2.00"))],
    )
    assert {loss.field for loss in AcmeBackend.losses(order)} == {"shipping_address", "customer.phone"}


def test_every_schema_2_field_acme_cannot_hold_is_reported_once() -> None:
    order = ob.Order(
        source=ob.SourceRef("acme", "9001", site="https://api.acme-shop.example/v1"),
        number="A-1",
        prices_include_tax=False,
        total=Decimal("30.00"),
        shipping_lines=[ob.ShippingLine(name="Post", cost=Decimal("4.00"))],
        fees=[ob.Fee(name="Wrap", amount=Decimal("3.00"), tax_amount=Decimal("0.30"), tax_rate=Decimal(10))],
        refunds=[ob.Refund(amount=Decimal("5"), lines=[ob.RefundLine(line_index=0, quantity=Decimal(1))])],
        taxes=[ob.TaxLine(name="VAT", amount=Decimal("2.30"), applies_to="line")],
        metadata={"gift_message": {"text": "Happy birthday", "lines": [1, 2]}},
        lines=[
            ob.OrderLine(
                product_name="Mug", unit_price=Decimal("10"), quantity=Decimal(2), variant_ref="mug-blue",
                subtotal=Decimal("20"), discount_amount=Decimal("0"), tax_amount=Decimal("2.00"),
                metadata={"engraving": "A.L."},
            )
        ],
    )  # fmt: skip
    losses = AcmeBackend.losses(order)
    fields = [loss.field for loss in losses]
    assert sorted(fields) == sorted(
        [
            "prices_include_tax", "shipping_lines", "taxes", "metadata", "fees[].tax_amount",
            "fees[].tax_rate", "refunds[].lines", "lines[].variant_ref", "lines[].subtotal",
            "lines[].discount_amount", "lines[].tax_amount", "lines[].metadata",
        ]
    )  # fmt: skip
    money = {loss.field: loss.amount for loss in losses if loss.is_money}
    # The refund is no money loss: it is money given back, not part of the total.
    assert money == {
        "shipping_lines": Decimal("4.00"),
        "taxes": Decimal("2.30"),
        "fees[].tax_amount": Decimal("0.30"),
    }


def test_fractional_quantity_is_refused_not_rounded() -> None:
    order = ob.Order(lines=[ob.OrderLine(quantity=Decimal("1.5"), unit_price=Decimal(1))])
    with pytest.raises(ob.InvalidOrder, match="whole quantities"):
        AcmeBackend.from_canonical(order)


# --8<-- [start:create-test]
def test_create_round_trips_through_the_shop(acme: AcmeBackend, sample_docs: list[dict[str, Any]]) -> None:
    order = AcmeBackend.to_canonical(sample_docs[0])
    created = acme.create_order(order)
    assert created.source is not None and created.source.remote_id != "9001"
    assert acme.get_order(created.source.remote_id) == created
    # Everything but the id the shop assigned comes back as sent.
    assert AcmeBackend.from_canonical(created) == {**sample_docs[0], "id": created.source.remote_id}


# --8<-- [end:create-test]


def test_an_order_from_another_platform_is_created(acme: AcmeBackend) -> None:
    foreign = ob.Order(
        source=ob.SourceRef("webinone-v2", "812"),
        number="W-812",
        currency="EUR",
        customer=ob.Customer(email="bob@example.com", first_name="Bob"),
        lines=[
            ob.OrderLine(sku="CAP-RED", product_name="Red cap", quantity=Decimal(2), unit_price=Decimal("14"))
        ],
    )
    created = acme.create_order(foreign)
    assert created.number == "W-812" and created.total == Decimal("28.00")
    assert acme.find_order(foreign) == created


def test_a_taken_number_is_rejected(acme: AcmeBackend) -> None:
    with pytest.raises(ob.Rejected, match="taken"):
        acme.create_order(ob.Order(number="A-1001", lines=[ob.OrderLine(unit_price=Decimal(1))]))


# --8<-- [start:update-test]
def test_update_replaces_the_order_and_delete_removes_it(
    acme: AcmeBackend, sample_docs: list[dict[str, Any]]
) -> None:
    order = AcmeBackend.to_canonical(sample_docs[0]).evolve(number="A-UPD-1")
    remote_id = acme.remote_id_of(acme.create_order(order))
    changed = order.evolve(fees=[ob.Fee(name="Express handling", amount=Decimal("6.00"))])
    updated = acme.update_order(remote_id, changed)
    assert updated.fees == changed.fees and acme.get_order(remote_id) == updated
    acme.delete_order(remote_id)
    with pytest.raises(ob.NotFound):
        acme.get_order(remote_id)


# --8<-- [end:update-test]


def test_add_status_is_unsupported(acme: AcmeBackend) -> None:
    with pytest.raises(ob.UnsupportedOperation):
        acme.add_status("1001", ob.StatusChange(status="shipped"))
