"""Exactly once, anchored in the target: what the target holds after lost, shared or killed state files.

Every test asserts on the target itself (the simulated WebinOne v2 site, which
soft-deletes so that a deleted copy stays visible), never on the client's word.
"""

from __future__ import annotations

import collections
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import orderbridge as ob
from orderbridge.migration.repair import repair
from orderbridge.sandbox import FAULT_MIX, Faults

from .sites import STAMP_FIELD, TOKEN_PATH, Sites, live_docs, stamp_of

pytestmark = pytest.mark.slow

STAMP = f'stamp_field = "{STAMP_FIELD}"'
TOKEN_ONLY = frozenset({TOKEN_PATH})  # faults everywhere but the OAuth token endpoint


def _no_wait(seconds: float) -> None:
    return None


def _command(config: Path) -> list[str]:
    return [sys.executable, "-m", "orderbridge.cli", "migrate", "--config", str(config)]


def _writes(sites: Sites) -> int:
    return sum(1 for r in sites.new.requests_log.snapshot() if r.method != "GET" and r.path != TOKEN_PATH)


def _forget_state(tmp_path: Path) -> None:
    for path in tmp_path.glob("state.sqlite*"):
        path.unlink()


def assert_exact(sites: Sites, *, foreign: frozenset[int] = frozenset(), stamped: bool = False) -> None:
    """The target holds each source order exactly once, complete, and nothing was deleted."""
    sites.new_server.faults = Faults()
    assert sites.new.deleted_ids() == [], "orderbridge deleted orders"
    copies = {i: doc for i, doc in live_docs(sites.new).items() if i not in foreign}
    if stamped:
        stamps = collections.Counter(stamp_of(doc) for doc in copies.values())
        assert None not in stamps, "a copy without its stamp"
        assert len(stamps) == sites.count and max(stamps.values()) == 1, "duplicated orders"
    else:
        invoices = collections.Counter(doc["InvoiceNumber"] for doc in copies.values())
        assert len(invoices) == sites.count and max(invoices.values()) == 1, "duplicated orders"
    assert len(copies) == sites.count
    options: dict[str, Any] = {"stamp_field": STAMP_FIELD} if stamped else {}
    by_stamp = {stamp_of(doc): i for i, doc in copies.items()}
    source = sites.source()
    target = sites.target(**options)
    try:
        for original in source.iter_orders():
            assert original.source is not None
            if stamped:
                target_id = by_stamp[ob.Stamp("webinone-v1", source.site(), original.source.remote_id).text()]
            else:
                (target_id,) = [i for i, d in copies.items() if str(d["InvoiceNumber"]) == original.number]
            copy = target.get_order(str(target_id))
            skip = frozenset(loss.field for loss in target.losses(original))
            diffs = ob.migration.compare.compare_orders(original, copy, skip)
            assert not diffs, f"half-written copy {target_id} of {original.label}: {diffs}"
    finally:
        source.close()
        target.close()


@pytest.fixture
def sites() -> Iterator[Sites]:
    s = Sites(120, seed=13)
    yield s
    s.close()


def test_state_deleted_after_a_complete_run_then_the_run_again_creates_nothing(
    sites: Sites, tmp_path: Path
) -> None:
    state = tmp_path / "state.sqlite"
    first = ob.migrate(sites.source(), sites.target(), state=state)
    assert first.written == 120
    posts = _writes(sites)
    _forget_state(tmp_path)
    again = ob.migrate(sites.source(), sites.target(), state=state)
    assert (again.written, again.adopted, again.failed) == (0, 120, 0), again.summary()
    assert _writes(sites) == posts  # not one write: 0 created
    assert again.ledger is not None and again.ledger["orders"] == 120
    assert "adopted 120" in again.summary()
    assert_exact(sites)


def test_state_deleted_mid_run_with_the_stamp_duplicates_nothing(tmp_path: Path) -> None:
    sites = Sites(300, seed=5)
    try:
        config = sites.write_config(tmp_path / "run.toml", workers=4, extra_target=STAMP)
        sites.new_server.faults = Faults(seed=3, exempt_paths=TOKEN_ONLY, **FAULT_MIX)
        for grown_by in (60, 40, 25):  # killed three times mid-run, the state thrown away each time
            start = sites.new.order_count()
            proc = subprocess.Popen(
                _command(config), env=sites.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            deadline = time.monotonic() + 120
            while proc.poll() is None and sites.new.order_count() < start + grown_by:
                assert time.monotonic() < deadline, "the run made no progress"
                time.sleep(0.01)
            proc.kill()
            proc.wait()
            _forget_state(tmp_path)
        done = subprocess.run(_command(config), env=sites.env(), capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "adopted" in done.stdout
        assert_exact(sites, stamped=True)
    finally:
        sites.close()


def test_two_processes_on_one_state_file_one_refused_in_one_line(tmp_path: Path) -> None:
    sites = Sites(200, seed=7)
    try:
        # Slow enough that the first is still writing when the second starts.
        sites.new_server.faults = Faults(latency=0.01, exempt_paths=frozenset({TOKEN_PATH}))
        config = sites.write_config(tmp_path / "run.toml", workers=4, extra_target=STAMP)
        procs = [
            subprocess.Popen(
                _command(config), env=sites.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for _ in range(2)
        ]
        results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
        codes = sorted(code for code, _, _ in results)
        assert codes == [0, 1], results
        (refused,) = [err for code, _, err in results if code == 1]
        lines = refused.strip().splitlines()
        assert len(lines) == 1 and "is in use by pid" in lines[0] and " since " in lines[0], refused
        assert_exact(sites, stamped=True)
    finally:
        sites.close()


def test_target_with_its_own_look_alike_orders_keeps_them_untouched(tmp_path: Path) -> None:
    sites = Sites(300, seed=5)
    try:
        # The target already holds 100 orders of its own; 30 share an invoice number and name with
        # a source order (the others overlap in invoice numbers only).
        sites.new.seed(100, seed=77)
        foreign = sites.new.order_ids()
        sources = sites.old.order_ids()
        for own, theirs in zip(foreign[:30], sources[30:60], strict=True):
            doc = sites.old.order_doc(theirs, "v1")
            record = sites.new.order_record(own)
            with sites.new.lock:
                record.invoice_number, record.order_name = doc["InvoiceNumber"], doc["OrderName"]
        before = {i: sites.new.order_doc(i) for i in foreign}
        sites.new_server.faults = Faults(
            drop_rate=0.015,
            error_after_rate=0.015,
            error_after_mode="drop",
            only_methods=frozenset({"POST"}),
            seed=9,
            exempt_paths=frozenset({TOKEN_PATH}),
        )
        target = sites.target(stamp_field=STAMP_FIELD, sleep=_no_wait)
        report = ob.migrate(sites.source(), target, state=tmp_path / "state.sqlite", sleep=_no_wait)
        assert (report.written, report.failed, report.conflicts) == (300, 0, 0), report.summary()
        assert {i: sites.new.order_doc(i) for i in foreign} == before  # none changed
        assert_exact(sites, foreign=frozenset(foreign), stamped=True)
    finally:
        sites.close()


def test_one_run_under_the_fault_mix_is_complete_and_exact(tmp_path: Path) -> None:
    sites = Sites(300, seed=5)
    try:
        sites.new_server.faults = Faults(seed=1, exempt_paths=TOKEN_ONLY, **FAULT_MIX)
        report = ob.migrate(
            sites.source(sleep=_no_wait),
            sites.target(sleep=_no_wait),
            state=tmp_path / "state.sqlite",
            sleep=_no_wait,
        )
        assert report.ok and report.written == 300, report.summary()
        requests = sites.new.requests_log.total
        assert requests == report.target_requests
        # The physical floor is about 6.85 (5.89 writes per order, each tried 1/(1 - 0.14) times).
        assert requests / 300 <= 7.2, f"{requests / 300:.2f} target requests per order"
        assert_exact(sites)
    finally:
        sites.close()


def test_sigkill_and_resume_cycles_end_exact_with_nothing_deleted(tmp_path: Path) -> None:
    """20 SIGKILL-and-resume cycles of a 300-order run under faults; each kill lands while writing."""
    sites = Sites(300, seed=5)
    try:
        config = sites.write_config(tmp_path / "run.toml", workers=4, extra_target=STAMP)
        sites.new_server.faults = Faults(seed=21, exempt_paths=TOKEN_ONLY, **FAULT_MIX)
        landed = 0
        for cycle in range(20):
            start = sites.new.order_count()
            proc = subprocess.Popen(
                _command(config), env=sites.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            deadline = time.monotonic() + 120
            # Kill after 1 to 12 new orders: a different point of the write each time.
            while proc.poll() is None and sites.new.order_count() < start + 1 + cycle % 12:
                assert time.monotonic() < deadline, "the run made no progress"
                time.sleep(0.005)
            landed += proc.poll() is None
            proc.kill()
            proc.wait()
        assert landed >= 10  # a run ends by itself only once all 300 are written
        done = subprocess.run(_command(config), env=sites.env(), capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert_exact(sites, stamped=True)
        result = ob.verify(sites.source(), sites.target(stamp_field=STAMP_FIELD), tmp_path / "state.sqlite")
        assert result.ok and result.checked == 300, result.summary()
    finally:
        sites.close()


def test_verify_reports_a_planted_extra_copy_and_repair_removes_it(sites: Sites, tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    target = sites.target(stamp_field=STAMP_FIELD)
    report = ob.migrate(sites.source(), target, state=state)
    assert report.written == 120
    clean = ob.verify(sites.source(), target, state)
    assert clean.ok and clean.checked == 120, clean.summary()
    # Someone (another laptop, a lost state) wrote a second copy of one order.
    source = sites.source()
    original = next(iter(source.iter_orders()))
    assert original.source is not None
    stamp = ob.Stamp("webinone-v1", source.site(), original.source.remote_id)
    planted = target.create_order(original, stamp=stamp)
    planted_id = target.remote_id_of(planted)
    found = ob.verify(sites.source(), target, state)
    assert not found.ok
    assert found.extra == [planted_id]
    assert [sid for sid, _ in found.duplicated] == [original.source.remote_id]
    assert "1 duplicated, 1 extra" in found.summary()
    fixed = repair(sites.source(), target, state=state, findings=found)
    assert fixed.duplicates_removed == 1
    assert sites.new.deleted_ids() == [int(planted_id)]  # only the provable second copy
    assert ob.verify(sites.source(), target, state).ok
