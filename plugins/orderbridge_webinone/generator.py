"""Deterministic WebinOne data: site catalogs, order records, pricing rules and wire documents.

The simulator keeps orders as small mutable records (:class:`OrderRecord`,
:class:`LineRecord`, :class:`PaymentRecord`) and renders them into the v1 or v2
wire shape on every read, so derived fields can never go stale. This module
holds everything that needs no HTTP: the catalogs, the records, the site's
pricing rule (:func:`compute_totals`), the renderers (:func:`render_v2`,
:func:`render_v1`) and the seeded generator (:func:`make_order`,
:func:`generate_documents`).

Pricing rule of a simulated site (money quantized to cents, ``ROUND_HALF_UP``):

- line ``TotalPrice`` = ``Quantity * UnitPrice``; line ``TaxRate`` = the order's tax rate (0 without tax);
- ``Discount``/``GiftVoucher``/``ShippingInfo`` name and cost and ``Tax`` code and rate come from
  the catalog entry set on the order (code/name ``null`` and cost ``0.00`` when none);
- ``TotalCost`` = subtotal - discount - voucher + shipping + round(subtotal * tax rate / 100, 2),
  where subtotal is the sum of the line totals (tax is charged before discounts);
- ``AmountPaid`` = sum of the ``Amount`` of payments whose ``Status`` is ``"Succeeded"``;
  ``AmountPending`` = ``TotalCost - AmountPaid``;
- ``PaymentState`` is stored as written (create/PUT) or generated; the site never derives it.

Ids: one site-wide id sequence serves orders, lines and payments (as on the v1 page's
sample, order 28057 has line 28058 and payment 28060), so an order id never names a
line or a payment. A seeded order takes a block of :data:`ID_STRIDE` ids: the order
first, then up to 4 lines, then up to 3 payments.

Determinism: order ``index`` of ``seed`` is drawn from its own ``random.Random``, so
any order can be generated on its own, in any order, without generating the others.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

__all__ = [
    "ID_STRIDE",
    "PAYMENT_GATEWAY_TYPES",
    "PAYMENT_STATES",
    "PAYMENT_TYPES",
    "V1_PARTS",
    "Catalog",
    "DiscountCode",
    "GiftVoucher",
    "LineRecord",
    "Member",
    "OrderRecord",
    "PaymentRecord",
    "ShippingOption",
    "SiteProfile",
    "Status",
    "TaxCode",
    "Totals",
    "compute_totals",
    "generate_documents",
    "generate_records",
    "make_catalog",
    "make_order",
    "money",
    "render_line",
    "render_payment",
    "render_v1",
    "render_v2",
    "v1_time",
    "v2_time",
]

CENT: Final = Decimal("0.01")
ZERO: Final = Decimal("0.00")

ID_STRIDE: Final = 8
"""Ids a seeded order reserves in the site's sequence: 1 order + 4 lines + 3 payments."""
_MAX_LINES: Final = 4
_MAX_PAYMENTS: Final = 3

PAYMENT_GATEWAY_TYPES: Final[Mapping[int, str]] = {
    0: "None",
    1: "paypal",
    2: "stripe",
    3: "authorizenet",
    4: "braintree",
    5: "eway",
    6: "square",
}
"""The site's payment gateways: v1 number -> v2 name (v1 sends the number, v2 the name).

Not documented by WebinOne: invented for the simulator. 0 ("None") is a manual payment
(cash, check, a payment added by an admin or through the v2 API).
"""

PAYMENT_STATES: Final = ("None", "Pending", "PartiallyPaid", "Succeeded", "Failed", "Refunded", "Cancelled")
"""Values the site accepts for an order's ``PaymentState``."""

PAYMENT_TYPES: Final = ("CreditCard", "Cash", "Check", "PayPal", "BankTransfer", "GiftVoucher", "Other")
"""Values the site accepts for a payment's ``PaymentType``."""

V1_PARTS: Final = (
    "Status",
    "Member",
    "Discount",
    "GiftVoucher",
    "Tax",
    "ShippingInfo",
    "OrderLines",
    "Payments",
    "CustomCrmGroups",
)
"""The nested parts of a v1 order, as named in the ``fields`` query parameter."""


def money(value: Decimal | int) -> Decimal:
    """``value`` quantized to cents, half up (how the site stores every amount)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def _cents(amount: int) -> Decimal:
    return Decimal(amount).scaleb(-2)


# ------------------------------------------------------------------ catalogs


@dataclass(frozen=True)
class Status:
    """An order status of the site."""

    id: int
    name: str


@dataclass(frozen=True)
class Member:
    """A CRM contact who can own orders."""

    id: int
    email: str
    first_name: str | None
    last_name: str | None


@dataclass(frozen=True)
class DiscountCode:
    """A discount code worth a fixed amount."""

    id: int
    code: str
    amount: Decimal


@dataclass(frozen=True)
class GiftVoucher:
    """A gift voucher worth a fixed amount."""

    id: int
    name: str
    amount: Decimal


@dataclass(frozen=True)
class ShippingOption:
    """A shipping option with a flat cost."""

    id: int
    name: str
    cost: Decimal


@dataclass(frozen=True)
class TaxCode:
    """A tax code with a rate in percent."""

    id: int
    code: str
    rate: Decimal


@dataclass(frozen=True)
class Catalog:
    """Everything an order refers to by id; each mapping is keyed by the entry's id."""

    statuses: Mapping[int, Status]
    members: Mapping[int, Member]
    discounts: Mapping[int, DiscountCode]
    gift_vouchers: Mapping[int, GiftVoucher]
    shipping_options: Mapping[int, ShippingOption]
    taxes: Mapping[int, TaxCode]

    def tables(self) -> dict[str, dict[str, int]]:
        """Reference mapping tables (source name/code -> id) for ``orderbridge``'s resolver."""
        return {
            "status": {s.name: s.id for s in self.statuses.values()},
            "discount": {d.code: d.id for d in self.discounts.values()},
            "gift_voucher": {g.name: g.id for g in self.gift_vouchers.values()},
            "shipping_option": {s.name: s.id for s in self.shipping_options.values()},
            "tax": {t.code: t.id for t in self.taxes.values()},
            "member": {str(m.id): m.id for m in self.members.values()},
        }


# Status names with how often generated orders are in them (weights).
_STATUSES: Final = (
    ("New", 8),
    ("Pending", 5),
    ("Paid", 14),
    ("Processing", 9),
    ("Shipped", 15),
    ("Completed", 35),
    ("Cancelled", 6),
    ("Refunded", 3),
    ("En attente (réclamation)", 2),
)
_MEMBER_NAMES: Final = (
    ("José", "Núñez", "jose.nunez"),
    ("Zoë", "Ørsted", "zoe.orsted"),
    ("李", "小龍", "li.xiaolong"),
    ("山田", "太郎", "yamada.taro"),
    ("Ana 🌸", "Silva", "ana.silva"),
    ("François", "Lefèvre", "f.lefevre"),
    ("Günther", "Straße", "guenther.strasse"),
    ("Priya", "Raghunathan", "priya.r"),
    ("Ólafur", "Þórsson", "olafur"),
    ("Mary-Jane", "O'Connor", "mj.oconnor"),
    ("Αλέξανδρος", "Παπαδόπουλος", "alex.papa"),
    ("Иван", "Петров", "ivan.petrov"),
    ("Chloé", "Dubois-Martin", "chloe.dm"),
    ("Kofi", "Mensah", "kofi.mensah"),
    (None, None, "test"),
    ("Sam", None, "sam"),
)
_DISCOUNTS: Final = (("WELCOME5", 500), ("SPRING10", 1000), ("VIP25", 2500), ("ÉTÉ-15", 1500))
_VOUCHERS: Final = (("Gift voucher $20", 2000), ("Gift voucher $50", 5000), ("Bon cadeau 🎁 $10", 1000))
_SHIPPING: Final = (
    ("Standard", 595),
    ("Express", 1450),
    ("Overnight", 2900),
    ("Click & Collect", 0),
    ("Livraison internationale", 3990),
)
_TAXES: Final = (("GST", 1000), ("VAT", 2000), ("CA-SALES", 725), ("ZERO", 0))


def make_catalog(catalog_seed: int = 0) -> Catalog:
    """The catalogs of a site; the same ``catalog_seed`` gives identical catalogs (same ids).

    Two sites built from one seed behave like a cloned site, so a migration between
    them can resolve statuses, members, discounts... by identity.
    """
    rng = random.Random(catalog_seed)
    # Distinct id ranges per kind, shifted by the seed so that two different catalogs
    # do not share ids by accident.
    base = rng.randrange(1, 90) * 100
    members = []
    for k, (first, last, local) in enumerate(_MEMBER_NAMES):
        members.append(Member(28_000 + base + 49 + k, f"{local}@example.com", first, last))
    return Catalog(
        statuses={s.id: s for s in (Status(13_000 + base + 76 + k, n) for k, (n, _) in enumerate(_STATUSES))},
        members={m.id: m for m in members},
        discounts={
            d.id: d
            for d in (DiscountCode(4_000 + base + k, c, _cents(a)) for k, (c, a) in enumerate(_DISCOUNTS))
        },
        gift_vouchers={
            g.id: g
            for g in (GiftVoucher(5_000 + base + k, n, _cents(a)) for k, (n, a) in enumerate(_VOUCHERS))
        },
        shipping_options={
            s.id: s
            for s in (ShippingOption(6_000 + base + k, n, _cents(c)) for k, (n, c) in enumerate(_SHIPPING))
        },
        taxes={t.id: t for t in (TaxCode(7_000 + base + k, c, _cents(r)) for k, (c, r) in enumerate(_TAXES))},
    )


@dataclass(frozen=True)
class SiteProfile:
    """What a site answers with besides its orders: catalogs, currency profile, time zone."""

    catalog: Catalog
    currency: str = "USD"
    country: str = "US"
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))


# ------------------------------------------------------------------ records


@dataclass(slots=True)
class LineRecord:
    """One order line as stored; ``TotalPrice`` and ``TaxRate`` are derived when rendered."""

    id: int
    product_name: str
    quantity: int
    unit_price: Decimal
    product_id: int | None = None
    module_id: int | None = None
    entity_type: str | None = None
    file_name: str | None = None
    is_download: bool = False
    attributes: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)


@dataclass(slots=True)
class PaymentRecord:
    """One payment as stored; ``gateway`` is a key of :data:`PAYMENT_GATEWAY_TYPES`."""

    id: int
    amount: Decimal
    amount_captured: Decimal
    status: str
    payment_type: str
    created: datetime
    gateway: int = 0
    gateway_reason: str | None = None
    transaction_id: str | None = None
    notes: str | None = None


@dataclass(slots=True)
class OrderRecord:
    """One order as stored: times are aware UTC; catalog references are ids (or ``None``)."""

    id: int
    invoice_number: int
    created: datetime
    invoice_date: datetime | None
    status_id: int
    currency: str
    country: str
    member_id: int | None = None
    order_name: str | None = None
    payment_state: str = "None"
    awb_number: str | None = None
    tracking_url: str | None = None
    transaction_id: str | None = None
    main_order_id: int | None = None
    is_recurring: bool = False
    has_subscriptions: bool = False
    has_paid_subscription: bool = False
    order_case_type: str = "FormCase"
    discount_id: int | None = None
    gift_voucher_id: int | None = None
    shipping_option_id: int | None = None
    tax_id: int | None = None
    shipping_address: str | None = None
    shipping_city: str | None = None
    shipping_state: str | None = None
    shipping_zipcode: str | None = None
    shipping_country: str | None = None
    lines: list[LineRecord] = field(default_factory=list)
    payments: list[PaymentRecord] = field(default_factory=list)
    custom_crm_groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    is_deleted: bool = False
    """Soft-deleted: still listed and readable, rendered ``"IsDeleted": true`` in v2."""


# ------------------------------------------------------------------ pricing


@dataclass(frozen=True)
class Totals:
    """An order's derived amounts (see the module docstring for the rule)."""

    subtotal: Decimal
    discount: Decimal
    gift_voucher: Decimal
    shipping: Decimal
    tax_rate: Decimal
    tax: Decimal
    total: Decimal
    paid: Decimal
    pending: Decimal


def compute_totals(order: OrderRecord, catalog: Catalog) -> Totals:
    """Apply the site's pricing rule to ``order``."""
    subtotal = money(sum((line.quantity * line.unit_price for line in order.lines), ZERO))
    discount = catalog.discounts[order.discount_id].amount if order.discount_id is not None else ZERO
    voucher = (
        catalog.gift_vouchers[order.gift_voucher_id].amount if order.gift_voucher_id is not None else ZERO
    )
    shipping = (
        catalog.shipping_options[order.shipping_option_id].cost
        if order.shipping_option_id is not None
        else ZERO
    )
    rate = catalog.taxes[order.tax_id].rate if order.tax_id is not None else ZERO
    tax = money(subtotal * rate / 100)
    total = money(subtotal - discount - voucher + shipping + tax)
    paid = money(sum((p.amount for p in order.payments if p.status == "Succeeded"), ZERO))
    return Totals(subtotal, discount, voucher, shipping, money(rate), tax, total, paid, total - paid)


# ------------------------------------------------------------------ rendering


def v2_time(value: datetime | None) -> str | None:
    """v2 wire time: UTC with milliseconds and ``Z``, e.g. ``2024-05-17T18:47:05.068Z``."""
    if value is None:
        return None
    utc = value.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def v1_time(value: datetime | None, zone: ZoneInfo) -> str | None:
    """v1 wire time: naive local time of the site's zone, whole seconds, e.g. ``2022-01-14T09:47:37``."""
    if value is None:
        return None
    return f"{value.astimezone(zone):%Y-%m-%dT%H:%M:%S}"


def render_line(line: LineRecord, tax_rate: Decimal) -> dict[str, Any]:
    """An order line in the wire shape (the same in v1 and v2)."""
    return {
        "Id": line.id,
        "EntityType": line.entity_type,
        "ProductId": line.product_id,
        "ModuleId": line.module_id,
        "ProductName": line.product_name,
        "Quantity": line.quantity,
        "TaxRate": tax_rate,
        "UnitPrice": money(line.unit_price),
        "TotalPrice": money(line.quantity * line.unit_price),
        "FileName": line.file_name,
        "IsDownload": line.is_download,
        "Attributes": [{"AttributeId": a, "OptionsIds": list(opts)} for a, opts in line.attributes],
    }


def render_payment(payment: PaymentRecord, version: Literal["v1", "v2"], zone: ZoneInfo) -> dict[str, Any]:
    """A payment in the v2 shape (gateway by name, UTC time) or the v1 one (number, local time)."""
    if version == "v2":
        return {
            "Id": payment.id,
            "Amount": money(payment.amount),
            "AmountCaptured": money(payment.amount_captured),
            "GatewayReason": payment.gateway_reason,
            "TransactionId": payment.transaction_id,
            "Status": payment.status,
            "PaymentType": payment.payment_type,
            "PaymentGatewayType": PAYMENT_GATEWAY_TYPES[payment.gateway],
            "Notes": payment.notes,
            "CreatedDateTime": v2_time(payment.created),
        }
    return {
        "Id": payment.id,
        "CreatedDateTime": v1_time(payment.created, zone),
        "Amount": money(payment.amount),
        "AmountCaptured": money(payment.amount_captured),
        "GatewayReason": payment.gateway_reason,
        "TransactionId": payment.transaction_id,
        "Status": payment.status,
        "PaymentType": payment.payment_type,
        "PaymentGatewayType": payment.gateway,
        "Notes": payment.notes,
    }


def _parts(order: OrderRecord, site: SiteProfile, totals: Totals) -> dict[str, Any]:
    """The nested parts shared by v1 and v2 (v1 calls ``StatusShort`` ``Status``)."""
    cat = site.catalog
    status = cat.statuses[order.status_id]
    member = cat.members.get(order.member_id) if order.member_id is not None else None
    discount = cat.discounts.get(order.discount_id) if order.discount_id is not None else None
    voucher = cat.gift_vouchers.get(order.gift_voucher_id) if order.gift_voucher_id is not None else None
    tax = cat.taxes.get(order.tax_id) if order.tax_id is not None else None
    ship = (
        cat.shipping_options.get(order.shipping_option_id) if order.shipping_option_id is not None else None
    )
    return {
        "Status": {"Id": status.id, "Name": status.name},
        "Member": None
        if member is None
        else {
            "Id": member.id,
            "Email": member.email,
            "FirstName": member.first_name,
            "LastName": member.last_name,
        },
        "Discount": {"Code": discount.code if discount else None, "Cost": totals.discount},
        "GiftVoucher": {"Name": voucher.name if voucher else None, "Cost": totals.gift_voucher},
        "Tax": {"Code": tax.code if tax else None, "Rate": totals.tax_rate},
        "ShippingInfo": {
            "Name": ship.name if ship else None,
            "Cost": totals.shipping,
            "Address": order.shipping_address,
            "City": order.shipping_city,
            "State": order.shipping_state,
            "Zipcode": order.shipping_zipcode,
            # As on the v1 sample: without a shipping country the site shows its own.
            "Country": order.shipping_country or order.country,
        },
        "OrderLines": [render_line(line, totals.tax_rate) for line in order.lines],
        "CustomCrmGroups": {group: dict(fields) for group, fields in order.custom_crm_groups.items()},
    }


def render_v2(order: OrderRecord, site: SiteProfile) -> dict[str, Any]:
    """The order as ``GET /api/v2/admin/orders/{id}`` answers it."""
    totals = compute_totals(order, site.catalog)
    parts = _parts(order, site, totals)
    return {
        "Id": order.id,
        "AWBNumber": order.awb_number,
        "CurrencyCountry": f"{order.currency}/{order.country}",
        "Currency": order.currency,
        "Country": order.country,
        "InvoiceDate": v2_time(order.invoice_date),
        "InvoiceNumber": order.invoice_number,
        "IsDeleted": order.is_deleted,
        "IsRecurring": order.is_recurring,
        "MainOrderId": order.main_order_id,
        "MemberId": order.member_id,
        "OrderName": order.order_name,
        "PaymentState": order.payment_state,
        "StatusId": order.status_id,
        "TotalCost": totals.total,
        "CreatedDateTime": v2_time(order.created),
        "HasSubscriptions": order.has_subscriptions,
        "HasPaidSubscription": order.has_paid_subscription,
        "TrackingURL": order.tracking_url,
        "TransactionId": order.transaction_id,
        "AmountPaid": totals.paid,
        "AmountPending": totals.pending,
        "OrderCaseType": order.order_case_type,
        "StatusShort": parts["Status"],
        "Discount": parts["Discount"],
        "GiftVoucher": parts["GiftVoucher"],
        "Tax": parts["Tax"],
        "ShippingInfo": parts["ShippingInfo"],
        "Member": parts["Member"],
        "OrderLines": parts["OrderLines"],
        "Payments": [render_payment(p, "v2", site.timezone) for p in order.payments],
        "CustomCrmGroups": parts["CustomCrmGroups"],
    }


def render_v1(
    order: OrderRecord,
    site: SiteProfile,
    *,
    parts: Sequence[str] = V1_PARTS,
    single: bool = True,
) -> dict[str, Any]:
    """The order in the v1 (legacy) shape, with only the nested ``parts`` asked for.

    ``single``: the shape of a single-order answer (GET item, PUT), where the page's
    sample shows ``Member.Id`` as a string; list items carry it as a number.
    """
    totals = compute_totals(order, site.catalog)
    zone = site.timezone
    doc: dict[str, Any] = {
        "Id": order.id,
        "AWBNumber": order.awb_number,
        "AmountPaid": totals.paid,
        "AmountPending": totals.pending,
        "CreatedDateTime": v1_time(order.created, zone),
        "CurrencyCountry": f"{order.currency}/{order.country}",
        "Currency": order.currency,
        "Country": order.country,
        "HasPaidSubscription": order.has_paid_subscription,
        "HasSubscriptions": order.has_subscriptions,
        "InvoiceDate": v1_time(order.invoice_date, zone),
        "InvoiceNumber": order.invoice_number,
        "IsRecurring": order.is_recurring,
        "MainOrderId": order.main_order_id,
        "MemberId": order.member_id,
        "OrderCaseType": order.order_case_type,
        "OrderName": order.order_name,
        "PaymentState": order.payment_state,
        "StatusId": order.status_id,
        "TotalCost": totals.total,
        "TrackingUrl": order.tracking_url,
        "TransactionId": order.transaction_id,
    }
    wanted = set(parts)
    nested = _parts(order, site, totals)
    if single and nested["Member"] is not None:
        nested["Member"]["Id"] = str(nested["Member"]["Id"])
    for name in V1_PARTS:  # the page's key order, whatever order they were asked in
        if name not in wanted:
            continue
        if name == "Payments":
            doc[name] = [render_payment(p, "v1", zone) for p in order.payments]
        else:
            doc[name] = nested[name]
    return doc


# ------------------------------------------------------------------ generation

# (product id, name, price in cents, kind): kind "size"/"colour" get attributes,
# "download" is a downloadable file.
_PRODUCTS: Final = (
    (3101, "Café Crème Mug", 1450, ""),
    (3102, "Matcha 抹茶 Tin 100 g", 2299, ""),
    (3103, "Rocket 🚀 T-Shirt", 2500, "size"),
    (3104, "Bücher-Set „Grüße aus Köln“", 4990, ""),
    (3105, "Ñandú Plush Toy", 1899, "colour"),
    (3106, "E-book: Żółć & Co.", 999, "download"),
    (3107, "Gift Card Design Pack", 500, "download"),
    (3108, "Silk Scarf 絹", 7900, "colour"),
    (3109, "Ceramic Bowl Ø 18 cm", 3250, ""),
    (3110, "Workshop Ticket (Saturday)", 12000, ""),
    (3111, "Sticker Pack ✨", 350, ""),
    (3112, "Hand-made Sandals", 6480, "size"),
)
_PRODUCT_MODULE_ID: Final = 1720
_SIZE_ATTRIBUTE: Final = (501, ("5011", "5012", "5013", "5014", "5015"))
_COLOUR_ATTRIBUTE: Final = (502, ("5021", "5022", "5023", "5024", "5025", "5026"))
_ADDRESSES: Final = (
    ("12 Rue de l'Église", "Paris", "Île-de-France", "75004", "FR"),
    ("1-2-3 Shibuya", "東京", "東京都", "150-0002", "JP"),
    ("221B Baker Street", "London", None, "NW1 6XE", "GB"),
    ("500 Main St, Apt 4", "Springfield", "IL", "62701", "US"),
    ("Königstraße 5", "München", "Bayern", "80331", "DE"),
    ("Av. Paulista, 1578", "São Paulo", "SP", "01310-200", "BR"),
    ("77 Queen St", "Auckland", None, "1010", "NZ"),
)
_MESSAGES: Final = ("Joyeux anniversaire 🎂", "Happy holidays!", "お誕生日おめでとう", "Für Oma ❤️", "")
_TIERS: Final = ("Bronze", "Silver", "Gold", "Platinum")
_DECLINES: Final = ("card_declined", "insufficient_funds", "Do not honour", "expired_card")
# (payment type, weight, gateways the type goes through)
_PAYMENT_KINDS: Final = (
    ("CreditCard", 45, (2, 3, 4, 6)),
    ("PayPal", 20, (1,)),
    ("Cash", 9, (0,)),
    ("Check", 6, (0,)),
    ("BankTransfer", 12, (0,)),
    ("GiftVoucher", 3, (0,)),
    ("Other", 5, (0,)),
)
_PAYMENT_CUM: Final = tuple(sum(k[1] for k in _PAYMENT_KINDS[: i + 1]) for i in range(len(_PAYMENT_KINDS)))
_STATUS_CUM: Final = tuple(sum(w for _, w in _STATUSES[: i + 1]) for i in range(len(_STATUSES)))
_SHIPPED: Final = frozenset({"Shipped", "Completed"})
_ALNUM: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
_LOWER_ALNUM: Final = "abcdefghijklmnopqrstuvwxyz0123456789"

_EPOCH: Final = datetime(2016, 3, 1, tzinfo=UTC)
_SPAN_SECONDS: Final = 8 * 365 * 24 * 3600  # created dates spread over about eight years


def _transaction_id(rng: random.Random, gateway: int) -> str | None:
    if gateway == 1:  # PayPal style, as on the v1 sample: 4X232065C5059574H
        return "".join(rng.choices(_ALNUM, k=17))
    if gateway in (2, 6):
        return "ch_" + "".join(rng.choices(_LOWER_ALNUM, k=24))
    if gateway in (3, 4, 5):
        return str(rng.randrange(10**10, 10**11))
    return None


def _split(total_cents: int, parts: int, rng: random.Random) -> list[int]:
    """``total_cents`` cut into ``parts`` positive amounts (fewer when too small)."""
    parts = max(1, min(parts, total_cents))
    cuts = sorted(rng.sample(range(1, total_cents), parts - 1)) if parts > 1 else []
    bounds = [0, *cuts, total_cents]
    return [b - a for a, b in itertools.pairwise(bounds)]


def _order_rng(seed: int, index: int) -> random.Random:
    # One generator per order: any order can be produced alone, deterministically.
    return random.Random(seed * 1_000_003 + index)


def make_order(
    index: int,
    *,
    seed: int,
    count: int,
    site: SiteProfile,
    first_id: int,
    first_invoice: int,
) -> OrderRecord:
    """Order ``index`` (0-based) of a batch of ``count`` orders generated from ``seed``.

    Its id is ``first_id + index * ID_STRIDE`` (lines and payments take the ids after
    it), its invoice number ``first_invoice + index``; created dates grow with the index.
    """
    rng = _order_rng(seed, index)
    cat = site.catalog
    order_id = first_id + index * ID_STRIDE
    next_child = order_id + 1
    step = max(1, _SPAN_SECONDS // max(count, 1))
    created = _EPOCH + timedelta(seconds=index * step + rng.randrange(step))
    invoice_date = (
        created if rng.random() < 0.6 else created + timedelta(seconds=rng.randrange(3600, 10 * 86400))
    )
    statuses = list(cat.statuses.values())
    status = rng.choices(statuses, cum_weights=_STATUS_CUM)[0]
    member = rng.choice(list(cat.members.values()))
    invoice = first_invoice + index
    order = OrderRecord(
        id=order_id,
        invoice_number=invoice,
        created=created,
        invoice_date=invoice_date,
        status_id=status.id,
        currency=site.currency,
        country=site.country,
        member_id=member.id,
        order_name=f"Order #{invoice}",
    )

    # Lines: a few orders are a single "General Payment", as on the v1 sample.
    if rng.random() < 0.05:
        order.order_name = "General Payment"
        order.lines.append(LineRecord(next_child, "General Payment", 1, _cents(rng.randrange(500, 20000))))
    else:
        for k in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
            pid, name, price, kind = rng.choice(_PRODUCTS)
            line = LineRecord(
                id=next_child + k,
                product_name=name,
                quantity=rng.choice((1, 1, 1, 1, 2, 2, 3, 5, 12)),
                # Prices drift over the years: +-15 % around the list price, to the cent.
                unit_price=_cents(price + rng.randrange(-price // 7, price // 7 + 1)),
                product_id=pid,
                module_id=_PRODUCT_MODULE_ID,
                entity_type="Product",
            )
            if kind == "download":
                line.is_download = True
                line.file_name = f"product-{pid}-v{rng.randrange(1, 4)}.zip"
                line.quantity = 1
            elif kind:
                attr, options = _SIZE_ATTRIBUTE if kind == "size" else _COLOUR_ATTRIBUTE
                line.attributes.append((attr, tuple(sorted(rng.sample(options, rng.choice((1, 1, 2)))))))
                if kind == "size" and rng.random() < 0.3:  # some also pick a colour
                    attr2, options2 = _COLOUR_ATTRIBUTE
                    line.attributes.append((attr2, (rng.choice(options2),)))
            order.lines.append(line)
    next_child = order_id + 1 + _MAX_LINES

    # Catalog assets; vouchers and discounts only where the subtotal covers them.
    subtotal = sum((line.quantity * line.unit_price for line in order.lines), ZERO)
    if rng.random() < 0.5:
        order.tax_id = rng.choice(list(cat.taxes))
    if rng.random() < 0.6:
        order.shipping_option_id = rng.choice(list(cat.shipping_options))
        address, city, state, zipcode, country = rng.choice(_ADDRESSES)
        order.shipping_address, order.shipping_city, order.shipping_state = address, city, state
        order.shipping_zipcode, order.shipping_country = zipcode, country
        if status.name in _SHIPPED and rng.random() < 0.7:
            order.awb_number = "1Z" + "".join(rng.choices(_ALNUM, k=16))
            order.tracking_url = f"https://track.example.com/parcels/{order.awb_number}"
    credit = ZERO
    if rng.random() < 0.2:
        discount = rng.choice(list(cat.discounts.values()))
        if discount.amount + 1 < subtotal:
            order.discount_id, credit = discount.id, discount.amount
    if rng.random() < 0.08:
        voucher = rng.choice(list(cat.gift_vouchers.values()))
        if credit + voucher.amount + 1 < subtotal:
            order.gift_voucher_id = voucher.id

    # Custom CRM groups with every kind of value: string, bool, int, decimal, null.
    if rng.random() < 0.3:
        if rng.random() < 0.6:
            order.custom_crm_groups["gift_options"] = {
                "gift_wrap": rng.random() < 0.5,
                "message": rng.choice(_MESSAGES),
            }
        order.custom_crm_groups["loyalty"] = {
            "points": rng.randrange(0, 5000),
            "tier": rng.choice(_TIERS),
            "cashback_rate": _cents(rng.randrange(0, 500)),
            "referrer": None if rng.random() < 0.7 else rng.choice(_MEMBER_NAMES)[2],
        }

    if rng.random() < 0.03:
        order.is_recurring = order.has_subscriptions = True
        if index > 0 and rng.random() < 0.5:
            order.main_order_id = first_id + rng.randrange(index) * ID_STRIDE

    _add_payments(order, rng, next_child, cat)
    order.has_paid_subscription = order.has_subscriptions and order.payment_state == "Succeeded"
    return order


def _add_payments(order: OrderRecord, rng: random.Random, first_id: int, cat: Catalog) -> None:
    """0-3 payments in a realistic scenario, with the order's ``PaymentState`` to match."""
    total = compute_totals(order, cat).total
    total_cents = int(total * 100)
    scenario = rng.random()
    if total_cents <= 1 or scenario < 0.15:
        order.payment_state = rng.choice(("None", "Pending"))
        return
    # (payment status, amount in cents) pairs
    plan: list[tuple[str, int]]
    if scenario < 0.55:
        plan, order.payment_state = [("Succeeded", total_cents)], "Succeeded"
    elif scenario < 0.70:
        plan = [("Succeeded", c) for c in _split(total_cents, rng.choice((2, 3)), rng)]
        order.payment_state = "Succeeded"
    elif scenario < 0.85:
        paid = total_cents * rng.randrange(20, 80) // 100
        plan = [("Succeeded", c) for c in _split(max(paid, 1), rng.choice((1, 2)), rng)]
        order.payment_state = "PartiallyPaid"
    elif scenario < 0.92:
        plan, order.payment_state = [("Failed", total_cents), ("Succeeded", total_cents)], "Succeeded"
    elif scenario < 0.96:
        plan, order.payment_state = [("Pending", total_cents)], "Pending"
    else:
        plan, order.payment_state = [("Refunded", total_cents)], "Refunded"
    when = order.created
    for k, (status, amount_cents) in enumerate(plan):
        kind = rng.choices(_PAYMENT_KINDS, cum_weights=_PAYMENT_CUM)[0]
        gateway = rng.choice(kind[2])
        when = when + timedelta(seconds=rng.randrange(30, 3 * 86400))
        amount = _cents(amount_cents)
        order.payments.append(
            PaymentRecord(
                id=first_id + k,
                amount=amount,
                amount_captured=amount if status in ("Succeeded", "Refunded") else ZERO,
                status=status,
                payment_type=kind[0],
                created=when,
                gateway=gateway,
                gateway_reason=rng.choice(_DECLINES) if status == "Failed" else None,
                transaction_id=_transaction_id(rng, gateway),
                notes=rng.choice(
                    (None, None, None, "Paid at the counter", "Acompte, reste à payer", "分割払い")
                ),
            )
        )
    if order.payments[-1].transaction_id and rng.random() < 0.8:
        order.transaction_id = order.payments[-1].transaction_id


def generate_records(
    count: int,
    *,
    seed: int = 0,
    site: SiteProfile | None = None,
    first_id: int = 1000,
    first_invoice: int = 1,
) -> Iterator[OrderRecord]:
    """Lazily yield the ``count`` orders a site seeded with ``seed`` holds (default site: catalog seed 0)."""
    site = site if site is not None else SiteProfile(make_catalog(0))
    for index in range(count):
        yield make_order(
            index, seed=seed, count=count, site=site, first_id=first_id, first_invoice=first_invoice
        )


def generate_documents(
    count: int,
    *,
    seed: int = 0,
    version: Literal["v1", "v2"] = "v2",
    single: bool = True,
    catalog_seed: int = 0,
    currency: str = "USD",
    country: str = "US",
    site_timezone: str = "UTC",
    first_id: int = 1000,
    first_invoice: int = 1,
) -> Iterator[dict[str, Any]]:
    """Yield wire documents without a server: exactly what a simulator built with the same
    knobs and seeded with ``seed(count, seed=seed)`` answers for its orders, in id order.

    ``version="v2"``: the ``GET /api/v2/admin/orders/{id}`` shape. ``version="v1"``: the
    ``GET /api/v1/orders/{id}`` shape with every part; ``single=False`` gives the v1
    list-item shape instead (``Member.Id`` a number, not a string).
    """
    site = SiteProfile(make_catalog(catalog_seed), currency, country, ZoneInfo(site_timezone))
    for record in generate_records(
        count, seed=seed, site=site, first_id=first_id, first_invoice=first_invoice
    ):
        yield render_v2(record, site) if version == "v2" else render_v1(record, site, single=single)
