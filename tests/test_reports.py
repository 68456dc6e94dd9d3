"""Report files that stay, one name per count, the time series, and a page that is safe to open."""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import orderbridge as ob
from orderbridge.migration import migrate
from orderbridge.migration.report import COUNT_NAMES, Failure, MigrationReport, VerifyReport
from orderbridge.migration.report_files import attach_verify, read_latest, timestamp, write_reports
from orderbridge.migration.report_html import render_html
from orderbridge.migration.timeline import Timeline

from .fakes import MemoryTarget

HOSTILE = '<script>window.__pwned = 1</script>"><img src=x onerror="window.__pwned = 2">'


def _report(started: str = "2026-12-02T10:15:00.250000+00:00", **changes: Any) -> MigrationReport:
    report = MigrationReport(source="webinone-v1", target="webinone-v2", started_at=started, **changes)
    report.read, report.written, report.duration_seconds = 3, 2, 1.5
    return report


def hostile_report() -> MigrationReport:
    """A report whose every free text comes from (untrusted) order data."""
    report = _report()
    report.add_failure(
        Failure(source_id=HOSTILE, message=f"bad value {HOSTILE}", field=HOSTILE, kind="rejected")
    )
    report.add_failure(Failure(source_id="28001", message="no such status", kind="unresolved-reference"))
    report.add_unresolved("status", HOSTILE)
    report.add_losses([ob.Loss(field=HOSTILE, reason=HOSTILE, amount=Decimal("-1.50"))], currency="AUD")
    report.add_conflict(HOSTILE, [HOSTILE])
    report.source_notes.append(HOSTILE)
    report.stopped_reason = HOSTILE
    return report


# ---------------------------------------------------------------- files


def test_each_run_writes_its_own_timestamped_pair_and_the_latest_copy(tmp_path: Path) -> None:
    first = write_reports(_report(), tmp_path / "x.json")
    assert (first.json.name, first.html.name) == ("x-20261202T101500Z.json", "x-20261202T101500Z.html")
    assert first.latest.read_text() == first.json.read_text()
    kept = first.json.read_text()
    # Two runs in the same second: neither overwrites the other, and the names sort in run order.
    second = write_reports(_report(), tmp_path / "x.json")
    third = write_reports(_report(), tmp_path / "x.json")
    assert (
        second.json.name == "x-20261202T101500Z_02.json" and third.html.name == "x-20261202T101500Z_03.html"
    )
    assert first.json.read_text() == kept
    names = sorted(p.name for p in tmp_path.glob("x-*.json"))
    assert names == [first.json.name, second.json.name, third.json.name]
    latest = json.loads((tmp_path / "x.json").read_text())
    assert latest["files"] == {"json": third.json.name, "html": third.html.name}
    assert latest == json.loads(third.json.read_text())


def test_a_later_dry_run_never_overwrites_a_real_runs_report(tmp_path: Path) -> None:
    real = _report()
    real.add_losses([ob.Loss(field="fees", reason="no fees", amount=Decimal("2.00"))], currency="EUR")
    real_files = write_reports(real, tmp_path / "report.json")
    real_json, real_html = real_files.json.read_text(), real_files.html.read_text()
    dry = write_reports(_report("2026-12-02T11:00:00+00:00", dry_run=True), tmp_path / "report.json")
    assert dry.json != real_files.json and dry.html != real_files.html
    assert real_files.json.read_text() == real_json and real_files.html.read_text() == real_html
    assert json.loads(real_json)["losses"]["fees"]["money"] == {"EUR": "2.00"}
    assert json.loads((tmp_path / "report.json").read_text())["dry_run"] is True


def test_a_report_json_of_an_older_orderbridge_is_moved_aside_not_lost(tmp_path: Path) -> None:
    old = {"source": "a", "target": "b", "started_at": "2026-11-30T08:00:00+00:00", "counts": {"read": 7}}
    (tmp_path / "report.json").write_text(json.dumps(old))
    write_reports(_report(), tmp_path / "report.json")
    assert json.loads((tmp_path / "report-20261130T080000Z.json").read_text()) == old
    assert not (tmp_path / "report-20261130T080000Z.html").exists()


def test_the_run_configuration_writes_timestamped_reports_and_dry_runs_keep_the_real_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from orderbridge.cli import run_migration
    from orderbridge.migration.config import config_from_dict

    source = ob.connect("jsonl", path=tmp_path / "source.jsonl")
    source.create_order(ob.Order(source=ob.SourceRef("x", "1"), number="1", total=Decimal("1.00")))
    config = config_from_dict(
        {
            "source": {"backend": "jsonl", "path": "source.jsonl"},
            "target": {"backend": "jsonl", "path": "target.jsonl"},
            "run": {"state": "state.sqlite", "report": "run.json"},
        },
        base_dir=tmp_path,
    )
    run_migration(config, show_progress=False)
    real = sorted(tmp_path.glob("run-*.json"))
    assert len(real) == 1 and len(list(tmp_path.glob("run-*.html"))) == 1
    kept = real[0].read_text()
    dry = config_from_dict(
        {
            "source": {"backend": "jsonl", "path": "source.jsonl"},
            "target": {"backend": "jsonl", "path": "target.jsonl"},
            "run": {"state": "state.sqlite", "report": "run.json", "dry_run": True},
        },
        base_dir=tmp_path,
    )
    run_migration(dry, show_progress=False)
    assert real[0].read_text() == kept and len(list(tmp_path.glob("run-*.json"))) == 2
    out = capsys.readouterr().out
    assert re.search(r"report written to \S+run-\d{8}T\d{6}Z(_\d\d)?\.json and \S+\.html", out), out


def test_verify_results_are_added_to_the_latest_real_run_only(tmp_path: Path) -> None:
    files = write_reports(_report(), tmp_path / "report.json")
    result = VerifyReport(source="webinone-v1", target="webinone-v2", checked=2, missing=["28003"])
    assert attach_verify(tmp_path / "report.json", result) == files
    data = json.loads(files.json.read_text())
    assert data["verify"]["missing"] == ["28003"] and data["counts"]["read"] == 3
    assert json.loads(files.latest.read_text()) == data
    assert "28003" in files.html.read_text()
    write_reports(_report("2026-12-02T12:00:00+00:00", dry_run=True), tmp_path / "report.json")
    assert attach_verify(tmp_path / "report.json", result) is None  # a dry run migrated nothing
    assert attach_verify(tmp_path / "nothing.json", result) is None
    assert read_latest(tmp_path / "nothing.json") is None


def test_timestamps_are_utc_and_refuse_naive_times() -> None:
    assert timestamp("2026-12-02T20:15:00+10:00") == "20261202T101500Z"
    assert timestamp(datetime(2026, 12, 2, 10, 15, 0, 999000, tzinfo=UTC)) == "20261202T101500Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        timestamp("2026-12-02T10:15:00")


# ---------------------------------------------------------------- names


def _count_paths(data: dict[str, Any]) -> list[tuple[str, Any]]:
    """Each count of the JSON report: its top-level name and value."""
    counts = [(name, value) for name, value in data["counts"].items()]
    counts += [(name, data[name]) for name in ("target_requests", "retries", "rate_limited")]
    counts += [("unresolved_references", data["unresolved_references"]), ("planned", data["planned"])]
    return counts


def test_every_count_in_the_json_has_the_same_name_in_python() -> None:
    report = hostile_report()
    report.count("would create", "1")
    report.count_read(2)
    data = report.to_dict()
    assert set(data["counts"]) == set(COUNT_NAMES)
    assert report.counts == data["counts"]
    for name, value in _count_paths(data):
        assert getattr(report, name) == value, name
    for name, entry in data["losses"].items():
        assert report.losses[name] == entry["orders"]


def test_the_old_name_unresolved_still_works_and_says_it_is_deprecated() -> None:
    report = hostile_report()
    with pytest.deprecated_call(match="unresolved_references"):
        assert report.unresolved == report.unresolved_references == {"status": Counter({HOSTILE: 1})}


def test_a_clean_dry_run_shows_its_read_rate_not_zero_orders_per_second(tmp_path: Path) -> None:
    source = ob.connect("jsonl", path=tmp_path / "source.jsonl")
    for i in range(1, 6):
        source.create_order(ob.Order(source=ob.SourceRef("x", str(i)), number=str(i), total=Decimal("1.00")))
    report = migrate(source, MemoryTarget(), state=None, dry_run=True)
    assert report.ok and report.read == 5
    assert report.orders_per_second is None and report.read_per_second > 0
    summary = report.summary()
    assert "0.0 orders/s" not in summary and "read " in summary and " orders/s" in summary
    data = report.to_dict()
    assert data["orders_per_second"] is None and data["read_per_second"] > 0


# ---------------------------------------------------------------- timeline


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_timeline_stays_bounded_and_keeps_every_event() -> None:
    clock = _Clock()
    timeline = Timeline(max_buckets=100, clock=clock)
    for second in range(0, 100_000, 7):  # a long run: 100,000 s of events
        clock.now = float(second)
        timeline.add("written", 3)
        timeline.on_answer(type("R", (), {"attempt": 1, "status": 429})())
    data = timeline.to_dict()
    assert len(data["written"]) <= 100 and data["interval_seconds"] >= 1000
    assert sum(data["written"]) == 3 * len(range(0, 100_000, 7)) == timeline.totals()["written"]
    assert sum(data["retries"]) == sum(data["rate_limited"]) == len(range(0, 100_000, 7))
    assert {len(column) for name, column in data.items() if name != "interval_seconds"} == {len(data["read"])}


def test_a_run_records_written_retries_and_429s_over_time(tmp_path: Path) -> None:
    from orderbridge.sandbox import Faults

    from .sites import TOKEN_PATH, Sites

    sites = Sites(30)
    try:
        sites.new_server.faults = Faults(
            rate_429=0.2, retry_after=0, seed=5, exempt_paths=frozenset({TOKEN_PATH})
        )
        report = migrate(sites.source(), sites.target(), state=tmp_path / "state.sqlite", concurrency=4)
    finally:
        sites.close()
    assert report.written == 30 and report.failed == 0, report.summary()
    data = report.to_dict()
    # Not retries >= rate_limited: a 429 after the transport's last retry is counted but not retried
    # (the order is tried again by the engine); which request draws the 429s depends on thread order.
    assert report.rate_limited > 0 and report.retries > 0
    assert sum(data["timeline"]["written"]) == data["counts"]["written"] == 30
    assert sum(data["timeline"]["read"]) == data["counts"]["read"]
    assert sum(data["timeline"]["rate_limited"]) == data["rate_limited"]
    assert "retries" in report.summary()


# ---------------------------------------------------------------- page


def test_the_page_escapes_order_data_and_loads_nothing() -> None:
    page = render_html(hostile_report().to_dict())
    assert "<script>window" not in page and "<img src=x" not in page and 'onerror="' not in page
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in page
    assert page.count("<script>") == 1  # its own, allowed by hash
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    found = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert found is not None
    policy = html.unescape(found.group(1))
    assert "default-src 'none'" in policy and "unsafe-inline" not in policy
    assert "script-src 'sha256-" in policy


def test_the_page_shows_verify_results_when_given() -> None:
    data = _report().to_dict()
    assert "Not verified" in render_html(data)
    data["verify"] = VerifyReport(source="a", target="b", checked=9, extra=["1001"]).to_dict()
    page = render_html(data)
    assert "Not verified" not in page and "1001" in page and "differences" in page


def test_orderbridge_verify_adds_its_findings_to_the_latest_run_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from orderbridge.cli import main

    source = ob.connect("jsonl", path=tmp_path / "source.jsonl")
    for i in (1, 2):
        source.create_order(ob.Order(source=ob.SourceRef("x", str(i)), number=str(i), total=Decimal("1.00")))
    (tmp_path / "run.toml").write_text(
        '[source]\nbackend = "jsonl"\npath = "source.jsonl"\n\n'
        '[target]\nbackend = "jsonl"\npath = "target.jsonl"\n\n'
        '[run]\nstate = "state.sqlite"\nreport = "report.json"\n'
    )
    assert main(["migrate", "--config", str(tmp_path / "run.toml")]) == 0
    status = main(["verify", "--config", str(tmp_path / "run.toml"), "--json"])
    out, err = capsys.readouterr()
    latest = json.loads((tmp_path / "report.json").read_text())
    assert latest["verify"]["checked"] == 2 and status == (0 if latest["verify"]["ok"] else 1)
    assert latest["files"]["html"] in err
    assert json.loads(out.strip().splitlines()[-1]) == {
        k: v for k, v in latest["verify"].items() if k != "verified_at"
    }
