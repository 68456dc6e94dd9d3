"""Comparing a source order with its copy: statuses without ids are compared by name."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import orderbridge as ob
from orderbridge.migration.compare import compare_orders, target_status_id
from orderbridge.sandbox import SimServer, available_simulators


class Cart(ob.Backend):
    name: ClassVar[str] = "lunasoft-cart-like"
    id_space: ClassVar[str | None] = "lunasoft-cart"


def _order(status: ob.OrderStatus) -> ob.Order:
    return ob.Order(
        source=ob.SourceRef("lunasoft-cart", "7"), number="7", total=Decimal("5.00"), status=status
    )


def test_a_status_without_an_id_is_compared_by_name_even_with_identity_on() -> None:
    source = _order(ob.OrderStatus(name="completed"))
    copy = _order(ob.OrderStatus(name="completed"))
    # Identity within one id space would "map" the status to its own name, which is no id.
    assert target_status_id(source, Cart(), ob.ReferenceResolver(use_hooks=False)) is None
    assert compare_orders(source, copy, status_id=None) == []
    renamed = _order(ob.OrderStatus(name="shipped"))
    assert compare_orders(source, renamed) == [("status.name", "completed", "shipped")]


def test_a_mapped_status_id_is_compared_only_with_a_target_that_holds_ids() -> None:
    source = _order(ob.OrderStatus(name="completed"))
    resolver = ob.ReferenceResolver({"status": {"completed": "5"}}, use_hooks=False)
    status_id = target_status_id(source, Cart(), resolver)
    assert status_id == "5"
    assert (
        compare_orders(source, _order(ob.OrderStatus(name="Done", remote_id="5")), status_id=status_id) == []
    )
    wrong = compare_orders(source, _order(ob.OrderStatus(name="Done", remote_id="6")), status_id=status_id)
    assert wrong == [("status", "5", "6")]
    # A target whose statuses carry no id: the names tell.
    assert compare_orders(source, _order(ob.OrderStatus(name="completed")), status_id=status_id) == []


def test_verify_of_a_cart_migration_to_a_file_finds_every_order_equal(tmp_path: Path) -> None:
    sim = available_simulators()["lunasoft-cart"]()
    sim.seed(40)
    with SimServer(sim) as server:
        source = ob.connect("lunasoft-cart", base_url=server.urls()["base"], **sim.credentials())
        target = ob.connect("jsonl", path=tmp_path / "t.jsonl")
        report = ob.migrate(source, target, state=tmp_path / "s.sqlite")
        assert report.written == 40
        result = ob.verify(source, target, state=str(tmp_path / "s.sqlite"), resolver=ob.ReferenceResolver())
    assert result.ok and result.checked == 40 and not result.mismatches, result.summary()
