"""One site's migration as a Dask task: the function a worker runs, and what it sends back.

:func:`run_site` runs on a worker: it installs the process's
:class:`~orderbridge.fleet.limits.ClusterGate` (the cluster-wide host limits),
connects the site's endpoints, waits for the state's run lock when another
process still holds it (a worker that is dying: its lock goes with it), runs
:func:`orderbridge.migrate`, writes the site's report files, and returns a
plain dict (:data:`OUTCOME_KEYS`). Progress goes to the fleet as Dask events on
:data:`TOPIC`. When a worker dies mid-site the scheduler starts the task
again on another worker; the run resumes from the site's state (what the
target already holds is adopted, never written twice).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Final

from attrs import frozen

from orderbridge.errors import OrderbridgeError
from orderbridge.fleet.config import HostLimit, Site
from orderbridge.fleet.limits import ClusterGate
from orderbridge.transport import add_request_gate

__all__ = ["OUTCOME_KEYS", "TOPIC", "SiteTask", "run_site"]

TOPIC: Final = "orderbridge-fleet"
"""The Dask event topic of site progress: ``{"fleet", "site", "event", ...}`` messages."""

OUTCOME_KEYS: Final = (
    "site", "status", "counts", "duration_seconds", "worker", "pid", "report", "error",
    "stopped_reason", "started_at", "finished_at", "lock_waited",
)  # fmt: skip
"""The keys of the dict :func:`run_site` returns."""

LOCK_POLL: Final = 0.5
"""Seconds between two tries of a run lock another process holds."""

_GATE: Final = ClusterGate()


@frozen
class SiteTask:
    """What a worker needs to run one site: the site, the fleet's limits and its knobs."""

    site: Site
    fleet_id: str
    limits: tuple[HostLimit, ...] = ()
    lock_wait: float = 120.0
    progress_interval: float = 2.0
    stop_event: str | None = None
    """The name of the fleet's Dask ``Event``: set, the site finishes its orders in flight and stops."""


def run_site(task: SiteTask) -> dict[str, Any]:
    """Run one site's migration on this worker; the outcome as a dict of :data:`OUTCOME_KEYS`."""
    from distributed import get_worker

    worker = get_worker()
    _GATE.configure(task.limits, worker)
    add_request_gate(_GATE)
    emit = _Emitter(worker, task)
    emit("started", worker=worker.address, pid=os.getpid())
    stop = threading.Event()
    watcher = _watch_stop(task.stop_event, stop)
    started = time.monotonic()
    outcome: dict[str, Any] = dict.fromkeys(OUTCOME_KEYS)
    outcome.update(site=task.site.name, worker=worker.address, pid=os.getpid(), lock_waited=0.0)
    try:
        report, waited = _migrate_waiting_for_lock(task, emit, stop)
        outcome.update(_report_outcome(task.site, report), lock_waited=round(waited, 3))
    except (OrderbridgeError, OSError, ValueError) as exc:
        outcome.update(status="error", error=f"{type(exc).__name__}: {exc}")
        outcome["duration_seconds"] = round(time.monotonic() - started, 3)
    finally:
        stop.set()
        if watcher is not None:
            watcher.join(timeout=5)
    emit("finished", status=outcome["status"], counts=outcome["counts"], error=outcome["error"])
    return outcome


class _Emitter:
    """Sends the site's events to the fleet; progress at most once per ``progress_interval``."""

    def __init__(self, worker: Any, task: SiteTask) -> None:
        self._worker = worker
        self._base = {"fleet": task.fleet_id, "site": task.site.name}
        self._interval = task.progress_interval
        self._last = float("-inf")
        self._lock = threading.Lock()

    def __call__(self, event: str, **values: Any) -> None:
        self._worker.log_event(TOPIC, {**self._base, "event": event, **values})

    def progress(self, done: int, total: int | None, report: Any) -> None:
        """A ``progress`` callback for :func:`orderbridge.migrate`."""
        now = time.monotonic()
        with self._lock:
            if now - self._last < self._interval and not (total is not None and done >= total):
                return
            self._last = now
        self("progress", done=done, total=total, counts=dict(report.counts))


def _watch_stop(name: str | None, stop: threading.Event) -> threading.Thread | None:
    """A thread that sets ``stop`` once the fleet's Dask event ``name`` is set (or the site ends)."""
    if name is None:
        return None
    from distributed import Event, get_client

    event = Event(name, client=get_client())

    def watch() -> None:
        while not stop.is_set():
            try:
                if event.wait(timeout=1.0):
                    stop.set()
            except Exception:  # the scheduler went away: the site goes on, its result may be lost
                return

    thread = threading.Thread(target=watch, name="orderbridge-fleet-stop", daemon=True)
    thread.start()
    return thread


def _migrate_waiting_for_lock(task: SiteTask, emit: _Emitter, stop: threading.Event) -> tuple[Any, float]:
    """Migrate the site; while its run lock is held elsewhere, try again until ``lock_wait`` has passed."""
    from orderbridge.migration.state import StateLocked

    first = time.monotonic()
    said = False
    while True:
        try:
            return _migrate(task.site, emit, stop), time.monotonic() - first
        except StateLocked as exc:
            waited = time.monotonic() - first
            if waited >= task.lock_wait or stop.is_set():
                raise
            if not said:
                emit("waiting", reason=str(exc))
                said = True
            stop.wait(LOCK_POLL)


def _migrate(site: Site, emit: _Emitter, stop: threading.Event) -> Any:
    from orderbridge.migration.config import connected
    from orderbridge.migration.engine import migrate

    with connected(site.config) as (source, target):
        return migrate(source, target, **site.config.migrate_arguments(), progress=emit.progress, stop=stop)


def _report_outcome(site: Site, report: Any) -> dict[str, Any]:
    from orderbridge.migration.report_files import write_reports

    files = write_reports(report, site.config.report) if site.config.report is not None else None
    if report.ok:
        status = "ok"
    elif report.interrupted:
        status = "interrupted"
    else:
        status = "failed"
    return {
        "status": status,
        "counts": dict(report.counts),
        "duration_seconds": round(report.duration_seconds, 3),
        "stopped_reason": report.stopped_reason,
        "started_at": report.started_at,
        "finished_at": report.finished_at,
        "report": (
            {"json": str(files.json), "html": str(files.html), "latest": str(files.latest)} if files else None
        ),
    }
