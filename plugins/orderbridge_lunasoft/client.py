"""The ``lunasoft-cart`` backend: read orders from a Lunasoft shopping cart module and add statuses.

All HTTP goes through :class:`orderbridge.Transport`; translation is inherited
from :class:`~orderbridge_lunasoft.translate.CartTranslator`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from functools import partial
from typing import Any, ClassVar, Final
from urllib.parse import quote

import attrs

import orderbridge as ob
from orderbridge_lunasoft.translate import BACKEND_NAME, CartTranslator

PAGE_SIZE: Final = 50
"""Orders per list page (documented: the cart's fixed page size)."""

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_SORT",
    "LunasoftCartBackend",
    "LunasoftOptions",
    "format_created_on_after",
]

API_KEY_ENV: Final = "LUNASOFT_API_KEY"
"""Environment variable read for the API key when none is passed."""

DEFAULT_SORT: Final = "id"
"""``iter_orders`` walks in ascending id order unless told otherwise (the wire's own default is ``-id``)."""

_FILTERS: Final = frozenset({"sort", "id", "created_on_after", "page", "statuses"})


def format_created_on_after(value: datetime | str) -> str:
    """Unverified: ``created_on_after`` is sent as ISO 8601 with offset (``2015-04-27T17:34:31-06:00``)."""
    if isinstance(value, str):
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ob.ConfigurationError("created_on_after must be timezone-aware")
    return value.isoformat(timespec="seconds")


def _check_sort(sort: str) -> str:
    for part in sort.split(","):
        if part.lstrip("-") not in ("id", "created"):
            raise ob.ConfigurationError(
                f"sort must name id and/or created (with '-' for descending), got {sort!r}"
            )
    return sort


def _sort_key(sort: str) -> Callable[[Any], tuple[Any, ...] | None]:
    """A key that ascends along the list as ``sort`` orders it (``-`` descending: negated)."""
    fields = [(part.lstrip("-"), part.startswith("-")) for part in sort.split(",")]

    def key(doc: Any) -> tuple[Any, ...] | None:
        values: list[Any] = []
        for name, descending in fields:
            if name == "id":
                value: Any = _order_key(doc)
            else:
                value = _created_seconds(doc)
            if value is None:
                return None
            values.append(-value if descending else value)
        ident = _order_key(doc)  # ties (same second) broken by id, in the same direction as the last field
        if ident is None:
            return None
        return (*values, -ident if fields[-1][1] else ident)

    return key


def _created_seconds(doc: Any) -> float | None:
    text = doc.get("created") if isinstance(doc, Mapping) else None
    try:
        created = datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return created.timestamp() if created is not None and created.tzinfo is not None else None


def _order_key(doc: Any) -> int | None:
    """The numeric ``id`` the list is sorted by (``None`` when unreadable)."""
    ident = doc.get("id") if isinstance(doc, Mapping) else None
    if isinstance(ident, int) and not isinstance(ident, bool):
        return ident
    return int(ident) if isinstance(ident, str) and ident.isdigit() else None


@attrs.frozen(kw_only=True)
class LunasoftOptions:
    """Options of ``lunasoft-cart`` (listed by ``orderbridge backends --options lunasoft-cart``)."""

    base_url: ob.HttpUrl | None = ob.option(
        None, doc="the whole cart module URL, e.g. https://shop.example.com/api/v1/shopping_cart"
    )
    api_key: str | None = ob.option(None, secret=True, doc=f"the API key (default: ${API_KEY_ENV})")
    api_key_header: str = ob.option("Authorization", doc="the header the key is sent in")
    api_key_prefix: str = ob.option(
        "Bearer", doc="the text before the key in that header (empty: the bare key)"
    )
    username: str | None = ob.option(None, doc="HTTP Basic user, instead of a key")
    password: str | None = ob.option(None, secret=True, doc="HTTP Basic password, instead of a key")
    timeout: ob.Timeout = ob.option((5.0, 30.0), doc="seconds to connect and to read an answer")
    max_retries: int = ob.option(4, doc="retries of a request that failed transiently (429, 5xx, connection)")
    rate_limit: float | None = ob.option(None, doc="requests per second at most (none: no limit)")
    allow_http: bool = ob.option(
        False, doc="allow plain http to a host that is not loopback (never do on a live site)"
    )
    fetch_statuses: bool = ob.option(
        True, doc="fetch each order once more for its status history (list pages carry none)"
    )
    transport: ob.Transport | None = ob.option(
        None, python_only=True, doc="a ready orderbridge.Transport (then base_url and credentials are unused)"
    )
    sleep: Callable[[float], None] = ob.option(
        time.sleep, python_only=True, doc="how to wait (tests inject one)"
    )


class LunasoftCartBackend(CartTranslator, ob.Backend):
    """A Lunasoft shopping cart module: list and get orders, add a status to an order.

    ``base_url`` is the whole module URL (``https://shop.example.com/api/v1/shopping_cart``).
    Credentials: an API key (``api_key``, else the ``LUNASOFT_API_KEY`` environment
    variable) sent as ``<api_key_header>: <api_key_prefix> <key>`` (default
    ``Authorization: Bearer <key>``; an empty prefix sends the bare key), or HTTP
    Basic with ``username`` and ``password``. ``timeout``, ``max_retries``,
    ``rate_limit`` (requests per second), ``allow_http`` and ``sleep`` go to the
    :class:`orderbridge.Transport`; pass a ready ``transport`` instead to share one.
    ``fetch_statuses`` (default ``True``): list pages carry no status history, so
    ``iter_orders`` fetches each order once more to get it; ``False`` saves those
    requests and yields orders without ``status_history``.
    """

    name: ClassVar[str] = BACKEND_NAME
    description: ClassVar[str] = "Lunasoft shopping cart module (read orders, add statuses)"
    capabilities: ClassVar[frozenset[str]] = frozenset({ob.Capability.READ, ob.Capability.ADD_STATUS})
    natural_key_fields: ClassVar[tuple[str, ...]] = ("number",)

    Options = LunasoftOptions
    options: LunasoftOptions

    def __init__(self, options: LunasoftOptions | None = None, /, **values: Any) -> None:
        """Connect to one cart module with :attr:`Options` (or keyword options, read strictly)."""
        super().__init__(options, **values)
        o = self.options
        self.fetch_statuses = o.fetch_statuses
        self._owns_transport = o.transport is None
        self.transport = o.transport if o.transport is not None else self._connect(o)

    def _connect(self, o: LunasoftOptions) -> ob.Transport:
        if not o.base_url:
            raise ob.OptionError(self.name, "base_url", "required (the whole cart module URL)")
        auth: ob.ApiKeyAuth | ob.BasicAuth
        if o.username is not None or o.password is not None:
            if o.api_key is not None:
                raise ob.ConfigurationError("pass either api_key or username/password, not both")
            if not o.username or not o.password:
                raise ob.ConfigurationError("HTTP Basic needs both username and password")
            auth = ob.BasicAuth(o.username, o.password)
        else:
            key = o.api_key if o.api_key is not None else os.environ.get(API_KEY_ENV)
            if not key:
                raise ob.ConfigurationError(
                    f"lunasoft-cart needs credentials: api_key, the {API_KEY_ENV} environment "
                    "variable, or username and password"
                )
            auth = ob.ApiKeyAuth(key, header=o.api_key_header, prefix=o.api_key_prefix)
        return ob.Transport(
            o.base_url,
            auth=auth,
            timeout=o.timeout,
            max_retries=o.max_retries,
            rate_limit=o.rate_limit,
            allow_http=o.allow_http,
            sleep=o.sleep,
        )

    # ------------------------------------------------------------ reading

    def _iter_documents(self, **filters: Any) -> Iterator[Any]:
        """Every order document, once, in ``sort`` order (default ``id``, ascending).

        Filters: ``id`` (orders with id >= it), ``created_on_after`` (an aware
        datetime or ready text), ``sort`` (``"id"``, ``"-id"``, ``"created"``,
        ``"-created"``, comma-joined), ``page`` (first page, default 1),
        ``statuses`` (overrides ``fetch_statuses``). Sorted by ``id`` from the
        first page, the walk is by key (``id`` = the last id read: no page
        numbers to shift when orders come or go); otherwise by page number.
        Either way repeats and stalls are detected (``orderbridge.paging``).
        """
        unknown = set(filters) - _FILTERS
        if unknown:
            raise ob.ConfigurationError(
                f"lunasoft-cart filters are {sorted(_FILTERS)}; unknown: {sorted(unknown)}"
            )
        params: dict[str, Any] = {"sort": _check_sort(str(filters.get("sort", DEFAULT_SORT)))}
        if filters.get("id") is not None:
            params["id"] = str(filters["id"])
        if filters.get("created_on_after") is not None:
            params["created_on_after"] = format_created_on_after(filters["created_on_after"])
        with_statuses = bool(filters.get("statuses", self.fetch_statuses))
        page = int(filters.get("page", 1))
        pager: ob.KeysetPaginator | ob.PageNumberPaginator
        if params["sort"] == "id" and page == 1:
            pager = ob.KeysetPaginator(
                partial(self._keyset_page, params), key=_order_key, page_size=PAGE_SIZE
            )
        else:
            pager = ob.PageNumberPaginator(
                partial(self._numbered_page, params), key=_sort_key(params["sort"]), first_page=page
            )
        self.paging_stats = pager.stats
        return self._with_statuses(iter(pager)) if with_statuses else iter(pager)

    def _keyset_page(self, params: dict[str, Any], from_key: Any) -> list[Any]:
        """Page 1 of the orders with id >= ``from_key`` (the filter's meaning)."""
        query = {**params, "page": "1"}
        if from_key is not None:
            query["id"] = str(from_key)
        docs, _ = self._page(self.transport.get("orders", params=query), 1)
        return docs

    def _numbered_page(self, params: dict[str, Any], page: int) -> tuple[list[Any], int | None]:
        return self._page(self.transport.get("orders", params={**params, "page": str(page)}), page)

    def _with_statuses(self, listed: Iterator[Any]) -> Iterator[Any]:
        """Each listed order as its single GET answers it (list pages carry no status history)."""
        for doc in listed:
            ident = self.document_id(doc)
            if ident is None:
                yield doc  # the pipeline reports it
                continue
            try:
                yield self._get_document(ident)
            except ob.NotFound:
                yield ob.InvalidOrder("listed, then deleted from the source before it was read", order=ident)

    def _get_document(self, remote_id: str) -> Any:
        answer = self.transport.get(self._order_path(remote_id))
        if not isinstance(answer, Mapping):
            raise ob.MalformedResponse(
                "order answer is not an object", method="GET", url=self._order_url(remote_id)
            )
        return answer

    def _decode_document(self, doc: Any) -> ob.Order:
        if not isinstance(doc, Mapping):
            raise ob.InvalidOrder(f"the list holds a {type(doc).__name__} where an order object belongs")
        return self.to_canonical(doc)

    def document_id(self, doc: Any) -> str | None:
        """The document's ``id`` (a string in the cart's answers)."""
        ident = doc.get("id") if isinstance(doc, Mapping) else None
        return (
            str(ident)
            if isinstance(ident, str | int) and not isinstance(ident, bool) and ident != ""
            else None
        )

    def _page(self, answer: Any, page: int) -> tuple[list[Mapping[str, Any]], int | None]:
        url = f"{self.transport.base_url}/orders"
        if not isinstance(answer, Mapping) or not isinstance(answer.get("orders"), list):
            raise ob.MalformedResponse("list answer has no 'orders' list", method="GET", url=url)
        docs = answer["orders"]  # a non-object item is reported by the pipeline, as one bad order
        next_page = answer.get("next_page", False)
        if next_page is False or next_page is None:
            return docs, None
        if isinstance(next_page, str) and next_page.isdigit():
            next_page = int(next_page)
        if not isinstance(next_page, int) or isinstance(next_page, bool) or next_page <= page:
            raise ob.MalformedResponse(
                f"'next_page' must be false or a page after {page}, got {next_page!r}", method="GET", url=url
            )
        return docs, next_page

    def _find_order(
        self,
        order: ob.Order,
        *,
        accept: Callable[[ob.Order], bool] | None = None,
        created_after: datetime | None = None,
        after: str | None = None,
    ) -> ob.Order | None:
        if order.source is not None and order.source.backend == self.name:
            try:
                found = self.get_order(order.source.remote_id)
            except ob.NotFound:
                return None
            return found if accept is None or accept(found) else None
        return super()._find_order(order, accept=accept, created_after=created_after)

    # ------------------------------------------------------------ writing

    def _add_status(self, remote_id: str, change: ob.StatusChange) -> ob.Order:
        """POST the status; ``notify_customer`` is false unless the change says true.

        A status the cart refuses (its answer carries ``errors``) raises
        :class:`orderbridge.Rejected` with the cart's messages. A POST is never
        repeated blindly: an answer lost in transit raises :class:`orderbridge.AmbiguousWrite`.
        """
        body = {
            "status": {
                "status": change.status,
                "notes": change.notes if change.notes is not None else "",
                "notify_customer": change.notify_customer is True,
            }
        }
        answer = self.transport.post(self._order_path(remote_id), json=body)
        url = self._order_url(remote_id)
        if not isinstance(answer, Mapping):
            raise ob.MalformedResponse("status answer is not an object", method="POST", url=url)
        errors = answer.get("errors")
        if errors:
            messages = [str(e) for e in errors] if isinstance(errors, list) else [str(errors)]
            raise ob.Rejected(
                f"the cart refused status {change.status!r}", messages=messages, method="POST", url=url,
                status=200,
            )  # fmt: skip
        return self.to_canonical(answer)

    # ------------------------------------------------------------ helpers

    @staticmethod
    def _order_path(remote_id: str) -> str:
        return "orders/" + quote(remote_id, safe="")

    def _order_url(self, remote_id: str) -> str:
        return f"{self.transport.base_url}/{self._order_path(remote_id)}"

    def close(self) -> None:
        """Close the transport if this backend made it."""
        if self._owns_transport:
            self.transport.close()

    def __repr__(self) -> str:
        return f"<LunasoftCartBackend {self.transport.base_url!r}>"
