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
