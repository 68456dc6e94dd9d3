"""The fleet end to end on a real Dask LocalCluster (worker processes, loopback only).

Five sites in one run, each exact; a worker killed mid-site and the site
completed on another; ``fleet status`` and ``fleet retry``; per-host limits
held across workers, as the simulator's own counters show. Waits are polls
with a deadline, never sleeps.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from orderbridge.fleet.report import write_fleet_report
from orderbridge.fleet.runner import run_fleet
from orderbridge.sandbox.server import Faults
from tests.fleets import assert_exact, load, simulated, wait_until

pytestmark = pytest.mark.slow

COMMAND = [sys.executable, "-m", "orderbridge"]


def _orderbridge(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=dict(os.environ)
    )


def test_five_sites_exact_then_status_and_retry(tmp_path: Path) -> None:
    sections = {"fleet": {"workers": 2, "threads_per_worker": 2}}
    with simulated(tmp_path, 5, orders=25, latency=0.002, sections=sections) as (fleet, path, _):
        done = _orderbridge("fleet", "--config", str(path), cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        config = load(path)
        for name in fleet.sites:
            assert_exact(config, fleet, name)
        # One line per change, each naming its site: none interleaved with another.
        progress = re.compile(r"(site-\d\d): (started on |running \d+/25 \(|ok: read 25)")
        lines = [line for line in done.stdout.splitlines() if re.match(r"site-\d\d: ", line)]
        assert lines and all(progress.match(line) for line in lines), lines
        assert not [line for line in done.stdout.splitlines() if line.count("site-") > 1]
        for name in fleet.sites:
            assert any(line.startswith(f"{name}: ok:") for line in lines), (name, done.stdout)
        report = json.loads((tmp_path / "fleet-report.json").read_text())
        assert report["ok"] and report["site_count"] == 5
        for entry in report["sites"]:
            assert entry["status"] == "ok" and entry["attempts"] == 1
            assert entry["counts"]["written"] == len(fleet.target_ids(entry["site"])) == 25
        page = (tmp_path / "fleet-report.html").read_text()
        assert '<span data-key="[&quot;totals&quot;, &quot;written&quot;]">125</span>' in page

        status = _orderbridge("fleet", "status", "--config", str(path), "--json", cwd=tmp_path)
        assert status.returncode == 0, status.stderr
        rows = {row["site"]: row for row in json.loads(status.stdout)}
        assert set(rows) == set(fleet.sites)
        for row in rows.values():
            assert row["last_status"] == "ok" and row["counts"]["written"] == 25
            assert row["state_counts"] == {"written": 25}

        retry = _orderbridge("fleet", "retry", "site-03", "--config", str(path), cwd=tmp_path)
        assert retry.returncode == 0, retry.stdout + retry.stderr
        after = json.loads((tmp_path / "fleet-report.json").read_text())
        sites = {entry["site"]: entry for entry in after["sites"]}
        assert list(sites) == list(fleet.sites)  # the others kept, in their order
        assert sites["site-03"]["counts"]["written"] == 0
        assert sites["site-03"]["counts"]["skipped"] == 25
        assert sites["site-01"] == {e["site"]: e for e in report["sites"]}["site-01"]
        assert_exact(config, fleet, "site-03")


def _site_worker(client: Any, key_prefix: str) -> str | None:
    for worker, keys in client.processing().items():
        if any(str(key).startswith(key_prefix) for key in keys):
            return str(worker)
    return None


def test_a_killed_worker_s_site_completes_on_another_worker(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    sections = {"fleet": {"progress_interval": 0.2}, "run": {"workers": 2}}
    with (
        simulated(tmp_path, 1, orders=120, latency=0.02, sections=sections) as (fleet, path, _),
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        config = load(path)
        pids = client.run(os.getpid)
        result: dict[str, Any] = {}
        runner = threading.Thread(
            target=lambda: result.update(report=run_fleet(config, client=client, say=print))
        )
        runner.start()
        wait_until(lambda: len(fleet.target_ids("site-01")) >= 15, 120, "the site to write 15 orders")
        victim = _site_worker(client, "orderbridge-site-site-01-")
        assert victim is not None
        os.kill(pids[victim], signal.SIGKILL)
        runner.join(timeout=240)
        assert not runner.is_alive()
        report = result["report"]
        (entry,) = report.sites
        assert entry["status"] == "ok", entry
        assert entry["attempts"] == 2 and entry["workers"][0] == victim
        assert entry["worker"] != victim
        assert_exact(config, fleet, "site-01")
        # The resumed run found the dead run's copies in the target and wrote none twice.
        assert entry["counts"]["written"] + entry["counts"]["adopted"] + entry["counts"]["skipped"] == 120
        write_fleet_report(report, config.report)


def _limited_fleet(path: Path, host: str, rate: float | None) -> None:
    """Two workers, pages of 5 orders (many source requests), ``[hosts]`` limits unless ``rate`` is None."""
    limits = f'[hosts."{host}"]\nrate = {rate}\nconcurrency = 1\n\n' if rate is not None else ""
    text = path.read_text().replace("[defaults.run]", f"[fleet]\nworkers = 2\n\n{limits}[defaults.run]")
    path.write_text(text.replace('backend = "webinone-v1"', 'backend = "webinone-v1"\npage_size = 5'))


@pytest.mark.parametrize("limited", [True, False], ids=["limited", "control"])
def test_host_limits_hold_across_workers(tmp_path: Path, limited: bool) -> None:
    """Two sites on two workers read one source host: its rate and concurrency are shared.

    The control (no ``[hosts]`` table) shows the source refusing requests over its rate:
    the limited run's zero is the fleet's doing.
    """
    rate = 10.0
    source_faults = Faults(rate_limit=rate, exempt_paths=frozenset({"/api/v1/oauth/token"}))
    with simulated(tmp_path, 2, orders=60, shared_source=True, source_faults=source_faults) as (
        fleet,
        path,
        _,
    ):
        source = fleet.sites["site-01"].source
        host = f"127.0.0.1:{source.port}"
        _limited_fleet(path, host, rate * 0.8 if limited else None)
        config = load(path)
        report = run_fleet(config, say=print)
        assert report.ok, report.summary()
        log = source.simulator.requests_log
        source_requests = log.count() - log.count(path="/api/v1/oauth/token")
        assert len({entry["worker"] for entry in report.sites}) == 2, report.sites  # two processes
        if limited:
            assert source.refused_by_rate_limit == 0  # the source never saw more than its rate
            assert source.peak_in_flight == 1  # nor two requests at once
            assert report.hosts[host]["granted"] >= source_requests > 2 * rate
            assert report.hosts[host]["peak"] == 1
        else:
            assert source.refused_by_rate_limit > 0
        for name in fleet.sites:
            assert_exact(config, fleet, name)


def test_ctrl_c_stops_the_sites_after_their_orders_in_flight_and_exits_130(tmp_path: Path) -> None:
    sections = {"fleet": {"workers": 1, "threads_per_worker": 2, "progress_interval": 0.2}}
    with simulated(tmp_path, 2, orders=200, latency=0.02, sections=sections) as (fleet, path, _):
        proc = subprocess.Popen(
            [*COMMAND, "fleet", "--config", str(path)],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(os.environ),
            # A shell's background job inherits SIGINT ignored: give the child the default.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        assert proc.stdout is not None
        seen: list[str] = []
        for line in proc.stdout:  # blocks until a site is under way (or the command ends)
            seen.append(line)
            if re.match(r"site-0\d: running", line):
                break
        proc.send_signal(signal.SIGINT)  # the fleet command only, as Ctrl-C would reach it
        rest, _ = proc.communicate(timeout=240)
        output = "".join(seen) + rest
        assert proc.returncode == 130, output
        report = json.loads((tmp_path / "fleet-report.json").read_text())
        assert report["interrupted"] and not report["ok"]
        statuses = {entry["status"] for entry in report["sites"]}
        assert statuses <= {"interrupted", "not run", "ok"} and "interrupted" in statuses, report["sites"]
        config = load(path)
        for name in fleet.sites:  # what was written is each source order at most once
            held = fleet.target_ids(name)
            assert len(held) <= 200
        done = _orderbridge("fleet", "--config", str(path), cwd=tmp_path)  # and it resumes
        assert done.returncode == 0, done.stdout + done.stderr
        for name in fleet.sites:
            assert_exact(config, fleet, name)


def test_a_fleet_on_postgresql_states_is_exact_and_status_reads_them(tmp_path: Path, postgres: Any) -> None:
    """Every site's state a migration of one PostgreSQL database (``migration={site}``), as on a cluster."""
    sections = {
        "fleet": {"workers": 2, "threads_per_worker": 2},
        "run": {"state": postgres.url("fleet-{site}")},
    }
    with simulated(tmp_path, 3, orders=20, latency=0.002, sections=sections) as (fleet, path, _):
        done = _orderbridge("fleet", "--config", str(path), cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        config = load(path)
        for name in fleet.sites:
            assert config.sites[name].config.state.startswith("postgresql://")
            assert f"migration=fleet-{name}" in config.sites[name].config.state
            assert_exact(config, fleet, name)
        assert not list(tmp_path.rglob("*.sqlite"))  # no site fell back to a local file
        status = _orderbridge("fleet", "status", "--config", str(path), "--json", cwd=tmp_path)
        assert status.returncode == 0, status.stderr
        for row in json.loads(status.stdout):
            assert row["state_counts"] == {"written": 20}, row
