"""Pure translation between a Lunasoft cart order document and the canonical :class:`orderbridge.Order`.

No I/O here. :class:`CartTranslator` holds the two class methods the backend
exposes (``to_canonical`` / ``from_canonical``) and ``losses``.

Normal form (what :meth:`CartTranslator.from_canonical` writes for a value):

- every key the API page documents is present, in the page's order; ``statuses``
  only when the order has a status history;
- text with no value is ``""``; ids with no value are ``null``; ``transaction_id``
  with no value is ``"0"`` (as in the page's sample);
- amounts are strings with at least two decimals (``"13.00"``); quantities are
  strings without trailing zeros (``"1"``, ``"1.5"``);
- timestamps are ``YYYY-MM-DDTHH:MM:SS±HHMM``; a missing timestamp is ``""``;
  ``check_date`` is ``YYYY-MM-DD`` and ``"0000-00-00"`` when absent;
- flags are JSON booleans; ``gift_cert_is_credit_voucher`` is ``true`` when
  there is no gift certificate (as in the page's sample).

Whatever a document says differently from the normal form (``null`` for ``""``,
``"13"`` for ``"13.00"``, a missing key...) is recorded under ``"wire"`` in the
extras, as ``{"key": {"normal": <normal form>, "sent": <as sent>}}`` (``"sent"``
absent: the key was absent), and re-applied by ``from_canonical`` only while
the canonical value still renders to that normal form; so
``from_canonical(to_canonical(doc)) == doc`` for every valid document, and an
edited canonical value wins over the recorded spelling.

Extras layout (``order.extras["lunasoft-cart"]``)::

    {"fields": {wire key: value, ...},   # keys without a canonical home, verbatim
     "statuses": [{"fields": {...}, "wire": {...}}, ...],  # per status, oldest first
     "status_order": [wire index, ...],  # only when the wire list was not newest first
     "wire": {...}}                      # see above

Lines and payments carry ``extras["lunasoft-cart"] = {"fields": {...}, "wire": {...}}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from itertools import pairwise
from typing import Any, Final

import orderbridge as ob

__all__ = [
    "BACKEND_NAME",
    "LINE_KEYS",
    "ORDER_KEYS",
    "STATUS_KEYS",
    "CartTranslator",
    "check_date_zone",
    "payment_option_name",
    "payment_type_of",
    "prices_include_tax",
    "total_tax",
]

BACKEND_NAME: Final = "lunasoft-cart"

ORDER_KEYS: Final = (
    "id", "user_id", "user_email", "current_status", "order_num", "order_description",
    "customer_note", "first_name", "last_name", "phone", "email", "total", "tax", "is_paid",
    "payment_option", "payment_option_type", "payment_option_id", "payment_detail", "check_num",
    "check_date", "transaction_id", "card_last_4", "card_type", "billing_first_name",
    "billing_last_name", "billing_phone", "billing_email", "billing_address", "billing_city",
    "billing_state", "billing_zip", "billing_country", "promo_code", "promo_code_info",
    "promo_code_discount", "promo_rule_info", "promo_rule_info_admin", "promo_rule_discount",
    "promo_rule_discount_shipping", "gift_cert_id", "gift_cert_code", "gift_cert_info",
    "gift_cert_applied", "gift_cert_is_credit_voucher", "shipping_option", "shipping_cost",
    "shipping_first_name", "shipping_last_name", "shipping_phone", "shipping_company",
    "shipping_address", "shipping_address2", "shipping_city", "shipping_state", "shipping_zip",
    "shipping_country", "is_fulfilled", "notes", "marketing_source_id", "marketing_source_choice",
    "marketing_source_other", "admin_created", "web_order", "is_guest_checkout", "created",
    "created_ip", "created_user_id", "modified", "modified_user_id", "line_items",
)  # fmt: skip
"""The order keys of the API page, in its order (``statuses`` follows on a single order)."""

LINE_KEYS: Final = (
    "id", "product_id", "name", "model", "sku", "description", "cost", "quantity", "total_cost",
    "did_override_shipping_cost", "total_override_shipping_cost", "is_gift_certificate",
    "gift_cert_amount", "gift_cert_code", "is_fulfilled", "shipment_info",
)  # fmt: skip
"""The line item keys of the API page, in its order."""

STATUS_KEYS: Final = (
    "id", "status", "notes", "notify_customer", "created", "created_ip", "created_user_id",
    "modified", "modified_user_id",
)  # fmt: skip
"""The status keys of the API page, in its order."""

# Keys without a canonical home, with their kind and their value when absent.
_ORDER_FIELDS: Final = {
    "user_email": ("text", ""),
    "promo_rule_info_admin": ("text", ""),
    "marketing_source_id": ("id", None),
    "marketing_source_choice": ("text", ""),
    "marketing_source_other": ("text", ""),
    "admin_created": ("flag", None),
    "web_order": ("flag", None),
    "created_ip": ("text", ""),
    "created_user_id": ("id", None),
    "modified_user_id": ("id", None),
}
_LINE_FIELDS: Final = {
    "model": ("text", ""),
    "did_override_shipping_cost": ("flag", False),
    "total_override_shipping_cost": ("money", "0.00"),
    "is_gift_certificate": ("flag", False),
    "gift_cert_amount": ("money", "0.00"),
    "gift_cert_code": ("text", ""),
    "shipment_info": ("any", None),
}
_STATUS_FIELDS: Final = {
    "created_ip": ("text", ""),
    "created_user_id": ("id", None),
    "modified": ("datetime", ""),
    "modified_user_id": ("id", None),
}

_ORDER_MAPPED: Final = (frozenset(ORDER_KEYS) - set(_ORDER_FIELDS)) | {"statuses"}
_LINE_MAPPED: Final = frozenset(LINE_KEYS) - set(_LINE_FIELDS)
_STATUS_MAPPED: Final = frozenset({"id", "status", "notes", "notify_customer", "created"})

NO_DATE: Final = "0000-00-00"
"""The cart's "no date" value (a timestamp starting with it means no value too)."""
NO_TRANSACTION: Final = "0"
"""Unverified: ``transaction_id`` "0" (as in the page's sample) means no transaction."""
_ZERO = Decimal(0)
_CENT = Decimal("0.01")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_LAST4 = re.compile(r"\d{4}\Z")
_MISSING: Any = object()


def check_date_zone(created: datetime | None) -> tzinfo:
    """Unverified: a date-only ``check_date`` is midnight at the offset of ``created`` (else UTC)."""
    return created.tzinfo if created is not None and created.tzinfo is not None else UTC


# Unverified: payment_option is a merchant-chosen label; these words pick the canonical type.
_PAYMENT_WORDS: Final = (
    (("paypal",), ob.PaymentType.PAYPAL),
    (("gift",), ob.PaymentType.GIFT_VOUCHER),
    (("card", "credit", "visa", "mastercard"), ob.PaymentType.CREDIT_CARD),
    (("check", "cheque"), ob.PaymentType.CHECK),
    (("cash",), ob.PaymentType.CASH),
    (("bank", "transfer", "wire"), ob.PaymentType.BANK_TRANSFER),
)
_PAYMENT_NAMES: Final = {
    ob.PaymentType.CREDIT_CARD: "Credit Card",
    ob.PaymentType.CHECK: "Check",
    ob.PaymentType.PAYPAL: "PayPal",
    ob.PaymentType.CASH: "Cash",
    ob.PaymentType.BANK_TRANSFER: "Bank Transfer",
    ob.PaymentType.GIFT_VOUCHER: "Gift Certificate",
    ob.PaymentType.OTHER: "Other",
}


def payment_type_of(option: str) -> ob.PaymentType:
    """The canonical payment type of a cart ``payment_option`` label (unknown labels kept as raw text)."""
    lowered = option.lower()
    for words, kind in _PAYMENT_WORDS:
        if any(w in lowered for w in words):
            return kind
    return ob.PaymentType(option)


def payment_option_name(kind: ob.PaymentType | None) -> str:
    """The ``payment_option`` label written for a canonical payment type."""
    if kind is None:
        return ""
    return _PAYMENT_NAMES.get(kind, kind.value)


_LINE_WIRE_NAMES: Final = {"unit_price": "cost", "total_price": "total_cost", "quantity": "quantity"}
"""Canonical line fields -> the cart's names, for error messages."""


class _Bad(Exception):
    """A wire value is wrong; carries the wire field path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# ---------------------------------------------------------------- reading values


def _text(doc: Mapping[str, Any], key: str, where: str = "") -> str | None:
    value = doc.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    raise _Bad(where + key, f"must be a string, got {type(value).__name__}")


def _ident(doc: Mapping[str, Any], key: str, where: str = "") -> str | None:
    value = doc.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _Bad(where + key, f"must be an id (a string), got {type(value).__name__}")


def _money(doc: Mapping[str, Any], key: str, where: str = "") -> Decimal | None:
    value = doc.get(key)
    if value is None or value == "":
        return None
    try:
        return ob.parse_decimal(value)
    except ValueError as exc:
        raise _Bad(where + key, str(exc)) from None


def _flag(doc: Mapping[str, Any], key: str, where: str = "") -> bool | None:
    value = doc.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise _Bad(where + key, f"must be true, false or null, got {type(value).__name__} {value!r}")


def _stamp(doc: Mapping[str, Any], key: str, where: str = "") -> datetime | None:
    value = doc.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Bad(where + key, f"must be a timestamp string, got {type(value).__name__}")
    if value.startswith(NO_DATE):
        return None
    try:
        result = datetime.fromisoformat(value)
    except ValueError:
        raise _Bad(where + key, f"not an ISO 8601 timestamp: {value!r}") from None
    if result.tzinfo is None:
        raise _Bad(where + key, f"timestamp has no offset: {value!r}")
    return result


def _date(doc: Mapping[str, Any], key: str, zone: tzinfo) -> datetime | None:
    value = doc.get(key)
    if isinstance(value, str) and _DATE.match(value) and not value.startswith(NO_DATE):
        try:
            return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=zone)
        except ValueError:
            raise _Bad(key, f"not a date: {value!r}") from None
    return _stamp(doc, key)


def _check_kind(kind: str, doc: Mapping[str, Any], key: str, where: str) -> None:
    if kind == "text":
        _text(doc, key, where)
    elif kind == "id":
        _ident(doc, key, where)
    elif kind == "flag":
        _flag(doc, key, where)
    elif kind == "money":
        _money(doc, key, where)
    elif kind == "datetime":
        _stamp(doc, key, where)


def _leftovers(
    doc: Mapping[str, Any], mapped: frozenset[str], kinds: Mapping[str, tuple[str, Any]], where: str
) -> dict[str, Any]:
    """Wire keys without a canonical home, verbatim (documented ones type-checked)."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in mapped:
            continue
        spec = kinds.get(key)
        if spec is not None:
            _check_kind(spec[0], doc, key, where)
        out[key] = value
    return out


# ---------------------------------------------------------------- writing values


def _w_text(value: str | None) -> str:
    return "" if value is None else value


def _w_money(value: Decimal | None) -> str:
    if value is None:
        return "0.00"
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        value = value.quantize(_CENT)
    return format(value, "f")


def _w_quantity(value: Decimal) -> str:
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def _w_stamp(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f%z")
    return value.strftime("%Y-%m-%dT%H:%M:%S%z")


def _w_date(value: datetime | None) -> str:
    return NO_DATE if value is None else value.strftime("%Y-%m-%d")


def _nonzero(value: Decimal | None) -> bool:
    return value is not None and value != _ZERO


def _same(a: Any, b: Any) -> bool:
    """Equality that also tells ``1`` from ``True`` and ``"1"`` from ``1`` (JSON values)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _diff(
    sent: Mapping[str, Any], normal: Mapping[str, Any], skip: frozenset[str] = frozenset()
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in sent.items():
        if key in skip:
            continue
        if key not in normal:
            out[key] = {"sent": value}
        elif not _same(value, normal[key]):
            out[key] = {"normal": normal[key], "sent": value}
    for key, value in normal.items():
        if key not in sent and key not in skip:
            out[key] = {"normal": value}
    return out


def _apply(doc: dict[str, Any], wire: Mapping[str, Any]) -> None:
    for key, change in wire.items():
        if not isinstance(change, Mapping):
            continue
        current = doc.get(key, _MISSING)
        normal = change.get("normal", _MISSING)
        if current is _MISSING or normal is _MISSING:
            if current is not normal:
                continue
        elif not _same(current, normal):
            continue  # the canonical value changed since it was read: it wins
        if "sent" in change:
            doc[key] = change["sent"]
        else:
            doc.pop(key, None)


def _fields(extras: Mapping[str, Any]) -> Mapping[str, Any]:
    mine = extras.get(BACKEND_NAME)
    if not isinstance(mine, Mapping):
        return {}
    fields = mine.get("fields")
    return fields if isinstance(fields, Mapping) else {}


def _label(doc: Mapping[str, Any]) -> str:
    value = doc.get("id") if isinstance(doc, Mapping) else None
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return "?"


# ---------------------------------------------------------------- the translator


class CartTranslator:
    """Translation of cart order documents; the backend class inherits these class methods."""

    # ------------------------------------------------------------ wire -> canonical

    @classmethod
    def to_canonical(cls, doc: Mapping[str, Any]) -> ob.Order:
        """A cart order document (as the list or get endpoint returns it) as a canonical order.

        Raises :class:`orderbridge.InvalidOrder` naming the order (its id, or ``"?"``)
        and the wire field (``"line_items[0].cost"``) of a value that is wrong.
        """
        label = _label(doc)
        if not isinstance(doc, Mapping):
            raise ob.InvalidOrder(f"expected an object, got {type(doc).__name__}", order=label)
        try:
            return cls._read(doc)
        except _Bad as exc:
            raise ob.InvalidOrder(exc.message, field=exc.field, order=label) from None
        except ob.InvalidOrder as exc:
            raise exc.within(order=label) from None

    @classmethod
    def _read(cls, doc: Mapping[str, Any]) -> ob.Order:
        remote_id = _ident(doc, "id")
        if remote_id is None:
            raise _Bad("id", "is required (a non-empty string)")
        created = _stamp(doc, "created")
        email = _text(doc, "email")
        user_email = _text(doc, "user_email")

        customer = None
        c_values = (
            _ident(doc, "user_id"),
            email if email is not None else user_email,
            _text(doc, "first_name"),
            _text(doc, "last_name"),
            _text(doc, "phone"),
            _flag(doc, "is_guest_checkout"),
        )
        if any(v is not None for v in c_values):
            customer = ob.Customer(
                remote_id=c_values[0], email=c_values[1], first_name=c_values[2],
                last_name=c_values[3], phone=c_values[4], is_guest=c_values[5],
            )  # fmt: skip

        b = (
            _text(doc, "billing_first_name"), _text(doc, "billing_last_name"), _text(doc, "billing_phone"),
            _text(doc, "billing_email"), _text(doc, "billing_address"), _text(doc, "billing_city"),
            _text(doc, "billing_state"), _text(doc, "billing_zip"), _text(doc, "billing_country"),
        )  # fmt: skip
        billing = None
        if any(v is not None for v in b):
            billing = ob.Address(
                first_name=b[0], last_name=b[1], phone=b[2], email=b[3], line1=b[4],
                city=b[5], state=b[6], postal_code=b[7], country=b[8],
            )  # fmt: skip
        s = (
            _text(doc, "shipping_first_name"), _text(doc, "shipping_last_name"),
            _text(doc, "shipping_phone"), _text(doc, "shipping_company"), _text(doc, "shipping_address"),
            _text(doc, "shipping_address2"), _text(doc, "shipping_city"), _text(doc, "shipping_state"),
            _text(doc, "shipping_zip"), _text(doc, "shipping_country"),
        )  # fmt: skip
        shipping_address = None
        if any(v is not None for v in s):
            shipping_address = ob.Address(
                first_name=s[0], last_name=s[1], phone=s[2], company=s[3], line1=s[4], line2=s[5],
                city=s[6], state=s[7], postal_code=s[8], country=s[9],
            )  # fmt: skip

        shipping: tuple[ob.ShippingLine, ...] = ()
        ship_name, ship_cost = _text(doc, "shipping_option"), _money(doc, "shipping_cost")
        if ship_name is not None or ship_cost is not None:
            shipping = (ob.ShippingLine(name=ship_name, cost=ship_cost),)

        discounts: list[ob.Discount] = []
        code, code_info, code_amount = (
            _text(doc, "promo_code"),
            _text(doc, "promo_code_info"),
            _money(doc, "promo_code_discount"),
        )
        if code is not None or code_info is not None or _nonzero(code_amount):
            discounts.append(ob.Discount(code=code, amount=code_amount, kind="code", description=code_info))
        rule_info, rule_amount = _text(doc, "promo_rule_info"), _money(doc, "promo_rule_discount")
        if rule_info is not None or _nonzero(rule_amount):
            discounts.append(ob.Discount(amount=rule_amount, kind="rule", description=rule_info))
        ship_discount = _money(doc, "promo_rule_discount_shipping")
        if _nonzero(ship_discount):
            discounts.append(ob.Discount(amount=ship_discount, kind="shipping"))

        vouchers: tuple[ob.GiftVoucher, ...] = ()
        g_id, g_code = _ident(doc, "gift_cert_id"), _text(doc, "gift_cert_code")
        g_info = _text(doc, "gift_cert_info")
        g_amount, g_credit = _money(doc, "gift_cert_applied"), _flag(doc, "gift_cert_is_credit_voucher")
        if g_id is not None or g_code is not None or g_info is not None or _nonzero(g_amount):
            vouchers = (
                ob.GiftVoucher(
                    code=g_code,
                    amount=g_amount,
                    is_credit_voucher=g_credit,
                    description=g_info,
                    remote_id=g_id,
                ),
            )

        tax = _money(doc, "tax")
        transaction = _text(doc, "transaction_id")
        if transaction == NO_TRANSACTION:
            transaction = None
        payments, card_cut = cls._read_payment(doc, created, transaction)

        if "line_items" not in doc:  # the cart always sends an order's lines, [] when it has none
            raise _Bad("line_items", "is required")
        lines = tuple(cls._read_line(item, i) for i, item in enumerate(cls._list(doc, "line_items")))
        history, status_extras, status_order = cls._read_statuses(doc)

        is_paid = _flag(doc, "is_paid")
        current = _text(doc, "current_status")
        mine: dict[str, Any] = {"fields": _leftovers(doc, _ORDER_MAPPED, _ORDER_FIELDS, "")}
        if status_extras:
            mine["statuses"] = status_extras
        if status_order is not None:
            mine["status_order"] = status_order

        parts: dict[str, Any] = dict(
            source=ob.SourceRef(BACKEND_NAME, remote_id),
            number=_text(doc, "order_num"),
            name=_text(doc, "order_description"),
            status=ob.OrderStatus(name=current) if current is not None else None,
            status_history=history,
            payment_state=ob.PaymentState.SUCCEEDED if is_paid else None,
            created_at=created,
            modified_at=_stamp(doc, "modified"),
            total=_money(doc, "total"),
            is_paid=is_paid,
            is_fulfilled=_flag(doc, "is_fulfilled"),
            transaction_id=transaction,
            customer=customer,
            billing_address=billing,
            shipping_address=shipping_address,
            shipping_lines=shipping,
            discounts=tuple(discounts),
            gift_vouchers=vouchers,
            taxes=(ob.TaxLine(amount=tax),) if tax is not None else (),
            prices_include_tax=prices_include_tax(doc, lines, shipping, discounts, tax),
            lines=lines,
            payments=payments,
            notes=_text(doc, "notes"),
            customer_note=_text(doc, "customer_note"),
            extras={BACKEND_NAME: mine},
        )
        # Passed as a dict: mypy types the model's ``converter=tuple`` fields as Iterable[_T_co].
        order = ob.Order(**parts)
        normal = cls.from_canonical(order)
        if normal == doc and not card_cut:
            return order  # the common case: the document is in normal form
        return cls._record_wire(order, doc, normal, card_cut)

    @staticmethod
    def _list(doc: Mapping[str, Any], key: str) -> Sequence[Any]:
        value = doc.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise _Bad(key, f"must be a list, got {type(value).__name__}")
        return value

    @classmethod
    def _read_payment(
        cls, doc: Mapping[str, Any], created: datetime | None, transaction: str | None
    ) -> tuple[tuple[ob.Payment, ...], bool]:
        option = _text(doc, "payment_option")
        gateway = _text(doc, "payment_option_type")
        option_id = _ident(doc, "payment_option_id")
        detail = _text(doc, "payment_detail")
        check_num = _text(doc, "check_num")
        check_date = _date(doc, "check_date", check_date_zone(created))
        card_type = _text(doc, "card_type")
        last4, cut = cls._last4(doc)
        values = (option, gateway, option_id, detail, check_num, check_date, card_type, last4, transaction)
        if all(v is None for v in values):
            return (), cut
        extras: dict[str, Any] = {}
        if "payment_option_id" in doc:
            extras = {BACKEND_NAME: {"fields": {"payment_option_id": doc["payment_option_id"]}}}
        payment = ob.Payment(
            payment_type=payment_type_of(option) if option is not None else None,
            gateway=gateway,
            transaction_id=transaction,
            notes=detail,
            card_type=card_type,
            card_last4=last4,
            check_number=check_num,
            check_date=check_date,
            extras=extras,
        )
        return (payment,), cut

    @staticmethod
    def _last4(doc: Mapping[str, Any]) -> tuple[str | None, bool]:
        """The last four digits of ``card_last_4``; more digits are cut off and never kept."""
        value = doc.get("card_last_4")
        if value is None or value == "":
            return None, False
        if not isinstance(value, str):
            raise _Bad("card_last_4", f"must be a string of four digits, got {type(value).__name__}")
        if _LAST4.fullmatch(value):
            return value, False
        digits = "".join(c for c in value if c.isdigit())
        if len(digits) > 4 and _LAST4.search(value):
            return digits[-4:], True  # more than a last four: keep only the last four, never the rest
        # The value is never echoed: it could be card data.
        raise _Bad("card_last_4", "must be the last four digits of a card")

    @classmethod
    def _read_line(cls, item: Any, index: int) -> ob.OrderLine:
        where = f"line_items[{index}]."
        if not isinstance(item, Mapping):
            raise _Bad(f"line_items[{index}]", f"must be an object, got {type(item).__name__}")
        for key in ("quantity", "cost"):  # always sent for a line: absent means a broken document
            if item.get(key) is None:
                raise _Bad(f"line_items[{index}].{key}", "is required")
        quantity = _money(item, "quantity", where)
        try:
            return ob.OrderLine(
                remote_id=_ident(item, "id", where),
                product_ref=_ident(item, "product_id", where),
                product_name=_text(item, "name", where),
                sku=_text(item, "sku", where),
                description=_text(item, "description", where),
                quantity=quantity if quantity is not None else Decimal(1),
                unit_price=_money(item, "cost", where),
                total_price=_money(item, "total_cost", where),
                is_fulfilled=_flag(item, "is_fulfilled", where),
                extras={BACKEND_NAME: {"fields": _leftovers(item, _LINE_MAPPED, _LINE_FIELDS, where)}},
            )
        except ob.InvalidOrder as exc:
            # The model names its own fields; say the cart's (what the operator can look up).
            wire = _LINE_WIRE_NAMES.get(exc.field or "", exc.field)
            renamed = ob.InvalidOrder(exc.message, field=wire, order=exc.order)
            raise renamed.within(prefix=f"line_items[{index}]") from None

    @classmethod
    def _read_statuses(
        cls, doc: Mapping[str, Any]
    ) -> tuple[tuple[ob.StatusChange, ...], list[dict[str, Any]], list[int] | None]:
        wire = cls._list(doc, "statuses")
        if not wire:
            return (), [], None
        changes: list[ob.StatusChange] = []
        metas: list[dict[str, Any]] = []
        for i, item in enumerate(wire):
            where = f"statuses[{i}]."
            if not isinstance(item, Mapping):
                raise _Bad(f"statuses[{i}]", f"must be an object, got {type(item).__name__}")
            status = item.get("status")
            if not isinstance(status, str):
                raise _Bad(where + "status", "is required (a string)")
            changes.append(
                ob.StatusChange(
                    status=status,
                    at=_stamp(item, "created", where),
                    notes=_text(item, "notes", where),
                    notify_customer=_flag(item, "notify_customer", where),
                    remote_id=_ident(item, "id", where),
                )
            )
            metas.append({"fields": _leftovers(item, _STATUS_MAPPED, _STATUS_FIELDS, where)})
        # The wire lists newest first; canonical history is oldest first.
        order = list(range(len(wire) - 1, -1, -1))
        times = [changes[i].at for i in order]
        known = [t for t in times if t is not None]
        recorded: list[int] | None = None
        if any(b < a for a, b in pairwise(known)):
            order = sorted(
                range(len(wire)),
                key=lambda i: (changes[i].at is None, changes[i].at or datetime.min.replace(tzinfo=UTC), -i),
            )
            recorded = order
        return tuple(changes[i] for i in order), [metas[i] for i in order], recorded

    @classmethod
    def _record_wire(
        cls, order: ob.Order, doc: Mapping[str, Any], normal: Mapping[str, Any], card_cut: bool
    ) -> ob.Order:
        """Keep what ``doc`` spells differently from the normal form, so it round-trips."""
        skip = {"card_last_4"} if card_cut else set()
        lines = list(order.lines)
        mine = dict(order.extras[BACKEND_NAME])
        sent_lines, normal_lines = doc.get("line_items"), normal.get("line_items")
        if isinstance(sent_lines, list) and isinstance(normal_lines, list) and len(sent_lines) == len(lines):
            skip.add("line_items")
            for i, (sent, norm) in enumerate(zip(sent_lines, normal_lines, strict=True)):
                wire = _diff(sent, norm)
                if wire:
                    line_mine = dict(lines[i].extras[BACKEND_NAME], wire=wire)
                    lines[i] = ob.OrderLine(**{**_line_kwargs(lines[i]), "extras": {BACKEND_NAME: line_mine}})
        sent_st, normal_st = doc.get("statuses"), normal.get("statuses")
        if isinstance(sent_st, list) and isinstance(normal_st, list) and len(sent_st) == len(normal_st):
            skip.add("statuses")
            metas = [dict(m) for m in mine.get("statuses", [])]
            positions = mine.get("status_order") or list(range(len(sent_st) - 1, -1, -1))
            for canon_i, wire_i in enumerate(positions):
                wire = _diff(sent_st[wire_i], normal_st[wire_i])
                if wire:
                    metas[canon_i]["wire"] = wire
            mine["statuses"] = metas
        wire = _diff(doc, normal, frozenset(skip))
        if wire:
            mine["wire"] = wire
        return order.evolve(lines=tuple(lines), extras={**order.extras, BACKEND_NAME: mine})

    # ------------------------------------------------------------ canonical -> wire

    @classmethod
    def from_canonical(cls, order: ob.Order) -> dict[str, Any]:
        """The cart order document of ``order``, in the normal form (see the module docs).

        Spellings recorded when the order was read from the cart are re-applied, so
        a document read and written back is unchanged. Ids (the customer's, the
        gift certificate's, the lines' and products', the statuses') are written
        only for an order of the cart's id space (:func:`orderbridge.shares_ids`);
        another system's are ``null`` and listed in :meth:`losses`.
        """
        mine = order.extras.get(BACKEND_NAME)
        mine = mine if isinstance(mine, Mapping) else {}
        fields = mine.get("fields")
        fields = fields if isinstance(fields, Mapping) else {}
        customer = order.customer or ob.Customer()
        billing = order.billing_address or ob.Address()
        ship_to = order.shipping_address or ob.Address()
        shipping = order.shipping or ob.ShippingOption()
        payment = order.payments[0] if order.payments else ob.Payment()
        code = _first(order.discounts, "code")
        rule = _first(order.discounts, "rule")
        ship_discount = _first(order.discounts, "shipping")
        voucher = order.gift_vouchers[0] if order.gift_vouchers else None
        tax = total_tax(order)
        transaction = order.transaction_id or payment.transaction_id
        remote_id = order.source.remote_id if order.source and order.source.backend == BACKEND_NAME else None
        ours = ob.shares_ids(order, BACKEND_NAME)  # else every id below is another system's: not written
        pay_fields = _fields(payment.extras)
        email = customer.email

        doc: dict[str, Any] = {
            "id": remote_id,
            "user_id": customer.remote_id if ours else None,
            "user_email": fields.get("user_email", _w_text(email)),
            "current_status": _w_text(order.status.name if order.status else None),
            "order_num": _w_text(order.number),
            "order_description": _w_text(order.name),
            "customer_note": _w_text(order.customer_note),
            "first_name": _w_text(customer.first_name),
            "last_name": _w_text(customer.last_name),
            "phone": _w_text(customer.phone),
            "email": _w_text(email),
            "total": _w_money(order.total),
            "tax": _w_money(tax),
            "is_paid": order.is_paid,
            "payment_option": payment_option_name(payment.payment_type),
            "payment_option_type": _w_text(payment.gateway),
            "payment_option_id": pay_fields.get("payment_option_id"),
            "payment_detail": _w_text(payment.notes),
            "check_num": _w_text(payment.check_number),
            "check_date": _w_date(payment.check_date),
            "transaction_id": transaction if transaction is not None else NO_TRANSACTION,
            "card_last_4": _w_text(payment.card_last4),
            "card_type": _w_text(payment.card_type),
            "billing_first_name": _w_text(billing.first_name),
            "billing_last_name": _w_text(billing.last_name),
            "billing_phone": _w_text(billing.phone),
            "billing_email": _w_text(billing.email),
            "billing_address": _w_text(billing.line1),
            "billing_city": _w_text(billing.city),
            "billing_state": _w_text(billing.state),
            "billing_zip": _w_text(billing.postal_code),
            "billing_country": _w_text(billing.country),
            "promo_code": _w_text(code.code if code else None),
            "promo_code_info": _w_text(code.description if code else None),
            "promo_code_discount": _w_money(code.amount if code else None),
            "promo_rule_info": _w_text(rule.description if rule else None),
            "promo_rule_info_admin": fields.get("promo_rule_info_admin", ""),
            "promo_rule_discount": _w_money(rule.amount if rule else None),
            "promo_rule_discount_shipping": _w_money(ship_discount.amount if ship_discount else None),
            "gift_cert_id": voucher.remote_id if voucher and ours else None,
            "gift_cert_code": _w_text(voucher.code if voucher else None),
            "gift_cert_info": _w_text(voucher.description if voucher else None),
            "gift_cert_applied": _w_money(voucher.amount if voucher else None),
            "gift_cert_is_credit_voucher": voucher.is_credit_voucher if voucher else True,
            "shipping_option": _w_text(shipping.name),
            "shipping_cost": _w_money(shipping.cost),
            "shipping_first_name": _w_text(ship_to.first_name),
            "shipping_last_name": _w_text(ship_to.last_name),
            "shipping_phone": _w_text(ship_to.phone),
            "shipping_company": _w_text(ship_to.company),
            "shipping_address": _w_text(ship_to.line1),
            "shipping_address2": _w_text(ship_to.line2),
            "shipping_city": _w_text(ship_to.city),
            "shipping_state": _w_text(ship_to.state),
            "shipping_zip": _w_text(ship_to.postal_code),
            "shipping_country": _w_text(ship_to.country),
            "is_fulfilled": order.is_fulfilled,
            "notes": _w_text(order.notes),
        }
        for key in ("marketing_source_id", "marketing_source_choice", "marketing_source_other",
                    "admin_created", "web_order"):  # fmt: skip
            doc[key] = fields.get(key, _ORDER_FIELDS[key][1])
        doc["is_guest_checkout"] = customer.is_guest
        doc["created"] = _w_stamp(order.created_at)
        for key in ("created_ip", "created_user_id"):
            doc[key] = fields.get(key, _ORDER_FIELDS[key][1])
        doc["modified"] = _w_stamp(order.modified_at)
        doc["modified_user_id"] = fields.get("modified_user_id", None)
        doc["line_items"] = [_write_line(line, ours) for line in order.lines]
        if order.status_history:
            doc["statuses"] = _write_statuses(order.status_history, mine, ours)
        for key, value in fields.items():
            if key not in doc:
                doc[key] = value  # keys the page does not document, kept verbatim
        wire = mine.get("wire")
        if isinstance(wire, Mapping):
            _apply(doc, wire)
        return doc

    # ------------------------------------------------------------ losses

    @classmethod
    def _losses(cls, order: ob.Order) -> tuple[ob.Loss, ...]:
        """The fields set in ``order`` that a cart order document cannot hold.

        ``losses`` (the base) adds other backends' extras and merges per field.
        """
        out: list[ob.Loss] = []

        def lose(field: str, reason: str, amount: Decimal | None = None) -> None:
            out.append(ob.Loss(field, reason, amount))

        for name in ("currency", "country", "invoiced_at", "amount_paid", "amount_pending", "is_recurring",
                     "is_deleted", "has_subscriptions", "has_paid_subscription", "tracking_number",
                     "tracking_url", "parent_order_ref"):  # fmt: skip
            if getattr(order, name) is not None:
                lose(name, "the cart order has no such field")
        if order.payment_state is not None and not (
            order.payment_state == ob.PaymentState.SUCCEEDED and order.is_paid
        ):
            lose("payment_state", "the cart holds only is_paid")
        if order.custom_fields:
            lose("custom_fields", "the cart order has no custom fields")
        if order.status is not None and order.status.remote_id is not None:
            lose("status.remote_id", "the cart names statuses, it has no status ids")
        if order.billing_address is not None:
            for name in ("company", "line2"):
                if getattr(order.billing_address, name) is not None:
                    lose(f"billing_address.{name}", "the cart billing address has no such field")
        if order.shipping_address is not None and order.shipping_address.email is not None:
            lose("shipping_address.email", "the cart shipping address has no email")
        if order.shipping is not None and order.shipping.remote_id is not None:
            lose("shipping.remote_id", "the cart names shipping options, it has no ids")
        seen: set[str] = set()
        for d in order.discounts:
            if d.kind not in ("code", "rule", "shipping"):
                lose("discounts[].kind", f"the cart has no {d.kind!r} discounts",
                     None if d.amount is None else -d.amount)  # fmt: skip
                continue
            if d.kind in seen:
                lose("discounts[]", f"the cart holds one {d.kind!r} discount",
                     None if d.amount is None else -d.amount)  # fmt: skip
            seen.add(d.kind)
            if d.remote_id is not None:
                lose("discounts[].remote_id", "the cart has no discount ids")
            if d.kind != "code" and d.code is not None:
                lose("discounts[].code", f"a {d.kind!r} discount has no code in the cart")
            if d.kind == "shipping" and d.description is not None:
                lose("discounts[].description", "the cart's shipping discount has no description")
        if len(order.gift_vouchers) > 1:
            lost = sum((v.amount or Decimal(0) for v in order.gift_vouchers[1:]), Decimal(0))
            lose("gift_vouchers[]", "the cart holds one gift certificate", -lost)
        if len(order.taxes) > 1:
            lose("taxes[]", "the cart holds one tax amount: the tax lines are written summed")
        for t in order.taxes:
            for name in ("code", "rate", "remote_id", "name"):
                if getattr(t, name) is not None:
                    lose(f"taxes[].{name}", "the cart holds only a tax amount")
            if t.applies_to != ob.TaxTarget.ORDER or t.applies_to_index is not None:
                lose("taxes[].applies_to", "the cart's tax is the order's, on no part in particular")
        cls._schema2_losses(order, lose)
        if len(order.payments) > 1:
            lose("payments[]", "the cart holds one payment")
        for p in order.payments:
            for name in ("remote_id", "amount", "amount_captured", "status", "gateway_reason", "created_at"):
                if getattr(p, name) is not None:
                    lose(f"payments[].{name}", "the cart order has no such payment field")
        for line in order.lines:
            if line.attributes:
                lose("lines[].attributes", "the cart line has no attributes")
            for name in ("tax_rate", "is_download", "file_name"):
                if getattr(line, name) is not None:
                    lose(f"lines[].{name}", "the cart line has no such field")
        for change in order.status_history:
            if change.at is None:
                lose("status_history[].at", "a cart status always has a time")
        out.extend(ob.foreign_id_losses(order, BACKEND_NAME, _WRITTEN_IDS))
        return tuple(out)

    @staticmethod
    def _schema2_losses(order: ob.Order, lose: Callable[..., None]) -> None:
        """Losses among the parts schema 2 added (fees, refunds, shipping lines, metadata, line amounts)."""
        if order.fees:
            amounts = [fee.amount for fee in order.fees if fee.amount is not None]
            # A fee's tax is kept: the cart's one tax amount sums the parts' taxes (total_tax).
            lose("fees[]", "the cart holds no fees", sum(amounts, _ZERO) if amounts else None)
        if order.refunds:
            lose("refunds", "the cart holds no refunds (not part of the total: no money loss)")
        if order.metadata:
            lose("metadata", "the cart order holds no metadata")
        shipping = order.shipping_lines
        if len(shipping) > 1:
            lose("shipping_lines[1:]", "the cart holds one shipping option: written as one, "
                 "names joined and costs summed")  # fmt: skip
        if any(line.method is not None for line in shipping):
            lose("shipping_lines[].method", "the cart names a shipping option, it has no method code")
        parts: list[tuple[str, Sequence[ob.OrderLine | ob.ShippingLine]]] = [
            ("shipping_lines", shipping), ("lines", order.lines)
        ]  # fmt: skip
        for name, items in parts:
            if any(item.tax_amount is not None for item in items):
                lose(f"{name}[].tax_amount", "the cart holds one tax amount for the order")
        for line in order.lines:
            for name in ("variant_ref", "subtotal", "discount_amount"):
                if getattr(line, name) is not None:
                    lose(f"lines[].{name}", "the cart line has no such field")
            if line.metadata:
                lose("lines[].metadata", "the cart line holds no metadata")
        if order.prices_include_tax is not None and order.prices_include_tax != _reads_as_including_tax(
            order
        ):
            lose("prices_include_tax", "the cart holds no such flag; it is read from the order's arithmetic")


_WRITTEN_IDS: Final = ("customer.remote_id", "gift_vouchers[].remote_id", "lines[].product_ref")
"""The reference ids a cart document holds (``user_id``, ``gift_cert_id``, ``product_id``); the
others (status, discount, shipping, tax ids, attributes, parent order) it never holds."""


def total_tax(order: ob.Order) -> Decimal | None:
    """The order's tax as one amount (the cart's ``tax``): its tax lines' amounts summed, else the
    tax amounts of its lines, shipping lines and fees summed; ``None`` when no part says."""
    amounts = [t.amount for t in order.taxes if t.amount is not None]
    if not amounts:
        parts: list[ob.OrderLine | ob.ShippingLine | ob.Fee] = [
            *order.lines,
            *order.shipping_lines,
            *order.fees,
        ]
        amounts = [p.tax_amount for p in parts if p.tax_amount is not None]
    if not amounts:
        return None
    return amounts[0] if len(amounts) == 1 else sum(amounts, _ZERO)


def prices_include_tax(
    doc: Mapping[str, Any],
    lines: Sequence[ob.OrderLine],
    shipping: Sequence[ob.ShippingLine],
    discounts: Sequence[ob.Discount],
    tax: Decimal | None,
) -> bool | None:
    """Unverified: whether the order's prices include its tax, as its arithmetic shows.

    The page's sample adds the tax on top (``total`` 322.85 = line 289.99 +
    shipping 13.00 + tax 19.86): ``False``. ``True`` when the total is the parts
    without the tax; ``None`` when there is no tax, a part has no amount, or
    neither sum gives the total (with or without the gift certificate taken off).
    """
    total = _money(doc, "total")
    if total is None or not _nonzero(tax):
        return None
    parts = [line.total_price for line in lines] + [s.cost for s in shipping]
    if any(p is None for p in parts):
        return None
    base = sum((p for p in parts if p is not None), _ZERO) - sum(
        (d.amount for d in discounts if d.amount is not None), _ZERO
    )
    gift = _money(doc, "gift_cert_applied") or _ZERO
    assert tax is not None
    for credit in (_ZERO, gift) if gift else (_ZERO,):
        if base + tax - credit == total:
            return False
        if base - credit == total:
            return True
    return None


def _reads_as_including_tax(order: ob.Order) -> bool | None:
    """What :func:`prices_include_tax` makes of the cart document ``order`` is written as."""
    voucher = order.gift_vouchers[0] if order.gift_vouchers else None
    doc = {"total": _w_money(order.total), "gift_cert_applied": _w_money(voucher.amount if voucher else None)}
    discounts = [d for d in (_first(order.discounts, k) for k in ("code", "rule", "shipping")) if d]
    shipping = (ob.ShippingLine(cost=order.shipping.cost),) if order.shipping is not None else ()
    return prices_include_tax(doc, order.lines, shipping, discounts, total_tax(order))


def _first(discounts: Sequence[ob.Discount], kind: str) -> ob.Discount | None:
    for d in discounts:
        if d.kind == kind:
            return d
    return None


def _line_kwargs(line: ob.OrderLine) -> dict[str, Any]:
    return {
        "remote_id": line.remote_id, "product_ref": line.product_ref, "variant_ref": line.variant_ref,
        "product_name": line.product_name, "sku": line.sku, "description": line.description,
        "quantity": line.quantity, "unit_price": line.unit_price, "subtotal": line.subtotal,
        "discount_amount": line.discount_amount, "total_price": line.total_price,
        "tax_amount": line.tax_amount, "tax_rate": line.tax_rate, "attributes": line.attributes,
        "is_download": line.is_download, "file_name": line.file_name, "is_fulfilled": line.is_fulfilled,
        "metadata": line.metadata, "extras": line.extras,
    }  # fmt: skip


def _write_line(line: ob.OrderLine, ours: bool) -> dict[str, Any]:
    mine = line.extras.get(BACKEND_NAME)
    mine = mine if isinstance(mine, Mapping) else {}
    fields = mine.get("fields")
    fields = fields if isinstance(fields, Mapping) else {}
    doc: dict[str, Any] = {
        "id": line.remote_id if ours else None,
        "product_id": line.product_ref if ours else None,
        "name": _w_text(line.product_name),
        "model": fields.get("model", ""),
        "sku": _w_text(line.sku),
        "description": _w_text(line.description),
        "cost": _w_money(line.unit_price),
        "quantity": _w_quantity(line.quantity),
        "total_cost": _w_money(line.total_price),
    }
    for key in ("did_override_shipping_cost", "total_override_shipping_cost", "is_gift_certificate",
                "gift_cert_amount", "gift_cert_code"):  # fmt: skip
        doc[key] = fields.get(key, _LINE_FIELDS[key][1])
    doc["is_fulfilled"] = line.is_fulfilled
    doc["shipment_info"] = fields.get("shipment_info")
    for key, value in fields.items():
        if key not in doc:
            doc[key] = value
    wire = mine.get("wire")
    if isinstance(wire, Mapping):
        _apply(doc, wire)
    return doc


def _write_statuses(
    history: Sequence[ob.StatusChange], mine: Mapping[str, Any], ours: bool
) -> list[dict[str, Any]]:
    metas = mine.get("statuses")
    metas = metas if isinstance(metas, list) and len(metas) == len(history) else []
    canon_docs: list[dict[str, Any]] = []
    for i, change in enumerate(history):
        meta = metas[i] if metas and isinstance(metas[i], Mapping) else {}
        fields = meta.get("fields")
        fields = fields if isinstance(fields, Mapping) else {}
        doc: dict[str, Any] = {
            "id": change.remote_id if ours else None,
            "status": change.status,
            "notes": _w_text(change.notes),
            "notify_customer": change.notify_customer,
            "created": _w_stamp(change.at),
        }
        for key, (_, default) in _STATUS_FIELDS.items():
            doc[key] = fields.get(key, default)
        for key, value in fields.items():
            if key not in doc:
                doc[key] = value
        wire = meta.get("wire")
        if isinstance(wire, Mapping):
            _apply(doc, wire)
        canon_docs.append(doc)
    order = mine.get("status_order") if metas else None
    if isinstance(order, list) and sorted(order) == list(range(len(history))):
        out: list[dict[str, Any]] = [{}] * len(history)
        for canon_i, wire_i in enumerate(order):
            out[wire_i] = canon_docs[canon_i]
        return out
    return canon_docs[::-1]
