"""Preflight and the circuit: an endpoint that is not ready fails in one line within seconds."""

from __future__ import annotations

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
    sites: Sites, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = sites.write_config(tmp_path / "run.toml")
    config.write_text(config.read_text().replace(sites.new_server.url, f"http://127.0.0.1:{_free_port()}"))
    for name, value in sites.env().items():
        monkeypatch.setenv(name, value)
    for extra in (("--dry-run",), ()):
        code, line, seconds = _run(config, capsys, *extra)
        assert code == 1 and "the target" in line and "failed its check" in line, line
        assert seconds < 30  # the transport's retries, then one line (measured: about 4 s)
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
