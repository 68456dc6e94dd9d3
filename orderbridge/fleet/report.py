"""The fleet report: per site what its run did, as JSON, a summary for a terminal and an HTML page.

``fleet-report.json`` holds one entry per site (the outcome a worker sent back,
:data:`~orderbridge.fleet.task.OUTCOME_KEYS`, with ``attempts`` and
``workers``), the per-host lease counts of the cluster, and the fleet's own
times. ``fleet retry SITE`` replaces that site's entry and keeps the others.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from attrs import define, field

__all__ = ["COLUMNS", "FleetReport", "read_fleet_report", "site_ok", "write_fleet_report"]

COLUMNS: Final = ("read", "written", "adopted", "skipped", "conflicts", "failed")
"""The per-site counts the summary, the status and the page show (``counts`` keys)."""

FLEET_STATUSES: Final = ("ok", "failed", "error", "interrupted", "not run")
"""A site's ``status``: its run was clean, had failed orders or conflicts, did not finish (an error
such as an unreachable site), was stopped, or never started."""


def site_ok(entry: Mapping[str, Any]) -> bool:
    """Whether a site's entry says its run was clean."""
    return entry.get("status") == "ok"


@define
class FleetReport:
    """What one fleet run did (or the merge of a run and a ``fleet retry``)."""

    fleet: str
    cluster: str
    started_at: str = ""
    finished_at: str = ""
    duration_seconds: float = 0.0
    sites: list[dict[str, Any]] = field(factory=list)
    hosts: dict[str, dict[str, Any]] = field(factory=dict)
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        """True when every site's run was clean and the fleet was not interrupted."""
        return not self.interrupted and all(site_ok(s) for s in self.sites)

    def totals(self) -> dict[str, int]:
        """The counts of :data:`COLUMNS` summed over the sites."""
        return {c: sum(int((s.get("counts") or {}).get(c, 0)) for s in self.sites) for c in COLUMNS}

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        statuses = [s.get("status") for s in self.sites]
        return {
            "fleet": self.fleet,
            "cluster": self.cluster,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_seconds": round(self.duration_seconds, 3),
            "ok": self.ok,
            "interrupted": self.interrupted,
            "site_count": len(self.sites),
            "statuses": {s: statuses.count(s) for s in FLEET_STATUSES if s in statuses},
            "totals": self.totals(),
            "sites": self.sites,
            "hosts": self.hosts,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FleetReport:
        """A report read back from its JSON."""
        return cls(
            fleet=str(data.get("fleet", "")),
            cluster=str(data.get("cluster", "")),
            started_at=str(data.get("started_at", "")),
            finished_at=str(data.get("finished_at", "")),
            duration_seconds=float(data.get("duration_seconds", 0.0)),
            sites=list(data.get("sites", [])),
            hosts=dict(data.get("hosts", {})),
            interrupted=bool(data.get("interrupted", False)),
        )

    def merge(self, newer: FleetReport) -> FleetReport:
        """This report with the sites of ``newer`` (a retry) replacing theirs; the others kept."""
        replaced = {s["site"]: s for s in newer.sites}
        sites = [replaced.pop(s["site"], s) for s in self.sites] + list(replaced.values())
        return FleetReport(
            fleet=newer.fleet,
            cluster=newer.cluster,
            started_at=self.started_at or newer.started_at,
            finished_at=newer.finished_at,
            duration_seconds=self.duration_seconds + newer.duration_seconds,
            sites=sites,
            hosts={**self.hosts, **newer.hosts},
            interrupted=newer.interrupted,
        )

    def summary(self) -> str:
        """A table of the sites for a terminal, then the totals."""
        return summary_table(self.sites, title=self._title())

    def _title(self) -> str:
        ok = sum(1 for s in self.sites if site_ok(s))
        state = "interrupted" if self.interrupted else "complete" if self.ok else "needs attention"
        return (
            f"fleet {self.fleet}: {ok}/{len(self.sites)} site(s) ok, {state}, "
            f"{self.duration_seconds:.1f}s on {self.cluster}"
        )


def summary_table(sites: Sequence[Mapping[str, Any]], *, title: str) -> str:
    """``title``, one row per site (status, counts, duration, attempts), a totals row, the errors."""
    headers = ("SITE", "STATUS", *(c.upper() for c in COLUMNS), "SECONDS", "ATTEMPTS")
    rows = []
    for s in sites:
        counts = s.get("counts") or {}
        rows.append(
            (
                str(s.get("site")),
                str(s.get("status")),
                *(str(counts.get(c, "-")) for c in COLUMNS),
                f"{s['duration_seconds']:.1f}" if s.get("duration_seconds") is not None else "-",
                str(s.get("attempts", "-")),
            )
        )
    totals = {c: sum(int((s.get("counts") or {}).get(c, 0)) for s in sites) for c in COLUMNS}
    rows.append(("total", "", *(str(totals[c]) for c in COLUMNS), "", ""))
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    for s in sites:
        if s.get("error") or s.get("stopped_reason"):
            lines.append(f"  {s.get('site')}: {s.get('error') or s.get('stopped_reason')}")
    return "\n".join(lines)


def write_fleet_report(report: FleetReport, path: str | Path) -> tuple[Path, Path]:
    """Write ``report`` to ``path`` (JSON) and its page beside it (``.html``); returns both paths.

    Each file is written whole to a temporary name and renamed over the old one,
    so ``fleet status`` never reads half a report.
    """
    from orderbridge.fleet.html import render_fleet_html

    json_path = Path(path)
    html_path = json_path.with_suffix(".html")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    data = report.to_dict()
    _replace(json_path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    _replace(html_path, render_fleet_html(data))
    return json_path, html_path


def read_fleet_report(path: str | Path) -> FleetReport | None:
    """The fleet report at ``path``; ``None`` when there is none (or it cannot be read)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return FleetReport.from_dict(data) if isinstance(data, dict) else None


def _replace(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
