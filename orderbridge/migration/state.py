"""The state store: what a migration run has done, durable across kills.

It records, per source order: the target id it was written as, its outcome,
the content hash of the source order as migrated, and the steps of a
multi-request write already acknowledged by the target. A row goes
``pending`` *before* the first write request is sent, so a run killed at any
moment leaves evidence that the target may hold a (partial) copy.

:class:`StateStore` is the interface; :class:`SQLiteStateStore` the default
implementation (one file, WAL mode, safe for many worker threads). Another SQL
database can stand in by implementing the same few methods.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol

from attrs import frozen

from orderbridge.errors import ConfigurationError

__all__ = ["DONE", "OrderState", "SQLiteStateStore", "StateStore", "Status"]


class Status:
    """Outcome names stored per order."""

    PENDING: Final = "pending"
    """A write was started; the target may hold a partial copy."""
    WRITTEN: Final = "written"
    UPDATED: Final = "updated"
    FAILED: Final = "failed"


DONE: Final = frozenset({Status.WRITTEN, Status.UPDATED})
"""Outcomes meaning the target holds a complete copy."""


@frozen
class OrderState:
    """One source order's row in the store."""

    source_id: str
    status: str
    target_id: str | None = None
    content_hash: str | None = None
    steps: tuple[dict[str, Any], ...] = ()
    error: str | None = None
    error_field: str | None = None
    attempts: int = 0


class StateStore(Protocol):
    """What the engine needs from a state store."""

    def check_identity(self, source: str, target: str) -> None:
        """Bind the store to one (source, target) pair; refuse a store made for another."""

    def get(self, source_id: str) -> OrderState | None:
        """The row of ``source_id``, or ``None``."""

    def mark_pending(self, source_id: str, content_hash: str) -> None:
        """Record that a write of ``source_id`` is about to start."""

    def set_target(self, source_id: str, target_id: str | None) -> None:
        """Record (or clear) the target id the write created."""

    def add_step(self, source_id: str, step: str, detail: dict[str, Any]) -> None:
        """Record one acknowledged step of a multi-request write."""

    def mark_done(self, source_id: str, status: str, target_id: str, content_hash: str) -> None:
        """Record a complete write (``written`` or ``updated``)."""

    def mark_failed(self, source_id: str, error: str, field: str | None) -> None:
        """Record a failure with its reason; a pending row stays pending (it may have left a copy)."""

    def mark_clean_failure(self, source_id: str, error: str, field: str | None) -> None:
        """Record a failure after any copy in the target was removed."""

    def iter_done(self) -> Iterator[OrderState]:
        """Every complete row (the id map), in source-id order."""

    def iter_pending(self) -> Iterator[OrderState]:
        """Every row whose write was started and not finished."""

    def forget(self, source_id: str) -> None:
        """Drop a row (its target copy was removed: as if never migrated)."""

    def counts(self) -> dict[str, int]:
        """Number of rows per status."""

    def close(self) -> None:
        """Release the store."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
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
CREATE INDEX IF NOT EXISTS orders_status ON orders(status);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat()


class SQLiteStateStore:
    """The default state store: a SQLite file.

    WAL journal with ``synchronous=NORMAL``: every committed change survives
    the process being killed (SIGKILL included); only a power cut may lose the
    last commits. One connection guarded by a lock serves all worker threads:
    each operation is a single short transaction.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        with self._lock:
            self._db.execute(sql, params)

    def check_identity(self, source: str, target: str) -> None:
        """Bind this file to one source and one target; a mismatch is a configuration error."""
        with self._lock:
            rows = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
            if not rows:
                self._db.execute("BEGIN")
                self._db.execute("INSERT INTO meta VALUES ('source', ?), ('target', ?)", (source, target))
                self._db.execute("COMMIT")
                return
        if rows.get("source") != source or rows.get("target") != target:
            raise ConfigurationError(
                f"state file {self.path} belongs to a run from {rows.get('source')!r} to "
                f"{rows.get('target')!r}, not from {source!r} to {target!r}; use another state file"
            )

    def get(self, source_id: str) -> OrderState | None:
        """The row of ``source_id``, or ``None``."""
        with self._lock:
            row = self._db.execute(
                "SELECT source_id, status, target_id, content_hash, steps, error, error_field, attempts "
                "FROM orders WHERE source_id = ?",
                (source_id,),
            ).fetchone()
        return None if row is None else _row(row)

    def mark_pending(self, source_id: str, content_hash: str) -> None:
        """Record that a write is about to start (keeps a known target id for clean-up)."""
        self._write(
            "INSERT INTO orders (source_id, status, content_hash, attempts, changed_at) "
            "VALUES (?, ?, ?, 1, ?) "
            "ON CONFLICT(source_id) DO UPDATE SET status = excluded.status, "
            "content_hash = excluded.content_hash, attempts = orders.attempts + 1, "
            "error = NULL, error_field = NULL, changed_at = excluded.changed_at",
            (source_id, Status.PENDING, content_hash, _now()),
        )

    def set_target(self, source_id: str, target_id: str | None) -> None:
        """Record the target id a write created (``None`` once it was removed)."""
        self._write(
            "UPDATE orders SET target_id = ?, steps = '[]', changed_at = ? WHERE source_id = ?",
            (target_id, _now(), source_id),
        )

    def add_step(self, source_id: str, step: str, detail: dict[str, Any]) -> None:
        """Append one acknowledged step to the row's journal."""
        entry = json.dumps({"step": step, **detail}, default=str)
        self._write(
            "UPDATE orders SET steps = json_insert(steps, '$[#]', json(?)), changed_at = ? "
            "WHERE source_id = ?",
            (entry, _now(), source_id),
        )

    def mark_done(self, source_id: str, status: str, target_id: str, content_hash: str) -> None:
        """Record a complete write."""
        self._write(
            "INSERT INTO orders (source_id, status, target_id, content_hash, changed_at) "
            "VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(source_id) DO UPDATE SET status = excluded.status, target_id = excluded.target_id, "
            "content_hash = excluded.content_hash, error = NULL, error_field = NULL, "
            "changed_at = excluded.changed_at",
            (source_id, status, target_id, content_hash, _now()),
        )

    def mark_failed(self, source_id: str, error: str, field: str | None) -> None:
        """Record a failure with its reason.

        A ``pending`` row stays pending: its write may have left a copy in the
        target, which the next run removes before writing again. A complete
        row keeps its target id (a failed update leaves the old copy in place).
        """
        self._write(
            "INSERT INTO orders (source_id, status, error, error_field, changed_at) "
            "VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(source_id) DO UPDATE SET "
            "status = CASE WHEN orders.status = 'pending' THEN 'pending' ELSE excluded.status END, "
            "error = excluded.error, error_field = excluded.error_field, changed_at = excluded.changed_at",
            (source_id, Status.FAILED, error, field, _now()),
        )

    def mark_clean_failure(self, source_id: str, error: str, field: str | None) -> None:
        """Record a failure after the target was cleaned of any copy (the row is no longer pending)."""
        self._write(
            "UPDATE orders SET status = ?, target_id = NULL, error = ?, error_field = ?, changed_at = ? "
            "WHERE source_id = ?",
            (Status.FAILED, error, field, _now(), source_id),
        )

    def iter_done(self) -> Iterator[OrderState]:
        """Every complete row, in source-id order, fetched in batches."""
        last = ""
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT source_id, status, target_id, content_hash, steps, error, error_field, attempts "
                    "FROM orders WHERE status IN (?, ?) AND source_id > ? ORDER BY source_id LIMIT 500",
                    (Status.WRITTEN, Status.UPDATED, last),
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _row(row)
            last = rows[-1][0]

    def iter_pending(self) -> Iterator[OrderState]:
        """Every row whose write was started and not finished (read at once: a handful)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT source_id, status, target_id, content_hash, steps, error, error_field, attempts "
                "FROM orders WHERE status = ? ORDER BY source_id",
                (Status.PENDING,),
            ).fetchall()
        return iter([_row(row) for row in rows])

    def forget(self, source_id: str) -> None:
        """Drop a row."""
        self._write("DELETE FROM orders WHERE source_id = ?", (source_id,))

    def counts(self) -> dict[str, int]:
        """Number of rows per status."""
        with self._lock:
            return dict(self._db.execute("SELECT status, COUNT(*) FROM orders GROUP BY status").fetchall())

    def close(self) -> None:
        """Close the database (checkpointing the WAL)."""
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteStateStore({str(self.path)!r})"


def _row(row: tuple[Any, ...]) -> OrderState:
    return OrderState(
        source_id=row[0],
        status=row[1],
        target_id=row[2],
        content_hash=row[3],
        steps=tuple(json.loads(row[4] or "[]")),
        error=row[5],
        error_field=row[6],
        attempts=row[7],
    )
