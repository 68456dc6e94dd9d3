"""The target as the ledger: which of its orders a migration wrote, read once from its list pages.

A migration recognises its own copies in the target by their :class:`~orderbridge.Stamp`
(a durable mark naming the source order) or, where the target holds no stamp, by
natural key (a copy equal to the source in every field the target holds). The
state file only caches what this ledger says, so a lost, new or shared state
file never leads to a second copy.

:class:`TargetLedger` holds, for one run, every live order of the target in a
compact form (the fields :func:`holds_all` compares; about 1 KB each), indexed
by the source id its stamp names and by natural key.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import attrs

from orderbridge.backend import Backend, Stamp
from orderbridge.errors import InvalidOrder
from orderbridge.model import Order

__all__ = ["LedgerEntry", "TargetLedger", "source_stamp"]


@attrs.frozen
class LedgerEntry:
    """One live order of the target: its id, its stamp and a compact copy for comparisons."""

    target_id: str
    stamp: Stamp | None
    copy: Order


def source_stamp(order: Order, source: Backend, site: str) -> Stamp | None:
    """The stamp naming where ``order`` (read from ``source`` at ``site``) comes from.

    It names the order's own ``source``: a staging file keeps the original one, so
    a copy written through it and one written directly are recognised as the same
    order. The site is known only when the order comes from ``source`` itself.
    """
    if order.source is None:
        return None
    known_site = site if order.source.backend == source.name else ""
    return Stamp(order.source.backend, known_site, order.source.remote_id)


def _compact(order: Order) -> Order:
    # What holds_all compares is kept; addresses, history and extras are not, to save memory.
    return attrs.evolve(order, extras={}, status_history=(), billing_address=None, shipping_address=None)


class TargetLedger:
    """The target's live orders, indexed for one migration from ``source_name`` at ``source_site``.

    ``stamped(stamp)`` are the copies whose stamp names that source order;
    ``unstamped_matches(order)`` the unstamped orders with the same natural key.
    Copies the run writes are added with :meth:`add`, so the index stays true.
    """

    def __init__(self, target: Backend, source_name: str, source_site: str) -> None:
        self.target = target
        self.source_name = source_name
        self.source_site = source_site
        self.entries: dict[str, LedgerEntry] = {}
        self._by_stamp: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._by_key: dict[tuple[Any, ...], list[str]] = {}
        self._lock = threading.Lock()
        self.unreadable = 0
        """Target documents that could not be translated (never adopted, never touched)."""
        self.deleted = 0
        """Orders the target lists as deleted (ignored)."""
        self.requests = 0
        """Requests the read cost (when the target has a transport that counts them)."""
        self.seconds = 0.0
        self.first_stamped_at: datetime | None = None
        """When the oldest stamped copy was created (a migration's window opens)."""
        self.read_at = datetime.now(UTC)
        """When the read began: an order listed then existed before any write of this run."""

    @classmethod
    def read(cls, target: Backend, source_name: str, source_site: str) -> TargetLedger:
        """Read every order of ``target`` once, through its list pages."""
        ledger = cls(target, source_name, source_site)
        before = _requests(target)
        ledger.read_at = datetime.now(UTC)
        started = time.monotonic()
        ledger.add_all(target.iter_ledger())
        ledger.seconds = time.monotonic() - started
        ledger.requests = _requests(target) - before
        return ledger

    def add_all(self, records: Iterable[Order | InvalidOrder]) -> None:
        """Index ``records`` (orders of the target; an unreadable one is counted)."""
        for record in records:
            if isinstance(record, InvalidOrder):
                self.unreadable += 1
            elif record.is_deleted:
                self.deleted += 1
            else:
                self.add(record)

    def add(self, order: Order) -> None:
        """Index (or re-index) one order as the target holds it."""
        target_id = self.target.remote_id_of(order)
        stamp = self.target.stamp_of(order)
        entry = LedgerEntry(target_id, stamp, _compact(order))
        with self._lock:
            self.entries[target_id] = entry
            if stamp is not None:
                entries = self._by_stamp.setdefault((stamp.backend, stamp.remote_id), [])
                if all(tid != target_id for tid, _ in entries):
                    entries.append((target_id, stamp.site))
                made = order.created_at
                if made is not None and (self.first_stamped_at is None or made < self.first_stamped_at):
                    self.first_stamped_at = made
                return
            key = self.target.natural_key(order)
            if key is not None:
                ids = self._by_key.setdefault(key, [])
                if target_id not in ids:
                    ids.append(target_id)

    def discard(self, target_id: str) -> None:
        """Forget a copy that was deleted."""
        with self._lock:
            self.entries.pop(target_id, None)
            for entries in self._by_stamp.values():
                entries[:] = [(tid, site) for tid, site in entries if tid != target_id]
            for ids in self._by_key.values():
                if target_id in ids:
                    ids.remove(target_id)

    def stamped(self, stamp: Stamp) -> list[str]:
        """Target ids of the copies whose stamp names the same source order as ``stamp``."""
        with self._lock:
            entries = list(self._by_stamp.get((stamp.backend, stamp.remote_id), ()))
        return [tid for tid, site in entries if site == stamp.site or not site or not stamp.site]

    def unstamped_matches(self, order: Order) -> list[str]:
        """Target ids of unstamped orders with the natural key of ``order``."""
        key = self.target.natural_key(order)
        if key is None:
            return []
        with self._lock:
            return list(self._by_key.get(key, ()))

    def stamped_by(self, backend: str, site: str) -> list[str]:
        """Target ids of every copy stamped by a migration from ``backend`` at ``site``."""
        with self._lock:
            return [
                tid
                for (stamp_backend, _), entries in self._by_stamp.items()
                if stamp_backend == backend
                for tid, stamp_site in entries
                if stamp_site == site or not stamp_site or not site
            ]

    def get(self, target_id: str) -> LedgerEntry | None:
        """The entry of ``target_id``, or ``None`` when the target does not hold it (live)."""
        with self._lock:
            return self.entries.get(target_id)

    def __len__(self) -> int:
        return len(self.entries)


def _requests(target: Backend) -> int:
    count = getattr(getattr(target, "transport", None), "request_count", 0)
    return count if isinstance(count, int) else 0
