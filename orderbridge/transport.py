"""The one HTTP funnel every backend uses.

:class:`Transport` owns a :class:`requests.Session` and adds what every
platform needs: a base URL (HTTPS only, except on loopback), connect and read
timeouts on every request, retries with exponential backoff and full jitter
that honour ``Retry-After``, an optional client-side rate limit, one token
refresh on a 401, status -> error mapping (:mod:`orderbridge.errors`) and
secret redaction. Bodies are JSON through :mod:`orderbridge.jsonutil`, so money
stays ``Decimal`` on the wire in both directions.

Statuses 500, 502, 503 and 504 are treated as transient: idempotent requests
are retried (a plain 500 is as often a passing fault behind a gateway as a
real bug, and repeating a safe request costs nothing), and a 429 is always
retried. Writes that are not idempotent (``POST`` unless told otherwise) are
never retried when the request may have reached the server: the caller gets
:class:`~orderbridge.errors.AmbiguousWrite` and must look the object up before
writing again. Secrets held by the auth object, and any credential header
actually sent, are masked out of every error, log line and repr.
"""

from __future__ import annotations

import email.utils
import functools
import ipaddress
import json as stdjson
import logging
import os
import random as _random
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any, Final, TypeVar
from urllib.parse import quote, quote_plus, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from orderbridge import jsonutil
from orderbridge.errors import (
    AmbiguousWrite,
    AuthenticationError,
    ConfigurationError,
    ConnectionFailed,
    MalformedResponse,
    NotFound,
    RateLimited,
    RedirectRefused,
    Rejected,
    ServerError,
    TransportError,
)

__all__ = [
    "IDEMPOTENT_METHODS",
    "REQUEST_ID_HEADERS",
    "RETRY_STATUSES",
    "Answer",
    "RequestGate",
    "RequestRecord",
    "Transport",
    "add_request_gate",
    "remove_request_gate",
]

T = TypeVar("T")

logger = logging.getLogger(__name__)

DEFAULT_POOL_SIZE = 32
"""Connections kept open per site: one per worker thread, up to the adaptive concurrency's ceiling."""

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
"""Statuses worth another attempt (429 always; the others only when idempotent)."""

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
"""Methods that may be repeated safely; anything else needs ``idempotent=True``."""

REQUEST_ID_HEADERS = ("X-Request-Id", "X-Correlation-Id", "Request-Id", "X-Amzn-RequestId")
"""Response headers that may carry the server's id for an exchange (first one wins)."""

MASK = "***"

# Defence in depth on top of the exact secrets: credential-looking query
# parameters, JSON members and bearer tokens are masked in any text we show.
_SENSITIVE_WORDS = r"(?:token|secret|password|passwd|api[_-]?key|apikey|signature)"
_PATTERNS = (
    (re.compile(rf"(?i)\b([\w.-]*{_SENSITIVE_WORDS}|key|code|sig)=[^&\s\"'<>]+"), rf"\1={MASK}"),
    (re.compile(rf'(?i)("[\w.-]*{_SENSITIVE_WORDS}"\s*:\s*)"[^"]*"'), rf'\1"{MASK}"'),
    (re.compile(r"(?i)\b(bearer|basic)\s+[\w.~+/=-]{8,}"), rf"\1 {MASK}"),
)
# Each pattern with a text it cannot match without (None: always tried), so a URL without a
# query or a quote skips the regular expressions.
_PATTERNS_WITH_NEEDLES = tuple(
    (pattern, replacement, needle)
    for (pattern, replacement), needle in zip(_PATTERNS, ("=", '"', None), strict=True)
)
_SENSITIVE_HEADER = re.compile(r"(?i)authorization|api[-_]?key|token|secret|password|cookie")
_TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
_MESSAGE_KEYS = ("errors", "message", "Message", "error_description", "error", "detail", "title")


class _NoAuth(AuthBase):
    """Sends no credentials (and keeps requests from falling back to ~/.netrc)."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return r

    def __repr__(self) -> str:
        return "_NoAuth()"


_NO_AUTH = _NoAuth()


@dataclass(frozen=True)
class RequestRecord:
    """One HTTP round trip, as passed to ``Transport.on_request`` hooks (already redacted)."""

    method: str
    url: str
    status: int | None
    elapsed: float
    attempt: int
    error: str | None = None


class Answer:
    """One successful HTTP answer: ``status``, ``headers`` (case-insensitive) and the raw ``content``.

    :meth:`json` parses the body (once; ``None`` when it is empty) with
    :func:`orderbridge.jsonutil.loads`, exact money included; :meth:`decode`
    reads it with a decoder of the caller's instead (only the ids of a whole
    order, say). A body that is not JSON is a
    :class:`~orderbridge.errors.MalformedResponse` naming the request.
    """

    __slots__ = ("_malformed", "_parsed", "content", "headers", "status")

    _UNPARSED: Any = object()

    def __init__(
        self,
        status: int,
        headers: Mapping[str, str],
        content: bytes,
        malformed: Callable[[str], Exception] | None = None,
    ) -> None:
        self.status = status
        self.headers = headers
        self.content = content
        self._malformed = malformed or ValueError
        self._parsed: Any = self._UNPARSED

    @property
    def empty(self) -> bool:
        """Whether there is no body (a 204, or only whitespace)."""
        return self.status == 204 or not self.content.strip()

    def json(self) -> Any:
        """The parsed body (``None`` when empty), parsed on the first call only."""
        if self._parsed is self._UNPARSED:
            self._parsed = None if self.empty else self.decode(jsonutil.loads)
        return self._parsed

    def decode(self, decoder: Callable[[bytes], T]) -> T:
        """The body read by ``decoder`` (bytes in); a ``ValueError`` from it is a malformed answer."""
        try:
            return decoder(self.content)
        except ValueError as exc:
            raise self._malformed(f"response is not valid JSON ({exc})") from None

    def header_int(self, name: str) -> int | None:
        """A header holding a whole number (``X-Total-Count``, ``X-WP-TotalPages``), or ``None``."""
        value = self.headers.get(name)
        return int(value) if value is not None and value.strip().isdigit() else None

    def __repr__(self) -> str:
        return f"<Answer {self.status}, {len(self.content)} bytes>"


RequestGate = Callable[[str, str], AbstractContextManager[object]]
"""Called as ``gate(scheme, netloc)`` before each attempt; the attempt is sent inside the context it returns.

A gate holds a request back (a rate shared by many processes) or bounds how
many run at once (a concurrency shared by many machines): ``orderbridge fleet``
installs one in each Dask worker so that per-host limits hold across its
whole cluster. It sees the origin only, never a path, a header or a body.
"""

_gates: tuple[RequestGate, ...] = ()
_gates_lock = threading.Lock()


def add_request_gate(gate: RequestGate) -> None:
    """Have every :class:`Transport` of this process send each attempt through ``gate`` (once per gate)."""
    global _gates
    with _gates_lock:
        if gate not in _gates:
            _gates = (*_gates, gate)


def remove_request_gate(gate: RequestGate) -> None:
    """Undo :func:`add_request_gate` (a gate not installed is ignored)."""
    global _gates
    with _gates_lock:
        _gates = tuple(g for g in _gates if g is not gate)


class _RateLimiter:
    """Spaces request starts at least ``1 / rate`` seconds apart, across threads.

    Each caller reserves the next free slot under the lock and sleeps outside
    it, so concurrent workers queue up instead of serialising on the lock.
    """

    def __init__(self, rate: float, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)


class Transport:
    """A JSON-over-HTTPS client for one site: session, auth, retries, rate limit, errors.

    ``request`` (and ``get``/``post``/``put``/``delete``) return the parsed
    JSON answer, or ``None`` for an empty body. ``sleep``, ``random``,
    ``clock`` (monotonic, for the rate limiter) and ``wall_clock`` (epoch
    seconds, for ``Retry-After`` dates) are injectable so tests never wait.
    An auth object with a ``bind(transport)`` method is bound to this
    transport (OAuth fetches its token through it); one with
    ``invalidate(rejected_header)`` or ``refresh()`` gets one refresh and
    one retry on a 401. The transport is safe to share between threads.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: AuthBase | None = None,
        timeout: float | tuple[float, float] = (5.0, 30.0),
        max_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        retry_after_cap: float = 120.0,
        rate_limit: float | None = None,
        allow_http: bool = False,
        verify: bool | str = True,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        user_agent: str | None = None,
        default_headers: Mapping[str, str] | None = None,
        on_request: Callable[[RequestRecord], None] | Iterable[Callable[[RequestRecord], None]] | None = None,
    ) -> None:
        self.base_url = _check_base_url(base_url, allow_http)
        parts = urlsplit(self.base_url)
        self._origin = (parts.scheme.lower(), parts.netloc.lower())
        self.timeout = _check_timeout(timeout)
        if max_retries < 0:
            raise ConfigurationError("max_retries must be >= 0")
        if rate_limit is not None and rate_limit <= 0:
            raise ConfigurationError("rate_limit must be a positive number of requests per second")
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.retry_after_cap = retry_after_cap
        self._sleep = sleep
        self._random = random
        self._wall_clock = wall_clock
        self._limiter = _RateLimiter(rate_limit, clock, sleep) if rate_limit else None
        self._clock = clock
        # A 429's Retry-After holds every request to the site, not only the one refused: the
        # others would be refused too (each a 429 of its own) while the site's window refills.
        self._hold_until = 0.0
        self._owns_session = session is None
        self._verbatim_prefix = _verbatim_prefix(self.base_url)
        self.session = session if session is not None else _new_session()
        self._pool_size = DEFAULT_POOL_SIZE
        if self._owns_session or verify is not True:
            self.session.verify = verify
        if self._owns_session:
            _settle_environment(self.session, self.base_url)
        self.session.headers.update(
            {"User-Agent": user_agent or _default_user_agent(), "Accept": "application/json"}
        )
        self.session.headers.update(default_headers or {})
        if callable(on_request):
            self.on_request: list[Callable[[RequestRecord], None]] = [on_request]
        else:
            self.on_request = list(on_request or ())
        self._count = 0
        self._count_lock = threading.Lock()
        self.retry_log_level = logging.WARNING
        """The level retries are logged at (a check that reports its own failure lowers it)."""
        self.auth = auth
        bind = getattr(auth, "bind", None)
        if callable(bind):
            bind(self)

    # -- public surface ---------------------------------------------------

    @property
    def request_count(self) -> int:
        """How many HTTP requests this transport has sent (every attempt, token requests too)."""
        with self._count_lock:
            return self._count

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, str] | str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        expected: Collection[int] | None = None,
        authenticate: bool = True,
    ) -> Any:
        """Send one logical request and return its parsed JSON answer (``None`` when empty).

        The same as ``fetch(...).json()``; see :meth:`fetch` for the arguments.
        """
        return self.fetch(
            method, path, params=params, json=json, data=data, headers=headers,
            idempotent=idempotent, expected=expected, authenticate=authenticate,
        ).json()  # fmt: skip

    def fetch(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, str] | str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        expected: Collection[int] | None = None,
        authenticate: bool = True,
    ) -> Answer:
        """Send one logical request and return its :class:`Answer` (status, headers, body).

        The body is parsed only when asked (:meth:`Answer.json`), or read only
        in part by a decoder of the caller's (:meth:`Answer.decode`): a write
        whose answer is the whole order, of which only ids are needed, costs
        no full parse.

        ``path`` is joined onto the base URL; an absolute URL must share its
        origin. ``json`` is encoded with :func:`orderbridge.jsonutil.dumpb`,
        ``data`` is sent as given (a mapping is form-encoded). ``idempotent``
        overrides the method's default (only GET/HEAD/OPTIONS/PUT/DELETE are
        idempotent). ``expected`` lists the acceptable success statuses (any
        2xx when omitted). ``authenticate=False`` sends no credentials (the
        token endpoint). Raises a :class:`~orderbridge.errors.TransportError`
        subclass on failure.
        """
        method = method.upper()
        url = self._url(path)
        if json is not None and data is not None:
            raise ValueError("pass json or data, not both")
        send_headers = dict(headers or {})
        if json is not None:
            data = jsonutil.dumpb(json)
            send_headers.setdefault("Content-Type", "application/json")
        safe = idempotent if idempotent is not None else method in IDEMPOTENT_METHODS
        auth = self.auth if authenticate and self.auth is not None else _NO_AUTH
        shown = self.redact(_with_params(url, params))
        attempt, refreshed, held = 0, False, False
        while True:
            failure: requests.RequestException | None = None
            response: requests.Response | None = None
            try:
                response = self._send(method, url, shown, attempt, params, data, send_headers, auth, held)
            except requests.RequestException as exc:
                # Handled below, outside the except block, so no error we raise
                # chains the original (whose text may hold an unredacted URL).
                failure = exc
            if failure is not None:
                delay, reason = self._after_failure(failure, method, shown, safe, attempt)
            else:
                assert response is not None
                if response.status_code == 401 and not refreshed and self._invalidate(auth, response):
                    refreshed = True  # one refresh, one retry; not counted against max_retries
                    logger.warning("%s %s: status 401; new credentials, one retry", method, shown)
                    continue
                if 300 <= response.status_code < 400 and response.status_code != 304:
                    raise self._redirect(response, method, shown)
                if response.status_code not in RETRY_STATUSES:
                    return self._answer(response, method, shown, expected)
                delay, reason = self._after_retry_status(response, method, shown, safe, attempt)
            # Its own Retry-After is the wait below: the site's hold is not waited for again.
            held = response is not None and response.status_code == 429
            attempt += 1
            logger.log(
                self.retry_log_level,
                "%s %s: %s; retry %d/%d in %.2fs", method, shown, reason, attempt, self.max_retries, delay,
            )  # fmt: skip
            self._sleep(delay)

    def get(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        expected: Collection[int] | None = None,
    ) -> Any:
        """``GET path`` and return the parsed answer."""
        return self.request("GET", path, params=params, headers=headers, expected=expected)

    def post(
        self,
        path: str,
        *,
        json: Any = None,
        data: Mapping[str, str] | str | bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        expected: Collection[int] | None = None,
    ) -> Any:
        """``POST path`` (not idempotent unless ``idempotent=True``) and return the parsed answer."""
        return self.request(
            "POST",
            path,
            json=json,
            data=data,
            params=params,
            headers=headers,
            idempotent=idempotent,
            expected=expected,
        )

    def put(
        self,
        path: str,
        *,
        json: Any = None,
        data: Mapping[str, str] | str | bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        expected: Collection[int] | None = None,
    ) -> Any:
        """``PUT path`` and return the parsed answer."""
        return self.request(
            "PUT", path, json=json, data=data, params=params, headers=headers, expected=expected
        )

    def delete(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        expected: Collection[int] | None = None,
    ) -> Any:
        """``DELETE path`` and return the parsed answer (usually ``None``: 204)."""
        return self.request("DELETE", path, params=params, headers=headers, expected=expected)

    def ensure_pool(self, size: int) -> None:
        """Keep at least ``size`` connections to the site open (one per worker thread).

        A pool smaller than the threads using it would close and reopen
        connections all the time (a TCP and TLS handshake per request).
        """
        if size <= self._pool_size or not self._owns_session:
            return
        self._pool_size = size
        _mount(self.session, size)

    def redact(self, text: str, request: requests.PreparedRequest | None = None) -> str:
        """Mask every secret of the auth object (and of ``request``'s credential headers) in ``text``."""
        return _redact(text, self._secrets(request))

    def close(self) -> None:
        """Close the session if this transport created it (a session passed in stays open)."""
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Transport({self.base_url!r}, auth={self.auth!r})"

    # -- one attempt --------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        shown: str,
        attempt: int,
        params: Mapping[str, Any] | None,
        data: Mapping[str, str] | str | bytes | None,
        headers: dict[str, str],
        auth: AuthBase,
        held: bool = False,
    ) -> requests.Response:
        hold = self._hold_until - self._clock()
        if hold > 0 and not held:
            self._sleep(hold)
        gates = _gates
        if not gates:
            return self._attempt(method, url, shown, attempt, params, data, headers, auth)
        with ExitStack() as stack:
            for gate in gates:
                stack.enter_context(gate(*self._origin))
            return self._attempt(method, url, shown, attempt, params, data, headers, auth)

    def _attempt(
        self,
        method: str,
        url: str,
        shown: str,
        attempt: int,
        params: Mapping[str, Any] | None,
        data: Mapping[str, str] | str | bytes | None,
        headers: dict[str, str],
        auth: AuthBase,
    ) -> requests.Response:
        """One attempt past the holds: the local rate limit, the request, the ``on_request`` hooks."""
        if self._limiter is not None:
            self._limiter.acquire()
        with self._count_lock:
            self._count += 1
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            # Never followed: requests would resend the body (a token request's secret) and
            # auth to wherever Location points, plain HTTP included.
            if self._owns_session:
                response = self._send_prepared(method, url, params, data, headers, auth)
            else:  # the caller's session: its hooks, cookies and adapters, as it expects
                response = self.session.request(
                    method, url, params=params, data=data, headers=headers, auth=auth,
                    timeout=self.timeout, allow_redirects=False,
                )  # fmt: skip
            status = response.status_code
            return response
        except Exception as exc:
            error = type(exc).__name__
            raise
        finally:
            elapsed = time.perf_counter() - started
            logger.debug("%s %s -> %s in %.3fs", method, shown, status or error, elapsed)
            record = RequestRecord(method, shown, status, elapsed, attempt, error)
            for hook in self.on_request:
                hook(record)

    def _send_prepared(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        data: Mapping[str, str] | str | bytes | None,
        headers: dict[str, str],
        auth: AuthBase,
    ) -> requests.Response:
        """One request straight through the session's adapter: ``Session.request`` without its merges.

        ``Session.request`` merges the session's settings, hooks, cookies and the
        environment into every request: at 16 worker threads that was a third
        of the client's CPU per request, and the client's CPU (one GIL) is what
        bounds a migration's speed. A transport's own session has nothing to
        merge but its headers (its proxies and CA bundle were settled once, it
        keeps no cookies and has no hooks), so it prepares the request itself.
        """
        request = requests.PreparedRequest()
        # A plain dict is enough: prepare_headers makes the case-insensitive one, the later
        # (the request's) spelling of a name winning; None removes a header, as in requests.
        merged = dict(self.session.headers.items())
        merged.update(headers)
        if None in merged.values():
            merged = {name: value for name, value in merged.items() if value is not None}
        # PreparedRequest.prepare, step by step, without what this session never has
        # (cookies, hooks) and without re-parsing a URL that is already in its final form.
        request.prepare_method(method)
        if params is None and self._verbatim_url(url):
            request.url = url
        else:
            request.prepare_url(url, params)
        request.prepare_headers(merged)
        request.prepare_body(data, None)
        request.prepare_auth(auth, url)
        session = self.session
        verify = True if session.verify is None else session.verify
        response = session.get_adapter(url).send(
            request, stream=False, timeout=self.timeout, verify=verify, cert=session.cert,
            proxies=session.proxies,
        )  # fmt: skip
        response.content  # noqa: B018 - read whole now: the connection goes back to the pool
        return response

    def _verbatim_url(self, url: str) -> bool:
        """Whether ``PreparedRequest.prepare_url`` would give ``url`` back unchanged.

        True for this site's URLs whose path holds only characters that need no
        quoting (no ``%``, ``?``, ``#``, space or non-ASCII), when the base URL
        itself comes back from ``prepare_url`` unchanged (checked once).
        """
        prefix = self._verbatim_prefix
        return bool(prefix) and url.startswith(prefix) and _PLAIN_PATH.fullmatch(url, len(prefix)) is not None

    def _after_failure(
        self, exc: requests.RequestException, method: str, shown: str, safe: bool, attempt: int
    ) -> tuple[float, str]:
        """Return (delay, reason) for a retry after a request raised, or raise the final error."""
        sent = exc.request if isinstance(exc.request, requests.PreparedRequest) else None
        reason = f"{type(exc).__name__}: {self.redact(str(exc), sent)}"
        if isinstance(exc, requests.exceptions.SSLError):
            # A certificate problem is configuration, not bad luck: no retry.
            raise ConnectionFailed(f"TLS failure ({reason})", method=method, url=shown)
        if not isinstance(exc, _TRANSIENT_ERRORS):
            raise TransportError(f"request failed ({reason})", method=method, url=shown)
        if not safe and not _never_sent(exc):
            raise AmbiguousWrite(
                f"{method} may or may not have been applied ({reason}); "
                "look the object up before writing again",
                method=method,
                url=shown,
            )
        if attempt >= self.max_retries:
            raise ConnectionFailed(
                f"no answer after {attempt + 1} attempts ({reason})", method=method, url=shown
            )
        return self._backoff(attempt + 1), reason

    def _after_retry_status(
        self, response: requests.Response, method: str, shown: str, safe: bool, attempt: int
    ) -> tuple[float, str]:
        """Return (delay, reason) for a retry after a 429/500/502/503/504, or raise the final error."""
        status = response.status_code
        if status != 429 and not safe:
            raise AmbiguousWrite(
                f"{method} may or may not have been applied; look the object up before writing again",
                **self._details(response, method, shown),
            )
        retry_after = self._retry_after(response)
        delay = None if retry_after is None else min(retry_after, self.retry_after_cap)
        if status == 429 and delay is not None:
            self._hold_until = max(self._hold_until, self._clock() + delay)
        if attempt >= self.max_retries:
            raise self._error(response, method, shown)
        if retry_after is None or delay is None:
            return self._backoff(attempt + 1), f"status {status}"
        return delay, f"status {status}, Retry-After {retry_after:g}s"

    def _redirect(self, response: requests.Response, method: str, shown: str) -> RedirectRefused:
        location = self.redact(response.headers.get("Location") or "(no Location)", response.request)
        return RedirectRefused(
            f"the server redirects to {location}; redirects are not followed (they could carry "
            "credentials to another host): set the base URL to where the API answers",
            location=location,
            method=method,
            url=shown,
            status=response.status_code,
        )

    def _answer(
        self, response: requests.Response, method: str, shown: str, expected: Collection[int] | None
    ) -> Answer:
        status = response.status_code
        if status >= 400:
            raise self._error(response, method, shown)
        if not 200 <= status < 300 if expected is None else status not in expected:
            raise MalformedResponse(f"unexpected status {status}", **self._details(response, method, shown))
        return Answer(
            status, response.headers, response.content, partial(self._malformed, response, method, shown)
        )

    def _malformed(self, response: requests.Response, method: str, shown: str, why: str) -> MalformedResponse:
        return MalformedResponse(why, **self._details(response, method, shown))

    # -- helpers ------------------------------------------------------------

    def _url(self, path: str) -> str:
        if "://" not in path:
            return f"{self.base_url}/{path.lstrip('/')}" if path else self.base_url
        parts = urlsplit(path)
        if (parts.scheme.lower(), parts.netloc.lower()) != self._origin:
            raise ConfigurationError(f"{self.redact(path)} is not on this transport's site {self.base_url}")
        return path

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**(attempt-1))]."""
        return self._random() * min(self.backoff_cap, self.backoff_base * 2.0 ** (attempt - 1))

    def _retry_after(self, response: requests.Response) -> float | None:
        """Seconds the server asked us to wait (``Retry-After`` in seconds or as an HTTP date)."""
        value = response.headers.get("Retry-After", "").strip()
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - self._wall_clock())

    def _invalidate(self, auth: AuthBase, response: requests.Response) -> bool:
        """Drop the credentials that earned a 401; True if the auth can get fresh ones."""
        invalidate = getattr(auth, "invalidate", None)
        if callable(invalidate):
            invalidate(response.request.headers.get("Authorization"))
            return True
        refresh = getattr(auth, "refresh", None)
        if callable(refresh):
            refresh()
            return True
        return False

    def _secrets(self, request: requests.PreparedRequest | None) -> list[str]:
        secrets_of = getattr(self.auth, "secrets", None)
        found = [s for s in (secrets_of() if callable(secrets_of) else ()) if isinstance(s, str)]
        if request is not None:
            for name, value in request.headers.items():
                if isinstance(value, str) and _SENSITIVE_HEADER.search(name):
                    found.append(value)
                    found.extend(value.split()[1:])  # "Bearer <token>" -> the token alone too
        return found

    def _details(self, response: requests.Response, method: str, shown: str) -> dict[str, Any]:
        """The redacted facts every error carries: method, URL, status, body, request id."""
        request_id = next((response.headers[h] for h in REQUEST_ID_HEADERS if h in response.headers), None)
        secrets = self._secrets(response.request)
        return {
            "method": method,
            "url": shown,
            "status": response.status_code,
            "body": _redact(response.text, secrets) or None,
            "request_id": _redact(request_id, secrets) if request_id else None,
        }

    def _error(self, response: requests.Response, method: str, shown: str) -> TransportError:
        """Map an error status to the error class of its cause."""
        status = response.status_code
        details = self._details(response, method, shown)
        if status in (401, 403):
            text = "authentication failed" if status == 401 else "access denied"
            return AuthenticationError(text, **details)
        if status == 404:
            return NotFound("not found", **details)
        if status == 429:
            return RateLimited("rate limited", retry_after=self._retry_after(response), **details)
        if status >= 500:
            return ServerError("server error", **details)
        messages = [_redact(m, self._secrets(response.request)) for m in _server_messages(response)]
        return Rejected("request rejected", messages=messages, **details)


# -- module helpers -----------------------------------------------------------


# Characters of a URL path that requests' requote_uri leaves as they are.
_PLAIN_PATH: Final = re.compile(r"[A-Za-z0-9/_.~!$&'()*+,;=:@-]*")


def _verbatim_prefix(base_url: str) -> str:
    """``base_url + "/"`` when requests prepares such URLs unchanged, else "" (no shortcut)."""
    probe = base_url + "/probe/1"
    prepared = requests.PreparedRequest()
    prepared.prepare_url(probe, None)
    return base_url + "/" if prepared.url == probe else ""


def _new_session() -> requests.Session:
    session = requests.Session()
    _mount(session, DEFAULT_POOL_SIZE)
    return session


def _mount(session: requests.Session, pool_size: int) -> None:
    # Retries are ours; a larger pool serves many worker threads on one host.
    adapter = _SiteAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)


class _SiteAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` that works out a site's connection-pool key once, not per request.

    ``HTTPAdapter`` parses the URL again and, when ``verify`` is a CA bundle
    path, asks the file system whether it is a directory on every request: a
    system call, so one more wait for the GIL per request at many worker
    threads. A transport talks to one site with one ``verify`` and ``cert``,
    so the answer is kept per (scheme and host, verify, cert); requests
    documents this method as the one to override when subclassing.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pool_keys: dict[tuple[str, Any, Any], Any] = {}

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> Any:  # (host parameters, pool keyword arguments): two dicts, typed apart by types-requests
        """The pool key of ``request``'s site, worked out on the first request to it."""
        url = request.url or ""
        end = url.find("/", url.find("//") + 2)
        key = (url if end < 0 else url[:end], verify, cert)
        known = self._pool_keys.get(key)
        if known is None:
            known = super().build_connection_pool_key_attributes(request, verify, cert)
            if len(self._pool_keys) < _POOL_KEYS_KEPT:
                self._pool_keys[key] = known
        host_params, pool_kwargs = known
        return dict(host_params), dict(pool_kwargs)


_POOL_KEYS_KEPT: Final = 16
"""Sites (scheme and host) an adapter remembers the pool key of: a transport talks to one."""


def _settle_environment(session: requests.Session, base_url: str) -> None:
    """Read the proxy and CA-bundle settings of the environment once, for this one site.

    ``requests`` reads them again on every request (``trust_env``), which costs
    a good part of a request's client time; one transport talks to one site, so
    its answer never changes. ``NO_PROXY`` is honoured as requests does.
    """
    # NO_PROXY is applied here, for this site, so only the scheme entries are kept.
    proxies = {k: v for k, v in requests.utils.get_environ_proxies(base_url).items() if k != "no"}
    session.proxies.update(proxies)
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle and session.verify is True:
        session.verify = bundle
    session.trust_env = False


def _default_user_agent() -> str:
    from orderbridge import __version__  # late: the package imports this module

    return f"orderbridge/{__version__}"


def _check_base_url(base_url: str, allow_http: bool) -> str:
    """Return the base URL without a trailing slash, or raise ConfigurationError."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(f"base URL must be https://host[/path], got {_redact(base_url, ())!r}")
    if parts.username or parts.password:
        raise ConfigurationError(f"base URL for {parts.hostname} must not hold credentials: pass auth=")
    if parts.query or parts.fragment:
        raise ConfigurationError(f"base URL for {parts.hostname} must not have a query or fragment")
    if parts.scheme == "http" and not allow_http and not _is_loopback(parts.hostname):
        raise ConfigurationError(
            f"plain http is refused for {parts.hostname}: use https (http is allowed only on "
            "loopback hosts or with allow_http=True)"
        )
    return base_url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_timeout(timeout: float | tuple[float, float]) -> tuple[float, float]:
    pair = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    if len(pair) != 2 or not all(isinstance(t, int | float) and t > 0 for t in pair):
        raise ConfigurationError("timeout must be a positive number or a (connect, read) pair")
    return (float(pair[0]), float(pair[1]))


def _with_params(url: str, params: Mapping[str, Any] | None) -> str:
    if not params:
        return url
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, dict(params))
    return prepared.url or url


def _never_sent(exc: requests.RequestException) -> bool:
    """True only when the request certainly did not reach the server (no connection was made)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError) or not exc.args:
        return False
    reason = exc.args[0]
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    # NameResolutionError is a NewConnectionError: DNS, refused, unreachable.
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


def _variants(secret: str) -> set[str]:
    """A secret as it may be echoed back: raw, URL-encoded, JSON-escaped."""
    return {secret, quote(secret, safe=""), quote_plus(secret), stdjson.dumps(secret)[1:-1]}


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in _masked_forms(tuple(secrets)):
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement, needle in _PATTERNS_WITH_NEEDLES:
        if needle is None or needle in text.lower():
            text = pattern.sub(replacement, text)
    return text


@functools.lru_cache(maxsize=64)
def _masked_forms(secrets: tuple[str, ...]) -> tuple[str, ...]:
    """Every form of ``secrets`` to mask, longest first (a secret that contains another is masked
    whole). Cached: every request's URL is redacted for its log line, with the same few secrets."""
    return tuple(sorted({v for s in secrets if s for v in _variants(s)}, key=len, reverse=True))


def _server_messages(response: requests.Response) -> list[str]:
    """The server's own error messages from a JSON body, in the shapes platforms commonly use."""
    try:
        payload = jsonutil.loads(response.content)
    except ValueError:
        return []
    found: list[str] = []
    _collect(payload, found, depth=0)
    return found[:10]


def _collect(value: Any, found: list[str], depth: int) -> None:
    if depth > 3 or len(found) >= 10:
        return
    if isinstance(value, str):
        if value.strip():
            found.append(value.strip())
    elif isinstance(value, list):
        for item in value:
            _collect(item, found, depth + 1)
    elif isinstance(value, dict):
        keys = [k for k in _MESSAGE_KEYS if k in value]
        if keys:
            for key in keys:
                _collect(value[key], found, depth + 1)
        elif depth > 0:
            # e.g. {"errors": {"Email": ["is invalid"]}}: field -> messages
            for key, item in value.items():
                inner: list[str] = []
                _collect(item, inner, depth + 1)
                found.extend(f"{key}: {text}" for text in inner)
