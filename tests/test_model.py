from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

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
