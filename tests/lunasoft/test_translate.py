from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from orderbridge_lunasoft import LunasoftCartBackend as Cart
from orderbridge_lunasoft.generator import generate_orders

import orderbridge as ob

MINUS_SIX = timedelta(hours=-6)


def test_page_sample_order(sample_order: dict[str, Any]) -> None:
    order = Cart.to_canonical(sample_order)
    assert order.source == ob.SourceRef("lunasoft-cart", "54123")
    assert order.number == "54123"
    assert order.total == Decimal("322.85")
    assert order.taxes == (ob.Tax(amount=Decimal("19.86")),)
    assert order.shipping == ob.ShippingOption(name="flat rate", cost=Decimal("13.00"))
    assert [c.status for c in order.status_history] == ["Processing", "Shipped", "Complete"]
    assert [c.remote_id for c in order.status_history] == ["185", "186", "187"]
    assert order.status_history[1].notify_customer is True
    assert order.status == ob.OrderStatus(name="Complete")
    assert order.created_at is not None and order.created_at.utcoffset() == MINUS_SIX
    assert all(c.at is not None and c.at.utcoffset() == MINUS_SIX for c in order.status_history)
    assert order.modified_at is None
    (payment,) = order.payments
    assert payment.check_date is None and payment.check_number is None
    assert payment.card_last4 == "0027" and payment.card_type == "Visa"
    assert payment.payment_type == ob.PaymentType.CREDIT_CARD and payment.gateway == "authorize.net"
    assert payment.transaction_id is None and order.transaction_id is None  # "0": no transaction
    assert order.is_paid is True and order.is_fulfilled is False
    assert order.customer == ob.Customer(
        remote_id="628", email="email@test.com", first_name="Test", last_name="Customer",
        phone="801-755-9966", is_guest=False,
    )  # fmt: skip
    assert order.billing_address is not None and order.billing_address.line1 == "10 w broadway ste 701"
    assert order.billing_address.postal_code == "84101" and order.billing_address.email == "email@test.com"
    assert order.shipping_address is not None and order.shipping_address.company is None
    assert order.discounts == () and order.gift_vouchers == ()
    assert order.customer_note is None and order.notes is None
    (line,) = order.lines
    assert (line.remote_id, line.product_ref, line.product_name) == ("3223", "16383", "Test Product")
    assert (line.quantity, line.unit_price) == (Decimal(1), Decimal("289.99"))
    assert line.total_price == Decimal("289.99")
    assert line.sku is None and line.extras["lunasoft-cart"]["fields"]["shipment_info"] is None
    assert "wire" not in order.extras["lunasoft-cart"]  # the page's sample is in normal form
    assert Cart.from_canonical(order) == sample_order


def test_list_sample_round_trips(sample_list: dict[str, Any]) -> None:
    assert sample_list["next_page"] == 3
    for doc in sample_list["orders"]:
        order = Cart.to_canonical(doc)
        assert order.status_history == ()
        assert Cart.from_canonical(order) == doc


def test_generated_orders_round_trip_in_normal_form() -> None:
    for doc in generate_orders(1500, seed=7):
        order = Cart.to_canonical(doc)
        assert "wire" not in order.extras["lunasoft-cart"], doc["id"]
        assert Cart.from_canonical(order) == doc
        assert ob.order_from_json(ob.order_to_json(order)) == order  # extras survive canonical JSON


def test_generated_data_is_varied() -> None:
    docs = list(generate_orders(500, seed=3))
    assert any(d["is_guest_checkout"] and d["user_id"] is None for d in docs)
    assert any(d["promo_code"] for d in docs) and any(d["gift_cert_code"] for d in docs)
    assert any(d["check_num"] and d["check_date"] != "0000-00-00" for d in docs)
    assert any(len(d["card_last_4"]) == 4 for d in docs)
    assert any(any(li["is_gift_certificate"] for li in d["line_items"]) for d in docs)
    assert any(not d["first_name"].isascii() for d in docs)
    assert any(len(d["statuses"]) >= 3 for d in docs)
    assert docs == list(generate_orders(500, seed=3))
    assert docs != list(generate_orders(500, seed=4))


def test_discounts_vouchers_and_checks() -> None:
    doc = next(d for d in generate_orders(400, seed=5) if d["promo_code"] and d["payment_option"] == "Check")
    doc.update(promo_rule_info="rule", promo_rule_discount="5.00", promo_rule_discount_shipping="13.00",
               gift_cert_id="9", gift_cert_code="GC-1", gift_cert_info="gift", gift_cert_applied="20.00",
               gift_cert_is_credit_voucher=False)  # fmt: skip
    order = Cart.to_canonical(doc)
    kinds = {d.kind: d for d in order.discounts}
    assert kinds["code"].code == doc["promo_code"]
    assert kinds["code"].amount == Decimal(doc["promo_code_discount"])
    assert kinds["rule"].amount == Decimal("5.00") and kinds["rule"].description == "rule"
    assert kinds["shipping"].amount == Decimal("13.00")
    assert order.gift_vouchers == (
        ob.GiftVoucher(code="GC-1", amount=Decimal("20.00"), is_credit_voucher=False, description="gift",
                       remote_id="9"),
    )  # fmt: skip
    (payment,) = order.payments
    assert payment.payment_type == ob.PaymentType.CHECK and payment.check_number == doc["check_num"]
    assert payment.check_date is not None and payment.check_date.strftime("%Y-%m-%d") == doc["check_date"]
    assert payment.check_date.utcoffset() == order.created_at.utcoffset()  # type: ignore[union-attr]
    assert Cart.from_canonical(order) == doc


def test_other_spellings_round_trip(sample_order: dict[str, Any]) -> None:
    doc = copy.deepcopy(sample_order)
    doc.update(customer_note=None, total="322.850", shipping_cost="13", tax=Decimal("19.86"), user_id=628,
               check_date="", modified="0000-00-00 00:00:00", email="", payment_option="credit card",
               transaction_id="", some_new_field={"x": [1, "2"]})  # fmt: skip
    del doc["created_ip"], doc["notes"]
    doc["line_items"][0].update(quantity="1.000", sku=None, extra_line_field=True)
    del doc["line_items"][0]["model"]
    doc["statuses"][0]["notes"] = None
    doc["statuses"][1]["modified"] = "2015-07-16T08:00:00-0600"
    order = Cart.to_canonical(doc)
    assert order.total == Decimal("322.850") and order.shipping.cost == Decimal("13")  # type: ignore[union-attr]
    assert order.customer.remote_id == "628" and order.customer.email == "email@test.com"  # type: ignore[union-attr]
    assert order.modified_at is None and order.payments[0].check_date is None
    assert order.lines[0].quantity == Decimal(1)
    wire = order.extras["lunasoft-cart"]["wire"]
    assert wire["customer_note"] == {"normal": "", "sent": None}
    assert wire["notes"] == {"normal": ""}
    assert Cart.from_canonical(order) == doc
    assert ob.order_from_json(ob.order_to_json(order)) == order


def test_status_list_not_newest_first(sample_order: dict[str, Any]) -> None:
    doc = copy.deepcopy(sample_order)
    doc["statuses"] = [doc["statuses"][2], doc["statuses"][0], doc["statuses"][1]]
    order = Cart.to_canonical(doc)
    assert [c.status for c in order.status_history] == ["Processing", "Shipped", "Complete"]
    assert Cart.from_canonical(order) == doc


def test_canonical_edits_win_over_recorded_spellings(sample_order: dict[str, Any]) -> None:
    doc = dict(sample_order, total="322.8", customer_note=None)
    order = Cart.to_canonical(doc)
    assert Cart.from_canonical(order) == doc
    edited = order.evolve(total=Decimal("10.00"), customer_note="hello")
    out = Cart.from_canonical(edited)
    assert out["total"] == "10.00" and out["customer_note"] == "hello"
    assert Cart.from_canonical(order.evolve(total=Decimal("322.80")))["total"] == "322.8"


def test_a_full_card_number_is_cut_to_four_digits_and_never_kept(sample_order: dict[str, Any]) -> None:
    doc = dict(sample_order, card_last_4="4111111111110027")
    order = Cart.to_canonical(doc)
    assert order.payments[0].card_last4 == "0027"
    text = ob.order_to_json(order) + repr(order) + repr(Cart.from_canonical(order))
    assert "41111111" not in text
    assert Cart.from_canonical(order)["card_last_4"] == "0027"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"total": "twelve"}, "total"),
        ({"total": 322.85}, "total"),
        ({"is_paid": "yes"}, "is_paid"),
        ({"created": "2015-04-27T17:34:31"}, "created"),
        ({"created": "yesterday"}, "created"),
        ({"email": 5}, "email"),
        ({"check_date": "2015-02-30"}, "check_date"),
        ({"card_last_4": "27"}, "card_last_4"),
        ({"web_order": "1"}, "web_order"),
        ({"line_items": {"a": 1}}, "line_items"),
        ({"statuses": ["x"]}, "statuses[0]"),
    ],
)
def test_bad_documents_name_order_and_field(
    sample_order: dict[str, Any], change: dict[str, Any], field: str
) -> None:
    with pytest.raises(ob.InvalidOrder) as info:
        Cart.to_canonical({**sample_order, **change})
    assert info.value.order == "54123"
    assert info.value.field == field
    assert "54123" in str(info.value) and field in str(info.value)


def test_bad_nested_values(sample_order: dict[str, Any]) -> None:
    doc = copy.deepcopy(sample_order)
    doc["line_items"][0]["cost"] = "1.2.3"
    with pytest.raises(ob.InvalidOrder) as info:
        Cart.to_canonical(doc)
    assert (info.value.order, info.value.field) == ("54123", "line_items[0].cost")
    doc = copy.deepcopy(sample_order)
    doc["line_items"][0]["quantity"] = "-1"
    with pytest.raises(ob.InvalidOrder) as info:
        Cart.to_canonical(doc)
    assert (info.value.order, info.value.field) == ("54123", "line_items[0].quantity")
    doc = copy.deepcopy(sample_order)
    doc["statuses"][1]["created"] = "nope"
    with pytest.raises(ob.InvalidOrder) as info:
        Cart.to_canonical(doc)
    assert (info.value.order, info.value.field) == ("54123", "statuses[1].created")
    doc = copy.deepcopy(sample_order)
    del doc["statuses"][0]["status"]
    with pytest.raises(ob.InvalidOrder) as info:
        Cart.to_canonical(doc)
    assert info.value.field == "statuses[0].status"


def test_card_data_never_echoed_in_errors(sample_order: dict[str, Any]) -> None:
    with pytest.raises(ob.InvalidOrder) as info:
        Cart.to_canonical({**sample_order, "card_last_4": "12-3"})
    assert "12-3" not in str(info.value)


@pytest.mark.parametrize("doc", [{}, {"id": ""}, {"id": None, "total": "1.00"}, {"id": True}])
def test_documents_without_id_are_named_question_mark(doc: dict[str, Any]) -> None:
    with pytest.raises(ob.InvalidOrder) as info:
        Cart.to_canonical(doc)
    assert info.value.order == "?" and info.value.field == "id"


def test_not_a_mapping() -> None:
    with pytest.raises(ob.InvalidOrder) as info:
        Cart.to_canonical(["x"])  # type: ignore[arg-type]
    assert info.value.order == "?"


def test_losses_of_a_richer_order() -> None:
    order = ob.Order(
        currency="USD",
        tracking_number="1Z",
        billing_address=ob.Address(company="Acme", line2="Apt 4"),
        shipping_address=ob.Address(email="a@b.c"),
        discounts=(ob.Discount(code="A", amount=Decimal(1)), ob.Discount(code="B", amount=Decimal(1)),
                   ob.Discount(kind="loyalty", amount=Decimal(1))),
        taxes=(ob.Tax(code="GST", rate=Decimal(10), amount=Decimal(1)), ob.Tax(amount=Decimal(2))),
        payments=(ob.Payment(amount=Decimal(5)),),
        lines=(ob.OrderLine(tax_rate=Decimal(10), attributes=(ob.AttributeSelection(attribute_id="1"),)),),
        custom_fields={"g": {"f": "v"}},
    )  # fmt: skip
    fields = {loss.field for loss in Cart.losses(order)}
    assert {"currency", "tracking_number", "billing_address.company", "billing_address.line2",
            "shipping_address.email", "discounts[]", "discounts[].kind", "taxes[]", "taxes[].code",
            "taxes[].rate", "payments[].amount", "lines[].tax_rate", "lines[].attributes",
            "custom_fields"} <= fields  # fmt: skip
    assert Cart.losses(Cart.to_canonical(next(generate_orders(1)))) == ()
    doc = Cart.from_canonical(order)  # renders what it can
    assert doc["id"] is None and doc["promo_code"] == "A"
    assert doc["tax"] == "3.00"  # the order's tax in all: the cart's one amount holds both tax lines


def test_an_order_from_elsewhere_renders_in_normal_form() -> None:
    order = ob.Order(
        source=ob.SourceRef("webinone-v2", "77"), number="INV-77", total=Decimal("5"),
        customer=ob.Customer(email="x@y.z"),
        lines=(ob.OrderLine(quantity=Decimal("2.50"), unit_price=Decimal("2")),),
    )  # fmt: skip
    doc = Cart.from_canonical(order)
    assert doc["id"] is None and doc["order_num"] == "INV-77" and doc["total"] == "5.00"
    assert doc["user_email"] == "x@y.z" and doc["check_date"] == "0000-00-00" and doc["transaction_id"] == "0"
    assert doc["line_items"][0]["quantity"] == "2.5" and doc["line_items"][0]["cost"] == "2.00"
    assert "statuses" not in doc
    assert Cart.from_canonical(Cart.to_canonical({**doc, "id": "1"})) == {**doc, "id": "1"}


# ---------------------------------------------------------------- schema 2


def test_sample_fills_schema_2_fields(sample_order: dict[str, Any]) -> None:
    order = Cart.to_canonical(sample_order)
    assert order.shipping_lines == (ob.ShippingLine(name="flat rate", cost=Decimal("13.00")),)
    assert order.taxes == (ob.TaxLine(amount=Decimal("19.86"), applies_to=ob.TaxTarget.ORDER),)
    # 289.99 + 13.00 + 19.86 = 322.85: the tax is on top of the prices
    assert order.prices_include_tax is False
    assert Cart.from_canonical(order) == sample_order


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, False),
        ({"total": "303.00"}, None),  # neither sum: not said
        ({"total": "302.99"}, True),  # the tax is inside the prices
        ({"tax": "0.00", "total": "302.99"}, None),  # no tax: nothing to tell
        ({"promo_code": "X", "promo_code_discount": "10.00", "total": "312.85"}, False),
        ({"gift_cert_code": "G", "gift_cert_applied": "20.00", "total": "302.85"}, False),
        ({"gift_cert_code": "G", "gift_cert_applied": "20.00"}, False),  # the certificate paid, not taken off
    ],
)
def test_prices_include_tax_follows_the_orders_arithmetic(
    sample_order: dict[str, Any], changes: dict[str, Any], expected: bool | None
) -> None:
    doc = {**sample_order, **changes}
    order = Cart.to_canonical(doc)
    assert order.prices_include_tax is expected
    assert Cart.from_canonical(order) == doc


def test_several_shipping_lines_and_split_taxes_are_written_as_the_carts_one_amount() -> None:
    order = ob.Order(
        total=Decimal("40.00"),
        lines=[ob.OrderLine(unit_price=Decimal(10), total_price=Decimal(10), tax_amount=Decimal("1.00"))],
        shipping_lines=[
            ob.ShippingLine(name="Flat", cost=Decimal("5.00"), tax_amount=Decimal("0.50")),
            ob.ShippingLine(name="Express", cost=Decimal("12.00")),
        ],
        fees=[ob.Fee(name="Wrap", amount=Decimal(2), tax_amount=Decimal("0.20"))],
    )
    doc = Cart.from_canonical(order)
    assert doc["shipping_option"] == "Flat + Express" and doc["shipping_cost"] == "17.00"
    assert doc["tax"] == "1.70"  # no tax lines: the parts' tax amounts, summed
    with_lines = order.evolve(
        taxes=[
            ob.TaxLine(amount=Decimal("1.20"), applies_to="line"),
            ob.TaxLine(amount=Decimal("0.50"), applies_to="shipping"),
        ]
    )
    assert Cart.from_canonical(with_lines)["tax"] == "1.70"
    assert Cart.from_canonical(ob.Order())["tax"] == "0.00"
