"""The sandbox core: router, request/response toolkit, HTTP server, fault knobs, registry.

Everything runs over real loopback HTTP with ``requests``; no test touches the internet.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pluggy
import pytest
import requests

from orderbridge import hookspecs, jsonutil
from orderbridge.hookspecs import hookimpl
from orderbridge.sandbox import (
    Faults,
    HttpError,
    Request,
    Response,
    Router,
    SimServer,
    Simulator,
    SimulatorConflict,
    SimulatorNotFound,
    SimulatorRegistry,
    available_simulators,
    empty,
    json_response,
    route,
    serve,
)

TIMEOUT = 5


class Toy(Simulator):
    """A one-resource shop: items with an exact price."""

    name = "toy"
    description = "toy simulator for the sandbox tests"

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, dict[str, Any]] = {}
        self._next = 1

    def seed(self, count: int, *, seed: int = 0) -> None:
        for i in range(count):
            self._store({"name": f"item {seed}-{i}", "price": Decimal(f"{i}.{seed:02d}")})

    def credentials(self) -> dict[str, str]:
        return {"api_key": "toy-key"}

    def _store(self, data: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            item = {"id": str(self._next), **data}
            self._next += 1
            self.items[item["id"]] = item
            return item

    @route("GET", "/items")
    def list_items(self, request: Request) -> Response:
        with self.lock:
            return json_response({"Items": list(self.items.values()), "TotalItemsCount": len(self.items)})

    @route("POST", "/items")
    def create_item(self, request: Request) -> Response:
        return json_response(self._store(request.json()), 201)

    @route("GET", "/items/{item_id}")
    def get_item(self, request: Request, item_id: str) -> Response:
        with self.lock:
            if item_id not in self.items:
                raise HttpError(404, f"no item {item_id}")
            return json_response(self.items[item_id])

    @route("DELETE", "/items/{item_id}")
    def delete_item(self, request: Request, item_id: str) -> Response:
        with self.lock:
            if self.items.pop(item_id, None) is None:
                raise HttpError(404, f"no item {item_id}")
        return empty()

    @route("GET", "/items/count")
    def count_items(self, request: Request) -> Response:
        with self.lock:
            return json_response({"count": len(self.items)})

    @route("POST", "/token")
    def token(self, request: Request) -> Response:
        return json_response({"form": request.form(), "query": dict(request.query)})

    @route("GET", "/boom")
    def boom(self, request: Request) -> Response:
        raise RuntimeError("handler bug")


@pytest.fixture
def server() -> Iterator[SimServer]:
    with SimServer(Toy()) as srv:
        yield srv
    assert srv.errors == []


def toy(srv: SimServer) -> Toy:
    assert isinstance(srv.simulator, Toy)
    return srv.simulator


# --- routing and the request/response toolkit -------------------------------------------


def test_routes_path_params_and_specific_before_generic(server: SimServer) -> None:
    created = requests.post(f"{server.url}/items", json={"name": "a b"}, timeout=TIMEOUT)
    assert created.status_code == 201
    item_id = created.json()["id"]
    got = requests.get(f"{server.url}/items/{item_id}/", timeout=TIMEOUT)  # trailing slash tolerated
    assert got.status_code == 200
    assert got.json()["name"] == "a b"
    # "/items/count" is a literal route: it wins over "/items/{item_id}" whatever the order.
    assert requests.get(f"{server.url}/items/count", timeout=TIMEOUT).json() == {"count": 1}
    deleted = requests.delete(f"{server.url}/items/{item_id}", timeout=TIMEOUT)
    assert (deleted.status_code, deleted.content) == (204, b"")


def test_404_and_405(server: SimServer) -> None:
    missing = requests.get(f"{server.url}/nowhere", timeout=TIMEOUT)
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/json"
    assert missing.json()["status"] == 404
    assert requests.get(f"{server.url}/items/99", timeout=TIMEOUT).status_code == 404
    wrong = requests.put(f"{server.url}/items", timeout=TIMEOUT)
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "GET, POST"


def test_path_params_are_percent_decoded() -> None:
    router = Router()
    router.add("get", "/a/{x}/b/{y}", lambda request, x, y: json_response([x, y]))
    handler, params = router.match("GET", "/a/one%20two/b/3")
    assert params == {"x": "one two", "y": "3"}
    with pytest.raises(ValueError, match="already registered"):
        router.add("GET", "/a/{p}/b/{q}", handler)
    with pytest.raises(ValueError, match="whole segment"):
        router.add("GET", "/a/x{p}", handler)


def test_json_round_trip_keeps_decimals_exact(server: SimServer) -> None:
    body = '{"name":"x","price":19.90,"tax":0.10000000000000000001}'
    created = requests.post(
        f"{server.url}/items", data=body, headers={"Content-Type": "application/json"}, timeout=TIMEOUT
    )
    assert created.status_code == 201
    assert '"price":19.90' in created.text
    assert '"tax":0.10000000000000000001' in created.text
    stored = toy(server).items[created.json()["id"]]
    assert stored["price"] == Decimal("19.90") and isinstance(stored["price"], Decimal)
    listed = jsonutil.loads(requests.get(f"{server.url}/items", timeout=TIMEOUT).content)
    assert listed["Items"][0]["tax"] == Decimal("0.10000000000000000001")


def test_bad_json_is_400(server: SimServer) -> None:
    bad = requests.post(f"{server.url}/items", data=b"{not json", timeout=TIMEOUT)
    assert bad.status_code == 400
    assert "not valid JSON" in bad.json()["error"]
    assert requests.post(f"{server.url}/items", timeout=TIMEOUT).status_code == 400


def test_form_and_query(server: SimServer) -> None:
    answer = requests.post(
        f"{server.url}/token?x=1&x=2&empty=",
        data={"grant_type": "client_credentials", "client_id": "a b"},
        timeout=TIMEOUT,
    )
    assert answer.json() == {
        "form": {"grant_type": "client_credentials", "client_id": "a b"},
        "query": {"x": "1", "empty": ""},
    }
    assert toy(server).requests_log.snapshot()[-1] == ("POST", "/token", {"x": "1", "empty": ""})


def test_chunked_request_body(server: SimServer) -> None:
    chunks = (part for part in [b'{"name":', b'"chunked"}'])
    created = requests.post(f"{server.url}/items", data=chunks, timeout=TIMEOUT)
    assert created.status_code == 201
    assert created.json()["name"] == "chunked"


def test_request_helpers_without_http() -> None:
    request = Request.make(
        "post", "/p?q=1", headers={"authorization": "Bearer t0k"}, json={"a": Decimal("1.50")}
    )
    assert request.method == "POST" and request.query == {"q": "1"}
    assert request.headers["AUTHORIZATION"] == "Bearer t0k"
    assert request.content_type == "application/json"
    assert request.json() == {"a": Decimal("1.50")}
    assert request.bearer_token() == "t0k"
    assert "t0k" not in repr(request.headers)
    basic = Request.make("GET", "/", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.basic_auth() == ("user", "pass") and basic.bearer_token() is None
    assert Toy().handle(Request.make("GET", "/items/count")).status == 200


def test_handler_bug_answers_500_and_is_recorded() -> None:
    with SimServer(Toy()) as srv:
        answer = requests.get(f"{srv.url}/boom", timeout=TIMEOUT)
    assert answer.status_code == 500
    assert "RuntimeError" in answer.json()["error"]
    assert [type(e) for e in srv.errors] == [RuntimeError]


# --- fault knobs -----------------------------------------------------------------------


def test_error_rate_answers_5xx_before_the_handler(server: SimServer) -> None:
    server.faults = Faults(error_rate=1.0)
    statuses = {
        requests.post(f"{server.url}/items", json={"n": i}, timeout=TIMEOUT).status_code for i in range(10)
    }
    assert statuses <= {500, 502, 503}
    assert toy(server).items == {}
    assert toy(server).requests_log.total == 10


def test_rate_429_sends_retry_after(server: SimServer) -> None:
    server.faults = Faults(rate_429=1.0, retry_after=0)
    answer = requests.get(f"{server.url}/items", timeout=TIMEOUT)
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "0"
    assert answer.headers["X-Sandbox-Fault"] == "rate_429"


def test_drop_rate_closes_the_connection_before_the_handler(server: SimServer) -> None:
    server.faults.drop_rate = 1.0  # knobs change while the server runs
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{server.url}/items", json={"n": 1}, timeout=TIMEOUT)
    assert toy(server).items == {}


@pytest.mark.parametrize("mode", ["502", "drop"])
def test_error_after_applies_the_write_then_fails(server: SimServer, mode: Any) -> None:
    server.faults = Faults(error_after_rate=1.0, error_after_mode=mode)
    if mode == "502":
        answer = requests.post(f"{server.url}/items", json={"n": 1}, timeout=TIMEOUT)
        assert answer.status_code == 502
    else:
        with pytest.raises(requests.ConnectionError):
            requests.post(f"{server.url}/items", json={"n": 1}, timeout=TIMEOUT)
    assert [item["n"] for item in toy(server).items.values()] == [1]  # the ambiguous write happened


def test_error_after_either_is_deterministic_per_seed(server: SimServer) -> None:
    def outcomes() -> list[str]:
        server.faults = Faults(error_after_rate=0.5, seed=7)
        result = []
        for _ in range(20):
            try:
                result.append(str(requests.get(f"{server.url}/items", timeout=TIMEOUT).status_code))
            except requests.ConnectionError:
                result.append("drop")
        return result

    first = outcomes()
    assert first == outcomes()
    assert {"200", "502", "drop"} <= set(first)


def test_latency(server: SimServer) -> None:
    server.faults = Faults(latency=0.15)
    started = time.monotonic()
    assert requests.get(f"{server.url}/items", timeout=TIMEOUT).status_code == 200
    assert time.monotonic() - started >= 0.15


def test_rate_limit(server: SimServer) -> None:
    server.faults = Faults(rate_limit=5)
    with requests.Session() as session:
        answers = [session.get(f"{server.url}/items", timeout=TIMEOUT) for _ in range(15)]
    statuses = [a.status_code for a in answers]
    assert statuses[:5] == [200] * 5
    assert 429 in statuses
    limited = next(a for a in answers if a.status_code == 429)
    assert int(limited.headers["Retry-After"]) >= 1


def test_exempt_paths_and_only_methods(server: SimServer) -> None:
    server.faults = Faults(error_rate=1.0, exempt_paths=frozenset({"/token"}))
    assert requests.post(f"{server.url}/token", data={"a": "1"}, timeout=TIMEOUT).status_code == 200
    assert requests.get(f"{server.url}/items", timeout=TIMEOUT).status_code >= 500
    server.faults = Faults(error_rate=1.0, exempt_paths=frozenset({"/items*"}))
    assert requests.get(f"{server.url}/items/count", timeout=TIMEOUT).status_code == 200
    server.faults = Faults(error_rate=1.0, only_methods=frozenset({"post"}))
    assert requests.get(f"{server.url}/items", timeout=TIMEOUT).status_code == 200
    assert requests.post(f"{server.url}/items", json={}, timeout=TIMEOUT).status_code >= 500


def test_faults_validate_every_assignment() -> None:
    with pytest.raises(ValueError, match="error_rate"):
        Faults(error_rate=1.5)
    faults = Faults()
    with pytest.raises(ValueError, match="drop_rate"):
        faults.drop_rate = -0.1
    with pytest.raises(ValueError, match="error_after_mode"):
        faults.error_after_mode = "sometimes"  # type: ignore[assignment]
    faults.only_methods = {"get"}  # type: ignore[assignment]
    assert faults.only_methods == frozenset({"GET"})


# --- connections and concurrency ---------------------------------------------------------


def test_keep_alive_reuses_one_connection(server: SimServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    conn.connect()
    sock = conn.sock
    for _ in range(50):
        conn.request("GET", "/items/count")
        assert conn.getresponse().read() == b'{"count":0}'
        assert conn.sock is sock  # the server never closed it
    conn.close()

    started = time.monotonic()
    with requests.Session() as session:
        for _ in range(200):
            assert session.get(f"{server.url}/items/count", timeout=TIMEOUT).status_code == 200
    assert time.monotonic() - started < 5  # Nagle or a DNS lookup would cost ~40 ms each
    assert toy(server).requests_log.count("GET", "/items/count") == 250


def test_sixteen_threads_all_answered(server: SimServer) -> None:
    results: list[int] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        with requests.Session() as session:
            for i in range(25):
                status = session.post(f"{server.url}/items", json={"n": n, "i": i}, timeout=TIMEOUT)
                with lock:
                    results.append(status.status_code)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [201] * 400
    assert len(toy(server).items) == 400


def test_stop_closes_idle_keep_alive_connections() -> None:
    srv = SimServer(Toy()).start()
    session = requests.Session()
    session.get(f"{srv.url}/items", timeout=TIMEOUT)
    before = threading.active_count()
    srv.stop()
    srv.stop()  # idempotent
    deadline = time.monotonic() + 2
    while threading.active_count() >= before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() < before
    session.close()
    with pytest.raises(RuntimeError):
        _ = srv.url


# --- registry and serve() --------------------------------------------------------------


def test_registry_duplicates_and_lookup() -> None:
    class OtherToy(Toy):
        name = "toy"

    registry = SimulatorRegistry()
    registry.add(Toy)
    registry.add(Toy)  # the same class twice is harmless
    with pytest.raises(SimulatorConflict) as info:
        registry.add(OtherToy)
    assert "Toy" in str(info.value) and "OtherToy" in str(info.value)
    assert registry.names() == ["toy"] and list(registry) == ["toy"] and "toy" in registry
    assert registry.get("toy") is Toy
    with pytest.raises(SimulatorNotFound, match="known simulators: toy"):
        registry.get("nope")
    with pytest.raises(TypeError):
        registry.add(int)  # type: ignore[arg-type]


def test_available_simulators_through_the_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    plugins = pytest.importorskip("orderbridge.plugins")

    class OtherToy(Toy):
        name = "toy"

    # A private plugin manager: the test sees only its own two plugins, not installed ones.
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    monkeypatch.setattr(plugins, "get_plugin_manager", lambda: pm)
    first = SimpleNamespace(orderbridge_register_simulators=hookimpl(lambda registry: registry.add(Toy)))
    pm.register(first, name="toy-plugin")
    assert available_simulators() == {"toy": Toy}
    second = SimpleNamespace(
        orderbridge_register_simulators=hookimpl(lambda registry: registry.add(OtherToy))
    )
    pm.register(second, name="other-toy-plugin")
    with pytest.raises(SimulatorConflict) as info:
        available_simulators()
    assert "'toy-plugin'" in str(info.value) and "'other-toy-plugin'" in str(info.value)


def test_serve_starts_seeds_and_stops() -> None:
    faults = Faults(error_rate=1.0, exempt_paths=frozenset({"/items"}))
    with serve(["toy"], seed_counts={"toy": 3}, seed=5, faults=faults, simulators={"toy": Toy}) as servers:
        srv = servers["toy"]
        listed = jsonutil.loads(requests.get(f"{srv.url}/items", timeout=TIMEOUT).content)
        assert listed["TotalItemsCount"] == 3
        assert listed["Items"][2]["price"] == Decimal("2.05")
        assert requests.get(f"{srv.url}/items/count", timeout=TIMEOUT).status_code >= 500
        assert srv.urls() == {"base": srv.url}
        assert srv.simulator.credentials() == {"api_key": "toy-key"}
    with pytest.raises(RuntimeError):
        _ = srv.url
    with pytest.raises(SimulatorNotFound):
        with serve(["nope"], simulators={"toy": Toy}):
            pass
