"""The fewest requests the WebinOne v2 pages allow for writing one order, read off the pages.

Derived from ``shared/specs`` (not from the client): what each endpoint's body
can carry decides how many requests an order needs at least.

- ``POST /api/v2/admin/orders`` ("CRM Order Create"): the order's own fields
  (``AWBNumber`` ... ``ShippingCountry``, ``StatusId``, ``MemberId``); no lines,
  payments, assets, custom groups, currency or country. 1 per order.
- ``PUT /api/v2/admin/orders/{id}`` ("CRM Order Update") is the only body with
  ``Currency`` and ``Country``; a created order takes the API application's
  profile (WIRE-ASSUMPTIONS: one application serves one currency/country
  profile). 1 when the order's currency or country is not the profile's.
- ``PUT .../orders/{id}/custom-crm-groups``: all groups in one body. 1 when the
  order has custom groups.
- ``POST .../orders/{id}/order-lines``: one line per body. 1 per line.
- ``POST .../orders/{id}/payments``: one payment per body; ``Amount`` is
  required. 1 per payment that has an amount.
- ``PUT .../orders/{id}/discount-code``, ``/gift-voucher``, ``/shipping``,
  ``/tax``: one asset each. 1 per asset the order has.
"""

from __future__ import annotations

from typing import Any


def minimum_requests(order: Any, profile: tuple[str | None, str | None]) -> int:
    """The v2 requests ``order`` needs at least on a site whose profile is ``(currency, country)``."""
    currency, country = profile
    needs = 1  # the order create
    if (order.currency or currency, order.country or country) != (currency, country):
        needs += 1  # the order update: the only body with Currency and Country
    if order.custom_fields:
        needs += 1
    needs += len(order.lines)
    needs += sum(1 for payment in order.payments if payment.amount is not None)
    needs += sum(
        1
        for present in (
            any(d.code for d in order.discounts),
            any(v.code for v in order.gift_vouchers),
            order.shipping is not None and order.shipping.name is not None,
            any(t.code for t in order.taxes),
        )
        if present
    )
    return needs
