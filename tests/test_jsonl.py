from __future__ import annotations

import inspect
from decimal import Decimal
from pathlib import Path

import pytest

import orderbridge as ob


def _order(i: int) -> ob.Order:
    return ob.Order(
        source=ob.SourceRef("webinone-v1", str(i)), number=str(i), total=Decimal(i) + Decimal("0.99")
    )


def test_create_read_update_delete(tmp_path: Path) -> None:
    path = tmp_path / "out" / "orders.jsonl"
    with ob.connect("jsonl", path=path) as backend:
        with pytest.raises(ob.ConfigurationError, match="no such file"):
            list(backend.iter_orders())  # a path that is not there is a mistake, not an empty source
        assert list(backend.iter_ledger()) == []  # as a target: nothing written yet
        for i in range(3):
            assert backend.create_order(_order(i)) == _order(i)
        assert [o.number for o in backend.iter_orders()] == ["0", "1", "2"]
        assert backend.count_orders() == 3
        assert backend.get_order("webinone-v1:1") == _order(1)
        changed = _order(1).evolve(total=Decimal("5.00"))
        backend.update_order("webinone-v1:1", changed)
        assert backend.get_order("webinone-v1:1").total == Decimal("5.00")
        backend.delete_order("webinone-v1:0")
        assert [o.number for o in backend.iter_orders()] == ["1", "2"]
        assert backend.find_order(_order(2)) == _order(2)
        with pytest.raises(ob.NotFound):
            backend.get_order("webinone-v1:99")
        with pytest.raises(ob.NotFound):
            backend.delete_order("webinone-v1:99")
    assert not list(path.parent.glob("*.tmp"))


def test_torn_last_line_from_a_killed_writer_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    path.write_text(ob.order_to_json(_order(1)) + "\n" + ob.order_to_json(_order(2))[:20])
    backend = ob.connect("jsonl", path=path)
    backend.create_order(_order(3))
    backend.close()
    assert [o.number for o in ob.connect("jsonl", path=path).iter_orders()] == ["1", "3"]


def test_translation_is_the_canonical_dict() -> None:
    backend = ob.get_backend("jsonl")
    assert backend.to_canonical(backend.from_canonical(_order(7))) == _order(7)


def test_reading_streams_without_holding_the_file(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    backend = ob.connect("jsonl", path=path)
    for i in range(50):
        backend.create_order(_order(i))
    iterator = backend.iter_orders()
    assert inspect.isgenerator(iterator)  # lazy: lines are read as they are asked for
    assert next(iterator).number == "0"
    # the file is read line by line: a line appended now is still seen by this iterator
    backend.create_order(_order(50))
    assert [o.number for o in iterator][-1] == "50"


def test_filters_are_refused(tmp_path: Path) -> None:
    backend = ob.connect("jsonl", path=tmp_path / "x.jsonl")
    (tmp_path / "x.jsonl").write_text("")
    with pytest.raises(ob.ConfigurationError):
        list(backend.iter_orders(since="2020"))
