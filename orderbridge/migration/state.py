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
implementation (one file, WAL mode, safe for many worker threads, held by one
run); :class:`~orderbridge.migration.state_postgres.PostgresStateStore` keeps
the same rows in PostgreSQL for many workers on one migration, each order
claimed by one of them (:meth:`StateStore.claim`). :func:`open_state_store`
opens either from a path or a ``postgresql://`` URL.

What must be durable, and when
------------------------------

A commit is the store's main cost (SQLite writes each changed page to the WAL),
so each one is there for a reason a kill would expose:

* **pending**, before the first write request of an order: without it a copy
  cut short by a kill, on a target without stamps, could not be told from the
  shop's own order with the same natural key (the row's time says "created
  since this write began"). Committed at once.
* **the target id**, the moment the target gives it (the backend's
  :class:`~orderbridge.WriteJournal` reports step ``order``) and before the
  backend's next request for that order: it makes the copy provably ours
  (finished in place, never duplicated, never mistaken for a conflict).
  Committed at once.
* **the outcome** (written, updated, adopted, conflict, failed) may be
  *deferred*: it rides in the next commit (the next order's pending mark, a
  target id), or goes out after :data:`OUTCOMES_PER_COMMIT` outcomes, at the
  end of the run and on close. A kill that loses it leaves what a kill a
  moment earlier would have left, which recovery already handles: a pending
  row with its time (and its id, where the target journals it) in a run that
  is not cleanly finished (its start is checkpointed into the main file), so
  the next run reads the target's ledger first and adopts the copy, complete,
  with no write. Where a create is one request, the copy's id comes with its
  outcome and may be lost with it, as a kill just after the answer always
  could: the copy is then found in the ledger by its stamp, or by natural key
  among the orders created since the pending mark. A lost "failed" or
  "conflict" is found again by the next run. Nothing is lost that the target
  does not say again; what must not be lost (pending, the id) never waits.

The other steps a backend journals (lines, payments, assets) are not stored:
an unfinished copy is finished by reading it from the target (the ledger) and
writing what it lacks, so they would be commits that recovery never reads.

A clean order therefore costs one commit (pending) when its create is a single
request, two (pending, target id) when the target journals its id; an adopted
order costs a fraction of one. Rows are small: statuses are small integers,
times integer microseconds, the content hash 32 raw bytes, the table keyed by
source id without a separate rowid (``WITHOUT ROWID``). There is no status
index (the queries on statuses run once per run, and scan). The index of
target ids, which would cost a page in every commit, is built by the first
:meth:`~SQLiteStateStore.source_of` of a file: only a run that settles against
the target's ledger asks which source order a target id belongs to (to adopt
a look-alike, or to recognise a copy after an ambiguous write), and such a run
pays for the index once, then keeps it. A file made by the previous schema
(``user_version`` 0: text columns, a ``steps`` column) is upgraded in place
when opened.
"""

from __future__ import annotations

import fcntl
import os
import re
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Protocol

from attrs import frozen

from orderbridge.errors import ConfigurationError

__all__ = [
    "DONE",
    "OUTCOMES_PER_COMMIT",
    "REBUILD_HINT",
    "SCHEMA_VERSION",
    "Claim",
    "ClaimLost",
    "OrderState",
    "SQLiteStateStore",
    "StateDamaged",
    "StateLocked",
    "StateMismatch",
    "StateStore",
    "StateUnavailable",
    "Status",
    "is_state_url",
    "literal_password",
    "now_text",
    "open_state_store",
    "redacted_location",
    "state_exists",
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


class Claim:
    """What :meth:`StateStore.claim` says about one order."""

    MINE: Final = "mine"
    """This worker may handle the order now (no other worker holds it)."""
    ELSEWHERE: Final = "elsewhere"
    """Another worker of the same migration holds the order, or handled it during this run: leave it."""
    RECOVER: Final = "recover"
    """The order is now this worker's, left pending by a worker that stopped while this one ran:
    settle it against a ledger read after that worker stopped (the engine does it at the end)."""


class StateLocked(ConfigurationError):
    """Another run holds the state file."""


class StateDamaged(ConfigurationError):
    """The state file cannot be read as a state file."""


class StateMismatch(ConfigurationError):
    """The state file belongs to a run between other endpoints."""


class StateUnavailable(ConfigurationError):
    """The state database cannot be reached (a shared state: PostgreSQL)."""


class ClaimLost(StateLocked):
    """Another worker of a shared state took this order over (this worker's lease ran out)."""


@frozen
class OrderState:
    """One source order's row in the store."""

    source_id: str
    status: str
    target_id: str | None = None
    content_hash: str | None = None
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

    def mark_pending(self, source_id: str, content_hash: str, target_id: str | None = None) -> str:
        """Record, durably, that a write of ``source_id`` is about to start (on the copy
        ``target_id`` when given; a known target id is kept otherwise); returns when it
        began (the row's ``changed_at``)."""

    def set_target(self, source_id: str, target_id: str | None) -> None:
        """Record (or clear) the target id of the row's copy, durably before it returns."""

    def mark_done(self, source_id: str, status: str, target_id: str, content_hash: str) -> None:
        """Record a complete copy (``written``, ``updated`` or ``adopted``); may be deferred
        until the next durable change, :meth:`end_run` or :meth:`close`."""

    def mark_conflict(self, source_id: str, message: str) -> None:
        """Record that the target holds another order under this order's natural key (may be deferred)."""

    def mark_failed(self, source_id: str, error: str, field: str | None) -> None:
        """Record a failure with its reason; a pending row stays pending (it may have left a copy).
        May be deferred, as :meth:`mark_done`."""

    def mark_clean_failure(self, source_id: str, error: str, field: str | None) -> None:
        """Record a failure that left nothing in the target (may be deferred, as :meth:`mark_done`)."""

    def claim(self, source_id: str) -> str:
        """Hold ``source_id`` for this worker before it is handled; a :class:`Claim` value.

        A store held by one run (SQLite) always answers :attr:`Claim.MINE`; a
        store shared by many workers (PostgreSQL) answers :attr:`Claim.ELSEWHERE`
        for an order another live worker holds or handled during this run."""

    def take_left_pending(self, before: str) -> tuple[list[OrderState], bool]:
        """The pending rows no live worker holds (of a shared store: now this worker's), left by
        earlier runs (changed before ``before``) or by stopped workers; and whether the ledger
        read at the start may miss their copies (a worker stopped while this one ran)."""

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


SCHEMA_VERSION: Final = 2
"""The layout of the ``orders`` table (SQLite's ``user_version``); 0 is the first one, upgraded on open."""

OUTCOMES_PER_COMMIT: Final = 256
"""Deferred outcome marks (done, failed, conflict) held in one transaction at most (a run of adoptions
commits once per this many orders; a kill loses at most these, which the next run's ledger read repeats)."""

_CODES: Final = {
    Status.WRITTEN: 0,
    Status.ADOPTED: 1,  # 0 and 1 take no bytes in a SQLite record: the two commonest outcomes
    Status.UPDATED: 2,
    Status.PENDING: 3,
    Status.FAILED: 4,
    Status.CONFLICT: 5,
}
_NAMES: Final = {code: name for name, code in _CODES.items()}
_DONE_CODES: Final = tuple(sorted(_CODES[name] for name in DONE))

_ORDERS = """
CREATE TABLE {name} (
    source_id    TEXT PRIMARY KEY,
    status       INTEGER NOT NULL,
    target_id    TEXT,
    content_hash BLOB,
    changed_at   INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    error_field  TEXT
) WITHOUT ROWID
"""
"""``status`` is a code of :data:`_CODES`; ``content_hash`` the raw SHA-256 (text if it is no hex
digest); ``changed_at`` microseconds since the Unix epoch, UTC."""

_STATUS_NAME = "CASE status " + " ".join(f"WHEN {c} THEN '{n}'" for c, n in _NAMES.items()) + " END"

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "DROP VIEW IF EXISTS order_rows",
    f"CREATE VIEW order_rows AS SELECT source_id, {_STATUS_NAME} AS status, target_id, "  # noqa: S608 - constants
    "CASE typeof(content_hash) WHEN 'blob' THEN lower(hex(content_hash)) ELSE content_hash END "
    "AS content_hash, strftime('%Y-%m-%dT%H:%M:%fZ', changed_at / 1000000.0, 'unixepoch') AS changed_at, "
    "attempts, error, error_field FROM orders",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)
"""Everything beside the ``orders`` table, run in the transaction that creates or upgrades it;
``order_rows`` shows the rows readably (``sqlite3 FILE 'SELECT * FROM order_rows'``)."""

_TARGET_INDEX: Final = (
    "CREATE INDEX IF NOT EXISTS orders_target ON orders(target_id) WHERE target_id IS NOT NULL"
)
"""Made by the first :meth:`SQLiteStateStore.source_of` of a file, not before (see the module)."""

_COLUMNS = "source_id, status, target_id, content_hash, changed_at, attempts, error, error_field"

REBUILD_HINT: Final = (
    "rebuild it from the target with `orderbridge state rebuild --config <run.toml>` "
    "(a new state file reads the target's orders and adopts what it already holds)"
)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


def now_text() -> str:
    """The current time as the store reports it (UTC ISO 8601, microseconds)."""
    return _time_text(_now_us())


def _now_us() -> int:
    return time.time_ns() // 1000


def _time_text(us: int) -> str:
    return (_EPOCH + timedelta(microseconds=us)).isoformat()


def _time_us(text: str) -> int:
    """Microseconds since the epoch of an ISO 8601 time (a naive one is UTC)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _hash_value(digest: str | None) -> bytes | str | None:
    """A SHA-256 hex digest as its 32 raw bytes (half the room); any other text as it is."""
    if digest is not None and _HEX_DIGEST.fullmatch(digest):
        return bytes.fromhex(digest)
    return digest


class SQLiteStateStore:
    """The default state store: a SQLite file, held by one run at a time.

    WAL journal with ``synchronous=NORMAL``: every committed change survives
    the process being killed (SIGKILL included); only a power cut may lose the
    last commits. Pending marks and target ids are committed before their
    method returns; outcomes are deferred into the next commit (see the module's
    "What must be durable, and when"). The start of a run is checkpointed into
    the main file, so a lost ``-wal`` file still shows an unfinished run (and
    the next run reads the target's ledger). One connection guarded by a lock
    serves all worker threads. :meth:`lock` takes an advisory lock on
    ``<file>.lock`` that the operating system releases when the process dies.
    """

    def __init__(self, path: str | Path, *, lock: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._lock_file: Any = None
        self._deferred = 0
        if lock:
            # Before the database is opened: a second run must be refused, not race the first
            # one's first open (switching a new file to WAL needs it to itself).
            self.lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            _prepare_schema(self._db, self.path)
            self._meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
            self._target_index = _has_index(self._db, "orders_target")
            self._db.execute(f"SELECT {_COLUMNS} FROM orders LIMIT 1").fetchall()  # noqa: S608 - constant column list
        except sqlite3.OperationalError as exc:
            self.unlock()
            if "locked" in str(exc) or "busy" in str(exc):
                raise StateLocked(f"state file {self.path} is in use by another process ({exc})") from None
            raise StateDamaged(f"state file {self.path} is damaged ({exc}); {REBUILD_HINT}") from None
        except sqlite3.DatabaseError as exc:
            self.unlock()
            raise StateDamaged(f"state file {self.path} is damaged ({exc}); {REBUILD_HINT}") from None
        except StateDamaged:
            self.unlock()
            raise
        self.is_new = not self._meta

    def _durable(self, sql: str, params: tuple[Any, ...]) -> None:
        """Run a change and commit it, with every deferred outcome before it."""
        with self._lock:
            self._db.execute(sql, params)
            self._commit()

    def _deferred_write(self, sql: str, params: tuple[Any, ...]) -> None:
        """Run a change inside the open transaction; it is committed with the next durable one."""
        with self._lock:
            if not self._db.in_transaction:
                self._db.execute("BEGIN")
            self._db.execute(sql, params)
            self._deferred += 1
            if self._deferred >= OUTCOMES_PER_COMMIT:
                self._commit()

    def _commit(self) -> None:
        """Commit the open transaction, if any (the caller holds ``self._lock``)."""
        if self._db.in_transaction:
            self._db.execute("COMMIT")
        self._deferred = 0

    def _set_meta(self, values: dict[str, str], *, durable: bool = False) -> None:
        with self._lock:
            if not self._db.in_transaction:
                self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(values.items()))
            self._commit()
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
                "SELECT 1 FROM orders WHERE status IN (?, ?) LIMIT 1",
                (_CODES[Status.PENDING], _CODES[Status.CONFLICT]),
            ).fetchone()
        return row is not None

    def begin_run(self) -> None:
        """Mark an unfinished run, checkpointed into the main file (survives a lost ``-wal``)."""
        self._set_meta({"clean": "0", "run_started": now_text()}, durable=True)

    def end_run(self, clean: bool) -> None:
        """Mark the run finished (``clean``: nothing left pending), with every deferred outcome."""
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
        """The source id whose row records ``target_id`` (the first call builds the index it needs)."""
        with self._lock:
            if not self._target_index:
                # Only runs that settle against the ledger ask: adoption and looking for a lost copy.
                self._db.execute(_TARGET_INDEX)
                self._target_index = True
            row = self._db.execute(
                "SELECT source_id FROM orders WHERE target_id = ? LIMIT 1", (target_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def mark_pending(self, source_id: str, content_hash: str, target_id: str | None = None) -> str:
        """Record, durably, that a write is about to start (on ``target_id``, else a known
        target id is kept); returns the time it records."""
        now = _now_us()
        self._durable(
            "INSERT INTO orders (source_id, status, target_id, content_hash, changed_at, attempts) "
            "VALUES (?, ?, ?, ?, ?, 1) "
            "ON CONFLICT(source_id) DO UPDATE SET status = excluded.status, "
            "target_id = coalesce(excluded.target_id, orders.target_id), "
            "content_hash = excluded.content_hash, attempts = orders.attempts + 1, "
            "error = NULL, error_field = NULL, changed_at = excluded.changed_at",
            (source_id, _CODES[Status.PENDING], target_id, _hash_value(content_hash), now),
        )
        return _time_text(now)

    def set_target(self, source_id: str, target_id: str | None) -> None:
        """Record the target id of the row's copy (``None`` once it is gone), durably."""
        self._durable(
            "UPDATE orders SET target_id = ?, changed_at = ? WHERE source_id = ?",
            (target_id, _now_us(), source_id),
        )

    def mark_done(self, source_id: str, status: str, target_id: str, content_hash: str) -> None:
        """Record a complete copy (deferred: committed with the next durable change)."""
        self._deferred_write(
            "INSERT INTO orders (source_id, status, target_id, content_hash, changed_at) "
            "VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(source_id) DO UPDATE SET status = excluded.status, target_id = excluded.target_id, "
            "content_hash = excluded.content_hash, error = NULL, error_field = NULL, "
            "changed_at = excluded.changed_at",
            (source_id, _CODES[status], target_id, _hash_value(content_hash), _now_us()),
        )

    def mark_conflict(self, source_id: str, message: str) -> None:
        """Record a conflict (no copy of ours in the target); deferred."""
        self._deferred_write(
            "INSERT INTO orders (source_id, status, error, changed_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(source_id) DO UPDATE SET status = excluded.status, target_id = NULL, "
            "error = excluded.error, error_field = NULL, changed_at = excluded.changed_at",
            (source_id, _CODES[Status.CONFLICT], message, _now_us()),
        )

    def mark_failed(self, source_id: str, error: str, field: str | None) -> None:
        """Record a failure with its reason; deferred.

        A ``pending`` row stays pending: its write may have left a copy in the
        target, which the next run finishes in place. A complete row keeps its
        status and target id (a failed update leaves the old copy in place).
        """
        kept = (_CODES[Status.PENDING], *(_CODES[name] for name in sorted(DONE)))
        self._deferred_write(
            "INSERT INTO orders (source_id, status, error, error_field, changed_at) "
            "VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(source_id) DO UPDATE SET "
            "status = CASE WHEN orders.status IN (?, ?, ?, ?) THEN orders.status ELSE excluded.status END, "
            "error = excluded.error, error_field = excluded.error_field, changed_at = excluded.changed_at",
            (source_id, _CODES[Status.FAILED], error, field, _now_us(), *kept),
        )

    def mark_clean_failure(self, source_id: str, error: str, field: str | None) -> None:
        """Record a failure that left no copy in the target (the row is no longer pending); deferred."""
        self._deferred_write(
            "INSERT INTO orders (source_id, status, error, error_field, changed_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(source_id) DO UPDATE SET status = excluded.status, target_id = NULL, "
            "error = excluded.error, error_field = excluded.error_field, changed_at = excluded.changed_at",
            (source_id, _CODES[Status.FAILED], error, field, _now_us()),
        )

    def iter_done(self) -> Iterator[OrderState]:
        """Every complete row, in source-id order, fetched in batches."""
        marks = ", ".join("?" * len(_DONE_CODES))
        last = ""
        while True:
            with self._lock:
                rows = self._db.execute(
                    f"SELECT {_COLUMNS} FROM orders WHERE status IN ({marks}) AND source_id > ? "  # noqa: S608 - constant column list
                    "ORDER BY source_id LIMIT 500",
                    (*_DONE_CODES, last),
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _row(row)
            last = rows[-1][0]

    def iter_pending(self, before: str | None = None) -> Iterator[OrderState]:
        """Every pending row (last changed before ``before``, when given); read at once: a handful."""
        limit = _time_us(before) if before is not None else 2**63 - 1
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM orders WHERE status = ? AND changed_at < ? ORDER BY source_id",  # noqa: S608 - constant column list
                (_CODES[Status.PENDING], limit),
            ).fetchall()
        return iter([_row(row) for row in rows])

    def claim(self, source_id: str) -> str:
        """Always :attr:`Claim.MINE`: the run lock already makes every order this run's."""
        return Claim.MINE

    def take_left_pending(self, before: str) -> tuple[list[OrderState], bool]:
        """The rows an earlier (killed) run left pending; the run's ledger, read after the kill, sees
        their copies."""
        return list(self.iter_pending(before=before)), False

    def forget(self, source_id: str) -> None:
        """Drop a row (durably)."""
        self._durable("DELETE FROM orders WHERE source_id = ?", (source_id,))

    def counts(self) -> dict[str, int]:
        """Number of rows per status."""
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM orders GROUP BY status").fetchall()
        return {_NAMES.get(code, str(code)): count for code, count in rows}

    def close(self) -> None:
        """Commit the deferred outcomes, close the database (checkpointing the WAL), release the run lock."""
        with self._lock:
            self._commit()
            self._db.close()
        self.unlock()

    def __repr__(self) -> str:
        return f"SQLiteStateStore({str(self.path)!r})"


# ------------------------------------------------------------ schema and its upgrade


def _prepare_schema(db: sqlite3.Connection, path: Path) -> None:
    """Create the schema of a new file, upgrade one of schema 0 in place, refuse one from a newer version."""
    if _schema_version(db, path) == SCHEMA_VERSION:
        return  # read without a write lock: a reader may open the file while a run holds it
    db.execute("BEGIN IMMEDIATE")
    upgraded = False
    try:
        if _schema_version(db, path) < SCHEMA_VERSION:  # again: another process may have won the race
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            upgraded = "orders" in tables
            if upgraded:
                _upgrade_from_schema_0(db, path)
            else:
                db.execute(_ORDERS.format(name="orders"))
            for statement in _SCHEMA:
                db.execute(statement)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    if upgraded:
        db.execute("VACUUM")  # give back the pages of the old table


def _has_index(db: sqlite3.Connection, name: str) -> bool:
    found = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)).fetchone()
    return found is not None


def _schema_version(db: sqlite3.Connection, path: Path) -> int:
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise StateDamaged(
            f"state file {path} was made by a newer orderbridge (schema {version}); "
            f"upgrade orderbridge, or {REBUILD_HINT}"
        )
    return version


_SCHEMA_0_COLUMNS: Final = (
    "source_id, status, target_id, content_hash, steps, error, error_field, attempts, changed_at"
)


def _upgrade_from_schema_0(db: sqlite3.Connection, path: Path) -> None:
    """Copy the rows of the first schema (text statuses and times, hex hashes, journal steps) into
    the current one, inside the caller's transaction; the journal steps are dropped (see the module)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(orders)")}
    if not set(_SCHEMA_0_COLUMNS.split(", ")) <= columns:
        raise StateDamaged(
            f"state file {path} is damaged (unknown columns {sorted(columns)}); {REBUILD_HINT}"
        )
    db.execute(_ORDERS.format(name="orders_upgraded"))
    last = ""
    while True:
        rows = db.execute(
            f"SELECT {_SCHEMA_0_COLUMNS} FROM orders WHERE source_id > ? ORDER BY source_id LIMIT 1000",  # noqa: S608 - constant column list
            (last,),
        ).fetchall()
        if not rows:
            break
        db.executemany(
            f"INSERT INTO orders_upgraded ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 - constant column list
            [_schema_0_row(row, path) for row in rows],
        )
        last = rows[-1][0]
    db.execute("DROP TABLE orders")  # its indexes go with it
    db.execute("ALTER TABLE orders_upgraded RENAME TO orders")


def _schema_0_row(row: tuple[Any, ...], path: Path) -> tuple[Any, ...]:
    source_id, status, target_id, digest, _steps, error, error_field, attempts, changed_at = row
    if status not in _CODES:
        raise StateDamaged(f"state file {path} is damaged (status {status!r}); {REBUILD_HINT}")
    try:
        changed = _time_us(changed_at)
    except (TypeError, ValueError):
        # Not "long ago": a pending row would then claim any older look-alike as its copy.
        changed = _now_us()
    return (source_id, _CODES[status], target_id, _hash_value(digest), changed, attempts, error, error_field)


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
    digest = row[3]
    return OrderState(
        source_id=row[0],
        status=_NAMES.get(row[1], str(row[1])),
        target_id=row[2],
        content_hash=digest.hex() if isinstance(digest, bytes) else digest,
        changed_at=_time_text(row[4]),
        attempts=row[5],
        error=row[6],
        error_field=row[7],
    )


# ------------------------------------------------------------ where a state lives

_URL_SCHEMES: Final = ("postgresql://", "postgres://")


def is_state_url(location: object) -> bool:
    """Whether ``location`` names a PostgreSQL state (``postgresql://...``) rather than a file."""
    return isinstance(location, str) and location.startswith(_URL_SCHEMES)


def redacted_location(location: str | Path) -> str:
    """``location`` as it may be shown: a state URL without its password."""
    if not is_state_url(location):
        return str(location)
    from orderbridge.migration.state_postgres import StateURL

    return StateURL.parse(str(location), check_environ=False).display


def literal_password(location: str | Path) -> bool:
    """Whether a state URL holds its password written out (a secret to take from the environment)."""
    if not is_state_url(location):
        return False
    from orderbridge.migration.state_postgres import StateURL

    return StateURL.parse(str(location), environ={}, check_environ=False).literal_password


def state_exists(location: str | Path) -> bool:
    """Whether a state is there: the file exists, or the database holds the URL's migration."""
    if not is_state_url(location):
        return Path(location).exists()
    store: Any = open_state_store(location)
    try:
        return not store.is_new
    finally:
        store.close()


def open_state_store(location: str | Path, *, lock: bool = False) -> StateStore:
    """The state store at ``location``: a SQLite file (a path), or a migration in a PostgreSQL
    database (``postgresql://user@host/db?migration=ID``; psycopg is imported only then)."""
    if is_state_url(location):
        from orderbridge.migration.state_postgres import PostgresStateStore

        return PostgresStateStore(str(location), lock=lock)
    return SQLiteStateStore(location, lock=lock)
