"""Wire conventions of the WebinOne APIs that the public pages leave open.

Every assumption that is not stated on the API pages lives here, in one
constant or one small function, so that correcting it after meeting a live
site is a one-line change. ``docs/backends/webinone.md`` lists each of them
under "Unverified assumptions" (keep the two in step).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any, Final

import orderbridge as ob

__all__ = [
    "CATALOG_NAME_FIELDS",
    "CATALOG_PATHS",
    "CLIENT_ID_ENV",
    "CLIENT_SECRET_ENV",
    "IDS_GROW_WITH_TIME",
    "PAGE_SIZE",
    "TOKEN_PATH",
    "V1_FIELDS",
    "V1_GATEWAY_NAMES",
    "V1_ORDERS",
    "V2_ORDERS",
    "catalog_candidate",
    "catalog_list_params",
    "created_time",
    "custom_groups_body",
    "format_v1_time",
    "format_v2_time",
    "gateway_from_v1",
    "gateway_to_v1",
    "is_normal_v1_time",
    "is_normal_v2_time",
    "is_target_id",
    "parse_stamp_field",
    "v1_list_params",
    "v2_list_params",
    "where_text",
]

TOKEN_PATH: Final = "/api/v1/oauth/token"  # noqa: S105 - a path, not a secret
"""OAuth 2.0 client-credentials token endpoint, relative to the site's origin (assumed)."""

CLIENT_ID_ENV: Final = "WEBINONE_CLIENT_ID"
"""Environment variable read when no ``client_id`` is passed."""

CLIENT_SECRET_ENV: Final = "WEBINONE_CLIENT_SECRET"  # noqa: S105 - the variable's name, not a secret
"""Environment variable read when no ``client_secret`` is passed."""

PAGE_SIZE: Final = 100
"""Orders per list request (the pages' samples use ``Limit: 100``; the real maximum is unknown)."""

V2_ORDERS: Final = "/api/v2/admin/orders"
"""v2 orders collection (documented)."""

V1_ORDERS: Final = "/api/v1/orders"
"""v1 orders collection (documented)."""

V1_FIELDS: Final = "Status,Member,Discount,GiftVoucher,Tax,ShippingInfo,OrderLines,Payments,CustomCrmGroups"
"""The v1 ``fields`` value asking for every nested part (the page's sample value)."""


# ------------------------------------------------------------------ catalogs (mapping help)

CATALOG_PATHS: Final[Mapping[str, str]] = {
    "status": "/api/v2/admin/order-statuses",
    "member": "/api/v2/admin/members",
    "discount": "/api/v2/admin/discount-codes",
    "gift_voucher": "/api/v2/admin/gift-vouchers",
    "shipping_option": "/api/v2/admin/shipping-options",
    "tax": "/api/v2/admin/tax-codes",
}
"""Reference kind -> the v2 list of the site's entries of that kind (**assumed**: the API
pages document no catalog endpoint at all). Answered like the orders list (``Offset``,
``Limit``; ``{"Items": [...], "TotalItemsCount": N}``), each item an ``Id`` and the
field of :data:`CATALOG_NAME_FIELDS`. A site that answers 404 (or 405) for a path
cannot list that kind: the dry run's template then shows no candidates for it, and
mapped ids of that kind are not checked against a list."""

CATALOG_NAME_FIELDS: Final[Mapping[str, str]] = {
    "status": "Name",
    "member": "Email",
    "discount": "Code",
    "gift_voucher": "Name",
    "shipping_option": "Name",
    "tax": "Code",
}
"""Reference kind -> the field of a catalog item a person recognises it by (assumed, from the
order documents: ``StatusShort.Name``, ``Member.Email``, ``Discount.Code``, ``GiftVoucher.Name``,
``ShippingInfo.Name``, ``Tax.Code``)."""


def catalog_list_params(offset: int, limit: int) -> dict[str, Any]:
    """Query parameters of a catalog list page (the orders list's names; assumed)."""
    return {"Order_By": "Id", "Offset": offset, "Limit": limit}


def catalog_candidate(kind: str, item: Any) -> ob.ReferenceCandidate | None:
    """One catalog item as a candidate (its ``Id`` and name field), ``None`` when it has no ``Id``."""
    if not isinstance(item, Mapping):
        return None
    ident = item.get("Id")
    if isinstance(ident, bool) or not isinstance(ident, int | str) or ident == "":
        return None
    name = item.get(CATALOG_NAME_FIELDS[kind])
    return ob.ReferenceCandidate(str(ident), str(name) if name is not None else "")


_ID = re.compile(r"[1-9][0-9]*\Z")


def is_target_id(text: str) -> bool:
    """Whether a resolved reference looks like a WebinOne id (a positive integer; assumed).

    The resolver's identity rule gives an asset's code or name when the source
    has no id for it (order documents never carry asset ids): such a value is
    treated as unresolved before any request, not sent to fail on the server.
    """
    return _ID.match(text) is not None


def where_text(where: str | Mapping[str, Any] | None) -> str | None:
    """A caller's ``Where`` filter as JSON text; text is passed through untouched (syntax undocumented)."""
    if where is None or isinstance(where, str):
        return where
    return ob.jsonutil.dumps(dict(where))


def v2_list_params(offset: int, limit: int, where: str | None = None) -> dict[str, Any]:
    """Query parameters of a v2 list page (``Where``, ``Order_By``, ``Offset``, ``Limit``: assumed names)."""
    params: dict[str, Any] = {}
    if where is not None:
        params["Where"] = where
    params["Order_By"] = "Id"
    params["Offset"] = offset
    params["Limit"] = limit
    return params


def v1_list_params(
    offset: int, limit: int, where: str | None = None, fields: str | None = V1_FIELDS
) -> dict[str, Any]:
    """Query parameters of a v1 list page (lower-case names, as in the page's sample)."""
    params: dict[str, Any] = {}
    if fields:
        params["fields"] = fields
    if where is not None:
        params["where"] = where
    params["order_by"] = "Id"
    params["offset"] = offset
    params["limit"] = limit
    return params


def custom_groups_body(groups: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The body of ``PUT .../custom-crm-groups`` ("FormSubmissionData" on the page).

    Assumed: JSON of the same shape as the order's ``CustomCrmGroups``.
    """
    return {group: dict(fields) for group, fields in groups.items()}


# ------------------------------------------------------------------ timestamps

_V2_NORMAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")
_V1_NORMAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\Z")


def format_v2_time(value: datetime) -> str:
    """v2 timestamps: UTC with ``Z`` and milliseconds, as on the page (six digits when finer)."""
    utc = value.astimezone(UTC)
    # The naive copy through combine(), not replace(tzinfo=None): replace parses keywords,
    # which costs more than the rest. isoformat (C) always writes a four-digit year and,
    # given a timespec, the fraction.
    naive = datetime.combine(utc, utc.time())
    return naive.isoformat("T", "milliseconds" if utc.microsecond % 1000 == 0 else "microseconds") + "Z"


def is_normal_v2_time(text: str) -> bool:
    """Whether ``text`` is already written as :func:`format_v2_time` writes it."""
    return _V2_NORMAL.match(text) is not None


def format_v1_time(value: datetime, zone: tzinfo) -> str:
    """v1 timestamps: naive local time of the site's zone, seconds precision (``2022-01-14T09:47:37``)."""
    local = value.astimezone(zone)
    return datetime.combine(local, local.time()).isoformat()  # naive (time() has no zone), as above


def is_normal_v1_time(text: str) -> bool:
    """Whether ``text`` is already written as :func:`format_v1_time` writes it."""
    return _V1_NORMAL.match(text) is not None


# ------------------------------------------------------------------ payment gateways

V1_GATEWAY_NAMES: Final[Mapping[int, str]] = {
    0: "None",
    1: "paypal",
    2: "stripe",
    3: "authorizenet",
    4: "braintree",
    5: "eway",
    6: "square",
}
"""v1 ``PaymentGatewayType`` number -> gateway name as v2 writes it.

Assumed: the pages show only ``0`` (a cash payment) in v1 and ``"stripe"`` in v2; ``0``
is taken as a manual payment, ``"None"``. The other numbers are a guess.

A number not in the table is kept as ``"v1:<number>"`` and written back as that number.
"""

_V1_GATEWAY_NUMBERS: Final = {name: number for number, name in V1_GATEWAY_NAMES.items()}
_V1_RAW = re.compile(r"v1:(-?\d+)\Z")


def gateway_from_v1(number: int) -> str:
    """The gateway name of a v1 ``PaymentGatewayType`` number (``"v1:7"`` when unknown)."""
    name = V1_GATEWAY_NAMES.get(number)
    return name if name is not None else f"v1:{number}"


def gateway_to_v1(name: str) -> int | str:
    """The v1 number of a gateway name; a name v1 has no number for is returned as is."""
    number = _V1_GATEWAY_NUMBERS.get(name)
    if number is not None:
        return number
    raw = _V1_RAW.match(name)
    return int(raw.group(1)) if raw else name


# ------------------------------------------------------------------ the ledger (stamps, own copies)

IDS_GROW_WITH_TIME: Final = True
"""Assumed: a site gives new orders ever larger ids, so in a list ordered by ``Id`` the
newest orders come last and nothing created after an order is listed before it. Looking
for a copy an ambiguous create may have left stops at the first page of older orders."""

_STAMP_FIELD = re.compile(r"([A-Za-z0-9_\-]+)\.([A-Za-z0-9_\-]+)\Z")


def parse_stamp_field(text: str) -> tuple[str, str]:
    """``"GroupAlias.FieldAlias"`` of the custom CRM field that holds a migration's stamp.

    The operator creates this text field on the target site beforehand; the
    stamp goes in with the ``custom-crm-groups`` PUT that follows the create.
    """
    match = _STAMP_FIELD.match(text) if isinstance(text, str) else None
    if match is None:
        raise ob.ConfigurationError(
            f"stamp_field must be 'GroupAlias.FieldAlias' (a custom CRM field of the target site), "
            f"not {text!r}"
        )
    return match.group(1), match.group(2)


def created_time(item: Mapping[str, Any]) -> datetime | None:
    """An order document's ``CreatedDateTime`` (v2: UTC with ``Z``), or ``None`` when unreadable."""
    value = item.get("CreatedDateTime")
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
