"""``orderbridge.jsonutil`` through msgspec: exact money both ways, and no private stdlib API."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderbridge import jsonutil
from orderbridge.jsonutil import InvalidValue, find_problem
from tests.strategies import json_value

EXACT = [
    ("1.10", Decimal("1.10")),
    ("-0.00", Decimal("-0.00")),
    ("1E+2", Decimal("1E+2")),
    ("1E-7", Decimal("1E-7")),
    ("123456789012345678901234567890.123456789", Decimal("123456789012345678901234567890.123456789")),
]


@pytest.mark.parametrize(("text", "value"), EXACT)
def test_decimals_are_exact_both_ways(text: str, value: Decimal) -> None:
    for source in (text, text.encode(), f'{{"a":[{text}]}}'.encode()):
        back = jsonutil.loads(source)
        read = back["a"][0] if isinstance(back, dict) else back
        assert type(read) is Decimal and str(read) == str(value)
    assert jsonutil.dumps(value) == text
    assert jsonutil.dumpb({"a": [value]}) == f'{{"a":[{text}]}}'.encode()


def test_integers_stay_integers_of_any_size() -> None:
    for text, value in [("-0", 0), ("0", 0), (str(2**64), 2**64), (str(-(10**40)), -(10**40))]:
        read = jsonutil.loads(text)
        assert type(read) is int and read == value
        assert jsonutil.dumps(read) == str(value)


def test_text_is_utf8_and_keys_sort_on_request() -> None:
    value = {"b": "café", "a": {"z": 1, "y": Decimal("2.50")}}
    assert jsonutil.dumps(value) == '{"b":"café","a":{"z":1,"y":2.50}}'
    assert jsonutil.dumps(value, sort_keys=True) == '{"a":{"y":2.50,"z":1},"b":"café"}'
    assert jsonutil.dumpb(value, sort_keys=True) == '{"a":{"y":2.50,"z":1},"b":"café"}'.encode()


def _same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down and Decimals spelt the same."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    return str(a) == str(b) if isinstance(a, Decimal) else bool(a == b)


def test_what_msgspec_cannot_write_goes_through_the_json_module() -> None:
    class Name(str):
        pass

    value = {"s": "\udc80x", "n": Name("kept"), None: Decimal("1.10"), 3: [Decimal("-0.0")]}
    text = jsonutil.dumps(value)
    assert text == '{"s":"\\udc80x","n":"kept","null":1.10,"3":[-0.0]}'
    back = jsonutil.loads(text)
    assert _same(back, {"s": "\udc80x", "n": "kept", "null": Decimal("1.10"), "3": [Decimal("-0.0")]})
    assert jsonutil.dumpb(value) == text.encode()
    assert find_problem(jsonutil.loads(text)) == ("s", "not valid UTF-8")


def test_non_finite_decimals_and_unknown_types_are_refused() -> None:
    for bad in (Decimal("NaN"), Decimal("-Infinity"), Decimal("sNaN")):
        with pytest.raises(ValueError):
            jsonutil.dumps({"x": [bad]})
    with pytest.raises(TypeError):
        jsonutil.dumps({"x": object()})


def test_an_exponent_too_large_for_decimal_is_one_bad_value() -> None:
    page = b'{"Items":[{"Id":1,"Cost":1.50},{"Id":2,"Cost":1e1000000000000000000},{"Id":3,"Cost":2}]}'
    items = jsonutil.loads(page)["Items"]
    assert items[0] == {"Id": 1, "Cost": Decimal("1.50")} and items[2] == {"Id": 3, "Cost": 2}
    assert isinstance(items[1]["Cost"], InvalidValue)
    assert find_problem(items[1]) == ("Cost", "number out of range (exponent too large)")


def test_a_page_msgspec_refuses_is_read_by_the_tolerant_reader() -> None:
    good = b'{"Id":1,"Total":10.10,"Name":"caf\xc3\xa9"}'
    for bad in (b'{"Id":2,"Total":NaN}', b'{"Id":2,"Name":"\xff"}', b'{"Id":2,"Name":"\\ud800"}'):
        page = jsonutil.loads(b"[" + good + b"," + bad + b"," + good + b"]")
        assert page[0] == page[2] == jsonutil.loads(good)
        assert str(page[0]["Total"]) == "10.10"
        assert find_problem(page[1]) is not None
    with pytest.raises(json.JSONDecodeError):
        jsonutil.loads(b"[" + good + b",]")


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    return [_sorted(v) for v in value] if isinstance(value, list) else value


@given(json_value, st.booleans())
def test_msgspec_reads_and_writes_what_the_json_module_does(value: Any, sort_keys: bool) -> None:
    text = jsonutil.dumps(value, sort_keys=sort_keys)
    expected = _sorted(value) if sort_keys else value
    assert _same(jsonutil.loads(text), expected)
    assert _same(jsonutil.loads(text.encode()), expected)
    assert _same(json.loads(text, parse_float=Decimal), expected)
    assert jsonutil.dumpb(value, sort_keys=sort_keys) == text.encode()
