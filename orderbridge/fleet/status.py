"""``fleet status``: where each site stands, from its state, its latest report and the fleet report.

Nothing runs and nothing is written: each site's state store is opened without
its run lock (a run going on keeps going) and asked for its counts per
outcome; the site's latest report (``report.json``) gives the last run's
counts and end; the fleet report gives the last fleet run's status, attempts
and workers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from orderbridge.fleet.config import FleetConfig, Site
from orderbridge.fleet.report import COLUMNS, read_fleet_report

__all__ = ["fleet_status", "shown_state", "status_table"]

_PASSWORD = re.compile(r"(://[^:/@]*):[^@/]*@")


def shown_state(state: str) -> str:
    """A state location as it may be shown: a URL without its password."""
    from orderbridge.migration import state as states

    redact = getattr(states, "redacted_location", None)
    if callable(redact):
        return str(redact(state))
    return _PASSWORD.sub(r"\1:***@", state)


def fleet_status(fleet: FleetConfig) -> list[dict[str, Any]]:
    """One entry per site: ``site``, ``last_status``, ``attempts``, ``counts`` (the latest report's),
    ``finished_at``, ``state`` (shown), ``state_counts`` (rows per outcome; ``None``: no state yet),
    ``report`` (its HTML page) and ``note``."""
    previous = read_fleet_report(fleet.report)
    entries = {s["site"]: s for s in previous.sites} if previous else {}
    return [_site_status(site, entries.get(name, {})) for name, site in fleet.sites.items()]


def _site_status(site: Site, entry: dict[str, Any]) -> dict[str, Any]:
    from orderbridge.migration.report_files import read_latest

    latest = read_latest(site.config.report) if site.config.report is not None else None
    data, files = latest if latest is not None else ({}, None)
    state_counts, note = _state_counts(site.state)
    return {
        "site": site.name,
        "last_status": entry.get("status", "not run"),
        "attempts": entry.get("attempts"),
        "error": entry.get("error"),
        "counts": data.get("counts"),
        "finished_at": data.get("finished_at"),
        "state": shown_state(site.state),
        "state_counts": state_counts,
        "report": str(files.html) if files is not None else None,
        "note": note,
    }


def _state_counts(state: str) -> tuple[dict[str, int] | None, str | None]:
    """Rows per outcome in the site's state, opened without its run lock; why not, when not."""
    from orderbridge.errors import OrderbridgeError
    from orderbridge.migration.state import is_state_url, open_state_store

    if not is_state_url(state) and not Path(state).exists():
        return None, "no state yet: the site has not run"
    try:
        store = open_state_store(state)
    except (OrderbridgeError, OSError) as exc:
        return None, f"state unreadable: {exc}"
    try:
        return dict(store.counts()), None
    finally:
        store.close()


def status_table(rows: list[dict[str, Any]]) -> str:
    """The status entries as a table for a terminal, then the notes and errors."""
    headers = ("SITE", "LAST RUN", *(c.upper() for c in COLUMNS), "IN STATE", "FINISHED")
    table = []
    for row in rows:
        counts = row.get("counts") or {}
        held = row.get("state_counts")
        in_state = ", ".join(f"{k} {v}" for k, v in sorted(held.items())) if held else "-"
        table.append(
            (
                row["site"],
                str(row["last_status"]),
                *(str(counts.get(c, "-")) for c in COLUMNS),
                in_state,
                str(row.get("finished_at") or "-"),
            )
        )
    widths = [max(len(r[i]) for r in [headers, *table]) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [headers, *table]
    ]
    for row in rows:
        for text in (row.get("error"), row.get("note")):
            if text:
                lines.append(f"  {row['site']}: {text}")
    return "\n".join(lines)
