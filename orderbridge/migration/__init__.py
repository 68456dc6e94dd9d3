"""Migration runs: engine, state store, report and verification."""

from typing import TYPE_CHECKING, Any

from orderbridge.migration.concurrency import AdaptiveLimit, Concurrency
from orderbridge.migration.engine import Mode, Progress, Selection, content_hash, migrate
from orderbridge.migration.report import Failure, MigrationReport, Mismatch, VerifyReport
from orderbridge.migration.state import (
    Claim,
    OrderState,
    SQLiteStateStore,
    StateDamaged,
    StateLocked,
    StateMismatch,
    StateStore,
    StateUnavailable,
    Status,
    open_state_store,
)
from orderbridge.migration.verify import verify

if TYPE_CHECKING:
    from orderbridge.migration.state_postgres import PostgresStateStore

__all__ = [
    "AdaptiveLimit",
    "Claim",
    "Concurrency",
    "Failure",
    "MigrationReport",
    "Mismatch",
    "Mode",
    "OrderState",
    "PostgresStateStore",
    "Progress",
    "SQLiteStateStore",
    "Selection",
    "StateDamaged",
    "StateLocked",
    "StateMismatch",
    "StateStore",
    "StateUnavailable",
    "Status",
    "VerifyReport",
    "content_hash",
    "migrate",
    "open_state_store",
    "verify",
]


def __getattr__(name: str) -> Any:
    """``PostgresStateStore`` is imported on first use: ``import orderbridge`` never needs psycopg."""
    if name == "PostgresStateStore":
        from orderbridge.migration.state_postgres import PostgresStateStore

        return PostgresStateStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
