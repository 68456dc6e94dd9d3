"""Hypothesis strategies that build valid canonical orders."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

import orderbridge as ob

text = st.text(max_size=12)
opt_text = st.none() | text
ids = st.integers(min_value=1, max_value=10**9).map(str)
opt_bool = st.none() | st.booleans()
money = st.decimals(min_value=-(10**7), max_value=10**7, places=2, allow_nan=False, allow_infinity=False)
opt_money = st.none() | money
quantity = st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False, allow_infinity=False)
zones = st.integers(min_value=-14 * 4, max_value=14 * 4).map(lambda q: timezone(timedelta(minutes=15 * q)))
aware = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=zones)
opt_aware = st.none() | aware

json_scalar = st.none() | st.booleans() | st.integers() | money | text
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
extras = st.dictionaries(
    st.sampled_from(["webinone-v1", "webinone-v2", "lunasoft-cart"]),
    st.dictionaries(text, json_value, max_size=3),
    max_size=2,
)
custom_value = st.none() | st.booleans() | st.integers() | money | text
custom_fields = st.dictionaries(text, st.dictionaries(text, custom_value, max_size=3), max_size=2)


def _enum(kind: type[ob.OpenEnum]) -> st.SearchStrategy[Any]:
    return st.none() | st.sampled_from(list(kind)) | st.text(min_size=1, max_size=8).map(kind)


address = st.builds(
    ob.Address,
    first_name=opt_text,
    last_name=opt_text,
    company=opt_text,
    phone=opt_text,
    email=opt_text,
    line1=opt_text,
    line2=opt_text,
    city=opt_text,
    state=opt_text,
    postal_code=opt_text,
    country=opt_text,
)
non_negative = st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False, allow_infinity=False)
opt_non_negative = st.none() | non_negative
metadata = st.lists(
    st.builds(
        ob.MetaEntry,
        key=st.sampled_from(["a", "b", "_gift"]) | text,
        value=json_value,
        remote_id=st.none() | ids,
    ),
    max_size=3,
).map(tuple)
line = st.builds(
    ob.OrderLine,
    remote_id=st.none() | ids,
    product_ref=st.none() | ids,
    variant_ref=st.none() | ids,
    product_name=opt_text,
    sku=opt_text,
    quantity=quantity,
    unit_price=opt_money,
    subtotal=opt_money,
    discount_amount=opt_non_negative,
    total_price=opt_money,
    tax_amount=opt_money,
    tax_rate=opt_money,
    metadata=metadata,
    attributes=st.lists(
        st.builds(ob.AttributeSelection, attribute_id=ids, option_ids=st.lists(ids, max_size=3).map(tuple)),
        max_size=2,
    ).map(tuple),
    is_download=opt_bool,
    file_name=opt_text,
    extras=extras,
)
payment = st.builds(
    ob.Payment,
    remote_id=st.none() | ids,
    amount=opt_money,
    amount_captured=opt_money,
    status=opt_text,
    payment_type=_enum(ob.PaymentType),
    gateway=opt_text,
    transaction_id=opt_text,
    notes=opt_text,
    created_at=opt_aware,
    card_last4=st.none() | st.from_regex(r"\A\d{4}\Z"),
    extras=extras,
)


@st.composite
def history(draw: st.DrawFn) -> tuple[ob.StatusChange, ...]:
    times = sorted(draw(st.lists(aware, max_size=4)))
    return tuple(
        ob.StatusChange(status=draw(text), at=t, notes=draw(opt_text), notify_customer=draw(opt_bool))
        for t in times
    )


shipping_line = st.builds(
    ob.ShippingLine,
    name=opt_text,
    method=opt_text,
    cost=opt_money,
    tax_amount=opt_money,
    remote_id=st.none() | ids,
    extras=extras,
)
fee = st.builds(
    ob.Fee,
    name=opt_text,
    amount=opt_money,
    tax_amount=opt_money,
    tax_rate=opt_money,
    remote_id=st.none() | ids,
    extras=extras,
)


@st.composite
def _schema_2_parts(draw: st.DrawFn, order: ob.Order) -> ob.Order:
    """Refunds and tax lines whose indexes point into the order's lines, shipping lines and fees."""
    counts = {
        ob.TaxTarget.LINE: len(order.lines),
        ob.TaxTarget.SHIPPING: len(order.shipping_lines),
        ob.TaxTarget.FEE: len(order.fees),
    }
    taxes = []
    for _ in range(draw(st.integers(0, 3))):
        target = draw(st.sampled_from([ob.TaxTarget.ORDER, *counts]))
        count = counts.get(target, 0)
        index = draw(st.none() | st.integers(0, count - 1)) if count else None
        taxes.append(
            ob.TaxLine(
                code=draw(opt_text), name=draw(opt_text), rate=draw(opt_money), amount=draw(opt_money),
                applies_to=target, applies_to_index=index,
            )
        )  # fmt: skip
    refunds = []
    for _ in range(draw(st.integers(0, 2))):
        lines = [
            ob.RefundLine(
                line_index=draw(st.integers(0, len(order.lines) - 1)), quantity=draw(st.none() | quantity),
                amount=draw(opt_non_negative), tax_amount=draw(opt_non_negative),
            )
            for _ in range(draw(st.integers(0, 2)) if order.lines else 0)
        ]  # fmt: skip
        refunds.append(
            ob.Refund(
                amount=draw(opt_non_negative), reason=draw(opt_text), lines=lines, at=draw(opt_aware),
                remote_id=draw(st.none() | ids), extras=draw(extras),
            )
        )  # fmt: skip
    return order.evolve(taxes=(*order.taxes, *taxes), refunds=refunds)


sources = st.builds(
    ob.SourceRef,
    st.sampled_from(["webinone-v1", "jsonl"]),
    ids,
    site=st.none() | st.just("https://shop.example"),
)
orders = st.builds(
    ob.Order,
    source=st.none() | sources,
    number=st.none() | ids,
    name=opt_text,
    currency=st.none() | st.sampled_from(["USD", "EUR", "AUD"]),
    country=opt_text,
    status=st.none() | st.builds(ob.OrderStatus, name=opt_text, remote_id=st.none() | ids),
    status_history=history(),
    payment_state=_enum(ob.PaymentState),
    created_at=opt_aware,
    invoiced_at=opt_aware,
    total=opt_money,
    amount_paid=opt_money,
    is_paid=opt_bool,
    is_recurring=opt_bool,
    tracking_url=opt_text,
    customer=st.none()
    | st.builds(ob.Customer, remote_id=st.none() | ids, email=opt_text, first_name=opt_text),
    billing_address=st.none() | address,
    shipping_address=st.none() | address,
    prices_include_tax=opt_bool,
    shipping_lines=st.lists(shipping_line, max_size=2).map(tuple),
    fees=st.lists(fee, max_size=2).map(tuple),
    discounts=st.lists(
        st.builds(
            ob.Discount, code=opt_text, amount=opt_money, kind=st.sampled_from(["code", "rule", "shipping"])
        ),
        max_size=2,
    ).map(tuple),
    gift_vouchers=st.lists(
        st.builds(ob.GiftVoucher, code=opt_text, amount=opt_money, is_credit_voucher=opt_bool), max_size=2
    ).map(tuple),
    taxes=st.lists(st.builds(ob.Tax, code=opt_text, rate=opt_money, amount=opt_money), max_size=2).map(tuple),
    lines=st.lists(line, max_size=3).map(tuple),
    payments=st.lists(payment, max_size=3).map(tuple),
    notes=opt_text,
    customer_note=opt_text,
    metadata=metadata,
    custom_fields=custom_fields,
    extras=extras,
).flatmap(_schema_2_parts)
