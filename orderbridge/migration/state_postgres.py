"""The PostgreSQL state store: many migrations in one database, many workers on one migration.

``state = "postgresql://user@host/db?migration=shop-42"`` stands wherever a
state file does. It keeps what :class:`~orderbridge.migration.state.SQLiteStateStore`
keeps (the same rows, the same "what must be durable, and when") and lets
several processes, on several machines, work on ONE migration at once. This
module is imported only for such a state, so ``import orderbridge`` never needs
psycopg (``pip install "orderbridge[postgresql]"``).

Tables (created on first use, in the connection's schema):

``orderbridge_migrations``
    one row per migration id: its source and target endpoints (the binding:
    another pair is :class:`~orderbridge.migration.state.StateMismatch`),
    whether its last run finished cleanly, when runs started and finished.
``orderbridge_orders``
    one row per (migration id, source id): status, target id, content hash,
    time, attempts, error, as in SQLite, and ``owner``: the worker that holds
    (or last held) the order. Status 6 (``claimed``) marks a row that exists
    only to hold a claim: no write began; it reads as no row at all.
``orderbridge_workers``
    one row per worker process: who (pid and host), since when, and the
    lease: ``expires_at``, which a heartbeat thread pushes forward every
    third of the lease while the process lives. A killed process stops
    pushing it; a process that ends sets it to now.

Claims and leases
-----------------

Before an order is handled, :meth:`PostgresStateStore.claim` takes it: a new
order by inserting its claim row (the primary key decides between two workers);
a known one under a row lock (``SELECT ... FOR UPDATE SKIP LOCKED``: a row
another worker is claiming at that instant is its, not waited for). The order
is this worker's when the row has no owner, is its own, or its owner's lease
expired before this worker joined. It is *elsewhere* while its owner's lease
runs, or when a worker that ran alongside this one handled it. A pending row
whose owner stopped while this worker ran is taken too, but settled at the
end (:attr:`~orderbridge.migration.state.Claim.RECOVER`): the ledger this
worker read at its start may miss the copy that owner wrote after it, so the
engine reads the target's ledger again first, and adopts or finishes the copy
as it does for a killed run's pending row: never a second write.

At the end of its run a worker waits (up to three leases) while other live
workers hold unfinished orders, then takes every pending row whose owner's
lease has expired, and every order a worker that stopped while this one ran
had claimed without beginning its write (this worker may have passed it as
held elsewhere) (:meth:`PostgresStateStore.take_left_pending`). A worker whose
own lease ran out (the heartbeat found it expired: the process was paused
or cut off) claims nothing more and begins no write: the owner column fences
it, and a pending mark on a row another worker took is refused
(:class:`ClaimLost`).

The run lock of a SQLite file is, here, per migration: workers of the same
migration (same endpoints) join it; a run between other endpoints is refused
by the binding. Times of rows are this machine's clock (as in SQLite); leases
are the database's clock, so machines need not agree on the time.

Durability: pending marks and target ids are committed synchronously;
claims and outcomes asynchronously (``synchronous_commit = off``): a killed
worker loses none of them (the server has them), a crash of the database
server may lose the last outcomes, which leaves pending rows the next run
settles against the ledger, as a lost deferred outcome does in SQLite; the
next synchronous commit flushes every earlier one.

The password comes from the environment (``PGPASSWORD``, ``~/.pgpass``,
libpq's own rules) or a variable the URL names (``?password_env=VAR``, which
``[run] state_password_env`` writes); it never appears in a repr, a log line,
an exception or a report (:attr:`StateURL.display`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import attrs
import psycopg
from attrs import field, frozen

from orderbridge.errors import ConfigurationError
from orderbridge.migration.state import (
    _CODES,
    _COLUMNS,
    _DONE_CODES,
    _NAMES,
    DONE,
    OUTCOMES_PER_COMMIT,
    REBUILD_HINT,
    Claim,
    ClaimLost,
    OrderState,
    StateDamaged,
    StateLocked,
    StateMismatch,
    StateUnavailable,
    Status,
    _now_us,
    _row,
    _time_text,
    _time_us,
    now_text,
)

__all__ = ["DEFAULT_LEASE_SECONDS", "DEFAULT_MIGRATION", "SCHEMA_VERSION", "PostgresStateStore", "StateURL"]

log = logging.getLogger("orderbridge.migration")

SCHEMA_VERSION: Final = 1
"""The layout of the ``orderbridge_*`` tables (``orderbridge_schema.version``)."""

DEFAULT_MIGRATION: Final = "default"
"""The migration id of a state URL that names none (``?migration=`` or ``[run] migration``)."""

DEFAULT_LEASE_SECONDS: Final = 30.0
"""How long a worker's claims outlive its last heartbeat (``?lease_seconds=`` in the URL)."""

_CLAIMED: Final = 6
"""Status of a row that only holds a claim (no write began)."""

_OUR_KEYS: Final = ("migration", "lease_seconds", "password_env")
"""Query keys of a state URL that orderbridge reads (the others go to libpq)."""

_SCHEMA_LOCK: Final = 0x6F62_7374  # "obst": serialises creating the tables between processes

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS orderbridge_schema (version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS orderbridge_migrations (
        migration_id TEXT PRIMARY KEY,
        source       TEXT NOT NULL,
        target       TEXT NOT NULL,
        clean        BOOLEAN NOT NULL DEFAULT FALSE,
        run_started  TEXT,
        run_finished TEXT,
        created_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
    )""",
    """CREATE TABLE IF NOT EXISTS orderbridge_workers (
        migration_id TEXT NOT NULL,
        worker_id    TEXT NOT NULL,
        holder       TEXT NOT NULL,
        started_at   TIMESTAMPTZ NOT NULL,
        expires_at   TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (migration_id, worker_id)
    )""",
    """CREATE TABLE IF NOT EXISTS orderbridge_orders (
        migration_id TEXT NOT NULL,
        source_id    TEXT NOT NULL,
        status       SMALLINT NOT NULL,
        target_id    TEXT,
        content_hash TEXT,
        changed_at   BIGINT NOT NULL,
        attempts     INTEGER NOT NULL DEFAULT 0,
        error        TEXT,
        error_field  TEXT,
        owner        TEXT,
        PRIMARY KEY (migration_id, source_id)
    )""",
    "CREATE INDEX IF NOT EXISTS orderbridge_orders_target ON orderbridge_orders (migration_id, target_id) "
    "WHERE target_id IS NOT NULL",
    f"CREATE INDEX IF NOT EXISTS orderbridge_orders_pending ON orderbridge_orders (migration_id, owner) "
    f"WHERE status = {_CODES[Status.PENDING]}",
)

_OWNER_JOIN: Final = (
    "LEFT JOIN orderbridge_workers w ON w.migration_id = o.migration_id AND w.worker_id = o.owner"
)


@frozen
class StateURL:
    """A ``postgresql://`` state location, parsed: what libpq gets, the migration id, the lease.

    ``display`` is the URL as it may be shown (no password, ever); ``literal_password``
    says the URL itself held one (a secret written down: warned about like the others).
    """

    conninfo: str = field(repr=False)
    password: str | None = field(repr=False)
    migration: str
    lease_seconds: float
    display: str
    literal_password: bool = False

    @classmethod
    def parse(
        cls, url: str, *, environ: Mapping[str, str] | None = None, check_environ: bool = True
    ) -> StateURL:
        """Read ``url``; :class:`~orderbridge.ConfigurationError` naming what is wrong (never the password).

        ``password_env=VAR`` takes the password from ``environ`` (the process's by default):
        an error when it is not set, unless ``check_environ`` is false (the URL is only shown).
        """
        environ = os.environ if environ is None else environ
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        ours = {k: v for k, v in query if k in _OUR_KEYS}
        rest = [(k, v) for k, v in query if k not in _OUR_KEYS and k != "password"]
        userinfo, at, hostport = parts.netloc.rpartition("@")
        user, colon, secret = userinfo.partition(":")
        password = unquote(secret) if colon else None
        password = next((v for k, v in query if k == "password"), password)
        literal = password is not None
        netloc = f"{user}{at}{hostport}"
        shown = urlunsplit((parts.scheme, netloc, parts.path, urlencode(rest, safe="/"), ""))
        migration = ours.get("migration") or DEFAULT_MIGRATION
        display = f"{shown}{'&' if rest else '?'}migration={migration}"
        variable = ours.get("password_env")
        if variable and (check_environ or variable in environ):
            if variable not in environ:
                raise ConfigurationError(
                    f"state {display}: the environment variable {variable} (its password) is not set"
                )
            password = environ[variable]
        return cls(
            conninfo=shown,
            password=password,
            migration=migration,
            lease_seconds=_lease(ours.get("lease_seconds"), display),
            display=display,
            literal_password=literal,
        )


def _lease(text: str | None, display: str) -> float:
    if text is None:
        return DEFAULT_LEASE_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ConfigurationError(f"state {display}: lease_seconds must be a number above 0, not {text!r}")
    return value


class PostgresStateStore:
    """A state store in PostgreSQL, keyed by migration id, shared by the workers of a migration.

    The same methods as :class:`~orderbridge.migration.state.SQLiteStateStore`
    (see :class:`~orderbridge.migration.state.StateStore`), plus claims: see
    the module. One connection guarded by a lock serves the run's worker
    threads; the heartbeat has its own.
    """

    def __init__(self, url: str, *, lock: bool = False, environ: Mapping[str, str] | None = None) -> None:
        self.url = StateURL.parse(url, environ=environ)
        self.migration = self.url.migration
        self._lock = threading.Lock()
        self._worker: str | None = None
        self._joined: datetime | None = None
        self._lost = threading.Event()
        self._stop_beat = threading.Event()
        self._beat: threading.Thread | None = None
        self._db = self._connect()
        try:
            _prepare_schema(self._db, self.url.display)
            self._db.execute("SET synchronous_commit TO off")  # outcomes and claims; see the module
            self.is_new = self._binding() is None
            if lock:
                self.lock()
        except BaseException:
            self._db.close()
            raise

    @property
    def path(self) -> str:
        """Where the state is, as it may be shown (the report's ``state_path``)."""
        return self.url.display

    def __repr__(self) -> str:
        return f"PostgresStateStore({self.url.display!r})"

    # ------------------------------------------------------------ connection

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(
                self.url.conninfo,
                password=self.url.password,
                autocommit=True,
                connect_timeout=10,
                application_name="orderbridge",
            )
        except psycopg.Error as exc:
            raise StateUnavailable(
                f"state {self.url.display} cannot be reached: {self._scrub(exc)}"
            ) from None

    def _scrub(self, exc: BaseException) -> str:
        """An error's text, one line, without the password (libpq does not print it; never trust that)."""
        text = " ".join(str(exc).split())
        if self.url.password:
            text = text.replace(self.url.password, "***")
        return text

    def _run(self, sql: str, params: tuple[Any, ...] = (), *, durable: bool = False) -> list[tuple[Any, ...]]:
        """One statement in its own transaction (committed synchronously when ``durable``); its rows."""
        with self._lock, self._db.transaction():
            if durable:
                self._db.execute("SET LOCAL synchronous_commit TO on")
            cursor = self._db.execute(sql, params)  # constant SQL
            return cursor.fetchall() if cursor.description is not None else []

    def _binding(self) -> tuple[str, str, bool] | None:
        rows = self._run(
            "SELECT source, target, clean FROM orderbridge_migrations WHERE migration_id = %s",
            (self.migration,),
        )
        return (rows[0][0], rows[0][1], rows[0][2]) if rows else None

    # ------------------------------------------------------------ workers of one migration

    def lock(self) -> None:
        """Join the migration as a worker: register, then keep the lease alive from a heartbeat thread."""
        if self._worker is not None:
            return
        worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        holder = f"pid {os.getpid()} on {socket.gethostname()} since {now_text()}"
        rows = self._run(
            "INSERT INTO orderbridge_workers (migration_id, worker_id, holder, started_at, expires_at) "
            "VALUES (%s, %s, %s, clock_timestamp(), clock_timestamp() + make_interval(secs => %s)) "
            "RETURNING started_at",
            (self.migration, worker, holder, self.url.lease_seconds),
            durable=True,
        )
        self._worker, self._joined = worker, rows[0][0]
        self._lost.clear()
        self._stop_beat.clear()
        self._beat = threading.Thread(target=self._heartbeat, name="orderbridge-lease", daemon=True)
        self._beat.start()

    def unlock(self) -> None:
        """Leave the migration: stop the heartbeat and end the lease now (this worker's orders are free)."""
        if self._worker is None:
            return
        self._stop_beat.set()
        if self._beat is not None:
            self._beat.join()
            self._beat = None
        try:
            self._run(
                "UPDATE orderbridge_workers SET expires_at = clock_timestamp() "
                "WHERE migration_id = %s AND worker_id = %s",
                (self.migration, self._worker),
                durable=True,
            )
        except psycopg.Error as exc:
            log.warning("state %s: could not end the lease (%s)", self.url.display, self._scrub(exc))
        self._worker = None

    def _heartbeat(self) -> None:
        """Push the lease forward every third of it; a lease found expired is lost for good."""
        db: psycopg.Connection[Any] | None = None
        interval = self.url.lease_seconds / 3
        while not self._stop_beat.wait(interval):
            try:
                db = db or self._connect()
                row = db.execute(
                    "UPDATE orderbridge_workers "
                    "SET expires_at = clock_timestamp() + make_interval(secs => %s) "
                    "WHERE migration_id = %s AND worker_id = %s AND expires_at > clock_timestamp() "
                    "RETURNING 1",
                    (self.url.lease_seconds, self.migration, self._worker),
                ).fetchone()
            except (psycopg.Error, StateUnavailable) as exc:
                log.warning("state %s: heartbeat failed (%s)", self.url.display, self._scrub(exc))
                if db is not None:
                    db.close()
                db = None
                continue
            if row is None:
                log.error(
                    "state %s: this worker's lease expired (paused or cut off); it claims no more orders",
                    self.url.display,
                )
                self._lost.set()
                break
        if db is not None:
            db.close()

    def bind(self, source: str, target: str) -> None:
        """Bind the migration to its endpoints (the first worker does); refuse other endpoints."""
        self._run(
            "INSERT INTO orderbridge_migrations (migration_id, source, target) VALUES (%s, %s, %s) "
            "ON CONFLICT (migration_id) DO NOTHING",
            (self.migration, source, target),
            durable=True,
        )
        bound = self._binding()
        assert bound is not None
        if (bound[0], bound[1]) != (source, target):
            raise StateMismatch(
                f"migration {self.migration!r} in {self.url.display} belongs to a run from {bound[0]!r} to "
                f"{bound[1]!r}, not from {source!r} to {target!r}; use another migration id "
                "(?migration= in the state URL, or [run] migration)"
            )

    def needs_ledger(self) -> bool:
        """New, not cleanly finished (a co-worker's run counts), or holding pending or conflict rows."""
        bound = self._binding()
        if self.is_new or bound is None or not bound[2]:
            return True
        rows = self._run(
            "SELECT 1 FROM orderbridge_orders WHERE migration_id = %s AND status IN (%s, %s) LIMIT 1",
            (self.migration, _CODES[Status.PENDING], _CODES[Status.CONFLICT]),
        )
        return bool(rows)

    def begin_run(self) -> None:
        """Mark the migration as in an unfinished run (durably, before any write)."""
        self._run(
            "UPDATE orderbridge_migrations SET clean = FALSE, run_started = %s WHERE migration_id = %s",
            (now_text(), self.migration),
            durable=True,
        )

    def end_run(self, clean: bool) -> None:
        """Mark the run finished; clean only when nothing is pending and no other worker still runs."""
        with self._lock, self._db.transaction():
            self._db.execute("SET LOCAL synchronous_commit TO on")
            self._db.execute(
                "SELECT 1 FROM orderbridge_migrations WHERE migration_id = %s FOR UPDATE", (self.migration,)
            )
            others = self._db.execute(
                "SELECT 1 FROM orderbridge_workers WHERE migration_id = %s AND worker_id <> %s "
                "AND expires_at > clock_timestamp() LIMIT 1",
                (self.migration, self._worker or ""),
            ).fetchone()
            self._db.execute(
                "UPDATE orderbridge_migrations SET clean = %s, run_finished = %s WHERE migration_id = %s",
                (clean and others is None, now_text(), self.migration),
            )

    # ------------------------------------------------------------ claims

    def claim(self, source_id: str) -> str:
        """Take ``source_id`` for this worker (see the module); a :class:`Claim` value."""
        if self._worker is None:
            raise RuntimeError("claim() needs the store locked (joined as a worker) first")
        if self._lost.is_set():
            return Claim.ELSEWHERE
        with self._lock, self._db.transaction():
            made = self._db.execute(
                "INSERT INTO orderbridge_orders (migration_id, source_id, status, changed_at, owner) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (migration_id, source_id) DO NOTHING RETURNING 1",
                (self.migration, source_id, _CLAIMED, _now_us(), self._worker),
            ).fetchone()
            if made is not None:
                return Claim.MINE
            row = self._db.execute(
                "SELECT o.status, o.owner, w.expires_at > clock_timestamp(), "  # noqa: S608 - constant join
                "w.worker_id IS NULL OR w.expires_at > %s "
                f"FROM orderbridge_orders o {_OWNER_JOIN} "
                "WHERE o.migration_id = %s AND o.source_id = %s FOR UPDATE OF o SKIP LOCKED",
                (self._joined, self.migration, source_id),
            ).fetchone()
            if row is None:
                return Claim.ELSEWHERE  # another worker holds its row lock this very moment
            answer = self._decide(*row)
            if answer != Claim.ELSEWHERE and row[1] != self._worker:
                self._db.execute(
                    "UPDATE orderbridge_orders SET owner = %s WHERE migration_id = %s AND source_id = %s",
                    (self._worker, self.migration, source_id),
                )
            return answer

    def _decide(self, status: int, owner: str | None, live: bool | None, overlapped: bool) -> str:
        """Whose an order is, from its row and its owner's lease (see the module)."""
        if owner is None or owner == self._worker:
            return Claim.MINE
        if live:
            return Claim.ELSEWHERE
        if not overlapped:
            return Claim.MINE  # its owner stopped before this worker read its ledger
        if status == _CODES[Status.PENDING]:
            return Claim.RECOVER
        if status == _CLAIMED:
            return Claim.MINE  # claimed, nothing written
        return Claim.ELSEWHERE  # handled by a worker that ran alongside this one

    def take_left_pending(self, before: str) -> tuple[list[OrderState], bool]:
        """Wait (up to three leases) while other live workers hold unfinished orders, then take each
        pending row no live worker holds (and each order a worker that ran alongside had claimed and
        not begun); and whether one of them is pending from a worker that ran alongside."""
        if self._worker is None:
            return list(self.iter_pending(before=before)), False
        self._wait_for_co_workers()
        with self._lock, self._db.transaction():
            rows = self._db.execute(
                f"SELECT {', '.join('o.' + c for c in _COLUMNS.split(', '))}, "  # noqa: S608 - constants
                "o.owner <> %(me)s AND (w.worker_id IS NULL OR w.expires_at > %(joined)s) "
                f"FROM orderbridge_orders o {_OWNER_JOIN} WHERE o.migration_id = %(migration)s AND ("
                "  (o.status = %(pending)s AND (o.owner IS NULL OR o.owner = %(me)s)"
                "      AND o.changed_at < %(before)s)"
                "  OR (o.status IN (%(pending)s, %(claimed)s) AND o.owner <> %(me)s"
                "      AND (w.expires_at IS NULL OR w.expires_at <= clock_timestamp())"
                "      AND (o.status = %(pending)s OR w.worker_id IS NULL OR w.expires_at > %(joined)s))"
                ") ORDER BY o.source_id FOR UPDATE OF o SKIP LOCKED",
                {
                    "me": self._worker,
                    "joined": self._joined,
                    "migration": self.migration,
                    "pending": _CODES[Status.PENDING],
                    "claimed": _CLAIMED,
                    "before": _time_us(before),
                },
            ).fetchall()
            if rows:
                self._db.execute(
                    "UPDATE orderbridge_orders SET owner = %s "
                    "WHERE migration_id = %s AND source_id = ANY(%s)",
                    (self._worker, self.migration, [r[0] for r in rows]),
                )
        stale = any(r[-1] is True and r[1] == _CODES[Status.PENDING] for r in rows)
        return [_taken_row(r[:-1]) for r in rows], stale

    def _wait_for_co_workers(self) -> None:
        deadline = time.monotonic() + 3 * self.url.lease_seconds
        said = False
        while True:
            rows = self._run(
                f"SELECT count(*) FROM orderbridge_orders o {_OWNER_JOIN} "  # noqa: S608 - constant join
                "WHERE o.migration_id = %s AND o.status IN (%s, %s) AND o.owner <> %s "
                "AND w.expires_at > clock_timestamp()",
                (self.migration, _CODES[Status.PENDING], _CLAIMED, self._worker),
            )
            held = int(rows[0][0])
            if not held or time.monotonic() >= deadline or self._lost.is_set():
                return
            if not said:
                log.info("waiting for %d order(s) other workers have in flight", held)
                said = True
            time.sleep(min(0.5, self.url.lease_seconds / 6))

    # ------------------------------------------------------------ rows

    def get(self, source_id: str) -> OrderState | None:
        """The row of ``source_id`` (a claim alone is no row), or ``None``."""
        rows = self._run(
            f"SELECT {_COLUMNS} FROM orderbridge_orders "  # noqa: S608 - constant columns
            "WHERE migration_id = %s AND source_id = %s AND status <> %s",
            (self.migration, source_id, _CLAIMED),
        )
        return _row(rows[0]) if rows else None

    def source_of(self, target_id: str) -> str | None:
        """The source id whose row records ``target_id``, or ``None``."""
        rows = self._run(
            "SELECT source_id FROM orderbridge_orders WHERE migration_id = %s AND target_id = %s LIMIT 1",
            (self.migration, target_id),
        )
        return str(rows[0][0]) if rows else None

    def mark_pending(self, source_id: str, content_hash: str, target_id: str | None = None) -> str:
        """Record, durably, that a write is about to start; :class:`ClaimLost` when another worker
        took the order (this worker's lease ran out): the write must not begin."""
        if self._lost.is_set():
            raise ClaimLost(f"order {source_id}: this worker's lease expired; another worker may hold it")
        now = _now_us()
        rows = self._run(
            "INSERT INTO orderbridge_orders AS o (migration_id, source_id, status, target_id, content_hash, "
            "changed_at, attempts, owner) VALUES (%s, %s, %s, %s, %s, %s, 1, %s) "
            "ON CONFLICT (migration_id, source_id) DO UPDATE SET status = excluded.status, "
            "target_id = coalesce(excluded.target_id, o.target_id), content_hash = excluded.content_hash, "
            "attempts = o.attempts + 1, error = NULL, error_field = NULL, changed_at = excluded.changed_at "
            "WHERE o.owner IS NULL OR o.owner = excluded.owner OR excluded.owner IS NULL RETURNING 1",
            (self.migration, source_id, _CODES[Status.PENDING], target_id, content_hash, now, self._worker),
            durable=True,
        )
        if not rows:
            raise ClaimLost(f"order {source_id}: another worker of this migration took it over")
        return _time_text(now)

    def set_target(self, source_id: str, target_id: str | None) -> None:
        """Record the target id of the row's copy (``None`` once it is gone), durably."""
        self._run(
            "UPDATE orderbridge_orders SET target_id = %s, changed_at = %s "
            "WHERE migration_id = %s AND source_id = %s",
            (target_id, _now_us(), self.migration, source_id),
            durable=True,
        )

    def _outcome(self, source_id: str, status: str, sets: str, values: tuple[Any, ...]) -> None:
        """Upsert an outcome (committed asynchronously: see the module)."""
        columns = [c.split(" = ")[0] for c in sets.split(", ")]
        self._run(
            f"INSERT INTO orderbridge_orders AS o (migration_id, source_id, status, changed_at, owner, "  # noqa: S608 - constant columns
            f"{', '.join(columns)}) VALUES (%s, %s, %s, %s, %s{', %s' * len(columns)}) "
            "ON CONFLICT (migration_id, source_id) DO UPDATE SET status = excluded.status, "
            f"changed_at = excluded.changed_at, owner = coalesce(o.owner, excluded.owner), {sets}",
            (self.migration, source_id, _CODES[status], _now_us(), self._worker, *values),
        )

    def mark_done(self, source_id: str, status: str, target_id: str, content_hash: str) -> None:
        """Record a complete copy (``written``, ``updated`` or ``adopted``)."""
        self._outcome(
            source_id,
            status,
            "target_id = excluded.target_id, content_hash = excluded.content_hash, "
            "error = excluded.error, error_field = excluded.error_field",
            (target_id, content_hash, None, None),
        )

    def mark_conflict(self, source_id: str, message: str) -> None:
        """Record a conflict (no copy of ours in the target)."""
        self._outcome(
            source_id,
            Status.CONFLICT,
            "target_id = excluded.target_id, error = excluded.error, error_field = excluded.error_field",
            (None, message, None),
        )

    def mark_failed(self, source_id: str, error: str, field: str | None) -> None:
        """Record a failure; a pending row stays pending, a complete one keeps its copy."""
        kept = ", ".join(str(_CODES[name]) for name in (Status.PENDING, *sorted(DONE)))
        with self._lock, self._db.transaction():
            self._db.execute(
                "INSERT INTO orderbridge_orders AS o (migration_id, source_id, status, error, error_field, "  # noqa: S608 - constant codes
                "changed_at, owner) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (migration_id, source_id) DO UPDATE SET "
                f"status = CASE WHEN o.status IN ({kept}) THEN o.status ELSE excluded.status END, "
                "error = excluded.error, error_field = excluded.error_field, "
                "changed_at = excluded.changed_at, owner = coalesce(o.owner, excluded.owner)",
                (self.migration, source_id, _CODES[Status.FAILED], error, field, _now_us(), self._worker),
            )

    def mark_clean_failure(self, source_id: str, error: str, field: str | None) -> None:
        """Record a failure that left no copy in the target (the row is no longer pending)."""
        self._outcome(
            source_id,
            Status.FAILED,
            "target_id = excluded.target_id, error = excluded.error, error_field = excluded.error_field",
            (None, error, field),
        )

    def iter_done(self) -> Iterator[OrderState]:
        """Every complete row, in source-id order, fetched in batches."""
        last = ""
        while True:
            rows = self._run(
                f"SELECT {_COLUMNS} FROM orderbridge_orders WHERE migration_id = %s "  # noqa: S608 - constant columns
                "AND status = ANY(%s) AND source_id > %s ORDER BY source_id LIMIT %s",
                (self.migration, list(_DONE_CODES), last, OUTCOMES_PER_COMMIT * 2),
            )
            if not rows:
                return
            yield from (_row(row) for row in rows)
            last = rows[-1][0]

    def iter_pending(self, before: str | None = None) -> Iterator[OrderState]:
        """Every pending row (last changed before ``before``, when given)."""
        limit = _time_us(before) if before is not None else 2**63 - 1
        rows = self._run(
            f"SELECT {_COLUMNS} FROM orderbridge_orders WHERE migration_id = %s "  # noqa: S608 - constant columns
            "AND status = %s AND changed_at < %s ORDER BY source_id",
            (self.migration, _CODES[Status.PENDING], limit),
        )
        return iter([_row(row) for row in rows])

    def forget(self, source_id: str) -> None:
        """Drop a row (durably)."""
        self._run(
            "DELETE FROM orderbridge_orders WHERE migration_id = %s AND source_id = %s",
            (self.migration, source_id),
            durable=True,
        )

    def counts(self) -> dict[str, int]:
        """Number of rows per status (claims alone are not rows)."""
        rows = self._run(
            "SELECT status, count(*) FROM orderbridge_orders WHERE migration_id = %s AND status <> %s "
            "GROUP BY status",
            (self.migration, _CLAIMED),
        )
        return {_NAMES.get(code, str(code)): int(count) for code, count in rows}

    def set_aside(self, name: str) -> None:
        """Move this migration's rows and binding to migration id ``name`` (``state rebuild``);
        :class:`~orderbridge.migration.state.StateLocked` while a worker holds it."""
        with self._lock, self._db.transaction():
            self._db.execute("SET LOCAL synchronous_commit TO on")
            live = self._db.execute(
                "SELECT holder FROM orderbridge_workers WHERE migration_id = %s AND worker_id <> %s "
                "AND expires_at > clock_timestamp() LIMIT 1",
                (self.migration, self._worker or ""),
            ).fetchone()
            if live is not None:
                raise StateLocked(
                    f"migration {self.migration!r} in {self.url.display} is in use by {live[0]}"
                )
            for table in ("orderbridge_orders", "orderbridge_migrations"):
                self._db.execute(
                    f"UPDATE {table} SET migration_id = %s WHERE migration_id = %s",  # noqa: S608 - constant table names
                    (name, self.migration),
                )
        self.is_new = True

    def close(self) -> None:
        """Leave the migration (its lease ends now) and close the connection."""
        try:
            self.unlock()
        finally:
            self._db.close()


def _taken_row(row: tuple[Any, ...]) -> OrderState:
    state = _row(row)
    return attrs.evolve(state, status="claimed") if row[1] == _CLAIMED else state


def _prepare_schema(db: psycopg.Connection[Any], display: str) -> None:
    """Create the tables on first use (once, between racing processes); refuse a newer schema."""
    try:
        with db.transaction():
            row = db.execute("SELECT max(version) FROM orderbridge_schema").fetchone()
        version = row[0] if row is not None else None
    except psycopg.errors.UndefinedTable:
        version = None
    if version == SCHEMA_VERSION:
        return
    if version is not None and version > SCHEMA_VERSION:
        raise StateDamaged(
            f"state {display} was made by a newer orderbridge (schema {version}); upgrade orderbridge, "
            f"or {REBUILD_HINT}"
        )
    with db.transaction():
        db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        for statement in _SCHEMA:
            db.execute(statement)  # constant SQL
        if db.execute("SELECT 1 FROM orderbridge_schema").fetchone() is None:
            db.execute("INSERT INTO orderbridge_schema VALUES (%s)", (SCHEMA_VERSION,))
