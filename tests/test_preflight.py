"""Preflight and the circuit: an endpoint that is not ready fails in one line within seconds."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import orderbridge as ob
from orderbridge.cli import main

from .sites import Sites

pytestmark = pytest.mark.slow


@pytest.fixture
def sites() -> Iterator[Sites]:
    s = Sites(40)
    yield s
    s.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(config: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, float]:
    started = time.monotonic()
    code = main(["migrate", "--config", str(config), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) <= 1, err  # one line: the check's own retries are not shown
    return code, err[-1] if err else "", time.monotonic() - started


def test_a_dry_run_with_a_wrong_target_secret_fails_in_one_line(
    sites: Sites, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = sites.write_config(tmp_path / "run.toml")
    for name, value in {**sites.env(), "E2E_NEW_SECRET": "wrong"}.items():
        monkeypatch.setenv(name, value)
    code, line, seconds = _run(config, capsys, "--dry-run")
    assert code == 1 and line.startswith("orderbridge: error: the target") and "failed its check" in line
    assert "wrong" not in line  # the secret never shows
    assert seconds < 20  # measured: well under a second


def test_nothing_listening_on_the_target_fails_in_one_line(
    sites: Sites,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = sites.write_config(tmp_path / "run.toml")
    config.write_text(config.read_text().replace(sites.new_server.url, f"http://127.0.0.1:{_free_port()}"))
    for name, value in sites.env().items():
        monkeypatch.setenv(name, value)
    for extra in (("--dry-run",), ()):
        code, line, seconds = _run(config, capsys, *extra)
        assert code == 1 and "the target" in line and "failed its check" in line, line
        assert seconds < 30  # the transport's retries, then one line (measured: about 4 s)
    # The check's retries are not said one by one: its failure is the one line.
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "retry" in r.getMessage()]
    assert sites.new.order_count() == 0


def test_a_target_that_goes_away_mid_run_opens_the_circuit(sites: Sites, tmp_path: Path) -> None:
    target = sites.target(sleep=lambda s: None)

    def progress(done: int, total: int | None, report: ob.MigrationReport) -> None:
        if done == 10:
            sites.new_server.stop()  # the target is gone from here on

    report = ob.migrate(
        sites.source(), target, state=tmp_path / "state.sqlite", progress=progress, sleep=lambda s: None
    )
    assert report.stopped_reason is not None and "could not reach the target" in report.stopped_reason
    assert report.failed < 40 - 10  # stopped, instead of failing every remaining order one by one
    assert report.resume_hint


# ------------------------------------------------------------------ verify and export


def _command(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], float]:
    started = time.monotonic()
    code = main(argv)
    return code, capsys.readouterr().err.strip().splitlines(), time.monotonic() - started


def test_verify_checks_both_ends_before_reading_any_order(
    sites: Sites, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = sites.write_config(tmp_path / "run.toml")
    (tmp_path / "state.sqlite").touch()  # verify needs a state file; the check comes before it is read
    for name, value in {**sites.env(), "E2E_NEW_SECRET": "wrong"}.items():
        monkeypatch.setenv(name, value)
    code, err, seconds = _command(["verify", "--config", str(config)], capsys)
    assert code == 1 and len(err) == 1, err
    assert err[0].startswith("orderbridge: error: the target") and "failed its check" in err[0]
    assert "wrong" not in err[0] and seconds < 20
    # The source was checked (one count request) but not read: no page of orders was asked for.
    assert all(r.query.get("limit") == "1" for r in sites.old.requests_log if r.path == "/api/v1/orders")

    monkeypatch.setenv("E2E_NEW_SECRET", sites.env()["E2E_NEW_SECRET"])
    config.write_text(config.read_text().replace(sites.old_server.url, f"http://127.0.0.1:{_free_port()}"))
    code, err, seconds = _command(["verify", "--config", str(config)], capsys)
    assert code == 1 and len(err) == 1 and "the source" in err[0] and "failed its check" in err[0], err
    assert seconds < 30  # the transport's retries, then one line


def test_ob_verify_raises_preflight_failed(sites: Sites, tmp_path: Path) -> None:
    target = ob.connect("webinone-v2", base_url=sites.new_server.url, client_id="new", client_secret="nope")
    with pytest.raises(ob.PreflightFailed, match=r"the target .* failed its check"):
        ob.verify(sites.source(), target, tmp_path / "state.sqlite")
    assert not (tmp_path / "state.sqlite").exists()  # nothing was read, not even the state


@pytest.mark.parametrize("fault", ["wrong secret", "nothing listening"])
def test_export_checks_the_source_before_reading_any_order(
    sites: Sites,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
) -> None:
    monkeypatch.setenv(
        "E2E_OLD_SECRET", "wrong" if fault == "wrong secret" else sites.env()["E2E_OLD_SECRET"]
    )
    url = sites.old_server.url if fault == "wrong secret" else f"http://127.0.0.1:{_free_port()}"
    out = tmp_path / "orders.jsonl"
    argv = ["export", "--from", "webinone-v1", "--to", str(out), "--quiet"]
    argv += ["--option", f"base_url={url}", "--option", "client_id=old"]
    argv += ["--option", "client_secret_env=E2E_OLD_SECRET"]
    code, err, seconds = _command(argv, capsys)
    assert code == 1 and len(err) == 1, err
    assert err[0].startswith("orderbridge: error: the source (webinone-v1 ") and "failed its check" in err[0]
    assert not out.exists()  # no empty export left behind
    assert seconds < 30  # measured: well under a second for a refused secret, about 4 s for no listener


# ------------------------------------------------------------------ mapped reference ids


def test_a_mapped_status_id_that_cannot_be_one_fails_before_any_order_is_read(
    sites: Sites, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = sites.write_config(tmp_path / "run.toml")
    text = config.read_text()
    paid = sites.tables()["status"]["Paid"]
    config.write_text(text.replace(f'"Paid" = "{paid}"', '"Paid" = "paid-2041"'))
    for name, value in sites.env().items():
        monkeypatch.setenv(name, value)
    code, line, _ = _run(config, capsys, "--dry-run")
    assert code == 2  # a configuration error
    assert line == (
        "orderbridge: error: [references.status] 'Paid' = 'paid-2041': webinone-v2 takes StatusId as "
        "an integer id, and this value can never be one"
    )
    assert len(sites.new.requests_log) == 0  # the target's tables are checked before its first request
    assert all(r.query.get("limit") == "1" for r in sites.old.requests_log if r.path == "/api/v1/orders")


def test_check_reads_both_sites_and_writes_nothing(
    sites: Sites, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = sites.write_config(tmp_path / "run.toml")
    for name, value in sites.env().items():
        monkeypatch.setenv(name, value)
    assert main(["check", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ready to migrate") and "40 order(s) listed" in out, out
    assert all(r.method == "GET" or r.path.endswith("/oauth/token") for r in sites.new.requests_log)
    assert sites.new.order_count() == 0 and not (tmp_path / "state.sqlite").exists()

    monkeypatch.setenv("E2E_NEW_SECRET", "wrong")
    assert main(["check", "--config", str(config)]) == 1  # a site that is not ready
    assert "the target" in capsys.readouterr().err

    monkeypatch.setenv("E2E_NEW_SECRET", sites.env()["E2E_NEW_SECRET"])
    paid = sites.tables()["status"]["Paid"]
    config.write_text(config.read_text().replace(f'"Paid" = "{paid}"', '"Paid" = "999999"'))
    assert main(["check", "--config", str(config)]) == 2  # mapped to an id the new site does not list
    assert "'Paid' = '999999'" in capsys.readouterr().err
