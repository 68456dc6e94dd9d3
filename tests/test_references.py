from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import pytest

import orderbridge as ob
from orderbridge import plugins


class Target(ob.Backend):
    name: ClassVar[str] = "ref-target"


ORDER = ob.Order(source=ob.SourceRef("webinone-v1", "28057"))


@pytest.fixture
def fresh_plugins() -> Iterator[None]:
    plugins.reset()
    yield
    plugins.reset()


def test_tables_win_then_identity_prefers_the_source_id() -> None:
    resolver = ob.ReferenceResolver({"status": {"Paid": 2041}})
    assert resolver.resolve("status", "Paid", order=ORDER, target=Target()) == "2041"
    assert resolver.resolve("status", "Shipped", order=ORDER, target=Target(), fallback="13177") == "13177"
    assert resolver.resolve("discount", "SUMMER10", order=ORDER, target=Target()) == "SUMMER10"


def test_identity_can_be_limited_to_some_kinds_or_turned_off() -> None:
    only_members = ob.ReferenceResolver(identity=frozenset({"member"}))
    assert only_members.lookup("member", "28049", order=ORDER, target=Target()) == "28049"
    assert only_members.lookup("status", "Paid", order=ORDER, target=Target()) is None
    with pytest.raises(ob.UnresolvedReference) as info:
        ob.ReferenceResolver(identity=False).resolve("discount", "SUMMER10", order=ORDER, target=Target())
    message = str(info.value)
    assert "webinone-v1:28057" in message and "discount" in message and "'SUMMER10'" in message
    assert (info.value.kind, info.value.value, info.value.order) == (
        "discount",
        "SUMMER10",
        "webinone-v1:28057",
    )


def test_unknown_kind_in_tables_is_a_configuration_error() -> None:
    with pytest.raises(ob.ConfigurationError, match="colour"):
        ob.ReferenceResolver({"colour": {"red": 1}})


def test_a_plugin_hook_resolves_before_identity(fresh_plugins: None) -> None:
    class CrmLookup:
        @ob.hookimpl
        def orderbridge_resolve_reference(
            self, kind: str, value: str, order: ob.Order, target: ob.Backend
        ) -> str | None:
            return "51230" if kind == "member" and value == "28049" else None

    ob.register(CrmLookup(), name="crm-lookup")
    resolver = ob.ReferenceResolver({"member": {"1": "2"}})
    assert resolver.resolve("member", "28049", order=ORDER, target=Target()) == "51230"
    assert resolver.resolve("member", "1", order=ORDER, target=Target()) == "2"  # tables still first
    assert resolver.resolve("member", "77", order=ORDER, target=Target()) == "77"  # then identity
    assert (
        ob.ReferenceResolver(use_hooks=False).resolve("member", "28049", order=ORDER, target=Target())
        == "28049"
    )


def test_lookup_origin_says_which_step_resolved(fresh_plugins: None) -> None:
    class VoucherLookup:
        @ob.hookimpl
        def orderbridge_resolve_reference(
            self, kind: str, value: str, order: ob.Order, target: ob.Backend
        ) -> str | None:
            return "GV-9" if kind == "gift_voucher" else None

    ob.register(VoucherLookup(), name="voucher-lookup")
    resolver = ob.ReferenceResolver({"discount": {"SAVE10": "D1"}}, identity=frozenset({"tax"}))
    assert resolver.lookup_origin("discount", "SAVE10", order=ORDER, target=Target()) == ("D1", "table")
    assert resolver.lookup_origin("gift_voucher", "XMAS", order=ORDER, target=Target()) == ("GV-9", "hook")
    assert resolver.lookup_origin("tax", "GST", order=ORDER, target=Target(), fallback="7") == (
        "7",
        "identity",
    )
    assert resolver.lookup_origin("status", "Paid", order=ORDER, target=Target()) == (None, None)
    assert resolver.lookup("discount", "SAVE10", order=ORDER, target=Target()) == "D1"
