"""One bad order in a page must not make the page unreadable (``orderbridge.jsonutil``)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

import orderbridge as ob
from orderbridge import jsonutil
from orderbridge.jsonutil import MAX_DEPTH, InvalidValue, find_problem

GOOD_1 = b'{"Id":1,"TotalCost":10.00,"OrderLines":[{"Sku":"A","UnitPrice":2.50,"Quantity":4}]}'
GOOD_2 = b'{"Id":3,"TotalCost":0,"Member":{"Email":"caf\xc3\xa9@example.com"},"OrderLines":[]}'
DEEP = 100_000


def _page(bad: bytes) -> bytes:
    return b'{"Items":[' + GOOD_1 + b"," + bad + b"," + GOOD_2 + b"]}"


def _bad(lines: bytes) -> bytes:
    return b'{"Id":2,"TotalCost":1.00,"OrderLines":[{"Sku":"B","UnitPrice":1.00},' + lines + b"]}"


BAD = {
    "NaN": (
        _bad(b'{"Sku":"C","UnitPrice":NaN}'),
        "OrderLines[1].UnitPrice",
        "NaN is not a number JSON allows",
    ),
    "Infinity": (
        _bad(b'{"Sku":"C","UnitPrice":Infinity}'),
        "OrderLines[1].UnitPrice",
        "Infinity is not a number JSON allows",
    ),
    "-Infinity": (
        _bad(b'{"Sku":"C","UnitPrice":-Infinity}'),
        "OrderLines[1].UnitPrice",
        "-Infinity is not a number JSON allows",
    ),
    "invalid UTF-8": (_bad(b'{"Sku":"C\xff\xfe","UnitPrice":1.00}'), "OrderLines[1].Sku", "not valid UTF-8"),
    "overlong UTF-8": (_bad(b'{"Sku":"\xc0\xaf","UnitPrice":1.00}'), "OrderLines[1].Sku", "not valid UTF-8"),
    "deep nesting": (
        _bad(b'{"Sku":"C","Options":' + b"[" * DEEP + b"]" * DEEP + b"}"),
        # The page and the item take 3 levels; OrderLines[1] and its Options 2 more; the rest are
        # the first 59 of the nested lists, and the 60th, the 65th level of the page, is cut.
        "OrderLines[1].Options" + "[0]" * (MAX_DEPTH - 5),
        f"nested deeper than {MAX_DEPTH} levels",
    ),
}


def _items(page: bytes) -> list[Any]:
    doc = jsonutil.loads(page)
    assert isinstance(doc, dict) and list(doc) == ["Items"]
    items = doc["Items"]
    assert isinstance(items, list) and len(items) == 3
    return items


@pytest.mark.parametrize("kind", list(BAD))
def test_the_page_parses_and_only_the_bad_item_has_a_problem(kind: str) -> None:
    bad, path, message = BAD[kind]
    good_1, bad_item, good_2 = _items(_page(bad))
    assert good_1 == jsonutil.loads(GOOD_1) == json.loads(GOOD_1, parse_float=Decimal)
    assert good_2 == jsonutil.loads(GOOD_2)
    assert good_2["Member"]["Email"] == "café@example.com"
    assert find_problem(good_1) is None
    assert find_problem(good_2) is None
    assert find_problem(bad_item) == (path, message)
    assert bad_item["OrderLines"][0] == {"Sku": "B", "UnitPrice": Decimal("1.00")}


def test_constants_become_markers_not_floats() -> None:
    doc = jsonutil.loads("[NaN, Infinity, -Infinity, 1.5, 2]")
    assert doc[:3] == [
        InvalidValue("NaN is not a number JSON allows"),
        InvalidValue("Infinity is not a number JSON allows"),
        InvalidValue("-Infinity is not a number JSON allows"),
    ]
    assert not any(isinstance(value, float) for value in doc)
    assert doc[3:] == [Decimal("1.5"), 2] and isinstance(doc[4], int)
    assert repr(doc[0]) == "InvalidValue('NaN is not a number JSON allows')"
    with pytest.raises(AttributeError):
        doc[0].reason = "changed"  # type: ignore[misc]


def test_a_huge_exponent_stays_an_exact_decimal() -> None:
    _, item, _ = _items(_page(_bad(b'{"Sku":"C","UnitPrice":1e400}')))
    price = item["OrderLines"][1]["UnitPrice"]
    assert isinstance(price, Decimal) and price == Decimal("1E+400")
    assert find_problem(item) is None  # a number JSON allows; the translation judges the amount


def test_bad_utf8_keeps_its_bytes_as_lone_surrogates() -> None:
    _, item, _ = _items(_page(BAD["invalid UTF-8"][0]))
    sku = item["OrderLines"][1]["Sku"]
    assert sku.encode("utf-8", "surrogateescape") == b"C\xff\xfe"


def test_a_bad_key_is_named_printably() -> None:
    doc = jsonutil.loads(b'{"lines":[{"unit\xe9":1}]}')
    assert find_problem(doc) == ("lines[0].unit\\xe9", "not valid UTF-8 (in the key)")
    assert find_problem(jsonutil.loads('{"a":"\\ud800"}')) == ("a", "not valid UTF-8")


def test_deep_nesting_is_never_a_recursion_error() -> None:
    # No timing here (a loaded CI machine is no benchmark): the cut at MAX_DEPTH keeps every walk short.
    text = _page(b"[" * DEEP + b"1" + b"]" * DEEP)
    good_1, bad_item, good_2 = _items(text)
    assert good_1 == jsonutil.loads(GOOD_1) and good_2 == jsonutil.loads(GOOD_2)
    path, message = find_problem(bad_item) or ("", "")
    assert message == f"nested deeper than {MAX_DEPTH} levels"
    # the page and its Items take two levels, so the item keeps 62 of its lists
    assert path == "[0]" * (MAX_DEPTH - 2)
    # the outermost container past the limit is the marker; everything above it is kept
    node = bad_item
    for _ in range(MAX_DEPTH - 2):
        assert isinstance(node, list) and len(node) == 1
        node = node[0]
    assert node == InvalidValue(f"nested deeper than {MAX_DEPTH} levels")


def test_exactly_the_limit_is_kept() -> None:
    at_limit = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert jsonutil.loads(at_limit) == json.loads(at_limit)
    assert find_problem(jsonutil.loads(at_limit)) is None
    past = jsonutil.loads("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    assert find_problem(past) == ("[0]" * MAX_DEPTH, f"nested deeper than {MAX_DEPTH} levels")


@pytest.mark.parametrize(
    "text",
    [
        "[" * DEEP,  # never closed
        "[" * DEEP + "]" * (DEEP - 1),
        "[" * DEEP + "}" * DEEP,  # the wrong brackets
        "[" * 100 + "1 2" + "]" * 100,  # broken inside the part that is cut out
        "[" * 100 + '"never closed' + "]" * 100,
        "[" * 100 + "{[]: 1}" + "]" * 100,  # a container where a key must be
        '{"a": [' + "[" * 100 + "1" + "]" * 100 + "5]",  # a number after the deep part
    ],
)
def test_text_that_is_not_json_is_still_refused(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        jsonutil.loads(text)


def test_an_overlong_integer_is_one_bad_value() -> None:
    doc = jsonutil.loads('{"Items":[{"Id":1},{"Id":' + "9" * 5000 + "}]}")
    assert doc["Items"][0] == {"Id": 1}
    assert find_problem(doc["Items"][1]) == ("Id", "integer longer than 4300 digits")


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, -2, 3.25, "x", None, True, False, {"b": []}], "c": {}},
        {"s": 'quote " backslash \\ brackets [{}] and \u00e9 \U0001f600', "n": "12.50"},
        [["[", "]"], {"{": "}"}, "\\", '\\"', "\\\\["],
        {"deep": json.loads("[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1))},  # 64 levels in all
        "plain",
        12,
    ],
)
def test_valid_json_round_trips_unchanged(value: Any) -> None:
    expected = json.loads(json.dumps(value), parse_float=Decimal)
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False), json.dumps(value, indent=2)):
        assert jsonutil.loads(text) == expected
        assert jsonutil.loads(text.encode("utf-8")) == expected
        assert jsonutil.loads(text.encode("utf-16")) == expected
        assert jsonutil.dumps(jsonutil.loads(text)) == jsonutil.dumps(expected)
    assert find_problem(expected) is None


def test_find_problem_limits() -> None:
    assert find_problem({"a": list(range(10))}, max_nodes=10) == (
        "",
        "document too large: more than 10 values",
    )
    assert find_problem({"a": list(range(8))}, max_nodes=10) is None  # root, list and 8 items
    assert find_problem([[[1]]], max_depth=2) == ("[0][0]", "nested deeper than 2 levels")
    assert find_problem([[[1]]], max_depth=3) is None
    assert find_problem({"x": float("nan")}) == ("x", "NaN is not a number JSON allows")
    assert find_problem({"x": Decimal("-Infinity")}) == ("x", "-Infinity is not a number JSON allows")
    # the first problem in document order
    assert find_problem({"a": [1, {"b": NAN_MARK}], "c": NAN_MARK}) == ("a[1].b", NAN_MARK.reason)


def test_find_problem_walks_any_depth_without_recursion() -> None:
    doc: list[Any] = []
    node = doc
    for _ in range(DEEP):
        child: list[Any] = []
        node.append(child)
        node = child
    assert find_problem(doc, max_depth=DEEP + 1, max_nodes=DEEP + 1) is None
    assert find_problem(doc) == ("[0]" * MAX_DEPTH, f"nested deeper than {MAX_DEPTH} levels")


def test_the_transport_reads_such_a_page() -> None:
    # what the HTTP transport does with every answer body
    doc = jsonutil.loads(_page(BAD["NaN"][0]))
    assert [find_problem(item) for item in doc["Items"]][::2] == [None, None]
    assert ob.InvalidOrder  # the backends turn the problem into an InvalidOrder per document


NAN_MARK = InvalidValue("NaN is not a number JSON allows")
