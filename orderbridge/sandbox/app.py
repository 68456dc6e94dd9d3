"""A tiny web toolkit for writing platform simulators: request, response, router, base class.

It knows nothing about HTTP sockets (that is :mod:`orderbridge.sandbox.server`), so a
simulator can be unit-tested by calling ``simulator.handle(Request.make(...))`` directly.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, NamedTuple, Self, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from orderbridge import jsonutil

__all__ = [
    "Handler",
    "Headers",
    "HttpError",
    "LoggedRequest",
    "Request",
    "RequestLog",
    "Response",
    "Router",
    "Simulator",
    "empty",
    "json_response",
    "route",
    "text_response",
]

Handler = Callable[..., "Response"]
"""A route handler: ``handler(request, **path_params) -> Response`` (path params are ``str``)."""

_H = TypeVar("_H", bound=Callable[..., Any])

JSON_TYPE = "application/json"


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive header mapping; repeated headers are joined with ``", "``."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        store: dict[str, tuple[str, str]] = {}
        for key, value in pairs:
            lower = key.lower()
            if lower in store:
                value = f"{store[lower][1]}, {value}"
            store[lower] = (key, value)
        self._items = store

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()][1]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        # Authorization values are secrets: a repr must never show them.
        shown = {k: ("***" if k.lower() in _SECRET_HEADERS else v) for k, v in self._items.values()}
        return f"Headers({shown!r})"


_SECRET_HEADERS = frozenset({"authorization", "cookie", "x-api-key", "proxy-authorization"})


class HttpError(Exception):
    """Raise from a handler to answer with ``status``; the server turns it into a response.

    ``body`` (any JSON-able value, ``str`` or ``bytes``) replaces the default JSON body
    ``{"error": message, "status": status}``; ``headers`` are added to the answer.
    """

    def __init__(
        self,
        status: int,
        message: str,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.body = body
        self.headers = dict(headers or {})

    def to_response(self) -> Response:
        """The answer this error stands for."""
        body = self.body if self.body is not None else {"error": self.message, "status": self.status}
        response = body if isinstance(body, Response) else Response(self.status, body)
        response.headers.update(self.headers)
        return response


@dataclass(frozen=True)
class Request:
    """One HTTP request as a handler sees it.

    ``path`` is the percent-encoded path without the query; ``query`` holds the first
    value of each query parameter and ``query_list`` all of them (blank values kept).
    """

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    query_list: Mapping[str, list[str]] = field(default_factory=dict)
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    @classmethod
    def make(
        cls,
        method: str,
        target: str,
        *,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        body: bytes | str = b"",
        json: Any = None,
    ) -> Request:
        """Build a request from a target like ``"/orders?Limit=5"`` (for tests and the server).

        ``json`` encodes a body with :func:`orderbridge.jsonutil.dumps` and sets the
        content type.
        """
        pairs = list(headers.items() if isinstance(headers, Mapping) else headers or ())
        if json is not None:
            body = jsonutil.dumps(json)
            if not any(key.lower() == "content-type" for key, _ in pairs):
                pairs.append(("Content-Type", JSON_TYPE))
        raw = body.encode("utf-8") if isinstance(body, str) else body
        parts = urlsplit(target)
        query_list = parse_qs(parts.query, keep_blank_values=True)
        return cls(
            method=method.upper(),
            path=parts.path or "/",
            query={k: v[0] for k, v in query_list.items()},
            query_list=query_list,
            headers=Headers(pairs),
            body=raw,
        )

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased (``""`` when absent)."""
        return self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()

    def json(self) -> Any:
        """The body parsed as JSON with exact ``Decimal`` numbers; bad or empty JSON is a 400."""
        if not self.body.strip():
            raise HttpError(400, "request body is empty, JSON expected")
        try:
            return jsonutil.loads(self.body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise HttpError(400, f"request body is not valid JSON: {exc}")

    def form(self) -> dict[str, str]:
        """The body parsed as ``application/x-www-form-urlencoded`` (first value of each field)."""
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            raise HttpError(400, "form body is not UTF-8")
        return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}

    def bearer_token(self) -> str | None:
        """The token of an ``Authorization: Bearer <token>`` header, or ``None``."""
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        return (token.strip() or None) if scheme.lower() == "bearer" else None

    def basic_auth(self) -> tuple[str, str] | None:
        """``(user, password)`` of an ``Authorization: Basic`` header, or ``None`` if absent/garbled."""
        scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return (user, password) if sep else None


@dataclass
class Response:
    """An answer: ``body`` is ``bytes`` (sent as is), ``str`` (text), ``None`` (empty) or JSON-able.

    Prefer :func:`json_response`, which encodes at once: called while holding the
    simulator's lock it snapshots the store, so a later write cannot race the encoding.
    """

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, str | None]:
        """``(body bytes, default content type)``; a ``Content-Type`` in ``headers`` wins."""
        body = self.body
        if body is None:
            return b"", None
        if isinstance(body, bytes | bytearray):
            return bytes(body), "application/octet-stream"
        if isinstance(body, str):
            return body.encode("utf-8"), "text/plain; charset=utf-8"
        return jsonutil.dumpb(body), JSON_TYPE


def json_response(obj: Any, status: int = 200, *, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON answer, encoded now with :func:`orderbridge.jsonutil.dumpb` (Decimals exact)."""
    hdrs = {"Content-Type": JSON_TYPE, **(headers or {})}
    return Response(status, jsonutil.dumpb(obj), hdrs)


def text_response(text: str, status: int = 200, *, content_type: str = "text/plain") -> Response:
    """A text answer in UTF-8."""
    return Response(status, text.encode("utf-8"), {"Content-Type": f"{content_type}; charset=utf-8"})


def empty(status: int = 204) -> Response:
    """An answer without a body (``204 No Content`` by default)."""
    return Response(status, None)


_PARAM = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: str
    regex: re.Pattern[str]
    params: tuple[str, ...]
    # Literal segments sort before parameters, so "/orders/count" beats "/orders/{id}"
    # whatever the registration order.
    rank: tuple[int, ...]
    handler: Handler


def _compile(pattern: str) -> tuple[re.Pattern[str], tuple[str, ...], tuple[int, ...]]:
    if not pattern.startswith("/"):
        raise ValueError(f"route pattern must start with '/': {pattern!r}")
    parts: list[str] = []
    params: list[str] = []
    rank: list[int] = []
    for segment in _normalise(pattern).split("/")[1:]:
        m = _PARAM.match(segment)
        if m:
            if m.group(1) in params:
                raise ValueError(f"route pattern {pattern!r} repeats parameter {m.group(1)!r}")
            params.append(m.group(1))
            parts.append(f"(?P<{m.group(1)}>[^/]+)")
            rank.append(1)
        elif "{" in segment or "}" in segment:
            raise ValueError(f"a route parameter must fill a whole segment: {pattern!r}")
        else:
            parts.append(re.escape(segment))
            rank.append(0)
    return re.compile("/" + "/".join(parts) + r"\Z"), tuple(params), tuple(rank)


def _shape(pattern: str) -> str:
    # "/a/{x}" and "/a/{y}" match the same paths: a duplicate whatever the names.
    return re.sub(r"\{[^/]*\}", "{}", _normalise(pattern))


def _normalise(path: str) -> str:
    # A trailing slash is accepted everywhere: clients and docs disagree about it.
    return path.rstrip("/") or "/"


class Router:
    """Maps ``(method, path)`` to a handler; patterns look like ``/api/v2/admin/orders/{id}``.

    Unknown paths raise a 404 :class:`HttpError`, a known path with another method a 405
    (with an ``Allow`` header). Path parameters reach the handler as ``str`` keyword
    arguments, percent-decoded.
    """

    def __init__(self) -> None:
        self._routes: list[_Route] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        """Register ``handler`` for ``method`` (case-insensitive) on ``pattern``."""
        method = method.upper()
        regex, params, rank = _compile(pattern)
        for existing in self._routes:
            if existing.method == method and _shape(existing.pattern) == _shape(pattern):
                raise ValueError(f"route {method} {pattern} is already registered")
        self._routes.append(_Route(method, pattern, regex, params, rank, handler))
        self._routes.sort(key=lambda r: r.rank)

    def route(self, method: str, pattern: str) -> Callable[[_H], _H]:
        """Decorator form of :meth:`add` for plain functions."""

        def decorate(handler: _H) -> _H:
            self.add(method, pattern, handler)
            return handler

        return decorate

    @property
    def routes(self) -> list[tuple[str, str]]:
        """``(method, pattern)`` of every route, most specific first."""
        return [(r.method, r.pattern) for r in self._routes]

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        """The handler and decoded path parameters for a request, or a 404/405 :class:`HttpError`."""
        method = method.upper()
        path = _normalise(path)
        allowed: list[str] = []
        for r in self._routes:
            m = r.regex.match(path)
            if m is None:
                continue
            if r.method == method:
                return r.handler, {k: unquote(v) for k, v in m.groupdict().items()}
            allowed.append(r.method)
        if allowed:
            allow = ", ".join(sorted(set(allowed)))
            raise HttpError(405, f"method {method} not allowed on {path}", headers={"Allow": allow})
        raise HttpError(404, f"no route for {method} {path}")

    def dispatch(self, request: Request) -> Response:
        """Call the matching handler."""
        handler, params = self.match(request.method, request.path)
        return handler(request, **params)


_ROUTES_ATTR = "__orderbridge_routes__"


def route(method: str, pattern: str) -> Callable[[_H], _H]:
    """Mark a :class:`Simulator` method as the handler of ``method pattern``.

    The method is called as ``self.handler(request, **path_params)``. Stackable, so
    one method can serve several routes. An override in a subclass must repeat the
    decorator.
    """

    def decorate(func: _H) -> _H:
        marks: list[tuple[str, str]] = list(getattr(func, _ROUTES_ATTR, ()))
        marks.append((method, pattern))
        setattr(func, _ROUTES_ATTR, marks)
        return func

    return decorate


class LoggedRequest(NamedTuple):
    """One request the server received: what tests and benchmarks count."""

    method: str
    path: str
    query: Mapping[str, str]


class RequestLog:
    """Thread-safe log of received requests; keeps the last ``maxlen``, counts all in ``total``."""

    def __init__(self, maxlen: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[LoggedRequest] = deque(maxlen=maxlen)
        self.total = 0
        """Requests logged since creation or the last :meth:`clear` (not capped)."""

    def append(self, method: str, path: str, query: Mapping[str, str]) -> None:
        """Record one request."""
        with self._lock:
            self._entries.append(LoggedRequest(method, path, query))
            self.total += 1

    def clear(self) -> None:
        """Forget everything (for example between benchmark phases)."""
        with self._lock:
            self._entries.clear()
            self.total = 0

    def snapshot(self) -> list[LoggedRequest]:
        """A copy of the kept entries, oldest first."""
        with self._lock:
            return list(self._entries)

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """How many kept entries match ``method`` and/or ``path`` (exact)."""
        return sum(
            1
            for e in self.snapshot()
            if (method is None or e.method == method.upper()) and (path is None or e.path == path)
        )

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __iter__(self) -> Iterator[LoggedRequest]:
        return iter(self.snapshot())


class Simulator:
    """Base class of a platform simulator: an in-memory platform behind a :class:`Router`.

    Subclasses set ``name`` (the registry key, e.g. ``"webinone"``) and ``description``,
    declare handlers with :func:`route` (or add them in :meth:`setup_routes`), wrap
    every access to their store in ``with self.lock:``, and implement :meth:`seed`.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        """Guards the simulator's in-memory store; handlers run on many threads at once."""
        self.requests_log = RequestLog()
        """Every request the :class:`~orderbridge.sandbox.server.SimServer` received, faulted or not."""
        self.router = Router()
        for attr in dir(type(self)):
            marks = getattr(getattr(type(self), attr, None), _ROUTES_ATTR, None)
            for method, pattern in marks or ():
                self.router.add(method, pattern, getattr(self, attr))
        self.setup_routes(self.router)

    def setup_routes(self, router: Router) -> None:
        """Hook for adding routes imperatively; the default adds none."""

    def handle(self, request: Request) -> Response:
        """Answer one request (raising :class:`HttpError` is also an answer)."""
        return self.router.dispatch(request)

    def seed(self, count: int, *, seed: int = 0) -> None:
        """Fill the store with ``count`` deterministic orders (same ``seed``, same data)."""
        raise NotImplementedError(f"simulator {type(self).__name__} does not implement seed()")

    def credentials(self) -> dict[str, str]:
        """What a client needs to log in, e.g. ``{"client_id": ..., "client_secret": ...}``."""
        return {}

    def urls(self, base_url: str) -> dict[str, str]:
        """Named base URLs a client should use, given the server's root URL."""
        return {"base": base_url}

    @classmethod
    def for_site(cls, name: str, index: int) -> Self:
        """A fresh simulator for site ``name``, the ``index``-th (from 0) of a sandbox's sites.

        ``orderbridge sandbox serve --site NAME=SIMULATOR:N`` builds each site
        with it. A simulator whose sites can differ gives each its own
        credentials, catalogs and id sequence (so that no id of one site is
        one of another's by chance); the default is ``cls()``.
        """
        return cls()

    def endpoint(self, base_url: str, role: Literal["source", "target"]) -> dict[str, Any] | None:
        """The ``[source]`` or ``[target]`` section of a run configuration that uses this site as ``role``.

        ``backend`` and the backend's options, secrets included as values (the
        sandbox moves each secret option to an environment variable before it
        writes ``run.toml``); ``None`` when the simulated platform cannot be
        that end of a migration. The default: ``None``.
        """
        return None

    def catalogs(self, base_url: str) -> dict[str, str]:
        """Reference kind -> the URL where the simulated site lists its entries of that kind.

        What a target's :meth:`~orderbridge.Backend.list_references` reads and
        ``orderbridge sandbox serve`` prints; the default lists none.
        """
        return {}
