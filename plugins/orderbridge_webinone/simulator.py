"""A local WebinOne site: the v1 legacy and v2 admin order APIs over one in-memory store.

Written from the WebinOne API pages (``specs/webinone-*.txt``) and the wire
assumptions, not from any client, so that it checks the client independently.

Behaviour (where the pages are silent, the choice is marked *assumed*):

- OAuth: ``POST /api/v1/oauth/token`` takes form fields ``grant_type=client_credentials``,
  ``client_id``, ``client_secret`` (HTTP Basic also accepted) and answers
  ``{"access_token", "token_type": "Bearer", "expires_in"}``; bad credentials: 401
  ``{"error": "invalid_client"}``. Every other path needs ``Authorization: Bearer <token>``
  with a token that has not expired (``token_ttl`` seconds, measured on the injectable
  clock), else 401 with ``WWW-Authenticate: Bearer``.
- Errors: ``{"Message": "...", "Errors": ["Field: problem", ...]}``; 400 for a body
  or query that is wrong (bad JSON, wrong type, missing required field, an id not in
  the site's catalogs), 404 for an unknown order/line/payment id (or a non-numeric
  one), 415 when a write body is not ``application/json``. DELETE answers 204, no body.
- Creates (``POST`` orders, order lines, payments) answer **201** with the full order
  (*assumed*; the pages show only the body). A created order without them gets
  ``InvoiceNumber`` = the site's next invoice number, ``InvoiceDate`` = its creation
  time, ``StatusId`` = the catalog's first status ("New"), ``PaymentState`` ``"None"``;
  a payment without ``PaymentType`` is ``"Other"``, without ``CreatedDateTime`` now.
- Writes are partial: keys present are applied (``null`` clears a nullable field), keys
  absent are left alone, keys the page does not list for that endpoint are ignored like
  an ASP.NET model binder does (``strict_fields=True`` rejects them with 400 instead).
  An ``Id``/``OrderId`` in a body must match the path. Ids may be numbers or digit
  strings (the pages show ``"StatusId": "string"``); money and quantities must be JSON
  numbers; amounts are rounded to cents half up. ``PaymentState`` must be one of
  :data:`~orderbridge_webinone.generator.PAYMENT_STATES`, ``PaymentType`` one of
  :data:`~orderbridge_webinone.generator.PAYMENT_TYPES`.
- Not settable through the API (as on the pages): ``CreatedDateTime`` of a v2 order
  (the server's clock; v1 PUT may change it), line ``EntityType``/``ModuleId``/
  ``FileName``/``IsDownload`` (line PUT cannot change ``Attributes`` either), payment
  ``Status``/``GatewayReason``/``TransactionId``, ``IsRecurring``, subscriptions.
  A v2 payment created through the API is ``Status: "Succeeded"``, ``AmountCaptured =
  Amount``, ``PaymentGatewayType: "None"``; a payment PUT keeps ``AmountCaptured``
  equal to ``Amount`` for a succeeded payment.
- Asset PUTs (``discount-code``, ``gift-voucher``, ``shipping``, ``tax``) set the catalog
  entry; ``null`` or ``0`` clears it (*assumed*).
- ``PUT .../custom-crm-groups`` merges field by field: groups and fields not in the body
  stay (*assumed*); values must be JSON scalars.
- Lists: ``Where`` (v1 ``where``) is a JSON object of equalities on ``Id``,
  ``InvoiceNumber``, ``StatusId``, ``MemberId`` or ``PaymentState`` (payments: ``Id``,
  ``Status``, ``PaymentType``); anything else is a 400. ``Order_By``: ``Id``,
  ``InvoiceNumber`` (payments: ``Id``, ``CreatedDateTime``), ``-`` for descending.
  ``Limit`` defaults to 100 and is capped at :data:`MAX_LIMIT` (silently, *assumed*);
  ``TotalItemsCount`` counts the whole filtered set. Query names match case-insensitively.
- v1 ``fields`` selects nested parts (``Status,Member,...``); without ``fields`` a list
  item has only the scalar fields (*assumed*); an unknown part is a 400. The single-order
  v1 answers (GET item, PUT) carry every part and ``Member.Id`` as a string, as on the page.
- Deletion depends on the ``soft_delete`` knob. ``False`` (the default): deletion is
  real, the order leaves the lists and answers 404 afterwards (``IsDeleted`` is always
  ``false``). ``True``: the order is only marked deleted; it stays in list pages and
  single GETs (v1 and v2; v2 shows ``"IsDeleted": true``, the v1 shape has no such
  field), its lines and payments stay readable, a second DELETE answers 404 and every
  write to it (order PUT v1/v2, ``custom-crm-groups``, asset PUTs, line and payment
  POST/PUT/DELETE) answers 404 (both *assumed*; the pages show only the flag).
- Catalogs (*assumed*: the pages have no such endpoint): ``GET`` of each path of
  :data:`CATALOG_PATHS` lists the site's statuses, members, discount codes, gift
  vouchers, shipping options and tax codes, paged by ``Offset``/``Limit`` in the
  ``Items``/``TotalItemsCount`` envelope, ordered by ``Id`` (a bearer token needed).
- An order without a member answers ``"MemberId": null, "Member": null`` (*assumed*); one
  without discount/voucher/tax/shipping option shows that part with ``null`` code/name
  and cost ``0.00``, as on the v1 sample.

Pricing rule, id sequence and generated data: see :mod:`orderbridge_webinone.generator`.
Filtering a large seeded site by anything but ``Id``/``InvoiceNumber`` generates every
order and is slow (about 6 s per 100,000 orders); paging by ``Id`` is cheap.
"""

from __future__ import annotations

import bisect
import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

import orderbridge as ob
from orderbridge.sandbox import HttpError, Request, Response, Simulator, empty, json_response, route
from orderbridge_webinone.generator import (
    ID_STRIDE,
    PAYMENT_STATES,
    PAYMENT_TYPES,
    V1_PARTS,
    Catalog,
    LineRecord,
    OrderRecord,
    PaymentRecord,
    SiteProfile,
    make_catalog,
    make_order,
    money,
    render_line,
    render_payment,
    render_v1,
    render_v2,
)

__all__ = ["CATALOG_PATHS", "DEFAULT_LIMIT", "MAX_LIMIT", "TOKEN_PATH", "WebinOneSimulator"]

TOKEN_PATH: Final = "/api/v1/oauth/token"  # noqa: S105 - a path, not a password
DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 500
_V2: Final = "/api/v2/admin/orders"
CATALOG_PATHS: Final = {
    "status": "/api/v2/admin/order-statuses",
    "member": "/api/v2/admin/members",
    "discount": "/api/v2/admin/discount-codes",
    "gift_voucher": "/api/v2/admin/gift-vouchers",
    "shipping_option": "/api/v2/admin/shipping-options",
    "tax": "/api/v2/admin/tax-codes",
}
"""Reference kind -> the path listing the site's entries of that kind (*assumed*: the pages
document no catalog endpoint), paged like the orders list (``Offset``, ``Limit``)."""
_ZERO_REF: Final = 0  # the pages use 0 as "no id"; the site stores it as null
_UTC: Final = ZoneInfo("UTC")

Clock = Callable[[], datetime]


def _error(status: int, message: str, errors: Iterable[str] = ()) -> HttpError:
    return HttpError(status, message, {"Message": message, "Errors": list(errors)})


def _not_found(kind: str, ident: object) -> HttpError:
    return _error(404, f"{kind} {ident} not found")


def _path_id(value: str, kind: str) -> int:
    # An ASP.NET route with an int constraint does not match a non-number: 404.
    if not value.isdigit():
        raise _not_found(kind, value)
    return int(value)


# ------------------------------------------------------------------ body validation


class _Invalid(Exception):
    """A field value the site rejects; the message completes "<Field>: ..."."""


@dataclass(frozen=True)
class _Ctx:
    catalog: Catalog
    naive_zone: ZoneInfo  # the zone of a timestamp sent without offset


_Check = Callable[[Any, _Ctx], Any]


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise _Invalid("expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    raise _Invalid(f"expected an integer, got {json.dumps(value, default=str)}")


def _text(value: Any, _: _Ctx) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise _Invalid("expected a string or null")


def _required_text(value: Any, ctx: _Ctx) -> str:
    text = _text(value, ctx)
    if not text or not text.strip():
        raise _Invalid("is required")
    return text


def _count(value: Any, _: _Ctx) -> int:
    number = _as_int(value)
    if number < 0:
        raise _Invalid("must not be negative")
    return number


def _money(value: Any, _: _Ctx) -> Decimal:
    # Strings are refused on purpose: money travels as a JSON number.
    if isinstance(value, bool) or not isinstance(value, int | Decimal) or not Decimal(value).is_finite():
        raise _Invalid("expected a number")
    return money(value)


def _amount(value: Any, ctx: _Ctx) -> Decimal:
    amount = _money(value, ctx)
    if amount < 0:
        raise _Invalid("must not be negative")
    return amount


def _quantity(value: Any, _: _Ctx) -> int:
    if isinstance(value, str):
        raise _Invalid("expected a number")
    return _count(value, _)


def _time(value: Any, ctx: _Ctx) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Invalid("expected a date-time string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _Invalid(f"not a date-time: {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ctx.naive_zone)
    return _truncate(parsed.astimezone(UTC))


def _required_time(value: Any, ctx: _Ctx) -> datetime:
    parsed = _time(value, ctx)
    if parsed is None:
        raise _Invalid("must not be null")
    return parsed


def _optional_ref(value: Any, _: _Ctx) -> int | None:
    number = None if value is None else _as_int(value)
    return None if number == _ZERO_REF else number


def _ref_in(table: str) -> _Check:
    """An optional reference that must name an entry of one of the site's catalogs."""

    def check(value: Any, ctx: _Ctx) -> int | None:
        ident = _optional_ref(value, ctx)
        if ident is not None and ident not in getattr(ctx.catalog, table):
            raise _Invalid(f"{ident} does not exist on this site")
        return ident

    return check


def _status(value: Any, ctx: _Ctx) -> int:
    ident = _ref_in("statuses")(value, ctx)
    if ident is None:
        raise _Invalid("is required")
    return int(ident)


def _one_of(allowed: tuple[str, ...]) -> _Check:
    def check(value: Any, _: _Ctx) -> str:
        if value not in allowed:
            raise _Invalid(f"must be one of {', '.join(allowed)}")
        return str(value)

    return check


def _currency(value: Any, _: _Ctx) -> str:
    if not (isinstance(value, str) and len(value) == 3 and value.isalpha() and value.isupper()):
        raise _Invalid("expected a 3-letter currency code")
    return value


def _country(value: Any, _: _Ctx) -> str:
    if not (isinstance(value, str) and value.strip()):
        raise _Invalid("expected a country code")
    return value


def _attributes(value: Any, _: _Ctx) -> list[tuple[int, tuple[str, ...]]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Invalid("expected a list")
    result = []
    for k, item in enumerate(value):
        if not isinstance(item, dict) or "AttributeId" not in item:
            raise _Invalid(f"[{k}] expected an object with AttributeId and OptionsIds")
        options = item.get("OptionsIds") or []
        if not isinstance(options, list) or not all(
            isinstance(o, str | int) and not isinstance(o, bool) for o in options
        ):
            raise _Invalid(f"[{k}].OptionsIds expected a list of strings")
        result.append((_as_int(item["AttributeId"]), tuple(str(o) for o in options)))
    return result


def _crm_value(value: Any) -> bool:
    return value is None or isinstance(value, str | bool | int | Decimal)


# Body fields per endpoint: wire name -> (record attribute, check). "Id"/"OrderId" are
# compared with the path before these run.
_Spec = Mapping[str, tuple[str, _Check]]

_ORDER_CREATE: Final[_Spec] = {
    "AWBNumber": ("awb_number", _text),
    "InvoiceDate": ("invoice_date", _time),
    "InvoiceNumber": ("invoice_number", _count),
    "MainOrderId": ("main_order_id", _optional_ref),
    "MemberId": ("member_id", _ref_in("members")),
    "OrderName": ("order_name", _text),
    "PaymentState": ("payment_state", _one_of(PAYMENT_STATES)),
    "StatusId": ("status_id", _status),
    "TrackingURL": ("tracking_url", _text),
    "ShippingZipCode": ("shipping_zipcode", _text),
    "ShippingState": ("shipping_state", _text),
    "ShippingAddress": ("shipping_address", _text),
    "ShippingCity": ("shipping_city", _text),
    "ShippingCountry": ("shipping_country", _text),
}
_ORDER_UPDATE: Final[_Spec] = {
    **_ORDER_CREATE,
    "Currency": ("currency", _currency),
    "Country": ("country", _country),
}
_V1_ORDER_UPDATE: Final[_Spec] = {
    "AWBNumber": ("awb_number", _text),
    "CreatedDateTime": ("created", _required_time),
    "Currency": ("currency", _currency),
    "Country": ("country", _country),
    "InvoiceDate": ("invoice_date", _time),
    "InvoiceNumber": ("invoice_number", _count),
    "MainOrderId": ("main_order_id", _optional_ref),
    "MemberId": ("member_id", _ref_in("members")),
    "OrderName": ("order_name", _text),
    "PaymentState": ("payment_state", _one_of(PAYMENT_STATES)),
    "StatusId": ("status_id", _status),
    "TrackingUrl": ("tracking_url", _text),
}
_LINE_UPDATE: Final[_Spec] = {
    "ProductId": ("product_id", _optional_ref),
    "ProductName": ("product_name", _required_text),
    "Quantity": ("quantity", _quantity),
    "UnitPrice": ("unit_price", _money),
}
_LINE_CREATE: Final[_Spec] = {**_LINE_UPDATE, "Attributes": ("attributes", _attributes)}
_LINE_REQUIRED: Final = ("ProductName", "Quantity", "UnitPrice")
_PAYMENT_UPDATE: Final[_Spec] = {
    "Notes": ("notes", _text),
    "PaymentType": ("payment_type", _one_of(PAYMENT_TYPES)),
    "Amount": ("amount", _amount),
}
_PAYMENT_CREATE: Final[_Spec] = {**_PAYMENT_UPDATE, "CreatedDateTime": ("created", _required_time)}
_ASSETS: Final = {
    # path segment -> (body key, record attribute, catalog table)
    "discount-code": ("DiscountId", "discount_id", "discounts"),
    "gift-voucher": ("GiftVoucherId", "gift_voucher_id", "gift_vouchers"),
    "shipping": ("ShippingOptionId", "shipping_option_id", "shipping_options"),
    "tax": ("TaxId", "tax_id", "taxes"),
}
_ORDER_WHERE: Final = {"Id": int, "InvoiceNumber": int, "StatusId": int, "MemberId": int, "PaymentState": str}
_PAYMENT_WHERE: Final = {"Id": int, "Status": str, "PaymentType": str}


def _truncate(value: datetime) -> datetime:
    """To whole milliseconds: the precision the v2 wire format carries."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class _Batch:
    """One ``seed()`` call: ``count`` orders generated on demand, never stored unless written."""

    first_id: int
    count: int
    seed: int
    first_invoice: int

    def index_of(self, order_id: int) -> int | None:
        offset = order_id - self.first_id
        if 0 <= offset < self.count * ID_STRIDE and offset % ID_STRIDE == 0:
            return offset // ID_STRIDE
        return None

    def owner_of(self, child_id: int) -> int | None:
        """The order id whose id block holds ``child_id`` (a line or payment id)."""
        offset = child_id - self.first_id
        if 0 <= offset < self.count * ID_STRIDE and offset % ID_STRIDE:
            return child_id - offset % ID_STRIDE
        return None


class WebinOneSimulator(Simulator):
    """One WebinOne site serving ``/api/v1/...`` (legacy) and ``/api/v2/admin/...`` over one store.

    Knobs: ``client_id``/``client_secret`` (the API application's credentials),
    ``token_ttl`` (seconds a token lives), ``site_timezone`` (zone of v1's naive
    times), ``currency``/``country`` (the site's profile), ``catalog_seed`` (same seed,
    same catalogs and catalog ids), ``id_start`` (first id of the site's sequence),
    ``invoice_start`` (first invoice number the site assigns), ``clock`` (returns the
    aware "now"; creation times and token expiry use it), ``strict_fields`` (reject
    body keys an endpoint does not document), ``soft_delete`` (DELETE marks an order
    ``IsDeleted`` instead of removing it; see the module docstring).
    """

    name = "webinone"
    description = "WebinOne site: v1 legacy and v2 admin order APIs over one store"

    def __init__(
        self,
        *,
        client_id: str = "sandbox-client",
        client_secret: str = "sandbox-secret",  # noqa: S107 - a local simulator's demo credential
        token_ttl: float = 3600,
        site_timezone: str = "UTC",
        currency: str = "USD",
        country: str = "US",
        catalog_seed: int = 0,
        id_start: int = 1000,
        invoice_start: int = 1,
        clock: Clock | None = None,
        strict_fields: bool = False,
        soft_delete: bool = False,
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self._client_secret = client_secret
        self.token_ttl = token_ttl
        self.site = SiteProfile(make_catalog(catalog_seed), currency, country, ZoneInfo(site_timezone))
        self.id_start = id_start
        self.invoice_start = invoice_start
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.strict_fields = strict_fields
        self.soft_delete = soft_delete
        self._tokens: dict[str, datetime] = {}
        self.reset()

    def __repr__(self) -> str:
        return f"<WebinOneSimulator client_id={self.client_id!r} orders={self.order_count()}>"

    # ---------------------------------------------------------------- public helpers

    @property
    def catalog(self) -> Catalog:
        """The site's catalogs (statuses, members, discounts, vouchers, shipping, taxes)."""
        return self.site.catalog

    def credentials(self) -> dict[str, str]:
        """``{"client_id": ..., "client_secret": ...}`` of the site's API application."""
        return {"client_id": self.client_id, "client_secret": self._client_secret}

    @classmethod
    def for_site(cls, name: str, index: int) -> WebinOneSimulator:
        """Site ``index`` of a sandbox: its own API application, catalogs and id sequence.

        Credentials ``<name>-app`` and a random secret; ``catalog_seed = index``
        (the same names, other ids: a rehearsal maps them as between two real
        sites); ids from ``1000 + index * 1,000,000``.
        """
        return cls(
            client_id=f"{name}-app",
            client_secret=secrets.token_urlsafe(18),
            catalog_seed=index,
            id_start=1000 + index * 1_000_000,
        )

    def endpoint(self, base_url: str, role: Literal["source", "target"]) -> dict[str, Any]:
        """A v1 (``webinone-v1``) source or a v2 (``webinone-v2``) target on this site."""
        backend = "webinone-v1" if role == "source" else "webinone-v2"
        return {"backend": backend, "base_url": base_url, **self.credentials()}

    def catalog_tables(self) -> dict[str, dict[str, int]]:
        """Reference mapping tables for this site's catalogs: name/code -> id per kind."""
        return self.site.catalog.tables()

    def reset(self) -> None:
        """Forget every order and the request log, restart the id and invoice sequences.

        Issued tokens stay valid (a client in the middle of a run keeps working).
        """
        with self.lock:
            self._batches: list[_Batch] = []
            self._records: dict[int, OrderRecord] = {}  # created or written orders
            self._deleted: set[int] = set()  # deleted seeded ids
            self._ids: list[int] = []  # every live order id, ascending
            self._line_owner: dict[int, int] = {}  # line id -> order id, for stored records
            self._payment_owner: dict[int, int] = {}
            self._next_id = self.id_start
            self._next_invoice = self.invoice_start
        self.requests_log.clear()

    def seed(self, count: int, *, seed: int = 0) -> None:
        """Add ``count`` generated orders (deterministic for ``seed``); instant, generated when read."""
        if count < 0:
            raise ValueError("count must not be negative")
        with self.lock:
            batch = _Batch(self._next_id, count, seed, self._next_invoice)
            self._batches.append(batch)
            self._ids.extend(range(batch.first_id, batch.first_id + count * ID_STRIDE, ID_STRIDE))
            self._next_id += count * ID_STRIDE
            self._next_invoice += count

    def order_count(self) -> int:
        """How many orders the site lists (soft-deleted ones included)."""
        with self.lock:
            return len(self._ids)

    def deleted_ids(self) -> list[int]:
        """Ids of the orders marked deleted (``soft_delete``), ascending."""
        with self.lock:
            # A soft-deleted order is always stored: marking it materialized it.
            return sorted(i for i, record in self._records.items() if record.is_deleted)

    def live_order_ids(self) -> list[int]:
        """Ids of the orders not marked deleted, ascending."""
        with self.lock:
            deleted = set(self.deleted_ids())
            return [i for i in self._ids if i not in deleted]

    def order_ids(self) -> list[int]:
        """Every order id, ascending."""
        with self.lock:
            return list(self._ids)

    def order_doc(self, order_id: int, version: Literal["v1", "v2"] = "v2") -> dict[str, Any]:
        """The order as the single-order GET of ``version`` answers it; ``KeyError`` if absent."""
        with self.lock:
            record = self._get(order_id)
            if record is None:
                raise KeyError(order_id)
            return render_v2(record, self.site) if version == "v2" else render_v1(record, self.site)

    def order_record(self, order_id: int) -> OrderRecord:
        """The stored, mutable record of an order (mutate it under ``with sim.lock``); ``KeyError``."""
        with self.lock:
            record = self._materialize(order_id)
            if record is None:
                raise KeyError(order_id)
            return record

    def add_record(self, record: OrderRecord) -> int:
        """Store ``record`` as a new order, giving it and its lines/payments fresh ids; the id.

        References (status, member, assets) must exist in :attr:`catalog`.
        """
        with self.lock:
            record.id = self._new_id()
            for line in record.lines:
                line.id = self._new_id()
            for payment in record.payments:
                payment.id = self._new_id()
            self._store(record)
            self._ids.append(record.id)
            return record.id

    def remove_order(self, order_id: int) -> None:
        """Delete an order directly (marked deleted under ``soft_delete``); ``KeyError`` if absent.

        An order already marked deleted counts as absent, as for the DELETE endpoint.
        """
        with self.lock:
            if not self._delete(order_id):
                raise KeyError(order_id)

    def revoke_tokens(self) -> None:
        """Make every issued token invalid, as if they had all expired."""
        with self.lock:
            self._tokens.clear()

    # ---------------------------------------------------------------- store internals

    def _now(self) -> datetime:
        return _truncate(self.clock().astimezone(UTC))

    def _new_id(self) -> int:
        ident = self._next_id
        self._next_id += 1
        return ident

    def _get(self, order_id: int) -> OrderRecord | None:
        """The order (generated on the fly for an untouched seeded one), or ``None``."""
        record = self._records.get(order_id)
        if record is not None or order_id in self._deleted:
            return record
        for batch in self._batches:
            index = batch.index_of(order_id)
            if index is not None:
                return make_order(
                    index,
                    seed=batch.seed,
                    count=batch.count,
                    site=self.site,
                    first_id=batch.first_id,
                    first_invoice=batch.first_invoice,
                )
        return None

    def _materialize(self, order_id: int) -> OrderRecord | None:
        """The order, stored so that writes stick."""
        record = self._get(order_id)
        if record is not None and order_id not in self._records:
            self._store(record)
        return record

    def _store(self, record: OrderRecord) -> None:
        self._records[record.id] = record
        self._line_owner.update((line.id, record.id) for line in record.lines)
        self._payment_owner.update((p.id, record.id) for p in record.payments)

    def _delete(self, order_id: int) -> bool:
        """Delete (or, under ``soft_delete``, mark deleted) an order; ``False`` if there is none."""
        record = self._get(order_id)
        if record is None or record.is_deleted:
            return False
        if self.soft_delete:
            stored = self._materialize(order_id)
            assert stored is not None
            stored.is_deleted = True
            return True
        for line in record.lines:
            self._line_owner.pop(line.id, None)
        for payment in record.payments:
            self._payment_owner.pop(payment.id, None)
        self._records.pop(order_id, None)
        if any(b.index_of(order_id) is not None for b in self._batches):
            self._deleted.add(order_id)  # a seeded id must not be generated again
        del self._ids[bisect.bisect_left(self._ids, order_id)]
        return True

    def _owner(self, child_id: int, owners: dict[int, int], write: bool) -> OrderRecord | None:
        """The order holding a line/payment id (stored first when ``write``), or ``None``."""
        owner = owners.get(child_id)
        if owner is None:
            for batch in self._batches:
                candidate = batch.owner_of(child_id)
                # A stored order's children are all in ``owners`` already.
                if candidate is not None and candidate not in self._records:
                    owner = candidate
        if owner is None:
            return None
        return self._materialize(owner) if write else self._get(owner)

    def _line(self, line_id: int, *, write: bool = True) -> tuple[OrderRecord, LineRecord]:
        record = self._owner(line_id, self._line_owner, write)
        # A soft-deleted order's lines stay readable but take no writes.
        if record is not None and not (write and record.is_deleted):
            for line in record.lines:
                if line.id == line_id:
                    return record, line
        raise _not_found("Order line", line_id)

    def _payment(self, payment_id: int) -> tuple[OrderRecord, PaymentRecord]:
        record = self._owner(payment_id, self._payment_owner, True)
        # Only writes look a payment up by id; a soft-deleted order takes none.
        if record is not None and not record.is_deleted:
            for payment in record.payments:
                if payment.id == payment_id:
                    return record, payment
        raise _not_found("Payment", payment_id)

    def _order(self, order_id: str, *, write: bool = False) -> OrderRecord:
        ident = _path_id(order_id, "Order")
        record = self._materialize(ident) if write else self._get(ident)
        if record is None or (write and record.is_deleted):
            raise _not_found("Order", ident)
        return record

    def _invoice_of(self, order_id: int) -> int:
        record = self._records.get(order_id)
        if record is not None:
            return record.invoice_number
        for batch in self._batches:
            index = batch.index_of(order_id)
            if index is not None:
                return batch.first_invoice + index
        raise KeyError(order_id)

    # ---------------------------------------------------------------- request helpers

    def handle(self, request: Request) -> Response:
        """Check the bearer token (except on the token path), then route."""
        if request.path.rstrip("/") != TOKEN_PATH:
            token = request.bearer_token()
            with self.lock:
                expiry = self._tokens.get(token) if token else None
                valid = expiry is not None and self._now() < expiry
            if not valid:
                raise HttpError(
                    401,
                    "unauthorized",
                    {"Message": "Authorization has been denied for this request.", "Errors": []},
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"' if token else "Bearer"},
                )
        return super().handle(request)

    def _body(self, request: Request) -> dict[str, Any]:
        if request.content_type != "application/json":
            raise _error(
                415, f"Content-Type must be application/json, not {request.content_type or 'none'!r}"
            )
        try:
            body = request.json()
        except HttpError as exc:
            raise _error(400, "The request body is not valid JSON.", [exc.message])
        if not isinstance(body, dict):
            raise _error(400, "The request body must be a JSON object.")
        return body

    def _parse(
        self,
        body: Mapping[str, Any],
        spec: _Spec,
        *,
        naive_zone: ZoneInfo = _UTC,
        required: Iterable[str] = (),
        ids: Mapping[str, int] | None = None,
    ) -> dict[str, Any]:
        """Validate ``body`` against ``spec``: record attribute -> value, or a 400 listing every problem.

        ``ids``: body keys (``Id``, ``OrderId``) that, when present, must equal the path's id.
        """
        ctx = _Ctx(self.site.catalog, naive_zone)
        errors: list[str] = []
        values: dict[str, Any] = {}
        for key in required:
            if key not in body:
                errors.append(f"{key}: is required")
        for key, value in body.items():
            if ids and key in ids:
                try:
                    if value is not None and _as_int(value) != ids[key]:
                        errors.append(f"{key}: {value} does not match the id in the path ({ids[key]})")
                except _Invalid as exc:
                    errors.append(f"{key}: {exc}")
            elif key in spec:
                attr, check = spec[key]
                try:
                    values[attr] = check(value, ctx)
                except _Invalid as exc:
                    errors.append(f"{key}: {exc}")
            elif self.strict_fields:
                errors.append(f"{key}: unknown field")
        if errors:
            raise _error(400, "The request is invalid.", errors)
        return values

    def _answer(self, record: OrderRecord, status: int = 200) -> Response:
        return json_response(render_v2(record, self.site), status)

    @staticmethod
    def _query(request: Request, name: str) -> str | None:
        # ASP.NET binds query parameters case-insensitively.
        lowered = name.lower()
        for key, value in request.query.items():
            if key.lower() == lowered:
                return value
        return None

    def _paging(self, request: Request) -> tuple[int, int]:
        values = []
        for name, default, minimum in (("Offset", 0, 0), ("Limit", DEFAULT_LIMIT, 1)):
            raw = self._query(request, name)
            if raw is None or raw == "":
                values.append(default)
                continue
            if not raw.strip().isdigit() or int(raw) < minimum:
                raise _error(400, f"{name} must be an integer >= {minimum}, got {raw!r}")
            values.append(int(raw))
        return values[0], min(values[1], MAX_LIMIT)

    def _where(self, request: Request, allowed: Mapping[str, type]) -> dict[str, int | str]:
        raw = self._query(request, "Where")
        if raw is None or not raw.strip():
            return {}
        try:
            where = ob.jsonutil.loads(raw)
        except ValueError as exc:
            raise _error(400, "Where is not valid JSON.", [str(exc)])
        if not isinstance(where, dict):
            raise _error(400, "Where must be a JSON object.")
        result: dict[str, int | str] = {}
        for key, value in where.items():
            kind = allowed.get(key)
            if kind is None:
                raise _error(400, f"Where: cannot filter on {key!r}; supported: {', '.join(allowed)}")
            try:
                if kind is int:
                    result[key] = _as_int(value)
                elif isinstance(value, str):
                    result[key] = value
                else:
                    raise _Invalid("expected a string")
            except _Invalid as exc:
                raise _error(400, f"Where: {key}: {exc} (only equality is supported)")
        return result

    def _order_by(self, request: Request, allowed: tuple[str, ...]) -> tuple[str, bool]:
        raw = (self._query(request, "Order_By") or "Id").strip()
        descending = raw.startswith("-")
        name = raw.lstrip("-")
        for field_name in allowed:
            if field_name.lower() == name.lower():
                return field_name, descending
        raise _error(
            400, f"Order_By: cannot sort by {raw!r}; supported: {', '.join(allowed)} (prefix - to reverse)"
        )

    def _select(self, request: Request) -> tuple[list[int], int]:
        """Ids of the requested page of orders and the size of the filtered set."""
        where = self._where(request, _ORDER_WHERE)
        order_by, descending = self._order_by(request, ("Id", "InvoiceNumber"))
        offset, limit = self._paging(request)
        ids: list[int] = self._ids
        if "Id" in where:
            ids = [int(where["Id"])] if self._get(int(where["Id"])) is not None else []
        if "InvoiceNumber" in where:
            ids = [i for i in ids if self._invoice_of(i) == where["InvoiceNumber"]]
        slow = {k: v for k, v in where.items() if k not in ("Id", "InvoiceNumber")}
        if slow:
            attrs = {"StatusId": "status_id", "MemberId": "member_id", "PaymentState": "payment_state"}
            ids = [
                i
                for i in ids
                if (rec := self._get(i)) is not None
                and all(getattr(rec, attrs[k]) == v for k, v in slow.items())
            ]
        if order_by == "InvoiceNumber":
            ids = sorted(ids, key=lambda i: (self._invoice_of(i), i), reverse=descending)
        elif descending:
            ids = ids[::-1]
        return ids[offset : offset + limit], len(ids)

    # ---------------------------------------------------------------- OAuth

    @route("POST", TOKEN_PATH)
    def token(self, request: Request) -> Response:
        """Client-credentials grant: a bearer token valid for ``token_ttl`` seconds."""
        form = request.form() if request.content_type == "application/x-www-form-urlencoded" else {}
        if form.get("grant_type") != "client_credentials":
            return json_response({"error": "unsupported_grant_type" if form else "invalid_request"}, 400)
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = request.basic_auth()
        if basic and client_id is None:
            client_id, client_secret = basic
        # Bytes: compare_digest refuses non-ASCII str, and a credential may be anything.
        ok = secrets.compare_digest(
            str(client_id).encode(), self.client_id.encode()
        ) & secrets.compare_digest(str(client_secret).encode(), self._client_secret.encode())
        if not ok:
            return json_response({"error": "invalid_client"}, 401)
        token = secrets.token_urlsafe(32)
        with self.lock:
            now = self._now()
            self._tokens = {t: e for t, e in self._tokens.items() if e > now}
            self._tokens[token] = now + timedelta(seconds=self.token_ttl)
        return json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": int(self.token_ttl)},
            headers={"Cache-Control": "no-store"},
        )

    # ---------------------------------------------------------------- catalogs (assumed)

    def catalogs(self, base_url: str) -> dict[str, str]:
        """Reference kind -> the URL listing the site's entries of that kind (see :data:`CATALOG_PATHS`)."""
        return {kind: base_url + path for kind, path in CATALOG_PATHS.items()}

    def _catalog_items(self, kind: str) -> list[dict[str, Any]]:
        catalog = self.site.catalog
        if kind == "status":
            return [{"Id": s.id, "Name": s.name} for s in catalog.statuses.values()]
        if kind == "member":
            return [
                {"Id": m.id, "Email": m.email, "FirstName": m.first_name, "LastName": m.last_name}
                for m in catalog.members.values()
            ]
        if kind == "discount":
            return [{"Id": d.id, "Code": d.code, "Amount": d.amount} for d in catalog.discounts.values()]
        if kind == "gift_voucher":
            return [{"Id": g.id, "Name": g.name, "Amount": g.amount} for g in catalog.gift_vouchers.values()]
        if kind == "shipping_option":
            return [{"Id": o.id, "Name": o.name, "Cost": o.cost} for o in catalog.shipping_options.values()]
        return [{"Id": t.id, "Code": t.code, "Rate": t.rate} for t in catalog.taxes.values()]

    def _catalog(self, request: Request, kind: str) -> Response:
        offset, limit = self._paging(request)
        items = sorted(self._catalog_items(kind), key=lambda item: int(item["Id"]))
        return json_response({"Items": items[offset : offset + limit], "TotalItemsCount": len(items)})

    @route("GET", CATALOG_PATHS["status"])
    def catalog_statuses(self, request: Request) -> Response:
        """The site's order statuses: ``{"Id", "Name"}`` items (assumed endpoint)."""
        return self._catalog(request, "status")

    @route("GET", CATALOG_PATHS["member"])
    def catalog_members(self, request: Request) -> Response:
        """The site's members: ``{"Id", "Email", "FirstName", "LastName"}`` items (assumed endpoint)."""
        return self._catalog(request, "member")

    @route("GET", CATALOG_PATHS["discount"])
    def catalog_discounts(self, request: Request) -> Response:
        """The site's discount codes: ``{"Id", "Code", "Amount"}`` items (assumed endpoint)."""
        return self._catalog(request, "discount")

    @route("GET", CATALOG_PATHS["gift_voucher"])
    def catalog_gift_vouchers(self, request: Request) -> Response:
        """The site's gift vouchers: ``{"Id", "Name", "Amount"}`` items (assumed endpoint)."""
        return self._catalog(request, "gift_voucher")

    @route("GET", CATALOG_PATHS["shipping_option"])
    def catalog_shipping_options(self, request: Request) -> Response:
        """The site's shipping options: ``{"Id", "Name", "Cost"}`` items (assumed endpoint)."""
        return self._catalog(request, "shipping_option")

    @route("GET", CATALOG_PATHS["tax"])
    def catalog_taxes(self, request: Request) -> Response:
        """The site's tax codes: ``{"Id", "Code", "Rate"}`` items (assumed endpoint)."""
        return self._catalog(request, "tax")

    # ---------------------------------------------------------------- v2 orders

    @route("GET", _V2)
    def v2_list(self, request: Request) -> Response:
        """Orders filtered, sorted and paged, in the ``Items``/``TotalItemsCount`` envelope."""
        with self.lock:
            page, total = self._select(request)
            items = [render_v2(rec, self.site) for i in page if (rec := self._get(i)) is not None]
            return json_response({"Items": items, "TotalItemsCount": total})

    @route("POST", _V2)
    def v2_create(self, request: Request) -> Response:
        """Create an order from the documented fields; 201 with the full order."""
        body = self._body(request)
        with self.lock:
            values = self._parse(body, _ORDER_CREATE)
            now = self._now()
            record = OrderRecord(
                id=0,
                invoice_number=0,
                created=now,
                invoice_date=now,
                status_id=next(iter(self.catalog.statuses)),
                currency=self.site.currency,
                country=self.site.country,
            )
            for attr, value in values.items():
                setattr(record, attr, value)
            if "invoice_number" not in values:
                record.invoice_number = self._next_invoice
                self._next_invoice += 1
            self.add_record(record)
            return self._answer(record, 201)

    @route("GET", _V2 + "/{order_id}")
    def v2_get(self, request: Request, order_id: str) -> Response:
        """One order."""
        with self.lock:
            return self._answer(self._order(order_id))

    @route("PUT", _V2 + "/{order_id}")
    def v2_update(self, request: Request, order_id: str) -> Response:
        """Update the fields present in the body; the full order."""
        body = self._body(request)
        with self.lock:
            record = self._order(order_id, write=True)
            for attr, value in self._parse(body, _ORDER_UPDATE, ids={"Id": record.id}).items():
                setattr(record, attr, value)
            return self._answer(record)

    @route("DELETE", _V2 + "/{order_id}")
    def v2_delete(self, request: Request, order_id: str) -> Response:
        """Delete an order: 204."""
        with self.lock:
            ident = _path_id(order_id, "Order")
            if not self._delete(ident):
                raise _not_found("Order", ident)
        return empty(204)

    @route("PUT", _V2 + "/{order_id}/custom-crm-groups")
    def v2_custom_groups(self, request: Request, order_id: str) -> Response:
        """Merge ``{"GroupAlias": {"FieldAlias": value}}`` into the order's groups: 204."""
        body = self._body(request)
        errors = []
        for group, fields in body.items():
            if not isinstance(fields, dict):
                errors.append(f"{group}: expected an object of field values")
                continue
            errors.extend(
                f"{group}.{name}: expected a string, number, boolean or null"
                for name, value in fields.items()
                if not _crm_value(value)
            )
        if errors:
            raise _error(400, "The request is invalid.", errors)
        with self.lock:
            record = self._order(order_id, write=True)
            for group, fields in body.items():
                record.custom_crm_groups.setdefault(group, {}).update(fields)
        return empty(204)

    def _set_asset(self, request: Request, order_id: str, segment: str) -> Response:
        key, attr, table = _ASSETS[segment]
        body = self._body(request)
        with self.lock:
            record = self._order(order_id, write=True)
            values = self._parse(body, {key: (attr, _ref_in(table))}, required=(key,))
            setattr(record, attr, values[attr])
            return self._answer(record)

    @route("PUT", _V2 + "/{order_id}/discount-code")
    def v2_discount(self, request: Request, order_id: str) -> Response:
        """Set the order's discount code (``{"DiscountId"}``); the full order."""
        return self._set_asset(request, order_id, "discount-code")

    @route("PUT", _V2 + "/{order_id}/gift-voucher")
    def v2_gift_voucher(self, request: Request, order_id: str) -> Response:
        """Set the order's gift voucher (``{"GiftVoucherId"}``); the full order."""
        return self._set_asset(request, order_id, "gift-voucher")

    @route("PUT", _V2 + "/{order_id}/shipping")
    def v2_shipping(self, request: Request, order_id: str) -> Response:
        """Set the order's shipping option (``{"ShippingOptionId"}``); the full order."""
        return self._set_asset(request, order_id, "shipping")

    @route("PUT", _V2 + "/{order_id}/tax")
    def v2_tax(self, request: Request, order_id: str) -> Response:
        """Set the order's tax code (``{"TaxId"}``); the full order."""
        return self._set_asset(request, order_id, "tax")

    # ---------------------------------------------------------------- v2 order lines

    @route("POST", _V2 + "/{order_id}/order-lines")
    def v2_line_create(self, request: Request, order_id: str) -> Response:
        """Add a line (``ProductName``, ``Quantity``, ``UnitPrice`` required); 201 with the full order."""
        body = self._body(request)
        with self.lock:
            record = self._order(order_id, write=True)
            values = self._parse(body, _LINE_CREATE, required=_LINE_REQUIRED)
            line = LineRecord(id=self._new_id(), **values)
            record.lines.append(line)
            self._line_owner[line.id] = record.id
            return self._answer(record, 201)

    @route("GET", _V2 + "/order-lines/{line_id}")
    def v2_line_get(self, request: Request, line_id: str) -> Response:
        """One line."""
        with self.lock:
            record, line = self._line(_path_id(line_id, "Order line"), write=False)
            tax_rate = (
                money(self.catalog.taxes[record.tax_id].rate) if record.tax_id is not None else money(0)
            )
            return json_response(render_line(line, tax_rate))

    @route("PUT", _V2 + "/order-lines/{line_id}")
    def v2_line_update(self, request: Request, line_id: str) -> Response:
        """Update a line's product, name, quantity or price; the full order."""
        body = self._body(request)
        with self.lock:
            record, line = self._line(_path_id(line_id, "Order line"))
            for attr, value in self._parse(body, _LINE_UPDATE, ids={"Id": line.id}).items():
                setattr(line, attr, value)
            return self._answer(record)

    @route("DELETE", _V2 + "/order-lines/{line_id}")
    def v2_line_delete(self, request: Request, line_id: str) -> Response:
        """Delete a line: 204."""
        with self.lock:
            record, line = self._line(_path_id(line_id, "Order line"))
            record.lines.remove(line)
            del self._line_owner[line.id]
        return empty(204)

    # ---------------------------------------------------------------- v2 payments

    @route("GET", _V2 + "/{order_id}/payments")
    def v2_payments(self, request: Request, order_id: str) -> Response:
        """An order's payments, filtered and paged, in the list envelope."""
        with self.lock:
            record = self._order(order_id)
            where = self._where(request, _PAYMENT_WHERE)
            order_by, descending = self._order_by(request, ("Id", "CreatedDateTime"))
            offset, limit = self._paging(request)
            wire = {"Id": "id", "Status": "status", "PaymentType": "payment_type"}
            payments = [p for p in record.payments if all(getattr(p, wire[k]) == v for k, v in where.items())]
            payments.sort(key=lambda p: (p.created, p.id) if order_by == "CreatedDateTime" else (p.id,))
            if descending:
                payments.reverse()
            items = [render_payment(p, "v2", self.site.timezone) for p in payments[offset : offset + limit]]
            return json_response({"Items": items, "TotalItemsCount": len(payments)})

    @route("POST", _V2 + "/{order_id}/payments")
    def v2_payment_create(self, request: Request, order_id: str) -> Response:
        """Record a succeeded manual payment (``Amount`` required); 201 with the full order."""
        body = self._body(request)
        with self.lock:
            record = self._order(order_id, write=True)
            values = self._parse(body, _PAYMENT_CREATE, required=("Amount",), ids={"OrderId": record.id})
            values.setdefault("payment_type", "Other")
            values.setdefault("created", self._now())
            payment = PaymentRecord(
                id=self._new_id(), amount_captured=values["amount"], status="Succeeded", gateway=0, **values
            )
            record.payments.append(payment)
            self._payment_owner[payment.id] = record.id
            return self._answer(record, 201)

    @route("PUT", _V2 + "/payments/{payment_id}")
    def v2_payment_update(self, request: Request, payment_id: str) -> Response:
        """Update a payment's notes, type or amount; the full order."""
        body = self._body(request)
        with self.lock:
            record, payment = self._payment(_path_id(payment_id, "Payment"))
            values = self._parse(body, _PAYMENT_UPDATE, ids={"Id": payment.id, "OrderId": record.id})
            for attr, value in values.items():
                setattr(payment, attr, value)
            if "amount" in values and payment.status == "Succeeded":
                payment.amount_captured = payment.amount
            return self._answer(record)

    @route("DELETE", _V2 + "/payments/{payment_id}")
    def v2_payment_delete(self, request: Request, payment_id: str) -> Response:
        """Delete a payment: 204."""
        with self.lock:
            record, payment = self._payment(_path_id(payment_id, "Payment"))
            record.payments.remove(payment)
            del self._payment_owner[payment.id]
        return empty(204)

    # ---------------------------------------------------------------- v1 (legacy)

    @route("GET", "/api/v1/orders")
    def v1_list(self, request: Request) -> Response:
        """Orders in the v1 shape with the nested parts named in ``fields``."""
        raw = self._query(request, "fields") or ""
        by_lower = {p.lower(): p for p in V1_PARTS}
        parts = []
        for name in filter(None, (n.strip() for n in raw.split(","))):
            if name.lower() not in by_lower:
                raise _error(400, f"fields: unknown part {name!r}; known: {','.join(V1_PARTS)}")
            parts.append(by_lower[name.lower()])
        with self.lock:
            page, total = self._select(request)
            items = [
                render_v1(rec, self.site, parts=parts, single=False)
                for i in page
                if (rec := self._get(i)) is not None
            ]
            return json_response({"Items": items, "TotalItemsCount": total})

    @route("GET", "/api/v1/orders/{order_id}")
    def v1_get(self, request: Request, order_id: str) -> Response:
        """One order in the v1 shape, every part."""
        with self.lock:
            return json_response(render_v1(self._order(order_id), self.site))

    @route("PUT", "/api/v1/orders/{order_id}")
    def v1_update(self, request: Request, order_id: str) -> Response:
        """Update the fields present (naive times are the site's local time); the v1 order."""
        body = self._body(request)
        with self.lock:
            record = self._order(order_id, write=True)
            values = self._parse(body, _V1_ORDER_UPDATE, naive_zone=self.site.timezone, ids={"Id": record.id})
            for attr, value in values.items():
                setattr(record, attr, value)
            return json_response(render_v1(record, self.site))
