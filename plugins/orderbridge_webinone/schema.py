"""The shapes of WebinOne order documents, as msgspec structs: types are checked in C.

:func:`decode` converts a parsed order document (a dict) into a
:class:`V1Document` or :class:`V2Document` in one call, checking the type of
every key the pages name: text is ``str``, flags ``bool``, ids an integer or
text, parts objects, lists lists. A value of the wrong type raises
:class:`~orderbridge.InvalidOrder` naming the wire path (``OrderLines[1].ProductName``).
Keys that are not on the pages are ignored here (the translation keeps them
from the dict); absent keys are ``None``, as ``null``.

Amounts are left untyped (:data:`Amount`): msgspec's ``Decimal`` would accept
text and floats, which an exact amount must refuse; the translation checks
them. Timestamps stay text (their spelling is remembered). Custom CRM groups
are checked by the translation too, so their errors name group and field.

:func:`decode_strict` reads the JSON bytes of an order straight into the
strict twins of these structs (``Strict*``: the same keys, and a key that is
not on the page is an error), skipping the dict: the fast path of a document
without unknown keys. It answers ``None`` whenever it cannot be sure to agree
with the dict path (any error, an unknown key, an absent ``OrderLines``...),
and the caller then reads the document the usual way, whose errors and extras
are the reference.

The structs are not tracked by the garbage collector (``gc=False``): they hold
only parsed JSON and each other, which cannot form a cycle, and live for one
translation.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, TypeAlias

import msgspec

from orderbridge import InvalidOrder

__all__ = [
    "Amount",
    "AttributePart",
    "DiscountPart",
    "Flag",
    "Ident",
    "LinePart",
    "MemberPart",
    "PaymentPart",
    "ShippingPart",
    "StatusPart",
    "TaxPart",
    "Text",
    "V1Document",
    "V2Document",
    "VoucherPart",
    "decode",
    "decode_strict",
]

Ident: TypeAlias = int | str | None
"""An id: a JSON integer or text (``bool`` is refused)."""
Text: TypeAlias = str | None
Flag: TypeAlias = bool | None
Amount: TypeAlias = Any
"""An amount or quantity: checked by the translation (``int`` or finite ``Decimal`` only)."""


class StatusPart(msgspec.Struct, gc=False):
    """``StatusShort`` (v2) / ``Status`` (v1)."""

    Id: Ident = None
    Name: Text = None


class MemberPart(msgspec.Struct, gc=False):
    """``Member``."""

    Id: Ident = None
    Email: Text = None
    FirstName: Text = None
    LastName: Text = None


class DiscountPart(msgspec.Struct, gc=False):
    """``Discount``."""

    Code: Text = None
    Cost: Amount = None


class VoucherPart(msgspec.Struct, gc=False):
    """``GiftVoucher``."""

    Name: Text = None
    Cost: Amount = None


class TaxPart(msgspec.Struct, gc=False):
    """``Tax``."""

    Code: Text = None
    Rate: Amount = None


class ShippingPart(msgspec.Struct, gc=False):
    """``ShippingInfo``: the shipping option and the shipping address."""

    Name: Text = None
    Cost: Amount = None
    Address: Text = None
    City: Text = None
    State: Text = None
    Zipcode: Text = None
    Country: Text = None


class AttributePart(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, gc=False):
    """One of a line's ``Attributes``: nothing but ids, so a key not on the page is an error."""

    AttributeId: Ident = None
    OptionsIds: list[int | str]


class LinePart(msgspec.Struct, gc=False):
    """One of ``OrderLines``."""

    Id: Ident = None
    EntityType: Text = None
    ProductId: Ident = None
    ModuleId: Ident = None
    ProductName: Text = None
    Quantity: Amount = None
    TaxRate: Amount = None
    UnitPrice: Amount = None
    TotalPrice: Amount = None
    FileName: Text = None
    IsDownload: Flag = None
    Attributes: list[AttributePart] | None = None


class PaymentPart(msgspec.Struct, gc=False):
    """One of ``Payments`` (``PaymentGatewayType``: a name in v2, a number in v1)."""

    Id: Ident = None
    Amount: Amount = None
    AmountCaptured: Amount = None
    GatewayReason: Text = None
    TransactionId: Text = None
    Status: Text = None
    PaymentType: Text = None
    PaymentGatewayType: int | str | None = None
    Notes: Text = None
    CreatedDateTime: Text = None


class _Document(msgspec.Struct, gc=False):
    """The keys both API versions share."""

    Id: Ident = None
    AWBNumber: Text = None
    CurrencyCountry: Text = None
    Currency: Text = None
    Country: Text = None
    InvoiceDate: Text = None
    InvoiceNumber: Ident = None
    IsRecurring: Flag = None
    MainOrderId: Ident = None
    MemberId: Ident = None
    OrderName: Text = None
    PaymentState: Text = None
    StatusId: Ident = None
    TotalCost: Amount = None
    CreatedDateTime: Text = None
    HasSubscriptions: Flag = None
    HasPaidSubscription: Flag = None
    TransactionId: Text = None
    AmountPaid: Amount = None
    AmountPending: Amount = None
    OrderCaseType: Text = None
    Discount: DiscountPart | None = None
    GiftVoucher: VoucherPart | None = None
    Tax: TaxPart | None = None
    ShippingInfo: ShippingPart | None = None
    Member: MemberPart | None = None
    OrderLines: list[LinePart] | None = None
    Payments: list[PaymentPart] | None = None
    CustomCrmGroups: Any = None


class V2Document(_Document, gc=False):
    """A v2 (admin API) order document."""

    IsDeleted: Flag = None
    TrackingURL: Text = None
    StatusShort: StatusPart | None = None


class V1Document(_Document, gc=False):
    """A v1 (legacy API) order document."""

    TrackingUrl: Text = None
    Status: StatusPart | None = None


# ------------------------------------------------------------------ the strict twins
# Subclasses (so the translation's isinstance checks hold) that refuse unknown keys and
# name the strict twin of each nested part.


class StrictStatusPart(StatusPart, forbid_unknown_fields=True, gc=False):
    """:class:`StatusPart` without unknown keys."""


class StrictMemberPart(MemberPart, forbid_unknown_fields=True, gc=False):
    """:class:`MemberPart` without unknown keys."""


class StrictDiscountPart(DiscountPart, forbid_unknown_fields=True, gc=False):
    """:class:`DiscountPart` without unknown keys."""


class StrictVoucherPart(VoucherPart, forbid_unknown_fields=True, gc=False):
    """:class:`VoucherPart` without unknown keys."""


class StrictTaxPart(TaxPart, forbid_unknown_fields=True, gc=False):
    """:class:`TaxPart` without unknown keys."""


class StrictShippingPart(ShippingPart, forbid_unknown_fields=True, gc=False):
    """:class:`ShippingPart` without unknown keys."""


class StrictLinePart(LinePart, forbid_unknown_fields=True, gc=False):
    """:class:`LinePart` without unknown keys."""


class StrictPaymentPart(PaymentPart, forbid_unknown_fields=True, gc=False):
    """:class:`PaymentPart` without unknown keys."""


class _StrictDocument(_Document, forbid_unknown_fields=True, gc=False):
    """The shared keys with strict parts; an absent ``OrderLines`` is ``UNSET`` (not ``None``)."""

    Discount: StrictDiscountPart | None = None
    GiftVoucher: StrictVoucherPart | None = None
    Tax: StrictTaxPart | None = None
    ShippingInfo: StrictShippingPart | None = None
    Member: StrictMemberPart | None = None
    OrderLines: list[StrictLinePart] | msgspec.UnsetType | None = msgspec.UNSET  # type: ignore[assignment]
    Payments: list[StrictPaymentPart] | None = None  # type: ignore[assignment]


class StrictV2Document(_StrictDocument, V2Document, forbid_unknown_fields=True, gc=False):
    """:class:`V2Document` without unknown keys."""

    StatusShort: StrictStatusPart | None = None


class StrictV1Document(_StrictDocument, V1Document, forbid_unknown_fields=True, gc=False):
    """:class:`V1Document` without unknown keys."""

    Status: StrictStatusPart | None = None


_STRICT = {
    V2Document: msgspec.json.Decoder(StrictV2Document, float_hook=Decimal).decode,
    V1Document: msgspec.json.Decoder(StrictV1Document, float_hook=Decimal).decode,
}

MAX_STRICT_BYTES = 100_000
"""Documents up to this size may take the fast path: fewer bytes than
:data:`orderbridge.jsonutil.MAX_NODES` cannot hold too many values."""


def decode_strict(data: bytes, kind: type[V1Document] | type[V2Document]) -> Any:
    """The JSON bytes of one order document as the strict twin of ``kind``, or ``None``.

    ``None`` when the dict path must decide: the bytes are not one JSON object
    of the page's keys and types (an unknown key, a wrong type, NaN, bytes that
    are not UTF-8...), ``OrderLines`` is absent, ``CustomCrmGroups`` holds more
    than groups of plain values (only there can a document nest deeper than
    :data:`orderbridge.jsonutil.MAX_DEPTH`), or the document is larger than
    :data:`MAX_STRICT_BYTES`. Numbers with a fraction are exact ``Decimal``,
    as :func:`orderbridge.jsonutil.loads` reads them.
    """
    if len(data) > MAX_STRICT_BYTES:
        return None
    try:
        s = _STRICT[kind](data)
    except (msgspec.DecodeError, RecursionError, InvalidOperation, ValueError):
        return None
    if s.OrderLines is msgspec.UNSET or not _plain_groups(s.CustomCrmGroups):
        return None
    return s


_SCALARS = (str, int, bool, Decimal, type(None))


def _plain_groups(groups: Any) -> bool:
    """Whether ``CustomCrmGroups`` is ``null`` or groups of scalar fields (``{}`` is the rule)."""
    if groups is None or groups == {}:
        return True
    if type(groups) is not dict:
        return False
    for fields in groups.values():
        if type(fields) is not dict:
            return False
        for value in fields.values():
            if type(value) not in _SCALARS:
                return False
    return True


def decode(doc: Any, kind: type[V1Document] | type[V2Document]) -> Any:
    """``doc`` (a parsed order document) as ``kind``; a value of the wrong type is an InvalidOrder."""
    try:
        return msgspec.convert(doc, kind)
    except msgspec.ValidationError as exc:
        raise invalid(str(exc)) from None


_AT = re.compile(r"(?P<message>.*?)(?: - at `(?:key` in `)?\$(?P<path>[^`]*)`)?\Z", re.DOTALL)
_EXPECTED = re.compile(r"Expected `([^`]*)`, got `([^`]*)`\Z")
_MISSING = re.compile(r"Object missing required field `([^`]*)`\Z")
_UNKNOWN = re.compile(r"Object contains unknown field `([^`]*)`\Z")


def invalid(message: str) -> InvalidOrder:
    """msgspec's ``ValidationError`` text as an :class:`~orderbridge.InvalidOrder` on the wire path.

    ``Expected `str | null`, got `int` - at `$.OrderLines[0].ProductName``` becomes
    "must be str | null, got int" on ``OrderLines[0].ProductName``.
    """
    found = _AT.match(message)
    text, path = (found["message"], found["path"] or "") if found else (message, "")
    path = path.removeprefix(".")
    if "` - at `key` in `" in message:
        text = "has a key that is not text"
    elif (expected := _EXPECTED.match(text)) is not None:
        text = f"must be {expected[1]}, got {expected[2]}"
    elif (missing := _MISSING.match(text)) is not None:
        path, text = f"{path}.{missing[1]}" if path else missing[1], "is required"
    elif (unknown := _UNKNOWN.match(text)) is not None:
        text = f"has keys that are not on the page: {unknown[1]}"
    return InvalidOrder(text, field=path or None)
