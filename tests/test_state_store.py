"""The state store's costs and its file: commits per order, bytes per order, the schema and its upgrade.

Recovery from kills and lost files is tested end to end in tests/test_exactly_once.py,
tests/test_migration_e2e.py and tests/test_engine.py; these tests pin what the store
writes for it, counted by SQLite itself (its trace of the statements it runs).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import orderbridge as ob
from orderbridge.migration import SQLiteStateStore, migrate
from orderbridge.migration.state import OUTCOMES_PER_COMMIT, SCHEMA_VERSION

from .fakes import MemoryTarget

ORDERS = 40
RUN_COMMITS = 3
"""Commits of a run besides its orders: binding the endpoints, the start and the end of the run."""

HASH = "ab" * 32


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


def test_deferred_outcomes_are_read_back_at_once_and_committed_by_close(tmp_path: Path) -> None:
    store = SQLiteStateStore(tmp_path / "state.sqlite")
    store.mark_pending("a", HASH)
    store.mark_done("a", "written", "1000", HASH)
    row = store.get("a")
    assert row is not None and (row.status, row.target_id, row.content_hash) == ("written", "1000", HASH)
    store.close()
    reopened = SQLiteStateStore(tmp_path / "state.sqlite")
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


def test_source_of_finds_a_target_id_before_and_after_its_index_exists(tmp_path: Path) -> None:
    store = SQLiteStateStore(tmp_path / "state.sqlite")
    store.mark_pending("a", HASH, "1000")
    assert store.source_of("1000") == "a" and store.source_of("1001") is None
    store.mark_done("b", "adopted", "1001", HASH)
    assert store.source_of("1001") == "b"
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
