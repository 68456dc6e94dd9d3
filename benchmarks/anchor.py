"""The anchor of the concurrency benchmark: a plain ``requests`` script sending orderbridge's requests.

:class:`Recorder` watches a migration run (untimed) and keeps, per target
order, every request orderbridge sent to write it (method, path, query, body),
plus the source's list requests and the target's reads before the first write
(the preflight's catalog lists, the ledger's pages). :func:`replay` then sends
exactly those requests to fresh sites with a ``requests.Session`` and a thread
pool, as a hand-written migration script would: the same bytes, no
translation, no state, no retries. What orderbridge adds on top of the wire is the gap
between the two, measured in the same run.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.adapters import HTTPAdapter

ORDERS_PATH = "/api/v2/admin/orders"
TOKEN_PATH = "/api/v1/oauth/token"
_ORDER_IN_PATH = re.compile(rf"{ORDERS_PATH}/(\d+)(?:/|$)")


@dataclass
class Step:
    """One recorded request (path relative to the site)."""

    method: str
    path: str
    params: dict[str, Any] | None
    body: bytes | None


@dataclass
class Recording:
    """What one migration sent: the source's reads, the target's reads before its writes (catalog
    lists, ledger pages), and each target order's writes in order."""

    source_reads: list[Step] = field(default_factory=list)
    target_reads: list[Step] = field(default_factory=list)
    orders: dict[str, list[Step]] = field(default_factory=dict)

    @property
    def requests_per_order(self) -> float:
        """Target requests per order (writes only: no token, no catalog list, no ledger read)."""
        return sum(len(s) for s in self.orders.values()) / max(1, len(self.orders))


class Recorder:
    """Wraps the sessions of a source and a target backend's transports and records their requests."""

    def __init__(self, source: Any, target: Any) -> None:
        self.recording = Recording()
        self._lock = threading.Lock()
        for backend in (source, target):
            backend.transport.ensure_pool(64)  # mounted now, so no later pool escapes the recording
        self._wrap(source.transport.session, self._source_request)
        self._wrap(target.transport.session, self._target_request)

    def _wrap(self, session: requests.Session, note: Any) -> None:
        # The adapter, not the session: a transport's own session sends through it directly.
        for adapter in {id(a): a for a in session.adapters.values()}.values():  # each once
            send = adapter.send

            def recorded(request: Any, *args: Any, _send: Any = send, **kwargs: Any) -> Any:
                response = _send(request, *args, **kwargs)
                note(request.method, request.url, request.body, response)
                return response

            adapter.send = recorded  # type: ignore[method-assign]

    def _step(self, method: str, url: str, body: Any) -> Step:
        parts = urlsplit(url)
        params = dict(parse_qsl(parts.query, keep_blank_values=True)) or None
        return Step(method, parts.path, params, body if isinstance(body, bytes) else None)

    def _source_request(self, method: str, url: str, body: Any, response: Any) -> None:
        if TOKEN_PATH not in url:
            with self._lock:
                self.recording.source_reads.append(self._step(method, url, body))

    def _target_request(self, method: str, url: str, body: Any, response: Any) -> None:
        if TOKEN_PATH in url:
            return  # the script asks for its own token
        step = self._step(method, url, body)
        with self._lock:
            if method == "GET" and not self.recording.orders:
                self.recording.target_reads.append(step)  # a catalog list or a ledger page
            elif method == "POST" and step.path == ORDERS_PATH:
                self.recording.orders[str(response.json()["Id"])] = [step]
            elif (m := _ORDER_IN_PATH.search(step.path)) is not None and m.group(1) in self.recording.orders:
                self.recording.orders[m.group(1)].append(step)


def _token(session: requests.Session, base: str, credentials: dict[str, str]) -> str:
    answer = session.post(
        base + TOKEN_PATH,
        data={"grant_type": "client_credentials", **credentials},
        timeout=30,
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def _session(workers: int, token: str) -> requests.Session:
    session = requests.Session()  # a plain script's session: trust_env and all
    adapter = HTTPAdapter(pool_maxsize=max(10, workers))
    session.mount("http://", adapter)
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def _write(session: requests.Session, base: str, old_id: str, steps: list[Step]) -> None:
    """One order's writes; the new order's id replaces the recorded one in later paths and bodies."""
    headers = {"Content-Type": "application/json"}
    first, *rest = steps
    answer = session.post(base + first.path, data=first.body, headers=headers, timeout=30)
    answer.raise_for_status()
    new_id = str(answer.json()["Id"])
    pattern = re.compile(rf'("OrderId":\s*"?){old_id}\b'.encode())
    for step in rest:
        path = step.path.replace(f"{ORDERS_PATH}/{old_id}", f"{ORDERS_PATH}/{new_id}")
        body = pattern.sub(rb"\g<1>" + new_id.encode(), step.body) if step.body else None
        answer = session.request(
            step.method, base + path, params=step.params, data=body, headers=headers, timeout=30
        )
        answer.raise_for_status()
        if answer.content:
            answer.json()  # a script reads what it is answered


def _chunks(items: list[Any], count: int) -> Iterator[list[Any]]:
    size = -(-len(items) // max(1, count))
    for i in range(0, len(items), max(1, size)):
        yield items[i : i + size]


def replay(recording: Recording, sites: dict[str, Any], workers: int) -> float:
    """Send the recorded requests to fresh ``sites`` (as ``RemoteSites.info``); returns the seconds taken."""
    old, new = sites["old"], sites["new"]
    started = time.perf_counter()
    plain = requests.Session()
    source = _session(
        1, _token(plain, old["url"], {"client_id": old["client_id"], "client_secret": old["client_secret"]})
    )
    target = _session(
        workers,
        _token(plain, new["url"], {"client_id": new["client_id"], "client_secret": new["client_secret"]}),
    )
    for read in recording.target_reads:  # what the script reads before it writes, one after another
        answer = target.request(read.method, new["url"] + read.path, params=read.params, timeout=30)
        answer.raise_for_status()
        json.loads(answer.content)
    orders = list(recording.orders.items())
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # Read a page, hand its orders to the writers: reads and writes overlap as in a migration.
        futures = []
        reads = recording.source_reads
        chunks = list(_chunks(orders, len(reads))) if reads else [orders]
        for i in range(max(len(reads), len(chunks))):
            if i < len(reads):
                read = reads[i]
                answer = source.request(read.method, old["url"] + read.path, params=read.params, timeout=30)
                json.loads(answer.content)
            if i < len(chunks):
                futures += [
                    pool.submit(_write, target, new["url"], old_id, steps) for old_id, steps in chunks[i]
                ]
        for future in futures:
            future.result()
    return time.perf_counter() - started
