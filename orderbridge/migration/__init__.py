"""Migration runs: engine, state store, report and verification."""

from orderbridge.migration.concurrency import AdaptiveLimit, Concurrency
from orderbridge.migration.engine import Mode, Progress, Selection, content_hash, migrate
from orderbridge.migration.report import Failure, MigrationReport, Mismatch, VerifyReport
from orderbridge.migration.state import (
    OrderState,
    SQLiteStateStore,
    StateDamaged,
    StateLocked,
    StateMismatch,
    StateStore,
    Status,
)
from orderbridge.migration.verify import verify

__all__ = [
    "AdaptiveLimit",
    "Concurrency",
    "Failure",
    "MigrationReport",
    "Mismatch",
    "Mode",
    "OrderState",
    "Progress",
    "SQLiteStateStore",
    "Selection",
    "StateDamaged",
    "StateLocked",
    "StateMismatch",
    "StateStore",
    "Status",
    "VerifyReport",
    "content_hash",
    "migrate",
    "verify",
]
