"""The ``acme`` backend: orders of an Acme Shop site, through its JSON order API.

The Acme order API (``https://api.acme-shop.example/v1``, key in ``X-Acme-Key``):

- ``GET  /orders?page=N``: 20 orders per page, oldest first, as
  ``{"orders": [...], "next": N}`` (``"next": null`` on the last page);
- ``GET  /orders/{id}``: one order;
- ``POST /orders``: create an order from a document without ``id``; answers
  201 with the order as stored (the shop fills ``id``, and ``number``,
  ``placed_at``, ``total`` and ``status`` when they are ``null``).

An order document::

    {"id": "1001", "number": "A-1001", "status": "paid", "currency": "EUR",
     "placed_at": "2024-03-05T14:22:10+01:00", "total": "37.50",
     "customer": {"email": "ada@example.com", "name": "Ada Lovelace"},
     "lines": [{"sku": "MUG-01", "title": "Mug", "qty": 3, "price": "12.50"}],
     "gift_wrap": false}

Translation (:meth:`AcmeBackend.to_canonical`, :meth:`AcmeBackend.from_canonical`)
is pure; the client methods below it do the I/O through :class:`orderbridge.Transport`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Final
from urllib.parse import quote

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
    "id", "number", "status", "currency", "placed_at", "total", "customer", "lines", "gift_wrap",
)  # fmt: skip
"""The keys of an order document; every one is always present (some may be ``null``)."""
CUSTOMER_KEYS: Final = ("email", "name")
LINE_KEYS: Final = ("sku", "title", "qty", "price")

# Canonical fields an Acme document has no place for (checked by ``losses``).
_ORDER_LOST: Final = (
    "name", "country", "status_history", "payment_state", "invoiced_at", "modified_at",
    "amount_paid", "amount_pending", "is_paid", "is_fulfilled", "is_recurring", "is_deleted",
    "has_subscriptions", "has_paid_subscription", "tracking_number", "tracking_url",
    "transaction_id", "parent_order_ref", "billing_address", "shipping_address", "shipping",
    "discounts", "gift_vouchers", "taxes", "payments", "notes", "customer_note", "custom_fields",
)  # fmt: skip
_CUSTOMER_LOST: Final = ("remote_id", "phone", "is_guest")
_LINE_LOST: Final = (
    "remote_id", "product_ref", "description", "tax_rate", "attributes", "is_download", "file_name",
    "is_fulfilled",
)  # fmt: skip
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


def _object(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ob.InvalidOrder(f"must be an object, got {type(value).__name__}", field=key)
    return value


def _label(doc: Any) -> str:
    """How an error names the order: its id, else ``"?"``."""
    value = doc.get("id") if isinstance(doc, Mapping) else None
    return value if isinstance(value, str) and value else "?"


# --8<-- [end:readers]


def _money_lost(order: ob.Order) -> dict[str, Decimal]:
    """The money of ``order`` in fields Acme cannot hold, signed as it counts towards the total."""
    lost: dict[str, Decimal] = {}
    if order.shipping is not None and order.shipping.cost:
        lost["shipping"] = order.shipping.cost
    for name, sign in (("discounts", -1), ("gift_vouchers", -1), ("taxes", 1)):
        amounts = [part.amount for part in getattr(order, name) if part.amount is not None]
        if amounts:
            lost[name] = sign * sum(amounts, Decimal(0))
    return lost


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
    sleep: Callable[[float], None] = ob.option(time.sleep, python_only=True, doc="how to wait (tests)")
    transport: ob.Transport | None = ob.option(None, python_only=True, doc="a ready orderbridge.Transport")


# --8<-- [end:options]


class AcmeBackend(ob.Backend):
    """An Acme Shop site: list, get and create orders; options in :class:`AcmeOptions`."""

    # --8<-- [start:class]
    name: ClassVar[str] = BACKEND_NAME
    description: ClassVar[str] = "Acme Shop order API (read and create orders)"
    capabilities: ClassVar[frozenset[str]] = frozenset({ob.Capability.READ, ob.Capability.CREATE})
    natural_key_fields: ClassVar[tuple[str, ...]] = ("number",)
    # --8<-- [end:class]

    # ------------------------------------------------------------ translation

    # --8<-- [start:to_canonical]
    @classmethod
    def to_canonical(cls, doc: Mapping[str, Any]) -> ob.Order:
        """An Acme order document (as ``GET /orders/{id}`` returns it) as a canonical order.

        Pure. A wrong value raises :class:`orderbridge.InvalidOrder` naming the
        order (its id, or ``"?"``) and the wire field (``"lines[0].price"``).
        """
        try:
            return cls._read(_object(doc, "order"))
        except ob.InvalidOrder as exc:
            raise exc.within(order=_label(doc)) from None

    @classmethod
    def _read(cls, doc: Mapping[str, Any]) -> ob.Order:
        remote_id = _required_text(doc, "id")
        status = _text(doc, "status")
        lines = _field(doc, "lines")
        if not isinstance(lines, list):
            raise ob.InvalidOrder("must be a list", field="lines")
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

    # --8<-- [start:from_canonical]
    @classmethod
    def from_canonical(cls, order: ob.Order) -> dict[str, Any]:
        """A canonical order as an Acme order document, the shape ``to_canonical`` reads. Pure.

        ``from_canonical(to_canonical(doc)) == doc`` for every valid document.
        An order from another platform gets ``"id": null`` (the shop assigns
        one on create); an Acme site cannot hold a fractional quantity or a
        line without a price, so those raise :class:`orderbridge.InvalidOrder`.
        """
        source, mine = order.source, order.extras_for(BACKEND_NAME)
        doc: dict[str, Any] = {
            "id": source.remote_id if source is not None and source.backend == BACKEND_NAME else None,
            "number": order.number,
            "status": order.status.name if order.status is not None else None,
            "currency": order.currency,
            "placed_at": order.created_at.isoformat() if order.created_at is not None else None,
            "total": format(order.total, "f") if order.total is not None else None,
            "customer": cls._write_customer(order.customer),
            "lines": [cls._write_line(line, i, order.label) for i, line in enumerate(order.lines)],
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
        return self.transport.get("orders/" + quote(remote_id, safe=""))

    def document_id(self, doc: Any) -> str | None:
        """The document's ``id`` (named in the error of a document that does not translate)."""
        ident = doc.get("id") if isinstance(doc, Mapping) else None
        return ident if isinstance(ident, str) else None

    # --8<-- [end:read]

    # --8<-- [start:create]
    def _create_order(self, order: ob.Order, *, journal: ob.WriteJournal | None = None) -> ob.Order:
        body = self.from_canonical(order)
        del body["id"]  # the shop assigns it
        # One POST; the transport never repeats it blindly. If the answer is lost,
        # AmbiguousWrite tells the engine to look the order up by its number first.
        answer = self.transport.post("orders", json=body, expected=(201,))
        return self.to_canonical(answer)

    # --8<-- [end:create]

    def close(self) -> None:
        """Close the transport if this backend made it."""
        if self._owns_transport:
            self.transport.close()

    def __repr__(self) -> str:
        return f"<AcmeBackend {self.transport.base_url!r}>"
