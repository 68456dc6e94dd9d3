"""Many workers on ONE migration through one PostgreSQL state, end to end, asserted on the target itself.

Real processes (``orderbridge migrate``) against the simulated WebinOne sites
and a real PostgreSQL (the ``postgres`` fixture). Where two processes must
overlap, the target is made slow until the database shows both workers
joined; a kill waits for orders to land; a recovery relies on the lease
running out, which the surviving worker waits for itself: no sleep decides
an outcome.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

import orderbridge as ob
from orderbridge.sandbox import Faults

from .postgres import PASSWORD, PostgresServer
from .sites import STAMP_FIELD, TOKEN_PATH, Sites
from .test_exactly_once import STAMP, assert_exact

pytestmark = pytest.mark.slow

LEASE = "5"
"""Seconds: short enough that a dead worker's orders are taken soon, long enough that a live one's
heartbeat (every third of it) keeps its lease on a busy machine."""


def _command(config: Path, *more: str) -> list[str]:
    return [sys.executable, "-m", "orderbridge.cli", "migrate", "--config", str(config), "--json", *more]


def _live_workers(postgres: PostgresServer, migration: str) -> int:
    with psycopg.connect(host=str(postgres.socket_dir), port=postgres.port, user="postgres") as db:
        try:
            row = db.execute(
                "SELECT count(*) FROM orderbridge_workers "
                "WHERE migration_id = %s AND expires_at > clock_timestamp()",
                (migration,),
            ).fetchone()
        except psycopg.errors.UndefinedTable:  # the first worker has not made the tables yet
            return 0
    return int(row[0]) if row else 0


def _until(condition: Any, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def _configs(sites: Sites, tmp_path: Path, state: str, count: int) -> list[Path]:
    """One configuration per worker (each its own report folder), all naming the same state."""
    paths = []
    for i in range(count):
        folder = tmp_path / f"worker-{i}"
        folder.mkdir()
        paths.append(sites.write_config(folder / "run.toml", workers=4, extra_target=STAMP, state=state))
    return paths


def _start(config: Path, sites: Sites) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _command(config), env=sites.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _report(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    report: dict[str, Any] = json.loads(out)
    return report


def test_two_processes_migrating_one_site_at_once_write_each_order_once(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    sites = Sites(200, seed=11)
    migration = f"two-{uuid.uuid4().hex[:8]}"
    try:
        first, second = _configs(sites, tmp_path, postgres.url(migration, lease_seconds=LEASE), 2)
        slow = Faults(latency=0.3, exempt_paths=frozenset({TOKEN_PATH}))
        sites.new_server.faults = slow  # the first cannot get far before the second has joined
        a = _start(first, sites)
        _until(lambda: _live_workers(postgres, migration) == 1, "the first worker joined")
        b = _start(second, sites)
        _until(lambda: _live_workers(postgres, migration) == 2, "both workers joined")
        sites.new_server.faults = Faults(latency=0.005, exempt_paths=frozenset({TOKEN_PATH}))
        reports = [_report(a), _report(b)]
        counts = [r["counts"] for r in reports]
        assert sum(c["written"] for c in counts) == 200, counts  # each order written by one of them
        assert all(c["written"] + c["elsewhere"] == 200 and c["failed"] == 0 for c in counts), counts
        assert all(c["written"] > 0 for c in counts), counts  # both worked on the one site
        assert_exact(sites, stamped=True)
        result = ob.verify(
            sites.source(), sites.target(stamp_field=STAMP_FIELD), postgres.url(migration), concurrency=4
        )
        assert result.ok and result.checked == 200, result.summary()
    finally:
        sites.close()


def test_a_worker_killed_mid_run_has_its_orders_finished_by_the_other_once_its_lease_expires(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    sites = Sites(300, seed=17)
    migration = f"kill-{uuid.uuid4().hex[:8]}"
    try:
        first, second = _configs(sites, tmp_path, postgres.url(migration, lease_seconds=LEASE), 2)
        sites.new_server.faults = Faults(latency=0.3, exempt_paths=frozenset({TOKEN_PATH}))
        victim = _start(first, sites)
        _until(lambda: _live_workers(postgres, migration) == 1, "the first worker joined")
        survivor = _start(second, sites)
        _until(lambda: _live_workers(postgres, migration) == 2, "both workers joined")
        sites.new_server.faults = Faults(latency=0.01, exempt_paths=frozenset({TOKEN_PATH}))
        start = sites.new.order_count()
        _until(lambda: victim.poll() is not None or sites.new.order_count() >= start + 40, "orders landed")
        assert victim.poll() is None, "the first worker ended before it could be killed"
        victim.kill()  # SIGKILL, mid-write: its claims and pending rows stay until its lease runs out
        victim.communicate()
        report = _report(survivor)
        assert report["counts"]["failed"] == 0 and report["counts"]["conflicts"] == 0, report["counts"]
        assert report["counts"]["elsewhere"] > 0  # the orders the dead worker had finished
        assert_exact(sites, stamped=True)  # complete: the dead worker's orders too, none twice
        with psycopg.connect(host=str(postgres.socket_dir), port=postgres.port, user="postgres") as db:
            left = db.execute(
                "SELECT count(*) FROM orderbridge_orders WHERE migration_id = %s AND status = 3", (migration,)
            ).fetchone()
        assert left == (0,)
        result = ob.verify(sites.source(), sites.target(stamp_field=STAMP_FIELD), postgres.url(migration))
        assert result.ok and result.checked == 300, result.summary()
    finally:
        sites.close()


def test_the_command_line_takes_a_postgres_state_and_never_shows_its_password(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    sites = Sites(30, seed=3)
    migration = f"cli-{uuid.uuid4().hex[:8]}"
    try:
        config = sites.write_config(
            tmp_path / "run.toml",
            extra_target=STAMP,
            state=postgres.tcp_url(None),  # the migration id and the password variable come from [run]
            extra_run=f'migration = "{migration}"\nstate_password_env = "OB_STATE_PW"',
        )
        env = {**sites.env(), "OB_STATE_PW": PASSWORD}
        outputs: list[tuple[str, str]] = []
        for command in (["check"], ["migrate"], ["verify"], ["state", "rebuild"], ["migrate", "--json"]):
            done = subprocess.run(
                [sys.executable, "-m", "orderbridge.cli", *command, "--config", str(config)],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode == 0, (command, done.stdout, done.stderr)
            outputs.append((done.stdout, done.stderr))
        assert f"127.0.0.1:{postgres.port}/postgres?migration={migration}" in outputs[0][0]
        assert "set aside: migration" in outputs[3][0]
        final = json.loads(outputs[4][0])
        assert (final["counts"]["adopted"], final["counts"]["written"]) == (30, 0)  # rebuilt: adopted
        assert PASSWORD not in final["state_path"] and migration in final["state_path"]
        written = "".join(p.read_text(errors="replace") for p in tmp_path.iterdir() if p.is_file())
        assert PASSWORD not in "".join(out + err for out, err in outputs) + written
        assert_exact(sites, stamped=True)
    finally:
        sites.close()
