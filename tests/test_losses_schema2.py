"""Losses of the fields schema 2 added: each backend reports, exactly once, each one its
documents cannot hold, and nothing it keeps; fees are money losses, refunds are not."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import attrs
import pytest

import orderbridge as ob

from .installed import ACME_INSTALLED, backend_params

D = Decimal


def _base(backend: str) -> ob.Order:
    """An order of ``backend`` with none of the schema 2 fields (one shipping line, one tax)."""
    return ob.Order(
        source=ob.SourceRef(backend, "5001"),
        number="5001",
        currency="EUR",
        total=D("32.70"),
        shipping_lines=[ob.ShippingLine(name="Post", cost=D("4.00"))],
        taxes=[ob.TaxLine(code="GST", rate=D("10"))],
        lines=[
            ob.OrderLine(product_name="Mug", quantity=D(2), unit_price=D("10.00"), total_price=D("20.00"))
        ],
    )


def _full(backend: str) -> ob.Order:
    """The same order with every schema 2 field set."""
    base = _base(backend)
    return base.evolve(
        source=ob.SourceRef(backend, "5001", site="https://shop-a.example"),
        prices_include_tax=False,
        shipping_lines=[
            ob.ShippingLine(name="Post", method="post", cost=D("4.00"), tax_amount=D("0.40")),
            ob.ShippingLine(name="Express", cost=D("6.00")),
        ],
        fees=[
            ob.Fee(name="Wrap", amount=D("3.00"), tax_amount=D("0.30"), tax_rate=D(10)),
            ob.Fee(name="Credit", amount=D("-1.00")),
        ],
        refunds=[
            ob.Refund(
                amount=D("10.00"),
                reason="broken",
                lines=[ob.RefundLine(line_index=0, quantity=D(1), amount=D("10.00"))],
                at=datetime(2024, 3, 7, 9, 15, tzinfo=UTC),
            )
        ],
        taxes=[ob.TaxLine(code="GST", rate=D("10"), name="GST 10%", applies_to="line")],
        metadata=[
            ob.MetaEntry(key="gift", value={"to": "Ada", "n": [1, 2]}),
            ob.MetaEntry(key="gift", value="x"),
        ],
        lines=[
            attrs.evolve(
                base.lines[0],
                variant_ref="mug-blue",
                subtotal=D("20.00"),
                discount_amount=D("0.00"),
                tax_amount=D("2.00"),
                metadata=[ob.MetaEntry(key="engraving", value="A.L.")],
            )
        ],
    )


LINE_FIELDS = {
    f"lines[].{n}" for n in ("variant_ref", "subtotal", "discount_amount", "tax_amount", "metadata")
}

EXPECTED: dict[str, tuple[set[str], dict[str, Decimal]]] = {
    "webinone-v2": (
        {
            "fees[]",
            "refunds",
            "metadata",
            "prices_include_tax",
            "shipping_lines[1:]",
            "shipping_lines[].method",
            "shipping_lines[].tax_amount",
            "taxes[].name",
            "taxes[].applies_to",
            *LINE_FIELDS,
        },
        # Fees with their tax (prices exclude it), the second shipping line, tax on shipping.
        {"fees[]": D("2.30"), "shipping_lines[1:]": D("6.00"), "shipping_lines[].tax_amount": D("0.40")},
    ),
    "webinone-v1": (
        # v1 updates order fields only: lines, shipping and taxes are lost whole already.
        {"fees[]", "refunds", "metadata", "prices_include_tax"},
        {"fees[]": D("2.30")},
    ),
    "lunasoft-cart": (
        {
            "fees[]",
            "refunds",
            "metadata",
            "shipping_lines[1:]",
            "shipping_lines[].method",
            "shipping_lines[].tax_amount",
            "taxes[].name",
            "taxes[].applies_to",
            *LINE_FIELDS,
        },
        # The cart's one tax amount sums the parts' taxes (a fee's too): only the fees' amounts are lost.
        {"fees[]": D("2.00")},
    ),
    "acme": (
        {
            "fees[].tax_amount",
            "fees[].tax_rate",
            "refunds[].lines",
            "metadata",
            "prices_include_tax",
            *LINE_FIELDS,
        },
        {"fees[].tax_amount": D("0.30")},
    ),
}


@pytest.mark.parametrize("name", backend_params(sorted(EXPECTED)))
def test_every_schema_2_field_a_backend_cannot_hold_is_reported_once(name: str) -> None:
    backend = ob.get_backend(name)
    full = backend.losses(_full(name))
    counts = Counter(loss.field for loss in full)
    assert [field for field, n in counts.items() if n > 1] == []
    base = {loss.field for loss in backend.losses(_base(name))}
    fields, money = EXPECTED[name]
    assert set(counts) - base == fields
    new_money = {loss.field: loss.amount for loss in full if loss.is_money and loss.field not in base}
    assert new_money == money


@pytest.mark.parametrize("name", backend_params(sorted(EXPECTED)))
def test_a_refund_is_never_a_money_loss(name: str) -> None:
    """A refund is money given back after the order, not part of its total: verify must not
    take a total short by the refund for one explained by it."""
    order = _base(name).evolve(refunds=[ob.Refund(amount=D("10.00"))])
    assert [
        loss for loss in ob.get_backend(name).losses(order) if "refund" in loss.field and loss.is_money
    ] == []


def test_a_source_site_is_no_loss() -> None:
    """A source is never written (the target gives its copy its own id); the stamp names the site."""
    order = _base("webinone-v2")
    with_site = order.evolve(source=ob.SourceRef("webinone-v2", "5001", site="https://shop-a.example"))
    for name in EXPECTED:
        if name == "acme" and not ACME_INSTALLED:
            continue
        backend = ob.get_backend(name)
        assert backend.losses(with_site) == backend.losses(order), name


def test_the_lunasoft_flag_prices_include_tax_is_lost_only_when_the_arithmetic_says_otherwise() -> None:
    cart = ob.get_backend("lunasoft-cart")
    # 20 + 4 + 10% tax on the lines (2.00) = 26.00: the cart reads "prices exclude tax" back.
    order = _base("lunasoft-cart").evolve(total=D("26.00"), taxes=[ob.TaxLine(amount=D("2.00"))])
    assert cart.to_canonical(cart.from_canonical(order)).prices_include_tax is False
    assert "prices_include_tax" not in {x.field for x in cart.losses(order.evolve(prices_include_tax=False))}
    assert "prices_include_tax" in {x.field for x in cart.losses(order.evolve(prices_include_tax=True))}


def test_webinone_v2_writes_the_first_shipping_line_and_reports_the_rest_as_money() -> None:
    v2 = ob.get_backend("webinone-v2")
    order = _full("webinone-v2")
    doc = v2.from_canonical(order)
    assert (doc["ShippingInfo"]["Name"], doc["ShippingInfo"]["Cost"]) == ("Post", D("4.00"))
    from orderbridge_webinone import translate

    assert ("shipping_option", "Post", None) in translate.reference_needs(order)
    losses = {loss.field: loss for loss in v2.losses(order)}
    assert losses["shipping_lines[1:]"].amount == D("6.00")
