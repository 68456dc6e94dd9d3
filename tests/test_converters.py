from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings

import orderbridge as ob
from orderbridge import jsonutil

from .strategies import orders


@settings(max_examples=150, deadline=None)
@given(orders)
def test_any_valid_order_survives_dict_and_json_round_trips(order: ob.Order) -> None:
    as_dict = ob.order_to_dict(order)
    assert ob.order_from_dict(as_dict) == order
    text = ob.order_to_json(order)
    assert "\n" not in text
    assert ob.order_from_json(text) == order
    # the JSON-ready dict really is plain JSON: no Decimal, datetime or enum objects
    assert json.loads(json.dumps(as_dict)) == as_dict


def test_canonical_form_writes_money_as_strings_and_datetimes_with_offset() -> None:
    order = ob.Order(
        total=Decimal("10.50"),
        created_at=datetime(2022, 1, 14, 9, 47, 37, tzinfo=UTC),
        payment_state="Succeeded",
        custom_fields={"Gift": {"Wrap": True, "Weight": Decimal("1.25")}},
    )
    data = ob.order_to_dict(order)
    assert data["schema_version"] == ob.SCHEMA_VERSION
    assert data["total"] == "10.50"
    assert data["created_at"] == "2022-01-14T09:47:37+00:00"
    assert data["payment_state"] == "Succeeded"
    assert data["custom_fields"] == {"Gift": {"Wrap": True, "Weight": {"$decimal": "1.25"}}}


def test_unknown_enum_value_is_kept_raw_through_json() -> None:
    order = ob.Order(payment_state="Disputed", payments=[ob.Payment(payment_type="Crypto")])
    back = ob.order_from_json(ob.order_to_json(order))
    assert back.payment_state is not None and back.payment_state.value == "Disputed"
    assert not back.payment_state.known
    assert back.payments[0].payment_type == "Crypto"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"total": 10.5}, "total", "exact amount"),
        ({"total": "ten"}, "total", "not an amount"),
        ({"created_at": "2022-01-14T09:47:37"}, "created_at", "no offset"),
        ({"lines": [{}, {"unit_price": "x"}]}, "lines[1].unit_price", "not an amount"),
        ({"lines": [{"quantity": "-1"}]}, "lines[0].quantity", "negative"),
        ({"status_history": [{"notes": "n"}]}, "status_history[0].status", "missing"),
        ({"currency": "usd"}, "currency", "ISO 4217"),
        ({"colour": "red"}, "colour", "not a field"),
        ({"payments": [{"card_last4": "4111111111111111"}]}, "payments[0].card_last4", "last four"),
        ({"custom_fields": {"G": {"F": [1]}}}, "custom_fields.G.F", "must be a string"),
    ],
)
def test_bad_canonical_input_names_the_order_and_field(change: dict, field: str, words: str) -> None:
    data = {"schema_version": 1, "source": {"backend": "webinone-v1", "remote_id": "28057"}, **change}
    with pytest.raises(ob.InvalidOrder) as info:
        ob.order_from_dict(data)
    assert info.value.field == field
    assert info.value.order == "webinone-v1:28057"
    assert words in str(info.value)
    assert "webinone-v1:28057" in str(info.value)


def test_wrong_schema_version_is_refused() -> None:
    with pytest.raises(ob.InvalidOrder, match="schema_version"):
        ob.order_from_dict({"schema_version": 99})


def test_jsonl_stream_round_trip_and_bad_line_number() -> None:
    items = [ob.Order(number=str(i), total=Decimal(i) / 4) for i in range(5)]
    buf = io.StringIO()
    assert ob.write_jsonl(items, buf) == 5
    buf.seek(0)
    assert list(ob.iter_jsonl(buf)) == items
    broken = io.StringIO(buf.getvalue() + "{not json}\n")
    with pytest.raises(ob.InvalidOrder, match="line 6"):
        list(ob.iter_jsonl(broken))


def test_jsonutil_keeps_cents_exact() -> None:
    value = {"a": Decimal("10.00"), "b": [Decimal("-0.10"), "\ue000 looks like a marker"]}
    text = jsonutil.dumps(value)
    assert text == '{"a":10.00,"b":[-0.10,"\ue000 looks like a marker"]}'  # UTF-8, not \\u escapes
    assert jsonutil.dumpb(value) == text.encode("utf-8")
    back = jsonutil.loads(text)
    assert back["a"] == Decimal("10.00") and str(back["a"]) == "10.00"
    # a lone surrogate sends the value through the json module: ASCII text, the same values
    with_surrogate = {**value, "c": "\ud800"}
    text = jsonutil.dumps(with_surrogate)
    assert text == '{"a":10.00,"b":[-0.10,"\\ue000 looks like a marker"],"c":"\\ud800"}'
    assert jsonutil.loads(text) == with_surrogate and jsonutil.dumpb(with_surrogate) == text.encode()
    assert isinstance(jsonutil.loads("1"), int)
    with pytest.raises(ValueError):
        jsonutil.dumps({"x": Decimal("NaN")})


def test_parse_decimal_refuses_floats_and_booleans() -> None:
    assert ob.parse_decimal("322.85") == Decimal("322.85")
    assert ob.parse_decimal(3) == Decimal(3)
    for bad in (1.5, True, "abc", "Infinity", None):
        with pytest.raises(ValueError):
            ob.parse_decimal(bad)
