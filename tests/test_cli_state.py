"""The command line around the state file: one-line refusals, rebuild, verify both ways, repair."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import orderbridge as ob
from orderbridge.cli import main
from orderbridge.migration import SQLiteStateStore

CONFIG = """
[source]
backend = "jsonl"
path = "source.jsonl"

[target]
backend = "jsonl"
path = "target.jsonl"

[run]
state = "state.sqlite"
workers = 2
"""


def _order(i: int) -> ob.Order:
    return ob.Order(source=ob.SourceRef("webinone-v1", str(i)), number=str(i), total=Decimal(i))


@pytest.fixture
def config(tmp_path: Path) -> Path:
    source = ob.connect("jsonl", path=tmp_path / "source.jsonl")
    for i in range(1, 11):
        source.create_order(_order(i))
    source.close()
    path = tmp_path / "run.toml"
    path.write_text(CONFIG)
    return path


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def test_damaged_state_is_one_line_then_rebuild_and_the_run_adopts(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate", "--config", str(config)]) == 0
    state = config.parent / "state.sqlite"
    for extra in config.parent.glob("state.sqlite-*"):
        extra.unlink()
    state.write_bytes(b"\x00garbage" * 512)
    capsys.readouterr()
    assert main(["migrate", "--config", str(config)]) == 1
    line = _one_line_error(capsys)
    assert "is damaged" in line and "orderbridge state rebuild --config" in line
    assert main(["state", "rebuild", "--config", str(config)]) == 0
    assert "set aside" in capsys.readouterr().out
    assert list(config.parent.glob("state.sqlite.damaged-*"))
    assert main(["migrate", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "written 0, adopted 10" in out  # the target already held them: nothing written twice
    assert len(list(ob.connect("jsonl", path=config.parent / "target.jsonl").iter_orders())) == 10


def test_a_held_state_is_refused_in_one_line(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = SQLiteStateStore(config.parent / "state.sqlite")
    store.lock()
    try:
        assert main(["migrate", "--config", str(config)]) == 1
        line = _one_line_error(capsys)
        assert "is in use by pid" in line and " on " in line and " since " in line
    finally:
        store.close()


def test_a_state_of_other_endpoints_is_refused_in_one_line(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate", "--config", str(config)]) == 0
    config.write_text(CONFIG.replace("target.jsonl", "elsewhere.jsonl"))
    capsys.readouterr()
    assert main(["migrate", "--config", str(config)]) == 2  # a configuration error
    assert "belongs to a run from" in _one_line_error(capsys)
    assert not (config.parent / "elsewhere.jsonl").exists()


def test_verify_finds_a_missing_order_and_repair_writes_it(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # (Duplicates and extras: tests/test_exactly_once.py; a jsonl file knows two copies by one id.)
    assert main(["migrate", "--config", str(config)]) == 0
    target = ob.connect("jsonl", path=config.parent / "target.jsonl")
    target.delete_order("webinone-v1:3")  # lost from the target, though the state says written
    target.close()
    capsys.readouterr()
    assert main(["verify", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "1 missing, 0 duplicated" in out and "webinone-v1:3" in out
    assert main(["migrate", "--config", str(config), "--repair"]) == 0
    capsys.readouterr()
    assert main(["verify", "--config", str(config)]) == 0
    numbers = sorted(
        int(o.number or 0) for o in ob.connect("jsonl", path=config.parent / "target.jsonl").iter_orders()
    )
    assert numbers == list(range(1, 11))
