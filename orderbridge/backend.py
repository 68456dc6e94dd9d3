"""The Backend base class every platform backend subclasses.

A backend is a class with a ``name``, a frozenset of ``capabilities``, two pure
class methods that translate between the platform's order document and the
canonical :class:`~orderbridge.model.Order`, and, on an instance connected to
a site, the I/O operations of the contract. The public operations check the
capability first and raise :class:`~orderbridge.errors.UnsupportedOperation`
before any request is sent; subclasses implement the underscored hooks.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol, Self

import attrs
from attrs import frozen

from orderbridge import jsonutil
from orderbridge.errors import InvalidOrder, UnsupportedOperation
from orderbridge.model import Order, StatusChange
from orderbridge.options import OptionError, declared_options, structure_options, unknown_key

if TYPE_CHECKING:
    from orderbridge.paging import PagingStats
    from orderbridge.references import ReferenceCandidate, ReferenceResolver

__all__ = ["Backend", "Capability", "Loss", "Stamp", "WriteJournal", "foreign_extras_losses", "merge_losses"]


class WriteJournal(Protocol):
    """Told about each request of a multi-request write as soon as it succeeds.

    A backend calls ``record(step, detail)`` right after each write request the
    server acknowledged, e.g. ``record("order", {"order_id": "812"})``,
    ``record("line", {"index": 0, "line_id": "9001"})``. The migration engine
    makes the id of step ``order`` durable before ``record`` returns, so a run
    killed part-way knows which copy is its own; it stores no other step (the
    copy is read back from the target and finished in place). ``record`` may
    therefore take a commit for step ``order``; it must not raise.
    """

    def record(self, step: str, detail: dict[str, Any]) -> None:
        """Note that ``step`` was written, with the ids the server gave."""


class Capability:
    """The capability names a backend may declare."""

    READ: Final = "read"
    """List and get orders."""
    CREATE: Final = "create"
    """Create whole orders."""
    UPDATE: Final = "update"
    """Change an existing order."""
    DELETE: Final = "delete"
    """Delete an order."""
    ADD_STATUS: Final = "add-status"
    """Append a status change to an order's history."""
    ALL: Final = frozenset({READ, CREATE, UPDATE, DELETE, ADD_STATUS})


@frozen
class Loss:
    """Something of a canonical order that a write to a backend cannot keep.

    ``field`` is the canonical path (``"billing_address.company"``,
    ``"lines[].sku"``, ``"extras.shopx"``), ``reason`` a short explanation.
    Loss reports count losses per field; they never carry the value (it may
    be personal data), with one exception: a **money loss** carries
    ``amount``, the money at ``field`` the target cannot hold, signed as it
    counts towards the order's total (a fee or a shipping cost ``+``, a
    discount or a gift voucher ``-``). A target that computes its own total
    then arrives at ``order.total - amount``; ``verify`` tells that difference
    from a wrong total. ``amount`` is ``None`` for every other loss.
    """

    field: str
    reason: str
    amount: Decimal | None = None

    @property
    def is_money(self) -> bool:
        """Whether this is a money loss (it carries an ``amount``)."""
        return self.amount is not None


def merge_losses(losses: Iterable[Loss]) -> tuple[Loss, ...]:
    """One loss per field, in first-seen order: the first reason wins, money amounts are summed."""
    found: dict[str, Loss] = {}
    for loss in losses:
        seen = found.get(loss.field)
        if seen is None:
            found[loss.field] = loss
        elif loss.amount is not None:
            total = loss.amount if seen.amount is None else seen.amount + loss.amount
            found[loss.field] = Loss(seen.field, seen.reason, total)
    return tuple(found.values())


def foreign_extras_losses(value: Any, own: str, path: str = "") -> Iterator[Loss]:
    """A loss for each ``extras`` entry of another backend than ``own``, anywhere in a canonical object.

    Extras belong to the backend that wrote them: no other backend's documents
    keep them. Paths are canonical: ``extras.shopx``, ``lines[].extras.shopx``.
    The walk follows every attrs field, so parts added to the model later are
    covered too.
    """
    for name, kind in _extras_plan(type(value)):
        item = getattr(value, name)
        if kind == "extras":
            for backend in item:
                if backend != own:
                    yield Loss(f"{path}{name}.{backend}", f"kept only for backend {backend!r}")
        elif kind == "part":
            if item is not None:
                yield from foreign_extras_losses(item, own, f"{path}{name}.")
        else:
            for part in item:
                yield from foreign_extras_losses(part, own, f"{path}{name}[].")


_EXTRAS_PLANS: dict[type, tuple[tuple[str, str], ...]] = {}


def _extras_plan(cls: type) -> tuple[tuple[str, str], ...]:
    """The fields of an attrs class that can hold extras: ``extras``, a part, or a tuple of parts.

    Read once per class from its resolved field types: the walk above runs for
    every order written, and asking each value what it is cost more than the
    translation of the order.
    """
    known = _EXTRAS_PLANS.get(cls)
    if known is not None:
        return known
    plan: list[tuple[str, str]] = []
    for attribute in attrs.fields(attrs.resolve_types(cls)):
        kind = attribute.type
        if attribute.name == "extras":
            plan.append((attribute.name, "extras"))
        elif any(attrs.has(arg) and _extras_plan(arg) for arg in _members(kind)):  # parts with extras
            is_tuple = typing.get_origin(kind) is tuple
            plan.append((attribute.name, "parts" if is_tuple else "part"))
    return _EXTRAS_PLANS.setdefault(cls, tuple(plan))


def _members(kind: Any) -> tuple[Any, ...]:
    """``kind`` and the classes it is made of (``X | None``, ``tuple[X, ...]``)."""
    args = typing.get_args(kind)
    return (kind, *args) if isinstance(kind, type) or not args else args


@frozen
class Stamp:
    """The durable mark a migration writes with each order: where the order came from.

    A target that can hold a stamp lets a migration recognise its own orders
    afterwards (the target is the ledger; the state file only caches it):
    ``backend`` and ``site`` name the source (``site`` as
    :meth:`Backend.site` gives it, ``""`` when unknown), ``remote_id`` is the
    order's id there. :meth:`text` is the form stored in the target.
    """

    backend: str
    site: str
    remote_id: str

    SEPARATOR: ClassVar[str] = "|"

    def text(self) -> str:
        """The stamp as one line of text: ``backend|site|remote_id``."""
        return self.SEPARATOR.join((self.backend, self.site, self.remote_id))

    @classmethod
    def parse(cls, text: object) -> Stamp | None:
        """The stamp written as :meth:`text`, or ``None`` when ``text`` is not one."""
        if not isinstance(text, str):
            return None
        parts = text.split(cls.SEPARATOR, 2)
        if len(parts) != 3 or not parts[0] or not parts[2]:
            return None
        return cls(parts[0], parts[1], parts[2])

    def same_order(self, other: Stamp) -> bool:
        """Whether both stamps name the same source order (an unknown site matches any)."""
        return (
            self.backend == other.backend
            and self.remote_id == other.remote_id
            and (self.site == other.site or not self.site or not other.site)
        )

    def same_source(self, backend: str, site: str) -> bool:
        """Whether this stamp was written by a migration from ``backend`` at ``site``."""
        return self.backend == backend and (self.site == site or not self.site or not site)


SECRET_OPTION_NAMES: Final = frozenset({"client_secret", "api_key", "password", "token"})
"""Option names taken as secrets for a backend that declares no :attr:`Backend.Options`."""


class Backend:
    """Base class of every backend.

    Subclasses set the class attributes and implement ``to_canonical``,
    ``from_canonical`` and the ``_operation`` methods their capabilities
    promise. Instances are made by :func:`orderbridge.connect` with the
    backend's own keyword options (base URL, credentials, path...), declared
    once in :attr:`Options`.
    """

    Options: ClassVar[type | None] = None
    """The backend's options: an attrs class of :func:`orderbridge.option` fields.

    Declared, every way of giving options (:func:`orderbridge.connect`, a TOML
    section, ``--option``) is read strictly through it, and the docs and
    ``orderbridge backends --options NAME`` list them. ``None`` (a backend that
    has not declared them): the constructor's keywords are passed as given.
    """
    options: Any = None
    """This instance's options (an instance of :attr:`Options`)."""

    name: ClassVar[str]
    """The registry name, e.g. ``"webinone-v2"``."""
    capabilities: ClassVar[frozenset[str]] = frozenset()
    """What instances can do: names from :class:`Capability`."""
    description: ClassVar[str] = ""
    """One line for ``orderbridge backends``."""
    id_space: ClassVar[str | None] = None
    """The system whose ids this backend's orders carry (member, product, status ids...).

    ``None`` (the default) means the backend's own :attr:`name`. Backends whose
    sites share ids declare one space: ``webinone-v1`` and ``webinone-v2`` both
    declare ``"webinone"`` (a v1 site and its v2 successor keep their ids).
    A backend that holds canonical orders of other systems and gives them no
    ids of its own declares :data:`~orderbridge.references.NO_ID_SPACE`
    (``jsonl``). See :func:`orderbridge.shares_ids`."""
    resolver: ReferenceResolver | None = None
    """The reference resolver a target resolves references with, when it takes one
    (its ``resolver=`` option); ``None`` for a backend that needs no references."""
    on_unresolved: str = "fail"
    """What a write does with a reference it cannot resolve: ``"fail"`` the order
    (before any request) or ``"omit"`` the reference and write the rest."""
    natural_key_fields: ClassVar[tuple[str, ...]] = ()
    """Canonical fields that identify an order on this platform besides its id
    (used to settle an ambiguous write by looking before writing again, and to
    recognise a copy when the target holds no stamp)."""

    sets_created_at: ClassVar[bool] = False
    """Whether the site gives a created order its own creation time (``created_at``),
    so that an order's age tells whether a create that got no answer made it."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        unknown = set(cls.capabilities) - Capability.ALL
        if unknown:
            raise TypeError(f"{cls.__name__} declares unknown capabilities: {sorted(unknown)}")
        if cls.Options is not None:
            declared_options(cls.Options)  # every field an option() with a doc, checked at import

    def __init__(self, options: Any = None, /, **values: Any) -> None:
        """Take a ready :attr:`Options` instance, or keyword ``values`` read strictly through it.

        A first positional argument that is not an :attr:`Options` instance is
        the value of the first declared option (``WebinOneV2(url, token=...)``,
        ``JsonlBackend("orders.jsonl")``).
        """
        declared = type(self).Options
        if declared is None:
            if options is not None or values:
                raise TypeError(f"{type(self).__name__} declares no Options")
            return
        if isinstance(options, declared):
            if values:
                raise TypeError("pass an Options instance or keyword options, not both")
        else:
            if options is not None:
                first = declared_options(declared)[0].name
                if first in values:
                    raise TypeError(f"{first} given twice")
                values = {first: options, **values}
            options = structure_options(declared, values, where=self.name)
        self.options = options

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """The options this backend takes: declared, else its constructor's keywords."""
        if cls.Options is not None:
            return tuple(info.name for info in declared_options(cls.Options))
        params = inspect.signature(cls.__init__).parameters.values()
        return tuple(p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))[1:]

    @classmethod
    def secret_options(cls) -> frozenset[str]:
        """The options that hold a secret: declared so, else the usual names (``client_secret``...)."""
        if cls.Options is not None:
            return frozenset(info.name for info in declared_options(cls.Options) if info.secret)
        return SECRET_OPTION_NAMES & set(cls.option_names())

    @classmethod
    def configure(
        cls, values: Mapping[str, Any], *, where: str | None = None, from_python: bool = True,
        runtime: Mapping[str, Any] | None = None,
    ) -> Self:  # fmt: skip
        """An instance built from raw option ``values`` (a TOML section, ``--option``, ``connect``).

        ``where`` names the place in error messages (default: the backend's
        name); ``from_python=False`` refuses options only Python can pass;
        ``runtime`` adds values the caller's own code supplies (a migration's
        resolver) where the backend takes them and ``values`` does not set them.
        """
        where = where or cls.name
        names = cls.option_names()
        extra = {k: v for k, v in (runtime or {}).items() if k in names and k not in values}
        if cls.Options is not None:
            return cls(
                structure_options(cls.Options, values, where=where, from_python=from_python, runtime=extra)
            )
        values = {**extra, **values}
        takes_any = any(p.kind is p.VAR_KEYWORD for p in inspect.signature(cls.__init__).parameters.values())
        for key in values:
            if key not in names and not takes_any:
                raise OptionError(where, key, unknown_key(key, names))
        return cls(**values)

    # ------------------------------------------------------------ translation

    @classmethod
    def to_canonical(cls, doc: Mapping[str, Any]) -> Order:
        """Translate the platform's order document (as its read API returns it). Pure."""
        raise NotImplementedError(f"{cls.__name__} does not translate documents")

    @classmethod
    def from_canonical(cls, order: Order) -> dict[str, Any]:
        """Translate a canonical order to the platform's order document. Pure."""
        raise NotImplementedError(f"{cls.__name__} does not translate documents")

    keeps_foreign_extras: ClassVar[bool] = False
    """Whether a write keeps the extras of other backends (``jsonl`` holds whole canonical
    orders). ``False`` (the default): :meth:`losses` reports each of them."""

    @classmethod
    def losses(cls, order: Order) -> tuple[Loss, ...]:
        """What a write of ``order`` to this backend cannot keep: one :class:`Loss` per field.

        The one meaning of a loss, defined here: the base reports every other
        backend's extras (unless :attr:`keeps_foreign_extras`), then adds what
        :meth:`_losses` declares, merged per field (:func:`merge_losses`).
        Backends extend :meth:`_losses`, not this method.
        """
        found: list[Loss] = []
        if not cls.keeps_foreign_extras:
            found.extend(foreign_extras_losses(order, cls.name))
        found.extend(cls._losses(order))
        return merge_losses(found)

    @classmethod
    def _losses(cls, order: Order) -> Iterable[Loss]:
        """The backend's own losses: fields set in ``order`` that a write cannot keep.

        Include foreign ids (:func:`orderbridge.foreign_id_losses`) and money
        the target cannot hold as money losses (``Loss(field, reason, amount)``);
        foreign extras are added by :meth:`losses`. Pure: no request is sent.
        """
        return ()

    def remote_id_of(self, order: Order) -> str:
        """This site's id for ``order`` as returned by this backend's reads and writes."""
        if order.source is None:
            raise ValueError(f"order {order.label} carries no source reference")
        return order.source.remote_id

    def unresolved_references(self, order: Order) -> list[tuple[str, str]]:
        """The references (kind, value) ``order`` needs that this target cannot resolve.

        Pure: no request is sent. A dry run reports these so a person can fix
        the mapping tables before the real run. Backends that need no
        references return an empty list.
        """
        return []

    @classmethod
    def natural_key(cls, order: Order) -> tuple[Any, ...] | None:
        """The values of :attr:`natural_key_fields` in ``order``, or ``None`` if any is missing."""
        if not cls.natural_key_fields:
            return None
        values = tuple(getattr(order, f) for f in cls.natural_key_fields)
        return None if any(v is None for v in values) else values

    def preflight(self) -> None:
        """Check read-only that the site answers and takes the credentials, within seconds.

        The default first checks the mapped reference ids of :attr:`resolver`
        (:meth:`check_references`, no request), then lists the orders' count (a
        token and one list request on an HTTP API). Runs, ``verify`` and
        ``export`` call it for each end they use before reading a single order.
        """
        if self.resolver is not None:
            self.check_references(self.resolver)
        if Capability.READ in self.capabilities:
            self.count_orders()

    def check_references(self, resolver: ReferenceResolver) -> None:
        """Check the target ids in ``resolver``'s mapping tables as far as the API allows.

        Raise :class:`~orderbridge.errors.ConfigurationError` in one line naming
        the table, the key and the value of the first id that cannot be one of
        this site's (a text where the API types the id as an integer, say), or
        that the site says does not exist, when its API can be asked. The
        default checks, for each kind :meth:`list_references` can list, that
        every mapped value is one of the listed ids
        (:func:`orderbridge.check_listed_ids`); a backend that lists nothing
        sends no request here. Called by :meth:`preflight`, before any order
        is read.
        """
        from orderbridge.references import check_listed_ids

        check_listed_ids(self, resolver)

    def list_references(self, kind: str) -> list[ReferenceCandidate] | None:
        """The entries this site holds for reference ``kind`` (a :data:`~orderbridge.REFERENCE_KINDS` name).

        A list of :class:`~orderbridge.ReferenceCandidate` (the site's id and a
        name a person recognises), or ``None`` when the site cannot list that
        kind (no such endpoint, or the backend does not know one). A dry run
        writes them into its ``references.toml`` template as the candidates to
        map to, and :meth:`check_references` checks mapped ids against them.
        The default lists nothing. A transport error is raised as it is.
        """
        return None

    # ------------------------------------------------------------ the ledger (a migration target's side)

    def site(self) -> str:
        """Which site this instance talks to: its base URL, a file path... (``""`` if unknown).

        A state file is bound to the source's and the target's :meth:`endpoint`;
        a stamp names its source by backend name and site.
        """
        transport = getattr(self, "transport", None)
        base_url = getattr(transport, "base_url", None)
        return str(base_url) if base_url else ""

    def endpoint(self) -> str:
        """The backend name and :meth:`site`, e.g. ``"webinone-v2 https://shop.example.com"``."""
        site = self.site()
        return f"{self.name} {site}" if site else self.name

    @property
    def writes_stamps(self) -> bool:
        """Whether :meth:`create_order` writes the :class:`Stamp` it is given, so that
        :meth:`stamp_of` recognises the order later. Backends that can, override this."""
        return False

    def stamp_of(self, order: Order) -> Stamp | None:
        """The stamp ``order`` (as this site holds it) carries, or ``None``."""
        return None

    def iter_ledger(self) -> Iterator[Order | InvalidOrder]:
        """Every order the site holds, for a migration to find its own copies (list pages, no per-order GET).

        Defaults to :meth:`iter_records`; deleted orders (``is_deleted``) may
        be included: the migration ignores them.
        """
        return self.iter_records()

    # ------------------------------------------------------------ operations

    def _require(self, capability: str, operation: str) -> None:
        if capability not in self.capabilities:
            raise UnsupportedOperation(self.name, operation, self.capabilities)

    def iter_orders(self, **filters: Any) -> Iterator[Order]:
        """Iterate over the site's orders lazily, fetching pages as needed.

        A document that cannot be translated raises its
        :class:`~orderbridge.errors.InvalidOrder` (:meth:`iter_records` goes on instead).
        """
        self._require(Capability.READ, "iter_orders")
        if self._reads_documents():
            return _orders_only(self._records(filters))
        return self._iter_orders(**filters)

    def iter_records(self, **filters: Any) -> Iterator[Order | InvalidOrder]:
        """Like :meth:`iter_orders`, but a document that cannot be translated
        yields its :class:`~orderbridge.errors.InvalidOrder` and iteration goes on.

        The migration engine reads through this so that one bad order is
        recorded as failed instead of stopping the run.
        """
        self._require(Capability.READ, "iter_records")
        if self._reads_documents():
            return self._records(filters)
        return self._iter_records(**filters)

    def get_order(self, remote_id: str) -> Order:
        """Fetch one order by its id on this site."""
        self._require(Capability.READ, "get_order")
        if type(self)._get_document is not Backend._get_document:
            record = self.decode_record(self._get_document(str(remote_id)))
            if isinstance(record, InvalidOrder):
                raise record
            return record
        return self._get_order(str(remote_id))

    # ------------------------------------------------------------ the document pipeline

    def _iter_documents(self, **filters: Any) -> Iterator[Any]:
        """The site's raw order documents, lazily, as its list API gives them.

        Implement this (and :meth:`_get_document`) rather than ``_iter_orders``:
        the base class then turns each document into an order through
        :meth:`decode_record`, so one bad document is one failed record and the
        walk goes on. A document the backend already knows to be bad may be
        yielded as an :class:`~orderbridge.errors.InvalidOrder`.
        """
        raise NotImplementedError(f"{type(self).__name__} does not list documents")

    def _get_document(self, remote_id: str) -> Any:
        """One raw order document by its id on this site."""
        raise NotImplementedError(f"{type(self).__name__} does not get documents")

    def _decode_document(self, doc: Any) -> Order:
        """Translate one raw document as this instance reads it (default: :meth:`to_canonical`)."""
        return type(self).to_canonical(doc)

    def document_id(self, doc: Any) -> str | None:
        """The id a raw document gives itself, when it can be read (error messages name it)."""
        return None

    def decode_record(self, doc: Any) -> Order | InvalidOrder:
        """One raw document as an order, or as the :class:`~orderbridge.errors.InvalidOrder`
        saying why it is not one (never raises for a bad document).

        The document is first checked for what no order may hold (NaN,
        invalid UTF-8, nesting or size past the limits of
        :func:`orderbridge.jsonutil.find_problem`); then any exception its
        translation raises (a wrong type, a missing key, a number out of
        range, a recursion...) becomes an ``InvalidOrder`` naming the order
        (when its id can be read) and, where known, the field.
        """
        if isinstance(doc, InvalidOrder):
            return doc
        ident = self._safe_document_id(doc)
        problem = jsonutil.find_problem(doc)
        if problem is not None:
            path, message = problem
            return InvalidOrder(message, field=path or None, order=ident or "?")
        try:
            return self._decode_document(doc)
        except InvalidOrder as exc:
            return exc if exc.order is not None else exc.within(order=ident or "?")
        except Exception as exc:  # translation is pure: any failure is this document's
            return InvalidOrder(
                f"cannot be translated ({type(exc).__name__}: {_short(exc)})",
                field=_key_of(exc),
                order=ident or "?",
            )

    def decode_record_bytes(self, data: bytes) -> Order | InvalidOrder:
        """:meth:`decode_record` of one document's JSON bytes (as a single-order GET answers them).

        The default parses ``data`` with :func:`orderbridge.jsonutil.loads` (text
        that is not JSON is an ``InvalidOrder``) and calls :meth:`decode_record`.
        A backend may read the bytes faster (straight into typed structs, say) as
        long as every record is the one this default gives: the same order, or
        the same ``InvalidOrder``. Never raises for a bad document.
        """
        try:
            doc = jsonutil.loads(data)
        except ValueError as exc:
            return InvalidOrder(f"is not JSON ({_short(exc)})", order="?")
        return self.decode_record(doc)

    def _safe_document_id(self, doc: Any) -> str | None:
        try:
            ident = self.document_id(doc)
        except Exception:  # an unreadable id is reported as "?"
            return None
        return ident if isinstance(ident, str) and ident else None

    paging_stats: PagingStats | None = None
    """What the last walk of :meth:`iter_records` saw of the site's paging (claimed and read
    counts, oddities), when the backend pages through an ``orderbridge.paging`` paginator."""

    def _reads_documents(self) -> bool:
        return type(self)._iter_documents is not Backend._iter_documents

    def _records(self, filters: Mapping[str, Any]) -> Iterator[Order | InvalidOrder]:
        for doc in self._iter_documents(**filters):
            yield self.decode_record(doc)

    def find_order(
        self,
        order: Order,
        *,
        accept: Callable[[Order], bool] | None = None,
        created_after: datetime | None = None,
        after: str | None = None,
    ) -> Order | None:
        """Find this site's copy of ``order`` by natural key, newest first, or ``None``.

        Used to settle an ambiguous write: did the order reach the server?
        ``accept`` filters candidates (the first accepted one is returned);
        ``created_after`` lets a backend that sets creation times itself skip
        (and stop looking at) orders created before that moment; ``after``, a
        :meth:`newest_seen` mark taken before the write, lets it look only at
        orders created since.
        """
        self._require(Capability.READ, "find_order")
        if accept is None and created_after is None and after is None:
            return self._find_order(order)
        if after is None:
            return self._find_order(order, accept=accept, created_after=created_after)
        return self._find_order(order, accept=accept, created_after=created_after, after=after)

    def newest_seen(self) -> str | None:
        """An opaque mark of the newest order this instance has seen, or ``None``.

        Taken before a create, it lets :meth:`find_order` (``after=``) look only at
        orders created since. Backends whose ids grow with time override this.
        """
        return None

    def count_orders(self, **filters: Any) -> int | None:
        """How many orders :meth:`iter_orders` would yield, when the site says cheaply; else ``None``."""
        self._require(Capability.READ, "count_orders")
        return self._count_orders(**filters)

    def create_order(
        self, order: Order, *, journal: WriteJournal | None = None, stamp: Stamp | None = None
    ) -> Order:
        """Write ``order`` as a new order; returns the order as the site now holds it.

        A write that takes several requests tells ``journal`` about each one
        as it succeeds, and raises :class:`~orderbridge.errors.PartialWrite`
        saying what was written if it fails part-way. ``stamp`` (given only
        when :attr:`writes_stamps`) is written with the order, as early as
        the platform allows, so that even a half-written copy is recognisable.
        """
        self._require(Capability.CREATE, "create_order")
        if stamp is None:
            return self._create_order(order, journal=journal)
        return self._create_order(order, journal=journal, stamp=stamp)

    def update_order(
        self,
        remote_id: str,
        order: Order,
        *,
        journal: WriteJournal | None = None,
        stamp: Stamp | None = None,
    ) -> Order:
        """Make the site's order ``remote_id`` match ``order``, changing only what differs.

        Returns the order as the site now holds it. This is also how a
        migration finishes a half-written copy in place; ``stamp`` (only when
        :attr:`writes_stamps`) is written too if the copy lacks it.
        """
        self._require(Capability.UPDATE, "update_order")
        if stamp is None:
            return self._update_order(str(remote_id), order, journal=journal)
        return self._update_order(str(remote_id), order, journal=journal, stamp=stamp)

    def delete_order(self, remote_id: str) -> None:
        """Delete the site's order ``remote_id``."""
        self._require(Capability.DELETE, "delete_order")
        self._delete_order(str(remote_id))

    def add_status(self, remote_id: str, change: StatusChange) -> Order:
        """Append a status change to the site's order; returns the order as now held."""
        self._require(Capability.ADD_STATUS, "add_status")
        return self._add_status(str(remote_id), change)

    # Subclasses implement the operations they declare. Reaching one of these
    # means a capability was declared without its implementation.
    def _iter_orders(self, **filters: Any) -> Iterator[Order]:
        raise NotImplementedError(f"{type(self).__name__} declares read but does not implement it")

    def _iter_records(self, **filters: Any) -> Iterator[Order | InvalidOrder]:
        # Backends that translate page by page override this to go on past a
        # bad document; this fallback can only stop at the first one.
        return iter(self._iter_orders(**filters))

    def _get_order(self, remote_id: str) -> Order:
        raise NotImplementedError(f"{type(self).__name__} declares read but does not implement it")

    def _find_order(
        self,
        order: Order,
        *,
        accept: Callable[[Order], bool] | None = None,
        created_after: datetime | None = None,
        after: str | None = None,
    ) -> Order | None:
        key = self.natural_key(order)
        if key is None:
            return None
        found = None
        for candidate in self.iter_records():
            if isinstance(candidate, InvalidOrder):
                continue  # a document we cannot read is no copy to settle a write with
            if self.natural_key(candidate) == key and (accept is None or accept(candidate)):
                found = candidate  # the last one listed is the newest
        return found

    def _count_orders(self, **filters: Any) -> int | None:
        return None

    def _create_order(
        self, order: Order, *, journal: WriteJournal | None = None, stamp: Stamp | None = None
    ) -> Order:
        raise NotImplementedError(f"{type(self).__name__} declares create but does not implement it")

    def _update_order(
        self,
        remote_id: str,
        order: Order,
        *,
        journal: WriteJournal | None = None,
        stamp: Stamp | None = None,
    ) -> Order:
        raise NotImplementedError(f"{type(self).__name__} declares update but does not implement it")

    def _delete_order(self, remote_id: str) -> None:
        raise NotImplementedError(f"{type(self).__name__} declares delete but does not implement it")

    def _add_status(self, remote_id: str, change: StatusChange) -> Order:
        raise NotImplementedError(f"{type(self).__name__} declares add-status but does not implement it")

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Release connections and files. Safe to call twice."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def _orders_only(records: Iterator[Order | InvalidOrder]) -> Iterator[Order]:
    for record in records:
        if isinstance(record, InvalidOrder):
            raise record
        yield record


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:200] + "..."


def _key_of(exc: BaseException) -> str | None:
    """The field a ``KeyError`` names (a required key the document lacks)."""
    if isinstance(exc, KeyError) and exc.args and isinstance(exc.args[0], str):
        return exc.args[0]
    return None
