from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

import attrs
import pytest

import orderbridge as ob

UTC = UTC


def test_orders_are_frozen() -> None:
    order = ob.Order(number="65")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        order.number = "66"  # type: ignore[misc]
    assert order.evolve(number="66").number == "66"


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: ob.Order(total=10.5), "total"),
        (lambda: ob.Order(amount_paid=Decimal("NaN")), "amount_paid"),
        (lambda: ob.Order(created_at=datetime(2022, 1, 1)), "created_at"),
        (lambda: ob.Order(currency="dollars"), "currency"),
        (lambda: ob.Order(is_paid="yes"), "is_paid"),
        (lambda: ob.Order(number=65), "number"),
        (lambda: ob.OrderLine(quantity=Decimal(-1)), "quantity"),
        (lambda: ob.OrderLine(unit_price=1.0), "unit_price"),
        (lambda: ob.Payment(card_last4="4111111111111111"), "card_last4"),
        (lambda: ob.Payment(created_at=datetime(2022, 1, 1)), "created_at"),
        (lambda: ob.Order(lines=("not a line",)), "lines[0]"),
        (lambda: ob.Order(custom_fields={"G": {"F": 1.5}}), "custom_fields.G.F"),
        (lambda: ob.Order(extras={"x": {"y": 2.5}}), "extras.x.y"),
    ],
)
def test_invariants_are_checked_at_build_time_naming_the_field(build, field: str) -> None:
    with pytest.raises(ob.InvalidOrder) as info:
        build()
    assert info.value.field == field


def test_status_history_must_be_oldest_first() -> None:
    t = datetime(2015, 7, 14, 9, 24, 6, tzinfo=UTC)
    ok = ob.Order(
        status_history=[ob.StatusChange(status="a", at=t), ob.StatusChange(status="b", at=t + timedelta(1))]
    )
    assert [c.status for c in ok.status_history] == ["a", "b"]
    with pytest.raises(ob.InvalidOrder, match="oldest first") as info:
        ob.Order(
            status_history=[
                ob.StatusChange(status="b", at=t + timedelta(1)),
                ob.StatusChange(status="a", at=t),
            ]
        )
    assert info.value.field == "status_history"


def test_unknown_enumerated_values_are_kept_not_refused() -> None:
    order = ob.Order(payment_state="Disputed")
    assert order.payment_state == "Disputed"
    assert order.payment_state is not None and not order.payment_state.known
    assert ob.PaymentState("Succeeded") is ob.PaymentState.SUCCEEDED
    assert ob.PaymentState.SUCCEEDED.known
    assert ob.PaymentState("Disputed") is ob.PaymentState("Disputed")


def test_lists_become_tuples_and_defaults_are_empty() -> None:
    order = ob.Order(lines=[ob.OrderLine(product_name="Mug")])
    assert isinstance(order.lines, tuple)
    assert order.payments == () and order.custom_fields == {} and order.extras == {}
    assert order.lines[0].quantity == Decimal(1)


def test_label_names_source_then_number() -> None:
    assert ob.Order(source=ob.SourceRef("webinone-v1", "28057"), number="65").label == "webinone-v1:28057"
    assert ob.Order(number="65").label == "65"
    assert ob.Order().label == "?"


def test_field_scope_names_a_nested_field_by_its_whole_path() -> None:
    with pytest.raises(ob.InvalidOrder) as caught:
        with ob.field_scope("payments[0]"):
            ob.Payment(amount=Decimal("1"), created_at=datetime(2024, 1, 1))
    assert caught.value.field == "payments[0].created_at"
    with pytest.raises(ob.InvalidOrder) as nested:
        with ob.field_scope("lines[2]"), ob.field_scope("attributes[1]"):
            raise ob.InvalidOrder("bad", field="option_ids")
    assert nested.value.field == "lines[2].attributes[1].option_ids"


class _NoOffset(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None


@pytest.mark.parametrize(
    ("build", "field"),
    [
        # each validator settles the common case by exact type; everything else takes the general path
        (lambda: ob.Order(created_at=datetime(2022, 1, 1, tzinfo=_NoOffset())), "created_at"),
        (lambda: ob.Order(extras={"x": {"y": [1, {"z": Decimal("NaN")}]}}), "extras.x.y[1].z"),
        (lambda: ob.Order(extras={"x": {"y": (1, 2.5)}}), "extras.x.y[1]"),
        (lambda: ob.Order(extras={"x": {1: "y"}}), "extras.x"),
        (lambda: ob.Order(extras={"x": "not a mapping"}), "extras.x"),
        (lambda: ob.OrderLine(extras={"x": {"y": object()}}), "extras.x.y"),
        (lambda: ob.Order(custom_fields={"G": "not a mapping"}), "custom_fields.G"),
        (lambda: ob.Order(lines=(ob.OrderLine(), "not a line")), "lines[1]"),
    ],
)
def test_values_off_the_common_path_are_still_refused(build, field: str) -> None:
    with pytest.raises(ob.InvalidOrder) as info:
        build()
    assert info.value.field == field


def test_values_off_the_common_path_are_still_accepted() -> None:
    class Text(str):
        pass

    zoned = datetime(2022, 1, 1, tzinfo=ZoneInfo("Australia/Sydney"))
    order = ob.Order(
        source=ob.SourceRef(Text("jsonl"), Text("7")),
        number=Text("7"),
        created_at=zoned,
        invoiced_at=datetime(2022, 1, 1, tzinfo=timezone(timedelta(hours=-3))),
        extras={"x": {"y": [1, {"z": Decimal("1.5")}, (True, None)]}},
        lines=[ob.OrderLine(extras={"x": {}})],
        payments=[ob.Payment(payment_type=Text("CreditCard"))],
    )
    assert order.created_at is zoned and order.payments[0].payment_type is ob.PaymentType.CREDIT_CARD
    with pytest.raises(TypeError):  # attrs' own message, as before
        ob.Order(source="jsonl:7")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ob.SourceRef("jsonl", 7)  # type: ignore[arg-type]


def test_an_unknown_enum_value_is_one_object_and_no_member() -> None:
    first = ob.PaymentType("Barter")
    assert ob.Payment(payment_type="Barter").payment_type is first is ob.PaymentType("Barter")
    assert first not in list(ob.PaymentType) and not first.known
    assert ob.PaymentState("Barter") is not first and ob.PaymentState("Barter") == first == "Barter"


# ---------------------------------------------------------------- schema 2

NAIVE = datetime(2024, 3, 1, 12, 0)
AWARE = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: ob.Fee(amount=1.5), "amount"),
        (lambda: ob.Fee(tax_amount=Decimal("Infinity")), "tax_amount"),
        (lambda: ob.Fee(name=3), "name"),
        (lambda: ob.ShippingLine(cost=4.95), "cost"),
        (lambda: ob.ShippingLine(method=1), "method"),
        (lambda: ob.Refund(at=NAIVE), "at"),
        (lambda: ob.Refund(amount=Decimal(-1)), "amount"),
        (lambda: ob.Refund(lines=["not a refund line"]), "lines[0]"),
        (lambda: ob.RefundLine(line_index=-1), "line_index"),
        (lambda: ob.RefundLine(line_index=True), "line_index"),
        (lambda: ob.RefundLine(line_index="0"), "line_index"),
        (lambda: ob.RefundLine(line_index=0, amount=2.5), "amount"),
        (lambda: ob.TaxLine(applies_to_index=1.0), "applies_to_index"),
        (lambda: ob.MetaEntry(key="k", value=1.5), "value"),
        (lambda: ob.MetaEntry(key="k", value={"a": [1, Decimal("NaN")]}), "value.a[1]"),
        (lambda: ob.MetaEntry(key="k", value={1: "x"}), "value"),
        (lambda: ob.MetaEntry(key="k", value=object()), "value"),
        (lambda: ob.OrderLine(discount_amount=Decimal("-0.01")), "discount_amount"),
        (lambda: ob.OrderLine(subtotal=10.0), "subtotal"),
        (lambda: ob.OrderLine(tax_amount=1.0), "tax_amount"),
        (lambda: ob.OrderLine(variant_ref=7), "variant_ref"),
        (lambda: ob.OrderLine(metadata=[("k", "v")]), "metadata[0]"),
        (lambda: ob.Order(prices_include_tax="no"), "prices_include_tax"),
        (lambda: ob.Order(shipping_lines=[ob.ShippingOption()]), "shipping_lines[0]"),
        (lambda: ob.Order(fees=[ob.Fee(), "fee"]), "fees[1]"),
        (lambda: ob.Order(metadata={"k": 1.5}), "value"),
        (lambda: ob.SourceRef("woo", "1", site=7), "site"),
    ],
)
def test_schema_2_parts_are_checked_at_build_time(build, field: str) -> None:
    with pytest.raises(ob.InvalidOrder) as info:
        build()
    assert info.value.field == field


@pytest.mark.parametrize(
    ("scope", "build", "field"),
    [
        ("refunds[0]", lambda: ob.Refund(at=NAIVE), "refunds[0].at"),
        ("fees[2]", lambda: ob.Fee(amount=1.5), "fees[2].amount"),
        (
            "refunds[1].lines[0]",
            lambda: ob.RefundLine(line_index=0, quantity=Decimal(-1)),
            "refunds[1].lines[0].quantity",
        ),
        ("lines[0].metadata[3]", lambda: ob.MetaEntry(key="k", value=[1.5]), "lines[0].metadata[3].value[0]"),
    ],
)
def test_schema_2_errors_name_the_whole_path_in_a_field_scope(scope: str, build, field: str) -> None:
    with pytest.raises(ob.InvalidOrder) as info, ob.field_scope(scope):
        build()
    assert info.value.field == field


def test_required_text_and_enums_refuse_other_types_as_attrs_does() -> None:
    # like SourceRef and StatusChange.status: a programming error, not a bad document
    with pytest.raises(TypeError):
        ob.MetaEntry(key=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ob.TaxLine(applies_to=3)


def test_fees_may_be_negative_and_refunds_name_their_lines() -> None:
    order = ob.Order(
        lines=[ob.OrderLine(product_name="Mug"), ob.OrderLine(product_name="Tea")],
        fees=[ob.Fee(name="Credit", amount=Decimal("-5.00"), tax_amount=Decimal("-1.00"))],
        refunds=[
            ob.Refund(amount=Decimal("4"), at=AWARE, lines=[ob.RefundLine(line_index=1, quantity=Decimal(1))])
        ],
    )
    assert order.fees[0].amount == Decimal("-5.00")
    assert isinstance(order.refunds, tuple) and isinstance(order.refunds[0].lines, tuple)
    assert order.lines[order.refunds[0].lines[0].line_index].product_name == "Tea"


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        (
            {"refunds": [ob.Refund(lines=[ob.RefundLine(line_index=1)])]},
            "refunds[0].lines[0].line_index",
            "1 lines",
        ),
        (
            {"taxes": [ob.TaxLine(applies_to="shipping", applies_to_index=0)]},
            "taxes[0].applies_to_index",
            "0 shipping_lines",
        ),
        (
            {"taxes": [ob.TaxLine(), ob.TaxLine(applies_to="fee", applies_to_index=2)]},
            "taxes[1].applies_to_index",
            "0 fees",
        ),
        (
            {"taxes": [ob.TaxLine(applies_to_index=0)]},
            "taxes[0].applies_to_index",
            "null for a tax that applies to 'order'",
        ),
        (
            {"taxes": [ob.TaxLine(applies_to="duty", applies_to_index=0)]},
            "taxes[0].applies_to_index",
            "'duty'",
        ),
    ],
)
def test_indexes_must_point_at_a_part_the_order_has(changes: dict, field: str, words: str) -> None:
    with pytest.raises(ob.InvalidOrder, match=words) as info:
        ob.Order(number="71", lines=[ob.OrderLine()], **changes)
    assert info.value.field == field and info.value.order == "71"


def test_tax_lines_say_what_they_apply_to() -> None:
    assert ob.Tax is ob.TaxLine  # schema 1's name
    order = ob.Order(
        lines=[ob.OrderLine()],
        shipping_lines=[ob.ShippingLine(cost=Decimal(5))],
        taxes=[
            ob.TaxLine(code="VAT", amount=Decimal(2), applies_to="line"),
            ob.TaxLine(code="VAT", amount=Decimal(1), applies_to=ob.TaxTarget.SHIPPING, applies_to_index=0),
            ob.TaxLine(code="ECO", amount=Decimal(1), applies_to="line", applies_to_index=0),
        ],
    )
    assert [t.applies_to for t in order.taxes] == [
        ob.TaxTarget.LINE,
        ob.TaxTarget.SHIPPING,
        ob.TaxTarget.LINE,
    ]
    assert order.taxes[0].applies_to is ob.TaxTarget.LINE
    assert ob.TaxLine().applies_to is ob.TaxTarget.ORDER
    duty = ob.TaxLine(applies_to="duty")  # open, like the other enums
    assert duty.applies_to == "duty" and not duty.applies_to.known


def test_shipping_is_a_view_of_the_shipping_lines() -> None:
    assert ob.Order().shipping is None
    one = ob.Order(
        shipping_lines=[ob.ShippingLine(name="Flat", method="flat_rate", cost=Decimal(5), remote_id="3")]
    )
    assert one.shipping == ob.ShippingOption(name="Flat", cost=Decimal(5), remote_id="3")
    two = ob.Order(
        shipping_lines=[
            ob.ShippingLine(name="Flat", cost=Decimal("5.00")),
            ob.ShippingLine(name="Express", cost=Decimal(12)),
            ob.ShippingLine(),
        ]
    )
    assert two.shipping == ob.ShippingOption(name="Flat + Express", cost=Decimal("17.00"))
    assert ob.Order(shipping_lines=[ob.ShippingLine(), ob.ShippingLine()]).shipping == ob.ShippingOption()
    with pytest.raises(TypeError):
        ob.Order(shipping=ob.ShippingOption())  # type: ignore[call-arg]


def test_metadata_is_ordered_with_duplicates_and_any_json() -> None:
    line = ob.OrderLine(metadata=[ob.MetaEntry(key="a", value=1), ob.MetaEntry(key="a", value=[{"b": None}])])
    assert [(m.key, m.value) for m in line.metadata] == [("a", 1), ("a", [{"b": None}])]
    order = ob.Order(
        metadata={"z": Decimal("1.5"), "a": {"nested": [True, "x"]}}
    )  # a mapping, for convenience
    assert order.metadata == (
        ob.MetaEntry(key="z", value=Decimal("1.5")),
        ob.MetaEntry(key="a", value={"nested": [True, "x"]}),
    )
    assert ob.MetaEntry(key="k").value is None


def test_source_names_its_site_as_backends_do() -> None:
    ref = ob.SourceRef("webinone-v2", "812", site="https://shop.example.com")
    assert ref.site == "https://shop.example.com"
    assert ob.SourceRef("webinone-v2", "812") != ref and ob.SourceRef("webinone-v2", "812").site is None
    with pytest.raises(TypeError):
        ob.SourceRef("webinone-v2", "812", "https://shop.example.com")  # type: ignore[misc]
