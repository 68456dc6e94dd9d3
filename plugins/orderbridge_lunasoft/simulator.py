"""A local simulator of the Lunasoft shopping cart module's order endpoints (written from the API page).

Endpoints under ``base_path`` (default ``/api/v1/shopping_cart``):

- ``GET  {base}/orders``: 50 orders per page in an ``orders`` envelope with
  ``next_page`` (an integer, or ``false`` on the last page); ``?sort=`` ``id`` /
  ``created`` (``-`` for descending, comma-joined, default ``-id``); filters
  ``page``, ``id`` (>= that id), ``created_on_after`` (ISO 8601; a naive time is
  read in the site's zone). List documents carry no ``statuses``.
- ``GET  {base}/orders/{id}``: one order with ``statuses`` (newest first).
- ``POST {base}/orders/{id}`` with ``{"status": {"status", "notes", "notify_customer"}}``:
  adds a status. A name not in ``known_statuses`` answers **200** with the order
  unchanged plus ``"errors": [...]`` (the page: "returned without the status added
  and will contain a list of errors"; it names no error status code).

Every request needs the API key (``Authorization: Bearer <key>`` by default, or
the configured header and prefix) or HTTP Basic; otherwise 401. Malformed
queries or bodies answer 400, unknown orders 404, each with ``{"errors": [...]}``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, ClassVar, Literal

from orderbridge.sandbox import HttpError, Request, Response, Router, Simulator, json_response
from orderbridge_lunasoft.generator import DEFAULT_STATUSES, generate_orders

__all__ = ["PAGE_SIZE", "CartSimulator"]

PAGE_SIZE = 50
"""Orders per list page (the API page: "Up to 50 records will be returned at a time")."""

_SORT_KEYS = ("id", "created")


def _error(status: int, *messages: str) -> HttpError:
    return HttpError(status, messages[0], {"errors": list(messages)})


class CartSimulator(Simulator):
    """An in-memory cart module: list, get and add-status over a dict of order documents.

    Options: ``api_key``, ``api_key_header`` / ``api_key_prefix`` (where the key is
    expected), ``username`` / ``password`` (HTTP Basic), ``known_statuses`` (status
    names a POST may use), ``base_path``, ``zone`` (the site's offset, for new
    statuses), ``clock`` (returns the aware time new statuses get).
    """

    name: ClassVar[str] = "lunasoft-cart"
    description: ClassVar[str] = "Lunasoft shopping cart module: orders list/get and add-status"

    def __init__(
        self,
        *,
        api_key: str = "sandbox-lunasoft-key",
        api_key_header: str = "Authorization",
        api_key_prefix: str = "Bearer",
        username: str = "sandbox",
        password: str = "sandbox-password",  # noqa: S107 - a sandbox's published credential
        known_statuses: Iterable[str] = DEFAULT_STATUSES,
        base_path: str = "/api/v1/shopping_cart",
        zone: tzinfo = timezone(timedelta(hours=-6)),
        clock: Any = None,
    ) -> None:
        self.api_key = api_key
        self.api_key_header = api_key_header
        self.api_key_prefix = api_key_prefix
        self.username = username
        self.password = password
        self.known_statuses = list(known_statuses)
        self.base_path = "/" + base_path.strip("/")
        self.zone = zone
        self.clock = clock or (lambda: datetime.now(self.zone).replace(microsecond=0))
        self.orders: dict[int, dict[str, Any]] = {}
        """The store: order id (as int) -> the full order document, ``statuses`` newest first."""
        self._ids: list[int] = []
        self._created_cache: dict[bool, list[int]] = {}
        self._next_status_id = 1
        super().__init__()

    # ------------------------------------------------------------ setup

    def setup_routes(self, router: Router) -> None:
        """Add the three endpoints under ``base_path``."""
        router.add("GET", f"{self.base_path}/orders", self.list_orders)
        router.add("GET", f"{self.base_path}/orders/{{order_id}}", self.get_order)
        router.add("POST", f"{self.base_path}/orders/{{order_id}}", self.add_status)

    def credentials(self) -> dict[str, str]:
        """Keyword options a client needs: ``{"api_key": ...}``."""
        return {"api_key": self.api_key}

    def urls(self, base_url: str) -> dict[str, str]:
        """``{"base": <server root> + base_path}``: the whole module URL."""
        return {"base": base_url + self.base_path}

    @classmethod
    def for_site(cls, name: str, index: int) -> CartSimulator:
        """Site ``index`` of a sandbox: its own random API key (orders are numbered alike)."""
        return cls(api_key=secrets.token_urlsafe(18), password=secrets.token_urlsafe(18))

    def endpoint(self, base_url: str, role: Literal["source", "target"]) -> dict[str, Any] | None:
        """A ``lunasoft-cart`` source on this module; ``None`` as a target (the cart creates no orders)."""
        if role != "source":
            return None
        return {"backend": "lunasoft-cart", "base_url": self.urls(base_url)["base"], "api_key": self.api_key}

    def seed(self, count: int, *, seed: int = 0) -> None:
        """Add ``count`` generated orders (deterministic for a ``seed``)."""
        self.add_orders(generate_orders(count, seed=seed))

    def add_orders(self, docs: Iterable[Mapping[str, Any]]) -> None:
        """Put order documents (single-order shape, with or without ``statuses``) in the store."""
        with self.lock:
            for doc in docs:
                stored = dict(doc)
                stored.setdefault("statuses", [])
                key = int(stored["id"])
                self.orders[key] = stored
                for status in stored["statuses"]:
                    if str(status.get("id", "")).isdigit():
                        self._next_status_id = max(self._next_status_id, int(status["id"]) + 1)
            self._ids = sorted(self.orders)
            self._created_cache.clear()

    # ------------------------------------------------------------ auth

    def _authenticate(self, request: Request) -> None:
        basic = request.basic_auth()
        if basic is not None and basic == (self.username, self.password):
            return
        sent = request.headers.get(self.api_key_header)
        expected = f"{self.api_key_prefix} {self.api_key}" if self.api_key_prefix else self.api_key
        if sent is not None and sent.strip() == expected:
            return
        raise _error(401, "unauthorized: a valid API key or user is required")

    # ------------------------------------------------------------ handlers

    def list_orders(self, request: Request) -> Response:
        """``GET {base}/orders``."""
        self._authenticate(request)
        page = self._int(request.query.get("page", "1"), "page", minimum=1)
        min_id = self._int(request.query["id"], "id", minimum=0) if "id" in request.query else None
        after = self._time(request.query["created_on_after"]) if "created_on_after" in request.query else None
        sort = self._sort(request.query.get("sort", "-id"))
        with self.lock:
            ids = self._sorted_ids(sort)
            if min_id is not None:
                ids = [i for i in ids if i >= min_id]
            if after is not None:
                ids = [i for i in ids if (c := self._created(i)) is not None and c >= after]
            start = (page - 1) * PAGE_SIZE
            chosen = ids[start : start + PAGE_SIZE]
            docs = [{k: v for k, v in self.orders[i].items() if k != "statuses"} for i in chosen]
            more = len(ids) > start + PAGE_SIZE
            return json_response({"orders": docs, "next_page": page + 1 if more else False})

    def get_order(self, request: Request, order_id: str) -> Response:
        """``GET {base}/orders/{id}``."""
        self._authenticate(request)
        with self.lock:
            return json_response(self._find(order_id))

    def add_status(self, request: Request, order_id: str) -> Response:
        """``POST {base}/orders/{id}``: add a status (unknown names: the order plus ``errors``)."""
        self._authenticate(request)
        body = request.json()
        status = body.get("status") if isinstance(body, dict) else None
        if not isinstance(status, dict) or not isinstance(status.get("status"), str):
            raise _error(400, 'body must be {"status": {"status": <name>, "notes", "notify_customer"}}')
        notes = status.get("notes", "")
        notify = status.get("notify_customer", False)
        if notes is None:
            notes = ""
        if not isinstance(notes, str) or not isinstance(notify, bool):
            raise _error(400, "notes must be text and notify_customer true or false")
        with self.lock:
            order = self._find(order_id)
            if status["status"] not in self.known_statuses:
                answer = dict(order, errors=[f"Invalid status: {status['status']!r} is not an order status"])
                return json_response(answer)
            now = self.clock().strftime("%Y-%m-%dT%H:%M:%S%z")
            entry = {
                "id": str(self._next_status_id),
                "status": status["status"],
                "notes": notes,
                "notify_customer": notify,
                "created": now,
                "created_ip": "127.0.0.1",
                "created_user_id": None,
                "modified": "",
                "modified_user_id": None,
            }
            self._next_status_id += 1
            order["statuses"] = [entry, *order["statuses"]]
            order["current_status"] = status["status"]
            order["modified"] = now
            return json_response(order)

    # ------------------------------------------------------------ helpers

    def _find(self, order_id: str) -> dict[str, Any]:
        if not order_id.isdigit() or int(order_id) not in self.orders:
            raise _error(404, f"order {order_id} not found")
        return self.orders[int(order_id)]

    @staticmethod
    def _int(text: str, name: str, *, minimum: int) -> int:
        if not text.isdigit() or int(text) < minimum:
            raise _error(400, f"{name} must be an integer >= {minimum}")
        return int(text)

    def _time(self, text: str) -> datetime:
        try:
            moment = datetime.fromisoformat(text.strip().replace(" ", "+", 1) if "T" in text else text)
        except ValueError:
            raise _error(400, "created_on_after is not a supported time format") from None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=self.zone)

    @staticmethod
    def _sort(text: str) -> list[tuple[str, bool]]:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        spec = [(p.lstrip("-"), p.startswith("-")) for p in parts]
        if not spec or any(name not in _SORT_KEYS for name, _ in spec):
            raise _error(400, f"sort must use {', '.join(_SORT_KEYS)} (with '-' for descending)")
        return spec

    def _created(self, order_id: int) -> datetime | None:
        text = self.orders[order_id].get("created") or ""
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            return None

    def _sorted_ids(self, spec: list[tuple[str, bool]]) -> list[int]:
        name, descending = spec[0]
        if name == "id":
            return self._ids[::-1] if descending else self._ids
        cached = self._created_cache.get(descending)
        if cached is None:
            floor = datetime.min.replace(tzinfo=timezone.utc)  # noqa: UP017
            cached = sorted(self._ids, key=lambda i: (self._created(i) or floor, i), reverse=descending)
            self._created_cache[descending] = cached
        return cached
