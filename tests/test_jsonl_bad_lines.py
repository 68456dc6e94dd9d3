"""A bad line in a JSON Lines file is one InvalidOrder; reading goes on with the next line."""

from __future__ import annotations

from pathlib import Path

import orderbridge as ob


def _line(number: str) -> bytes:
    order = ob.Order(source=ob.SourceRef("x", number), number=number)
    return ob.order_to_json(order).encode("utf-8") + b"\n"


def _write(path: Path) -> None:
    good = _line("1")
    bad_utf8 = good.replace(b'"number":"1"', b'"number":"1\xff\xfe"')
    assert bad_utf8 != good
    path.write_bytes(
        good  # line 1
        + bad_utf8  # line 2: not UTF-8
        + b"{this is not json\n"  # line 3
        + b'{"hello": "world"}\n'  # line 4: JSON, not an order
        + _line("5")  # line 5
    )


def test_bad_lines_are_reported_in_order_and_reading_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    _write(path)
    records = list(ob.connect("jsonl", path=path).iter_records())
    assert [type(r).__name__ for r in records] == [
        "Order",
        "InvalidOrder",
        "InvalidOrder",
        "UnsupportedSchemaVersion",  # an InvalidOrder that says which versions it reads
        "Order",
    ]
    first, bad_utf8, not_json, not_order, last = records
    assert isinstance(first, ob.Order) and first.number == "1"
    assert isinstance(last, ob.Order) and last.number == "5"
    for record, number in ((bad_utf8, 2), (not_json, 3), (not_order, 4)):
        assert isinstance(record, ob.InvalidOrder)
        assert record.message.startswith(f"{path} line {number}: "), record.message
        str(record).encode("utf-8")  # printable: no lone surrogate leaks into a message
    assert isinstance(bad_utf8, ob.InvalidOrder) and isinstance(not_json, ob.InvalidOrder)
    assert isinstance(not_order, ob.InvalidOrder)
    assert bad_utf8.field == "number"
    assert "not valid UTF-8" in bad_utf8.message
    assert bad_utf8.order == "x:1"  # the label is readable: its values are good
    assert "not valid JSON" in not_json.message
    assert not_order.field == "schema_version"
    assert isinstance(not_order, ob.UnsupportedSchemaVersion) and not_order.version is None


def test_other_bad_values_name_their_field(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    good = _line("1")
    deep = b"[" * 100_000 + b"]" * 100_000
    path.write_bytes(
        good.replace(b'"number":"1"', b'"number":NaN')
        + good.replace(b'"number":"1"', b'"number":"1","custom":' + deep)
        + _line("3")
    )
    records = list(ob.connect("jsonl", path=path).iter_records())
    nan, too_deep, last = records
    assert isinstance(nan, ob.InvalidOrder) and nan.field == "number"
    assert "NaN is not a number JSON allows" in nan.message and nan.order == "x:1"
    assert isinstance(too_deep, ob.InvalidOrder) and too_deep.field is not None
    assert too_deep.field.startswith("custom[0]") and "nested deeper than 64 levels" in too_deep.message
    assert isinstance(last, ob.Order) and last.number == "3"
    # iter_orders still stops at the first bad line, as before
    backend = ob.connect("jsonl", path=path)
    try:
        list(backend.iter_orders())
    except ob.InvalidOrder as exc:
        assert exc.message.startswith(f"{path} line 1: ")
    else:
        raise AssertionError("iter_orders read past a bad line")
    assert backend.count_orders() == 3


def test_text_streams_are_still_accepted(tmp_path: Path) -> None:
    import io

    text = _line("1").decode() + "not json\n" + _line("3").decode()
    records = list(ob.iter_jsonl_records(io.StringIO(text), name="s"))
    assert [getattr(r, "number", None) for r in records] == ["1", None, "3"]
    assert isinstance(records[1], ob.InvalidOrder) and records[1].message.startswith("s line 2: ")
    assert [o.number for o in ob.iter_jsonl(io.BytesIO(_line("7")))] == ["7"]


def test_update_and_delete_leave_a_bad_line_elsewhere_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    bad = b'{"schema_version": 1, "number": "caf\xe9"}'
    path.write_bytes(b"\n".join([_line("1"), bad, _line("2")]) + b"\n")
    backend = ob.connect("jsonl", path=path)
    backend.update_order("x:2", ob.Order(source=ob.SourceRef("x", "2"), number="2", name="renamed"))
    backend.delete_order("x:1")
    lines = path.read_bytes().splitlines()
    assert lines[0] == bad and len(lines) == 2
    assert ob.order_from_json(lines[1].decode()).name == "renamed"


def test_a_missing_source_file_is_an_error_naming_it_not_an_empty_migration(tmp_path: Path) -> None:
    import pytest

    missing = tmp_path / "exprot.jsonl"  # a typo
    source = ob.connect("jsonl", path=missing)
    with pytest.raises(ob.ConfigurationError, match=r"no such file: .*exprot\.jsonl"):
        ob.migrate(source, ob.connect("jsonl", path=tmp_path / "out.jsonl"), state=tmp_path / "s.sqlite")
    # As a target, a file not written yet is simply empty.
    target = ob.connect("jsonl", path=tmp_path / "new.jsonl")
    assert list(target.iter_ledger()) == []
