"""Serve a :class:`~orderbridge.sandbox.app.Simulator` over real loopback HTTP/1.1, with fault knobs.

The knobs (:class:`Faults`) reproduce what a client must survive on the internet:
latency, 5xx answers, 429 with ``Retry-After``, dropped connections, a rate limit and,
most important for migrations, *ambiguous writes*: the handler runs (the write is
applied) and the client still sees a failure.
"""

from __future__ import annotations

import math
import random
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, Literal

from orderbridge.sandbox.app import HttpError, Request, Response, Simulator

__all__ = ["FAULT_MIX", "Faults", "SimServer"]

ErrorAfterMode = Literal["either", "502", "drop"]

FAULT_MIX: Final[Mapping[str, Any]] = {
    "error_rate": 0.08,
    "rate_429": 0.03,
    "retry_after": 0,
    "drop_rate": 0.015,
    "error_after_rate": 0.015,
    "error_after_mode": "drop",
}
"""A hard day for a target, as ``Faults(**FAULT_MIX)``: 8% 500/502/503, 3% 429, and 3% dropped
connections, half of them after the write was applied (the exactly-once tests and benchmarks)."""

_RATES = ("error_rate", "error_after_rate", "rate_429", "drop_rate")
_MODES = ("either", "502", "drop")


@dataclass
class Faults:
    """Fault knobs of a :class:`SimServer`; change them at any time, even while it serves.

    Every rate is a probability in ``[0, 1]`` drawn per request from a ``random.Random``
    seeded with ``seed`` (re-seeded when ``seed`` is assigned). Checks run in this order,
    before the handler: ``latency`` (sleep), ``rate_limit``, ``drop_rate``, ``rate_429``,
    ``error_rate``; ``error_after_rate`` runs the handler first and then answers 502
    or drops the connection (``error_after_mode``: ``"502"``, ``"drop"`` or ``"either"``).

    Faults touch only requests whose method is in ``only_methods`` (``None``: all) and
    whose path is not in ``exempt_paths`` (an entry ending in ``*`` is a prefix); this
    applies to every knob, ``latency`` and ``rate_limit`` included.
    """

    latency: float = 0.0
    """Seconds added to every request."""
    error_rate: float = 0.0
    """Fraction answered 500, 502 or 503 before the handler runs."""
    error_after_rate: float = 0.0
    """Fraction where the handler runs (writes are applied) and the client sees a failure."""
    error_after_mode: ErrorAfterMode = "either"
    """How an ``error_after_rate`` fault fails: a 502 answer, a dropped connection, or either."""
    rate_429: float = 0.0
    """Fraction answered 429 with ``Retry-After: <retry_after>`` before the handler runs."""
    retry_after: int = 1
    """Seconds sent in ``Retry-After`` on ``rate_429`` answers."""
    drop_rate: float = 0.0
    """Fraction where the connection is closed without an answer, before the handler runs."""
    rate_limit: float | None = None
    """Requests per second accepted (burst: one second's worth); excess gets 429 + ``Retry-After``."""
    seed: int | None = 0
    """Seed of the fault dice; ``None`` seeds from the system."""
    only_methods: frozenset[str] | None = None
    """Methods faults apply to (e.g. ``{"POST", "PUT"}``); ``None`` means all."""
    exempt_paths: frozenset[str] = frozenset()
    """Paths never faulted (e.g. the OAuth token path); ``"/api/*"`` is a prefix."""

    _rng: random.Random = field(init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __setattr__(self, name: str, value: Any) -> None:
        # Validate on every assignment, not only in __init__: knobs change while serving.
        if name in _RATES and not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"Faults.{name} must be within [0, 1], got {value!r}")
        if name in ("latency", "retry_after") and value < 0:
            raise ValueError(f"Faults.{name} must not be negative, got {value!r}")
        if name == "rate_limit" and value is not None and value <= 0:
            raise ValueError(f"Faults.rate_limit must be positive or None, got {value!r}")
        if name == "error_after_mode" and value not in _MODES:
            raise ValueError(f"Faults.error_after_mode must be one of {_MODES}, got {value!r}")
        if name == "only_methods" and value is not None:
            value = frozenset(m.upper() for m in value)
        if name == "exempt_paths":
            value = frozenset(value)
        super().__setattr__(name, value)
        if name == "seed":
            super().__setattr__("_rng", random.Random(value))

    @property
    def active(self) -> bool:
        """Whether any knob is set."""
        return bool(
            self.latency
            or self.rate_limit
            or self.error_rate
            or self.error_after_rate
            or self.rate_429
            or self.drop_rate
        )

    def applies(self, method: str, path: str) -> bool:
        """Whether faults may touch a request with this method and path."""
        if self.only_methods is not None and method.upper() not in self.only_methods:
            return False
        path = path.rstrip("/") or "/"
        for exempt in self.exempt_paths:
            if exempt.endswith("*"):
                if path.startswith(exempt[:-1]):
                    return False
            elif path == (exempt.rstrip("/") or "/"):
                return False
        return True

    def chance(self, rate: float) -> bool:
        """Roll the dice once: ``True`` with probability ``rate`` (no roll for 0 or 1)."""
        if rate <= 0.0:
            return False
        if rate >= 1.0:
            return True
        with self._lock:
            return self._rng.random() < rate

    def pick(self, options: tuple[Any, ...]) -> Any:
        """One of ``options`` chosen with the fault dice."""
        with self._lock:
            return self._rng.choice(options)


class _RateLimiter:
    """Token bucket refilled at ``rate`` per second, holding at most one second's worth."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rate = 0.0
        self._tokens = 0.0
        self._stamp = 0.0

    def acquire(self, rate: float) -> float:
        """Take a token: 0.0 if granted, else the seconds until one is available."""
        with self._lock:
            now = time.monotonic()
            capacity = max(1.0, rate)
            if rate != self._rate:  # new limit: start with a full bucket
                self._rate, self._tokens = rate, capacity
            else:
                self._tokens = min(capacity, self._tokens + (now - self._stamp) * rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / rate


def _fault_answer(status: int, knob: str, headers: dict[str, str] | None = None) -> Response:
    response = HttpError(status, f"simulated fault ({knob})", headers=headers).to_response()
    # Lets a failing test tell a simulated fault from a simulator bug.
    response.headers["X-Sandbox-Fault"] = knob
    return _finish(response)


class _BadRequest(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every answer carries Content-Length
    disable_nagle_algorithm = True  # small answers must not wait for the client's delayed ACK
    wbufsize = -1  # buffered: header and body leave in one send (handle_one_request flushes)
    timeout = 120  # an idle keep-alive connection frees its thread eventually
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: benchmarks send thousands of requests."""

    def address_string(self) -> str:
        """The client's IP without a reverse DNS lookup."""
        return str(self.client_address[0])

    def handle_expect_100(self) -> bool:
        """Answer ``Expect: 100-continue`` at once (the buffered writer would hold it back)."""
        accepted = super().handle_expect_100()
        self.wfile.flush()
        return accepted

    def do_GET(self) -> None:
        """Serve any method the same way."""
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except _BadRequest as exc:
            self.send_error(400, str(exc))
            self.close_connection = True
            return
        request = Request.make(self.command, self.path, headers=self.headers.items(), body=body)
        response = self.server.owner.respond(request)
        if response is None:
            # Dropped: nothing written, and closing makes the client see the connection die.
            self.close_connection = True
            return
        payload = response.body if isinstance(response.body, bytes) else b""
        self.send_response(response.status)
        for key, value in response.headers.items():
            if key.lower() != "content-length":  # computed below, never trusted from a handler
                self.send_header(key, value)
        if response.status not in (204, 304):  # RFC 9110: these carry no Content-Length
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            size = int(length)
        except ValueError:
            raise _BadRequest(f"bad Content-Length {length!r}")
        if size < 0:
            raise _BadRequest(f"bad Content-Length {length!r}")
        data = self.rfile.read(size)
        if len(data) != size:
            raise _BadRequest("body shorter than Content-Length")
        return data

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            line = self.rfile.readline(65537)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BadRequest("bad chunk size")
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # skip trailers
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # 16+ client threads opening connections at once must not be refused

    def __init__(self, address: tuple[str, int], owner: SimServer) -> None:
        self.owner = owner
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a DNS lookup that can stall start().
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: a client hanging up is routine; anything else is kept in ``owner.errors``."""
        exc = sys.exc_info()[1]
        if exc is not None and not isinstance(exc, OSError):
            self.owner.errors.append(exc)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        """Wake up threads parked on idle keep-alive connections so stop() leaves nothing behind."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6


class SimServer:
    """A :class:`Simulator` served on a loopback port in a background thread.

    ``with SimServer(sim) as server: requests.get(server.url + "/path")``. ``port=0``
    picks a free port. ``faults`` can be replaced or mutated while serving. Exceptions
    a handler raises (other than :class:`HttpError`) answer 500 and are kept in
    ``errors`` so a test can assert there were none.
    """

    def __init__(
        self,
        simulator: Simulator,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
    ) -> None:
        self.simulator = simulator
        self.faults: Faults = faults if faults is not None else Faults()
        self.errors: list[BaseException] = []
        self._host = host
        self._port = port
        self._limiter = _RateLimiter()
        self._gauge = threading.Lock()
        self.in_flight = 0
        """Requests being answered now (latency included)."""
        self.peak_in_flight = 0
        """The most requests answered at once since the server was made."""
        self.refused_by_rate_limit = 0
        """Requests answered 429 because they exceeded ``Faults.rate_limit``."""
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Root URL such as ``http://127.0.0.1:54321`` (no trailing slash); only while started."""
        if self._httpd is None:
            raise RuntimeError("SimServer is not started")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._httpd.server_port}"

    @property
    def port(self) -> int:
        """The bound port (only while started)."""
        if self._httpd is None:
            raise RuntimeError("SimServer is not started")
        return self._httpd.server_port

    def urls(self) -> dict[str, str]:
        """The simulator's named base URLs for this server (``simulator.urls(self.url)``)."""
        return self.simulator.urls(self.url)

    def catalogs(self) -> dict[str, str]:
        """The simulator's catalog URLs for this server (``simulator.catalogs(self.url)``)."""
        return self.simulator.catalogs(self.url)

    def start(self) -> SimServer:
        """Bind and serve in a daemon thread; returns ``self``."""
        if self._httpd is not None:
            raise RuntimeError("SimServer is already started")
        cls = _HTTPServer6 if ":" in self._host else _HTTPServer
        self._httpd = cls((self._host, self._port), self)
        name = getattr(self.simulator, "name", type(self.simulator).__name__)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() returns quickly
            name=f"sandbox-{name}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every connection; idempotent."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_open_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._httpd is not None else "stopped"
        return f"<SimServer {type(self.simulator).__name__} {where}>"

    def respond(self, request: Request) -> Response | None:
        """Log, apply faults, call the simulator; ``None`` means drop the connection.

        The answer's body is always ``bytes`` with its ``Content-Type`` set. Usable
        without sockets, e.g. to test fault logic directly. Counts the requests in
        flight (:attr:`peak_in_flight`) and those the rate limit refused.
        """
        with self._gauge:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return self._respond(request)
        finally:
            with self._gauge:
                self.in_flight -= 1

    def _respond(self, request: Request) -> Response | None:
        self.simulator.requests_log.append(request.method, request.path, request.query)
        faults = self.faults
        fail_after = False
        if faults.active and faults.applies(request.method, request.path):
            if faults.latency:
                time.sleep(faults.latency)
            if faults.rate_limit:
                wait = self._limiter.acquire(faults.rate_limit)
                if wait:
                    with self._gauge:
                        self.refused_by_rate_limit += 1
                    headers = {"Retry-After": str(max(1, math.ceil(wait)))}
                    return _fault_answer(429, "rate_limit", headers)
            if faults.chance(faults.drop_rate):
                return None
            if faults.chance(faults.rate_429):
                return _fault_answer(429, "rate_429", {"Retry-After": str(faults.retry_after)})
            if faults.chance(faults.error_rate):
                return _fault_answer(faults.pick((500, 502, 503)), "error_rate")
            fail_after = faults.chance(faults.error_after_rate)
        response = self._call(request)
        if fail_after:
            mode = faults.error_after_mode
            if mode == "either":
                mode = faults.pick(("502", "drop"))
            return None if mode == "drop" else _fault_answer(502, "error_after_rate")
        return response

    def _call(self, request: Request) -> Response:
        try:
            try:
                response = self.simulator.handle(request)
            except HttpError as exc:
                response = exc.to_response()
            if not isinstance(response, Response):
                raise TypeError(f"handler returned {type(response).__name__}, not Response")
            return _finish(response)
        except Exception as exc:
            self.errors.append(exc)
            return _finish(HttpError(500, f"simulator bug: {type(exc).__name__}: {exc}").to_response())


def _finish(response: Response) -> Response:
    """The response with its body encoded to bytes and a Content-Type set."""
    body, content_type = response.encode()
    headers = dict(response.headers)
    if content_type and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = content_type
    return Response(response.status, body, headers)
