"""The fleet report's HTML page: one self-contained file, in the style of a run's report page.

Inline CSS only, no script, a Content-Security-Policy that allows nothing
else; every value is HTML-escaped (site names, error messages and paths come
from configuration and servers). Each number carries its place in the JSON
(``data-key='["sites",0,"counts","read"]'``) so a test can check the page
against ``fleet-report.json``; a site's name links to its own report page.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orderbridge.fleet.report import COLUMNS
from orderbridge.migration.report_html import _card, _code, _e, _number, _table, html_page

__all__ = ["render_fleet_html"]

_BADGES = {"ok": "ok", "interrupted": "dry", "not run": "dry"}


def render_fleet_html(data: Mapping[str, Any]) -> str:
    """The fleet report ``data`` (:meth:`FleetReport.to_dict`) as a page."""
    body = "\n".join([_header(data), _totals(data), _sites(data), _errors(data), _hosts(data)])
    return html_page(f"orderbridge fleet: {data.get('fleet', '?')}", body)


def _badge(status: Any) -> str:
    return f'<span class="badge {_BADGES.get(str(status), "bad")}">{_e(status)}</span>'


def _header(data: Mapping[str, Any]) -> str:
    state = "interrupted" if data.get("interrupted") else "ok" if data.get("ok") else "check it"
    return (
        f"<h1>Fleet {_code(data.get('fleet', ''))} {_badge(state)}</h1>"
        f'<p class="meta">{_e(data.get("site_count", 0))} site(s) on {_e(data.get("cluster", ""))}; '
        f"started {_e(data.get('started_at', ''))}, finished {_e(data.get('finished_at', ''))}, "
        f"{_number(data.get('duration_seconds'), 'duration_seconds')} s</p>"
    )


def _totals(data: Mapping[str, Any]) -> str:
    totals = data.get("totals", {})
    cards = [_card(name, totals.get(name), "totals", name) for name in COLUMNS]
    for status, count in (data.get("statuses") or {}).items():
        cards.append(_card(f"sites {status}", count, "statuses", status))
    return f'<h2>Totals</h2><div class="cards">{"".join(cards)}</div>'


def _site_link(site: Mapping[str, Any]) -> str:
    report = site.get("report") or {}
    html = report.get("html") if isinstance(report, Mapping) else None
    name = _e(site.get("site", "?"))
    if not html:
        return name
    return f'<a href="{_e(Path(str(html)).as_uri() if Path(str(html)).is_absolute() else html)}">{name}</a>'


def _sites(data: Mapping[str, Any]) -> str:
    headers = ["site", "status", *(f"{c}#" for c in COLUMNS), "seconds#", "attempts#", "workers"]
    rows = []
    for index, site in enumerate(data.get("sites", [])):
        counts = site.get("counts") or {}
        rows.append(
            [
                _site_link(site),
                _badge(site.get("status")),
                *(_number(counts.get(c), "sites", index, "counts", c) for c in COLUMNS),
                _number(site.get("duration_seconds"), "sites", index, "duration_seconds"),
                _number(site.get("attempts"), "sites", index, "attempts"),
                _e(", ".join(site.get("workers") or [])),
            ]
        )
    return "<h2>Sites</h2>" + _table(headers, rows, body_id="site-rows")


def _errors(data: Mapping[str, Any]) -> str:
    rows = [
        [_e(s.get("site")), _e(s.get("error") or s.get("stopped_reason"))]
        for s in data.get("sites", [])
        if s.get("error") or s.get("stopped_reason")
    ]
    if not rows:
        return ""
    return "<h2>Errors</h2>" + _table(["site", "what happened"], rows)


def _hosts(data: Mapping[str, Any]) -> str:
    hosts = data.get("hosts") or {}
    if not hosts:
        return ""
    rows = [
        [
            _code(host),
            _e(values.get("rate", "—")),
            _e(values.get("concurrency", "—")),
            _number(values.get("granted"), "hosts", host, "granted"),
            _number(values.get("peak"), "hosts", host, "peak"),
        ]
        for host, values in hosts.items()
    ]
    headers = ["host", "rate (requests/s)", "concurrency", "requests#", "peak in flight#"]
    return "<h2>Host limits (whole cluster)</h2>" + _table(headers, rows)
