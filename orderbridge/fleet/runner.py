"""Run a fleet: each site a task on Dask distributed, progress a line per site, one fleet report.

:func:`run_fleet` connects to the scheduler the fleet names (or starts a
LocalCluster of worker processes on loopback), registers the host-limits
plugin on it, submits one task per site (:func:`~orderbridge.fleet.task.run_site`),
prints a line whenever a site's state changes, and returns a
:class:`~orderbridge.fleet.report.FleetReport`. A worker that dies mid-site
loses nothing: the scheduler starts the site again elsewhere (up to
``attempts`` times) and the run resumes from the site's state. Ctrl-C sets the
fleet's stop event: each site finishes its orders in flight and reports itself
interrupted.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Final

from orderbridge.fleet.config import FleetConfig, Site
from orderbridge.fleet.report import COLUMNS, FleetReport
from orderbridge.fleet.status import shown_state
from orderbridge.fleet.task import OUTCOME_KEYS, TOPIC, SiteTask, run_site

__all__ = ["SiteLines", "cluster_client", "run_fleet"]

EVENT_GRACE: Final = 5.0
"""Seconds the fleet waits, once every site is done, for the sites' last progress events."""


@contextmanager
def cluster_client(fleet: FleetConfig, scheduler: str | None = None) -> Iterator[tuple[Any, str]]:
    """A Dask client on ``scheduler`` (or ``[fleet] scheduler``), else on a new LocalCluster; and its name."""
    import dask
    from distributed import Client, LocalCluster

    _quiet_dask()
    address = scheduler or fleet.options.scheduler
    if address:
        with Client(address, timeout="30s") as client:
            yield client, address
        return
    options = fleet.options
    settings = {"distributed.scheduler.allowed-failures": options.attempts - 1}
    with (
        dask.config.set(settings),
        LocalCluster(
            n_workers=options.workers,
            threads_per_worker=options.threads_per_worker,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client, f"LocalCluster({options.workers} workers x {options.threads_per_worker} threads)"


def _quiet_dask() -> None:
    """Dask's own INFO lines (nannies, comms, clients) are not the operator's: warnings only,
    unless orderbridge logs at debug level (``--verbose``)."""
    if not logging.getLogger("orderbridge").isEnabledFor(logging.DEBUG):
        logging.getLogger("distributed").setLevel(logging.WARNING)


class SiteLines:
    """Turns the sites' Dask events into one line per change, printed whole (never interleaved)."""

    def __init__(self, fleet_id: str, say: Callable[[str], None]) -> None:
        self.fleet_id = fleet_id
        self.attempts: dict[str, int] = {}
        self.workers: dict[str, list[str]] = {}
        self.finished: dict[str, int] = {}
        self._say = say
        self._lock = threading.Lock()

    def handle(self, event: tuple[float, dict[str, Any]]) -> None:
        """A ``Client.subscribe_topic`` handler."""
        _, msg = event
        if not isinstance(msg, dict) or msg.get("fleet") != self.fleet_id:
            return
        site, kind = str(msg.get("site")), msg.get("event")
        with self._lock:
            if kind == "started":
                self.attempts[site] = self.attempts.get(site, 0) + 1
                self.workers.setdefault(site, []).append(str(msg.get("worker")))
                again = (
                    f" (attempt {self.attempts[site]}: resuming from its state)"
                    if self.attempts[site] > 1
                    else ""
                )
                line = f"started on {msg.get('worker')}{again}"
            elif kind == "progress":
                line = _progress_text(msg)
            elif kind == "waiting":
                line = f"waiting for its run lock: {msg.get('reason')}"
            elif kind == "finished":
                self.finished[site] = self.finished.get(site, 0) + 1
                line = f"{msg.get('status')}: {_counts_text(msg.get('counts'))}" + (
                    f" ({msg['error']})" if msg.get("error") else ""
                )
            else:
                return
            self._say(f"{site}: {line}")

    def seen_finish(self, sites: list[str]) -> bool:
        """Whether every site of ``sites`` has sent its finished event."""
        with self._lock:
            return all(self.finished.get(s, 0) >= 1 for s in sites)


def _counts_text(counts: Any) -> str:
    counts = counts or {}
    return ", ".join(f"{c} {counts.get(c, 0)}" for c in COLUMNS if c == "read" or counts.get(c))


def _progress_text(msg: dict[str, Any]) -> str:
    total = msg.get("total")
    done = f"{msg.get('done')}/{total}" if total is not None else str(msg.get("done"))
    return f"running {done} ({_counts_text(msg.get('counts'))})"


def run_fleet(
    fleet: FleetConfig,
    *,
    client: Any = None,
    scheduler: str | None = None,
    say: Callable[[str], None] = print,
) -> FleetReport:
    """Run every site of ``fleet`` on Dask; returns the fleet report (not yet written).

    ``client``: a Dask client to use as it is (tests); else one on
    ``scheduler``/``[fleet] scheduler``, else a LocalCluster made for the run.
    ``say`` receives each progress line, whole.
    """
    if client is not None:
        return _run_on(fleet, client, str(client.scheduler.address), say)
    with cluster_client(fleet, scheduler) as (made, name):
        say(f"fleet on {name}; Dask dashboard: {made.dashboard_link}")
        return _run_on(fleet, made, name, say)


def _run_on(fleet: FleetConfig, client: Any, cluster: str, say: Callable[[str], None]) -> FleetReport:
    from distributed import Event

    from orderbridge.fleet.limits import HostLimitsPlugin, host_stats

    client.register_plugin(HostLimitsPlugin())
    fleet_id = uuid.uuid4().hex[:12]
    lines = SiteLines(fleet_id, say)
    client.subscribe_topic(TOPIC, lines.handle)
    stop = Event(f"orderbridge-fleet-stop-{fleet_id}", client=client)
    started, clock = datetime.now(UTC), time.monotonic()
    futures = {
        client.submit(
            run_site, _task(fleet, site, fleet_id, stop.name), key=f"orderbridge-site-{name}-{fleet_id}",
            pure=False,
        ): name
        for name, site in fleet.sites.items()
    }  # fmt: skip
    outcomes, interrupted = _collect(futures, stop)
    _wait_for(lambda: lines.seen_finish([n for n, o in outcomes.items() if o.get("worker")]), EVENT_GRACE)
    client.unsubscribe_topic(TOPIC)
    stats = host_stats(client)
    sites = []
    for name in fleet.sites:
        entry = outcomes.get(name) or _missing(name, "not run", "the fleet stopped before this site ran")
        entry["attempts"] = lines.attempts.get(name, 0)
        entry["workers"] = lines.workers.get(name, [])
        entry["state"] = shown_state(fleet.sites[name].state)
        sites.append(entry)
    hosts = {
        limit.key: {"rate": limit.rate, "concurrency": limit.concurrency, **stats.get(limit.key, {})}
        for limit in fleet.hosts
    }
    return FleetReport(
        fleet=str(fleet.path), cluster=cluster, started_at=started.isoformat(),
        finished_at=datetime.now(UTC).isoformat(), duration_seconds=time.monotonic() - clock,
        sites=sites, hosts=hosts, interrupted=interrupted,
    )  # fmt: skip


def _task(fleet: FleetConfig, site: Site, fleet_id: str, stop_name: str) -> SiteTask:
    options = fleet.options
    return SiteTask(
        site=site,
        fleet_id=fleet_id,
        limits=fleet.hosts,
        lock_wait=options.lock_wait,
        progress_interval=options.progress_interval,
        stop_event=stop_name,
    )


def _collect(futures: dict[Any, str], stop: Any) -> tuple[dict[str, dict[str, Any]], bool]:
    """Each site's outcome as its task ends.

    Ctrl-C sets ``stop`` (the sites running finish their orders in flight and report), cancels the
    sites not started, and waits; a second Ctrl-C stops waiting.
    """
    from distributed import as_completed

    outcomes: dict[str, dict[str, Any]] = {}
    interrupted = False
    pending = as_completed(list(futures))
    while True:
        try:
            for future in pending:
                outcomes[futures[future]] = _outcome(future, futures[future])
            return outcomes, interrupted
        except KeyboardInterrupt:
            if interrupted:
                raise
            interrupted = True
            stop.set()
            for future in futures:
                if future.status == "pending" and not _is_running(future):
                    future.cancel()


def _is_running(future: Any) -> bool:
    """Whether the scheduler has started ``future``'s task (it then finishes its orders in flight)."""
    try:
        processing = future.client.processing()
    except Exception:
        return True
    return any(future.key in keys for keys in processing.values())


def _outcome(future: Any, name: str) -> dict[str, Any]:
    if future.cancelled():
        return _missing(name, "not run", "cancelled by Ctrl-C before it started")
    try:
        result: dict[str, Any] = future.result()
        return result
    except Exception as exc:  # KilledWorker: the site's workers died `attempts` times
        return _missing(name, "error", f"{type(exc).__name__}: {exc}")


def _missing(name: str, status: str, error: str) -> dict[str, Any]:
    entry: dict[str, Any] = dict.fromkeys(OUTCOME_KEYS)
    entry.update(site=name, status=status, error=error)
    return entry


def _wait_for(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
