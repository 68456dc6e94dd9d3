"""A JSON Lines file with bad lines: each is one failed record naming its line; the others are read."""

from __future__ import annotations

from pathlib import Path

import orderbridge as ob


def _line(number: str) -> bytes:
    return ob.order_to_json(ob.Order(source=ob.SourceRef("x", number), number=number)).encode()


def test_each_bad_line_is_one_invalid_order_and_reading_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                _line("1"),
                b'{"schema_version": 1, "number": "caf\xe9"}',  # not UTF-8
                b"not json at all",
                b"[1, 2, 3]",  # JSON, not an order
                b'{"schema_version": 1, "total": NaN}',
                _line("2"),
            ]
        )
        + b"\n"
    )
    records = list(ob.connect("jsonl", path=path).iter_records())
    assert [r.number for r in records if isinstance(r, ob.Order)] == ["1", "2"]
    failed = [r for r in records if isinstance(r, ob.InvalidOrder)]
    assert [f"line {n}" in str(f) for n, f in zip((2, 3, 4, 5), failed, strict=True)] == [True] * 4
    assert failed[0].field == "number" and "UTF-8" in failed[0].message
    assert failed[3].field == "total"
    assert records.index(failed[0]) == 1  # in file order
