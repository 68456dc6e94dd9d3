"""The Acme backend's own tests, beyond the conformance suite: translation details and writes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from orderbridge_acme import AcmeBackend

import orderbridge as ob


def test_translation_reads_the_document(sample_docs: list[dict[str, Any]]) -> None:
    order = AcmeBackend.to_canonical(sample_docs[0])
    assert order.source == ob.SourceRef("acme", "9001")
    assert order.total == Decimal("37.50")
    assert order.created_at is not None and order.created_at.utcoffset() is not None
    assert order.customer == ob.Customer(email="ada@example.com", first_name="Ada", last_name="Lovelace")
    assert order.lines[0].quantity == Decimal(3)
    assert order.extras["acme"] == {"gift_wrap": False}


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


def test_update_is_unsupported(acme: AcmeBackend) -> None:
    with pytest.raises(ob.UnsupportedOperation):
        acme.update_order("1001", ob.Order())
