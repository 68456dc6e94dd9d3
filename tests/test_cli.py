from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

import orderbridge as ob
from orderbridge.cli import main


def test_backends_lists_name_capabilities_and_plugin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backends"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("jsonl"))
    name, capabilities, plugin = row.split()[:3]
    assert (name, capabilities, plugin) == ("jsonl", "create,delete,read,update", "jsonl")
    assert f"(orderbridge {ob.__version__})" in row


def test_backends_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backends", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["jsonl"]["plugin"] == "jsonl"
    assert rows["jsonl"]["capabilities"] == ["create", "delete", "read", "update"]


def test_convert_canonical_to_jsonl_and_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    order = ob.Order(number="65", total=Decimal("10.00"))
    source = tmp_path / "in.jsonl"
    source.write_text(ob.order_to_json(order) + "\n" + ob.order_to_json(order.evolve(number="66")) + "\n")
    out = tmp_path / "out.jsonl"
    assert main(["convert", "--from", "canonical", "--to", "jsonl", str(source), "-o", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert [ob.order_from_json(line).number for line in lines] == ["65", "66"]
    assert '"total":"10.00"' in lines[0]


def test_convert_reads_a_json_array_and_a_pretty_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = ob.order_to_dict(ob.Order(number="1"))
    (tmp_path / "a.json").write_text(json.dumps([doc, doc]))
    (tmp_path / "b.json").write_text(json.dumps(doc, indent=2))
    assert main(["convert", "--from", "canonical", "--to", "canonical", str(tmp_path / "a.json")]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert main(["convert", "--from", "canonical", "--to", "canonical", str(tmp_path / "b.json")]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message", "status"),
    [
        (["convert", "--from", "magento", "--to", "jsonl"], "no backend named 'magento'", 2),
        (["convert", "--from", "canonical", "--to", "jsonl", "/nonexistent/file.json"], "No such file", 1),
    ],
)
def test_errors_print_one_line_and_exit_non_zero(
    args: list[str], message: str, status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == status
    err = capsys.readouterr().err.strip()
    assert err.startswith("orderbridge: error:") and message in err
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_bad_document_names_the_order_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.jsonl").write_text('{"schema_version": 1, "number": "65", "total": "ten"}\n')
    assert main(["convert", "--from", "canonical", "--to", "jsonl", str(tmp_path / "bad.jsonl")]) == 1
    err = capsys.readouterr().err
    assert "order 65" in err and "field total" in err


def test_console_script_runs_from_stdin() -> None:
    doc = json.dumps(ob.order_to_dict(ob.Order(number="7")))
    result = subprocess.run(
        [sys.executable, "-m", "orderbridge.cli", "convert", "--from", "canonical", "--to", "jsonl"],
        input=doc,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["number"] == "7"


def test_export_streams_a_backend_to_jsonl_and_reports_bad_orders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = [
        ob.order_to_json(ob.Order(source=ob.SourceRef("webinone-v1", str(i)), number=str(i))) for i in (1, 2)
    ]
    (tmp_path / "in.jsonl").write_text(
        good[0] + "\n" + '{"schema_version": 1, "total": "ten"}\n' + good[1] + "\n"
    )
    out = tmp_path / "out.jsonl"
    code = main(
        [
            "export",
            "--from",
            "jsonl",
            "--option",
            f"path={tmp_path / 'in.jsonl'}",
            "--to",
            str(out),
            "--quiet",
        ]
    )
    assert code == 1  # one bad order was skipped, and the exit status says so
    captured = capsys.readouterr()
    assert "exported 2 order(s)" in captured.out and "1 bad order(s) skipped" in captured.out
    assert "field total" in captured.err
    assert [ob.order_from_json(line).number for line in out.read_text().splitlines()] == ["1", "2"]


def test_python_dash_m_orderbridge_is_the_command() -> None:
    import subprocess
    import sys

    import orderbridge as ob

    done = subprocess.run(
        [sys.executable, "-m", "orderbridge", "--version"], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stdout.strip()) == (0, f"orderbridge {ob.__version__}")


def test_dir_of_the_package_shows_only_its_public_names() -> None:
    import orderbridge as ob

    assert dir(ob) == sorted(ob.__all__)
    assert "Any" not in dir(ob) and "annotations" not in dir(ob)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["migrate", "--limit", "-5"], "--limit: must be at least 1, got -5"),
        (["migrate", "--workers", "0"], "--workers: must be at least 1, got 0"),
        (["migrate", "--max-failures", "x"], "--max-failures: not an integer: 'x'"),
        (["sandbox", "serve", "--error-rate", "1.5"], "--error-rate: must be at least 0 and at most 1"),
        (["sandbox", "serve", "--rate-limit", "0"], "--rate-limit: must be above 0, got 0"),
        (["sandbox", "serve", "--latency", "nan"], "--latency: must be at least 0, got nan"),
    ],
)
def test_numbers_on_the_command_line_are_validated(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from orderbridge.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert says in capsys.readouterr().err


def test_a_closed_pipe_on_stdout_ends_quietly_with_status_141() -> None:
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte is written: every write fails
    try:
        result = subprocess.run(
            [sys.executable, "-m", "orderbridge", "backends"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 141 and result.stderr == "", result.stderr
