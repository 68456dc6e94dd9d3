"""Losses defined once: the base reports other backends' extras; money losses carry an amount,
the migration report sums them, and verify tells a total short by exactly that from a wrong one."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import pytest

import orderbridge as ob
from orderbridge.migration.compare import compare_orders
from orderbridge.migration.report import MigrationReport

from .fakes import MemoryTarget
from .installed import backend_params, needs_acme


class Plain(ob.Backend):
    name: ClassVar[str] = "plain"


class Staging(ob.Backend):
    name: ClassVar[str] = "staging"
    keeps_foreign_extras: ClassVar[bool] = True


def _order(number: str = "1", *, cost: str | None = "5.00", total: str = "105.00") -> ob.Order:
    return ob.Order(
        source=ob.SourceRef("shopx", number),
        number=number,
        currency="EUR",
        total=Decimal(total),
        shipping_lines=[ob.ShippingLine(name="Courier", cost=Decimal(cost))] if cost else [],
        lines=[
            ob.OrderLine(product_name="Mug", unit_price=Decimal("100.00"), extras={"shopx": {"a": 1}}),
            ob.OrderLine(product_name="Cup", unit_price=Decimal("0"), extras={"plain": {"b": 2}}),
        ],
        payments=[ob.Payment(amount=Decimal("105.00"), extras={"shopx": {"c": 3}})],
        extras={"shopx": {"flag": True}, "plain": {"mine": True}},
    )


def test_the_base_reports_every_other_backends_extras_and_none_of_its_own() -> None:
    fields = sorted(loss.field for loss in Plain.losses(_order()))
    assert fields == ["extras.shopx", "lines[].extras.shopx", "payments[].extras.shopx"]


def test_a_backend_that_keeps_whole_orders_loses_no_extras() -> None:
    assert Staging.losses(_order()) == ()
    assert ob.get_backend("jsonl").losses(_order()) == ()


def test_backends_extend_their_own_losses_and_the_base_merges_them_per_field() -> None:
    class Feeless(ob.Backend):
        name: ClassVar[str] = "feeless"

        @classmethod
        def _losses(cls, order: ob.Order) -> list[ob.Loss]:
            return [
                ob.Loss("shipping", "no shipping", Decimal("2")),
                ob.Loss("shipping", "again", Decimal("3")),
                ob.Loss("notes", "no notes"),
            ]

    losses = {loss.field: loss for loss in Feeless.losses(_order())}
    assert losses["shipping"] == ob.Loss("shipping", "no shipping", Decimal("5"))
    assert losses["shipping"].is_money and not losses["notes"].is_money
    assert "extras.shopx" in losses


@pytest.mark.parametrize("name", backend_params(["webinone-v2", "webinone-v1", "lunasoft-cart", "acme"]))
def test_every_built_in_backend_reports_foreign_extras(name: str) -> None:
    fields = {loss.field for loss in ob.get_backend(name).losses(_order())}
    assert {"extras.shopx", "lines[].extras.shopx"} <= fields, name


def test_a_second_discount_on_webinone_v2_is_a_money_loss() -> None:
    order = _order().evolve(
        discounts=[
            ob.Discount(code="A", amount=Decimal("1.00")),
            ob.Discount(code="B", amount=Decimal("2.50")),
        ]
    )
    losses = {loss.field: loss for loss in ob.get_backend("webinone-v2").losses(order)}
    assert losses["discounts[1:]"].amount == Decimal("-2.50")


@needs_acme
def test_acme_reports_its_shipping_as_a_money_loss() -> None:
    losses = {loss.field: loss for loss in ob.get_backend("acme").losses(_order())}
    assert losses["shipping_lines"].amount == Decimal("5.00")


def test_the_migration_report_sums_money_losses_per_field_and_currency() -> None:
    report = MigrationReport(source="a", target="b")
    report.add_losses([ob.Loss("fees[]", "no fees", Decimal("2.50")), ob.Loss("notes", "no notes")], "EUR")
    report.add_losses([ob.Loss("fees[]", "no fees", Decimal("1.25"))], "EUR")
    report.add_losses([ob.Loss("fees[]", "no fees", Decimal("4"))], None)
    assert report.losses["fees[]"] == 3 and report.losses["notes"] == 1
    data = report.to_dict()["losses"]
    assert data["fees[]"]["money"] == {"EUR": "3.75", "?": "4"}
    assert "money" not in data["notes"]
    assert "fees[]: 3  money lost: 4 ?, 3.75 EUR  (no fees)" in report.summary()


def test_a_total_short_by_exactly_the_money_lost_is_no_mismatch() -> None:
    source, copy = _order(), _order(total="100.00")
    assert compare_orders(source, copy) == [("total", Decimal("105.00"), Decimal("100.00"))]
    assert compare_orders(source, copy, lost=Decimal("5.00")) == []
    assert compare_orders(source, copy, lost=Decimal("3.00")) != []


class ComputingTarget(MemoryTarget):
    """A target without shipping: it computes its total from the lines (a wrong one when ``skew``)."""

    name: ClassVar[str] = "computing"
    skew = Decimal(0)

    @classmethod
    def _losses(cls, order: ob.Order) -> list[ob.Loss]:
        cost = order.shipping.cost if order.shipping is not None else None
        return [ob.Loss("shipping", "no shipping here", cost)] if order.shipping is not None else []

    def _store(self, order: ob.Order) -> str:
        total = sum((line.unit_price or Decimal(0)) * line.quantity for line in order.lines)
        return super()._store(order.evolve(shipping_lines=(), total=total + self.skew))


def _migrate_and_verify(tmp_path: Path, target: MemoryTarget) -> tuple[ob.MigrationReport, ob.VerifyReport]:
    source = ob.connect("jsonl", path=tmp_path / "orders.jsonl")
    for n in range(3):
        source.create_order(_order(str(n)))
    state = tmp_path / "state.sqlite"
    report = ob.migrate(source, target, state=state, concurrency=1)
    return report, ob.verify(source, target, state)


def test_verify_lists_money_lost_and_explains_the_total(tmp_path: Path) -> None:
    report, verified = _migrate_and_verify(tmp_path, ComputingTarget())
    assert report.written == 3
    assert report.money_lost == {"shipping": {"EUR": Decimal("15.00")}}
    assert verified.ok, verified.summary()
    assert [(m.amount, m.source_total, m.target_total) for m in verified.money_lost] == [
        ("5.00", "105.00", "100.00")
    ] * 3
    assert "money the target cannot hold" in verified.summary()
    assert verified.to_dict()["money_lost"][0]["fields"] == ["shipping"]


def test_verify_reports_a_total_the_money_lost_does_not_explain(tmp_path: Path) -> None:
    class Skewed(ComputingTarget):
        skew = Decimal("1.00")

    _, verified = _migrate_and_verify(tmp_path, Skewed())
    assert not verified.ok
    assert {m.field for m in verified.mismatches} == {"total"}
