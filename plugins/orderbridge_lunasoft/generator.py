"""A seeded, deterministic generator of realistic Lunasoft cart order documents.

``generate_orders(count, seed=0)`` yields single-order documents (with
``statuses``, newest first) shaped like the API page's samples: several lines,
promo codes and rules, gift certificates and gift-certificate lines, guest
checkouts, check payments with check dates, card payments with the last four
digits, unicode names, ``"0000-00-00"`` dates and empty strings. Same
``count`` and ``seed``, same documents; 100,000 take a few seconds.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, Final

__all__ = ["DEFAULT_STATUSES", "generate_orders"]

DEFAULT_STATUSES: Final = ("Pending", "Processing", "Shipped", "Complete", "Cancelled", "Refunded")
"""The status names a generated shop knows (and the simulator accepts by default)."""

_FIRST = ("Test", "José", "Zoë", "Łukasz", "Anaïs", "Mary", "John", "Søren", "Chloé", "Nguyễn", "Ana", "Bob")
_LAST = ("Customer", "García", "Müller", "O'Brien", "Nowak", "Smith", "Jones", "Åberg", "佐藤", "Brown")
_CITIES = (("salt lake city", "UT", "84101"), ("Provo", "UT", "84601"), ("Denver", "CO", "80202"),
           ("Boise", "ID", "83702"), ("Phoenix", "AZ", "85004"), ("Reno", "NV", "89501"))  # fmt: skip
_STREETS = ("10 w broadway ste 701", "221 Main St", "5 Rue de l'Église", "1600 Elm Ave", "77 Straße 3")
_PRODUCTS = (("Test Product", 28999), ("Coffee Mug", 1250), ("T-Shirt Größe M", 1995), ("Poster", 700),
             ("Headphones", 8900), ("Notebook", 425), ("Café Beans 1kg", 2480))  # fmt: skip
_SHIPPING = (("flat rate", 1300), ("UPS Ground", 945), ("Free shipping", 0), ("USPS Priority", 715))
_NOTES = ("Order is processing", "Order has been shipped", "Order has been processed",
          "Tracking #ABCDEFG", "")  # fmt: skip
_ZONES = (timezone(timedelta(hours=-6)), timezone(timedelta(hours=-7)))
_ZONE_TEXT = {_ZONES[0]: "-0600", _ZONES[1]: "-0700"}
_EPOCH = datetime(2015, 1, 1)


_DAYS: dict[tuple[int, int, int], str] = {}


def _stamp(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS-0600`` (strftime is the slowest step of generating, so days are cached)."""
    key = (moment.year, moment.month, moment.day)
    day = _DAYS.get(key)
    if day is None:
        day = _DAYS.setdefault(key, moment.strftime("%Y-%m-%d"))
    offset = _ZONE_TEXT.get(moment.tzinfo) if isinstance(moment.tzinfo, timezone) else None
    if offset is None:
        offset = moment.strftime("%z")
    return f"{day}T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}{offset}"


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def generate_orders(count: int, *, seed: int = 0, start_id: int = 54123) -> Iterator[dict[str, Any]]:
    """Yield ``count`` order documents with ids ``start_id``, ``start_id + 1``, ... (deterministic)."""
    rng = random.Random(seed)
    status_id = 1000
    line_id = 3000
    moment = _EPOCH
    for n in range(count):
        oid = str(start_id + n)
        r = rng.random
        moment += timedelta(seconds=int(r() * 7200) + 60)
        zone = _ZONES[moment.month % 2]
        created = moment.replace(tzinfo=zone)
        first, last = _FIRST[int(r() * len(_FIRST))], _LAST[int(r() * len(_LAST))]
        email = f"{first.lower()}.{n}@example.com".replace("'", "")
        guest = r() < 0.2
        user_id = None if guest else str(100 + int(r() * 5000))
        city, state, zipc = _CITIES[int(r() * len(_CITIES))]
        street = _STREETS[int(r() * len(_STREETS))]
        phone = f"801-{int(r() * 900) + 100}-{int(r() * 9000) + 1000}"

        lines: list[dict[str, Any]] = []
        subtotal = 0
        for _ in range(1 + int(r() * 4)):
            line_id += 1
            gift_line = r() < 0.05
            if gift_line:
                name, cost = "Gift Certificate", 2500 * (1 + int(r() * 4))
            else:
                pname, pcost = _PRODUCTS[int(r() * len(_PRODUCTS))]
                name, cost = pname, pcost
            qty = 1 + int(r() * 3)
            total_cost = cost * qty
            subtotal += total_cost
            override = r() < 0.1
            shipped = r() < 0.5
            lines.append({
                "id": str(line_id),
                "product_id": str(16000 + int(r() * 900)),
                "name": name,
                "model": "" if r() < 0.7 else f"M-{int(r() * 100)}",
                "sku": "" if r() < 0.3 else f"SKU-{int(r() * 10000):05d}",
                "description": "" if r() < 0.6 else f"{name} — deluxe",
                "cost": _money(cost),
                "quantity": str(qty),
                "total_cost": _money(total_cost),
                "did_override_shipping_cost": override,
                "total_override_shipping_cost": _money(qty * 200) if override else "0.00",
                "is_gift_certificate": gift_line,
                "gift_cert_amount": _money(cost) if gift_line else "0.00",
                "gift_cert_code": f"GC{line_id}" if gift_line else "",
                "is_fulfilled": shipped,
                "shipment_info": {"carrier": "UPS", "tracking": f"1Z{line_id:010d}"} if shipped and r() < 0.3
                else None,
            })  # fmt: skip

        promo = r() < 0.25
        promo_discount = subtotal // 10 if promo else 0
        rule = r() < 0.15
        rule_discount = 500 if rule else 0
        ship_name, ship_cost = _SHIPPING[int(r() * len(_SHIPPING))]
        ship_discount = ship_cost if rule and r() < 0.5 else 0
        tax = max(0, (subtotal - promo_discount - rule_discount) * 685 + 5000) // 10000
        gift = r() < 0.1
        total = subtotal - promo_discount - rule_discount + ship_cost - ship_discount + tax
        gift_applied = min(2000, total) if gift else 0

        pay = r()
        check = pay < 0.15
        card = not check and pay < 0.85
        check_date = _stamp(created + timedelta(days=1))[:10] if check else "0000-00-00"

        statuses: list[dict[str, Any]] = []
        when = created
        for name in DEFAULT_STATUSES[: 1 + int(r() * 4)]:  # every order has at least one status
            status_id += 1
            when += timedelta(minutes=int(r() * 3000) + 1)
            statuses.append({
                "id": str(status_id), "status": name, "notes": _NOTES[int(r() * len(_NOTES))],
                "notify_customer": r() < 0.5, "created": _stamp(when), "created_ip": "127.0.0.1",
                "created_user_id": None if r() < 0.5 else "2", "modified": "", "modified_user_id": None,
            })  # fmt: skip
        statuses.reverse()  # newest first, as the cart sends them
        current = statuses[0]["status"]
        modified = _stamp(when) if statuses and r() < 0.5 else ""
        marketing = r() < 0.2

        yield {
            "id": oid,
            "user_id": user_id,
            "user_email": "" if guest else email,
            "current_status": current,
            "order_num": oid,
            "order_description": "Site shopping order",
            "customer_note": "" if r() < 0.8 else "Please leave at the door ✓",
            "first_name": first,
            "last_name": last,
            "phone": phone,
            "email": email,
            "total": _money(total),
            "tax": _money(tax),
            "is_paid": card or (check and r() < 0.5),
            "payment_option": "Check" if check else ("Credit Card" if card else "PayPal"),
            "payment_option_type": "" if check else ("authorize.net" if card else "paypal"),
            "payment_option_id": "17" if check else ("16" if card else "18"),
            "payment_detail": "",
            "check_num": str(1000 + int(r() * 9000)) if check else "",
            "check_date": check_date,
            "transaction_id": str(60000000 + int(r() * 1000000)) if card else "0",
            "card_last_4": f"{int(r() * 10000):04d}" if card else "",
            "card_type": ("Visa", "MasterCard", "Amex")[int(r() * 3)] if card else "",
            "billing_first_name": first,
            "billing_last_name": last,
            "billing_phone": phone,
            "billing_email": email,
            "billing_address": street,
            "billing_city": city,
            "billing_state": state,
            "billing_zip": zipc,
            "billing_country": "us",
            "promo_code": f"SAVE{n % 50}" if promo else "",
            "promo_code_info": "10% off" if promo else "",
            "promo_code_discount": _money(promo_discount),
            "promo_rule_info": "$5 off orders over $50" if rule else "",
            "promo_rule_info_admin": "rule #3" if rule else "",
            "promo_rule_discount": _money(rule_discount),
            "promo_rule_discount_shipping": _money(ship_discount),
            "gift_cert_id": str(500 + n) if gift else None,
            "gift_cert_code": f"GIFT-{n:06d}" if gift else "",
            "gift_cert_info": "Holiday gift" if gift else "",
            "gift_cert_applied": _money(gift_applied),
            "gift_cert_is_credit_voucher": (r() < 0.3) if gift else True,
            "shipping_option": ship_name,
            "shipping_cost": _money(ship_cost),
            "shipping_first_name": first,
            "shipping_last_name": last,
            "shipping_phone": phone,
            "shipping_company": "" if r() < 0.8 else "Acme Ltd",
            "shipping_address": street,
            "shipping_address2": "" if r() < 0.8 else "Apt 4",
            "shipping_city": city,
            "shipping_state": state,
            "shipping_zip": zipc,
            "shipping_country": "us",
            "is_fulfilled": current in ("Shipped", "Complete"),
            "notes": "" if r() < 0.9 else "Called customer",
            "marketing_source_id": str(1 + int(r() * 5)) if marketing else None,
            "marketing_source_choice": "Search engine" if marketing else "",
            "marketing_source_other": "",
            "admin_created": r() < 0.05,
            "web_order": r() < 0.95,
            "is_guest_checkout": guest,
            "created": _stamp(created),
            "created_ip": f"10.0.{int(r() * 255)}.{int(r() * 255)}",
            "created_user_id": user_id,
            "modified": modified,
            "modified_user_id": None if not modified else "2",
            "line_items": lines,
            "statuses": statuses,
        }
