"""``orderbridge check``: a run configuration checked end to end, read-only, before a migration.

It does what a migration does before its first order, and nothing after:
the configuration is parsed (an unknown key is an error), both endpoints are
connected and pass their preflight (credentials, one list request, the
target's mapped reference ids), the source can be read and the target written
in the configured mode, and an existing state file belongs to these two
endpoints. Nothing is written anywhere, the state file included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from attrs import frozen

from orderbridge.backend import Backend, Capability
from orderbridge.migration.config import RunConfig, connected
from orderbridge.migration.engine import _check_arguments, preflight
from orderbridge.migration.state import open_state_store, redacted_location, state_exists

__all__ = ["CheckResult", "check_run"]


@frozen
class EndpointCheck:
    """One end of the run as the check found it."""

    side: str
    backend: str
    endpoint: str
    orders: int | None
    """How many orders the site lists (``None`` when it cannot say)."""


@frozen
class CheckResult:
    """What ``check_run`` found: both ends ready, the mapped references, the state file."""

    source: EndpointCheck
    target: EndpointCheck
    mapped_references: int
    """Mapping-table entries checked against the target (``"*"`` defaults included)."""
    state_path: Path | str
    """The state file, or the PostgreSQL state's URL (shown without its password)."""
    state_orders: dict[str, int] | None
    """The state file's rows by status, or ``None`` when there is no state file yet."""

    def to_dict(self) -> dict[str, Any]:
        """The result as plain JSON-ready data."""
        return {
            "ok": True,
            "source": _endpoint_dict(self.source),
            "target": _endpoint_dict(self.target),
            "mapped_references": self.mapped_references,
            "state": {"path": redacted_location(self.state_path), "orders": self.state_orders},
        }

    def summary(self) -> str:
        """A few lines for a person."""
        lines = [_endpoint_line(self.source), _endpoint_line(self.target)]
        lines.append(f"  references: {self.mapped_references} mapped value(s), each one the target can hold")
        if self.state_orders is None:
            lines.append(
                f"  state: {redacted_location(self.state_path)} (none yet: the first run creates it)"
            )
        else:
            counts = sorted(self.state_orders.items())
            rows = ", ".join(f"{status} {n}" for status, n in counts) or "no orders"
            lines.append(f"  state: {redacted_location(self.state_path)} (bound to these endpoints; {rows})")
        return "ready to migrate\n" + "\n".join(lines)


def _endpoint_dict(end: EndpointCheck) -> dict[str, Any]:
    return {"backend": end.backend, "endpoint": end.endpoint, "orders": end.orders}


def _endpoint_line(end: EndpointCheck) -> str:
    listed = f"{end.orders} order(s) listed" if end.orders is not None else "order count not known"
    return f"  {end.side}: {end.backend} at {end.endpoint}, ready ({listed})"


def check_run(config: RunConfig) -> CheckResult:
    """Check ``config`` read-only as a migration would before its first order; raise what it would.

    A :class:`~orderbridge.ConfigurationError` for a setting that cannot work
    (a mapped id the target cannot hold, a state file bound to other
    endpoints), :class:`~orderbridge.UnsupportedOperation` for a backend that
    cannot read or write as asked, :class:`~orderbridge.PreflightFailed` for a
    site that does not answer or refuses the credentials.
    """
    with connected(config) as (source, target):
        _check_arguments(source, target, dry_run=config.dry_run, mode=config.mode)
        preflight(source=source, target=target)
        state_orders = _check_state(config.state, source, target)
        return CheckResult(
            source=_describe("source", source),
            target=_describe("target", target),
            mapped_references=sum(len(table) for table in config.reference_tables.values()),
            state_path=config.state,
            state_orders=state_orders,
        )


def _describe(side: str, backend: Backend) -> EndpointCheck:
    orders = backend.count_orders() if Capability.READ in backend.capabilities else None
    return EndpointCheck(side=side, backend=backend.name, endpoint=backend.endpoint(), orders=orders)


def _check_state(path: Path | str, source: Backend, target: Backend) -> dict[str, int] | None:
    """The state's counts; :class:`StateMismatch` when it belongs to other endpoints."""
    if not state_exists(path):
        return None
    store: Any = open_state_store(path)
    try:
        if not store.is_new:  # a store with no endpoints yet would be bound by bind(): not here
            store.bind(source.endpoint(), target.endpoint())
        counts: dict[str, int] = store.counts()
        return counts
    finally:
        store.close()
