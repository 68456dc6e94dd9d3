"""The PostgreSQL state store's own behaviour: URLs and secrets, migrations side by side, claims and leases.

Against a real server (the ``postgres`` fixture). Leases are short here, and
nothing waits on a clock for correctness: each test polls for the condition it
needs (a lease seen expired by the database) with a deadline.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

import orderbridge as ob
from orderbridge.migration import Claim, migrate
from orderbridge.migration.state import ClaimLost, StateUnavailable, now_text
from orderbridge.migration.state_postgres import DEFAULT_MIGRATION, PostgresStateStore, StateURL

from .fakes import MemoryTarget
from .postgres import PASSWORD, PostgresServer

HASH = "cd" * 32
LEASE = "3"
"""Seconds: short, so that a stopped heartbeat's lease runs out soon (tests poll for it), and long
enough that a live worker's heartbeat (every third of it) keeps its lease on a busy machine."""


@pytest.fixture
def migration() -> str:
    return f"m-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def stores(postgres: PostgresServer, migration: str) -> Iterator[Callable[..., PostgresStateStore]]:
    """Opens workers of one migration (each a store joined as a worker), closed at the end."""
    opened: list[PostgresStateStore] = []

    def open_worker(*, lock: bool = True, **query: str) -> PostgresStateStore:
        store = PostgresStateStore(postgres.url(migration, lease_seconds=LEASE, **query), lock=lock)
        if lock:
            store.bind("jsonl:/source", "jsonl:/target")
        opened.append(store)
        return store

    yield open_worker
    for store in opened:
        store.close()


def _until(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.02)


def _expired(store: PostgresStateStore, worker: str | None) -> bool:
    rows = store._run(
        "SELECT expires_at <= clock_timestamp() FROM orderbridge_workers WHERE migration_id = %s "
        "AND worker_id = %s",
        (store.migration, worker),
    )
    return bool(rows and rows[0][0])


def _die(store: PostgresStateStore) -> str | None:
    """The worker stops as a killed process does: its heartbeat ends, its lease is left to run out."""
    worker = store._worker
    store._stop_beat.set()
    if store._beat is not None:
        store._beat.join()
    store._worker = None  # so that closing it later does not end the lease on its behalf
    return worker


# ------------------------------------------------------------ URLs and secrets


def test_a_state_url_names_its_migration_lease_and_password_variable_and_shows_no_password() -> None:
    url = StateURL.parse(
        "postgresql://ob:s3cr3t@db.example:5433/shops?sslmode=require&migration=acme&lease_seconds=12"
    )
    assert (url.migration, url.lease_seconds, url.password, url.literal_password) == (
        "acme",
        12.0,
        "s3cr3t",
        True,
    )
    assert "s3cr3t" not in url.display and "s3cr3t" not in repr(url) and "s3cr3t" not in url.conninfo
    assert url.display == "postgresql://ob@db.example:5433/shops?sslmode=require&migration=acme"
    from_env = StateURL.parse("postgresql://ob@db/shops?password_env=SHOP_DB_PW", environ={"SHOP_DB_PW": "x"})
    assert (from_env.password, from_env.literal_password, from_env.migration) == (
        "x",
        False,
        DEFAULT_MIGRATION,
    )
    with pytest.raises(ob.ConfigurationError, match="SHOP_DB_PW"):
        StateURL.parse("postgresql://ob@db/shops?password_env=SHOP_DB_PW", environ={})
    with pytest.raises(ob.ConfigurationError, match="lease_seconds must be a number above 0"):
        StateURL.parse("postgresql://ob@db/shops?lease_seconds=-1")


def test_a_password_from_the_environment_connects_and_appears_in_no_repr_or_error(
    postgres: PostgresServer, migration: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OB_TEST_PG_PASSWORD", PASSWORD)
    store = PostgresStateStore(postgres.tcp_url(migration, password_env="OB_TEST_PG_PASSWORD"))
    try:
        assert store.is_new and PASSWORD not in repr(store) and PASSWORD not in store.path
    finally:
        store.close()
    wrong = "not-the-password-123"
    with pytest.raises(StateUnavailable) as info:
        PostgresStateStore(postgres.tcp_url(migration, password=wrong))
    assert "password authentication failed" in str(info.value) and wrong not in str(info.value)
    assert "\n" not in str(info.value)


def test_import_orderbridge_does_not_import_psycopg() -> None:
    code = "import sys, orderbridge, orderbridge.migration, orderbridge.cli; print('psycopg' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


# ------------------------------------------------------------ migrations side by side, the binding


def test_one_database_holds_many_migrations_each_bound_to_its_endpoints(
    source: ob.Backend, postgres: PostgresServer
) -> None:
    first, second = MemoryTarget(), MemoryTarget()
    second.name = "memory-2"  # type: ignore[misc] # another endpoint
    a = migrate(source, first, state=postgres.url("shop-a"), sleep=lambda s: None)
    b = migrate(source, second, state=postgres.url("shop-b"), sleep=lambda s: None)
    assert (a.written, b.written) == (20, 20)
    with pytest.raises(ob.migration.StateMismatch, match=r"migration 'shop-a' .* belongs to a run"):
        migrate(source, second, state=postgres.url("shop-a"), sleep=lambda s: None)
    assert len(second.orders) == 20  # the refused run wrote nothing


def test_co_workers_of_one_migration_join_it(stores: Callable[..., PostgresStateStore]) -> None:
    a, b = stores(), stores()  # the second is not refused: the run lock is per migration, shared
    assert a._worker != b._worker
    assert a.claim("x") == Claim.MINE and b.claim("x") == Claim.ELSEWHERE and b.claim("y") == Claim.MINE


# ------------------------------------------------------------ claims and leases


def test_a_row_another_worker_is_claiming_right_now_is_skipped_not_waited_for(
    stores: Callable[..., PostgresStateStore], postgres: PostgresServer
) -> None:
    a = stores()
    a.mark_done("x", "written", "1", HASH)
    with psycopg.connect(host=str(postgres.socket_dir), port=postgres.port, user="postgres") as other:
        other.execute(
            "SELECT 1 FROM orderbridge_orders WHERE migration_id = %s AND source_id = 'x' FOR UPDATE",
            (a.migration,),
        )
        started = time.monotonic()
        assert stores().claim("x") == Claim.ELSEWHERE  # SKIP LOCKED: no wait for the lock
        assert time.monotonic() - started < 5


def test_orders_of_a_worker_that_ran_alongside_are_elsewhere_and_a_later_worker_skips_them(
    stores: Callable[..., PostgresStateStore],
) -> None:
    a, b = stores(), stores()
    assert a.claim("done") == Claim.MINE
    a.mark_done("done", "written", "1", HASH)
    a.unlock()  # a ends its run: its lease ends now
    assert b.claim("done") == Claim.ELSEWHERE  # handled during b's run, by another worker
    later = stores()
    assert later.claim("done") == Claim.MINE  # migrated before it joined: its mode decides (skip)


def test_a_crashed_workers_pending_order_is_recovered_once_its_lease_expires(
    stores: Callable[..., PostgresStateStore],
) -> None:
    a, b = stores(), stores()
    assert a.claim("p") == Claim.MINE
    a.mark_pending("p", HASH)
    a.set_target("p", "1000")
    assert b.claim("p") == Claim.ELSEWHERE  # a's lease runs
    worker = _die(a)
    _until(lambda: _expired(b, worker), "the dead worker's lease expired")
    assert b.claim("p") == Claim.RECOVER  # b's ledger may predate a's copy: settled at the end
    c = stores()  # joined after a stopped: its ledger is newer than a's last write
    assert c.claim("p") == Claim.ELSEWHERE  # b holds it now


def test_at_its_end_a_worker_waits_for_a_dead_co_worker_and_takes_its_pending_rows(
    stores: Callable[..., PostgresStateStore],
) -> None:
    a, b = stores(), stores()
    for source_id in ("p1", "p2"):
        assert a.claim(source_id) == Claim.MINE
        a.mark_pending(source_id, HASH)
    _die(a)
    rows, stale = b.take_left_pending(now_text())  # waits (up to 3 leases) for a's lease to run out
    assert [row.source_id for row in rows] == ["p1", "p2"] and stale
    assert stores().claim("p1") == Claim.ELSEWHERE  # b's now


def test_an_order_a_dead_co_worker_claimed_but_never_began_is_taken_at_the_end(
    stores: Callable[..., PostgresStateStore],
) -> None:
    a, b = stores(), stores()
    assert a.claim("c") == Claim.MINE  # killed before its pending mark: nothing written
    assert b.claim("c") == Claim.ELSEWHERE  # b passes it by while a lives
    _die(a)
    rows, stale = b.take_left_pending(now_text())
    assert [(row.source_id, row.status) for row in rows] == [("c", "claimed")] and not stale
    assert b.claim("c") == Claim.MINE


def test_a_worker_whose_lease_ran_out_claims_nothing_and_begins_no_write(
    stores: Callable[..., PostgresStateStore], caplog: pytest.LogCaptureFixture
) -> None:
    a, b = stores(), stores()
    assert a.claim("x") == Claim.MINE
    a._run(  # a is paused past its lease (a debugger, a frozen VM): the database sees it expired
        "UPDATE orderbridge_workers SET expires_at = clock_timestamp() - interval '1 second' "
        "WHERE migration_id = %s AND worker_id = %s",
        (a.migration, a._worker),
    )
    assert b.claim("x") == Claim.MINE  # a stopped before b... as far as anyone can tell
    b.mark_pending("x", HASH)
    with caplog.at_level(logging.ERROR, logger="orderbridge.migration"):
        _until(a._lost.is_set, "the heartbeat found its lease expired")
    assert "lease expired" in caplog.text
    assert a.claim("y") == Claim.ELSEWHERE
    with pytest.raises(ClaimLost):
        a.mark_pending("x", HASH)


def test_a_pending_mark_on_an_order_another_worker_took_is_refused(
    stores: Callable[..., PostgresStateStore],
) -> None:
    a, b = stores(), stores()
    assert a.claim("x") == Claim.MINE
    b._run(
        "UPDATE orderbridge_orders SET owner = %s WHERE migration_id = %s AND source_id = 'x'",
        (b._worker, b.migration),
    )
    with pytest.raises(ClaimLost, match="another worker of this migration took it over"):
        a.mark_pending("x", HASH)


def test_state_rebuild_sets_a_migration_aside_and_refuses_while_a_worker_runs(
    stores: Callable[..., PostgresStateStore],
) -> None:
    a = stores()
    a.mark_done("x", "written", "1", HASH)
    b = stores()
    with pytest.raises(ob.migration.StateLocked, match="in use by pid"):
        b.set_aside(b.migration + ".old")
    a.close()
    b.set_aside(b.migration + ".old")
    assert b.is_new and b.get("x") is None and b.counts() == {}


@pytest.fixture
def source(tmp_path: Path) -> ob.Backend:
    from decimal import Decimal

    backend = ob.connect("jsonl", path=tmp_path / "source.jsonl")
    for i in range(1, 21):
        backend.create_order(
            ob.Order(source=ob.SourceRef("webinone-v1", str(i)), number=str(i), total=Decimal(i))
        )
    return backend


# ------------------------------------------------------------ the run configuration


def _config(tmp_path: Path, run: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(
        '[source]\nbackend = "jsonl"\npath = "in.jsonl"\n\n'
        '[target]\nbackend = "jsonl"\npath = "out.jsonl"\n\n'
        f"[run]\n{run}\n",
        encoding="utf-8",
    )
    return path


def test_run_configuration_folds_the_migration_and_password_variable_into_the_state_url(
    tmp_path: Path,
) -> None:
    from orderbridge.migration.config import load_config

    config = load_config(
        _config(
            tmp_path,
            'state = "postgresql://ob@db/shops"\nmigration = "acme"\nstate_password_env = "SHOP_PW"',
        )
    )
    assert config.state == "postgresql://ob@db/shops?migration=acme&password_env=SHOP_PW"
    same = load_config(
        _config(tmp_path, 'state = "postgresql://ob@db/shops?migration=acme"\nmigration = "acme"')
    )
    assert same.state == "postgresql://ob@db/shops?migration=acme"
    with pytest.raises(
        ob.ConfigurationError, match=r"\[run\] state: names migration 'acme', \[run\] says 'other'"
    ):
        load_config(
            _config(tmp_path, 'state = "postgresql://ob@db/shops?migration=acme"\nmigration = "other"')
        )
    with pytest.raises(ob.ConfigurationError, match=r"\[run\] migration: applies to a PostgreSQL state"):
        load_config(_config(tmp_path, 'state = "state.sqlite"\nmigration = "acme"'))
    assert load_config(_config(tmp_path, 'state = "state.sqlite"')).state == tmp_path / "state.sqlite"


def test_a_literal_password_in_the_state_url_is_warned_about_and_never_shown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from orderbridge.migration.config import load_config

    path = _config(tmp_path, 'state = "postgresql://ob:hunter2-secret@db/shops"')
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="orderbridge.config"):
        config = load_config(path)
    assert "holds a literal secret ([run] state" in caplog.text and "state_password_env" in caplog.text
    assert "hunter2-secret" not in caplog.text and "hunter2-secret" not in repr(config)
    from orderbridge.migration.state import redacted_location

    assert redacted_location(config.state) == "postgresql://ob@db/shops?migration=default"
