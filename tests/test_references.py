from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import pytest

import orderbridge as ob
from orderbridge import plugins


class Target(ob.Backend):
    name: ClassVar[str] = "ref-target"
    id_space: ClassVar[str | None] = "webinone"  # a site of the WebinOne lineage: identity may apply


class OtherPlatform(ob.Backend):
    name: ClassVar[str] = "other-platform"  # no id_space: its own name


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


def _register_lookup(want_kind: str, answer: str, want_value: str | None = None) -> None:
    """A plugin whose hook answers ``answer`` for ``want_kind`` (and ``want_value``, when given)."""

    class Lookup:
        @ob.hookimpl
        def orderbridge_resolve_reference(
            self, kind: str, value: str, order: ob.Order, target: ob.Backend
        ) -> str | None:
            return answer if kind == want_kind and want_value in (None, value) else None

    ob.register(Lookup(), name=f"lookup-{want_kind}")


def test_a_plugin_hook_resolves_before_identity(fresh_plugins: None) -> None:
    _register_lookup("member", "51230", "28049")
    resolver = ob.ReferenceResolver({"member": {"1": "2"}})
    assert resolver.resolve("member", "28049", order=ORDER, target=Target()) == "51230"
    assert resolver.resolve("member", "1", order=ORDER, target=Target()) == "2"  # tables still first
    assert resolver.resolve("member", "77", order=ORDER, target=Target()) == "77"  # then identity
    assert (
        ob.ReferenceResolver(use_hooks=False).resolve("member", "28049", order=ORDER, target=Target())
        == "28049"
    )


def test_lookup_origin_says_which_step_resolved(fresh_plugins: None) -> None:
    _register_lookup("gift_voucher", "GV-9")
    resolver = ob.ReferenceResolver({"discount": {"SAVE10": "D1"}}, identity=frozenset({"tax"}))
    assert resolver.lookup_origin("discount", "SAVE10", order=ORDER, target=Target()) == ("D1", "table")
    assert resolver.lookup_origin("gift_voucher", "XMAS", order=ORDER, target=Target()) == ("GV-9", "hook")
    assert resolver.lookup_origin("tax", "GST", order=ORDER, target=Target(), fallback="7") == (
        "7",
        "identity",
    )
    assert resolver.lookup_origin("status", "Paid", order=ORDER, target=Target()) == (None, None)
    assert resolver.lookup("discount", "SAVE10", order=ORDER, target=Target()) == "D1"


# ------------------------------------------------------------------ id spaces

LUNASOFT_ORDER = ob.Order(
    source=ob.SourceRef("lunasoft-cart", "54123"),
    status=ob.OrderStatus(name="Pending", remote_id="3"),
    customer=ob.Customer(remote_id="4483", email="ada@example.com"),
    gift_vouchers=[ob.GiftVoucher(code="XMAS", remote_id="502")],
    lines=[ob.OrderLine(product_ref="16001", attributes=[ob.AttributeSelection(attribute_id="7")])],
)


def test_id_spaces_of_the_builtin_backends() -> None:
    assert ob.id_space_of("webinone-v1") == ob.id_space_of("webinone-v2") == "webinone"
    assert ob.id_space_of(ob.get_backend("webinone-v2")) == "webinone"
    assert ob.id_space_of("lunasoft-cart") == "lunasoft-cart"  # no id_space declared: its own name
    assert ob.id_space_of(OtherPlatform()) == "other-platform"
    assert ob.id_space_of("jsonl") == ob.NO_ID_SPACE
    assert ob.id_space_of("webinone") == "webinone"  # not a backend: taken as an id space
    assert ob.id_space_of("not-installed") == "not-installed"


def test_shares_ids_within_a_family_never_across_platforms() -> None:
    assert ob.shares_ids(ORDER, "webinone-v2") and ob.shares_ids(ORDER, "webinone")
    assert ob.shares_ids(ORDER, Target())
    assert not ob.shares_ids(LUNASOFT_ORDER, "webinone-v2")
    assert not ob.shares_ids(ORDER, "lunasoft-cart")
    assert ob.shares_ids(LUNASOFT_ORDER, "lunasoft-cart")
    # No source: made for the target, so its ids are the target's.
    assert ob.shares_ids(ob.Order(number="1"), "webinone-v2")
    # A backend with no id space of its own: its orders share ids with nobody, itself included.
    assert not ob.shares_ids(ob.Order(source=ob.SourceRef("jsonl", "x")), "jsonl")


def test_identity_applies_within_one_id_space() -> None:
    resolver = ob.ReferenceResolver()
    found = resolver.lookup_origin("member", "28049", order=ORDER, target=Target(), fallback="28049")
    assert found == ("28049", "identity")
    no_source = ob.Order(customer=ob.Customer(remote_id="77"))
    assert resolver.lookup("member", "77", order=no_source, target=OtherPlatform()) == "77"


def test_identity_is_refused_across_id_spaces_but_tables_and_hooks_still_answer(
    fresh_plugins: None,
) -> None:
    _register_lookup("gift_voucher", "5001", "XMAS")
    resolver = ob.ReferenceResolver({"member": {"4483": "28049"}})
    target = ob.get_backend("webinone-v2")(token="t", base_url="https://shop.example.com")
    order = LUNASOFT_ORDER
    assert resolver.lookup_origin("member", "9999", order=order, target=target, fallback="9999") == (
        None,
        None,
    )
    assert resolver.lookup("status", "Pending", order=order, target=target, fallback="3") is None
    assert resolver.lookup_origin("member", "4483", order=order, target=target) == ("28049", "table")
    assert resolver.lookup_origin("gift_voucher", "XMAS", order=order, target=target, fallback="502") == (
        "5001",
        "hook",
    )
    with pytest.raises(ob.UnresolvedReference, match="lunasoft-cart:54123"):
        resolver.resolve("tax", "GST", order=order, target=target, fallback="7")


def test_foreign_id_losses_name_both_id_spaces() -> None:
    assert ob.foreign_ids(ORDER, "webinone-v2") == ()
    assert ob.foreign_ids(LUNASOFT_ORDER, "webinone-v2") == (
        "customer.remote_id",
        "status.remote_id",
        "lines[].product_ref",
        "lines[].attributes",
        "gift_vouchers[].remote_id",
    )
    losses = ob.foreign_id_losses(LUNASOFT_ORDER, "webinone", ("customer.remote_id", "parent_order_ref"))
    assert losses == (ob.Loss("customer.remote_id", "a lunasoft-cart id, not a webinone id: not written"),)


def test_a_default_entry_covers_the_values_a_table_does_not_list(fresh_plugins: None) -> None:
    _register_lookup("status", "from-hook")
    resolver = ob.ReferenceResolver({"status": {"Paid": "2041", ob.DEFAULT_KEY: "2040"}})
    assert resolver.lookup_origin("status", "Paid", order=ORDER, target=Target()) == ("2041", "table")
    # Before hooks and identity: the operator's "*" is a choice for every other value.
    assert resolver.lookup_origin("status", "Lost", order=ORDER, target=Target(), fallback="9") == (
        "2040",
        "default",
    )
    assert resolver.lookup_origin("tax", "GST", order=ORDER, target=Target()) == ("GST", "identity")
