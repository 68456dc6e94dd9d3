"""Secrets where others can see them are said out loud (never their value)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from orderbridge.cli import _parse_options
from orderbridge.migration.config import load_config

CANARY = "canary-warn-s3cret"


def test_a_secret_on_the_command_line_is_warned_about(capsys: pytest.CaptureFixture[str]) -> None:
    options = _parse_options(["base_url=https://shop.example.com", f"token={CANARY}"], "webinone-v2")
    assert options["token"] == CANARY
    err = capsys.readouterr().err
    assert "--option token=... is visible to every user" in err and "token_env" in err
    assert CANARY not in err
    _parse_options(["base_url=https://shop.example.com"], "webinone-v2")
    assert capsys.readouterr().err == ""


def test_a_literal_secret_in_a_readable_config_file_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "run.toml"
    path.write_text(
        '[source]\nbackend = "jsonl"\npath = "a.jsonl"\n'
        f'[target]\nbackend = "webinone-v2"\nclient_secret = "{CANARY}"\n'
    )
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        load_config(path)
    assert any(
        "readable by other users" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records
    )
    assert not any(CANARY in r.getMessage() for r in caplog.records)
    caplog.clear()
    path.chmod(0o600)
    with caplog.at_level(logging.WARNING):
        load_config(path)
    assert not caplog.records
