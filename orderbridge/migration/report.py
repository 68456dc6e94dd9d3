"""The migration report: counts, failures, losses, unresolved references, speed.

A report is what a person reads after a run to decide whether to trust it. It
is written as JSON (:meth:`MigrationReport.to_dict`) and an HTML page (see
:mod:`orderbridge.migration.report_files`) and printed as a short human
summary (:meth:`MigrationReport.summary`). It never carries field values of
orders (they may be personal data), only ids, field names and counts, and
never a secret.

Each count has one name, in Python and in JSON: ``report.written`` is
``counts.written``, ``report.unresolved_references`` is
``unresolved_references``, ``report.retries`` is ``retries``.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attrs import Factory, define, field

from orderbridge.migration.timeline import Timeline

if TYPE_CHECKING:
    from orderbridge.backend import Loss

__all__ = [
    "COUNT_NAMES",
    "ORDER_OUTCOMES",
    "Conflict",
    "Failure",
    "MigrationReport",
    "Mismatch",
    "MoneyLost",
    "VerifyReport",
]

FAILURE_DETAIL_LIMIT = 1000
"""How many failures a report lists one by one (all are counted and kept in the state file)."""


@define
class Failure:
    """One order that could not be migrated, and why."""

    source_id: str
    message: str
    field: str | None = None
    kind: str = "error"


@define
class Conflict:
    """A source order left alone because the target holds another order under its natural key."""

    source_id: str
    target_ids: list[str]


ORDER_OUTCOMES = ("written", "adopted", "updated", "skipped", "conflicts", "failed", "elsewhere")
"""What a run did with each order it read: exactly one of these, once."""

COUNT_NAMES = ("read", *ORDER_OUTCOMES, "finished_in_place", "duplicates_removed")
"""The keys of :attr:`MigrationReport.counts` (and of ``counts`` in the JSON), each an attribute too."""


@define
class MigrationReport:
    """What a migration run did (or, in a dry run, would do)."""

    source: str
    target: str
    dry_run: bool = False
    mode: str = "skip"
    state_path: str | None = None
    started_at: str = ""
    finished_at: str = ""
    duration_seconds: float = 0.0
    read: int = 0
    written: int = 0
    updated: int = 0
    skipped: int = 0
    adopted: int = 0
    failed: int = 0
    elsewhere: int = 0
    """Orders another worker of a shared (PostgreSQL) state held, or handled during this run."""
    finished_in_place: int = 0
    """Of ``written``: copies a cut-short write had left, finished in place."""
    duplicates_removed: int = 0
    """Second copies of one source order (provably orderbridge's) that were deleted."""
    target_requests: int = 0
    """Requests sent to the target (when its backend counts them), ledger reads included."""
    concurrency: str = ""
    """The concurrency policy: ``"adaptive 1-32"`` or ``"fixed 8"``."""
    workers: int = 0
    """Orders in flight allowed now (at the end: when the run finished)."""
    workers_peak: int = 0
    """The most orders in flight the run allowed."""
    workers_mean: float = 0.0
    """Orders in flight allowed, averaged over the run's time."""
    source_claimed: int | None = None
    """How many orders the source said it holds (its list total), when it says."""
    source_notes: list[str] = Factory(list)
    """What was odd about the source's paging (a total that disagrees, pages re-read...)."""
    ledger: dict[str, Any] | None = None
    """The read of the target's orders, when the run needed it: orders, requests, seconds."""
    adopted_ids: list[str] = Factory(list)
    conflict_list: list[Conflict] = Factory(list)
    planned: Counter[str] = Factory(Counter)
    failures: list[Failure] = Factory(list)
    losses: Counter[str] = Factory(Counter)
    loss_reasons: dict[str, str] = Factory(dict)
    money_lost: dict[str, dict[str, Decimal]] = Factory(dict)
    """Per loss field, per currency (``"?"`` when the order names none), the summed
    amount of money losses (see :class:`~orderbridge.Loss`)."""
    unresolved_references: dict[str, Counter[str]] = Factory(dict)
    """Per reference kind, per value, how many orders needed it (``unresolved_references`` in JSON)."""
    unresolved_hints: dict[str, dict[str, str]] = Factory(dict)
    """Per kind, per unresolved value, what the source says of it (a member's email): for the
    ``references.toml`` template only; never in the JSON report (it may be personal data)."""
    interrupted: bool = False
    stopped_reason: str | None = None
    resume_hint: str | None = None
    timeline: Timeline = Factory(Timeline)
    """Orders read and written, retries and 429s per interval of the run (the HTML report's chart)."""

    @property
    def unresolved(self) -> dict[str, Counter[str]]:
        """Deprecated: the old name of :attr:`unresolved_references` (the name the JSON report uses)."""
        warnings.warn(
            "MigrationReport.unresolved is deprecated; use unresolved_references (its name in the JSON)",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.unresolved_references

    @property
    def counts(self) -> dict[str, int]:
        """The order counts, as ``counts`` in the JSON: ``report.counts["read"] == report.read``."""
        return {name: getattr(self, name) for name in COUNT_NAMES}

    @property
    def retries(self) -> int:
        """Requests repeated (after a 429, a 5xx or a failed connection), to either side."""
        return self.timeline.totals()["retries"]

    @property
    def rate_limited(self) -> int:
        """Answers 429 ("too many requests") from either side."""
        return self.timeline.totals()["rate_limited"]

    def add_losses(self, losses: Iterable[Loss], currency: str | None = None) -> None:
        """Count one order's losses (one per field); money losses add their amount per currency."""
        for loss in losses:
            self.losses[loss.field] += 1
            self.loss_reasons.setdefault(loss.field, loss.reason)
            if loss.amount is not None:
                sums = self.money_lost.setdefault(loss.field, {})
                key = currency or "?"
                sums[key] = sums.get(key, Decimal(0)) + loss.amount

    def money_text(self, name: str) -> str:
        """The summed money lost in field ``name``, e.g. ``"-12.50 EUR"`` (``""`` when none)."""
        sums = self.money_lost.get(name)
        if not sums:
            return ""
        return ", ".join(f"{amount} {currency}" for currency, amount in sorted(sums.items()))

    def add_failure(self, failure: Failure) -> None:
        """Count a failure and keep its details (up to :data:`FAILURE_DETAIL_LIMIT`)."""
        self.failed += 1
        if len(self.failures) < FAILURE_DETAIL_LIMIT:
            self.failures.append(failure)

    @property
    def conflicts(self) -> int:
        """Orders left alone because of a conflict."""
        return len(self.conflict_list)

    def count(self, action: str, source_id: str) -> None:
        """Count one order's outcome (``written``, ``adopted``, ``updated``, ``skipped``,
        ``conflict``, ``elsewhere``, or a dry run's ``would ...`` plan entry)."""
        if action == "written":
            self.written += 1
            self.timeline.add("written")
        elif action == "updated":
            self.updated += 1
        elif action == "skipped":
            self.skipped += 1
        elif action == "elsewhere":
            self.elsewhere += 1
        elif action == "adopted":
            self.adopted += 1
            if len(self.adopted_ids) < FAILURE_DETAIL_LIMIT:
                self.adopted_ids.append(source_id)
        elif action == "conflict" and not self.dry_run:
            pass  # counted by add_conflict, with the target ids
        else:
            self.planned[action] += 1

    def add_conflict(self, source_id: str, target_ids: list[str]) -> None:
        """Record a conflict with the target's orders ``target_ids``."""
        self.conflict_list.append(Conflict(source_id, list(target_ids)))

    def add_unresolved(self, kind: str, value: str, hint: str | None = None) -> None:
        """Count one unresolved reference (``hint``: what the source says of the value, kept once)."""
        self.unresolved_references.setdefault(kind, Counter())[value] += 1
        if hint:
            self.unresolved_hints.setdefault(kind, {}).setdefault(value, hint)

    def count_read(self, number: int = 1) -> None:
        """Count ``number`` orders read from the source."""
        self.read += number
        self.timeline.add("read", number)

    @property
    def orders_per_second(self) -> float | None:
        """Orders handled per second of wall time; ``None`` in a dry run (it handles none: see
        :attr:`read_per_second`)."""
        if self.dry_run:
            return None
        handled = self.written + self.adopted + self.updated + self.skipped + self.conflicts + self.failed
        return handled / self.duration_seconds if self.duration_seconds > 0 else 0.0

    @property
    def read_per_second(self) -> float:
        """Orders read from the source per second of wall time."""
        return self.read / self.duration_seconds if self.duration_seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        """True when nothing failed and the run was not cut short."""
        return (
            self.failed == 0 and self.conflicts == 0 and not self.interrupted and self.stopped_reason is None
        )

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return {
            "source": self.source,
            "target": self.target,
            "dry_run": self.dry_run,
            "mode": self.mode,
            "state_path": self.state_path,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_seconds": round(self.duration_seconds, 3),
            "orders_per_second": (
                round(self.orders_per_second, 1) if self.orders_per_second is not None else None
            ),
            "read_per_second": round(self.read_per_second, 1),
            "counts": self.counts,
            "source_paging": {
                "claimed": self.source_claimed,
                "read": self.read,
                "notes": list(self.source_notes),
            },
            "target_requests": self.target_requests,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "concurrency": {
                "policy": self.concurrency,
                "final": self.workers,
                "peak": self.workers_peak,
                "mean": self.workers_mean,
            },
            "ledger": self.ledger,
            "adopted": list(self.adopted_ids),
            "conflicts": [{"source_id": c.source_id, "target_ids": c.target_ids} for c in self.conflict_list],
            "planned": dict(sorted(self.planned.items())),
            "failures": [
                {"source_id": f.source_id, "kind": f.kind, "field": f.field, "message": f.message}
                for f in self.failures
            ],
            "losses": {
                name: {
                    "orders": count,
                    "reason": self.loss_reasons.get(name),
                    **(
                        {"money": {c: str(a) for c, a in sorted(self.money_lost[name].items())}}
                        if name in self.money_lost
                        else {}
                    ),
                }
                for name, count in self.losses.most_common()
            },
            "unresolved_references": {
                k: dict(v.most_common()) for k, v in sorted(self.unresolved_references.items())
            },
            "interrupted": self.interrupted,
            "stopped_reason": self.stopped_reason,
            "resume_hint": self.resume_hint,
            "timeline": self.timeline.to_dict(),
        }

    def write_json(self, path: str | Path) -> None:
        """Write :meth:`to_dict` to ``path`` as indented JSON."""
        Path(path).write_text(
            json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )

    def summary(self) -> str:
        """A short human summary."""
        title = "Dry run" if self.dry_run else "Migration"
        lines = [
            f"{title} {self.source} -> {self.target} (mode {self.mode})",
            f"  read {self.read}, written {self.written}, adopted {self.adopted}, updated {self.updated}, "
            f"skipped {self.skipped}, conflicts {self.conflicts}, failed {self.failed}"
            + (f", handled by other workers {self.elsewhere}" if self.elsewhere else ""),
            f"  took {self.duration_seconds:.1f} s, {self._speed()}"
            + (f", {self.retries} retries ({self.rate_limited} after 429)" if self.retries else "")
            + (
                f", workers {self.concurrency} (mean {self.workers_mean:g}, peak {self.workers_peak})"
                if self.concurrency
                else ""
            ),
        ]
        for note in self.source_notes[:5]:
            lines.append(f"  source: {note}")
        if self.finished_in_place or self.duplicates_removed:
            lines.append(
                f"  of the written: {self.finished_in_place} half-written copies finished in place; "
                f"{self.duplicates_removed} duplicate copies removed"
            )
        if self.ledger is not None:
            lines.append(
                f"  read the target's {self.ledger['orders']} orders first "
                f"({self.ledger['requests']} requests, {self.ledger['seconds']:.1f} s)"
            )
        if self.adopted_ids:
            shown = ", ".join(self.adopted_ids[:10])
            more = f" and {self.adopted - 10} more" if self.adopted > 10 else ""
            lines.append(f"  adopted (already in the target, nothing written): {shown}{more}")
        if self.conflict_list:
            lines.append(f"  conflicts ({self.conflicts}), left alone in the target:")
            for c in self.conflict_list[:20]:
                lines.append(
                    f"    {c.source_id}: target order {', '.join(c.target_ids)} is not orderbridge's"
                )
            if self.conflicts > 20:
                lines.append(f"    ... {self.conflicts - 20} more in the JSON report and the state file")
        if self.planned:
            lines.append("  plan: " + ", ".join(f"{n} {k}" for k, n in sorted(self.planned.items())))
        if self.failures:
            lines.append(f"  failures ({self.failed}):")
            for f in self.failures[:20]:
                where = f" field {f.field}:" if f.field else ""
                lines.append(f"    {f.source_id}: [{f.kind}]{where} {f.message}")
            if self.failed > 20:
                lines.append(f"    ... {self.failed - 20} more in the JSON report and the state file")
        if self.losses:
            lines.append("  fields the target cannot hold (orders affected):")
            for name, count in self.losses.most_common(25):
                reason = self.loss_reasons.get(name)
                money = self.money_text(name)
                lines.append(
                    f"    {name}: {count}"
                    + (f"  money lost: {money}" if money else "")
                    + (f"  ({reason})" if reason else "")
                )
            if len(self.losses) > 25:
                lines.append(f"    ... {len(self.losses) - 25} more fields in the JSON report")
        if self.unresolved_references:
            lines.append("  unresolved references (orders affected):")
            for kind, values in sorted(self.unresolved_references.items()):
                shown = ", ".join(f"{v!r} x{n}" for v, n in values.most_common(10))
                lines.append(f"    {kind}: {shown}")
        if self.interrupted:
            lines.append("  interrupted: orders in flight were finished; the state file is consistent.")
        if self.stopped_reason:
            lines.append(f"  stopped early: {self.stopped_reason}")
        if self.resume_hint:
            lines.append(f"  to resume: {self.resume_hint}")
        return "\n".join(lines)

    def _speed(self) -> str:
        # A dry run writes nothing: its speed is how fast it read (0.0 orders/s said nothing).
        if self.orders_per_second is None:
            return f"read {self.read_per_second:.1f} orders/s"
        return f"{self.orders_per_second:.1f} orders/s"


@define
class Mismatch:
    """A difference between a source order and its copy in the target."""

    source_id: str
    target_id: str | None
    field: str
    source_value: str
    target_value: str


@define
class MoneyLost:
    """A copy lacking money the target cannot hold: the loss fields, the amount, both totals.

    ``amount`` is signed as it counts towards the total (see :class:`~orderbridge.Loss`);
    a target that computes its total holds ``source_total - amount``.
    """

    source_id: str
    target_id: str
    fields: list[str]
    amount: str
    source_total: str
    target_total: str


@define
class VerifyReport:
    """What ``verify`` found comparing both sides through the id map."""

    source: str
    target: str
    checked: int = 0
    missing: list[str] = field(factory=list)
    mismatches: list[Mismatch] = field(factory=list)
    extra: list[str] = field(factory=list)
    """Target ids stamped by this source that the id map does not name."""
    duplicated: list[tuple[str, list[str]]] = field(factory=list)
    """Source ids with two or more copies in the target, and those copies' ids."""
    unreadable: int = 0
    """Source documents that could not be translated (not compared)."""
    money_lost: list[MoneyLost] = field(factory=list)
    """Copies lacking money the target cannot hold (money losses), with both totals."""

    @property
    def ok(self) -> bool:
        """True when every source order is in the target once, equal, and nothing extra is there."""
        return not (self.missing or self.mismatches or self.extra or self.duplicated or self.unreadable)

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return {
            "source": self.source,
            "target": self.target,
            "checked": self.checked,
            "ok": self.ok,
            "missing": self.missing,
            "extra": self.extra,
            "duplicated": [{"source_id": sid, "target_ids": ids} for sid, ids in self.duplicated],
            "unreadable": self.unreadable,
            "mismatches": [
                {
                    "source_id": m.source_id,
                    "target_id": m.target_id,
                    "field": m.field,
                    "source": m.source_value,
                    "target": m.target_value,
                }
                for m in self.mismatches
            ],
            "money_lost": [
                {
                    "source_id": m.source_id,
                    "target_id": m.target_id,
                    "fields": m.fields,
                    "amount": m.amount,
                    "source_total": m.source_total,
                    "target_total": m.target_total,
                }
                for m in self.money_lost
            ],
        }

    def summary(self) -> str:
        """A short human summary."""
        head = f"Verify {self.source} -> {self.target}: {self.checked} order(s) compared, "
        money = [
            f"  money the target cannot hold: {m.source_id} -> {m.target_id}: {', '.join(m.fields)} "
            f"({m.amount}); total {m.source_total} -> {m.target_total}"
            for m in self.money_lost[:20]
        ]
        if self.ok:
            return "\n".join([head + "all equal in every field the target holds.", *money])
        lines = [
            head
            + f"{len(self.missing)} missing, {len(self.duplicated)} duplicated, {len(self.extra)} extra, "
            f"{len(self.mismatches)} mismatch(es)"
            + (f", {self.unreadable} unreadable" if self.unreadable else "")
        ]
        lines += [f"  missing in target: {sid}" for sid in self.missing[:20]]
        lines += [f"  duplicated: {sid} -> {', '.join(ids)}" for sid, ids in self.duplicated[:20]]
        lines += [f"  extra in target (stamped, not in the id map): {tid}" for tid in self.extra[:20]]
        for m in self.mismatches[:30]:
            lines.append(f"  {m.source_id} -> {m.target_id}: {m.field}: {m.source_value} != {m.target_value}")
        return "\n".join([*lines, *money])
