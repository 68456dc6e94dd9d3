"""Migration runs: engine, state store, report and verification."""

from orderbridge.migration.engine import Mode, Progress, Selection, content_hash, migrate
from orderbridge.migration.report import Failure, MigrationReport, Mismatch, VerifyReport
from orderbridge.migration.state import OrderState, SQLiteStateStore, StateStore

__all__ = [
    "Failure",
    "MigrationReport",
    "Mismatch",
    "Mode",
    "OrderState",
    "Progress",
    "SQLiteStateStore",
    "Selection",
    "StateStore",
    "VerifyReport",
    "content_hash",
    "migrate",
]
