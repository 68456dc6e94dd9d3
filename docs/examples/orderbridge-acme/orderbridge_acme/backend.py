"""The ``acme`` backend: orders of an Acme Shop site, through its JSON order API.

The Acme order API (``https://api.acme-shop.example/v1``, key in ``X-Acme-Key``):

- ``GET  /orders?page=N``: 20 orders per page, oldest first, as
  ``{"orders": [...], "next": N}`` (``"next": null`` on the last page);
- ``GET  /orders/{id}``: one order;
- ``POST /orders``: create an order from a document without ``id``; answers
  201 with the order as stored (the shop fills ``id``, and ``number``,
  ``placed_at``, ``total`` and ``status`` when they are ``null``);
- ``PUT /orders/{id}``: replace an order with a document (its ``id`` as in the
  path, or absent); answers 200 with the order as stored;
- ``DELETE /orders/{id}``: delete an order; answers 204.

An order document::

    {"id": "1001", "number": "A-1001", "status": "paid", "currency": "EUR",
     "placed_at": "2024-03-05T14:22:10+01:00", "total": "41.00",
     "customer": {"email": "ada@example.com", "name": "Ada Lovelace"},
     "lines": [{"sku": "MUG-01", "title": "Mug", "qty": 3, "price": "12.50"}],
     "fees": [{"name": "Gift wrap", "amount": "3.50"}],
     "refunds": [{"id": "R-1", "amount": "12.50", "reason": "broken",
                  "refunded_at": "2024-03-07 10:15:00", "refunded_at_gmt": "2024-03-07 09:15:00"}],
     "gift_wrap": true}

A refund's time is a pair: ``refunded_at`` in the shop's local time, naive, and
``refunded_at_gmt`` the same moment in UTC (``null`` on refunds made before the
shop recorded it); the shop's zone is the ``site_timezone`` option.

Translation (:meth:`AcmeBackend.to_canonical`, :meth:`AcmeBackend.from_canonical`)
is pure; the client methods below it do the I/O through :class:`orderbridge.Transport`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timezone, tzinfo
from decimal import Decimal
from typing import Any, ClassVar, Final
from urllib.parse import quote
from zoneinfo import ZoneInfo

import attrs

import orderbridge as ob

__all__ = ["API_KEY_ENV", "BACKEND_NAME", "DEFAULT_BASE_URL", "AcmeBackend", "AcmeOptions"]

BACKEND_NAME: Final = "acme"
"""The registry name: ``orderbridge.connect("acme", ...)``."""
DEFAULT_BASE_URL: Final = "https://api.acme-shop.example/v1"
"""Where the Acme order API lives."""
API_KEY_ENV: Final = "ACME_API_KEY"
"""Environment variable read for the API key when none is passed."""

# --8<-- [start:shape]
ORDER_KEYS: Final = (
    "id", "number", "status", "currency", "placed_at", "total", "customer", "lines", "fees", "refunds",
    "gift_wrap",
)  # fmt: skip
"""The keys of an order document; every one is always present (some may be ``null``)."""
CUSTOMER_KEYS: Final = ("email", "name")
LINE_KEYS: Final = ("sku", "title", "qty", "price")
FEE_KEYS: Final = ("name", "amount")
REFUND_KEYS: Final = ("id", "amount", "reason", "refunded_at", "refunded_at_gmt")

# Canonical fields an Acme document has no place for (checked by ``losses``).
_ORDER_LOST: Final = (
    "name", "country", "prices_include_tax", "status_history", "payment_state", "invoiced_at",
    "modified_at", "amount_paid", "amount_pending", "is_paid", "is_fulfilled", "is_recurring",
    "is_deleted", "has_subscriptions", "has_paid_subscription", "tracking_number", "tracking_url",
    "transaction_id", "parent_order_ref", "billing_address", "shipping_address", "shipping_lines",
    "discounts", "gift_vouchers", "taxes", "payments", "notes", "customer_note", "metadata",
    "custom_fields",
)  # fmt: skip
_CUSTOMER_LOST: Final = ("remote_id", "phone", "is_guest")
_LINE_LOST: Final = (
    "remote_id", "product_ref", "variant_ref", "description", "subtotal", "discount_amount",
    "tax_amount", "tax_rate", "attributes", "is_download", "file_name", "is_fulfilled", "metadata",
)  # fmt: skip
_FEE_LOST: Final = ("tax_rate", "remote_id")
_REFUND_LOST: Final = ("lines",)
# --8<-- [end:shape]


# --8<-- [start:readers]
def _field(doc: Mapping[str, Any], key: str) -> Any:
    """``doc[key]``; a missing key is an invalid document (the API always sends every key)."""
    if key not in doc:
        raise ob.InvalidOrder("missing", field=key)
    return doc[key]


def _text(doc: Mapping[str, Any], key: str) -> str | None:
    value = _field(doc, key)
    if value is not None and not isinstance(value, str):
        raise ob.InvalidOrder(f"must be a string, got {type(value).__name__}", field=key)
    return value


def _required_text(doc: Mapping[str, Any], key: str) -> str:
    value = _text(doc, key)
    if value is None:
        raise ob.InvalidOrder("must not be null", field=key)
    return value


def _amount(doc: Mapping[str, Any], key: str) -> Decimal | None:
    """A money string such as ``"12.50"``: exact, and written back exactly as sent."""
    text = _text(doc, key)
    if text is None:
        return None
    try:
        value = ob.parse_decimal(text)
    except ValueError as exc:
        raise ob.InvalidOrder(str(exc), field=key) from None
    if format(value, "f") != text:
        raise ob.InvalidOrder(f"must be a plain decimal like '12.50', got {text!r}", field=key)
    return value


def _timestamp(doc: Mapping[str, Any], key: str) -> datetime | None:
    """An ISO 8601 time with its offset, ``YYYY-MM-DDTHH:MM:SS+HH:MM``."""
    text = _text(doc, key)
    if text is None:
        return None
    try:
        value = ob.parse_aware_datetime(text)
    except ValueError as exc:
        raise ob.InvalidOrder(str(exc), field=key) from None
    if value.isoformat() != text:
        raise ob.InvalidOrder(f"must look like 2024-03-05T14:22:10+01:00, got {text!r}", field=key)
    return value


def _local_time(doc: Mapping[str, Any], key: str, zone: tzinfo) -> tuple[datetime | None, bool]:
    """A time given twice: ``key`` naive in the shop's zone, ``key + "_gmt"`` naive in UTC.

    The UTC text fixes the instant and the pair gives the offset, so no zone is
    guessed; only a local time without its UTC twin is read in ``zone`` (the
    ``site_timezone`` option). Returns the time and whether the UTC twin was sent.
    """
    local, gmt = _text(doc, key), _text(doc, key + "_gmt")
    if local is None:
        if gmt is not None:
            raise ob.InvalidOrder(f"is set but {key} is null", field=key + "_gmt")
        return None, False
    naive = _naive(local, key)
    if gmt is None:
        return naive.replace(tzinfo=zone), False
    offset = naive - _naive(gmt, key + "_gmt")
    try:
        return naive.replace(tzinfo=timezone(offset)), True
    except ValueError:  # an "offset" of a day or more: two times that are no pair
        raise ob.InvalidOrder(f"is {offset} away from {key}", field=key + "_gmt") from None


def _naive(text: str, key: str) -> datetime:
    try:
        value = datetime.strptime(text, _LOCAL_FORMAT)
    except ValueError:
        raise ob.InvalidOrder(f"must look like 2024-03-07 10:15:00, got {text!r}", field=key) from None
    return value


def _object(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ob.InvalidOrder(f"must be an object, got {type(value).__name__}", field=key)
    return value


def _list(doc: Mapping[str, Any], key: str) -> list[Any]:
    value = _field(doc, key)
    if not isinstance(value, list):
        raise ob.InvalidOrder("must be a list", field=key)
    return value


def _label(doc: Any) -> str:
    """How an error names the order: its id, else ``"?"``."""
    value = doc.get("id") if isinstance(doc, Mapping) else None
    return value if isinstance(value, str) and value else "?"


# --8<-- [end:readers]


_LOCAL_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
"""How the shop writes a local (naive) time and its UTC twin."""


def _money_lost(order: ob.Order) -> dict[str, Decimal]:
    """The money of ``order`` in fields Acme cannot hold, signed as it counts towards the total."""
    lost: dict[str, Decimal] = {}
    for name, sign in (("shipping_lines", 1), ("discounts", -1), ("gift_vouchers", -1), ("taxes", 1)):
        amounts = [_money_of(part) for part in getattr(order, name)]
        if any(amount is not None for amount in amounts):
            lost[name] = sign * sum((a for a in amounts if a is not None), Decimal(0))
    # Acme holds a fee's amount, not its tax: that tax is part of the total unless prices include it.
    fee_tax = [fee.tax_amount for fee in order.fees if fee.tax_amount is not None]
    if fee_tax and order.prices_include_tax is not True:
        lost["fees[].tax_amount"] = sum(fee_tax, Decimal(0))
    return lost


def _money_of(part: ob.ShippingLine | ob.Discount | ob.GiftVoucher | ob.TaxLine) -> Decimal | None:
    return part.cost if isinstance(part, ob.ShippingLine) else part.amount


def _path(remote_id: str) -> str:
    """An order's path, its id quoted: an id never changes the path."""
    return "orders/" + quote(remote_id, safe="")


def _write_amount(value: Decimal | None) -> str | None:
    """An amount as the shop writes it: plain decimal text with its digits (``"12.50"``)."""
    return format(value, "f") if value is not None else None


def _order_id(doc: Any) -> int | None:
    """An Acme id as a number ("1042" -> 1042): the list is sorted by it."""
    ident = doc.get("id") if isinstance(doc, Mapping) else None
    return int(ident) if isinstance(ident, str) and ident.isdigit() else None


# --8<-- [start:options]
@attrs.frozen(kw_only=True)
class AcmeOptions:
    """The options of ``acme``: read strictly from ``connect()``, TOML and ``--option``."""

    base_url: ob.HttpUrl = ob.option(ob.HttpUrl(DEFAULT_BASE_URL), doc="the Acme order API's URL")
    api_key: str | None = ob.option(None, secret=True, doc=f"the API key (default: ${API_KEY_ENV})")
    timeout: ob.Timeout = ob.option((5.0, 30.0), doc="seconds to connect and to read an answer")
    max_retries: int = ob.option(4, doc="retries of a request that failed transiently")
    rate_limit: float | None = ob.option(None, doc="requests per second at most (none: no limit)")
    allow_http: bool = ob.option(False, doc="allow plain http to a host that is not loopback")
    site_timezone: ob.TimeZone = ob.option(
        ob.TimeZone("UTC"), doc="the shop's time zone (IANA name), for local times sent without UTC"
    )
    sleep: Callable[[float], None] = ob.option(time.sleep, python_only=True, doc="how to wait (tests)")
    transport: ob.Transport | None = ob.option(None, python_only=True, doc="a ready orderbridge.Transport")


# --8<-- [end:options]


class AcmeBackend(ob.Backend):
    """An Acme Shop site: list, get and create orders; options in :class:`AcmeOptions`."""

    # --8<-- [start:class]
    name: ClassVar[str] = BACKEND_NAME
    description: ClassVar[str] = "Acme Shop order API (read, create, update, delete orders)"
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {ob.Capability.READ, ob.Capability.CREATE, ob.Capability.UPDATE, ob.Capability.DELETE}
    )
    natural_key_fields: ClassVar[tuple[str, ...]] = ("number",)
    # --8<-- [end:class]

    # ------------------------------------------------------------ translation

    # --8<-- [start:to_canonical]
    @classmethod
    def to_canonical(cls, doc: Mapping[str, Any], *, zone: tzinfo = UTC) -> ob.Order:
        """An Acme order document (as ``GET /orders/{id}`` returns it) as a canonical order.

        Pure. ``zone`` is the shop's time zone, for a local time sent without
        its UTC twin (a connected backend passes its ``site_timezone``). A wrong
        value raises :class:`orderbridge.InvalidOrder` naming the order (its id,
        or ``"?"``) and the wire field (``"lines[0].price"``).
        """
        try:
            return cls._read(_object(doc, "order"), zone)
        except ob.InvalidOrder as exc:
            raise exc.within(order=_label(doc)) from None

    @classmethod
    def _read(cls, doc: Mapping[str, Any], zone: tzinfo) -> ob.Order:
        remote_id = _required_text(doc, "id")
        status = _text(doc, "status")
        lines = _list(doc, "lines")
        fees = _list(doc, "fees")
        refunds = _list(doc, "refunds")
        gift_wrap = _field(doc, "gift_wrap")
        if not isinstance(gift_wrap, bool):
            raise ob.InvalidOrder("must be true or false", field="gift_wrap")
        # What the model has no field for goes to the extras, under the backend's name.
        mine: dict[str, Any] = {"gift_wrap": gift_wrap}
        unknown = {key: value for key, value in doc.items() if key not in ORDER_KEYS}
        if unknown:
            mine["unknown"] = unknown  # keys a newer API version added: kept verbatim
        return ob.Order(
            source=ob.SourceRef(BACKEND_NAME, remote_id),
            number=_text(doc, "number"),
            status=ob.OrderStatus(name=status) if status is not None else None,
            currency=_text(doc, "currency"),
            created_at=_timestamp(doc, "placed_at"),
            total=_amount(doc, "total"),
            customer=cls._read_customer(_field(doc, "customer")),
            lines=[cls._read_line(line, i) for i, line in enumerate(lines)],
            fees=[cls._read_fee(fee, i) for i, fee in enumerate(fees)],
            refunds=[cls._read_refund(refund, i, zone) for i, refund in enumerate(refunds)],
            extras={BACKEND_NAME: mine},
        )

    @staticmethod
    def _read_customer(value: Any) -> ob.Customer | None:
        try:
            doc = _object(value, "")
            email, name = _text(doc, "email"), _text(doc, "name")
        except ob.InvalidOrder as exc:
            raise exc.within(prefix="customer") from None
        if email is None and name is None:
            return None
        # One "name" on the wire, two fields in the model: split at the first
        # space, so that joining them again gives back exactly the same text.
        first, space, last = name.partition(" ") if name is not None else (None, "", None)
        return ob.Customer(email=email, first_name=first, last_name=last if space else None)

    @staticmethod
    def _read_line(value: Any, index: int) -> ob.OrderLine:
        try:
            doc = _object(value, "")
            qty = _field(doc, "qty")
            if not isinstance(qty, int) or isinstance(qty, bool) or qty < 0:
                raise ob.InvalidOrder(f"must be a whole number >= 0, got {qty!r}", field="qty")
            price = _amount(doc, "price")
            if price is None:
                raise ob.InvalidOrder("must not be null", field="price")
            unknown = {key: item for key, item in doc.items() if key not in LINE_KEYS}
            return ob.OrderLine(
                sku=_text(doc, "sku"),
                product_name=_required_text(doc, "title"),
                quantity=Decimal(qty),
                unit_price=price,
                extras={BACKEND_NAME: {"unknown": unknown}} if unknown else {},
            )
        except ob.InvalidOrder as exc:
            raise exc.within(prefix=f"lines[{index}]") from None

    # --8<-- [end:to_canonical]

    # --8<-- [start:read_parts]
    @staticmethod
    def _read_fee(value: Any, index: int) -> ob.Fee:
        try:
            doc = _object(value, "")
            return ob.Fee(name=_text(doc, "name"), amount=_amount(doc, "amount"))  # signed: "-2.00" a credit
        except ob.InvalidOrder as exc:
            raise exc.within(prefix=f"fees[{index}]") from None

    @staticmethod
    def _read_refund(value: Any, index: int, zone: tzinfo) -> ob.Refund:
        try:
            doc = _object(value, "")
            at, paired = _local_time(doc, "refunded_at", zone)
            return ob.Refund(
                remote_id=_text(doc, "id"),
                amount=_amount(doc, "amount"),
                reason=_text(doc, "reason"),
                at=at,
                # A local time sent alone is written back alone (the round trip is exact).
                extras={} if paired or at is None else {BACKEND_NAME: {"local_only": True}},
            )
        except ob.InvalidOrder as exc:
            raise exc.within(prefix=f"refunds[{index}]") from None

    # --8<-- [end:read_parts]

    # --8<-- [start:from_canonical]
    @classmethod
    def from_canonical(cls, order: ob.Order, *, zone: tzinfo | None = None) -> dict[str, Any]:
        """A canonical order as an Acme order document, the shape ``to_canonical`` reads. Pure.

        ``from_canonical(to_canonical(doc)) == doc`` for every valid document.
        An order from another platform gets ``"id": null`` (the shop assigns
        one on create); an Acme site cannot hold a fractional quantity or a
        line without a price, so those raise :class:`orderbridge.InvalidOrder`.
        Local times are written in ``zone`` (the shop's), or where ``None`` in
        each time's own offset.
        """
        source, mine = order.source, order.extras_for(BACKEND_NAME)
        doc: dict[str, Any] = {
            "id": source.remote_id if source is not None and source.backend == BACKEND_NAME else None,
            "number": order.number,
            "status": order.status.name if order.status is not None else None,
            "currency": order.currency,
            "placed_at": order.created_at.isoformat() if order.created_at is not None else None,
            "total": _write_amount(order.total),
            "customer": cls._write_customer(order.customer),
            "lines": [cls._write_line(line, i, order.label) for i, line in enumerate(order.lines)],
            "fees": [{"name": fee.name, "amount": _write_amount(fee.amount)} for fee in order.fees],
            "refunds": [cls._write_refund(refund, zone) for refund in order.refunds],
            "gift_wrap": mine.get("gift_wrap", False),
        }
        doc.update(mine.get("unknown", {}))
        return doc

    @staticmethod
    def _write_customer(customer: ob.Customer | None) -> dict[str, Any]:
        if customer is None:
            return {"email": None, "name": None}
        parts = [p for p in (customer.first_name, customer.last_name) if p is not None]
        return {"email": customer.email, "name": " ".join(parts) if parts else None}

    @staticmethod
    def _write_line(line: ob.OrderLine, index: int, label: str) -> dict[str, Any]:
        if line.quantity != line.quantity.to_integral_value():
            raise ob.InvalidOrder(
                f"Acme holds whole quantities only, got {line.quantity}",
                field=f"lines[{index}].quantity", order=label,
            )  # fmt: skip
        if line.unit_price is None:
            raise ob.InvalidOrder("Acme needs a unit price", field=f"lines[{index}].unit_price", order=label)
        doc: dict[str, Any] = {
            "sku": line.sku,
            "title": line.product_name if line.product_name is not None else "",
            "qty": int(line.quantity),
            "price": format(line.unit_price, "f"),
        }
        doc.update(line.extras.get(BACKEND_NAME, {}).get("unknown", {}))
        return doc

    @staticmethod
    def _write_refund(refund: ob.Refund, zone: tzinfo | None) -> dict[str, Any]:
        local = gmt = None
        if refund.at is not None:
            at = refund.at.astimezone(zone) if zone is not None else refund.at
            local = at.strftime(_LOCAL_FORMAT)
            if not refund.extras.get(BACKEND_NAME, {}).get("local_only"):
                gmt = at.astimezone(UTC).strftime(_LOCAL_FORMAT)
        return {
            "id": refund.remote_id,
            "amount": _write_amount(refund.amount),
            "reason": refund.reason,
            "refunded_at": local,
            "refunded_at_gmt": gmt,
        }

    # --8<-- [end:from_canonical]

    # --8<-- [start:losses]
    @classmethod
    def _losses(cls, order: ob.Order) -> Iterator[ob.Loss]:
        """What a write of ``order`` to Acme cannot keep (never the values).

        The base class's ``losses()`` calls this and adds every other
        backend's extras (``extras.shopx``...): Acme documents hold none.
        """
        reason = "Acme orders have no such field"
        money = _money_lost(order)
        for name in _ORDER_LOST:
            if getattr(order, name) not in (None, (), {}):
                # Money an Acme order cannot hold is a money loss: it carries the amount.
                yield ob.Loss(name, reason, money.get(name))
        for fee in order.fees:
            if fee.tax_amount is not None:
                yield ob.Loss(
                    "fees[].tax_amount", "Acme holds a fee's amount only", money.get("fees[].tax_amount")
                )
            for name in _FEE_LOST:
                if getattr(fee, name) is not None:
                    yield ob.Loss(f"fees[].{name}", "Acme holds a fee's name and amount only")
        for refund in order.refunds:
            for name in _REFUND_LOST:
                if getattr(refund, name):
                    # Not a money loss: a refund is money given back, no part of the order's total.
                    yield ob.Loss(f"refunds[].{name}", "Acme holds a refund's amount, not what it covers")
        if order.status is not None and order.status.remote_id is not None:
            yield ob.Loss("status.remote_id", reason)
        if order.customer is not None:
            for name in _CUSTOMER_LOST:
                if getattr(order.customer, name) is not None:
                    yield ob.Loss(f"customer.{name}", reason)
        for line in order.lines:
            for name in _LINE_LOST:
                if getattr(line, name) not in (None, ()):
                    yield ob.Loss(f"lines[].{name}", reason)
            # Acme computes a line's total itself: only a total that disagrees is lost.
            if line.total_price is not None and line.total_price != line.quantity * (line.unit_price or 0):
                yield ob.Loss("lines[].total_price", reason)

    # --8<-- [end:losses]

    # ------------------------------------------------------------ the client

    # --8<-- [start:init]
    Options = AcmeOptions
    options: AcmeOptions

    def __init__(self, options: AcmeOptions | None = None, /, **values: Any) -> None:
        """Connect with :attr:`Options`, or keyword options read strictly through it."""
        super().__init__(options, **values)  # sets self.options, or raises OptionError
        o = self.options
        self.zone = ZoneInfo(o.site_timezone)  # checked by the option's type: a known IANA name
        self._owns_transport = o.transport is None
        if o.transport is not None:
            self.transport = o.transport
            return
        key = o.api_key if o.api_key is not None else os.environ.get(API_KEY_ENV)
        if not key:
            raise ob.ConfigurationError(f"acme needs api_key or the {API_KEY_ENV} environment variable")
        self.transport = ob.Transport(
            o.base_url,
            auth=ob.ApiKeyAuth(key, header="X-Acme-Key", prefix=""),  # sends "X-Acme-Key: <key>"
            timeout=o.timeout,
            max_retries=o.max_retries,
            rate_limit=o.rate_limit,
            allow_http=o.allow_http,
            sleep=o.sleep,
        )

    # --8<-- [end:init]

    # --8<-- [start:read]
    def _iter_documents(self, **filters: Any) -> Iterator[Any]:
        """Every order document, page by page; the base class translates each one.

        One bad document becomes one failed record, never an aborted walk, and
        ``orderbridge.PageNumberPaginator`` stops a ``next`` that repeats or stalls.
        """
        if filters:
            raise ob.ConfigurationError(f"the acme backend takes no filters, got {sorted(filters)}")
        pager = ob.PageNumberPaginator(self._page, key=_order_id)
        self.paging_stats = pager.stats
        return iter(pager)

    def _page(self, page: int) -> tuple[list[Any], int | None]:
        answer = self.transport.get("orders", params={"page": page})
        if not isinstance(answer, Mapping) or not isinstance(answer.get("orders"), list):
            url = f"{self.transport.base_url}/orders?page={page}"
            raise ob.MalformedResponse("list answer has no 'orders' list", method="GET", url=url)
        following = answer.get("next")
        return answer["orders"], following if type(following) is int else None

    def _get_document(self, remote_id: str) -> Any:
        return self.transport.get(_path(remote_id))

    def _decode_document(self, doc: Any) -> ob.Order:
        """A document as this shop's: local times without a UTC twin are in its ``site_timezone``."""
        return self.to_canonical(doc, zone=self.zone)

    def document_id(self, doc: Any) -> str | None:
        """The document's ``id`` (named in the error of a document that does not translate)."""
        ident = doc.get("id") if isinstance(doc, Mapping) else None
        return ident if isinstance(ident, str) else None

    # --8<-- [end:read]

    # --8<-- [start:create]
    def _create_order(self, order: ob.Order, *, journal: ob.WriteJournal | None = None) -> ob.Order:
        body = self.from_canonical(order, zone=self.zone)
        del body["id"]  # the shop assigns it
        # One POST; the transport never repeats it blindly. If the answer is lost,
        # AmbiguousWrite tells the engine to look the order up by its number first.
        answer = self.transport.post("orders", json=body, expected=(201,))
        return self.decode(answer)

    # --8<-- [end:create]

    # --8<-- [start:update]
    def _update_order(
        self, remote_id: str, order: ob.Order, *, journal: ob.WriteJournal | None = None
    ) -> ob.Order:
        # Acme replaces a whole order in one PUT: what differs is simply sent again.
        # A PUT is idempotent, so the transport may repeat it after a lost answer.
        body = self.from_canonical(order, zone=self.zone)
        body["id"] = remote_id
        return self.decode(self.transport.put(_path(remote_id), json=body))

    def _delete_order(self, remote_id: str) -> None:
        self.transport.delete(_path(remote_id), expected=(204,))

    def decode(self, doc: Any) -> ob.Order:
        """The shop's answer to a write, as an order (raises its ``InvalidOrder`` if it is bad)."""
        record = self.decode_record(doc)
        if isinstance(record, ob.InvalidOrder):
            raise record
        return record

    # --8<-- [end:update]

    def close(self) -> None:
        """Close the transport if this backend made it."""
        if self._owns_transport:
            self.transport.close()

    def __repr__(self) -> str:
        return f"<AcmeBackend {self.transport.base_url!r}>"
