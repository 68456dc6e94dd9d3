"""Resolution of references a target must already hold (statuses, members, discounts...).

A target API often takes ids for things that must exist there first: the
status an order is in, the member who placed it, a discount or voucher, a
shipping option, a tax code. The source names them in its own terms (a status
name, a discount code); a :class:`ReferenceResolver` turns those into the
target's ids, in this order:

1. the caller's mapping tables (``{"status": {"Paid": "13176"}}``);
2. the ``orderbridge_resolve_reference`` hook of installed plugins;
3. identity, when enabled: the source's own id for the thing (``fallback``)
   or else the value itself; right between two sites of one platform that
   share ids (a cloned site), and the default for WebinOne to WebinOne.

A table or hook value is the target's id exactly as the operator (or plugin)
wrote it; :meth:`ReferenceResolver.lookup_origin` also says which step gave
it, so a backend can check only what identity guessed against its id format.
An unresolved reference raises :class:`~orderbridge.errors.UnresolvedReference`
naming the order, the kind and the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final, Literal

from orderbridge.errors import ConfigurationError, UnresolvedReference

if TYPE_CHECKING:
    from orderbridge.backend import Backend
    from orderbridge.model import Order

__all__ = ["REFERENCE_KINDS", "ReferenceOrigin", "ReferenceResolver"]

REFERENCE_KINDS: Final = ("status", "member", "discount", "gift_voucher", "shipping_option", "tax")
"""The kinds of reference a resolver knows."""

ReferenceOrigin = Literal["table", "hook", "identity"]
"""Which step resolved a reference: a mapping table, a plugin hook, or the identity fallback."""


class ReferenceResolver:
    """Maps source names/codes to target ids through tables, plugin hooks and identity.

    ``tables`` maps a kind to a table of source value -> target id.
    ``identity`` says whether an unmapped value may stand for itself (per kind
    when given a set of kinds). ``use_hooks`` consults plugins' hooks.
    """

    def __init__(
        self,
        tables: Mapping[str, Mapping[str, str | int]] | None = None,
        *,
        identity: bool | frozenset[str] = True,
        use_hooks: bool = True,
    ) -> None:
        tables = tables or {}
        unknown = set(tables) - set(REFERENCE_KINDS)
        if unknown:
            raise ConfigurationError(
                f"unknown reference kind(s) {sorted(unknown)}; known: {', '.join(REFERENCE_KINDS)}"
            )
        self.tables: dict[str, dict[str, str]] = {
            kind: {str(k): str(v) for k, v in table.items()} for kind, table in tables.items()
        }
        self.identity = frozenset(REFERENCE_KINDS) if identity is True else (identity or frozenset())
        self.use_hooks = use_hooks

    def lookup(
        self, kind: str, value: str, *, order: Order, target: Backend, fallback: str | None = None
    ) -> str | None:
        """The target id for ``value``, or ``None`` when nothing resolves it.

        ``fallback`` is the source's own id for the thing (a status id, a
        member id), used by identity in preference to ``value``.
        """
        return self.lookup_origin(kind, value, order=order, target=target, fallback=fallback)[0]

    def lookup_origin(
        self, kind: str, value: str, *, order: Order, target: Backend, fallback: str | None = None
    ) -> tuple[str | None, ReferenceOrigin | None]:
        """``(target id, origin)`` for ``value``; ``(None, None)`` when nothing resolves it.

        ``origin`` is ``"table"``, ``"hook"`` or ``"identity"``. A table or hook
        value is what the operator or plugin chose for this target; an identity
        value is only a guess (the source's own id or text), which a backend may
        want to check against its id format before sending it.
        """
        table = self.tables.get(kind)
        if table is not None and value in table:
            return table[value], "table"
        if self.use_hooks:
            from orderbridge.plugins import get_plugin_manager

            answer = get_plugin_manager().hook.orderbridge_resolve_reference(
                kind=kind, value=value, order=order, target=target
            )
            if answer is not None:
                return str(answer), "hook"
        if kind in self.identity:
            return (fallback if fallback is not None else value), "identity"
        return None, None

    def resolve(
        self, kind: str, value: str, *, order: Order, target: Backend, fallback: str | None = None
    ) -> str:
        """The target id for ``value``; :class:`UnresolvedReference` when there is none."""
        result = self.lookup(kind, value, order=order, target=target, fallback=fallback)
        if result is None:
            raise UnresolvedReference(kind=kind, value=value, order=order.label, target=target.name)
        return result

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v)}" for k, v in self.tables.items())
        return f"ReferenceResolver({sizes or 'no tables'}, identity={sorted(self.identity)})"
