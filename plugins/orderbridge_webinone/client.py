"""The WebinOne backends: ``webinone-v2`` (admin API) and ``webinone-v1`` (legacy API).

Clients do the I/O (through one :class:`orderbridge.Transport`) and call the
pure translation in :mod:`orderbridge_webinone.translate`. Each endpoint of the
pages is also a small public method returning the wire document.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, tzinfo
from functools import partial
from typing import Any, ClassVar, Final, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

import orderbridge as ob

from . import schema, wire
from . import translate as tr
from .options import WebinOneOptions, WebinOneV1Options, WebinOneV2Options

__all__ = ["WebinOneV1", "WebinOneV2"]

_Step = Callable[[], Any]

_STEP = {"OrderLines": "line", "Payments": "payment"}

CHILD_POST_ATTEMPTS = 3
"""Tries of one line or payment POST; after an ambiguous answer the order is read before trying again."""


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ob.ConfigurationError(f"unknown time zone {name!r} (an IANA name such as 'Australia/Sydney')")


def _doc(answer: Any, what: str) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise ob.MalformedResponse(f"{what}: expected a JSON object, got {type(answer).__name__}")
    return answer


def _page(answer: Any, what: str) -> tuple[list[Any], int]:
    page = _doc(answer, what)
    items, total = page.get("Items"), page.get("TotalItemsCount")
    if not isinstance(items, list) or type(total) is not int:
        raise ob.MalformedResponse(f"{what}: expected {{'Items': [...], 'TotalItemsCount': n}}")
    return items, total


def _parse_mark(mark: str | None) -> tuple[int, int] | None:
    """A :meth:`WebinOneV2.newest_seen` mark as ``(id, count)``, or ``None``."""
    newest, _, count = (mark or "").partition(":")
    return (int(newest), int(count)) if newest.isdigit() and count.isdigit() else None


def _list_key(item: Any) -> int | None:
    """The ``Id`` a list is ordered by (``None`` when the item has no readable one)."""
    if type(item) is _Listed:
        return item.key
    ident = item.get("Id") if isinstance(item, dict) else None
    return ident if isinstance(ident, int) and not isinstance(ident, bool) else None


class _Envelope(msgspec.Struct, gc=False):
    """A list page with its items unread (``msgspec.Raw``: each item is read on its own)."""

    Items: list[msgspec.Raw]
    TotalItemsCount: int


_ENVELOPE: Final = msgspec.json.Decoder(_Envelope).decode


class _RawPage:
    """A list page's answer: its bytes, and the page as :func:`_page` reads it, parsed only when
    an item cannot take the fast path (so such an item is read exactly as before)."""

    __slots__ = ("_answer", "_read")

    def __init__(self, answer: ob.Answer) -> None:
        self._answer = answer
        self._read: tuple[list[Any], int] | None = None

    def read(self) -> tuple[list[Any], int]:
        """``(items, TotalItemsCount)`` of the parsed page (a malformed page raises, as ever)."""
        if self._read is None:
            self._read = _page(self._answer.json(), "orders list")
        return self._read

    def items(self) -> list[Any]:
        """The page's items, parsed."""
        return self.read()[0]


class _OneAnswer(_RawPage):
    """A single order's answer, as a page of one (the order document itself)."""

    __slots__ = ()

    def read(self) -> tuple[list[Any], int]:
        """``([document], 1)``: the parsed answer (one that is no object raises, as ever)."""
        if self._read is None:
            self._read = [_doc(self._answer.json(), "order")], 1
        return self._read


class _Listed:
    """One order of a list page, read from its own bytes into the strict schema (``struct``), or,
    when that fails (``struct`` is ``None``), the page's dict of it (:meth:`doc`)."""

    __slots__ = ("_index", "_page", "key", "struct")

    def __init__(self, struct: Any, page: _RawPage, index: int, doc: Any = None) -> None:
        self.struct = struct
        self._page = page
        self._index = index
        if struct is not None:
            ident = struct.Id
            self.key: int | None = ident if type(ident) is int else None
        else:
            self.key = _list_key(self.doc() if doc is None else doc)

    def doc(self) -> Any:
        """The item as the page's dict holds it (the page is parsed the first time)."""
        return self._page.items()[self._index]

    @property
    def ident(self) -> Any:
        """The item's ``Id`` as sent (``None`` when unreadable)."""
        if self.struct is not None:
            return self.struct.Id
        item = self.doc()
        return item.get("Id") if isinstance(item, dict) else None


def _ids(items: Any) -> list[Any]:
    return [item.get("Id") for item in items or () if isinstance(item, dict)]


def _new_id(before: list[Any], after: list[Any]) -> str | None:
    """The id that appeared in ``after`` (the newest one when several did)."""
    seen = set(before)
    fresh = [i for i in after if i not in seen and i is not None]
    return str(fresh[-1]) if fresh else None


class _WebinOne(ob.Backend):
    """What both WebinOne backends share: configuration, transport, paging."""

    natural_key_fields: ClassVar[tuple[str, ...]] = ("number", "name")
    id_space: ClassVar[str | None] = tr.ID_SPACE  # v1 and v2 of one site lineage share ids
    resolver: ob.ReferenceResolver  # always set: the default resolves by identity
    _version: ClassVar[str]
    _reference_kinds: ClassVar[frozenset[str]] = frozenset(ob.REFERENCE_KINDS)
    """The reference kinds a write of this backend sends."""

    options: WebinOneOptions

    def __init__(self, options: WebinOneOptions | None = None, /, **values: Any) -> None:
        """Connect to one site with :attr:`Options` (or keyword options, read strictly)."""
        super().__init__(options, **values)
        o = self.options
        self._seen_lock = threading.Lock()
        self._seen_id: int | None = None
        self._seen_total: int | None = None
        self._found_docs: dict[str, dict[str, Any]] = {}
        if o.page_size < 2:
            # Pages overlap by one order (the seam that detects a shifted list): 2 is the least.
            raise ob.OptionError(self.name, "page_size", f"{o.page_size} is below 2")
        self.page_size = o.page_size
        self.resolver = o.resolver if o.resolver is not None else ob.ReferenceResolver()
        self.on_unresolved = o.on_unresolved
        self._owns_transport = o.transport is None
        self.transport = o.transport if o.transport is not None else self._connect(o)

    def _connect(self, o: WebinOneOptions) -> ob.Transport:
        if not o.base_url:
            raise ob.OptionError(self.name, "base_url", "required (the site's https origin)")
        auth: Any
        if o.token is not None:
            auth = ob.BearerToken(o.token)
        else:
            client_id = o.client_id or os.environ.get(wire.CLIENT_ID_ENV)
            client_secret = o.client_secret or os.environ.get(wire.CLIENT_SECRET_ENV)
            if not client_id or not client_secret:
                raise ob.ConfigurationError(
                    f"{self.name}: pass client_id and client_secret (or set {wire.CLIENT_ID_ENV} "
                    f"and {wire.CLIENT_SECRET_ENV}), or a ready token"
                )
            auth = ob.OAuthClientCredentials(wire.TOKEN_PATH, client_id, client_secret)
        return ob.Transport(
            o.base_url,
            auth=auth,
            timeout=o.timeout,
            max_retries=o.max_retries,
            rate_limit=o.rate_limit,
            allow_http=o.allow_http,
            sleep=o.sleep,
        )

    def close(self) -> None:
        """Close the transport if this backend made it."""
        if self._owns_transport:
            self.transport.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.transport.base_url}>"

    # ------------------------------------------------------------ shared helpers

    def _decode(self, doc: Any, what: str) -> ob.Order:
        raise NotImplementedError

    def _list_params(self, offset: int, limit: int, where: str | None) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def _orders_path(self) -> str:
        raise NotImplementedError

    def list_orders_page(
        self, offset: int = 0, limit: int | None = None, where: str | Mapping[str, Any] | None = None
    ) -> tuple[list[Any], int]:
        """One page of the orders list: ``(items, TotalItemsCount)`` (wire documents)."""
        params = self._list_params(offset, limit or self.page_size, wire.where_text(where))
        items, total = _page(self.transport.get(self._orders_path, params=params), "orders list")
        if where is None:
            self._note_listed(offset, items, total)
        return items, total

    def get_order_doc(self, order_id: str) -> dict[str, Any]:
        """``GET .../orders/{id}``: the order document."""
        return _doc(self.transport.get(f"{self._orders_path}/{order_id}"), "order")

    def _listed_page(
        self, offset: int, limit: int, where: str | Mapping[str, Any] | None
    ) -> tuple[list[Any], int]:
        """:meth:`list_orders_page` for the read path: each item read from its own bytes
        (:class:`_Listed`), so that no dict is built for an order the strict schema reads.

        A page whose envelope msgspec cannot read (or with an item it cannot) is parsed as
        :meth:`list_orders_page` parses it, and those items are read from that dict: one
        bad order never fails its page, and its record is the one it always was.
        """
        params = self._list_params(offset, limit, wire.where_text(where))
        answer = self.transport.fetch("GET", self._orders_path, params=params)
        page = _RawPage(answer)
        kind = self._strict_kind
        try:
            envelope = _ENVELOPE(answer.content)
        except (msgspec.DecodeError, RecursionError):
            items, total = page.read()
            listed = [_Listed(None, page, i, item) for i, item in enumerate(items)]
        else:
            total = envelope.TotalItemsCount
            listed = [
                _Listed(schema.decode_strict(raw, kind), page, i) for i, raw in enumerate(envelope.Items)
            ]
        if where is None:
            self._note_ids(offset, len(listed), [item.ident for item in listed], total)
        return listed, total

    def _where(self, filters: Mapping[str, Any]) -> str | Mapping[str, Any] | None:
        unknown = set(filters) - {"where"}
        if unknown:
            raise ob.ConfigurationError(f"{self.name}: unknown filter(s) {sorted(unknown)}; known: where")
        where: str | Mapping[str, Any] | None = filters.get("where")
        return where

    def _iter_documents(self, **filters: Any) -> Iterator[Any]:
        """Every order document of the list, once, in ``Id`` order, whatever the pages say
        (:class:`orderbridge.OffsetPaginator`: repeats, stalls, lying totals and orders deleted
        mid-walk are detected)."""
        where = self._where(filters)
        pager = ob.OffsetPaginator(
            lambda offset, limit: self._listed_page(offset, limit, where),
            page_size=self.page_size,
            key=_list_key,
        )
        self.paging_stats = pager.stats
        return iter(pager)

    def _get_document(self, remote_id: str) -> Any:
        """The order as :meth:`get_order_doc` answers it, read from its bytes (:class:`_Listed`)."""
        answer = self.transport.fetch("GET", f"{self._orders_path}/{remote_id}")
        struct = schema.decode_strict(answer.content, self._strict_kind)
        if struct is not None:
            return _Listed(struct, _OneAnswer(answer), 0)
        return _doc(answer.json(), "order")

    def decode_record(self, doc: Any) -> ob.Order | ob.InvalidOrder:
        """:meth:`orderbridge.Backend.decode_record`; an item read into the strict schema
        (:meth:`_listed_page`) is translated without a dict, and otherwise as its dict."""
        if type(doc) is _Listed:
            if doc.struct is not None:
                order = tr.read_strict(doc.struct, self._version, self._zone)
                if order is not None:
                    return order
            doc = doc.doc()
        return super().decode_record(doc)

    def decode_record_bytes(self, data: bytes) -> ob.Order | ob.InvalidOrder:
        """:meth:`orderbridge.Backend.decode_record_bytes`: straight into the strict schema
        (:func:`orderbridge_webinone.translate.to_canonical_strict`) when it reads the document,
        else as the default (the same record either way)."""
        order = tr.to_canonical_strict(data, self._version, self._zone)
        return order if order is not None else super().decode_record_bytes(data)

    @property
    def _zone(self) -> tzinfo:
        return UTC

    @property
    def _strict_kind(self) -> type[Any]:
        return schema.V2Document if self._version == tr.V2 else schema.V1Document

    def _decode_document(self, doc: Any) -> ob.Order:
        if not isinstance(doc, dict):
            raise ob.InvalidOrder(f"the list holds a {type(doc).__name__} where an order object belongs")
        if "OrderLines" not in doc and self._lines_requested:
            # The site always sends the lines it was asked for ([] when there are none).
            raise ob.InvalidOrder("is required", field="OrderLines")
        return self._decode(doc, "order")

    @property
    def _lines_requested(self) -> bool:
        return True

    def document_id(self, doc: Any) -> str | None:
        """The document's ``Id``."""
        ident = doc.get("Id") if isinstance(doc, dict) else None
        return str(ident) if isinstance(ident, int | str) and not isinstance(ident, bool) else None

    def _count_orders(self, **filters: Any) -> int | None:
        _, total = self.list_orders_page(0, 1, self._where(filters))
        return total

    def newest_seen(self) -> str | None:
        """``"<id>:<count>"``: the newest order this client has seen listed or created, and how many
        orders the site then held (where it stands in the list); ``None`` before any list."""
        with self._seen_lock:
            if self._seen_total is None:
                return None
            return f"{self._seen_id or 0}:{self._seen_total}"

    def _note_listed(self, offset: int, items: list[Any], total: int) -> None:
        """Remember where the end of the list is (the last page shows the newest order and the count)."""
        self._note_ids(offset, len(items), _ids(items), total)

    def _note_ids(self, offset: int, count: int, listed: list[Any], total: int) -> None:
        """:meth:`_note_listed` of a page of ``count`` items and the ids it shows (``listed``)."""
        if offset + count < total or (not count and offset > 0):
            return
        ids = [i for i in listed if isinstance(i, int)]
        with self._seen_lock:
            if ids:
                self._seen_id = max(ids + ([self._seen_id] if self._seen_id is not None else []))
            self._seen_total = total

    def _note_created(self, order_id: str) -> None:
        if order_id.isdigit():
            with self._seen_lock:
                self._seen_id = max(int(order_id), self._seen_id or 0)
                if self._seen_total is not None:
                    self._seen_total += 1

    def _find_order(
        self,
        order: ob.Order,
        *,
        accept: Callable[[ob.Order], bool] | None = None,
        created_after: datetime | None = None,
        after: str | None = None,
    ) -> ob.Order | None:
        """The site's copy of ``order`` by (InvoiceNumber, OrderName), newest first; no ``Where`` used.

        With ``after`` (a :meth:`newest_seen` mark), only orders newer than it are
        looked at, from the end of the list: usually one request. Otherwise the
        walk goes back from the last page and, with ``created_after``, stops at the
        first page holding an older order (ids grow with creation time: assumed,
        see :data:`wire.IDS_GROW_WITH_TIME`).
        """
        key = self.natural_key(order)
        if key is None:
            return None
        mark = _parse_mark(after)
        if mark is not None and wire.IDS_GROW_WITH_TIME:
            return self._find_after(order, mark, accept)
        _, total = self.list_orders_page(0, 1)
        offset = ((total - 1) // self.page_size) * self.page_size if total else -1
        while offset >= 0:
            items, _ = self.list_orders_page(offset, self.page_size)
            older = False
            for item in reversed(items):
                candidate = self._candidate(item, key, accept)
                made = candidate.created_at if candidate is not None else None
                if candidate is not None and (created_after is None or made is None or made >= created_after):
                    return candidate
                if created_after is not None and isinstance(item, dict) and wire.IDS_GROW_WITH_TIME:
                    created = wire.created_time(item)
                    older = older or (created is not None and created < created_after)
            if older:
                return None
            offset -= self.page_size
        return None

    def _candidate(
        self, item: Any, key: tuple[Any, ...], accept: Callable[[ob.Order], bool] | None
    ) -> ob.Order | None:
        number, name = key
        if not isinstance(item, dict) or item.get("OrderName") != name:
            return None
        invoice = item.get("InvoiceNumber")
        if invoice is None or str(invoice) != number:
            return None
        candidate = self.decode_record(item)
        if isinstance(candidate, ob.InvalidOrder):
            return None  # a copy we cannot read is no copy of ours to finish
        return candidate if accept is None or accept(candidate) else None

    def _find_after(
        self, order: ob.Order, mark: tuple[int, int], accept: Callable[[ob.Order], bool] | None
    ) -> ob.Order | None:
        """Scan the orders listed after the ``(id, count)`` mark (the list's end) for a copy of ``order``."""
        key = self.natural_key(order)
        assert key is not None
        after, count = mark
        offset = max(0, count - 1)  # the newest order seen then, and whatever came after it
        while True:
            items, total = self.list_orders_page(offset, self.page_size)
            first = next((i for i in _ids(items) if isinstance(i, int)), None)
            if offset == 0 or (first is not None and first <= after):
                break
            offset = max(0, offset - self.page_size)  # orders were deleted, or the count was stale
        found: ob.Order | None = None
        while True:
            for item in items:
                ident = item.get("Id") if isinstance(item, dict) else None
                if isinstance(ident, int) and ident > after:
                    candidate = self._candidate(item, key, accept)
                    if candidate is not None:
                        found = candidate
                        with self._seen_lock:
                            self._found_docs[str(ident)] = item
                            while len(self._found_docs) > 32:  # only the latest are of use
                                self._found_docs.pop(next(iter(self._found_docs)))
            if not items or offset + len(items) >= total:
                return found
            offset += len(items)
            items, total = self.list_orders_page(offset, self.page_size)

    def references(self, order: ob.Order) -> list[tuple[str, str]]:
        """The references a write of ``order`` needs from the target: ``(kind, value)`` pairs. Pure."""
        return [(kind, value) for kind, value, _ in self._needs(order)]

    def _needs(self, order: ob.Order) -> list[tuple[str, str, str | None]]:
        return [need for need in tr.reference_needs(order) if need[0] in self._reference_kinds]

    def plan_references(self, order: ob.Order) -> dict[str, str | None]:
        """Resolve every reference ``order`` needs without writing: kind -> target id, ``None`` if unresolved.

        A dry run reports the ``None`` entries; nothing is sent to the site
        (except what a plugin's ``orderbridge_resolve_reference`` hook does).
        """
        return {
            kind: self._lookup_reference(order, kind, value, fallback)
            for kind, value, fallback in self._needs(order)
        }

    def _lookup_reference(self, order: ob.Order, kind: str, value: str, fallback: str | None) -> str | None:
        """The target id for one reference, or ``None``.

        Table and hook values are the site's ids as the operator or plugin wrote
        them (the pages type the asset ids as strings, so ``"D1"`` may be one) and
        are sent verbatim. Only an identity guess is checked: it is the source's
        code or name when the source has no id, which is not a WebinOne id.
        """
        found, origin = self.resolver.lookup_origin(kind, value, order=order, target=self, fallback=fallback)
        if found is None or (origin == "identity" and not wire.is_target_id(found)):
            return None
        return found

    def _resolve(self, order: ob.Order) -> dict[str, str]:
        """Every reference resolved, or :class:`~orderbridge.UnresolvedReference` (before any request).

        An identity fallback that is not a WebinOne id (a code or name) is unresolved;
        table and hook values are taken as written.
        """
        refs: dict[str, str] = {}
        for kind, value, fallback in self._needs(order):
            found = self._lookup_reference(order, kind, value, fallback)
            if found is not None:
                refs[kind] = found
            elif self.on_unresolved == "fail":
                raise ob.UnresolvedReference(kind=kind, value=value, order=order.label, target=self.name)
            # "omit": written without this reference (a dry run reports it)
        return refs

    def _prepare(self, order: ob.Order) -> tuple[ob.Order, dict[str, str]]:
        """``order`` as a write may send it (no other system's ids) and its resolved references.

        References are resolved from the order as the source holds it: a member
        table is keyed by the source's member id.
        """
        refs = self._resolve(order)
        return tr.without_foreign_ids(order), refs

    def unresolved_references(self, order: ob.Order) -> list[tuple[str, str]]:
        """The ``(kind, value)`` references ``order`` needs that cannot be resolved; no request is sent."""
        plan = self.plan_references(order)
        return [(kind, value) for kind, value in self.references(order) if plan.get(kind) is None]

    def check_references(self, resolver: ob.ReferenceResolver) -> None:
        """Every mapped status and member id is an integer, as the API pages type them; every
        mapped id is one the site lists, where it lists that kind (:meth:`list_references`).

        The pages have no catalog endpoints (the lists are assumed), so whether
        an id exists can be asked only of a site that has them; but a
        ``StatusId`` or ``MemberId`` that is no positive integer can never name
        one (every order document shows both as integers). One
        :class:`~orderbridge.ConfigurationError` names the table, key and value.
        """
        for kind, field in _INTEGER_IDS.items():
            if kind not in self._reference_kinds:
                continue
            for key, value in resolver.tables.get(kind, {}).items():
                if not wire.is_target_id(value):
                    raise ob.ConfigurationError(
                        f"[references.{kind}] {key!r} = {value!r}: {self.name} takes {field} as an "
                        "integer id, and this value can never be one"
                    )
        super().check_references(resolver)  # every mapped id against the site's lists, where it has them


_INTEGER_IDS: Final = {"status": "StatusId", "member": "MemberId"}
"""Reference kinds whose ids the API pages type as integers (``StatusId``, ``StatusShort.Id``,
``MemberId`` in every order document); asset ids are typed as text (``"DiscountId": "string"``)."""


def _order_fields(order: ob.Order, refs: Mapping[str, str], tracking_key: str) -> dict[str, Any]:
    """The order fields both write bodies share, in the page's order (``None`` where unset)."""
    address = order.shipping_address
    return {
        "AWBNumber": order.tracking_number,
        "InvoiceDate": order.invoiced_at,
        "InvoiceNumber": _int_or_none(order.number),
        "MainOrderId": _int_or_none(order.parent_order_ref),
        "MemberId": _int_id(refs.get("member")),
        "OrderName": order.name,
        "PaymentState": order.payment_state.value if order.payment_state is not None else None,
        "StatusId": refs.get("status"),
        tracking_key: order.tracking_url,
        "ShippingZipCode": address.postal_code if address else None,
        "ShippingState": address.state if address else None,
        "ShippingAddress": address.line1 if address else None,
        "ShippingCity": address.city if address else None,
        "ShippingCountry": address.country if address else None,
    }


def _int_id(value: str | None) -> int | str | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return value


def _int_or_none(value: str | None) -> int | None:
    """An integer id; text that is not one cannot travel in an integer field (see ``losses``)."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


class WebinOneV2(_WebinOne):
    """The WebinOne v2 admin API (read, create, update, delete).

    Options: :class:`~orderbridge_webinone.options.WebinOneV2Options` (``base_url``,
    ``client_id``/``client_secret`` or ``token``, ``stamp_field``...; listed by
    ``orderbridge backends --options webinone-v2``).
    """

    name: ClassVar[str] = tr.V2
    _version: ClassVar[str] = tr.V2
    description: ClassVar[str] = "WebinOne v2 admin API (orders, lines, assets, payments)"
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {ob.Capability.READ, ob.Capability.CREATE, ob.Capability.UPDATE, ob.Capability.DELETE}
    )
    sets_created_at: ClassVar[bool] = True  # CreatedDateTime is the server's clock (not settable)
    Options = WebinOneV2Options
    options: WebinOneV2Options

    def __init__(self, options: WebinOneV2Options | None = None, /, **values: Any) -> None:
        """Connect to one site with :attr:`Options` (or keyword options, read strictly)."""
        super().__init__(options, **values)
        field = self.options.stamp_field
        self.stamp_field = wire.parse_stamp_field(field) if field is not None else None

    def list_references(self, kind: str) -> list[ob.ReferenceCandidate] | None:
        """The site's entries of reference ``kind`` from its catalog list (``wire.CATALOG_PATHS``).

        The API pages document no catalog endpoint: the paths are assumed, and
        a site that answers 404 or 405 for one cannot list that kind (``None``).
        Pages of :attr:`page_size` through :class:`orderbridge.OffsetPaginator`.
        """
        path = wire.CATALOG_PATHS.get(kind)
        if path is None:
            return None

        def page(offset: int, limit: int) -> tuple[list[Any], int]:
            answer = self.transport.get(path, params=wire.catalog_list_params(offset, limit))
            return _page(answer, f"{kind} catalog")

        try:
            items = list(ob.OffsetPaginator(page, page_size=self.page_size, key=_list_key))
        except ob.NotFound:
            return None
        except ob.Rejected as exc:
            if exc.status == 405:
                return None
            raise
        return [c for c in (wire.catalog_candidate(kind, item) for item in items) if c is not None]

    # ------------------------------------------------------------ translation

    @classmethod
    def to_canonical(cls, doc: Mapping[str, Any]) -> ob.Order:
        """A v2 order document (as ``GET /api/v2/admin/orders/{id}`` answers) -> canonical. Pure."""
        return tr.to_canonical(doc, tr.V2)

    @classmethod
    def from_canonical(cls, order: ob.Order) -> dict[str, Any]:
        """Canonical -> a v2 order document in the normal form. Pure."""
        return tr.from_canonical(order, tr.V2)

    @classmethod
    def normalize(cls, doc: Mapping[str, Any]) -> dict[str, Any]:
        """``doc`` in the normal form (``from_canonical(to_canonical(doc))``)."""
        return cls.from_canonical(cls.to_canonical(doc))

    @classmethod
    def _losses(cls, order: ob.Order) -> tuple[ob.Loss, ...]:
        """Fields set in ``order`` that a write through the v2 API does not carry."""
        return tr.losses_v2(order)

    def _decode(self, doc: Any, what: str) -> ob.Order:
        return tr.to_canonical(_doc(doc, what), tr.V2)

    def _list_params(self, offset: int, limit: int, where: str | None) -> dict[str, Any]:
        return wire.v2_list_params(offset, limit, where)

    @property
    def _orders_path(self) -> str:
        return wire.V2_ORDERS

    # ------------------------------------------------------------ endpoints

    def create_order_doc(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /api/v2/admin/orders``: the created order."""
        return _doc(self.transport.post(wire.V2_ORDERS, json=dict(body)), "created order")

    def update_order_doc(self, order_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /api/v2/admin/orders/{id}``: the updated order."""
        return _doc(self.transport.put(f"{wire.V2_ORDERS}/{order_id}", json=dict(body)), "updated order")

    def delete_order_doc(self, order_id: str) -> None:
        """``DELETE /api/v2/admin/orders/{id}`` (204)."""
        self.transport.delete(f"{wire.V2_ORDERS}/{order_id}")

    def update_custom_groups(self, order_id: str, groups: Mapping[str, Mapping[str, Any]]) -> None:
        """``PUT /api/v2/admin/orders/{id}/custom-crm-groups`` (204)."""
        self.transport.put(
            f"{wire.V2_ORDERS}/{order_id}/custom-crm-groups", json=wire.custom_groups_body(groups)
        )

    def add_line(self, order_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /api/v2/admin/orders/{id}/order-lines``: the order with the new line."""
        return self._add_line(order_id, body).full()

    def _add_line(self, order_id: str, body: Mapping[str, Any]) -> _Answered:
        return _Answered(
            self.transport.fetch("POST", f"{wire.V2_ORDERS}/{order_id}/order-lines", json=dict(body))
        )

    def get_line(self, line_id: str) -> dict[str, Any]:
        """``GET /api/v2/admin/orders/order-lines/{id}``: the line document."""
        return _doc(self.transport.get(f"{wire.V2_ORDERS}/order-lines/{line_id}"), "order line")

    def update_line(self, line_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /api/v2/admin/orders/order-lines/{id}``: the order."""
        return _doc(self.transport.put(f"{wire.V2_ORDERS}/order-lines/{line_id}", json=dict(body)), "order")

    def delete_line(self, line_id: str) -> None:
        """``DELETE /api/v2/admin/orders/order-lines/{id}`` (204)."""
        self.transport.delete(f"{wire.V2_ORDERS}/order-lines/{line_id}")

    def _asset(self, order_id: str, kind: str, value: str | None) -> _Answered:
        segment, key = _ASSET_ENDPOINTS[kind]
        return _Answered(
            self.transport.fetch("PUT", f"{wire.V2_ORDERS}/{order_id}/{segment}", json={key: value})
        )

    def set_discount(self, order_id: str, discount_id: str | None) -> dict[str, Any]:
        """``PUT .../{id}/discount-code`` with ``{"DiscountId"}``: the order."""
        return self._asset(order_id, "discount", discount_id).full()

    def set_gift_voucher(self, order_id: str, gift_voucher_id: str | None) -> dict[str, Any]:
        """``PUT .../{id}/gift-voucher`` with ``{"GiftVoucherId"}``: the order."""
        return self._asset(order_id, "gift_voucher", gift_voucher_id).full()

    def set_shipping_option(self, order_id: str, shipping_option_id: str | None) -> dict[str, Any]:
        """``PUT .../{id}/shipping`` with ``{"ShippingOptionId"}``: the order."""
        return self._asset(order_id, "shipping_option", shipping_option_id).full()

    def set_tax(self, order_id: str, tax_id: str | None) -> dict[str, Any]:
        """``PUT .../{id}/tax`` with ``{"TaxId"}``: the order."""
        return self._asset(order_id, "tax", tax_id).full()

    def list_payments(
        self, order_id: str, where: str | Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Every payment of an order (``GET .../{id}/payments``, paged by ``Offset``/``Limit``)."""
        found: list[dict[str, Any]] = []
        offset = 0
        while True:
            params = wire.v2_list_params(offset, self.page_size, wire.where_text(where))
            items, total = _page(
                self.transport.get(f"{wire.V2_ORDERS}/{order_id}/payments", params=params), "payments"
            )
            found.extend(_doc(item, "payment") for item in items)
            offset += len(items)
            if not items or offset >= total:
                return found

    def add_payment(self, order_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST .../{id}/payments``: the order with the new payment."""
        return self._add_payment(order_id, body).full()

    def _add_payment(self, order_id: str, body: Mapping[str, Any]) -> _Answered:
        return _Answered(
            self.transport.fetch("POST", f"{wire.V2_ORDERS}/{order_id}/payments", json=dict(body))
        )

    def update_payment(self, payment_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /api/v2/admin/orders/payments/{id}``: the order."""
        return _doc(self.transport.put(f"{wire.V2_ORDERS}/payments/{payment_id}", json=dict(body)), "order")

    def delete_payment(self, payment_id: str) -> None:
        """``DELETE /api/v2/admin/orders/payments/{id}`` (204)."""
        self.transport.delete(f"{wire.V2_ORDERS}/payments/{payment_id}")

    # ------------------------------------------------------------ write bodies (pure)

    @staticmethod
    def order_create_body(order: ob.Order, refs: Mapping[str, str]) -> dict[str, Any]:
        """The ``POST /api/v2/admin/orders`` body; keys without a value are left out."""
        fields = _order_fields(order, refs, "TrackingURL")
        if fields["InvoiceDate"] is not None:
            fields["InvoiceDate"] = wire.format_v2_time(fields["InvoiceDate"])
        return {k: v for k, v in fields.items() if v is not None}

    @staticmethod
    def order_update_body(
        order_id: str, order: ob.Order, refs: Mapping[str, str], current: ob.Order
    ) -> dict[str, Any]:
        """The ``PUT /api/v2/admin/orders/{id}`` body making the site's order match ``order``.

        Fields the site never holds as null (invoice number, payment state, status,
        currency, country) keep their current value when ``order`` has none.
        """
        fields = _order_fields(order, refs, "TrackingURL")
        body: dict[str, Any] = {"Id": _int_id(order_id), "AWBNumber": fields.pop("AWBNumber")}
        body["Currency"] = order.currency if order.currency is not None else current.currency
        body["Country"] = order.country if order.country is not None else current.country
        invoiced = order.invoiced_at
        body["InvoiceDate"] = wire.format_v2_time(invoiced) if invoiced is not None else None
        fields.pop("InvoiceDate")
        body.update(fields)
        if body["InvoiceNumber"] is None:
            body["InvoiceNumber"] = _int_id(current.number)
        if body["PaymentState"] is None and current.payment_state is not None:
            body["PaymentState"] = current.payment_state.value
        if body["StatusId"] is None and current.status is not None:
            body["StatusId"] = current.status.remote_id
        return body

    @staticmethod
    def line_create_body(line: ob.OrderLine) -> dict[str, Any]:
        """The ``POST .../order-lines`` body of a line."""
        return {
            "ProductId": _int_id(line.product_ref),
            "ProductName": line.product_name,
            "Quantity": line.quantity,
            "UnitPrice": line.unit_price,
            "Attributes": [
                {"AttributeId": _int_id(a.attribute_id), "OptionsIds": list(a.option_ids)}
                for a in line.attributes
            ],
        }

    @staticmethod
    def line_update_body(line_id: str, line: ob.OrderLine) -> dict[str, Any]:
        """The ``PUT .../order-lines/{id}`` body (``ProductId`` as text, as on the page)."""
        return {
            "Id": _int_id(line_id),
            "ProductId": line.product_ref,
            "ProductName": line.product_name,
            "Quantity": line.quantity,
            "UnitPrice": line.unit_price,
        }

    @staticmethod
    def payment_create_body(order_id: str, payment: ob.Payment) -> dict[str, Any]:
        """The ``POST .../payments`` body (``OrderId`` as text, as on the page)."""
        body: dict[str, Any] = {
            "OrderId": order_id,
            "Notes": payment.notes,
            "PaymentType": payment.payment_type.value if payment.payment_type is not None else None,
            "Amount": payment.amount,
        }
        if payment.created_at is not None:
            body["CreatedDateTime"] = wire.format_v2_time(payment.created_at)
        return {k: v for k, v in body.items() if v is not None}

    @staticmethod
    def payment_update_body(payment_id: str, order_id: str, payment: ob.Payment) -> dict[str, Any]:
        """The ``PUT .../payments/{id}`` body."""
        return {
            "Id": _int_id(payment_id),
            "OrderId": order_id,
            "Notes": payment.notes,
            "PaymentType": payment.payment_type.value if payment.payment_type is not None else None,
            "Amount": payment.amount,
        }

    # ------------------------------------------------------------ the ledger

    @property
    def writes_stamps(self) -> bool:
        """Whether a ``stamp_field`` is configured (the stamp goes in that custom CRM field)."""
        return self.stamp_field is not None

    def stamp_of(self, order: ob.Order) -> ob.Stamp | None:
        """The stamp in the ``stamp_field`` custom CRM field of ``order``, or ``None``."""
        if self.stamp_field is None:
            return None
        group, field = self.stamp_field
        return ob.Stamp.parse(order.custom_fields.get(group, {}).get(field))

    def _with_stamp(
        self, groups: Mapping[str, Mapping[str, Any]], stamp: ob.Stamp | None
    ) -> dict[str, dict[str, Any]]:
        """``groups`` plus the stamp's field, when stamping."""
        merged = {group: dict(fields) for group, fields in groups.items()}
        if stamp is not None and self.stamp_field is not None:
            group, field = self.stamp_field
            merged.setdefault(group, {})[field] = stamp.text()
        return merged

    def _add_child(self, w: _Writer, key: str, post: Callable[[], Mapping[str, Any]]) -> str | None:
        """POST a line or payment, looking at the order before posting again after an ambiguous answer.

        Returns the new child's id (from the ``key`` list of the order's answer).
        """
        before = _ids(w.doc.get(key))
        for attempt in range(CHILD_POST_ATTEMPTS):
            try:
                w.doc = post()
                break
            except ob.AmbiguousWrite:
                if attempt + 1 == CHILD_POST_ATTEMPTS:
                    raise
                w.doc = self.get_order_doc(w.order_id)
                if _new_id(before, _ids(w.doc.get(key))) is not None:
                    break  # the first POST was applied
        w.stale = False
        return _new_id(before, _ids(w.doc.get(key)))

    def _post_child(
        self,
        w: _Writer,
        key: str,
        post: Callable[[], Mapping[str, Any]],
        index: int | None = None,
        tries: int = 1,
    ) -> None:
        """POST a line or payment during a create; an ambiguous answer is settled later.

        The next write's answer (the whole order) tells whether it landed; a child of
        the same list is never posted before that is known (positions must hold).
        """
        while any(u.key == key for u in w.uncertain):  # settling may post again, uncertain again
            self._settle_uncertain(w)
        slot = w.lines if key == "OrderLines" else w.payments
        if index is None:
            slot.append(None)
            index = len(slot) - 1
        before = _ids(w.doc.get(key))
        try:
            w.doc = post()
        except ob.AmbiguousWrite:
            if tries >= CHILD_POST_ATTEMPTS:
                raise
            w.uncertain.append(_Uncertain(key, before, post, slot, index, tries))
            w.answered_since = False
            return
        w.answered_since = True
        slot[index] = _new_id(before, _ids(w.doc.get(key)))
        w.note(_STEP[key], {})
        self._settle_uncertain(w)

    def _settle_uncertain(self, w: _Writer) -> None:
        """Find out whether uncertain children landed (reading the order only if no answer since tells)."""
        if not w.uncertain:
            return
        pending, w.uncertain = w.uncertain, []
        if not w.answered_since:
            w.doc = self.get_order_doc(w.order_id)
            w.answered_since = True
        for u in pending:
            found = _new_id(u.before, _ids(w.doc.get(u.key)))
            if found is not None:
                u.slot[u.position] = found
                w.note(_STEP[u.key], {})
            else:
                self._post_child(w, u.key, u.post, u.position, u.tries + 1)  # may be uncertain again

    # ------------------------------------------------------------ operations

    def _delete_order(self, remote_id: str) -> None:
        self.delete_order_doc(remote_id)

    def _create_order(
        self, order: ob.Order, *, journal: ob.WriteJournal | None = None, stamp: ob.Stamp | None = None
    ) -> ob.Order:
        order, refs = self._prepare(order)  # UnresolvedReference before any request
        created = self.create_order_doc(self.order_create_body(order, refs))
        order_id = str(created.get("Id")) if created.get("Id") is not None else None
        if order_id is None:
            raise ob.MalformedResponse("created order: the answer has no Id")
        self._note_created(order_id)
        writer = _Writer(self, order_id, journal)
        writer.note("order", {"order_id": order_id})
        writer.doc = created
        try:
            self._write_parts(writer, order, refs, created, stamp)
        except ob.OrderbridgeError as exc:
            raise writer.partial(exc) from exc
        return self._decode(writer.result(), "order")

    def _write_parts(
        self,
        w: _Writer,
        order: ob.Order,
        refs: Mapping[str, str],
        created: dict[str, Any],
        stamp: ob.Stamp | None,
    ) -> None:
        # The stamp first: from here on even a half-written copy is recognisably ours.
        groups = self._with_stamp(order.custom_fields, stamp)
        if groups:
            self.update_custom_groups(w.order_id, groups)
            w.merge_groups(groups)
            w.note("custom_groups", {})
        # Currency and country come from the API application's profile; one PUT only if they differ.
        want_currency = order.currency if order.currency is not None else created.get("Currency")
        want_country = order.country if order.country is not None else created.get("Country")
        if (want_currency, want_country) != (created.get("Currency"), created.get("Country")):
            current = self._decode(created, "created order")
            body = self.order_update_body(w.order_id, order, refs, current)
            w.doc = self.update_order_doc(w.order_id, body)
            w.note("order_fields", {})
        # Lines first, then payments, then assets (a site that prices assets when they are set
        # sees every line). Every answer is the whole order, so it tells whether the POST before
        # it that got no clear answer landed: a payment is sent between two lines, or an asset
        # between two payments, exactly when that saves a GET.
        # Their answers are read for ids only; the last answer is parsed whole, once, at the end.
        lines = deque(partial(self._add_line, w.order_id, self.line_create_body(ln)) for ln in order.lines)
        payments = deque(
            partial(self._add_payment, w.order_id, self.payment_create_body(w.order_id, p))
            for p in tr.writable_payments(order)
        )
        assets = self._asset_writes(w, order, refs, None)
        while lines or payments:
            unclear = {u.key for u in w.uncertain}
            if lines and not ("OrderLines" in unclear and payments):
                self._post_child(w, "OrderLines", lines.popleft())
            elif lines or not ("Payments" in unclear and assets):
                self._post_child(w, "Payments", payments.popleft())
            else:
                assets.popleft()()
                self._settle_uncertain(w)
        while assets:
            assets.popleft()()
        while w.uncertain:
            self._settle_uncertain(w)

    def _asset_writes(
        self, w: _Writer, order: ob.Order, refs: Mapping[str, str], current: ob.Order | None
    ) -> deque[Callable[[], None]]:
        """The asset PUTs that make the order's assets those of ``order`` (each answers the order)."""
        wanted = _assets(order)
        have = _assets(current) if current is not None else {}
        writes: deque[Callable[[], None]] = deque()
        for kind in _ASSET_ENDPOINTS:
            want, now = wanted.get(kind), have.get(kind)
            if want == now or (want is not None and kind not in refs):  # equal, or omitted (unresolved)
                continue
            # An asset the order does not have is cleared with null (assumed; see the docs).
            target_id = refs[kind] if want is not None else None

            def write(kind: str = kind, target_id: str | None = target_id) -> None:
                w.doc = self._asset(w.order_id, kind, target_id)  # read for ids; parsed whole if last
                w.answered_since = True
                w.note(kind, {f"{kind}_id": target_id})

            writes.append(write)
        return writes

    def _write_assets(
        self, w: _Writer, order: ob.Order, refs: Mapping[str, str], current: ob.Order | None
    ) -> None:
        for write in self._asset_writes(w, order, refs, current):
            write()

    def _update_order(
        self,
        remote_id: str,
        order: ob.Order,
        *,
        journal: ob.WriteJournal | None = None,
        stamp: ob.Stamp | None = None,
    ) -> ob.Order:
        order, refs = self._prepare(order)  # UnresolvedReference before any request
        # A copy find_order just found is finished from the document that found it (no second GET).
        with self._seen_lock:
            found = self._found_docs.pop(remote_id, None)
        current_doc = found if found is not None else self.get_order_doc(remote_id)
        current = self._decode(current_doc, "order")
        w = _Writer(self, remote_id, journal)
        w.doc = current_doc
        try:
            self._update_parts(w, order, refs, current, stamp)
        except ob.OrderbridgeError as exc:
            if w.steps:
                raise w.partial(exc) from exc
            raise
        if w.stale:
            w.doc = self.get_order_doc(remote_id)
        return self._decode(w.result(), "order")

    def _update_parts(
        self,
        w: _Writer,
        order: ob.Order,
        refs: Mapping[str, str],
        current: ob.Order,
        stamp: ob.Stamp | None = None,
    ) -> None:
        oid = w.order_id
        want = self.order_update_body(oid, order, refs, current)
        now = self.order_update_body(oid, current, _current_refs(current), current)
        if want != now:
            w.doc = self.update_order_doc(oid, want)
            w.note("order_fields", {})
        groups = _changed_groups(self._with_stamp(order.custom_fields, stamp), current.custom_fields)
        if groups:
            self.update_custom_groups(oid, groups)
            w.merge_groups(groups)
            w.note("custom_groups", {})
        own = order.source is not None and order.source.backend == self.name and order.source.remote_id == oid
        # Lines: deletions first, then updates, then additions (an addition answers the full order).
        pairs, extra_current, extra_wanted = _match(order.lines, current.lines, own)
        for line in extra_current:
            self.delete_line(str(line.remote_id))
            w.stale = True
            w.note("line_deleted", {"line_id": line.remote_id})
        for want_line, cur_line in pairs:
            line_id = str(cur_line.remote_id)
            if _line_key(want_line) == _line_key(cur_line):
                continue
            if want_line.attributes != cur_line.attributes:  # the line PUT cannot change attributes
                self.delete_line(line_id)
                w.stale = True
                w.note("line_deleted", {"line_id": line_id})
                extra_wanted.append(want_line)
                continue
            w.doc = self.update_line(line_id, self.line_update_body(line_id, want_line))
            w.stale = False
            w.note("line_updated", {"line_id": line_id})
        for line in extra_wanted:
            body = self.line_create_body(line)
            new_line = self._add_child(w, "OrderLines", partial(self.add_line, oid, body))
            w.lines.append(new_line)
            w.note("line", {"line_id": new_line})
        if _assets(order) != _assets(current):
            self._write_assets(w, order, refs, current)
            w.stale = False
        pays, extra_current_p, extra_wanted_p = _match(tr.writable_payments(order), current.payments, own)
        for payment in extra_current_p:
            self.delete_payment(str(payment.remote_id))
            w.stale = True
            w.note("payment_deleted", {"payment_id": payment.remote_id})
        for want_pay, cur_pay in pays:
            payment_id = str(cur_pay.remote_id)
            if _payment_key(want_pay) == _payment_key(cur_pay):
                continue
            if want_pay.created_at is not None and want_pay.created_at != cur_pay.created_at:
                self.delete_payment(payment_id)  # the payment PUT cannot change the time
                w.stale = True
                w.note("payment_deleted", {"payment_id": payment_id})
                extra_wanted_p.append(want_pay)
                continue
            w.doc = self.update_payment(payment_id, self.payment_update_body(payment_id, oid, want_pay))
            w.stale = False
            w.note("payment_updated", {"payment_id": payment_id})
        for payment in extra_wanted_p:
            body = self.payment_create_body(oid, payment)
            new_payment = self._add_child(w, "Payments", partial(self.add_payment, oid, body))
            w.payments.append(new_payment)
            w.note("payment", {"payment_id": new_payment})


def _current_refs(current: ob.Order) -> dict[str, str]:
    refs: dict[str, str] = {}
    if current.status is not None and current.status.remote_id is not None:
        refs["status"] = current.status.remote_id
    if current.customer is not None and current.customer.remote_id is not None:
        refs["member"] = current.customer.remote_id
    return refs


def _assets(order: ob.Order) -> dict[str, str | None]:
    return {
        "discount": order.discounts[0].code if order.discounts else None,
        "gift_voucher": order.gift_vouchers[0].code if order.gift_vouchers else None,
        "shipping_option": order.shipping_lines[0].name if order.shipping_lines else None,
        "tax": order.taxes[0].code if order.taxes else None,
    }


def _changed_groups(
    wanted: Mapping[str, Mapping[str, Any]], current: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The groups/fields of ``wanted`` whose value differs from ``current`` (the endpoint merges)."""
    changed: dict[str, dict[str, Any]] = {}
    for group, fields in wanted.items():
        have = current.get(group, {})
        diff = {
            k: v for k, v in fields.items() if k not in have or have[k] != v or type(have[k]) is not type(v)
        }
        if diff:
            changed[group] = diff
    return changed


def _line_key(line: ob.OrderLine) -> tuple[Any, ...]:
    return (line.product_ref, line.product_name, line.quantity, line.unit_price, line.attributes)


def _payment_key(payment: ob.Payment) -> tuple[Any, ...]:
    return (payment.amount, payment.payment_type, payment.notes, payment.created_at)


def _match(
    wanted: tuple[Any, ...], current: tuple[Any, ...], by_id: bool
) -> tuple[list[tuple[Any, Any]], list[Any], list[Any]]:
    """Pair wanted and current lines/payments: by id when ``wanted`` is this order's, else by position."""
    if by_id:
        by_remote = {item.remote_id: item for item in current}
        pairs = [(w, by_remote.pop(w.remote_id)) for w in wanted if w.remote_id in by_remote]
        paired = {id(w) for w, _ in pairs}
        return pairs, list(by_remote.values()), [w for w in wanted if id(w) not in paired]
    n = min(len(wanted), len(current))
    return list(zip(wanted[:n], current[:n], strict=True)), list(current[n:]), list(wanted[n:])


class _Uncertain(NamedTuple):
    """A line or payment POST that got no clear answer: it may or may not have landed."""

    key: str
    before: list[Any]
    post: Callable[[], Mapping[str, Any]]
    slot: list[str | None]
    position: int
    tries: int


_ASSET_ENDPOINTS: dict[str, tuple[str, str]] = {
    "discount": ("discount-code", "DiscountId"),
    "gift_voucher": ("gift-voucher", "GiftVoucherId"),
    "shipping_option": ("shipping", "ShippingOptionId"),
    "tax": ("tax", "TaxId"),
}
"""Asset kind -> (path segment, body key) of its PUT, in the order the assets are written."""


class _Answered(Mapping[str, Any]):
    """A write's answer, the whole order, of which the writer mostly needs ids.

    The order's id and the ids of its lines and payments are read at once
    (:func:`orderbridge.jsonutil.ids`); anything else parses the whole answer,
    once (:meth:`full`).
    """

    __slots__ = ("_answer", "_full", "_ids")
    _KEYS: ClassVar[tuple[str, ...]] = ("OrderLines", "Payments")

    def __init__(self, answer: ob.Answer) -> None:
        self._answer = answer
        self._ids = answer.decode(lambda raw: ob.jsonutil.ids(raw, self._KEYS))
        self._full: dict[str, Any] | None = None

    def full(self) -> dict[str, Any]:
        """The whole answer, parsed (exact money and all)."""
        if self._full is None:
            self._full = _doc(self._answer.json(), "order")
        return self._full

    def get(self, key: str, default: Any = None) -> Any:
        if key in self._ids:
            value = self._ids[key]
            return default if value is None else value
        return self.full().get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.full()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.full())

    def __len__(self) -> int:
        return len(self.full())


class _Writer:
    """Progress of a multi-request write: the journal, what is written, the latest full answer."""

    def __init__(self, backend: WebinOneV2, order_id: str, journal: ob.WriteJournal | None) -> None:
        self.backend = backend
        self.order_id = order_id
        self.journal = journal
        self.lines: list[str | None] = []
        self.payments: list[str | None] = []
        self.steps: list[str] = []
        self.doc: Mapping[str, Any] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self.stale = False
        self.uncertain: list[_Uncertain] = []
        self.answered_since = True

    def note(self, step: str, detail: dict[str, Any]) -> None:
        self.steps.append(step)
        if self.journal is not None:
            self.journal.record(step.split(":")[0] if ":" in step else step, detail)

    def merge_groups(self, groups: Mapping[str, Mapping[str, Any]]) -> None:
        for group, fields in groups.items():
            self.groups.setdefault(group, {}).update(fields)

    def result(self) -> dict[str, Any]:
        """The latest full answer, with the custom groups this write sent merged in (answered 204)."""
        whole = self.doc.full() if isinstance(self.doc, _Answered) else dict(self.doc)
        if not self.groups:
            return whole
        doc = dict(whole)
        merged = {g: dict(f) for g, f in (doc.get("CustomCrmGroups") or {}).items()}
        for group, fields in self.groups.items():
            merged.setdefault(group, {}).update(fields)
        doc["CustomCrmGroups"] = merged
        return doc

    def partial(self, cause: BaseException) -> ob.PartialWrite:
        written = {
            "order_id": self.order_id,
            "lines": [i for i in self.lines if i is not None],
            "payments": [i for i in self.payments if i is not None],
            "steps": list(self.steps),
        }
        return ob.PartialWrite(
            f"{self.backend.name}: order {self.order_id} written in part", written=written, cause=cause
        )


class WebinOneV1(_WebinOne):
    """The WebinOne v1 legacy API (Treepl v6): read and update order fields.

    Options: :class:`~orderbridge_webinone.options.WebinOneV1Options`: those of
    ``webinone-v2`` but ``stamp_field``, plus ``site_timezone`` (v1 timestamps are
    naive local times) and ``fields`` (the nested parts a list asks for).
    """

    name: ClassVar[str] = tr.V1
    _version: ClassVar[str] = tr.V1
    description: ClassVar[str] = "WebinOne v1 legacy API (Treepl v6): read orders, update order fields"
    capabilities: ClassVar[frozenset[str]] = frozenset({ob.Capability.READ, ob.Capability.UPDATE})
    _reference_kinds: ClassVar[frozenset[str]] = frozenset({"status", "member"})

    Options = WebinOneV1Options
    options: WebinOneV1Options

    def __init__(self, options: WebinOneV1Options | None = None, /, **values: Any) -> None:
        """Connect to one site with :attr:`Options` (or keyword options, read strictly)."""
        super().__init__(options, **values)
        self.site_timezone = self.options.site_timezone
        self.zone: tzinfo = _zone(self.site_timezone)
        self.fields = self.options.fields

    # ------------------------------------------------------------ translation

    @classmethod
    def to_canonical(cls, doc: Mapping[str, Any], *, site_timezone: str = "UTC") -> ob.Order:
        """A v1 order document -> canonical; naive times are read in ``site_timezone``. Pure."""
        return tr.to_canonical(doc, tr.V1, _zone(site_timezone))

    @classmethod
    def from_canonical(cls, order: ob.Order, *, site_timezone: str = "UTC") -> dict[str, Any]:
        """Canonical -> a v1 order document in the normal form, times naive in ``site_timezone``. Pure."""
        return tr.from_canonical(order, tr.V1, _zone(site_timezone))

    @classmethod
    def normalize(cls, doc: Mapping[str, Any], *, site_timezone: str = "UTC") -> dict[str, Any]:
        """``doc`` in the normal form."""
        return cls.from_canonical(
            cls.to_canonical(doc, site_timezone=site_timezone), site_timezone=site_timezone
        )

    @classmethod
    def _losses(cls, order: ob.Order) -> tuple[ob.Loss, ...]:
        """Fields set in ``order`` that a v1 write (order fields only) does not carry."""
        return tr.losses_v1(order)

    def _decode(self, doc: Any, what: str) -> ob.Order:
        return tr.to_canonical(_doc(doc, what), tr.V1, self.zone)

    @property
    def _zone(self) -> tzinfo:
        return self.zone

    def _list_params(self, offset: int, limit: int, where: str | None) -> dict[str, Any]:
        return wire.v1_list_params(offset, limit, where, self.fields)

    @property
    def _lines_requested(self) -> bool:
        return "OrderLines" in (self.fields or "").split(",")

    @property
    def _orders_path(self) -> str:
        return wire.V1_ORDERS

    # ------------------------------------------------------------ endpoints

    def update_order_doc(self, order_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /api/v1/orders/{id}``: the updated order."""
        return _doc(self.transport.put(f"{wire.V1_ORDERS}/{order_id}", json=dict(body)), "updated order")

    def order_update_body(
        self, order_id: str, order: ob.Order, refs: Mapping[str, str], current: ob.Order
    ) -> dict[str, Any]:
        """The documented ``PUT /api/v1/orders/{id}`` body (times naive in the site's zone)."""
        fields = _order_fields(order, refs, "TrackingUrl")
        created = order.created_at if order.created_at is not None else current.created_at
        invoiced = order.invoiced_at
        body: dict[str, Any] = {
            "Id": _int_id(order_id),
            "AWBNumber": fields["AWBNumber"],
            "CreatedDateTime": wire.format_v1_time(created, self.zone) if created is not None else None,
            "Currency": order.currency if order.currency is not None else current.currency,
            "Country": order.country if order.country is not None else current.country,
            "InvoiceDate": wire.format_v1_time(invoiced, self.zone) if invoiced is not None else None,
            "InvoiceNumber": fields["InvoiceNumber"]
            if fields["InvoiceNumber"] is not None
            else _int_id(current.number),
            "MainOrderId": fields["MainOrderId"],
            "MemberId": fields["MemberId"],
            "OrderName": fields["OrderName"],
            "PaymentState": fields["PaymentState"],
            "StatusId": _int_id(fields["StatusId"]),
            "TrackingUrl": fields["TrackingUrl"],
        }
        if body["PaymentState"] is None and current.payment_state is not None:
            body["PaymentState"] = current.payment_state.value
        if body["StatusId"] is None and current.status is not None:
            body["StatusId"] = _int_id(current.status.remote_id)
        return body

    def _update_order(
        self,
        remote_id: str,
        order: ob.Order,
        *,
        journal: ob.WriteJournal | None = None,
        stamp: ob.Stamp | None = None,
    ) -> ob.Order:
        order, refs = self._prepare(order)  # UnresolvedReference before any request
        current = self.get_order(remote_id)
        want = self.order_update_body(remote_id, order, refs, current)
        if want == self.order_update_body(remote_id, current, _current_refs(current), current):
            return current
        answer = self._decode(self.update_order_doc(remote_id, want), "updated order")
        if journal is not None:
            journal.record("order_fields", {"order_id": remote_id})
        return answer
