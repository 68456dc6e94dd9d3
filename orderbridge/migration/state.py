"""The state store: a cache of what the target's ledger says, durable across kills.

It records, per source order: the target id of its copy, its outcome
(``pending``, ``written``, ``updated``, ``adopted``, ``conflict``, ``failed``)
and the content hash of the source order as migrated. A row goes ``pending``
*before* the first write request is sent and gets the copy's id the moment the
target gives it, so a run killed at any moment leaves evidence of a copy.

A store is held by one run at a time (:meth:`SQLiteStateStore.lock`), bound to
one source and one target endpoint, and says when it cannot be trusted alone
(:meth:`~SQLiteStateStore.needs_ledger`: new, not cleanly finished, pending or
conflict rows); the engine then reads the target's ledger first. Losing the
store therefore costs one read of the target, never a duplicate.

:class:`StateStore` is the interface; :class:`SQLiteStateStore` the default
implementation (one file, WAL mode, safe for many worker threads). Another SQL
database can stand in by implementing the same few methods.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol

from attrs import frozen

from orderbridge.errors import ConfigurationError

__all__ = [
    "DONE",
    "REBUILD_HINT",
    "OrderState",
    "SQLiteStateStore",
    "StateDamaged",
    "StateLocked",
    "StateMismatch",
    "StateStore",
    "Status",
    "now_text",
]


class Status:
    """Outcome names stored per order."""

    PENDING: Final = "pending"
    """A write was started; the target may hold a partial copy."""
    WRITTEN: Final = "written"
    UPDATED: Final = "updated"
    ADOPTED: Final = "adopted"
    """The target already held a complete copy (found in its ledger); nothing was written."""
    CONFLICT: Final = "conflict"
    """The target holds an order with this order's natural key that orderbridge did not
    write and that differs: left alone, reported, never overwritten or duplicated."""
    FAILED: Final = "failed"


DONE: Final = frozenset({Status.WRITTEN, Status.UPDATED, Status.ADOPTED})
"""Outcomes meaning the target holds a complete copy."""


class StateLocked(ConfigurationError):
    """Another run holds the state file."""


class StateDamaged(ConfigurationError):
    """The state file cannot be read as a state file."""


class StateMismatch(ConfigurationError):
    """The state file belongs to a run between other endpoints."""


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
    changed_at: str | None = None
    """When the row last changed (UTC ISO 8601): a pending row's write began then."""


class StateStore(Protocol):
    """What the engine needs from a state store: a cache of what the target's ledger says."""

    def lock(self) -> None:
        """Hold the store for this run; :class:`StateLocked` naming the holder if another run has it."""

    def unlock(self) -> None:
        """Let another run have the store."""

    def bind(self, source: str, target: str) -> None:
        """Bind the store to one source and one target endpoint; :class:`StateMismatch` for others."""

    def needs_ledger(self) -> bool:
        """Whether the store cannot be trusted alone: new, not cleanly finished, pending or conflict rows."""

    def begin_run(self) -> None:
        """Mark the store as in use by an unfinished run (durably, before any write)."""

    def end_run(self, clean: bool) -> None:
        """Mark the run finished; ``clean`` when no row is left pending."""

    def get(self, source_id: str) -> OrderState | None:
        """The row of ``source_id``, or ``None``."""

    def source_of(self, target_id: str) -> str | None:
        """The source id whose row records ``target_id``, or ``None``."""

    def mark_pending(self, source_id: str, content_hash: str) -> None:
        """Record that a write of ``source_id`` is about to start."""

    def set_target(self, source_id: str, target_id: str | None) -> None:
        """Record (or clear) the target id of the row's copy."""

    def mark_done(self, source_id: str, status: str, target_id: str, content_hash: str) -> None:
        """Record a complete copy (``written``, ``updated`` or ``adopted``)."""

    def mark_conflict(self, source_id: str, message: str) -> None:
        """Record that the target holds another order under this order's natural key."""

    def mark_failed(self, source_id: str, error: str, field: str | None) -> None:
        """Record a failure with its reason; a pending row stays pending (it may have left a copy)."""

    def mark_clean_failure(self, source_id: str, error: str, field: str | None) -> None:
        """Record a failure that left nothing in the target."""

    def iter_done(self) -> Iterator[OrderState]:
        """Every complete row (the id map), in source-id order."""

    def iter_pending(self, before: str | None = None) -> Iterator[OrderState]:
        """Every row whose write was started and not finished (last changed before ``before``)."""

    def forget(self, source_id: str) -> None:
        """Drop a row."""

    def counts(self) -> dict[str, int]:
        """Number of rows per status."""

    def close(self) -> None:
        """Release the store (and its lock)."""


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
CREATE INDEX IF NOT EXISTS orders_target ON orders(target_id);
"""

_COLUMNS = "source_id, status, target_id, content_hash, steps, error, error_field, attempts, changed_at"

REBUILD_HINT: Final = (
    "rebuild it from the target with `orderbridge state rebuild --config <run.toml>` "
    "(a new state file reads the target's orders and adopts what it already holds)"
)


def now_text() -> str:
    """The current time as the store writes it (UTC ISO 8601)."""
    return datetime.now(UTC).isoformat()


class SQLiteStateStore:
    """The default state store: a SQLite file, held by one run at a time.

    WAL journal with ``synchronous=NORMAL``: every committed change survives
    the process being killed (SIGKILL included); only a power cut may lose the
    last commits. The start of a run is checkpointed into the main file, so a
    lost ``-wal`` file still shows an unfinished run (and the next run reads
    the target's ledger). One connection guarded by a lock serves all worker
    threads. :meth:`lock` takes an advisory lock on ``<file>.lock`` that the
    operating system releases when the process dies.
    """

    def __init__(self, path: str | Path, *, lock: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._lock_file: Any = None
        if lock:
            # Before the database is opened: a second run must be refused, not race the first
            # one's first open (switching a new file to WAL needs it to itself).
            self.lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
            self._meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
            self._db.execute(f"SELECT {_COLUMNS} FROM orders LIMIT 1").fetchall()  # noqa: S608 - constant column list
        except sqlite3.OperationalError as exc:
            self.unlock()
            if "locked" in str(exc) or "busy" in str(exc):
                raise StateLocked(f"state file {self.path} is in use by another process ({exc})") from None
            raise StateDamaged(f"state file {self.path} is damaged ({exc}); {REBUILD_HINT}") from None
        except sqlite3.DatabaseError as exc:
            self.unlock()
            raise StateDamaged(f"state file {self.path} is damaged ({exc}); {REBUILD_HINT}") from None
        self.is_new = not self._meta

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        with self._lock:
            self._db.execute(sql, params)

    def _set_meta(self, values: dict[str, str], *, durable: bool = False) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(values.items()))
            self._db.execute("COMMIT")
            if durable:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._meta.update(values)

    # ------------------------------------------------------------ one run at a time

    def lock(self) -> None:
        """Take the run lock (``<file>.lock``); :class:`StateLocked` naming its holder otherwise."""
        if self._lock_file is not None:
            return
        lock_path = self.path.with_name(self.path.name + ".lock")
        handle = open(lock_path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _holder(handle)
            handle.close()
            raise StateLocked(
                f"state file {self.path} is in use by {holder}; wait for that run to end"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {now_text()}\n")
        handle.flush()
        self._lock_file = handle

    def unlock(self) -> None:
        """Release the run lock."""
        if self._lock_file is not None:
            self._lock_file.close()  # closing the descriptor releases the flock
            self._lock_file = None

    def bind(self, source: str, target: str) -> None:
        """Record the endpoints of a new store; refuse a store made for other endpoints."""
        if not self._meta:
            self._set_meta({"source": source, "target": target})
            return
        if self._meta.get("source") != source or self._meta.get("target") != target:
            raise StateMismatch(
                f"state file {self.path} belongs to a run from {self._meta.get('source')!r} to "
                f"{self._meta.get('target')!r}, not from {source!r} to {target!r}; use another state file"
            )

    def needs_ledger(self) -> bool:
        """New, not cleanly finished, or holding pending or conflict rows."""
        if self.is_new or self._meta.get("clean") != "1":
            return True
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM orders WHERE status IN (?, ?) LIMIT 1", (Status.PENDING, Status.CONFLICT)
            ).fetchone()
        return row is not None

    def begin_run(self) -> None:
        """Mark an unfinished run, checkpointed into the main file (survives a lost ``-wal``)."""
        self._set_meta({"clean": "0", "run_started": now_text()}, durable=True)

    def end_run(self, clean: bool) -> None:
        """Mark the run finished (``clean``: nothing left pending)."""
        self._set_meta({"clean": "1" if clean else "0", "run_finished": now_text()}, durable=True)

    # ------------------------------------------------------------ rows

    def get(self, source_id: str) -> OrderState | None:
        """The row of ``source_id``, or ``None``."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM orders WHERE source_id = ?",  # noqa: S608 - constant columns
                (source_id,),
            ).fetchone()
        return None if row is None else _row(row)

    def source_of(self, target_id: str) -> str | None:
        """The source id whose row records ``target_id``."""
        with self._lock:
            row = self._db.execute(
                "SELECT source_id FROM orders WHERE target_id = ? LIMIT 1", (target_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def mark_pending(self, source_id: str, content_hash: str) -> None:
        """Record that a write is about to start (keeps a known target id)."""
        self._write(
            "INSERT INTO orders (source_id, status, content_hash, attempts, changed_at) "
            "VALUES (?, ?, ?, 1, ?) "
            "ON CONFLICT(source_id) DO UPDATE SET status = excluded.status, "
            "content_hash = excluded.content_hash, attempts = orders.attempts + 1, "
            "error = NULL, error_field = NULL, changed_at = excluded.changed_at",
            (source_id, Status.PENDING, content_hash, now_text()),
        )

    def set_target(self, source_id: str, target_id: str | None) -> None:
        """Record the target id of the row's copy (``None`` once it is gone)."""
        self._write(
            "UPDATE orders SET target_id = ?, changed_at = ? WHERE source_id = ?",
            (target_id, now_text(), source_id),
        )

    def mark_done(self, source_id: str, status: str, target_id: str, content_hash: str) -> None:
        """Record a complete copy."""
        self._write(
            "INSERT INTO orders (source_id, status, target_id, content_hash, changed_at) "
            "VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(source_id) DO UPDATE SET status = excluded.status, target_id = excluded.target_id, "
            "content_hash = excluded.content_hash, steps = '[]', error = NULL, error_field = NULL, "
            "changed_at = excluded.changed_at",
            (source_id, status, target_id, content_hash, now_text()),
        )

    def mark_conflict(self, source_id: str, message: str) -> None:
        """Record a conflict (no copy of ours in the target)."""
        self._write(
            "INSERT INTO orders (source_id, status, error, changed_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(source_id) DO UPDATE SET status = excluded.status, target_id = NULL, "
            "error = excluded.error, error_field = NULL, changed_at = excluded.changed_at",
            (source_id, Status.CONFLICT, message, now_text()),
        )

    def mark_failed(self, source_id: str, error: str, field: str | None) -> None:
        """Record a failure with its reason.

        A ``pending`` row stays pending: its write may have left a copy in the
        target, which the next run finishes in place. A complete row keeps its
        status and target id (a failed update leaves the old copy in place).
        """
        self._write(
            "INSERT INTO orders (source_id, status, error, error_field, changed_at) "
            "VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(source_id) DO UPDATE SET "
            "status = CASE WHEN orders.status IN ('pending', 'written', 'updated', 'adopted') "
            "THEN orders.status ELSE excluded.status END, "
            "error = excluded.error, error_field = excluded.error_field, changed_at = excluded.changed_at",
            (source_id, Status.FAILED, error, field, now_text()),
        )

    def mark_clean_failure(self, source_id: str, error: str, field: str | None) -> None:
        """Record a failure that left no copy in the target (the row is no longer pending)."""
        self._write(
            "INSERT INTO orders (source_id, status, error, error_field, changed_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(source_id) DO UPDATE SET status = excluded.status, target_id = NULL, "
            "error = excluded.error, error_field = excluded.error_field, changed_at = excluded.changed_at",
            (source_id, Status.FAILED, error, field, now_text()),
        )

    def iter_done(self) -> Iterator[OrderState]:
        """Every complete row, in source-id order, fetched in batches."""
        last = ""
        while True:
            with self._lock:
                rows = self._db.execute(
                    f"SELECT {_COLUMNS} FROM orders WHERE status IN (?, ?, ?) AND source_id > ? "  # noqa: S608 - constant column list
                    "ORDER BY source_id LIMIT 500",
                    (*sorted(DONE), last),
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _row(row)
            last = rows[-1][0]

    def iter_pending(self, before: str | None = None) -> Iterator[OrderState]:
        """Every pending row (last changed before ``before``, when given); read at once: a handful."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM orders WHERE status = ? AND changed_at < ? ORDER BY source_id",  # noqa: S608 - constant column list
                (Status.PENDING, before or "~"),
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
        """Close the database (checkpointing the WAL) and release the run lock."""
        with self._lock:
            self._db.close()
        self.unlock()

    def __repr__(self) -> str:
        return f"SQLiteStateStore({str(self.path)!r})"


def _holder(handle: Any) -> str:
    """Who holds the lock, as its holder wrote it (just after taking it: the text may be a
    moment late, or still a dead holder's, so that is waited out briefly)."""
    for _ in range(20):
        handle.seek(0)
        text = str(handle.read()).strip()
        if text and not _written_by_the_dead(text):
            return text
        time.sleep(0.05)
    return "another process"


def _written_by_the_dead(text: str) -> bool:
    parts = text.split()
    if len(parts) < 4 or parts[0] != "pid" or not parts[1].isdigit() or parts[3] != socket.gethostname():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


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
        changed_at=row[8],
    )
