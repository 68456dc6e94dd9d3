from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import pytest

import orderbridge as ob
from orderbridge.migration import Selection, SQLiteStateStore, migrate
from orderbridge.migration.engine import _warn_about_identity

from .fakes import MemoryTarget


def _order(i: int, **changes: object) -> ob.Order:
    base = ob.Order(
        source=ob.SourceRef("webinone-v1", str(i)),
        number=str(i),
        name=f"Order {i}",
        total=Decimal(i) + Decimal("0.95"),
        created_at=datetime(2022, 1, 1 + i % 28, tzinfo=UTC),
        status=ob.OrderStatus(name="Paid" if i % 2 else "Shipped"),
    )
    return base.evolve(**changes) if changes else base


@pytest.fixture
def source(tmp_path: Path) -> ob.Backend:
    backend = ob.connect("jsonl", path=tmp_path / "source.jsonl")
    for i in range(1, 21):
        backend.create_order(_order(i, notes="gift") if i % 4 == 0 else _order(i))
    return backend


def _run(
    source: ob.Backend, target: ob.Backend, tmp_path: Path, **kw: object
) -> ob.migration.MigrationReport:
    return migrate(source, target, state=tmp_path / "state.sqlite", **kw)  # type: ignore[arg-type]


def test_migrates_everything_once_and_a_second_run_writes_nothing(source: ob.Backend, tmp_path: Path) -> None:
    target = MemoryTarget()
    report = _run(source, target, tmp_path, concurrency=8)
    assert (report.read, report.written, report.failed) == (20, 20, 0)
    assert len(target.orders) == 20
    creates = len(target.calls)
    again = _run(source, target, tmp_path)
    assert (again.read, again.written, again.skipped) == (20, 0, 20)
    assert len(target.calls) == creates  # not one request more
    assert report.ok and report.orders_per_second > 0


def test_ambiguous_write_that_was_applied_is_found_not_duplicated(source: ob.Backend, tmp_path: Path) -> None:
    target = MemoryTarget(faults={"3": ["ambiguous-applied"], "4": ["ambiguous-lost"]})
    report = _run(source, target, tmp_path)
    assert report.written == 20 and report.failed == 0
    assert target.copies("3") == 1 and target.copies("4") == 1
    assert len(target.orders) == 20


def test_transient_partial_write_is_finished_in_place_not_deleted(source: ob.Backend, tmp_path: Path) -> None:
    target = MemoryTarget(faults={"5": ["partial", "partial"]})
    report = _run(source, target, tmp_path)
    assert report.written == 20 and report.failed == 0 and report.finished_in_place == 1
    assert target.copies("5") == 1
    assert not [call for call in target.calls if call[0] == "delete"]
    (copy,) = [tid for tid, o in target.orders.items() if o.number == "5"]
    assert [call for call in target.calls if call[0] == "update"] == [("update", copy)]


def test_rejected_partial_write_names_the_reason_and_the_next_run_finishes_it_in_place(
    source: ob.Backend, tmp_path: Path
) -> None:
    target = MemoryTarget(faults={"6": ["partial-rejected"]})
    report = _run(source, target, tmp_path)
    assert report.written == 19 and report.failed == 1
    failure = report.failures[0]
    assert failure.source_id == "webinone-v1:6" and "bad line" in failure.message
    assert "finished in place by the next run" in failure.message
    assert failure.kind == "partial-write:rejected"
    store = SQLiteStateStore(tmp_path / "state.sqlite")
    row = store.get("webinone-v1:6")
    store.close()
    assert row is not None and row.status == "pending" and row.target_id is not None
    # the next run settles the copy it left (here complete already: adopted): no delete, no second copy
    again = _run(source, target, tmp_path)
    assert (again.written, again.adopted, again.skipped) == (0, 1, 19)
    assert target.copies("6") == 1 and not [c for c in target.calls if c[0] == "delete"]


def test_first_create_refused_is_a_clean_failure_not_pending(source: ob.Backend, tmp_path: Path) -> None:
    target = MemoryTarget(faults={"7": ["rejected"]})
    report = _run(source, target, tmp_path)
    assert (report.written, report.failed) == (19, 1)
    store = SQLiteStateStore(tmp_path / "state.sqlite")
    row = store.get("webinone-v1:7")
    store.close()
    assert row is not None and row.status == "failed" and row.target_id is None
    again = _run(source, target, tmp_path)
    # nothing was half-written, so nothing is "finished" or adopted: just written
    assert (again.written, again.finished_in_place, again.adopted, again.skipped) == (1, 0, 0, 19)
    assert again.ledger is None  # the state was trusted: no pending row, cleanly finished


def test_transient_failures_get_a_final_pass_and_count_once(source: ob.Backend, tmp_path: Path) -> None:
    target = MemoryTarget(faults={"8": ["server-error"] * 4})
    sleeps: list[float] = []
    report = _run(source, target, tmp_path, sleep=sleeps.append)
    assert (report.written, report.failed) == (20, 0)
    assert sleeps == [2.0]  # one final pass was enough
    assert report.written + report.failed + report.skipped + report.adopted == report.read == 20


def test_every_outcome_counted_once(source: ob.Backend, tmp_path: Path) -> None:
    target = MemoryTarget(faults={"9": ["server-error"] * 20})
    report = _run(source, target, tmp_path, sleep=lambda s: None)
    assert (report.written, report.failed) == (19, 1)
    assert len(report.failures) == 1 and report.failures[0].source_id == "webinone-v1:9"


def test_bad_source_document_is_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "source.jsonl"
    good = [ob.order_to_json(_order(i)) for i in (1, 2)]
    path.write_text(good[0] + "\n" + '{"schema_version": 1, "total": "ten"}\n' + good[1] + "\n")
    target = MemoryTarget()
    report = _run(ob.connect("jsonl", path=path), target, tmp_path)
    assert (report.read, report.written, report.failed) == (3, 2, 1)
    assert report.failures[0].field == "total"
    assert "line 2" in report.failures[0].message


def test_update_mode_writes_only_changed_orders(source: ob.Backend, tmp_path: Path) -> None:
    target = MemoryTarget()
    _run(source, target, tmp_path)
    source.update_order("webinone-v1:7", _order(7, total=Decimal("99.99")))
    before = len(target.calls)
    report = _run(source, target, tmp_path, mode="update")
    assert (report.updated, report.skipped, report.written) == (1, 19, 0)
    assert [call[0] for call in target.calls[before:]] == ["update"]
    updated = [o for o in target.orders.values() if o.number == "7"]
    assert updated[0].total == Decimal("99.99")


def test_dry_run_writes_nothing_and_reports_plan_losses_and_references(
    source: ob.Backend, tmp_path: Path
) -> None:
    target = MemoryTarget()
    target.unresolvable = {"Shipped"}
    report = _run(source, target, tmp_path, dry_run=True)
    assert target.calls == [] and not (tmp_path / "state.sqlite").exists()
    assert report.planned["would create"] == 10
    assert report.unresolved_references == {"status": {"Shipped": 10}}
    assert report.losses == {"notes": 5}
    assert report.to_dict()["losses"] == {"notes": {"orders": 5, "reason": "memory drops notes"}}
    assert "notes: 5  (memory drops notes)" in report.summary()
    assert report.failed == 10
    assert all(f.kind == "unresolved-reference" for f in report.failures)


def test_max_failures_stops_early(source: ob.Backend, tmp_path: Path) -> None:
    target = MemoryTarget(faults={str(i): ["partial-rejected"] for i in range(1, 21)})
    report = _run(source, target, tmp_path, max_failures=3, concurrency=1)
    assert 3 <= report.failed <= 3 + 2 and report.read < 20  # orders in flight finish
    assert report.stopped_reason is not None and "max-failures" in report.stopped_reason
    assert not report.ok and report.resume_hint


def test_a_dry_run_reads_every_order_whatever_max_failures_says(source: ob.Backend, tmp_path: Path) -> None:
    target = MemoryTarget()
    target.unresolvable = {"Shipped"}
    report = _run(source, target, tmp_path, dry_run=True, max_failures=1, concurrency=1)
    assert report.read == 20 and report.failed == 10 and report.stopped_reason is None
    assert report.unresolved_references == {"status": {"Shipped": 10}}  # complete: every order was seen


def test_max_failures_zero_means_no_limit(source: ob.Backend, tmp_path: Path) -> None:
    target = MemoryTarget(faults={str(i): ["partial-rejected"] for i in range(1, 21)})
    report = _run(source, target, tmp_path, max_failures=0, concurrency=1)
    assert report.read == 20 and report.failed == 20 and report.stopped_reason is None


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (Selection(limit=5), {"1", "2", "3", "4", "5"}),
        (Selection(ids=("webinone-v1:3", "webinone-v1:9")), {"3", "9"}),
        (Selection(min_id="webinone-v1:18"), {"18", "19", "2", "20", "3", "4", "5", "6", "7", "8", "9"}),
        (Selection(since=datetime(2022, 1, 19, tzinfo=UTC)), {"18", "19", "20"}),
    ],
)
def test_selection(source: ob.Backend, tmp_path: Path, selection: Selection, expected: set[str]) -> None:
    target = MemoryTarget()
    _run(source, target, tmp_path, selection=selection)
    assert {o.number for o in target.orders.values()} == expected


def _bound_store(source: ob.Backend, tmp_path: Path) -> SQLiteStateStore:
    store = SQLiteStateStore(tmp_path / "state.sqlite")
    store.bind(source.endpoint(), "memory")
    return store


def test_pending_row_with_known_target_id_is_finished_in_place(source: ob.Backend, tmp_path: Path) -> None:
    target = MemoryTarget()
    # a killed run wrote the order without its lines; its id reached the journal
    half = target._store(_order(2).evolve(total=None))
    store = _bound_store(source, tmp_path)
    store.mark_pending("webinone-v1:2", "x")
    store.set_target("webinone-v1:2", half)
    store.close()
    complete = target._store(_order(3))  # and one whose last step landed before the kill
    store = SQLiteStateStore(tmp_path / "state.sqlite")
    store.mark_pending("webinone-v1:3", "x")
    store.set_target("webinone-v1:3", complete)
    store.close()
    report = _run(source, target, tmp_path)
    assert (report.written, report.adopted) == (19, 1) and report.adopted_ids == ["webinone-v1:3"]
    assert report.ledger is not None and report.ledger["orders"] == 2
    assert target.copies("2") == 1 and half in target.orders  # the same copy, not a new one
    assert not [call for call in target.calls if call[0] == "delete"]


def test_pending_row_without_target_id_is_found_by_natural_key(source: ob.Backend, tmp_path: Path) -> None:
    target = MemoryTarget()
    target._store(_order(2))  # killed between the create request and its journal entry
    store = _bound_store(source, tmp_path)
    store.mark_pending("webinone-v1:2", "x")
    store.close()
    report = _run(source, target, tmp_path)
    assert report.adopted == 1 and target.copies("2") == 1 and len(target.orders) == 20


def test_lost_state_file_adopts_everything_and_writes_nothing(source: ob.Backend, tmp_path: Path) -> None:
    target = MemoryTarget()
    _run(source, target, tmp_path)
    for path in tmp_path.glob("state.sqlite*"):
        path.unlink()
    calls = len(target.calls)
    report = _run(source, target, tmp_path)
    assert (report.adopted, report.written) == (20, 0)
    assert len(target.calls) == calls and len(target.orders) == 20


def test_unstamped_look_alike_that_differs_is_a_conflict_left_alone(
    source: ob.Backend, tmp_path: Path
) -> None:
    target = MemoryTarget()
    theirs = target._store(_order(4, total=Decimal("1.00"), name="Someone else's"))  # same number
    report = _run(source, target, tmp_path)
    assert report.conflicts == 1 and report.written == 19 and not report.ok
    assert report.conflict_list[0].source_id == "webinone-v1:4"
    assert report.conflict_list[0].target_ids == [theirs]
    assert target.orders[theirs].total == Decimal("1.00") and target.copies("4") == 1
    assert "conflicts (1)" in report.summary() and theirs in report.summary()
    again = _run(source, target, tmp_path)  # still a conflict, still untouched
    assert again.conflicts == 1 and again.written == 0 and target.copies("4") == 1


def test_a_second_run_on_a_held_state_is_refused_naming_the_holder(
    source: ob.Backend, tmp_path: Path
) -> None:
    store = SQLiteStateStore(tmp_path / "state.sqlite")
    store.lock()
    try:
        with pytest.raises(ob.migration.StateLocked, match=r"in use by pid \d+ on .+ since"):
            _run(source, MemoryTarget(), tmp_path)
    finally:
        store.close()
    assert _run(source, MemoryTarget(), tmp_path).written == 20  # released


def test_state_of_another_target_site_is_refused(source: ob.Backend, tmp_path: Path) -> None:
    _run(source, ob.connect("jsonl", path=tmp_path / "a.jsonl"), tmp_path)
    with pytest.raises(ob.migration.StateMismatch, match="belongs to a run"):
        _run(source, ob.connect("jsonl", path=tmp_path / "b.jsonl"), tmp_path)


def test_damaged_state_file_says_so_and_how_to_rebuild(source: ob.Backend, tmp_path: Path) -> None:
    (tmp_path / "state.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(ob.migration.StateDamaged, match="orderbridge state rebuild"):
        _run(source, MemoryTarget(), tmp_path)


def test_lost_wal_after_a_kill_still_reads_the_ledger(source: ob.Backend, tmp_path: Path) -> None:
    target = MemoryTarget()
    _run(source, target, tmp_path)  # clean: the next run trusts the state
    store = SQLiteStateStore(tmp_path / "state.sqlite")
    store.begin_run()  # a run starts (checkpointed), writes a row into the WAL, and is killed
    store.mark_done("webinone-v1:1", "written", "1000", "x")
    assert store.needs_ledger()
    store._db.close()  # no checkpoint of the last row, as after SIGKILL
    store.unlock()
    Path(str(tmp_path / "state.sqlite") + "-wal").unlink(missing_ok=True)
    reopened = SQLiteStateStore(tmp_path / "state.sqlite")
    assert reopened.needs_ledger()  # the start of the run survived in the main file
    reopened.close()


def test_state_file_of_another_run_is_refused(source: ob.Backend, tmp_path: Path) -> None:
    store = SQLiteStateStore(tmp_path / "state.sqlite")
    store.bind("webinone-v1", "webinone-v2")
    store.close()
    with pytest.raises(ob.ConfigurationError, match="belongs to a run"):
        _run(source, MemoryTarget(), tmp_path)


def test_stop_event_finishes_in_flight_and_a_rerun_completes(source: ob.Backend, tmp_path: Path) -> None:
    target = MemoryTarget()
    stop = threading.Event()

    def progress(done: int, total: int | None, report: object) -> None:
        if done == 5:
            stop.set()

    report = _run(source, target, tmp_path, stop=stop, progress=progress, concurrency=2)
    assert report.interrupted and report.written < 20
    assert len(target.orders) == report.written
    rest = _run(source, target, tmp_path)
    assert rest.written == 20 - report.written and len(target.orders) == 20


def test_target_that_cannot_create_is_refused_before_reading(source: ob.Backend, tmp_path: Path) -> None:
    class ReadOnly(MemoryTarget):
        name = "read-only"
        capabilities = frozenset({"read"})

    with pytest.raises(ob.UnsupportedOperation):
        _run(source, ReadOnly(), tmp_path)


def test_unresolved_references_are_reported_in_real_runs_and_omit_does_not_fail(
    source: ob.Backend, tmp_path: Path
) -> None:
    target = MemoryTarget()
    target.unresolvable = {"Shipped"}
    target.on_unresolved = "omit"
    plan = _run(source, target, tmp_path, dry_run=True)
    assert plan.failed == 0 and plan.planned["would create"] == 20
    report = _run(source, target, tmp_path)
    assert report.written == 20 and report.unresolved_references == {"status": {"Shipped": 10}}
    assert "unresolved references" in report.summary()


def test_a_run_is_refused_by_the_lock_before_it_opens_the_database(tmp_path: Path) -> None:
    # Two runs opening a new state at once must not race on the database's first open.
    holder = SQLiteStateStore(tmp_path / "state.sqlite", lock=True)
    try:
        (tmp_path / "state.sqlite").write_bytes(b"not a database yet")  # whatever the holder is doing
        with pytest.raises(ob.migration.StateLocked):
            SQLiteStateStore(tmp_path / "state.sqlite", lock=True)
    finally:
        holder.close()


class _WebinOneClone(MemoryTarget):
    """A target of the webinone id space that resolves references (identity on by default)."""

    name: ClassVar[str] = "memory-webinone"
    id_space: ClassVar[str | None] = "webinone"

    def __init__(self, resolver: ob.ReferenceResolver) -> None:
        super().__init__()
        self.resolver = resolver


def _identity_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "identity does not apply" in r.getMessage()]


def test_identity_across_id_spaces_is_said_once_at_the_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="orderbridge.migration")
    other = MemoryTarget()  # another platform ("memory" ids)
    for i in range(1, 4):
        other.create_order(_order(i))
    report = migrate(other, _WebinOneClone(ob.ReferenceResolver()), state=None, dry_run=True)
    assert report.read == 3
    (said,) = _identity_warnings(caplog)
    assert "memory orders hold memory ids" in said and "takes webinone ids" in said
    assert "mapping tables" in said


def test_no_identity_warning_within_an_id_space_or_without_identity(
    source: ob.Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="orderbridge.migration")
    v1 = ob.get_backend("webinone-v1")(token="t", base_url="https://old.example.com")
    other = MemoryTarget()
    for src, resolver in (
        (v1, ob.ReferenceResolver()),  # one id space: identity is the operator's call
        (other, ob.ReferenceResolver(identity=False)),  # identity off: nothing to say
        (source, ob.ReferenceResolver()),  # jsonl: each order names its own source
    ):
        _warn_about_identity(src, _WebinOneClone(resolver))  # what migrate says first (no request)
    assert _identity_warnings(caplog) == []
