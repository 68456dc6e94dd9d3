"""Report files that stay: one JSON and one HTML file per run, and a copy of the latest.

A run configured with ``report = "report.json"`` writes
``report-20261202T101500Z.json`` and ``report-20261202T101500Z.html`` (the
run's start, UTC; a second run in the same second gets ``..._02``, so names
sort in run order), then copies the JSON to ``report.json``: the latest
report, whole, so a tool that reads ``report.json`` keeps working. Its
``files`` key names the timestamped pair. No run overwrites another run's
files; a ``report.json`` that is not such a copy (an older orderbridge wrote
it) is first moved aside to a timestamped name of its own.

:func:`attach_verify` adds ``verify`` results to the latest report's files.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from attrs import frozen

from orderbridge.migration.report import MigrationReport, VerifyReport
from orderbridge.migration.report_html import render_html

__all__ = ["ReportFiles", "attach_verify", "read_latest", "timestamp", "write_reports"]


@frozen
class ReportFiles:
    """The files of one run's report: the timestamped ``json`` and ``html``, and the ``latest`` copy."""

    json: Path
    html: Path
    latest: Path


def timestamp(when: str | datetime | None = None) -> str:
    """``20261202T101500Z``: ``when`` (ISO text or an aware datetime; default now) in UTC, to the second."""
    if when is None or when == "":
        moment = datetime.now(UTC)
    elif isinstance(when, datetime):
        moment = when
    else:
        moment = datetime.fromisoformat(when)
    if moment.tzinfo is None:
        raise ValueError(f"a report time must be timezone-aware, got {when!r}")
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def write_reports(report: MigrationReport, path: str | Path) -> ReportFiles:
    """Write ``report`` next to ``path`` as a new timestamped JSON and HTML pair; copy it to ``path``."""
    latest = Path(path)
    latest.parent.mkdir(parents=True, exist_ok=True)
    _keep_foreign(latest)
    json_path, html_path = _claim(latest, timestamp(report.started_at))
    data = report.to_dict()
    data["files"] = {"json": json_path.name, "html": html_path.name}
    _write_all(data, json_path, html_path, latest)
    return ReportFiles(json_path, html_path, latest)


def read_latest(path: str | Path) -> tuple[dict[str, Any], ReportFiles] | None:
    """The latest report that ``path`` (a run's ``report``) names, and its files; ``None`` when none."""
    latest = Path(path)
    data = _load(latest)
    files = data.get("files") if data is not None else None
    if data is None or not isinstance(files, dict):
        return None
    json_path = latest.with_name(str(files.get("json")))
    html_path = latest.with_name(str(files.get("html")))
    kept = _load(json_path)
    if kept is None:
        return None
    return kept, ReportFiles(json_path, html_path, latest)


def attach_verify(path: str | Path, result: VerifyReport) -> ReportFiles | None:
    """Add ``result`` as ``verify`` to the latest real run's report at ``path`` (JSON, HTML, copy).

    Returns its files, or ``None`` when there is no report there or the latest is
    a dry run (which migrated nothing to verify). The run's own parts are kept
    as they were; only ``verify`` is added (or replaced by a later verify).
    """
    found = read_latest(path)
    if found is None:
        return None
    data, files = found
    if data.get("dry_run"):
        return None
    data["verify"] = {**result.to_dict(), "verified_at": datetime.now(UTC).isoformat()}
    _write_all(data, files.json, files.html, files.latest)
    return files


def _write_all(data: dict[str, Any], json_path: Path, html_path: Path, latest: Path) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    _replace(json_path, text)
    _replace(html_path, render_html(data))
    # The copy last: when it names these files, they are complete.
    _replace(latest, text)


def _claim(latest: Path, stamp: str) -> tuple[Path, Path]:
    """Create (exclusively, so two runs never share) the next free timestamped JSON and HTML names."""
    stem = latest.stem if latest.suffix else latest.name
    number = 1
    while True:
        name = f"{stem}-{stamp}" + (f"_{number:02d}" if number > 1 else "")
        json_path, html_path = latest.with_name(name + ".json"), latest.with_name(name + ".html")
        try:
            with open(json_path, "x", encoding="utf-8"):
                pass
        except FileExistsError:
            number += 1
            continue
        try:
            with open(html_path, "x", encoding="utf-8"):
                pass
        except FileExistsError:
            json_path.unlink()
            number += 1
            continue
        return json_path, html_path


def _keep_foreign(latest: Path) -> None:
    """Move ``latest`` aside when it is not a copy of a timestamped report (so it is never lost)."""
    if not latest.exists():
        return
    if read_latest(latest) is not None:
        return  # a copy: its timestamped original stays
    data = _load(latest)
    started = data.get("started_at") if data is not None else None
    try:
        stamp = timestamp(started) if isinstance(started, str) and started else None
    except ValueError:
        stamp = None
    if stamp is None:
        stamp = timestamp(datetime.fromtimestamp(latest.stat().st_mtime, UTC))
    json_path, html_path = _claim(latest, stamp)
    html_path.unlink()  # an older report has no page; its JSON is kept as it was
    os.replace(latest, json_path)


def _load(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` at once: a reader sees the old file or the new one, never half."""
    # Opened like any new file (not mkstemp, which makes it 0600): the umask decides who may read it.
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temp, "x", encoding="utf-8") as out:
            out.write(text)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
