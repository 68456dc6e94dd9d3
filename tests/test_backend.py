from __future__ import annotations

from typing import Any, ClassVar

import pytest
import responses

import orderbridge as ob


class ReadOnly(ob.Backend):
    name: ClassVar[str] = "read-only-test"
    capabilities: ClassVar[frozenset[str]] = frozenset({ob.Capability.READ})

    def __init__(self) -> None:
        self.transport = ob.Transport("https://shop.example.com")

    def _get_order(self, remote_id: str) -> ob.Order:
        self.transport.get(f"/orders/{remote_id}")
        return ob.Order(number=remote_id)


@pytest.mark.parametrize(
    ("call", "operation"),
    [
        (lambda b: b.create_order(ob.Order()), "create_order"),
        (lambda b: b.update_order("1", ob.Order()), "update_order"),
        (lambda b: b.delete_order("1"), "delete_order"),
        (lambda b: b.add_status("1", ob.StatusChange(status="Shipped")), "add_status"),
    ],
)
def test_operation_outside_capabilities_raises_before_any_request(call: Any, operation: str) -> None:
    backend = ReadOnly()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        with pytest.raises(ob.UnsupportedOperation) as info:
            call(backend)
        assert len(mock.calls) == 0
    assert info.value.operation == operation
    assert "read-only-test" in str(info.value)


def test_iter_orders_checks_capability_at_call_time_not_first_next() -> None:
    class WriteOnly(ob.Backend):
        name: ClassVar[str] = "write-only-test"
        capabilities: ClassVar[frozenset[str]] = frozenset({ob.Capability.CREATE})

    with pytest.raises(ob.UnsupportedOperation):
        WriteOnly().iter_orders()


def test_unknown_capability_is_refused_at_class_definition() -> None:
    with pytest.raises(TypeError, match="unknown capabilities"):

        class Bad(ob.Backend):
            name: ClassVar[str] = "bad"
            capabilities: ClassVar[frozenset[str]] = frozenset({"teleport"})


def test_natural_key_needs_every_field() -> None:
    class Keyed(ob.Backend):
        name: ClassVar[str] = "keyed"
        natural_key_fields: ClassVar[tuple[str, ...]] = ("number", "name")

    assert Keyed.natural_key(ob.Order(number="65", name="General")) == ("65", "General")
    assert Keyed.natural_key(ob.Order(number="65")) is None
