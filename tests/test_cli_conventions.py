"""Command-line conventions (issue 15, item 4): flags anywhere, failures stated once, bad lines apart."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest

import orderbridge as ob
from orderbridge.cli import build_parser, main


@pytest.mark.parametrize(
    "argv",
    [
        ["-v", "migrate", "--config", "x.toml"],
        ["migrate", "-v", "--config", "x.toml"],
        ["migrate", "--config", "x.toml", "--verbose"],
        ["state", "rebuild", "-v", "--config", "x.toml"],
    ],
)
def test_verbose_is_accepted_before_and_after_the_command(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.verbose is True and args.quiet is False and args.debug is False


def test_a_flag_before_the_command_is_not_reset_by_it() -> None:
    args = build_parser().parse_args(["-q", "--debug", "export", "--from", "jsonl", "--to", "x.jsonl"])
    assert args.quiet is True and args.debug is True and args.verbose is False


def _bad_file(tmp_path: Path) -> Path:
    good = ob.order_to_json(ob.Order(number="1", source=ob.SourceRef(backend="jsonl", remote_id="a1")))
    bad_quantity = json.loads(good)
    bad_quantity["number"] = "2"
    bad_quantity["source"]["remote_id"] = "a2"
    bad_quantity["lines"] = [{"name": "x", "quantity": "many", "unit_price": "1.00"}]
    lines = [good, "{not json", "{also not json", json.dumps(bad_quantity), "nope"]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run_toml(tmp_path: Path) -> Path:
    _bad_file(tmp_path)
    config = tmp_path / "run.toml"
    config.write_text(
        '[source]\nbackend = "jsonl"\npath = "bad.jsonl"\n'
        '[target]\nbackend = "jsonl"\npath = "out.jsonl"\n'
        '[run]\nstate = "state.sqlite"\nreport = "report.json"\n',
        encoding="utf-8",
    )
    return config


def test_each_unreadable_line_is_its_own_failure_and_state_row(tmp_path: Path) -> None:
    assert main(["-q", "migrate", "--config", str(_run_toml(tmp_path))]) == 1
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    ids = [f["source_id"] for f in report["failures"]]
    unnamed = [i for i in ids if i.startswith("?")]
    assert len(unnamed) == 3 and len(set(unnamed)) == 3, ids
    with sqlite3.connect(tmp_path / "state.sqlite") as db:
        keys = {row[0] for row in db.execute("select * from orders")}
    assert set(unnamed) <= keys


def test_a_failure_names_order_and_field_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="orderbridge"):
        main(["migrate", "--config", str(_run_toml(tmp_path))])
    out = capsys.readouterr().out
    failure = next(line for line in out.splitlines() if "quantity" in line)
    assert failure.count("jsonl:a2") == 1 and failure.count("lines[0].quantity") == 1, failure
    logged = next(r.getMessage() for r in caplog.records if "quantity" in r.getMessage())
    assert logged.count("jsonl:a2") == 1 and logged.count("lines[0].quantity") == 1, logged
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    entry = next(f for f in report["failures"] if f["field"])
    assert "jsonl:a2" not in entry["message"] and "lines[0].quantity" not in entry["message"]
