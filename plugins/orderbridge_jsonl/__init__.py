"""orderbridge plugin: the ``jsonl`` backend, canonical orders in a JSON Lines file.

One canonical order per line (see ``docs/model.md``), for staging, exports and
hand inspection. Reading streams the file, so memory does not grow with it.
An order's id in a file is its label: ``"<source backend>:<source id>"`` (the
place it originally came from), so an exported file keeps its provenance.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, ClassVar

import attrs

import orderbridge as ob

__all__ = ["JsonlBackend", "JsonlOptions"]


@attrs.frozen(kw_only=True)
class JsonlOptions:
    """Options of ``jsonl``."""

    path: Path = ob.option(doc="the JSON Lines file (created on first write)")


class JsonlBackend(ob.Backend):
    """Canonical orders in a JSON Lines file.

    Options: ``path`` (the file; created on first write). Creating appends a
    line; updating and deleting rewrite the file through a temporary file that
    replaces it atomically.
    """

    name: ClassVar[str] = "jsonl"
    description: ClassVar[str] = "canonical orders in a JSON Lines file (staging, exports)"
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {ob.Capability.READ, ob.Capability.CREATE, ob.Capability.UPDATE, ob.Capability.DELETE}
    )
    natural_key_fields: ClassVar[tuple[str, ...]] = ("source",)
    # No ids of its own: an order in a file keeps its source, and its ids stay that source's.
    id_space: ClassVar[str | None] = ob.NO_ID_SPACE
    keeps_foreign_extras: ClassVar[bool] = True
    """A canonical order is stored whole: every backend's extras are kept."""

    Options = JsonlOptions
    options: JsonlOptions

    def __init__(self, options: JsonlOptions | None = None, /, **values: Any) -> None:
        """Open ``path`` (created on first write); :attr:`Options` or keyword options."""
        super().__init__(options, **values)
        self.path = self.options.path
        self._lock = threading.Lock()
        self._appender: IO[str] | None = None

    # ------------------------------------------------------------ translation

    @classmethod
    def to_canonical(cls, doc: Mapping[str, Any]) -> ob.Order:
        """A line's object is already the canonical dict."""
        return ob.order_from_dict(doc)

    @classmethod
    def from_canonical(cls, order: ob.Order) -> dict[str, Any]:
        """The canonical dict, exactly as written on a line."""
        return ob.order_to_dict(order)

    def remote_id_of(self, order: ob.Order) -> str:
        """In a file, an order is known by its label (it keeps its original source)."""
        return order.label

    # ------------------------------------------------------------ the ledger

    def site(self) -> str:
        """The file's absolute path."""
        return str(self.path.resolve())

    @property
    def writes_stamps(self) -> bool:
        """Always: a canonical order keeps its ``source``, which is its stamp."""
        return True

    def iter_ledger(self) -> Iterator[ob.Order | ob.InvalidOrder]:
        """The orders of the file as a migration target; a file not written yet holds none."""
        if not self.path.exists():
            return iter(())
        return self.iter_records()

    def stamp_of(self, order: ob.Order) -> ob.Stamp | None:
        """The canonical ``source`` of ``order`` (the file does not record the source's site)."""
        if order.source is None:
            return None
        return ob.Stamp(order.source.backend, "", order.source.remote_id)

    # ------------------------------------------------------------ reading

    def _iter_orders(self, **filters: Any) -> Iterator[ob.Order]:
        for record in self._iter_records(**filters):
            if isinstance(record, ob.InvalidOrder):
                raise record
            yield record

    def _iter_records(self, **filters: Any) -> Iterator[ob.Order | ob.InvalidOrder]:
        if filters:
            raise ob.ConfigurationError(f"the jsonl backend takes no filters, got {sorted(filters)}")
        if not self.path.exists():
            # Reading a file that is not there is a mistake (a typo in a path), not an empty source.
            raise ob.ConfigurationError(f"jsonl: no such file: {self.path}")
        with self._lock:
            if self._appender is not None:
                self._appender.flush()
        # Binary, so a line that is not UTF-8 is one bad record, not a decoding error
        # that ends the whole read.
        with self.path.open("rb") as stream:
            yield from ob.iter_jsonl_records(stream, name=str(self.path))

    def _get_order(self, remote_id: str) -> ob.Order:
        for order in self._iter_orders():
            if order.label == remote_id:
                return order
        raise ob.NotFound(f"no order {remote_id!r} in {self.path}")

    def _count_orders(self, **filters: Any) -> int | None:
        if not self.path.exists():
            return 0
        with self.path.open("rb") as stream:  # as _iter_records: bad bytes are a line like any other
            return sum(1 for line in stream if line.strip())

    # ------------------------------------------------------------ writing

    def _open_appender(self) -> IO[str]:
        if self._appender is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._drop_torn_tail()
            self._appender = self.path.open("a", encoding="utf-8")
        return self._appender

    def _drop_torn_tail(self) -> None:
        # A process killed mid-write leaves a last line without its newline;
        # that order was never acknowledged, so it is cut off, not kept.
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with self.path.open("rb+") as raw:
            raw.seek(-1, os.SEEK_END)
            if raw.read(1) == b"\n":
                return
            raw.seek(0)
            cut = raw.read().rfind(b"\n") + 1
            raw.truncate(cut)

    def _create_order(
        self, order: ob.Order, *, journal: ob.WriteJournal | None = None, stamp: ob.Stamp | None = None
    ) -> ob.Order:
        line = ob.order_to_json(order) + "\n"
        with self._lock:
            stream = self._open_appender()
            stream.write(line)
            stream.flush()
        return order

    def _lines(self) -> Iterator[bytes]:
        with self.path.open("rb") as stream:
            yield from (line for line in stream if line.strip())

    def _rewrite(self, remote_id: str, replacement: ob.Order | None) -> None:
        with self._lock:
            if self._appender is not None:
                self._appender.close()
                self._appender = None
            found = False
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as out, self.path.open("rb") as src:
                    # Lines are read as bytes and every other line is copied as it was: a bad
                    # line elsewhere in the file is neither an error here nor rewritten.
                    lines = (line for line in src if line.strip())
                    for line, record in zip(
                        lines, ob.iter_jsonl_records(self._lines(), name=str(self.path)), strict=True
                    ):
                        if isinstance(record, ob.Order) and record.label == remote_id:
                            found = True
                            if replacement is not None:
                                out.write((ob.order_to_json(replacement) + "\n").encode("utf-8"))
                            continue
                        out.write(line if line.endswith(b"\n") else line + b"\n")
                if not found:
                    raise ob.NotFound(f"no order {remote_id!r} in {self.path}")
                os.replace(tmp, self.path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)

    def _update_order(
        self,
        remote_id: str,
        order: ob.Order,
        *,
        journal: ob.WriteJournal | None = None,
        stamp: ob.Stamp | None = None,
    ) -> ob.Order:
        if not self.path.exists():
            raise ob.NotFound(f"no order {remote_id!r}: {self.path} does not exist")
        self._rewrite(remote_id, order)
        return order

    def _delete_order(self, remote_id: str) -> None:
        if not self.path.exists():
            raise ob.NotFound(f"no order {remote_id!r}: {self.path} does not exist")
        self._rewrite(remote_id, None)

    def close(self) -> None:
        """Close the file if it is open for appending."""
        with self._lock:
            if self._appender is not None:
                self._appender.close()
                self._appender = None

    def __repr__(self) -> str:
        return f"<JsonlBackend path={str(self.path)!r}>"


@ob.hookimpl
def orderbridge_register_backends(registry: ob.BackendRegistry) -> None:
    """Register the ``jsonl`` backend."""
    registry.add(JsonlBackend)
