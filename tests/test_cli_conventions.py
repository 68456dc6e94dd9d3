"""Command-line conventions (issue 15, item 4): flags anywhere, failures stated once, bad lines apart."""

from __future__ import annotations

import io
import json
import logging
import sqlite3
from datetime import UTC, datetime
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


# ------------------------------------------------------------------ exit codes


def _orders_file(tmp_path: Path, count: int = 4) -> Path:
    """``count`` good orders a1..aN, created on consecutive days of November 2026."""
    orders = [
        ob.Order(
            number=str(i),
            source=ob.SourceRef(backend="jsonl", remote_id=f"a{i}"),
            created_at=datetime(2026, 11, i, 12, tzinfo=UTC),
        )
        for i in range(1, count + 1)
    ]
    path = tmp_path / "orders.jsonl"
    path.write_text("".join(ob.order_to_json(o) + "\n" for o in orders), encoding="utf-8")
    return path


def _good_toml(tmp_path: Path, extra: str = "") -> Path:
    _orders_file(tmp_path)
    config = tmp_path / "good.toml"
    config.write_text(
        '[source]\nbackend = "jsonl"\npath = "orders.jsonl"\n'
        '[target]\nbackend = "jsonl"\npath = "copy.jsonl"\n'
        f'[run]\nstate = "state.sqlite"\nreport = "report.json"\n{extra}',
        encoding="utf-8",
    )
    return config


def _copied(tmp_path: Path) -> list[str]:
    lines = (tmp_path / "copy.jsonl").read_text(encoding="utf-8").splitlines()
    return sorted(ob.order_from_json(line).number or "" for line in lines)


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("ok", 0),
        ("failures", 1),
        ("unknown section", 2),
        ("unknown run key", 2),
        ("missing configuration file", 2),
        ("unknown backend", 2),
    ],
)
def test_exit_status_is_as_documented(
    case: str, status: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = {
        "ok": lambda: ["migrate", "--config", str(_good_toml(tmp_path))],
        "failures": lambda: ["migrate", "--config", str(_run_toml(tmp_path))],
        "unknown section": lambda: ["migrate", "--config", str(_good_toml(tmp_path, "[runn]\n"))],
        "unknown run key": lambda: ["migrate", "--config", str(_good_toml(tmp_path, "wokers = 3\n"))],
        "missing configuration file": lambda: ["migrate", "--config", str(tmp_path / "nope.toml")],
        "unknown backend": lambda: ["convert", "--from", "magento", "--to", "jsonl"],
    }[case]()
    assert main(["-q", *argv]) == status
    err = capsys.readouterr().err
    if status == 2:
        assert err.startswith("orderbridge: error:") and len(err.strip().splitlines()) == 1, err


def test_a_usage_error_exits_2() -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["migrate"])  # --config is required
    assert exit_.value.code == 2


def test_a_state_file_bound_to_other_endpoints_is_a_configuration_error(tmp_path: Path) -> None:
    config = _good_toml(tmp_path)
    assert main(["-q", "migrate", "--config", str(config)]) == 0
    other = config.read_text(encoding="utf-8").replace('path = "copy.jsonl"', 'path = "other.jsonl"')
    config.write_text(other, encoding="utf-8")
    assert main(["-q", "migrate", "--config", str(config)]) == 2


# ------------------------------------------------------------------ --json, --ids, --until


def test_migrate_json_prints_the_report_alone_on_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate", "--config", str(_good_toml(tmp_path)), "--json"]) == 0
    captured = capsys.readouterr()
    printed = json.loads(captured.out)  # stdout is one JSON document, nothing else
    saved = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert printed["counts"] == saved["counts"] and printed["counts"]["written"] == 4
    assert Path(printed["files"]["json"]).name == saved["files"]["json"]
    assert "report written to" in captured.err and "migrating" not in captured.err  # no progress


def test_migrate_takes_ids_and_until_from_the_command_line(tmp_path: Path) -> None:
    config = str(_good_toml(tmp_path))
    assert main(["-q", "migrate", "--config", config, "--ids", "jsonl:a1,jsonl:a3", "--ids", "jsonl:a4"]) == 0
    assert _copied(tmp_path) == ["1", "3", "4"]
    assert main(["-q", "migrate", "--config", config, "--until", "2026-11-03"]) == 0
    assert _copied(tmp_path) == ["1", "2", "3", "4"]  # a2 added (created before 3 November); a1 skipped
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["counts"]["read"] == 2 and report["counts"]["written"] == 1


def test_a_bad_ids_or_until_value_is_a_usage_error(tmp_path: Path) -> None:
    config = str(_good_toml(tmp_path))
    with pytest.raises(SystemExit) as exit_:
        main(["migrate", "--config", config, "--ids", "a1,,a2"])
    assert exit_.value.code == 2
    assert main(["-q", "migrate", "--config", config, "--until", "last tuesday"]) == 2


def test_export_json_names_each_bad_order_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _bad_file(tmp_path)
    out = tmp_path / "out.jsonl"
    code = main(
        [
            "export",
            "--from",
            "jsonl",
            "--option",
            f"path={tmp_path / 'bad.jsonl'}",
            "--to",
            str(out),
            "--json",
        ]
    )
    assert code == 1
    printed = json.loads(capsys.readouterr().out)
    assert printed["exported"] == 1 and printed["failed"] == 4 and len(printed["failures"]) == 4
    assert {"order": "jsonl:a2", "field": "lines[0].quantity"}.items() <= next(
        f for f in printed["failures"] if f["field"]
    ).items()


def test_export_with_a_config_needs_only_the_sources_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orderbridge.sandbox import SimServer, available_simulators

    sim = available_simulators()["webinone"](client_id="old", client_secret="old-secret", id_start=500)
    sim.seed(3, seed=1)
    server = SimServer(sim).start()
    try:
        config = tmp_path / "run.toml"
        config.write_text(
            f'[source]\nbackend = "webinone-v1"\nbase_url = "{server.url}"\nclient_id = "old"\n'
            'client_secret_env = "EXPORT_OLD_SECRET"\n'
            '[target]\nbackend = "webinone-v2"\nbase_url = "http://127.0.0.1:9"\nclient_id = "new"\n'
            'client_secret_env = "EXPORT_NEW_SECRET_NEVER_SET"\n'
            '[run]\nstate = "state.sqlite"\n',
            encoding="utf-8",
        )
        monkeypatch.setenv("EXPORT_OLD_SECRET", "old-secret")
        monkeypatch.delenv("EXPORT_NEW_SECRET_NEVER_SET", raising=False)
        out = tmp_path / "out.jsonl"
        assert main(["-q", "export", "--config", str(config), "--to", str(out)]) == 0
        assert len(out.read_text(encoding="utf-8").splitlines()) == 3
    finally:
        server.stop()


# ------------------------------------------------------------------ check


def test_check_validates_and_checks_both_ends_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _good_toml(tmp_path)
    assert main(["check", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ready to migrate") and "4 order(s) listed" in out and "none yet" in out
    assert not (tmp_path / "state.sqlite").exists() and not (tmp_path / "copy.jsonl").exists()
    assert main(["-q", "migrate", "--config", str(config)]) == 0
    capsys.readouterr()
    assert main(["check", "--config", str(config), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["ok"] is True and found["state"]["orders"] == {"written": 4}
    assert found["source"]["orders"] == 4 and found["target"]["orders"] == 4


def test_check_refuses_a_bad_configuration_with_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _good_toml(tmp_path, 'mode = "sometimes"\n')
    assert main(["check", "--config", str(config)]) == 2
    assert "mode" in capsys.readouterr().err


# ------------------------------------------------------------------ progress and log lines


def _screen(output: str) -> list[str]:
    """What a terminal shows for ``output``: carriage return, erase-line and newline applied."""
    lines, line, column = [], "", 0
    index = 0
    while index < len(output):
        if output.startswith("\x1b[2K", index):
            line, index = "", index + 4
            continue
        char = output[index]
        if char == "\r":
            column = 0
        elif char == "\n":
            lines.append(line)
            line, column = "", 0
        else:
            line = line[:column] + char + line[column + 1 :]
            column += 1
        index += 1
    return [*lines, line] if line else lines


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_log_lines_never_share_a_line_with_the_progress_bar() -> None:
    from orderbridge.progress import ProgressDisplay

    terminal = _Terminal()
    handler = logging.StreamHandler(terminal)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        display = ProgressDisplay("migrating", stream=terminal)
        for done in range(1, 6):
            display.update(done, 5, force=True)
            logging.getLogger("orderbridge.test").warning("order %d failed: field total", done)
        display.message("orderbridge: skipped a bad order")
        display.close()
        assert handler.stream is terminal  # given back
    finally:
        root.removeHandler(handler)
    screen = _screen(terminal.getvalue())
    messages = [line for line in screen if "failed" in line or "skipped" in line]
    assert messages == [f"order {i} failed: field total" for i in range(1, 6)] + [
        "orderbridge: skipped a bad order"
    ], screen
    assert screen[-1].startswith("migrating [") and "5/5" in screen[-1]
    assert all(not line.startswith("migrating") for line in screen[:-1]), screen


def test_on_a_real_terminal_failures_are_lines_above_the_bar(tmp_path: Path) -> None:
    import os
    import pty
    import subprocess
    import sys

    config = _run_toml(tmp_path)
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "orderbridge", "migrate", "--config", str(config)],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        cwd=tmp_path,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=60) == 1
    screen = _screen(b"".join(chunks).decode("utf-8"))
    failures = [line for line in screen if " failed: " in line or "failed:" in line.split(" field")[0]]
    assert failures, screen
    assert all(not line.startswith("migrating") for line in failures), screen
    assert sum(line.startswith("migrating [") for line in screen) == 1, screen  # the bar's last state only
