"""Pure translation between WebinOne order documents (v1 and v2) and the canonical order.

No I/O here. One reader and one writer serve both API versions; they differ in
key names and order (``StatusShort``/``Status``, ``TrackingURL``/``TrackingUrl``,
``IsDeleted`` only in v2), in timestamps (v2: UTC with ``Z``; v1: naive local
time of the site's zone) and in ``PaymentGatewayType`` (v2: a name; v1: a number).

Normal form (what :func:`from_canonical` writes, and therefore what
``from_canonical(to_canonical(doc))`` gives back for any valid ``doc``):

- every key of the page, in the page's order, nested parts included; a key
  absent from the input is written as ``null`` (absent nested parts too);
- numbers are compared as ``Decimal`` (``0`` equals ``0.00``); amounts are
  written as ``Decimal``, ids as JSON integers unless the input sent that id as
  text (remembered), text ids that are not integers stay text;
- timestamps are written as the page writes them (v2 ``...T18:47:05.068Z``,
  v1 ``2022-01-14T09:47:37``); a timestamp sent in another spelling of the same
  instant is written back verbatim (remembered);
- an "empty" asset (``{"Code": null, "Cost": 0}``) means "none" and is written
  the same way; a ``null`` asset is remembered and written as ``null``;
- keys that are not on the page are kept and written back after the known ones.

What the canonical model has no field for (``CurrencyCountry`` when it is not
simply ``Currency/Country``, ``OrderCaseType``, a line's ``EntityType`` and
``ModuleId``, the remembered spellings above) is kept in
``order.extras["webinone-v2"|"webinone-v1"]`` and in the lines' and payments'
extras under the same key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from typing import Any, Final

import attrs

from orderbridge import (
    Address,
    AttributeSelection,
    Customer,
    Discount,
    GiftVoucher,
    InvalidOrder,
    Loss,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    ShippingLine,
    SourceRef,
    Tax,
    TaxTarget,
    foreign_id_losses,
    shares_ids,
)

from . import schema, wire
from .schema import (
    AttributePart,
    DiscountPart,
    LinePart,
    PaymentPart,
    ShippingPart,
    TaxPart,
    V1Document,
    V2Document,
    VoucherPart,
)

__all__ = [
    "ID_SPACE",
    "V1",
    "V2",
    "from_canonical",
    "losses_v1",
    "losses_v2",
    "read_strict",
    "reference_needs",
    "to_canonical",
    "to_canonical_strict",
    "without_foreign_ids",
]

V2: Final = "webinone-v2"
"""Backend name (and extras key) of the v2 admin API."""
V1: Final = "webinone-v1"
"""Backend name (and extras key) of the v1 legacy API."""
ID_SPACE: Final = "webinone"
"""The id space of both APIs: a v1 site and its v2 successor keep their ids."""

_ZERO: Final = Decimal("0.00")
_EMPTY: Final[Mapping[str, Any]] = {}
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")
_CURRENCY = re.compile(r"[A-Z]{3}\Z")

V2_KEYS: Final = (
    "Id", "AWBNumber", "CurrencyCountry", "Currency", "Country", "InvoiceDate", "InvoiceNumber",
    "IsDeleted", "IsRecurring", "MainOrderId", "MemberId", "OrderName", "PaymentState", "StatusId",
    "TotalCost", "CreatedDateTime", "HasSubscriptions", "HasPaidSubscription", "TrackingURL",
    "TransactionId", "AmountPaid", "AmountPending", "OrderCaseType", "StatusShort", "Discount",
    "GiftVoucher", "Tax", "ShippingInfo", "Member", "OrderLines", "Payments", "CustomCrmGroups",
)  # fmt: skip
"""Top-level keys of a v2 order document, in the page's order."""

V1_KEYS: Final = (
    "Id", "AWBNumber", "AmountPaid", "AmountPending", "CreatedDateTime", "CurrencyCountry", "Currency",
    "Country", "HasPaidSubscription", "HasSubscriptions", "InvoiceDate", "InvoiceNumber", "IsRecurring",
    "MainOrderId", "MemberId", "OrderCaseType", "OrderName", "PaymentState", "StatusId", "TotalCost",
    "TrackingUrl", "TransactionId", "Status", "Member", "Discount", "GiftVoucher", "Tax",
    "ShippingInfo", "OrderLines", "Payments", "CustomCrmGroups",
)  # fmt: skip
"""Top-level keys of a v1 order document, in the page's order."""

LINE_KEYS: Final = (
    "Id", "EntityType", "ProductId", "ModuleId", "ProductName", "Quantity", "TaxRate", "UnitPrice",
    "TotalPrice", "FileName", "IsDownload", "Attributes",
)  # fmt: skip
V2_PAYMENT_KEYS: Final = (
    "Id", "Amount", "AmountCaptured", "GatewayReason", "TransactionId", "Status", "PaymentType",
    "PaymentGatewayType", "Notes", "CreatedDateTime",
)  # fmt: skip
V1_PAYMENT_KEYS: Final = (
    "Id", "CreatedDateTime", "Amount", "AmountCaptured", "GatewayReason", "TransactionId", "Status",
    "PaymentType", "PaymentGatewayType", "Notes",
)  # fmt: skip

_KNOWN = {V2: frozenset(V2_KEYS), V1: frozenset(V1_KEYS)}
_PAYMENT_KNOWN = frozenset(V2_PAYMENT_KEYS)
_LINE_KNOWN = frozenset(LINE_KEYS)
_PART_KNOWN: Final = {
    "StatusShort": frozenset({"Id", "Name"}),
    "Status": frozenset({"Id", "Name"}),
    "Member": frozenset({"Id", "Email", "FirstName", "LastName"}),
    "Discount": frozenset({"Code", "Cost"}),
    "GiftVoucher": frozenset({"Name", "Cost"}),
    "Tax": frozenset({"Code", "Rate"}),
    "ShippingInfo": frozenset({"Name", "Cost", "Address", "City", "State", "Zipcode", "Country"}),
}
_MEMBER_KNOWN = _PART_KNOWN["Member"]
_SHIPPING_KNOWN = _PART_KNOWN["ShippingInfo"]

# Canonical field -> wire key, to name the wire field when the model refuses a value.
_ORDER_FIELD_TO_WIRE: Final = {
    "total": "TotalCost",
    "amount_paid": "AmountPaid",
    "amount_pending": "AmountPending",
    "currency": "Currency",
    "country": "Country",
    "custom_fields": "CustomCrmGroups",
}
_LINE_FIELD_TO_WIRE: Final = {
    "quantity": "Quantity",
    "attributes": "Attributes",
    "unit_price": "UnitPrice",
    "total_price": "TotalPrice",
    "tax_rate": "TaxRate",
}
_PAYMENT_FIELD_TO_WIRE: Final = {
    "payment_type": "PaymentType",
    "amount": "Amount",
    "amount_captured": "AmountCaptured",
}


# ------------------------------------------------------------------ small readers


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _bad(where: str, key: str, expected: str, value: Any) -> InvalidOrder:
    return InvalidOrder(f"must be {expected}, got {_kind(value)}", field=_at(where, key))


def _dec(value: Any, where: str, key: str) -> Decimal | None:
    """An amount of the document: an integer or a finite ``Decimal`` (never text or a float)."""
    kind = type(value)
    if kind is Decimal:
        if value.is_finite():
            return value  # type: ignore[no-any-return]
    elif kind is int:
        return Decimal(value)
    elif value is None:
        return None
    if kind is float:
        raise InvalidOrder(
            "must be an exact number, got a float (parse JSON with parse_float=Decimal)",
            field=_at(where, key),
        )
    raise _bad(where, key, "a number or null", value)


def _obj(value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise InvalidOrder(f"must be an object or null, got {_kind(value)}", field=where)


def _id_out(value: str | None, quoted: frozenset[str], where: str, key: str) -> int | str | None:
    """An id as the wire writes it: an integer, unless it is not one or was sent as text.

    The path (``where`` and ``key``, spelt as the reader remembered them) is built only
    when the document remembered ids sent as text.
    """
    if value is None:
        return None
    if quoted and _at(where, key) in quoted:
        return value
    return int(value) if _INT.match(value) else value


def _parse_time(text: str, version: str, zone: tzinfo) -> datetime:
    result = datetime.fromisoformat(text)
    if result.tzinfo is None:
        if version == V2:
            raise ValueError("has no offset (v2 timestamps are UTC with Z)")
        # combine() takes the zone positionally: replace(tzinfo=...) parses keywords, slowly.
        result = datetime.combine(result, result.time(), zone)
    return result


class _Reader:
    """State of one document's translation: the spellings it must remember."""

    __slots__ = ("ex", "nulls", "quoted", "raw", "times", "version", "zone")

    def __init__(self, version: str, zone: tzinfo) -> None:
        self.version = version
        self.zone = zone
        self.ex: dict[str, Any] = {}
        self.quoted: list[str] = []
        self.nulls: list[str] = []
        self.raw: dict[str, Any] = {}
        self.times: dict[str, str] = {}

    def id(self, value: int | str | None, where: str, key: str) -> str | None:
        """An id (typed by the schema) as text; an integer sent as text is remembered."""
        if type(value) is int:
            return str(value)
        if value is None:
            return None
        if type(value) is not str:  # an int or str subclass the schema let through
            raise _bad(where, key, "an id (integer or text) or null", value)
        if _INT.match(value):
            self.quoted.append(_at(where, key))
        return value

    def time(self, value: str | None, where: str, key: str) -> datetime | None:
        """A timestamp (text, by the schema); a spelling other than the page's is remembered."""
        if value is None:
            return None
        try:
            result = datetime.fromisoformat(value)  # _parse_time, inlined (a call per timestamp saved)
            if result.tzinfo is None:
                if self.version == V2:
                    raise ValueError("has no offset (v2 timestamps are UTC with Z)")
                result = datetime.combine(result, result.time(), self.zone)
        except ValueError as exc:
            raise InvalidOrder(f"not a timestamp: {value!r} ({exc})", field=_at(where, key)) from None
        if not (wire.is_normal_v2_time(value) if self.version == V2 else wire.is_normal_v1_time(value)):
            self.times[_at(where, key)] = value
        return result

    def unknown(self, obj: Mapping[str, Any], known: frozenset[str], part: str, into: dict[str, Any]) -> None:
        """Keep the keys of ``obj`` (a part of the parsed document) that are not on the page.

        Callers test ``obj.keys() <= known`` first (no call in the common case).
        """
        extra = {k: v for k, v in obj.items() if k not in known}
        into.setdefault("unknown", {})[part] = extra


# ------------------------------------------------------------------ document -> canonical


def to_canonical(doc: Mapping[str, Any], version: str, zone: tzinfo = UTC) -> Order:
    """Translate a v1 or v2 order document (``version`` is ``V1`` or ``V2``) to a canonical order.

    ``zone`` is the site's time zone, applied to v1's naive timestamps. Raises
    :class:`~orderbridge.InvalidOrder` naming the order (its ``Id``, or ``"?"``)
    and the wire field path.
    """
    if type(doc) is not dict:
        if not isinstance(doc, Mapping):
            raise InvalidOrder(f"expected an order object, got {_kind(doc)}", order="?")
        doc = dict(doc)
    raw_id = doc.get("Id")
    label = str(raw_id) if type(raw_id) in (int, str) else "?"
    try:
        return _read(doc, version, zone)
    except InvalidOrder as exc:
        raise exc.within(order=label) from None


def to_canonical_strict(data: bytes, version: str, zone: tzinfo = UTC) -> Order | None:
    """The JSON bytes of a v1 or v2 order document straight to a canonical order, or ``None``.

    The fast path of :func:`to_canonical`: the bytes are decoded into the
    strict twins of the schema (:func:`schema.decode_strict`), with no dict in
    between. ``None`` means "read it the usual way" (``to_canonical`` of the
    parsed dict): the document has a key that is not on the page, is not what
    the schema says, or cannot be translated; only that path reports errors
    and keeps unknown keys, so both paths agree on every document. Never raises.
    """
    s = schema.decode_strict(data, V2Document if version == V2 else V1Document)
    return None if s is None else read_strict(s, version, zone)


def read_strict(s: V1Document | V2Document, version: str, zone: tzinfo = UTC) -> Order | None:
    """The canonical order of ``s``, a strict twin from :func:`schema.decode_strict`, or ``None``
    when it cannot be translated (the usual path then words the error). Never raises."""
    try:
        return _read_struct(s, None, version, zone)
    except Exception:  # any failure is reported by the usual path, worded as it words it
        return None


def _read_asset(
    doc: dict[str, Any] | None, key: str, part: DiscountPart | VoucherPart | TaxPart | None, r: _Reader
) -> tuple[str | None, Decimal | None] | None:
    """An asset part (``Discount``, ``GiftVoucher``, ``Tax``) as (code, amount), or ``None`` for none.

    ``null`` is remembered so that it is written back as ``null``; ``{"Code": null, "Cost": 0}``
    is the site's way of saying "no asset".
    """
    if part is None:
        r.nulls.append(key)
        return None
    if isinstance(part, TaxPart):
        code, amount = part.Code, _dec(part.Rate, key, "Rate")
    elif isinstance(part, VoucherPart):
        code, amount = part.Name, _dec(part.Cost, key, "Cost")
    else:
        code, amount = part.Code, _dec(part.Cost, key, "Cost")
    if doc is not None and not doc[key].keys() <= _PART_KNOWN[key]:
        r.unknown(doc[key], _PART_KNOWN[key], key, r.ex)
    if code is None and amount is not None and amount == 0:
        return None
    return code, amount


def _read_currency(s: V1Document | V2Document, r: _Reader) -> tuple[str | None, str | None]:
    """``Currency`` and ``Country``; a ``CurrencyCountry`` that is not simply both is kept."""
    currency, country = s.Currency, s.Country
    derived = f"{currency}/{country}" if currency is not None and country is not None else None
    if s.CurrencyCountry != derived:
        r.ex["CurrencyCountry"] = s.CurrencyCountry
    if currency is not None and not _CURRENCY.match(currency):
        r.raw["Currency"] = currency  # a placeholder or non-ISO code: kept verbatim
        currency = None
    if s.OrderCaseType is not None:
        r.ex["OrderCaseType"] = s.OrderCaseType
    return currency, country


def _read_status(doc: dict[str, Any] | None, s: V1Document | V2Document, r: _Reader) -> OrderStatus | None:
    """The status: the nested object wins; ``StatusId`` duplicates it."""
    if isinstance(s, V2Document):
        key, part = "StatusShort", s.StatusShort
    else:
        key, part = "Status", s.Status
    status_id = r.id(s.StatusId, "", "StatusId")
    if part is None:
        if status_id is None:
            return None
        r.nulls.append(key)
        return OrderStatus(remote_id=status_id)
    nested_id = r.id(part.Id, key, "Id")
    if status_id != nested_id:
        r.raw["StatusId"] = s.StatusId  # as sent (the schema keeps the value itself)
    if doc is not None and not doc[key].keys() <= _PART_KNOWN[key]:
        r.unknown(doc[key], _PART_KNOWN[key], key, r.ex)
    return OrderStatus(name=part.Name, remote_id=nested_id)


def _read_member(doc: dict[str, Any] | None, s: V1Document | V2Document, r: _Reader) -> Customer | None:
    """The customer: the nested ``Member`` wins; ``MemberId`` duplicates its ``Id``."""
    member_id = r.id(s.MemberId, "", "MemberId")
    part = s.Member
    if part is None:
        if member_id is None:
            return None
        r.nulls.append("Member")
        return Customer(remote_id=member_id)
    nested_id = r.id(part.Id, "Member", "Id")
    if member_id != nested_id:
        r.raw["MemberId"] = s.MemberId
    if doc is not None and not doc["Member"].keys() <= _MEMBER_KNOWN:
        r.unknown(doc["Member"], _MEMBER_KNOWN, "Member", r.ex)
    return Customer(remote_id=nested_id, email=part.Email, first_name=part.FirstName, last_name=part.LastName)


def _read_shipping(
    doc: dict[str, Any] | None, part: ShippingPart | None, r: _Reader
) -> tuple[tuple[ShippingLine, ...], Address | None]:
    """``ShippingInfo``: the shipping line (unless "none") and the shipping address (unless empty)."""
    if part is None:
        r.nulls.append("ShippingInfo")
        return (), None
    name, cost = part.Name, _dec(part.Cost, "ShippingInfo", "Cost")
    shipping = (ShippingLine(name=name, cost=cost),) if name is not None or cost is None or cost != 0 else ()
    address = None
    if not (
        part.Address is None
        and part.City is None
        and part.State is None
        and part.Zipcode is None
        and part.Country is None
    ):
        address = Address(
            line1=part.Address,
            city=part.City,
            state=part.State,
            postal_code=part.Zipcode,
            country=part.Country,
        )
    if doc is not None and not doc["ShippingInfo"].keys() <= _SHIPPING_KNOWN:
        r.unknown(doc["ShippingInfo"], _SHIPPING_KNOWN, "ShippingInfo", r.ex)
    return shipping, address


def _read_custom(groups: Any, r: _Reader) -> dict[str, Any]:
    """``CustomCrmGroups``: group -> field -> value (the model checks the values)."""
    if groups is None:
        r.nulls.append("CustomCrmGroups")
        return {}
    return {
        group: dict(_obj(fields, f"CustomCrmGroups.{group}"))
        for group, fields in _obj(groups, "CustomCrmGroups").items()
    }


def _read(doc: dict[str, Any], version: str, zone: tzinfo) -> Order:
    return _read_struct(schema.decode(doc, V2Document if version == V2 else V1Document), doc, version, zone)


def _read_struct(s: V1Document | V2Document, doc: dict[str, Any] | None, version: str, zone: tzinfo) -> Order:
    """The canonical order of document ``s``; ``doc`` is its dict (for unknown keys), or ``None``
    when ``s`` is a strict twin, which has none."""
    r = _Reader(version, zone)
    order_id = r.id(s.Id, "", "Id")
    if order_id is None:
        raise InvalidOrder("is required", field="Id")
    currency, country = _read_currency(s, r)
    status = _read_status(doc, s, r)
    customer = _read_member(doc, s, r)
    discount = _read_asset(doc, "Discount", s.Discount, r)
    voucher = _read_asset(doc, "GiftVoucher", s.GiftVoucher, r)
    tax = _read_asset(doc, "Tax", s.Tax, r)
    shipping, shipping_address = _read_shipping(doc, s.ShippingInfo, r)
    lines: tuple[OrderLine, ...] = ()
    if s.OrderLines is None:
        r.nulls.append("OrderLines")
    elif s.OrderLines:
        items = doc["OrderLines"] if doc is not None else _NO_ITEMS
        lines = tuple([_read_line(r, line, items[i], i) for i, line in enumerate(s.OrderLines)])
    payments: tuple[Payment, ...] = ()
    if s.Payments is None:
        r.nulls.append("Payments")
    elif s.Payments:
        items = doc["Payments"] if doc is not None else _NO_ITEMS
        payments = tuple([_read_payment(r, pay, items[i], i) for i, pay in enumerate(s.Payments)])
    custom = _read_custom(s.CustomCrmGroups, r)
    values: dict[str, Any] = {
        "number": r.id(s.InvoiceNumber, "", "InvoiceNumber"),
        "parent_order_ref": r.id(s.MainOrderId, "", "MainOrderId"),
        "created_at": r.time(s.CreatedDateTime, "", "CreatedDateTime"),
        "invoiced_at": r.time(s.InvoiceDate, "", "InvoiceDate"),
        "total": _dec(s.TotalCost, "", "TotalCost"),
        "amount_paid": _dec(s.AmountPaid, "", "AmountPaid"),
        "amount_pending": _dec(s.AmountPending, "", "AmountPending"),
        "currency": currency,
        "country": country,
        "status": status,
        "customer": customer,
        "discounts": (Discount(code=discount[0], amount=discount[1]),) if discount else (),
        "gift_vouchers": (GiftVoucher(code=voucher[0], amount=voucher[1]),) if voucher else (),
        "taxes": (Tax(code=tax[0], rate=tax[1]),) if tax else (),
        "shipping_lines": shipping,
        "shipping_address": shipping_address,
        "lines": lines,
        "payments": payments,
        "custom_fields": custom,
    }
    if doc is not None and not doc.keys() <= _KNOWN[version]:
        r.unknown(doc, _KNOWN[version], "", r.ex)
    return _order(s, order_id, values, r)


class _NoItems:
    """The dicts of a strict document's lines and payments: none (a strict part has no unknown keys)."""

    def __getitem__(self, index: int) -> None:
        return None


_NO_ITEMS: Final = _NoItems()


def _order(s: V1Document | V2Document, order_id: str, values: dict[str, Any], r: _Reader) -> Order:
    """The canonical order of document ``s``, its parts already read (``values``)."""
    ex = r.ex
    if r.quoted:
        ex["quoted"] = r.quoted
    if r.nulls:
        ex["nulls"] = r.nulls
    if r.raw:
        ex["raw"] = r.raw
    if r.times:
        ex["times"] = r.times
    if isinstance(s, V2Document):
        is_deleted, tracking_url = s.IsDeleted, s.TrackingURL
    else:
        is_deleted, tracking_url = None, s.TrackingUrl
    try:
        return Order(
            source=SourceRef(r.version, order_id),
            name=s.OrderName,
            payment_state=s.PaymentState,  # the model's converter makes it a PaymentState
            is_recurring=s.IsRecurring,
            is_deleted=is_deleted,
            has_subscriptions=s.HasSubscriptions,
            has_paid_subscription=s.HasPaidSubscription,
            tracking_number=s.AWBNumber,
            tracking_url=tracking_url,
            transaction_id=s.TransactionId,
            extras={r.version: ex} if ex else {},
            **values,
        )
    except InvalidOrder as exc:
        raise _rename(exc, _ORDER_FIELD_TO_WIRE, "") from None


def _rename(exc: InvalidOrder, names: Mapping[str, str], where: str) -> InvalidOrder:
    """The model's error with the canonical field named as the wire names it."""
    field = exc.field or ""
    head, dot, tail = field.partition(".")
    wire_name = names.get(head, head) + dot + tail
    return InvalidOrder(exc.message, field=_at(where, wire_name) if wire_name else where or None)


def _read_line(r: _Reader, line: LinePart, item: dict[str, Any] | None, index: int) -> OrderLine:
    where = f"OrderLines[{index}]"
    lx: dict[str, Any] = {}
    if line.EntityType is not None:
        lx["EntityType"] = line.EntityType
    if line.ModuleId is not None:
        lx["ModuleId"] = line.ModuleId
    # A Decimal amount needs no call: the model refuses one that is not finite, naming the field.
    quantity, unit_price, total_price, tax_rate = line.Quantity, line.UnitPrice, line.TotalPrice, line.TaxRate
    if type(quantity) is not Decimal:
        quantity = _dec(quantity, where, "Quantity")
        if quantity is None:
            raise _bad(where, "Quantity", "a number", None)
    if type(unit_price) is not Decimal:
        if unit_price is None:  # a line always has a price; without one it fails at the target
            raise _bad(where, "UnitPrice", "a number", None)
        unit_price = _dec(unit_price, where, "UnitPrice")
    if type(total_price) is not Decimal:
        total_price = _dec(total_price, where, "TotalPrice")
    if type(tax_rate) is not Decimal:
        tax_rate = _dec(tax_rate, where, "TaxRate")
    attributes: tuple[AttributeSelection, ...] = ()
    if line.Attributes is None:
        lx["Attributes"] = None  # remembered: null, not []
    elif line.Attributes:
        attributes = tuple(
            [_read_attribute(r, a, f"{where}.Attributes[{i}]") for i, a in enumerate(line.Attributes)]
        )
    if item is not None and not item.keys() <= _LINE_KNOWN:
        r.unknown(item, _LINE_KNOWN, "", lx)
    line_id, product_id = line.Id, line.ProductId  # integers, as a rule: no call for those
    line_id = str(line_id) if type(line_id) is int else r.id(line_id, where, "Id")
    product_id = str(product_id) if type(product_id) is int else r.id(product_id, where, "ProductId")
    try:
        return OrderLine(
            remote_id=line_id,
            product_ref=product_id,
            product_name=line.ProductName,
            quantity=quantity,
            unit_price=unit_price,
            total_price=total_price,
            tax_rate=tax_rate,
            attributes=attributes,
            is_download=line.IsDownload,
            file_name=line.FileName,
            extras={r.version: lx} if lx else {},
        )
    except InvalidOrder as exc:
        raise _rename(exc, _LINE_FIELD_TO_WIRE, where) from None


def _read_attribute(r: _Reader, attr: AttributePart, where: str) -> AttributeSelection:
    attribute_id = r.id(attr.AttributeId, where, "AttributeId")
    if attribute_id is None:
        raise _bad(where, "AttributeId", "an id", None)
    option_ids: list[str] = []
    for i, option in enumerate(attr.OptionsIds):
        if type(option) is str:
            option_ids.append(option)
        else:
            r.quoted.append(f"{where}.OptionsIds[{i}]#int")  # the page sends text; this one was a number
            option_ids.append(str(option))
    options_out: Any = tuple(option_ids)
    return AttributeSelection(attribute_id=attribute_id, option_ids=options_out)


def _read_payment(r: _Reader, pay: PaymentPart, item: dict[str, Any] | None, index: int) -> Payment:
    where = f"Payments[{index}]"
    px: dict[str, Any] = {}
    number = pay.PaymentGatewayType
    gateway: str | None
    if isinstance(number, int):
        if r.version != V1:
            raise _bad(where, "PaymentGatewayType", "a gateway name", number)
        gateway = wire.gateway_from_v1(number)
    else:
        gateway = number
        if r.version == V1 and gateway is not None:
            px["gateway_text"] = True  # v1 normally sends a number
    if item is not None and not item.keys() <= _PAYMENT_KNOWN:
        r.unknown(item, _PAYMENT_KNOWN, "", px)
    amount, captured = pay.Amount, pay.AmountCaptured
    if type(amount) is not Decimal:  # a Decimal needs no call (the model checks it is finite)
        amount = _dec(amount, where, "Amount")
    if type(captured) is not Decimal:
        captured = _dec(captured, where, "AmountCaptured")
    pay_id = str(pay.Id) if type(pay.Id) is int else r.id(pay.Id, where, "Id")
    created = r.time(pay.CreatedDateTime, where, "CreatedDateTime")
    try:
        return Payment(
            remote_id=pay_id,
            amount=amount,
            amount_captured=captured,
            status=pay.Status,
            payment_type=pay.PaymentType,
            gateway=gateway,
            gateway_reason=pay.GatewayReason,
            transaction_id=pay.TransactionId,
            notes=pay.Notes,
            created_at=created,
            extras={r.version: px} if px else {},
        )
    except InvalidOrder as exc:
        raise _rename(exc, _PAYMENT_FIELD_TO_WIRE, where) from None


# ------------------------------------------------------------------ canonical -> document


class _Writer:
    __slots__ = ("quoted", "times", "version", "zone")

    def __init__(self, version: str, zone: tzinfo, ex: Mapping[str, Any]) -> None:
        self.version = version
        self.zone = zone
        self.quoted = frozenset(ex.get("quoted", ()))
        self.times: Mapping[str, str] = ex.get("times") or _EMPTY

    def time(self, value: datetime | None, where: str, key: str) -> str | None:
        if value is None:
            return None
        if self.times:
            raw = self.times.get(_at(where, key))
            if raw is not None:
                try:
                    if _parse_time(raw, self.version, self.zone) == value:
                        return raw
                except ValueError:
                    pass
        if self.version == V2:
            return wire.format_v2_time(value)
        return wire.format_v1_time(value, self.zone)


def without_foreign_ids(order: Order, *, resolved: bool = False) -> Order:
    """``order`` with the ids of another id space than WebinOne's removed (pure).

    An order that shares the webinone id space (:func:`orderbridge.shares_ids`)
    is returned as it is. Otherwise the parent order, the lines' product ids and
    their attribute selections (nothing but ids) go; with ``resolved`` also the
    status and member ids, which a client keeps for its resolver's tables.
    ``losses_v2``/``losses_v1`` list each one.
    """
    if shares_ids(order, ID_SPACE):
        return order
    lines = [attrs.evolve(line, product_ref=None, attributes=()) for line in order.lines]
    order = order.evolve(parent_order_ref=None, lines=lines)
    if not resolved:
        return order
    status = attrs.evolve(order.status, remote_id=None) if order.status is not None else None
    customer = attrs.evolve(order.customer, remote_id=None) if order.customer is not None else None
    return order.evolve(status=status, customer=customer)


def _write_asset(
    nulls: frozenset[str],
    key: str,
    code_key: str,
    amount_key: str,
    asset: tuple[str | None, Decimal | None] | None,
) -> dict[str, Any] | None:
    """The wire part of an asset: ``null`` if the document had ``null``, the site's "none" form if absent."""
    if key in nulls:
        return None
    if asset is None:
        return {code_key: None, amount_key: _ZERO}
    return {code_key: asset[0], amount_key: asset[1]}


def from_canonical(order: Order, version: str, zone: tzinfo = UTC) -> dict[str, Any]:
    """Translate a canonical order to a v1 or v2 order document in the normal form.

    The order's own id (and its lines' and payments' ids) are written only when
    the order comes from this backend (``order.source.backend == version``);
    references (status, member, product, parent order, attributes) only when it
    shares the webinone id space (a WebinOne order, or one without a source):
    another system's ids are written as ``null`` and listed in the losses.
    """
    ex: Mapping[str, Any] = order.extras.get(version) or _EMPTY
    w = _Writer(version, zone, ex)
    quoted = w.quoted
    own = order.source is not None and order.source.backend == version
    nulls = frozenset(ex.get("nulls", ()))
    raw: Mapping[str, Any] = ex.get("raw") or _EMPTY
    if not shares_ids(order, ID_SPACE):
        order = without_foreign_ids(order, resolved=True)
        raw = {k: v for k, v in raw.items() if k not in ("StatusId", "MemberId")}  # ids, kept verbatim
    v2 = version == V2

    currency = order.currency if order.currency is not None else raw.get("Currency")
    country = order.country
    if "CurrencyCountry" in ex:
        currency_country = ex["CurrencyCountry"]
    else:
        currency_country = f"{currency}/{country}" if currency is not None and country is not None else None

    status = order.status
    if "StatusId" in raw:
        status_id = raw["StatusId"]
    else:
        status_id = _id_out(status.remote_id if status is not None else None, quoted, "", "StatusId")
    status_key = "StatusShort" if v2 else "Status"
    status_doc = (
        None
        if status is None or status_key in nulls
        else {"Id": _id_out(status.remote_id, quoted, status_key, "Id"), "Name": status.name}
    )
    customer = order.customer
    if "MemberId" in raw:
        member_id = raw["MemberId"]
    else:
        member_id = _id_out(customer.remote_id if customer is not None else None, quoted, "", "MemberId")
    member_doc = (
        None
        if customer is None or "Member" in nulls
        else {
            "Id": _id_out(customer.remote_id, quoted, "Member", "Id"),
            "Email": customer.email,
            "FirstName": customer.first_name,
            "LastName": customer.last_name,
        }
    )
    discount, voucher, tax = (
        (order.discounts[0].code, order.discounts[0].amount) if order.discounts else None,
        (order.gift_vouchers[0].code, order.gift_vouchers[0].amount) if order.gift_vouchers else None,
        (order.taxes[0].code, order.taxes[0].rate) if order.taxes else None,
    )
    discount_doc = _write_asset(nulls, "Discount", "Code", "Cost", discount)
    voucher_doc = _write_asset(nulls, "GiftVoucher", "Name", "Cost", voucher)
    tax_doc = _write_asset(nulls, "Tax", "Code", "Rate", tax)
    if "ShippingInfo" in nulls:
        shipping_doc = None
    else:
        # One shipping option per order: the first shipping line (the rest are losses).
        option = order.shipping_lines[0] if order.shipping_lines else None
        address = order.shipping_address or _NO_ADDRESS
        shipping_doc = {
            "Name": option.name if option is not None else None,
            "Cost": option.cost if option is not None else _ZERO,
            "Address": address.line1,
            "City": address.city,
            "State": address.state,
            "Zipcode": address.postal_code,
            "Country": address.country,
        }
    lines_doc = (
        None
        if "OrderLines" in nulls
        else [_write_line(w, line, i, own) for i, line in enumerate(order.lines)]
    )
    payments_doc = (
        None
        if "Payments" in nulls
        else [_write_payment(w, pay, i, own) for i, pay in enumerate(order.payments)]
    )
    groups_doc = (
        None
        if "CustomCrmGroups" in nulls
        else {g: dict(f) for g, f in order.custom_fields.items()}
        if order.custom_fields
        else {}  # most orders have none: no comprehension to set up
    )
    order_id = _id_out(order.source.remote_id, quoted, "", "Id") if own and order.source is not None else None
    payment_state = order.payment_state.value if order.payment_state is not None else None
    number = _id_out(order.number, quoted, "", "InvoiceNumber")
    parent = _id_out(order.parent_order_ref, quoted, "", "MainOrderId")

    doc: dict[str, Any]
    if v2:
        doc = {
            "Id": order_id,
            "AWBNumber": order.tracking_number,
            "CurrencyCountry": currency_country,
            "Currency": currency,
            "Country": country,
            "InvoiceDate": w.time(order.invoiced_at, "", "InvoiceDate"),
            "InvoiceNumber": number,
            "IsDeleted": order.is_deleted,
            "IsRecurring": order.is_recurring,
            "MainOrderId": parent,
            "MemberId": member_id,
            "OrderName": order.name,
            "PaymentState": payment_state,
            "StatusId": status_id,
            "TotalCost": order.total,
            "CreatedDateTime": w.time(order.created_at, "", "CreatedDateTime"),
            "HasSubscriptions": order.has_subscriptions,
            "HasPaidSubscription": order.has_paid_subscription,
            "TrackingURL": order.tracking_url,
            "TransactionId": order.transaction_id,
            "AmountPaid": order.amount_paid,
            "AmountPending": order.amount_pending,
            "OrderCaseType": ex.get("OrderCaseType"),
            "StatusShort": status_doc,
            "Discount": discount_doc,
            "GiftVoucher": voucher_doc,
            "Tax": tax_doc,
            "ShippingInfo": shipping_doc,
            "Member": member_doc,
            "OrderLines": lines_doc,
            "Payments": payments_doc,
            "CustomCrmGroups": groups_doc,
        }
    else:
        doc = {
            "Id": order_id,
            "AWBNumber": order.tracking_number,
            "AmountPaid": order.amount_paid,
            "AmountPending": order.amount_pending,
            "CreatedDateTime": w.time(order.created_at, "", "CreatedDateTime"),
            "CurrencyCountry": currency_country,
            "Currency": currency,
            "Country": country,
            "HasPaidSubscription": order.has_paid_subscription,
            "HasSubscriptions": order.has_subscriptions,
            "InvoiceDate": w.time(order.invoiced_at, "", "InvoiceDate"),
            "InvoiceNumber": number,
            "IsRecurring": order.is_recurring,
            "MainOrderId": parent,
            "MemberId": member_id,
            "OrderCaseType": ex.get("OrderCaseType"),
            "OrderName": order.name,
            "PaymentState": payment_state,
            "StatusId": status_id,
            "TotalCost": order.total,
            "TrackingUrl": order.tracking_url,
            "TransactionId": order.transaction_id,
            "Status": status_doc,
            "Member": member_doc,
            "Discount": discount_doc,
            "GiftVoucher": voucher_doc,
            "Tax": tax_doc,
            "ShippingInfo": shipping_doc,
            "OrderLines": lines_doc,
            "Payments": payments_doc,
            "CustomCrmGroups": groups_doc,
        }
    unknown = ex.get("unknown")
    if unknown:
        _put_back(doc, unknown)
    return doc


_NO_ADDRESS: Final = Address()


def _put_back(doc: dict[str, Any], unknown: Mapping[str, Any]) -> None:
    for part, values in unknown.items():
        target = doc if part == "" else doc.get(part)
        if isinstance(target, dict):
            target.update(values)


def _write_line(w: _Writer, line: OrderLine, index: int, own: bool) -> dict[str, Any]:
    lx: Mapping[str, Any] = line.extras.get(w.version) or _EMPTY
    quoted = w.quoted
    where = f"OrderLines[{index}]" if quoted else ""
    attributes: list[dict[str, Any]] | None
    if line.attributes:
        attributes = [
            _write_attribute(w, a, f"{where}.Attributes[{i}]") for i, a in enumerate(line.attributes)
        ]
    else:  # most lines have none: no comprehension to set up
        attributes = None if "Attributes" in lx and lx["Attributes"] is None else []
    doc = {
        "Id": _id_out(line.remote_id, quoted, where, "Id") if own else None,
        "EntityType": lx.get("EntityType"),
        "ProductId": _id_out(line.product_ref, quoted, where, "ProductId"),
        "ModuleId": lx.get("ModuleId"),
        "ProductName": line.product_name,
        "Quantity": line.quantity,
        "TaxRate": line.tax_rate,
        "UnitPrice": line.unit_price,
        "TotalPrice": line.total_price,
        "FileName": line.file_name,
        "IsDownload": line.is_download,
        "Attributes": attributes,
    }
    unknown = lx.get("unknown")
    if unknown:
        _put_back(doc, unknown)
    return doc


def _write_attribute(w: _Writer, attribute: AttributeSelection, where: str) -> dict[str, Any]:
    quoted = w.quoted
    options: list[Any] = list(attribute.option_ids)
    if quoted:
        options = [int(o) if f"{where}.OptionsIds[{i}]#int" in quoted else o for i, o in enumerate(options)]
    return {
        "AttributeId": _id_out(attribute.attribute_id, quoted, where, "AttributeId"),
        "OptionsIds": options,
    }


def _write_payment(w: _Writer, pay: Payment, index: int, own: bool) -> dict[str, Any]:
    px: Mapping[str, Any] = pay.extras.get(w.version) or _EMPTY
    where = f"Payments[{index}]" if (w.quoted or w.times) else ""
    gateway: Any = pay.gateway
    payment_type = pay.payment_type.value if pay.payment_type is not None else None
    pay_id = _id_out(pay.remote_id, w.quoted, where, "Id") if own else None
    created = w.time(pay.created_at, where, "CreatedDateTime")
    if w.version == V2:
        doc = {
            "Id": pay_id,
            "Amount": pay.amount,
            "AmountCaptured": pay.amount_captured,
            "GatewayReason": pay.gateway_reason,
            "TransactionId": pay.transaction_id,
            "Status": pay.status,
            "PaymentType": payment_type,
            "PaymentGatewayType": gateway,
            "Notes": pay.notes,
            "CreatedDateTime": created,
        }
    else:
        if gateway is not None and not px.get("gateway_text"):
            gateway = wire.gateway_to_v1(gateway)
        doc = {
            "Id": pay_id,
            "CreatedDateTime": created,
            "Amount": pay.amount,
            "AmountCaptured": pay.amount_captured,
            "GatewayReason": pay.gateway_reason,
            "TransactionId": pay.transaction_id,
            "Status": pay.status,
            "PaymentType": payment_type,
            "PaymentGatewayType": gateway,
            "Notes": pay.notes,
        }
    unknown = px.get("unknown")
    if unknown:
        _put_back(doc, unknown)
    return doc


# ------------------------------------------------------------------ losses

_MARKERS: Final = frozenset({"quoted", "nulls", "raw", "times"})


def _common_losses(order: Order, own: str, add: Callable[..., None]) -> None:
    if order.status_history:
        add("status_history", "WebinOne keeps only the current status")
    if order.modified_at is not None:
        add("modified_at", "WebinOne has no modification time")
    if order.is_paid is not None:
        add("is_paid", "WebinOne has no such flag (see payment_state)")
    if order.is_fulfilled is not None:
        add("is_fulfilled", "WebinOne has no such flag")
    if order.billing_address is not None:
        add("billing_address", "WebinOne orders hold no billing address")
    if order.notes is not None:
        add("notes", "WebinOne orders hold no notes")
    if order.customer_note is not None:
        add("customer_note", "WebinOne orders hold no customer note")
    if order.number is not None and not _INT.match(order.number):
        add("number", "InvoiceNumber is an integer on WebinOne")
    customer = order.customer
    if customer is not None:
        if customer.phone is not None:
            add("customer.phone", "a WebinOne order links a member; it holds no phone")
        if customer.is_guest is not None:
            add("customer.is_guest", "WebinOne has no guest flag")
    if order.fees:
        add("fees[]", "WebinOne orders hold no fees", fee_money(order))
    if order.refunds:
        add("refunds", _REFUNDS_LOST)
    if order.metadata:
        add("metadata", "WebinOne orders hold no metadata")
    if order.prices_include_tax is not None:
        add("prices_include_tax", "WebinOne orders hold no such flag (the site adds tax on top)")
    # Other backends' extras are reported by Backend.losses, for every backend alike.


_REFUNDS_LOST: Final = "WebinOne orders hold no refunds (not part of the total: no money loss)"


def fee_money(order: Order) -> Decimal | None:
    """The money of ``order``'s fees as it counts towards the total: their amounts, and their
    tax unless prices include tax (a target without fees lacks both); ``None`` without amounts."""
    amounts = [fee.amount for fee in order.fees if fee.amount is not None]
    if order.prices_include_tax is not True:
        amounts += [fee.tax_amount for fee in order.fees if fee.tax_amount is not None]
    return sum(amounts, Decimal(0)) if amounts else None


def writable_payments(order: Order) -> tuple[Payment, ...]:
    """The payments a v2 site can take: the payment create body requires an ``Amount``."""
    return tuple(pay for pay in order.payments if pay.amount is not None)


def losses_v2(order: Order) -> tuple[Loss, ...]:
    """Fields set in ``order`` that a write through the v2 admin API does not carry.

    The backend's own losses (``WebinOneV2._losses``); ``WebinOneV2.losses``
    adds other backends' extras. Money the site cannot hold (a second
    discount, a shipping cost without an option) is a money loss.
    """
    found: dict[str, Loss] = {}

    def add(field: str, reason: str, amount: Decimal | None = None) -> None:
        if field not in found:
            found[field] = Loss(field, reason, amount)

    _common_losses(order, V2, add)
    for loss in foreign_id_losses(order, ID_SPACE):
        add(loss.field, loss.reason)
    server = "set by the server; not writable through the v2 API"
    for name in (
        "created_at", "total", "amount_paid", "amount_pending", "is_recurring", "is_deleted",
        "has_subscriptions", "has_paid_subscription", "transaction_id",
    ):  # fmt: skip
        if getattr(order, name) is not None:
            add(name, server)
    customer = order.customer
    if customer is not None and customer.remote_id is None and customer.email is None:
        add("customer", "no member id or e-mail to link a member with")
    address = order.shipping_address
    if address is not None:
        for name in ("first_name", "last_name", "company", "phone", "email", "line2"):
            if getattr(address, name) is not None:
                add(
                    f"shipping_address.{name}", "v2 shipping holds address, city, state, zip code and country"
                )
    _shipping_losses_v2(order, add)
    _asset_losses(order.discounts, "discounts", add)
    _asset_losses(order.gift_vouchers, "gift_vouchers", add)
    _asset_losses(order.taxes, "taxes", add)
    for d in order.discounts:
        if d.kind != "code":
            add("discounts[].kind", "v2 holds discount codes only")
        if d.description is not None:
            add("discounts[].description", "v2 holds a discount's code and cost only")
    for v in order.gift_vouchers:
        if v.is_credit_voucher is not None:
            add("gift_vouchers[].is_credit_voucher", "v2 holds a voucher's name and cost only")
        if v.description is not None:
            add("gift_vouchers[].description", "v2 holds a voucher's name and cost only")
    for t in order.taxes:
        if t.amount is not None:
            add("taxes[].amount", "v2 holds a tax code and rate, not an amount")
        if t.name is not None:
            add("taxes[].name", "v2 holds a tax code and rate, not a label")
        if t.applies_to != TaxTarget.ORDER or t.applies_to_index is not None:
            add("taxes[].applies_to", "a WebinOne tax applies to the order's lines as a whole")
    for line in order.lines:
        for name, reason in _LINE_LOSSES_V2:
            if getattr(line, name) is not None:
                add(f"lines[].{name}", reason)
        if line.metadata:
            add("lines[].metadata", "WebinOne order lines hold no metadata")
        lx = line.extras.get(V2)
        if lx:
            for key in lx:
                if key in ("EntityType", "ModuleId", "unknown"):
                    add(f"lines[].extras.{V2}.{key}", server)
    for pay in order.payments:
        if pay.amount is None:
            add("payments[]", "a v2 payment needs an amount: a payment without one is not written")
            continue
        for name, reason in _PAYMENT_LOSSES_V2:
            if getattr(pay, name) is not None:
                add(f"payments[].{name}", reason)
        px = pay.extras.get(V2)
        if px and "unknown" in px:
            add(f"payments[].extras.{V2}.unknown", server)
    ex = order.extras.get(V2)
    if ex:
        for key in ex:
            if key not in _MARKERS:
                add(f"extras.{V2}.{key}", server)
    return tuple(found.values())


def _shipping_losses_v2(order: Order, add: Callable[..., None]) -> None:
    """v2 sets one shipping option, by name, and prices it itself: the first shipping line is
    written; the others, and tax on shipping (v2 taxes the lines only), are money losses."""
    lines = order.shipping_lines
    if not lines:
        return
    first, rest = lines[0], lines[1:]
    if first.name is None and first.cost:
        add("shipping_lines[0].cost", "v2 sets a shipping option by name; this one has none", first.cost)
    if rest:
        costs = [line.cost for line in rest if line.cost is not None]
        add(
            "shipping_lines[1:]",
            "WebinOne holds one shipping option per order: the first is written",
            sum(costs, Decimal(0)) if costs else None,
        )
    if any(line.method is not None for line in lines):
        add("shipping_lines[].method", "v2 sets a shipping option by name only")
    taxes = [line.tax_amount for line in lines if line.tax_amount is not None]
    if taxes:
        money = sum(taxes, Decimal(0)) if order.prices_include_tax is not True else None
        add("shipping_lines[].tax_amount", "WebinOne taxes an order's lines, not its shipping", money)


def _asset_losses(items: tuple[Any, ...], field: str, add: Callable[..., None]) -> None:
    taxes = bool(items) and isinstance(items[0], Tax)

    def money(parts: tuple[Any, ...]) -> Decimal | None:
        # Discounts and vouchers take money off the total; a tax rate is no amount.
        if taxes:
            return None
        amounts = [p.amount for p in parts if p.amount is not None]
        return -sum(amounts, Decimal(0)) if amounts else None

    if len(items) > 1:
        add(f"{field}[1:]", "WebinOne holds one per order", money(items[1:]))
    if items and items[0].code is None:
        first = items[0]
        value = first.rate if taxes else first.amount
        if value:
            add(f"{field}[0]", "v2 sets it by code/name; this one has none", money(items[:1]))


_LINE_LOSSES_V2: Final = (
    ("sku", "WebinOne order lines hold no SKU"),
    ("description", "WebinOne order lines hold no description"),
    ("is_fulfilled", "WebinOne order lines hold no fulfilment flag"),
    ("total_price", "computed by the server"),
    ("tax_rate", "set by the server from the product"),
    ("file_name", "set by the server from the product"),
    ("is_download", "set by the server from the product"),
    ("variant_ref", "WebinOne order lines hold a product, no variant"),
    ("subtotal", "computed by the server"),
    ("discount_amount", "WebinOne order lines hold no discount"),
    ("tax_amount", "WebinOne order lines hold a tax rate, not an amount"),
)
_PAYMENT_LOSSES_V2: Final = (
    ("amount_captured", "the v2 payment create body cannot set it"),
    ("status", "the v2 payment create body cannot set it"),
    ("gateway", "the v2 payment create body cannot set it"),
    ("gateway_reason", "the v2 payment create body cannot set it"),
    ("transaction_id", "the v2 payment create body cannot set it"),
    ("card_type", "WebinOne payments hold no card details"),
    ("card_last4", "WebinOne payments hold no card details"),
    ("check_number", "WebinOne payments hold no check details"),
    ("check_date", "WebinOne payments hold no check details"),
)

_V1_NOT_WRITABLE: Final = (
    "total", "amount_paid", "amount_pending", "is_recurring", "is_deleted", "has_subscriptions",
    "has_paid_subscription", "transaction_id", "shipping_address",
)  # fmt: skip


_V1_ID_FIELDS: Final = ("customer.remote_id", "status.remote_id", "parent_order_ref")
"""The reference ids a v1 write carries (MemberId, StatusId, MainOrderId); the rest is lost anyway."""


def losses_v1(order: Order) -> tuple[Loss, ...]:
    """Fields set in ``order`` that a v1 write (``PUT /api/v1/orders/{id}``) does not carry."""
    found: dict[str, Loss] = {}

    def add(field: str, reason: str, amount: Decimal | None = None) -> None:
        if field not in found:
            found[field] = Loss(field, reason, amount)

    _common_losses(order, V1, add)
    for loss in foreign_id_losses(order, ID_SPACE, _V1_ID_FIELDS):
        add(loss.field, loss.reason)
    reason = "the v1 API updates order fields only"
    for name in _V1_NOT_WRITABLE:
        if getattr(order, name) is not None:
            add(name, reason)
    for name in (
        "shipping_lines",
        "discounts",
        "gift_vouchers",
        "taxes",
        "lines",
        "payments",
        "custom_fields",
    ):
        if getattr(order, name):
            add(name, reason)
    customer = order.customer
    if customer is not None and (customer.email or customer.first_name or customer.last_name):
        add("customer", "v1 links a member by MemberId only")
    ex = order.extras.get(V1)
    if ex:
        for key in ex:
            if key not in _MARKERS:
                add(f"extras.{V1}.{key}", reason)
    return tuple(found.values())


# ------------------------------------------------------------------ references


def reference_needs(order: Order) -> list[tuple[str, str, str | None]]:
    """The references a v2 write of ``order`` needs: ``(kind, value, fallback)``, in write order.

    ``value`` is the source's name or code; ``fallback`` the source's own id
    for it (used by the resolver's identity rule), when known.
    """
    needs: list[tuple[str, str, str | None]] = []
    status = order.status
    if status is not None and (status.name is not None or status.remote_id is not None):
        value = status.name if status.name is not None else status.remote_id
        assert value is not None
        needs.append(("status", value, status.remote_id))
    customer = order.customer
    if customer is not None:
        value = customer.remote_id if customer.remote_id is not None else customer.email
        if value is not None:
            needs.append(("member", value, customer.remote_id))
    if order.discounts and order.discounts[0].code is not None:
        needs.append(("discount", order.discounts[0].code, order.discounts[0].remote_id))
    if order.gift_vouchers and order.gift_vouchers[0].code is not None:
        needs.append(("gift_voucher", order.gift_vouchers[0].code, order.gift_vouchers[0].remote_id))
    first = order.shipping_lines[0] if order.shipping_lines else None
    if first is not None and first.name is not None:
        # WebinOne holds one shipping option: the first line's (the rest are money losses).
        needs.append(("shipping_option", first.name, first.remote_id))
    if order.taxes and order.taxes[0].code is not None:
        needs.append(("tax", order.taxes[0].code, order.taxes[0].remote_id))
    return needs
