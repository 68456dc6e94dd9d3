"""The state store's costs and its file: commits per order, bytes per order, the schema and its upgrade.

Recovery from kills and lost files is tested end to end in tests/test_exactly_once.py,
tests/test_migration_e2e.py and tests/test_engine.py; these tests pin what the store
writes for it, counted by SQLite itself (its trace of the statements it runs).
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import orderbridge as ob
from orderbridge.migration import Claim, SQLiteStateStore, migrate
from orderbridge.migration.state import OUTCOMES_PER_COMMIT, SCHEMA_VERSION, now_text, open_state_store

from .fakes import MemoryTarget

ORDERS = 40
RUN_COMMITS = 3
"""Commits of a run besides its orders: binding the endpoints, the start and the end of the run."""

HASH = "ab" * 32


Location = str | Path
"""Where a store under test lives: a SQLite file, or a PostgreSQL state URL (its own migration id)."""


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Location:
    """Each store the engine can use, for the cases that apply to both (the conformance of the protocol)."""
    if request.param == "sqlite":
        return tmp_path / "state.sqlite"
    server = request.getfixturevalue("postgres")
    return str(server.url(f"{request.node.name}-{uuid.uuid4().hex[:8]}"))


def _commits(store: SQLiteStateStore) -> list[str]:
    """The statements that commit, as SQLite runs them: COMMIT, or a write outside a transaction."""
    seen: list[str] = []

    def trace(sql: str) -> None:
        verb = sql.split(None, 1)[0].upper()
        writes = verb in {"INSERT", "UPDATE", "DELETE", "REPLACE"}
        if verb == "COMMIT" or (writes and not store._db.in_transaction):
            seen.append(sql)

    store._db.set_trace_callback(trace)
    return seen


@pytest.fixture
def source(tmp_path: Path) -> Iterator[ob.Backend]:
    backend = ob.connect("jsonl", path=tmp_path / "source.jsonl")
    for i in range(1, ORDERS + 1):
        backend.create_order(
            ob.Order(source=ob.SourceRef("webinone-v1", str(28000 + i)), number=str(i), total=Decimal(i))
        )
    yield backend
    backend.close()


def _migrate(source: ob.Backend, target: ob.Backend, store: SQLiteStateStore) -> ob.migration.MigrationReport:
    """One worker, so the commits of each order are in order; the caller closes ``store``."""
    return migrate(source, target, state=store, concurrency=1, sleep=lambda s: None)


def _migrate_once(source: ob.Backend, target: ob.Backend, path: Path) -> None:
    store = SQLiteStateStore(path)
    try:
        assert _migrate(source, target, store).ok
    finally:
        store.close()


# ------------------------------------------------------------ commits per order


def test_a_clean_order_commits_its_pending_mark_and_its_target_id_and_no_outcome(
    source: ob.Backend, tmp_path: Path
) -> None:
    # MemoryTarget journals the order's id (as a multi-request create does): pending, id, done
    # would be 3; the outcome rides in the next commit, so 2 at most (the issue allows 3).
    store = SQLiteStateStore(tmp_path / "state.sqlite")
    commits = _commits(store)
    report = _migrate(source, MemoryTarget(), store)
    store.close()
    assert report.written == ORDERS
    assert len(commits) <= 2 * ORDERS + RUN_COMMITS, commits


def test_a_one_request_create_commits_once_per_order(source: ob.Backend, tmp_path: Path) -> None:
    store = SQLiteStateStore(tmp_path / "state.sqlite")
    commits = _commits(store)
    report = _migrate(source, ob.connect("jsonl", path=tmp_path / "target.jsonl"), store)
    store.close()
    assert report.written == ORDERS
    assert len(commits) <= ORDERS + RUN_COMMITS, commits


def test_adopting_what_the_target_holds_commits_once_per_batch_of_outcomes(
    source: ob.Backend, tmp_path: Path
) -> None:
    target = ob.connect("jsonl", path=tmp_path / "target.jsonl")
    _migrate_once(source, target, tmp_path / "first.sqlite")
    store = SQLiteStateStore(tmp_path / "state.sqlite")  # a lost state file: the run adopts everything
    commits = _commits(store)
    report = _migrate(source, target, store)
    store.close()
    assert (report.adopted, report.written) == (ORDERS, 0)
    assert len(commits) <= ORDERS // OUTCOMES_PER_COMMIT + 1 + RUN_COMMITS, commits


# ------------------------------------------------------------ what a row keeps


def test_finished_rows_keep_no_journal_steps(source: ob.Backend, tmp_path: Path) -> None:
    store = SQLiteStateStore(tmp_path / "state.sqlite")
    _migrate(source, MemoryTarget(), store)
    store.close()
    db = sqlite3.connect(tmp_path / "state.sqlite")
    columns = [row[1] for row in db.execute("PRAGMA table_info(orders)")]
    db.close()
    assert "steps" not in columns  # not even an empty list per row: recovery reads the target


def test_a_finished_row_takes_under_150_bytes_of_the_file(tmp_path: Path) -> None:
    rows = 2000
    store = SQLiteStateStore(tmp_path / "state.sqlite")
    for i in range(rows):
        source_id, target_id = f"webinone-v1:{28000 + i}", str(1000 + i)
        store.mark_pending(source_id, HASH)
        store.set_target(source_id, target_id)
        store.mark_done(source_id, "written", target_id, HASH)
    store.close()  # checkpoints the WAL into the file
    size = sum(p.stat().st_size for p in tmp_path.glob("state.sqlite*") if not p.name.endswith(".lock"))
    assert size / rows < 150, size / rows


def test_deferred_outcomes_are_read_back_at_once_and_committed_by_close(location: Location) -> None:
    store = open_state_store(location)
    store.mark_pending("a", HASH)
    store.mark_done("a", "written", "1000", HASH)
    row = store.get("a")
    assert row is not None and (row.status, row.target_id, row.content_hash) == ("written", "1000", HASH)
    store.close()
    reopened = open_state_store(location)
    row = reopened.get("a")
    reopened.close()
    assert row is not None and row.status == "written"


def test_a_kill_before_the_outcome_lands_leaves_a_pending_row_the_next_run_adopts(
    source: ob.Backend, tmp_path: Path
) -> None:
    target = MemoryTarget()
    _migrate_once(source, target, tmp_path / "other.sqlite")  # the copies exist
    copy = next(tid for tid, order in target.orders.items() if order.number == "1")
    store = SQLiteStateStore(tmp_path / "state.sqlite")
    store.bind(source.endpoint(), target.endpoint())
    store.begin_run()
    store.mark_pending("webinone-v1:28001", HASH)
    store.set_target("webinone-v1:28001", copy)
    store.mark_done("webinone-v1:28001", "written", copy, HASH)
    store._db.close()  # killed: the deferred outcome is lost, the pending mark and the id are not
    store.unlock()
    store = SQLiteStateStore(tmp_path / "state.sqlite")
    row = store.get("webinone-v1:28001")
    assert row is not None and (row.status, row.target_id) == ("pending", copy)
    calls = len(target.calls)
    report = _migrate(source, target, store)
    store.close()
    assert (report.adopted, report.written) == (ORDERS, 0) and len(target.calls) == calls


def test_another_process_may_read_the_state_while_a_run_holds_outcomes(tmp_path: Path) -> None:
    store = SQLiteStateStore(tmp_path / "state.sqlite", lock=True)
    store.mark_pending("a", HASH, "1000")
    store.mark_done("a", "written", "1000", HASH)  # held in the open transaction
    reader = SQLiteStateStore(tmp_path / "state.sqlite")  # e.g. `orderbridge verify` during the run
    row = reader.get("a")
    reader.close()
    store.close()
    assert row is not None and (row.status, row.target_id) == ("pending", "1000")


def test_source_of_finds_a_target_id(location: Location) -> None:
    store = open_state_store(location)
    store.mark_pending("a", HASH, "1000")
    assert store.source_of("1000") == "a" and store.source_of("1001") is None
    store.mark_done("b", "adopted", "1001", HASH)
    assert store.source_of("1001") == "b"
    store.close()


def test_source_of_builds_its_index_on_first_use(tmp_path: Path) -> None:
    store = SQLiteStateStore(tmp_path / "state.sqlite")
    assert store.source_of("1000") is None
    store.close()
    db = sqlite3.connect(tmp_path / "state.sqlite")
    plan = db.execute("EXPLAIN QUERY PLAN SELECT source_id FROM orders WHERE target_id = '1'").fetchall()
    db.close()
    assert "orders_target" in str(plan)


# ------------------------------------------------------------ the schema and its upgrade

SCHEMA_0 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE orders (
    source_id    TEXT PRIMARY KEY,
    status       TEXT NOT NULL,
    target_id    TEXT,
    content_hash TEXT,
    steps        TEXT NOT NULL DEFAULT '[]',
    error        TEXT,
    error_field  TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    changed_at   TEXT NOT NULL
);
CREATE INDEX orders_status ON orders(status);
CREATE INDEX orders_target ON orders(target_id);
"""
"""The schema of orderbridge 0.1.0 before the lean store, as its files hold it."""

ROWS_0: list[tuple[Any, ...]] = [
    ("webinone-v1:1", "written", "1000", HASH, "[]", None, None, 1, "2026-11-30T10:00:00.123456+00:00"),
    (
        "webinone-v1:2",
        "pending",
        "1001",
        HASH,
        '[{"step": "order", "order_id": "1001"}]',
        None,
        None,
        2,
        "2026-11-30T10:00:01+00:00",
    ),
    (
        "webinone-v1:3",
        "failed",
        None,
        "x",
        "[]",
        "bad line",
        "lines[0].price",
        1,
        "2026-11-30T10:00:02+00:00",
    ),
    (
        "webinone-v1:4",
        "conflict",
        None,
        None,
        "[]",
        "the target holds order 7",
        None,
        0,
        "2026-11-30T10:00:03+00:00",
    ),
    ("webinone-v1:5", "adopted", "1003", HASH, "[]", None, None, 0, "2026-11-30T10:00:04.5+00:00"),
]


def _schema_0_file(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA_0)
    db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", ROWS_0)
    db.executemany(
        "INSERT INTO meta VALUES (?, ?)",
        [("source", "jsonl:/old/source.jsonl"), ("target", "jsonl:/old/target.jsonl"), ("clean", "0")],
    )
    db.commit()
    db.close()


def test_a_state_file_of_the_first_schema_is_upgraded_in_place_keeping_every_row(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    _schema_0_file(path)
    store = SQLiteStateStore(path, lock=True)
    rows = {row.source_id: row for row in [store.get(r[0]) for r in ROWS_0] if row is not None}
    store.bind("jsonl:/old/source.jsonl", "jsonl:/old/target.jsonl")  # still bound to its endpoints
    assert store.needs_ledger() and [r.source_id for r in store.iter_pending()] == ["webinone-v1:2"]
    assert [r.source_id for r in store.iter_done()] == ["webinone-v1:1", "webinone-v1:5"]
    assert store.source_of("1001") == "webinone-v1:2"
    store.close()
    for source_id, status, target_id, digest, _steps, error, error_field, attempts, changed in ROWS_0:
        row = rows[source_id]
        assert (row.status, row.target_id, row.content_hash) == (status, target_id, digest)
        assert (row.error, row.error_field, row.attempts) == (error, error_field, attempts)
        assert row.changed_at is not None and datetime.fromisoformat(
            row.changed_at
        ) == datetime.fromisoformat(changed)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert "steps" not in [row[1] for row in db.execute("PRAGMA table_info(orders)")]
    readable = db.execute("SELECT status, content_hash FROM order_rows WHERE source_id = 'webinone-v1:1'")
    assert readable.fetchone() == ("written", HASH)
    db.close()


def test_a_state_file_of_a_newer_schema_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    SQLiteStateStore(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(
        ob.migration.StateDamaged, match=r"newer orderbridge.*orderbridge state rebuild"
    ) as info:
        SQLiteStateStore(path)
    assert "\n" not in str(info.value)


def test_an_unreadable_time_in_a_first_schema_row_becomes_the_upgrade_time_not_long_ago(
    tmp_path: Path,
) -> None:
    # "Long ago" would let a pending row claim any older look-alike in the target as its copy.
    path = tmp_path / "state.sqlite"
    _schema_0_file(path)
    db = sqlite3.connect(path)
    db.execute("UPDATE orders SET changed_at = 'yesterday' WHERE source_id = 'webinone-v1:2'")
    db.commit()
    db.close()
    before = datetime.now(UTC)
    store = SQLiteStateStore(path)
    row = store.get("webinone-v1:2")
    store.close()
    assert row is not None and row.changed_at is not None
    assert datetime.fromisoformat(row.changed_at) >= before


# ------------------------------------------------------------ the protocol, on every store


def test_a_pending_row_keeps_its_target_id_through_a_failure_and_a_new_attempt(location: Location) -> None:
    store = open_state_store(location)
    began = store.mark_pending("a", HASH)
    store.set_target("a", "1000")
    store.mark_failed("a", "the target went away", None)  # pending stays pending: it may have left a copy
    row = store.get("a")
    assert row is not None and (row.status, row.target_id, row.error) == (
        "pending",
        "1000",
        "the target went away",
    )
    assert row.changed_at is not None and row.changed_at >= began
    store.mark_pending("a", HASH)  # the next attempt keeps the known copy
    row = store.get("a")
    assert row is not None and (row.status, row.target_id, row.attempts, row.error) == (
        "pending",
        "1000",
        2,
        None,
    )
    store.close()


def test_outcomes_failures_and_conflicts_as_each_store_keeps_them(location: Location) -> None:
    store = open_state_store(location)
    store.mark_done("done", "written", "1", HASH)
    store.mark_failed("done", "update refused", "total")  # a complete copy keeps its status and id
    store.mark_pending("clean", HASH)
    store.mark_clean_failure("clean", "rejected", "lines[0].sku")
    store.mark_conflict("conflict", "the target holds order 7")
    store.mark_failed("new", "bad document", "number")
    rows = {sid: store.get(sid) for sid in ("done", "clean", "conflict", "new")}
    assert {sid: (r.status if r else None) for sid, r in rows.items()} == {
        "done": "written",
        "clean": "failed",
        "conflict": "conflict",
        "new": "failed",
    }
    assert rows["done"] is not None and rows["done"].target_id == "1"
    assert rows["clean"] is not None and (rows["clean"].error_field, rows["clean"].target_id) == (
        "lines[0].sku",
        None,
    )
    assert store.counts() == {"written": 1, "failed": 2, "conflict": 1}
    assert store.get("absent") is None
    store.forget("conflict")
    assert store.get("conflict") is None and store.counts() == {"written": 1, "failed": 2}
    store.close()


def test_iter_done_in_source_id_order_across_batches_and_iter_pending_before_a_time(
    location: Location,
) -> None:
    store = open_state_store(location)
    ids = [f"s{i:04d}" for i in range(600)]
    for source_id in reversed(ids):
        store.mark_done(source_id, "adopted", "t" + source_id, HASH)
    early = store.mark_pending("p1", HASH)
    cut = now_text()
    store.mark_pending("p2", HASH)
    assert [row.source_id for row in store.iter_done()] == ids
    assert [row.source_id for row in store.iter_pending()] == ["p1", "p2"]
    assert [row.source_id for row in store.iter_pending(before=cut)] == ["p1"] and early < cut
    store.close()


def test_binding_refuses_other_endpoints_and_needs_ledger_follows_the_runs(location: Location) -> None:
    store = open_state_store(location, lock=True)
    assert store.needs_ledger()  # new
    store.bind("jsonl:/a", "jsonl:/b")
    store.begin_run()
    store.mark_done("a", "written", "1", HASH)
    store.end_run(clean=True)
    store.close()
    store = open_state_store(location, lock=True)
    store.bind("jsonl:/a", "jsonl:/b")
    assert not store.needs_ledger()  # cleanly finished, nothing pending
    store.begin_run()
    assert store.needs_ledger()  # a run in progress (or killed) is not trusted alone
    store.mark_pending("b", HASH)
    store.end_run(clean=False)
    assert store.needs_ledger()
    with pytest.raises(ob.migration.StateMismatch, match="belongs to a run from 'jsonl:/a' to 'jsonl:/b'"):
        store.bind("jsonl:/a", "jsonl:/other")
    store.close()


def test_a_single_worker_claims_every_order_and_takes_what_earlier_runs_left(location: Location) -> None:
    store = open_state_store(location, lock=True)
    store.bind("jsonl:/a", "jsonl:/b")
    store.mark_pending("left", HASH)
    store.close()
    store = open_state_store(location, lock=True)
    started = now_text()
    assert store.claim("new") == Claim.MINE and store.claim("left") == Claim.MINE
    store.mark_done("new", "written", "1", HASH)
    rows, stale = store.take_left_pending(started)
    assert [row.source_id for row in rows] == ["left"] and not stale
    assert store.get("new") is not None and store.counts() == {"written": 1, "pending": 1}
    store.close()


def test_a_migration_through_each_store_writes_once_and_a_lost_state_adopts(
    source: ob.Backend, location: Location
) -> None:
    target = MemoryTarget()
    first = migrate(source, target, state=location, concurrency=4, sleep=lambda s: None)
    assert (first.written, first.failed, first.elsewhere) == (ORDERS, 0, 0) and first.ok
    again = migrate(source, target, state=location, sleep=lambda s: None)
    assert (again.written, again.skipped) == (0, ORDERS)
    assert again.ledger is None  # a clean state is trusted alone
    calls = len(target.calls)
    other = (
        Path(location).with_name("other.sqlite")
        if isinstance(location, Path)
        else str(location).replace("migration=", "migration=lost-")
    )
    lost = migrate(source, target, state=other, sleep=lambda s: None)
    assert (lost.adopted, lost.written) == (ORDERS, 0) and len(target.calls) == calls
    assert len(target.orders) == ORDERS
