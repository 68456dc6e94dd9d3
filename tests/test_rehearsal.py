"""docs/migration.md's rehearsal, step by step: sandbox serve --site, dry run, references.toml, run, verify.

The sandbox runs as the operator runs it (a subprocess serving on loopback);
each later step is the documented command, run in-process.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from orderbridge.cli import main

DOCS = Path(__file__).resolve().parent.parent / "docs" / "migration.md"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[list[str]]:
    """``orderbridge sandbox serve --site old=webinone:200 --site new=webinone:0`` in ``tmp_path``."""
    sites = ["--site", "old=webinone:200", "--site", "new=webinone:0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "orderbridge", "sandbox", "serve", *sites],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        for line in proc.stdout:  # blocks until the sandbox says it serves (or ends)
            lines.append(line.rstrip("\n"))
            if line.startswith("serving"):
                break
        assert lines and lines[-1].startswith("serving"), "\n".join(lines)
        yield lines
    finally:
        proc.terminate()
        proc.wait()
        proc.stdout.close()


def _fill(path: Path) -> int:
    """Fill every ``""`` of the template from the candidates it lists (by name; members by email)."""
    out, candidates, filled = [], {}, 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("[references."):
            candidates = {}
        listed = re.match(r"#   (\S+)  (.+)$", line)
        if listed:
            candidates[listed.group(2)] = listed.group(1)
        entry = re.match(r'("(?:[^"\\]|\\.)*") = ""  # \d+ orders?(?:; source: ([^,]+))?', line)
        if entry:
            value = tomllib.loads(f"v = {entry.group(1)}")["v"]
            line = f'{entry.group(1)} = "{candidates[entry.group(2) or value]}"'
            filled += 1
        out.append(line)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return filled


def test_the_documented_v1_to_v2_rehearsal(
    sandbox: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = DOCS.read_text()
    for command in (
        "orderbridge sandbox serve --site old=webinone:200 --site new=webinone:0",
        "orderbridge migrate --config run.toml --dry-run",
        "orderbridge migrate --config run.toml --dry-run --references references.toml",
        "orderbridge check --config run.toml --references references.toml",
        "orderbridge migrate --config run.toml --references references.toml",
        "orderbridge verify --config run.toml --references references.toml",
    ):
        assert command in doc, f"docs/migration.md no longer shows: {command}"

    # 1. The sandbox printed the export lines for the run.toml it wrote.
    exports = [line.strip() for line in sandbox if line.strip().startswith("export ")]
    assert [e.split("=")[0] for e in exports] == ["export OLD_CLIENT_SECRET", "export NEW_CLIENT_SECRET"]
    for line in exports:
        name, _, value = line.removeprefix("export ").partition("=")
        monkeypatch.setenv(name, value)
        assert value not in (tmp_path / "run.toml").read_text()
    assert any("status catalog: http://127.0.0.1:" in line for line in sandbox)
    monkeypatch.chdir(tmp_path)

    # 2. The dry run reads all 200 orders and writes the template beside its report.
    assert main(["migrate", "--config", "run.toml", "--dry-run"]) == 1  # unresolved references
    out = capsys.readouterr().out
    assert "read 200," in out and "references template written to" in out
    template = tmp_path / "references.toml"
    kinds = tomllib.loads(template.read_text())["references"]
    assert set(kinds) == {"status", "member", "discount", "gift_voucher", "shipping_option", "tax"}

    # 3. Fill it from the candidates it lists; the dry run then plans every order.
    assert _fill(template) == sum(len(table) for table in kinds.values())
    assert main(["migrate", "--config", "run.toml", "--dry-run", "--references", "references.toml"]) == 0

    # 4. The check, the real run, then verify.
    capsys.readouterr()
    assert main(["check", "--config", "run.toml", "--references", "references.toml"]) == 0
    assert capsys.readouterr().out.startswith("ready to migrate")
    assert main(["migrate", "--config", "run.toml", "--references", "references.toml"]) == 0
    assert "read 200, written 200," in capsys.readouterr().out
    assert main(["verify", "--config", "run.toml", "--references", "references.toml"]) == 0
    assert "200 order(s) compared, all equal" in capsys.readouterr().out
