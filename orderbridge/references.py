"""Resolution of references a target must already hold (statuses, members, discounts...).

A target API often takes ids for things that must exist there first: the
status an order is in, the member who placed it, a discount or voucher, a
shipping option, a tax code. The source names them in its own terms (a status
name, a discount code); a :class:`ReferenceResolver` turns those into the
target's ids, in this order:

1. the caller's mapping tables (``{"status": {"Paid": "13176"}}``): the
   value's own entry, else the table's default entry :data:`DEFAULT_KEY`
   (``"*"``), which covers every value of its kind the table does not list;
2. the ``orderbridge_resolve_reference`` hook of installed plugins;
3. identity, when enabled and only when the order holds the target's own
   ids (:func:`shares_ids`): the source's own id for the thing (``fallback``)
   or else the value itself. With ``identity = true`` the operator declares
   that two sites of one id space share ids (a cloned site, a v1 site and its
   v2 successor); across platforms it never applies.

A table or hook value is the target's id exactly as the operator (or plugin)
wrote it; :meth:`ReferenceResolver.lookup_origin` also says which step gave
it, so a backend can check only what identity guessed against its id format.
An unresolved reference raises :class:`~orderbridge.errors.UnresolvedReference`
naming the order, the kind and the value.

Id spaces. Every reference id in a canonical order (member, product, status,
discount, voucher, shipping option, tax, parent order, a line's attribute and
option ids) belongs to the system the order came from: the id space of
``order.source.backend`` (:func:`id_space_of`). A backend writes such an id
only when the order shares its own id space (:func:`shares_ids`), and lists it
in its losses otherwise (:func:`foreign_id_losses`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Final, Literal

from attrs import frozen

from orderbridge.errors import ConfigurationError, UnresolvedReference
from orderbridge.plugins import id_space_named

if TYPE_CHECKING:
    from orderbridge.backend import Backend, Loss
    from orderbridge.model import Order

__all__ = [
    "DEFAULT_KEY",
    "NO_ID_SPACE",
    "REFERENCE_ID_FIELDS",
    "REFERENCE_KINDS",
    "ReferenceCandidate",
    "ReferenceOrigin",
    "ReferenceResolver",
    "check_listed_ids",
    "foreign_id_losses",
    "foreign_ids",
    "id_space_of",
    "reference_hint",
    "shares_ids",
]

REFERENCE_KINDS: Final = ("status", "member", "discount", "gift_voucher", "shipping_option", "tax")
"""The kinds of reference a resolver knows."""

ReferenceOrigin = Literal["table", "default", "hook", "identity"]
"""Which step resolved a reference: a mapping table's entry for the value, its default
entry (:data:`DEFAULT_KEY`), a plugin hook, or the identity fallback."""

DEFAULT_KEY: Final = "*"
"""The key of a mapping table's default entry: ``"*" = "13176"`` maps every value of that
kind the table does not list (after the value's own entry, before hooks and identity)."""

NO_ID_SPACE: Final = ""
"""The ``id_space`` of a backend that gives orders no ids of its own (``jsonl``): each
order it holds keeps the ``source`` it came from, whose id space its ids belong to."""

REFERENCE_ID_FIELDS: Final = (
    "customer.remote_id",
    "status.remote_id",
    "parent_order_ref",
    "lines[].product_ref",
    "lines[].attributes",
    "discounts[].remote_id",
    "gift_vouchers[].remote_id",
    "shipping.remote_id",
    "taxes[].remote_id",
)
"""The canonical fields that hold a reference id of the order's source system.

An order's own id (``source.remote_id``) and the ids of its lines, payments and
status changes name the order's own parts: a backend writes them only for an
order of its own id space, and a target gives its copy new ones.
"""


@frozen
class ReferenceCandidate:
    """One entry a target holds for a reference kind: its ``id`` (the target's) and a ``name``.

    :meth:`~orderbridge.backend.Backend.list_references` answers these; the
    ``name`` is what a person recognises (a status name, a member's email, a
    discount code), the ``id`` what a mapping table's value must be.
    """

    id: str
    name: str


# ---------------------------------------------------------------- id spaces


def id_space_of(backend: str | Backend | type[Backend]) -> str:
    """The id space of a backend: its ``id_space``, or its name when it declares none.

    ``backend`` is a backend class or instance, or a name. A name that is no
    installed backend is taken as an id space itself, so ``"webinone"`` and
    ``"webinone-v2"`` both give ``"webinone"``.
    """
    if isinstance(backend, str):
        return id_space_named(backend)
    declared = backend.id_space
    return backend.name if declared is None else declared


def shares_ids(order: Order, target: str | Backend | type[Backend]) -> bool:
    """Whether ``order``'s reference ids are ids of ``target``'s id space (see :func:`id_space_of`).

    An order with no ``source`` is taken as holding the target's own ids (it
    was made for the target, by hand or by a script). An order from a backend
    with no id space of its own (:data:`NO_ID_SPACE`) shares ids with none.
    """
    if order.source is None:
        return True
    space = id_space_of(order.source.backend)
    return space != NO_ID_SPACE and space == id_space_of(target)


def foreign_ids(order: Order, target: str | Backend | type[Backend]) -> tuple[str, ...]:
    """The fields of :data:`REFERENCE_ID_FIELDS` that ``order`` sets with ids ``target`` must not write.

    Empty when the order shares ``target``'s id space. Pure: nothing but the
    plugin registry is consulted.
    """
    if shares_ids(order, target):
        return ()
    return tuple(field for field in REFERENCE_ID_FIELDS if _holds(order, field))


def _holds(order: Order, field: str) -> bool:
    """Whether ``order`` sets the reference field ``field`` (a :data:`REFERENCE_ID_FIELDS` path)."""
    head, _, name = field.partition(".")
    if not name:
        return getattr(order, head) is not None
    if head.endswith("[]"):
        parts = getattr(order, head[:-2])
        return any(getattr(part, name) not in (None, ()) for part in parts)
    part = getattr(order, head)
    return part is not None and getattr(part, name) is not None


def foreign_id_losses(
    order: Order, target: str | Backend | type[Backend], fields: Collection[str] = REFERENCE_ID_FIELDS
) -> tuple[Loss, ...]:
    """One :class:`~orderbridge.backend.Loss` per field of ``fields`` that holds a foreign id.

    ``fields`` are the reference fields the backend would write (default all).
    The reason names both id spaces: ``"a lunasoft-cart id, not a webinone id:
    not written"``.
    """
    from orderbridge.backend import Loss

    found = [field for field in foreign_ids(order, target) if field in fields]
    if not found:
        return ()
    assert order.source is not None  # an order without a source shares every id space
    theirs = id_space_of(order.source.backend) or order.source.backend
    reason = f"{_a(theirs)} id, not {_a(id_space_of(target))} id: not written"
    return tuple(Loss(field, reason) for field in found)


def _a(space: str) -> str:
    """``space`` with its article: "a webinone", "an acme"."""
    return f"an {space}" if space and space[0].lower() in "aeiou" else f"a {space}"


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

        ``origin`` is ``"table"``, ``"default"`` (the table's :data:`DEFAULT_KEY`
        entry), ``"hook"`` or ``"identity"``. A table or hook value is what the
        operator or plugin chose for this target; an identity
        value is only a guess (the source's own id or text), which a backend may
        want to check against its id format before sending it. Identity answers
        only for an order that shares ``target``'s id space (:func:`shares_ids`).
        """
        table = self.tables.get(kind)
        if table is not None and value in table:
            return table[value], "table"
        if table is not None and DEFAULT_KEY in table:
            return table[DEFAULT_KEY], "default"
        if self.use_hooks:
            from orderbridge.plugins import get_plugin_manager

            answer = get_plugin_manager().hook.orderbridge_resolve_reference(
                kind=kind, value=value, order=order, target=target
            )
            if answer is not None:
                return str(answer), "hook"
        if kind in self.identity and shares_ids(order, target):
            # Identity is the operator's word that both sites share ids; it never
            # reaches across id spaces (a Lunasoft member id is no WebinOne member).
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


def check_listed_ids(backend: Backend, resolver: ReferenceResolver) -> None:
    """Every value of ``resolver``'s tables is an id ``backend`` lists for its kind.

    Kinds the backend cannot list (:meth:`~orderbridge.backend.Backend.list_references`
    answers ``None``) are not checked. The first value that is no listed id
    raises :class:`~orderbridge.errors.ConfigurationError` naming the kind, the
    key and the value: ``[references.tax] 'GST' = 'twelve': not a valid tax id
    on webinone-v2 (it lists 4: 7000 GST, 7001 VAT, ...)``.
    """
    for kind, table in resolver.tables.items():
        if not table:
            continue
        listed = backend.list_references(kind)
        if listed is None:
            continue
        ids = {candidate.id for candidate in listed}
        for key, value in table.items():
            if value not in ids:
                shown = ", ".join(f"{c.id} {c.name}" for c in listed[:5])
                more = ", ..." if len(listed) > 5 else ""
                raise ConfigurationError(
                    f"[references.{kind}] {key!r} = {value!r}: not a valid {kind} id on {backend.name} "
                    f"(it lists {len(listed)}: {shown}{more})"
                )


def reference_hint(order: Order, kind: str, value: str) -> str | None:
    """What ``order`` says of its reference ``value`` of ``kind`` besides the value itself.

    A member is named by the source's member id; the hint is the customer's
    email and name, so that a person can find the target's member. Other kinds
    are named by their code or name already (``None``). Pure.
    """
    customer = order.customer
    if kind != "member" or customer is None:
        return None
    name = " ".join(part for part in (customer.first_name, customer.last_name) if part)
    parts = [part for part in (customer.email, name) if part and part != value]
    return ", ".join(parts) or None
