"""The canonical order model: one neutral shape every backend translates to and from.

All classes are frozen attrs classes. Money and rates are ``Decimal``, never
float; datetimes are timezone-aware; remote ids are strings and always belong to
the system named in the enclosing order's :attr:`Order.source` (ids of a target
system never appear here). What the model has no field for is kept in
``extras``, keyed by backend name, so reading and writing one platform
round-trips.

Invariants that hold for every platform are checked when an object is built;
a broken one raises :class:`~orderbridge.errors.InvalidOrder` naming the field.
"""

from __future__ import annotations

import enum
import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, TypeVar
from zoneinfo import ZoneInfo

import attrs

from orderbridge.errors import InvalidOrder

__all__ = [
    "SCHEMA_VERSION",
    "Address",
    "AttributeSelection",
    "CustomValue",
    "Customer",
    "Discount",
    "Fee",
    "GiftVoucher",
    "JsonValue",
    "MetaEntry",
    "OpenEnum",
    "Order",
    "OrderLine",
    "OrderStatus",
    "Payment",
    "PaymentState",
    "PaymentType",
    "Refund",
    "RefundLine",
    "ShippingLine",
    "ShippingOption",
    "SourceRef",
    "StatusChange",
    "Tax",
    "TaxLine",
    "TaxTarget",
]

SCHEMA_VERSION = 2
"""Version of the canonical JSON form; written as ``schema_version`` in every order.

Schema 2 added fees, refunds, several shipping lines (``Order.shipping_lines``
in place of schema 1's ``shipping``), per-line subtotal, discount and tax
amounts, tax lines that say what they apply to, ``OrderLine.variant_ref``,
``Order.prices_include_tax``, metadata and ``SourceRef.site``. Canonical JSON of
schema 1 still reads (see :func:`orderbridge.order_from_dict`).
"""

CustomValue = str | bool | int | Decimal | None
"""A custom field's value: JSON scalars, with numbers that have a fraction as ``Decimal``."""

Extras = dict[str, dict[str, Any]]
"""Per-backend leftovers: backend name -> JSON-ready mapping of what the model cannot hold."""

JsonValue = str | bool | int | Decimal | list[Any] | dict[str, Any] | None
"""Any JSON value: scalars (numbers with a fraction as ``Decimal``, never float), lists and
objects with string keys, nested freely (a metadata entry's value)."""


_UNKNOWN_MEMBERS: dict[tuple[type, str], OpenEnum] = {}


class OpenEnum(str, enum.Enum):  # noqa: UP042 - StrEnum's str() differs; value semantics wanted
    """A string enum that keeps values it does not know instead of failing.

    ``PaymentState("Disputed")`` gives a member whose ``value`` is the raw text
    ``"Disputed"`` and whose :attr:`known` is ``False``; it compares equal to any
    other member made from the same text. New platform values are never lost.
    """

    @classmethod
    def _missing_(cls, value: object) -> OpenEnum | None:
        if not isinstance(value, str):
            return None
        # Cached (in a table of our own, not in enum's internals) so that the same raw
        # text always gives the same object; setdefault keeps that true across threads.
        member = _UNKNOWN_MEMBERS.get((cls, value))
        if member is None:
            member = str.__new__(cls, value)
            member._name_ = "UNKNOWN"
            member._value_ = value
            member = _UNKNOWN_MEMBERS.setdefault((cls, value), member)
        return member

    @property
    def known(self) -> bool:
        """Whether the value is one the model names (not a raw, unknown one)."""
        return self._name_ != "UNKNOWN"

    def __str__(self) -> str:
        return str(self.value)


class PaymentState(OpenEnum):
    """Where an order stands on payment, as a whole."""

    NONE = "None"
    PENDING = "Pending"
    PARTIALLY_PAID = "PartiallyPaid"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    REFUNDED = "Refunded"
    CANCELLED = "Cancelled"


class PaymentType(OpenEnum):
    """How a payment was made."""

    CREDIT_CARD = "CreditCard"
    CASH = "Cash"
    CHECK = "Check"
    PAYPAL = "PayPal"
    BANK_TRANSFER = "BankTransfer"
    GIFT_VOUCHER = "GiftVoucher"
    OTHER = "Other"


class TaxTarget(OpenEnum):
    """What a :class:`TaxLine` is charged on."""

    ORDER = "order"
    """The order as a whole (or a platform that does not say)."""
    LINE = "line"
    """Order lines: one (``applies_to_index``) or all of them."""
    SHIPPING = "shipping"
    """Shipping lines: one (``applies_to_index``) or all of them."""
    FEE = "fee"
    """Fees: one (``applies_to_index``) or all of them."""


# ---------------------------------------------------------------- validators

_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _fail(attribute: attrs.Attribute[Any], message: str) -> InvalidOrder:
    return InvalidOrder(message, field=attribute.name)


MONEY_DIGITS: Final = 15
"""Digits an amount may have before the point: no platform stores more (``1e400`` is a broken document)."""


_Validator = TypeVar("_Validator", bound=Callable[..., None])


def _fast(condition: str, **names: Any) -> Callable[[_Validator], _Validator]:
    """Mark a validator with ``condition``: a Python expression over ``v`` that, when true,
    proves the value valid (the common case); :func:`_compile_checks` inlines it. When
    false, the validator itself runs and names the field."""

    def mark(validator: _Validator) -> _Validator:
        validator.fast = (condition, names)  # type: ignore[attr-defined]
        return validator

    return mark


@_fast("v is None or (type(v) is Decimal and v.is_finite() and v.adjusted() < DIGITS)", DIGITS=MONEY_DIGITS)
def _money(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, Decimal):
        raise _fail(attribute, f"must be a Decimal, got {type(value).__name__} {value!r}")
    if not value.is_finite():
        raise _fail(attribute, f"must be a finite amount, got {value}")
    if value.adjusted() >= MONEY_DIGITS:
        raise _fail(
            attribute,
            f"is out of range for an amount ({MONEY_DIGITS}+ digits before the point), got {value:.6g}",
        )


@_fast(
    "type(v) is Decimal and v.is_finite() and v.adjusted() < DIGITS and not v.is_signed()",
    DIGITS=MONEY_DIGITS,
)
def _non_negative_money(inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    _money(inst, attribute, value)
    if value is not None and value < 0:
        raise _fail(attribute, f"must not be negative, got {value}")


# Both always give an offset: asking them (a zone lookup for ZoneInfo) can be skipped.
_OFFSET_ZONES = frozenset({timezone, ZoneInfo})


@_fast("v is None or (type(v) is datetime and type(v.tzinfo) in ZONES)", ZONES=_OFFSET_ZONES)
def _aware(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None or (type(value) is datetime and type(value.tzinfo) in _OFFSET_ZONES):
        return
    if not isinstance(value, datetime):
        raise _fail(attribute, f"must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise _fail(attribute, f"must be timezone-aware, got naive {value.isoformat()}")


@_fast("v is None or type(v) is str")
def _opt_str(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise _fail(attribute, f"must be a string, got {type(value).__name__} {value!r}")


@_fast("v is None or type(v) is bool")
def _opt_bool(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, bool):
        raise _fail(attribute, f"must be true, false or absent, got {value!r}")


@_fast("type(v) is int and v >= 0")
def _index(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is int and value >= 0:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(attribute, f"must be an index (an integer), got {type(value).__name__} {value!r}")
    if value < 0:
        raise _fail(attribute, f"must not be negative, got {value}")


@_fast("v is None or (type(v) is int and v >= 0)")
def _opt_index(inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        _index(inst, attribute, value)


_LAST4 = re.compile(r"\d{4}")


@_fast("v is None")
def _card_last4(inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    # One function, not attrs' pair of validators (_opt_str and a method): most payments have none.
    if value is None:
        return
    _opt_str(inst, attribute, value)
    if not _LAST4.fullmatch(value):
        raise _fail(attribute, "must be exactly the last four digits of a card")


@_fast("v is None or (type(v) is str and MATCH(v) is not None)", MATCH=_CURRENCY.match)
def _currency(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not _CURRENCY.match(value)):
        raise _fail(attribute, f"must be a three-letter upper-case ISO 4217 code, got {value!r}")


def _tuple_of(kind: type) -> Any:
    only_kind = frozenset({kind})

    @_fast("type(v) is tuple and (not v or ONLY.issuperset(map(type, v)))", ONLY=only_kind)
    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if type(value) is tuple and (not value or only_kind.issuperset(map(type, value))):
            return  # the common cases (empty, or exactly the kind), tested at C speed
        if not isinstance(value, tuple):
            raise _fail(attribute, f"must be a tuple, got {type(value).__name__}")
        for i, item in enumerate(value):
            if not isinstance(item, kind):
                raise InvalidOrder(
                    f"must be a {kind.__name__}, got {type(item).__name__}",
                    field=f"{attribute.name}[{i}]",
                )

    return check


# Exact-type tests settle nearly every JSON-like value at C speed, without
# isinstance's slower walk (union types, ABCs) and without building the error
# path of every item; whatever they do not settle (a subclass, an error) takes
# the general, field-naming path.
_JSON_SCALARS = frozenset({str, bool, int, type(None)})
_CUSTOM_SCALARS = _JSON_SCALARS | {Decimal}
_STR_ONLY = frozenset({str})
_DICT_ONLY = frozenset({dict})


def _plain_json(value: Any) -> bool:
    """Whether ``value`` is JSON built of exact builtin types and finite Decimals (the common case).

    One loop over a stack, not a call per container: extras hold small nested
    parts, where calls and iterator set-ups would cost more than the values.
    """
    if type(value) in _JSON_SCALARS:
        return True
    pending = [value]
    while pending:
        node = pending.pop()
        kind = type(node)
        if kind is dict:
            if not _STR_ONLY.issuperset(map(type, node)):
                return False
            items: Any = node.values()
        elif kind is list or kind is tuple:
            items = node
        elif kind is Decimal:
            if not node.is_finite():
                return False
            continue
        else:
            return False
        for item in items:
            if type(item) not in _JSON_SCALARS:
                pending.append(item)  # containers and Decimals, judged when taken off
    return True


@_fast("type(v) is dict and not v")
def _extras(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is dict and (
        not value or (_DICT_ONLY.issuperset(map(type, value.values())) and _plain_json(value))
    ):
        return
    if not isinstance(value, Mapping):
        raise _fail(attribute, "must be a mapping of backend name to mapping")
    for backend, data in value.items():
        if not isinstance(backend, str) or not isinstance(data, Mapping):
            raise InvalidOrder("must map a backend name to a mapping", field=f"{attribute.name}.{backend}")
        _check_json_value(data, f"{attribute.name}.{backend}")


@_fast("type(v) in SCALARS", SCALARS=_JSON_SCALARS)
def _json(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not _plain_json(value):
        _check_json_value(value, attribute.name)


def _check_json_value(value: Any, path: str) -> None:
    if value is None or isinstance(value, str | bool | int | Decimal):
        if isinstance(value, Decimal) and not value.is_finite():
            raise InvalidOrder(f"must be finite, got {value}", field=path)
        return
    if isinstance(value, float):
        raise InvalidOrder("must not be a float (use Decimal)", field=path)
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidOrder(f"keys must be strings, got {key!r}", field=path)
            _check_json_value(item, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_json_value(item, f"{path}[{i}]")
        return
    raise InvalidOrder(f"must be a JSON value, got {type(value).__name__}", field=path)


@_fast("type(v) is dict and not v")
def _custom_fields(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is dict and not value:
        return  # most orders have none
    if (
        type(value) is dict
        and _STR_ONLY.issuperset(map(type, value))
        and _DICT_ONLY.issuperset(map(type, value.values()))
        and _plain_groups(value)
    ):
        return
    if not isinstance(value, Mapping):
        raise _fail(attribute, "must be a mapping of group -> field -> value")
    for group, fields in value.items():
        if not isinstance(group, str) or not isinstance(fields, Mapping):
            raise InvalidOrder("must map a group name to a mapping of fields", field=f"custom_fields.{group}")
        for name, item in fields.items():
            path = f"custom_fields.{group}.{name}"
            if not isinstance(name, str):
                raise InvalidOrder("field names must be strings", field=path)
            if item is not None and not isinstance(item, str | bool | int | Decimal):
                raise InvalidOrder(
                    f"must be a string, boolean, integer, Decimal or null, got {type(item).__name__}",
                    field=path,
                )


def _plain_groups(groups: dict[Any, Any]) -> bool:
    # A loop, not all() over a generator: a generator costs more than a few groups.
    for fields in groups.values():
        if not (
            _STR_ONLY.issuperset(map(type, fields)) and _CUSTOM_SCALARS.issuperset(map(type, fields.values()))
        ):
            return False
    return True


def _exactly(kind: type, general: Any, *, optional: bool) -> Any:
    """``general`` (an attrs validator), with the common case settled first by an exact type test.

    attrs' validators are objects whose call goes through two levels of Python;
    a value of exactly ``kind`` (or None, when ``optional``) needs neither.
    """
    kinds = frozenset({kind, type(None)} if optional else {kind})

    @_fast("type(v) in KINDS", KINDS=kinds)
    def check(inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if type(value) not in kinds:
            general(inst, attribute, value)

    return check


def _opt(kind: type) -> Any:
    return _exactly(kind, attrs.validators.optional(attrs.validators.instance_of(kind)), optional=True)


def _req(kind: type) -> Any:
    return _exactly(kind, attrs.validators.instance_of(kind), optional=False)


# Text -> known member, looked up directly: calling the enum class costs several Python calls.
_KNOWN_MEMBERS: dict[type, dict[str, Any]] = {
    kind: {member.value: member for member in kind} for kind in (PaymentState, PaymentType, TaxTarget)
}


def _to_member(kind: type[OpenEnum], value: Any) -> Any:
    """An open-enum field's value: text becomes the member; anything else is left to the validator."""
    if type(value) is str:
        member = _KNOWN_MEMBERS[kind].get(value)
        return member if member is not None else kind(value)
    return kind(value) if isinstance(value, str) and not isinstance(value, kind) else value


def _payment_state(value: Any) -> Any:
    return _to_member(PaymentState, value)


def _payment_type(value: Any) -> Any:
    return _to_member(PaymentType, value)


def _tax_target(value: Any) -> Any:
    return _to_member(TaxTarget, value)


# The tuple fields' converters: typed for mypy (its attrs plugin takes __init__'s parameter
# types from them), the builtin ``tuple`` at run time (a C call, not a Python one).
if TYPE_CHECKING:

    def _strs(value: Iterable[str]) -> tuple[str, ...]: ...

    def _attribute_selections(value: Iterable[AttributeSelection]) -> tuple[AttributeSelection, ...]: ...

    def _status_changes(value: Iterable[StatusChange]) -> tuple[StatusChange, ...]: ...

    def _discounts(value: Iterable[Discount]) -> tuple[Discount, ...]: ...

    def _gift_vouchers(value: Iterable[GiftVoucher]) -> tuple[GiftVoucher, ...]: ...

    def _taxes(value: Iterable[TaxLine]) -> tuple[TaxLine, ...]: ...

    def _lines(value: Iterable[OrderLine]) -> tuple[OrderLine, ...]: ...

    def _payments(value: Iterable[Payment]) -> tuple[Payment, ...]: ...

    def _shipping_lines(value: Iterable[ShippingLine]) -> tuple[ShippingLine, ...]: ...

    def _fees(value: Iterable[Fee]) -> tuple[Fee, ...]: ...

    def _refund_lines(value: Iterable[RefundLine]) -> tuple[RefundLine, ...]: ...

    def _refunds(value: Iterable[Refund]) -> tuple[Refund, ...]: ...

else:
    _strs = tuple
    _attribute_selections = tuple
    _status_changes = tuple
    _discounts = tuple
    _gift_vouchers = tuple
    _taxes = tuple
    _lines = tuple
    _payments = tuple
    _shipping_lines = tuple
    _fees = tuple
    _refund_lines = tuple
    _refunds = tuple


def _meta_entries(value: Iterable[MetaEntry] | Mapping[str, Any]) -> tuple[MetaEntry, ...]:
    if type(value) is tuple:
        return value  # the common case, without the Mapping ABC's isinstance
    if isinstance(value, Mapping):  # a plain mapping, for convenience: its items in order
        return tuple(MetaEntry(key=key, value=item) for key, item in value.items())
    return tuple(value)


# ---------------------------------------------------------------- one check per class

# attrs calls each field's validator through its own line and call in the generated
# __init__: for ~150 fields per order that was a quarter of translating one. Instead each
# class gets one generated __attrs_post_init__ that tests every field's common case inline
# (the validator's ``fast`` condition) and calls the validator only when that fails. The
# declarations stay attrs' own (mypy's attrs plugin reads them; see the TYPE_CHECKING
# names below), so what each field accepts is still said once, at the field.

_CHECK: Final = "orderbridge.check"


def _field(*, validator: Any = None, metadata: Mapping[str, Any] | None = None, **options: Any) -> Any:
    """``attrs.field`` with ``validator`` kept for the class's one check instead of attrs' call."""
    if validator is not None:
        metadata = {**(metadata or {}), _CHECK: validator}
    return attrs.field(metadata=metadata, **options)


def _frozen(cls: type | None = None, /, **options: Any) -> Any:
    """``attrs.frozen``, plus the generated check of every field (and the class's own post-init)."""

    def build(cls: type) -> type:
        own = cls.__dict__.get("__attrs_post_init__")
        cls.__attrs_post_init__ = _no_check  # type: ignore[attr-defined]  # so attrs' __init__ calls it
        built = attrs.frozen(cls, **options)
        built.__attrs_post_init__ = _compile_checks(built, own)  # type: ignore[attr-defined]
        return built

    return build if cls is None else build(cls)


def _no_check(self: Any) -> None:
    """Replaced by the class's compiled check once attrs has built the class."""


def _compile_checks(cls: type, after: Any) -> Any:
    names: dict[str, Any] = {"after": after}
    body: list[str] = []
    for i, attribute in enumerate(attrs.fields(cls)):
        validator = attribute.metadata.get(_CHECK)
        if validator is None:
            continue
        names[f"validator{i}"], names[f"attribute{i}"] = validator, attribute
        call = f"validator{i}(self, attribute{i}, v)"
        body.append(f"    v = self.{attribute.name}")
        fast = getattr(validator, "fast", None)
        if fast is None:
            body.append(f"    {call}")
            continue
        condition, constants = fast
        for name, value in constants.items():
            # Each validator's constants under names of its own: two _tuple_of checks differ.
            names[f"{name}{i}"] = value
            condition = re.sub(rf"\b{name}\b", f"{name}{i}", condition)
        body.append(f"    if not ({condition}):\n        {call}")
    if after is not None:
        body.append("    after(self)")
    source = "def __attrs_post_init__(self):\n" + ("\n".join(body) or "    pass") + "\n"
    names.update(Decimal=Decimal, datetime=datetime)
    code = compile(source, f"<orderbridge checks of {cls.__qualname__}>", "exec")
    exec(code, names)  # noqa: S102 - source built above from field names and fixed conditions
    check = names["__attrs_post_init__"]
    check.__qualname__ = f"{cls.__qualname__}.__attrs_post_init__"
    check.__doc__ = f"Check every field of a new {cls.__name__} (generated from the field validators)."
    return check


if TYPE_CHECKING:
    from attrs import field, frozen
else:
    field, frozen = _field, _frozen


# ---------------------------------------------------------------- parts


@frozen
class SourceRef:
    """Where an order came from: the backend's name and the order's id there.

    ``site`` tells two sites of one platform apart (two shops on one
    backend have look-alike ids); it is named as :meth:`orderbridge.Backend.site`
    names it (a base URL, a file path), ``None`` when unknown. The built-in
    backends leave it ``None`` on read (the migration's stamp records the
    source site, and ids are judged by id space: see docs/model.md); a
    script or plugin that merges orders of two shops sets it.
    """

    backend: str = field(validator=_req(str))
    remote_id: str = field(validator=_req(str))
    site: str | None = field(default=None, kw_only=True, validator=_opt_str)
    """The source site, as :meth:`orderbridge.Backend.site` names it (``None``: unknown)."""


@frozen(kw_only=True)
class OrderStatus:
    """An order's current status: its name and the source system's status id."""

    name: str | None = field(default=None, validator=_opt_str)
    remote_id: str | None = field(default=None, validator=_opt_str)


@frozen(kw_only=True)
class StatusChange:
    """One entry of an order's status history (kept oldest first)."""

    status: str = field(validator=_req(str))
    at: datetime | None = field(default=None, validator=_aware)
    notes: str | None = field(default=None, validator=_opt_str)
    notify_customer: bool | None = field(default=None, validator=_opt_bool)
    remote_id: str | None = field(default=None, validator=_opt_str)


@frozen(kw_only=True)
class Customer:
    """The person or account that placed the order."""

    remote_id: str | None = field(default=None, validator=_opt_str)
    email: str | None = field(default=None, validator=_opt_str)
    first_name: str | None = field(default=None, validator=_opt_str)
    last_name: str | None = field(default=None, validator=_opt_str)
    phone: str | None = field(default=None, validator=_opt_str)
    is_guest: bool | None = field(default=None, validator=_opt_bool)


@frozen(kw_only=True)
class Address:
    """A postal address with the contact it belongs to (billing or shipping)."""

    first_name: str | None = field(default=None, validator=_opt_str)
    last_name: str | None = field(default=None, validator=_opt_str)
    company: str | None = field(default=None, validator=_opt_str)
    phone: str | None = field(default=None, validator=_opt_str)
    email: str | None = field(default=None, validator=_opt_str)
    line1: str | None = field(default=None, validator=_opt_str)
    line2: str | None = field(default=None, validator=_opt_str)
    city: str | None = field(default=None, validator=_opt_str)
    state: str | None = field(default=None, validator=_opt_str)
    postal_code: str | None = field(default=None, validator=_opt_str)
    country: str | None = field(default=None, validator=_opt_str)


@frozen(kw_only=True)
class ShippingOption:
    """The shipping option chosen and what it cost: the schema 1 view of shipping.

    Schema 2 holds shipping as :attr:`Order.shipping_lines`; :attr:`Order.shipping`
    gives them as one ``ShippingOption`` for targets that hold one.
    """

    name: str | None = field(default=None, validator=_opt_str)
    cost: Decimal | None = field(default=None, validator=_money)
    remote_id: str | None = field(default=None, validator=_opt_str)


@frozen(kw_only=True)
class ShippingLine:
    """One shipping charge of the order (an order may ship in several parts, or by several methods).

    ``cost`` is what the customer pays for it (before tax unless
    :attr:`Order.prices_include_tax`), ``tax_amount`` the tax charged on it.
    """

    name: str | None = field(default=None, validator=_opt_str)
    """The shipping option's name as the customer saw it (``"Flat rate"``)."""
    method: str | None = field(default=None, validator=_opt_str)
    """The platform's code of the shipping method or carrier service (``"flat_rate"``, ``"ups_ground"``)."""
    cost: Decimal | None = field(default=None, validator=_money)
    """What the shipping costs."""
    tax_amount: Decimal | None = field(default=None, validator=_money)
    """The tax charged on this shipping line."""
    remote_id: str | None = field(default=None, validator=_opt_str)
    """The shipping line's (or shipping option's) id in the source system."""
    extras: Extras = field(factory=dict, validator=_extras)
    """Per-backend leftovers of this shipping line."""


@frozen(kw_only=True)
class Fee:
    """A fee charged on the order (handling, gift wrap, payment surcharge), or a negative one (a credit).

    ``amount`` is signed: a negative fee takes money off the order.
    """

    name: str | None = field(default=None, validator=_opt_str)
    """What the fee is for, as the customer saw it."""
    amount: Decimal | None = field(default=None, validator=_money)
    """The fee, signed (negative: money taken off), before tax unless :attr:`Order.prices_include_tax`."""
    tax_amount: Decimal | None = field(default=None, validator=_money)
    """The tax charged on the fee (signed like ``amount``)."""
    tax_rate: Decimal | None = field(default=None, validator=_money)
    """The tax rate on the fee, in percent."""
    remote_id: str | None = field(default=None, validator=_opt_str)
    """The fee's id in the source system."""
    extras: Extras = field(factory=dict, validator=_extras)
    """Per-backend leftovers of this fee."""


@frozen(kw_only=True)
class Discount:
    """A discount applied to the order.

    ``kind`` says what it is: ``"code"`` (a promo/discount code), ``"rule"``
    (an automatic promotion) or ``"shipping"`` (a discount on shipping).
    ``amount`` is the money taken off, as a non-negative amount.
    """

    code: str | None = field(default=None, validator=_opt_str)
    amount: Decimal | None = field(default=None, validator=_money)
    kind: str = field(default="code", validator=_req(str))
    description: str | None = field(default=None, validator=_opt_str)
    remote_id: str | None = field(default=None, validator=_opt_str)


@frozen(kw_only=True)
class GiftVoucher:
    """A gift voucher or certificate applied to the order."""

    code: str | None = field(default=None, validator=_opt_str)
    amount: Decimal | None = field(default=None, validator=_money)
    is_credit_voucher: bool | None = field(default=None, validator=_opt_bool)
    description: str | None = field(default=None, validator=_opt_str)
    remote_id: str | None = field(default=None, validator=_opt_str)


@frozen(kw_only=True)
class TaxLine:
    """A tax charged on the order: its code or name, its rate (percent), its amount, what it is charged on.

    ``applies_to`` says on what: the order as a whole (the default, also
    for platforms that do not say), its lines, its shipping lines or its fees;
    ``applies_to_index`` picks one of those (a position in ``Order.lines``,
    ``Order.shipping_lines`` or ``Order.fees``), ``None`` meaning all of them.
    A platform that splits one tax rate into an items part and a shipping part
    gives two tax lines of the same code. (Schema 1 called this class ``Tax``;
    the name remains as an alias.)
    """

    code: str | None = field(default=None, validator=_opt_str)
    """The tax code or rate id the platform sets taxes by (``"GST"``, ``"US-CA-TAX-1"``)."""
    rate: Decimal | None = field(default=None, validator=_money)
    """The rate, in percent (``Decimal("10")`` is 10 %)."""
    amount: Decimal | None = field(default=None, validator=_money)
    """The tax charged."""
    remote_id: str | None = field(default=None, validator=_opt_str)
    """The tax line's (or tax rate's) id in the source system."""
    name: str | None = field(default=None, validator=_opt_str)
    """The tax's label as the customer saw it (``"VAT 20%"``)."""
    applies_to: TaxTarget = field(default=TaxTarget.ORDER, converter=_tax_target, validator=_req(TaxTarget))
    """What the tax is charged on: ``"order"``, ``"line"``, ``"shipping"`` or ``"fee"``."""
    applies_to_index: int | None = field(default=None, validator=_opt_index)
    """Which line, shipping line or fee (its position in the order's tuple); ``None``: all of them."""


Tax = TaxLine
"""Schema 1's name of :class:`TaxLine`, kept as an alias."""


@frozen(kw_only=True)
class AttributeSelection:
    """A product attribute chosen on a line, with the ids of the chosen options."""

    attribute_id: str = field(validator=_req(str))
    option_ids: tuple[str, ...] = field(default=(), converter=_strs, validator=_tuple_of(str))


@frozen(kw_only=True)
class MetaEntry:
    """One metadata entry: a key and any JSON value.

    Metadata is an ordered tuple of entries, not a mapping: platforms keep
    duplicate keys and their order (WooCommerce's ``meta_data``, Shopify's
    ``note_attributes``). Values are any JSON (:data:`JsonValue`): a
    ``Decimal`` stays a ``Decimal`` and an ``int`` an ``int`` through
    canonical JSON; arrays are lists, objects dicts.
    """

    key: str = field(validator=_req(str))
    """The entry's key (not unique)."""
    value: JsonValue = field(default=None, validator=_json)
    """The entry's value: any JSON, no float."""
    remote_id: str | None = field(default=None, validator=_opt_str)
    """The entry's id in the source system, when it has one."""


@frozen(kw_only=True)
class OrderLine:
    """One line of an order: a product, how many, at what price.

    ``quantity`` is a ``Decimal`` (platforms differ on fractional quantities);
    ``tax_rate`` is a percentage.
    """

    remote_id: str | None = field(default=None, validator=_opt_str)
    product_ref: str | None = field(default=None, validator=_opt_str)
    variant_ref: str | None = field(default=None, validator=_opt_str)
    """The id of the variant (variation) sold, in the source system; ``product_ref`` is its product."""
    product_name: str | None = field(default=None, validator=_opt_str)
    sku: str | None = field(default=None, validator=_opt_str)
    description: str | None = field(default=None, validator=_opt_str)
    quantity: Decimal = field(default=Decimal(1), validator=_non_negative_money)
    unit_price: Decimal | None = field(default=None, validator=_money)
    subtotal: Decimal | None = field(default=None, validator=_money)
    """The line's amount before its discounts (normally ``quantity`` x ``unit_price``)."""
    discount_amount: Decimal | None = field(default=None, validator=_non_negative_money)
    """The discount taken off this line (non-negative): ``subtotal - discount_amount = total_price``."""
    total_price: Decimal | None = field(default=None, validator=_money)
    tax_amount: Decimal | None = field(default=None, validator=_money)
    """The tax charged on this line (after its discounts)."""
    tax_rate: Decimal | None = field(default=None, validator=_money)
    attributes: tuple[AttributeSelection, ...] = field(
        default=(), converter=_attribute_selections, validator=_tuple_of(AttributeSelection)
    )
    is_download: bool | None = field(default=None, validator=_opt_bool)
    file_name: str | None = field(default=None, validator=_opt_str)
    is_fulfilled: bool | None = field(default=None, validator=_opt_bool)
    metadata: tuple[MetaEntry, ...] = field(
        default=(), converter=_meta_entries, validator=_tuple_of(MetaEntry)
    )
    """The line's metadata (a platform's ``meta_data``, ``properties``...), in order."""
    extras: Extras = field(factory=dict, validator=_extras)


@frozen(kw_only=True)
class RefundLine:
    """One order line (or part of it) that a refund gives money back for."""

    line_index: int = field(validator=_index)
    """The refunded line: its position in :attr:`Order.lines`."""
    quantity: Decimal | None = field(default=None, validator=_non_negative_money)
    """How many of the line's items are refunded (``None``: not said; ``0``: money only)."""
    amount: Decimal | None = field(default=None, validator=_non_negative_money)
    """The money refunded for the line (non-negative), tax excluded."""
    tax_amount: Decimal | None = field(default=None, validator=_non_negative_money)
    """The tax refunded for the line (non-negative)."""


@frozen(kw_only=True)
class Refund:
    """Money given back to the customer after the order was paid.

    Amounts are non-negative (the money given back); ``lines`` say which
    order lines and how many of their items it covers (empty: an amount
    only, e.g. a goodwill refund).
    """

    amount: Decimal | None = field(default=None, validator=_non_negative_money)
    """The money refunded in all (non-negative)."""
    reason: str | None = field(default=None, validator=_opt_str)
    """Why, as recorded."""
    lines: tuple[RefundLine, ...] = field(
        default=(), converter=_refund_lines, validator=_tuple_of(RefundLine)
    )
    """The refunded order lines, with quantities and amounts."""
    at: datetime | None = field(default=None, validator=_aware)
    """When the refund was made."""
    remote_id: str | None = field(default=None, validator=_opt_str)
    """The refund's id in the source system."""
    extras: Extras = field(factory=dict, validator=_extras)
    """Per-backend leftovers of this refund."""


@frozen(kw_only=True)
class Payment:
    """A payment (or attempt) recorded against the order.

    Only the last four digits of a card are ever held (``card_last4``).
    """

    remote_id: str | None = field(default=None, validator=_opt_str)
    amount: Decimal | None = field(default=None, validator=_money)
    amount_captured: Decimal | None = field(default=None, validator=_money)
    status: str | None = field(default=None, validator=_opt_str)
    payment_type: PaymentType | None = field(
        default=None, converter=_payment_type, validator=_opt(PaymentType)
    )
    gateway: str | None = field(default=None, validator=_opt_str)
    gateway_reason: str | None = field(default=None, validator=_opt_str)
    transaction_id: str | None = field(default=None, validator=_opt_str)
    notes: str | None = field(default=None, validator=_opt_str)
    created_at: datetime | None = field(default=None, validator=_aware)
    card_type: str | None = field(default=None, validator=_opt_str)
    card_last4: str | None = field(default=None, validator=_card_last4)
    check_number: str | None = field(default=None, validator=_opt_str)
    check_date: datetime | None = field(default=None, validator=_aware)
    extras: Extras = field(factory=dict, validator=_extras)


# ---------------------------------------------------------------- the order


@frozen(kw_only=True)
class Order:
    """A canonical order: the contract between every pair of backends.

    ``number`` is the human-facing order or invoice number; ``name`` the
    order's title. ``status_history`` is in time order, oldest first.
    ``custom_fields`` maps group -> field -> value. ``extras`` maps a backend
    name to what that backend's documents hold and the model does not.
    """

    source: SourceRef | None = field(default=None, validator=_opt(SourceRef))
    number: str | None = field(default=None, validator=_opt_str)
    name: str | None = field(default=None, validator=_opt_str)
    currency: str | None = field(default=None, validator=_currency)
    prices_include_tax: bool | None = field(default=None, validator=_opt_bool)
    """Whether the order's prices and amounts (lines, shipping, fees) include tax (``None``: not said)."""
    country: str | None = field(default=None, validator=_opt_str)
    status: OrderStatus | None = field(default=None, validator=_opt(OrderStatus))
    status_history: tuple[StatusChange, ...] = field(
        default=(), converter=_status_changes, validator=_tuple_of(StatusChange)
    )
    payment_state: PaymentState | None = field(
        default=None, converter=_payment_state, validator=_opt(PaymentState)
    )
    created_at: datetime | None = field(default=None, validator=_aware)
    invoiced_at: datetime | None = field(default=None, validator=_aware)
    modified_at: datetime | None = field(default=None, validator=_aware)
    total: Decimal | None = field(default=None, validator=_money)
    amount_paid: Decimal | None = field(default=None, validator=_money)
    amount_pending: Decimal | None = field(default=None, validator=_money)
    is_paid: bool | None = field(default=None, validator=_opt_bool)
    is_fulfilled: bool | None = field(default=None, validator=_opt_bool)
    is_recurring: bool | None = field(default=None, validator=_opt_bool)
    is_deleted: bool | None = field(default=None, validator=_opt_bool)
    has_subscriptions: bool | None = field(default=None, validator=_opt_bool)
    has_paid_subscription: bool | None = field(default=None, validator=_opt_bool)
    tracking_number: str | None = field(default=None, validator=_opt_str)
    tracking_url: str | None = field(default=None, validator=_opt_str)
    transaction_id: str | None = field(default=None, validator=_opt_str)
    parent_order_ref: str | None = field(default=None, validator=_opt_str)
    customer: Customer | None = field(default=None, validator=_opt(Customer))
    billing_address: Address | None = field(default=None, validator=_opt(Address))
    shipping_address: Address | None = field(default=None, validator=_opt(Address))
    shipping_lines: tuple[ShippingLine, ...] = field(
        default=(), converter=_shipping_lines, validator=_tuple_of(ShippingLine)
    )
    """The order's shipping charges, one per shipping line (schema 1: one ``shipping`` option)."""
    fees: tuple[Fee, ...] = field(default=(), converter=_fees, validator=_tuple_of(Fee))
    """Fees charged on the order (negative ones too)."""
    discounts: tuple[Discount, ...] = field(default=(), converter=_discounts, validator=_tuple_of(Discount))
    gift_vouchers: tuple[GiftVoucher, ...] = field(
        default=(), converter=_gift_vouchers, validator=_tuple_of(GiftVoucher)
    )
    taxes: tuple[TaxLine, ...] = field(default=(), converter=_taxes, validator=_tuple_of(TaxLine))
    lines: tuple[OrderLine, ...] = field(default=(), converter=_lines, validator=_tuple_of(OrderLine))
    payments: tuple[Payment, ...] = field(default=(), converter=_payments, validator=_tuple_of(Payment))
    refunds: tuple[Refund, ...] = field(default=(), converter=_refunds, validator=_tuple_of(Refund))
    """Refunds made on the order, oldest first."""
    notes: str | None = field(default=None, validator=_opt_str)
    customer_note: str | None = field(default=None, validator=_opt_str)
    metadata: tuple[MetaEntry, ...] = field(
        default=(), converter=_meta_entries, validator=_tuple_of(MetaEntry)
    )
    """The order's metadata: ordered key/value entries, any JSON values, duplicate keys allowed."""
    custom_fields: dict[str, dict[str, CustomValue]] = field(factory=dict, validator=_custom_fields)
    extras: Extras = field(factory=dict, validator=_extras)

    def __attrs_post_init__(self) -> None:
        if self.refunds or self.taxes:
            _check_references(self)
        if len(self.status_history) < 2:
            return  # nothing to order (most orders)
        times = [c.at for c in self.status_history if c.at is not None]
        if any(later < earlier for earlier, later in itertools.pairwise(times)):
            raise InvalidOrder(
                "must be in time order, oldest first", field="status_history", order=self.label
            )

    @property
    def shipping(self) -> ShippingOption | None:
        """The shipping lines as one option (read-only; schema 1's ``shipping`` field).

        ``None`` without shipping lines; the line itself with one; with
        several, their names joined by ``" + "`` and the sum of their costs (a
        target that holds one shipping option then still charges all of it).
        """
        lines = self.shipping_lines
        if not lines:
            return None
        if len(lines) == 1:
            only = lines[0]
            return ShippingOption(name=only.name, cost=only.cost, remote_id=only.remote_id)
        names = [line.name for line in lines if line.name is not None]
        costs = [line.cost for line in lines if line.cost is not None]
        return ShippingOption(
            name=" + ".join(names) if names else None, cost=sum(costs, Decimal(0)) if costs else None
        )

    @property
    def label(self) -> str:
        """A short name for messages: the source id, else the number, else ``"?"``."""
        if self.source is not None:
            return f"{self.source.backend}:{self.source.remote_id}"
        return self.number or "?"

    def extras_for(self, backend: str) -> dict[str, Any]:
        """The extras kept for ``backend`` (an empty dict when there are none)."""
        return self.extras.get(backend, {})

    def evolve(self, **changes: Any) -> Order:
        """A copy with ``changes`` applied (validated like a new order)."""
        return attrs.evolve(self, **changes)


_TARGETS: Final = {TaxTarget.LINE: "lines", TaxTarget.SHIPPING: "shipping_lines", TaxTarget.FEE: "fees"}


def _check_references(order: Order) -> None:
    """Indexes into the order's lines, shipping lines and fees point at one that exists."""
    for i, tax in enumerate(order.taxes):
        index = tax.applies_to_index
        if index is None:
            continue
        name = _TARGETS.get(tax.applies_to)
        path = f"taxes[{i}].applies_to_index"
        if name is None:
            raise InvalidOrder(
                f"must be null for a tax that applies to {tax.applies_to.value!r}",
                field=path,
                order=order.label,
            )
        count = len(getattr(order, name))
        if index >= count:
            raise InvalidOrder(f"is {index}, but the order has {count} {name}", field=path, order=order.label)
    count = len(order.lines)
    for i, refund in enumerate(order.refunds):
        for j, line in enumerate(refund.lines):
            if line.line_index >= count:
                raise InvalidOrder(
                    f"is {line.line_index}, but the order has {count} lines",
                    field=f"refunds[{i}].lines[{j}].line_index",
                    order=order.label,
                )
