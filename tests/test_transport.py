"""Transport: URLs, retries and backoff, Retry-After, ambiguous writes, error mapping, JSON, rate limit."""

from __future__ import annotations

import logging
import os
import threading
from decimal import Decimal
from http.client import RemoteDisconnected
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from orderbridge import errors
from orderbridge.auth import BearerToken
from orderbridge.transport import RequestRecord, Transport

from .fakes import FakeTime

BASE = "https://shop.example.com"
# 2024-01-01T00:00:00Z as the fake wall clock.
NOW = 1704067200.0


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime(now=1000.0)


def make(fake: FakeTime, base: str = BASE, **kw: Any) -> Transport:
    kw.setdefault("random", lambda: 1.0)
    return Transport(base, sleep=fake.sleep, clock=fake.clock, wall_clock=lambda: NOW, **kw)


def connect_refused() -> requests.ConnectionError:
    """What requests raises when no connection could be made (nothing was sent)."""
    return requests.ConnectionError(MaxRetryError(None, "/", NewConnectionError(None, "refused")))  # type: ignore[arg-type]


def connection_dropped() -> requests.ConnectionError:
    """What requests raises when the server closed the connection after the request went out."""
    return requests.ConnectionError(ProtocolError("Connection aborted.", RemoteDisconnected("closed")))


# -- URLs and construction -----------------------------------------------------


@pytest.mark.parametrize("url", ["http://shop.example.com", "ftp://shop.example.com", "shop.example.com"])
def test_non_https_base_url_is_refused(url: str) -> None:
    with pytest.raises(errors.ConfigurationError):
        Transport(url)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "http://localhost:5000/api", "http://[::1]:9000", "http://127.0.0.2"]
)
def test_plain_http_is_allowed_on_loopback(url: str) -> None:
    assert Transport(url).base_url == url.rstrip("/")


def test_plain_http_is_allowed_when_asked() -> None:
    assert Transport("http://shop.example.com/", allow_http=True).base_url == "http://shop.example.com"


def test_credentials_in_base_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(errors.ConfigurationError) as info:
        Transport("https://user:hunter2pass@shop.example.com")
    assert "hunter2pass" not in str(info.value)


def test_paths_join_onto_a_base_with_a_path(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.get("https://shop.example.com/api/v1/shopping_cart/orders", json={"orders": []})
    t = make(fake, "https://shop.example.com/api/v1/shopping_cart/")
    assert t.get("orders") == {"orders": []}
    assert t.get("/orders") == {"orders": []}
    assert t.get("https://shop.example.com/api/v1/shopping_cart/orders") == {"orders": []}
    with pytest.raises(errors.ConfigurationError):
        t.get("https://elsewhere.example.com/orders")


def test_timeouts_user_agent_and_counter(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.get(f"{BASE}/a", json={})
    seen: list[RequestRecord] = []
    t = make(fake, timeout=(2.0, 9.0), on_request=seen.append)
    t.get("/a")
    t.get("/a")
    call = mock.calls[0]
    assert call.request.req_kwargs["timeout"] == (2.0, 9.0)  # type: ignore[attr-defined]
    assert call.request.headers["User-Agent"].startswith("orderbridge/")
    assert call.request.headers["Accept"] == "application/json"
    assert t.request_count == 2
    assert [(r.method, r.status) for r in seen] == [("GET", 200), ("GET", 200)]


def test_context_manager_closes_its_own_session_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with Transport(BASE) as t:
        assert t.session.verify is True
    mine = requests.Session()
    with Transport(BASE, session=mine):
        pass
    assert mine.adapters  # a session passed in is left open


def test_the_environment_is_read_once_per_site_not_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.net:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example.org")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/company-ca.pem")
    t = Transport(BASE)
    # requests would rescan the environment on every request (trust_env): resolved once instead.
    assert t.session.trust_env is False
    assert t.session.proxies == {"https": "http://proxy.example.net:3128"}
    assert t.session.verify == "/etc/company-ca.pem"
    inside = Transport("https://shop.internal.example.org")
    assert inside.session.proxies == {} and inside.session.trust_env is False  # NO_PROXY honoured
    assert Transport(BASE, verify=False).session.verify is False  # an explicit choice wins
    mine = requests.Session()
    Transport(BASE, session=mine)
    assert mine.trust_env is True  # a session passed in is the caller's


def test_the_connection_pool_grows_to_the_workers() -> None:
    t = Transport(BASE)
    assert t.session.get_adapter(BASE).poolmanager.connection_pool_kw["maxsize"] == 32
    t.ensure_pool(48)
    assert t.session.get_adapter(BASE).poolmanager.connection_pool_kw["maxsize"] == 48
    t.ensure_pool(8)  # never shrinks below what is open
    assert t.session.get_adapter(BASE).poolmanager.connection_pool_kw["maxsize"] == 48


def test_fetch_answers_status_headers_and_a_body_parsed_only_when_asked(
    mock: responses.RequestsMock, fake: FakeTime
) -> None:
    mock.get(
        f"{BASE}/orders",
        body='{"orders": [{"id": 1, "total": 19.90}]}',
        headers={"X-WP-TotalPages": "7", "X-WP-Total": "130"},
    )
    mock.get(f"{BASE}/broken", body="<html>oops</html>")
    answer = make(fake).fetch("GET", "orders")
    assert answer.status == 200 and answer.headers["x-wp-total"] == "130"  # case-insensitive
    assert answer.header_int("X-WP-TotalPages") == 7 and answer.header_int("X-Missing") is None
    assert answer.json() == {"orders": [{"id": 1, "total": Decimal("19.90")}]}
    assert answer.json() is answer.json()  # parsed once
    assert answer.decode(lambda raw: raw.count(b"id")) == 1  # or read by a decoder of the caller's
    broken = make(fake).fetch("GET", "broken")  # not parsed yet: no error yet
    with pytest.raises(errors.MalformedResponse, match="not valid JSON") as caught:
        broken.json()
    assert caught.value.status == 200 and "/broken" in (caught.value.url or "")


# -- JSON -------------------------------------------------------------------------


def test_decimal_goes_out_exact_and_floats_come_back_as_decimal(
    mock: responses.RequestsMock, fake: FakeTime
) -> None:
    mock.post(f"{BASE}/orders", body='{"Id": 7, "Total": 19.90, "Tax": 0.1}', status=201)
    answer = make(fake).post("/orders", json={"Total": Decimal("19.90"), "Qty": 3})
    sent = mock.calls[0].request
    assert sent.body == b'{"Total":19.90,"Qty":3}'
    assert sent.headers["Content-Type"] == "application/json"
    assert answer == {"Id": 7, "Total": Decimal("19.90"), "Tax": Decimal("0.1")}
    assert isinstance(answer["Tax"], Decimal)


def test_empty_and_204_answers_are_none(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.delete(f"{BASE}/orders/1", status=204)
    mock.put(f"{BASE}/orders/1", body="", status=200)
    t = make(fake)
    assert t.delete("/orders/1") is None
    assert t.put("/orders/1", json={"a": 1}) is None


def test_non_json_answer_is_malformed(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.get(f"{BASE}/orders", body="<html>login</html>", headers={"X-Request-Id": "r-9"})
    with pytest.raises(errors.MalformedResponse) as info:
        make(fake).get("/orders")
    assert info.value.status == 200 and info.value.request_id == "r-9"
    assert "<html>" in (info.value.body or "")


def test_unexpected_success_status_is_malformed(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.post(f"{BASE}/orders", json={}, status=200)
    with pytest.raises(errors.MalformedResponse, match="unexpected status 200"):
        make(fake).post("/orders", json={}, expected=(201,))


# -- retries and backoff ----------------------------------------------------------------


def test_get_is_retried_until_it_succeeds(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.get(f"{BASE}/a", status=503)
    mock.get(f"{BASE}/a", status=502)
    mock.get(f"{BASE}/a", json={"ok": True})
    assert make(fake).get("/a") == {"ok": True}
    assert len(mock.calls) == 3
    assert fake.sleeps == [0.5, 1.0]


def test_retries_are_exhausted_then_server_error(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.get(f"{BASE}/a", status=504, headers={"X-Correlation-Id": "c-1"})
    with pytest.raises(errors.ServerError) as info:
        make(fake, max_retries=4).get("/a")
    assert len(mock.calls) == 5
    assert info.value.status == 504 and info.value.request_id == "c-1"
    assert fake.sleeps == [0.5, 1.0, 2.0, 4.0]


def test_backoff_grows_is_capped_and_jittered(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.get(f"{BASE}/a", status=503)
    draws = iter([0.5, 0.25, 1.0, 0.1, 1.0])
    with pytest.raises(errors.ServerError):
        make(fake, max_retries=5, backoff_base=1.0, backoff_cap=6.0, random=lambda: next(draws)).get("/a")
    # ceilings 1, 2, 4, 6 (capped), 6 times the random draws
    assert fake.sleeps == pytest.approx([0.5, 0.5, 4.0, 0.6, 6.0])


def test_connection_errors_are_retried_for_get_then_connection_failed(
    mock: responses.RequestsMock, fake: FakeTime
) -> None:
    mock.get(f"{BASE}/a", body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(errors.ConnectionFailed) as info:
        make(fake, max_retries=2).get("/a")
    assert len(mock.calls) == 3
    assert "ReadTimeout" in str(info.value)


def test_retry_logs_a_warning_without_headers(
    mock: responses.RequestsMock, fake: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    mock.get(f"{BASE}/a", status=503)
    mock.get(f"{BASE}/a", json={})
    with caplog.at_level(logging.DEBUG, logger="orderbridge.transport"):
        make(fake, auth=BearerToken("tok-abcdef-123")).get("/a", params={"Limit": 5})
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    debug = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(warnings) == 1 and "retry 1/4" in warnings[0].getMessage()
    assert len(debug) == 2 and f"GET {BASE}/a?Limit=5 -> 200" in debug[1].getMessage()
    assert all("tok-abcdef-123" not in r.getMessage() for r in caplog.records)


# -- Retry-After ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "slept"),
    [
        ("7", 7.0),
        ("1.5", 1.5),
        ("600", 120.0),  # capped
        ("Mon, 01 Jan 2024 00:00:42 GMT", 42.0),
        ("Mon, 01 Jan 2024 05:00:00 GMT", 120.0),  # capped
        ("Sun, 31 Dec 2023 23:00:00 GMT", 0.0),  # already past
        ("soon", 0.5),  # unreadable: plain backoff
    ],
)
def test_retry_after_is_honoured_and_capped(
    mock: responses.RequestsMock, fake: FakeTime, value: str, slept: float
) -> None:
    mock.get(f"{BASE}/a", status=429, headers={"Retry-After": value})
    mock.get(f"{BASE}/a", json=[])
    assert make(fake).get("/a") == []
    assert fake.sleeps == [slept]


def test_rate_limited_after_retries_carries_retry_after(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.get(f"{BASE}/a", status=429, headers={"Retry-After": "30"})
    with pytest.raises(errors.RateLimited) as info:
        make(fake, max_retries=2, retry_after_cap=10.0).get("/a")
    assert info.value.retry_after == 30.0
    assert fake.sleeps == [10.0, 10.0]
    assert len(mock.calls) == 3


def test_a_429s_retry_after_holds_every_request(mock: responses.RequestsMock, fake: FakeTime) -> None:
    # The other workers' requests would be refused too while the site's window refills.
    mock.get(f"{BASE}/a", status=429, headers={"Retry-After": "3"})
    mock.get(f"{BASE}/b", json=[])
    transport = make(fake, max_retries=0)
    with pytest.raises(errors.RateLimited):
        transport.get("/a")
    assert fake.sleeps == []
    assert transport.get("/b") == []  # sent within the hold: waits it out first
    assert fake.sleeps == [3.0]
    assert transport.get("/b") == [] and fake.sleeps == [3.0]  # the hold is over


def test_a_retried_429_waits_its_retry_after_once(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.get(f"{BASE}/a", status=429, headers={"Retry-After": "2"})
    mock.get(f"{BASE}/a", json=[])
    fake.sleep = lambda seconds: fake.sleeps.append(seconds)  # type: ignore[method-assign]  # time stands still
    assert make(fake).get("/a") == []
    assert fake.sleeps == [2.0]


# -- non-idempotent writes --------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 500},
        {"status": 502},
        {"status": 503},
        {"status": 504},
        {"body": requests.exceptions.ReadTimeout("read timed out")},
        {"body": connection_dropped()},
    ],
)
def test_post_that_may_have_arrived_is_ambiguous_after_one_request(
    mock: responses.RequestsMock, fake: FakeTime, answer: dict[str, Any]
) -> None:
    mock.post(f"{BASE}/orders", **answer)
    with pytest.raises(errors.AmbiguousWrite) as info:
        make(fake).post("/orders", json={"a": 1})
    assert len(mock.calls) == 1
    assert fake.sleeps == []
    assert info.value.method == "POST" and info.value.url == f"{BASE}/orders"


def test_post_answered_500_is_ambiguous_and_sent_once(mock: responses.RequestsMock, fake: FakeTime) -> None:
    # A 500 may come after the server did the work, so a plain POST is not repeated.
    mock.post(f"{BASE}/orders", status=500)
    with pytest.raises(errors.AmbiguousWrite) as info:
        make(fake).post("/orders", json={})
    assert len(mock.calls) == 1
    assert fake.sleeps == []
    assert info.value.status == 500


def test_get_500_is_retried_then_succeeds(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.get(f"{BASE}/a", status=500)
    mock.get(f"{BASE}/a", json={"ok": True})
    assert make(fake).get("/a") == {"ok": True}
    assert len(mock.calls) == 2
    assert fake.sleeps == [0.5]


def test_get_500_after_retries_is_server_error(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.get(f"{BASE}/a", status=500)
    with pytest.raises(errors.ServerError) as info:
        make(fake, max_retries=2).get("/a")
    assert len(mock.calls) == 3
    assert info.value.status == 500


@pytest.mark.parametrize(
    "first",
    [
        {"status": 429, "headers": {"Retry-After": "3"}},
        {"body": requests.exceptions.ConnectTimeout("connect timed out")},
        {"body": connect_refused()},
    ],
)
def test_post_is_retried_when_it_certainly_did_not_arrive(
    mock: responses.RequestsMock, fake: FakeTime, first: dict[str, Any]
) -> None:
    mock.post(f"{BASE}/orders", **first)
    mock.post(f"{BASE}/orders", json={"Id": 1}, status=201)
    assert make(fake).post("/orders", json={}) == {"Id": 1}
    assert len(mock.calls) == 2


def test_idempotent_post_and_put_are_retried(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.post(f"{BASE}/search", status=502)
    mock.post(f"{BASE}/search", json=[])
    mock.put(f"{BASE}/orders/1", body=requests.exceptions.ReadTimeout())
    mock.put(f"{BASE}/orders/1", json={})
    t = make(fake)
    assert t.post("/search", json={}, idempotent=True) == []
    assert t.put("/orders/1", json={}) == {}
    assert len(mock.calls) == 4


def test_tls_failure_is_not_retried(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.get(f"{BASE}/a", body=requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(errors.ConnectionFailed, match="TLS failure"):
        make(fake).get("/a")
    assert len(mock.calls) == 1


# -- error mapping ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, errors.Rejected),
        (401, errors.AuthenticationError),
        (403, errors.AuthenticationError),
        (404, errors.NotFound),
        (409, errors.Rejected),
        (422, errors.Rejected),
        (429, errors.RateLimited),
        (500, errors.ServerError),
        (501, errors.ServerError),
        (503, errors.ServerError),
    ],
)
def test_status_maps_to_error(
    mock: responses.RequestsMock, fake: FakeTime, status: int, error: type[errors.TransportError]
) -> None:
    mock.get(f"{BASE}/orders/5", status=status, body="nope", headers={"X-Request-Id": "req-42"})
    with pytest.raises(error) as info:
        make(fake, max_retries=0).get("/orders/5", params={"fields": "Id"})
    exc = info.value
    assert type(exc) is error
    assert (exc.method, exc.url, exc.status, exc.body, exc.request_id) == (
        "GET",
        f"{BASE}/orders/5?fields=Id",
        status,
        "nope",
        "req-42",
    )
    assert "req-42" in str(exc) and str(status) in str(exc)


@pytest.mark.parametrize(
    ("body", "messages"),
    [
        ({"errors": ["Email is invalid", "Total is negative"]}, ("Email is invalid", "Total is negative")),
        ({"Message": "The request is invalid."}, ("The request is invalid.",)),
        ({"error": "invalid_request", "error_description": "bad"}, ("bad", "invalid_request")),
        ({"title": "Bad", "errors": {"Email": ["is required"]}}, ("Email: is required", "Bad")),
        ({"errors": [{"message": "status unknown"}]}, ("status unknown",)),
        ({"whatever": 1}, ()),
    ],
)
def test_rejected_extracts_server_messages(
    mock: responses.RequestsMock, fake: FakeTime, body: Any, messages: tuple[str, ...]
) -> None:
    mock.post(f"{BASE}/orders", status=400, json=body)
    with pytest.raises(errors.Rejected) as info:
        make(fake).post("/orders", json={})
    assert info.value.messages == messages
    for message in messages:
        assert message in str(info.value)


def test_long_body_is_trimmed(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.get(f"{BASE}/a", status=500, body="x" * 5000)
    with pytest.raises(errors.ServerError) as info:
        make(fake, max_retries=0).get("/a")
    body = info.value.body or ""
    assert body.startswith("x" * 500) and "4500 more characters" in body and len(body) < 600


def test_query_secrets_are_masked_in_error_urls(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.get(f"{BASE}/a", status=404)
    with pytest.raises(errors.NotFound) as info:
        make(fake).get("/a", params={"api_key": "k-123456", "Limit": 2})
    assert info.value.url == f"{BASE}/a?api_key=***&Limit=2"
    assert "k-123456" not in str(info.value)


# -- rate limit ---------------------------------------------------------------------


def test_rate_limiter_spaces_request_starts(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.get(f"{BASE}/a", json={})
    t = make(fake, rate_limit=4.0)
    for _ in range(3):
        t.get("/a")
    assert fake.sleeps == [0.25, 0.25]
    fake.now += 10  # idle time is not saved up as a burst beyond one request
    t.get("/a")
    t.get("/a")
    assert fake.sleeps == [0.25, 0.25, 0.25]


def test_rate_limiter_also_spaces_retries(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.get(f"{BASE}/a", status=503, headers={"Retry-After": "0"})
    mock.get(f"{BASE}/a", json={})
    make(fake, rate_limit=2.0).get("/a")
    assert fake.sleeps == [0.0, 0.5]


@pytest.mark.parametrize("kw", [{"rate_limit": 0}, {"max_retries": -1}, {"timeout": (0, 5)}])
def test_bad_settings_are_refused(kw: dict[str, Any]) -> None:
    with pytest.raises(errors.ConfigurationError):
        Transport(BASE, **kw)


def test_a_requests_own_header_wins_over_the_default_whatever_its_case(
    mock: responses.RequestsMock, fake: FakeTime
) -> None:
    mock.get(f"{BASE}/a", json=[])
    transport = make(fake)
    transport.get("/a", headers={"accept": "text/plain", "X-Extra": "1"})
    sent = mock.calls[0].request.headers
    assert sent["Accept"] == "text/plain" and sent["X-Extra"] == "1"
    assert [name for name in sent if name.lower() == "accept"] == ["accept"]
    assert sent["User-Agent"].startswith("orderbridge/")


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def test_a_sites_pool_key_is_worked_out_once_not_per_request(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # requests asks the file system whether a CA bundle path is a directory on every request
    # (a system call: one more wait for the GIL per request at many workers); once per site here.
    bundle = tmp_path / "company-ca.pem"
    bundle.write_text("")
    asked: list[str] = []
    isdir = os.path.isdir
    monkeypatch.setattr(os.path, "isdir", lambda path: asked.append(str(path)) or isdir(path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with Transport(f"http://127.0.0.1:{server.server_port}", verify=str(bundle)) as t:
            for _ in range(5):
                assert t.get("/ping") == {}
            adapter = t.session.get_adapter(t.base_url)
            request = requests.Request("GET", t.base_url + "/other").prepare()
            host, pool = adapter.build_connection_pool_key_attributes(request, str(bundle))
            unverified = adapter.build_connection_pool_key_attributes(request, False)[1]
    finally:
        server.shutdown()
        server.server_close()
    assert asked.count(str(bundle)) == 1
    assert host == {"scheme": "http", "host": "127.0.0.1", "port": server.server_port}
    assert pool["ca_certs"] == str(bundle) and pool["cert_reqs"] == "CERT_REQUIRED"
    assert unverified["cert_reqs"] == "CERT_NONE" and "ca_certs" not in unverified  # another verify: its own
