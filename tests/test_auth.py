"""Auth: OAuth client credentials (cache, expiry, 401 refresh, threads), simple auths, secret canary."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
import responses

from orderbridge import errors
from orderbridge.auth import ApiKeyAuth, BasicAuth, BearerToken, OAuthClientCredentials
from orderbridge.transport import Transport

from .fakes import FakeTime

BASE = "https://site.webinone.example"
TOKEN_URL = f"{BASE}/api/v1/oauth/token"
SECRET = "canary-s3cr3t-XYZ"
TOKEN = "canary-t0ken-ABC"


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime(now=0.0)


def oauth(fake: FakeTime, **kw: Any) -> tuple[OAuthClientCredentials, Transport]:
    auth = OAuthClientCredentials("/api/v1/oauth/token", "app-id", SECRET, clock=fake.clock)
    transport = Transport(BASE, auth=auth, sleep=fake.sleep, clock=fake.clock, random=lambda: 1.0, **kw)
    return auth, transport


def token_answer(token: str = TOKEN, expires_in: int = 3600) -> dict[str, Any]:
    return {"json": {"access_token": token, "token_type": "bearer", "expires_in": expires_in}}


def token_calls(mock: responses.RequestsMock) -> list[Any]:
    return [c for c in mock.calls if c.request.url == TOKEN_URL]


def api_calls(mock: responses.RequestsMock) -> list[Any]:
    return [c for c in mock.calls if c.request.url != TOKEN_URL]


# -- OAuth client credentials ---------------------------------------------------------


def test_token_request_is_form_encoded_client_credentials(
    mock: responses.RequestsMock, fake: FakeTime
) -> None:
    mock.post(TOKEN_URL, **token_answer())
    mock.get(f"{BASE}/api/v2/admin/orders", json={"Items": [], "TotalItemsCount": 0})
    _, t = oauth(fake)
    t.get("/api/v2/admin/orders")
    sent = token_calls(mock)[0].request
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in sent.headers
    assert parse_qs(sent.body) == {
        "grant_type": ["client_credentials"],
        "client_id": ["app-id"],
        "client_secret": [SECRET],
    }
    assert sent.req_kwargs["timeout"] == (5.0, 30.0)  # the transport's session and settings
    assert api_calls(mock)[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_token_is_cached_across_requests(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.post(TOKEN_URL, **token_answer())
    mock.get(f"{BASE}/a", json={})
    auth, t = oauth(fake)
    for _ in range(3):
        t.get("/a")
    assert len(token_calls(mock)) == 1 and auth.fetch_count == 1
    assert t.request_count == 4  # token round trips are counted too


def test_token_is_refreshed_shortly_before_expiry(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.post(TOKEN_URL, **token_answer("tok-1"))
    mock.post(TOKEN_URL, **token_answer("tok-2"))
    mock.get(f"{BASE}/a", json={})
    _, t = oauth(fake)
    t.get("/a")
    fake.now = 3539.0  # 3600 s minus the 60 s margin not yet reached
    t.get("/a")
    fake.now = 3540.0
    t.get("/a")
    assert len(token_calls(mock)) == 2
    assert [c.request.headers["Authorization"] for c in api_calls(mock)] == [
        "Bearer tok-1",
        "Bearer tok-1",
        "Bearer tok-2",
    ]


def test_401_refreshes_once_and_retries(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.post(TOKEN_URL, **token_answer("tok-old"))
    mock.post(TOKEN_URL, **token_answer("tok-new"))
    mock.post(f"{BASE}/orders", status=401)
    mock.post(f"{BASE}/orders", json={"Id": 9}, status=201)
    _, t = oauth(fake)
    assert t.post("/orders", json={}) == {"Id": 9}  # a 401 POST was not processed: safe to retry
    assert len(token_calls(mock)) == 2
    sent = [c.request.headers["Authorization"] for c in api_calls(mock)]
    assert sent == ["Bearer tok-old", "Bearer tok-new"]
    assert fake.sleeps == []


def test_second_401_raises_authentication_error(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.post(TOKEN_URL, **token_answer())
    mock.get(f"{BASE}/a", status=401, headers={"Request-Id": "rid-7"})
    _, t = oauth(fake)
    with pytest.raises(errors.AuthenticationError) as info:
        t.get("/a")
    assert len(token_calls(mock)) == 2 and len(api_calls(mock)) == 2
    assert info.value.status == 401 and info.value.request_id == "rid-7"


def test_invalidate_keeps_a_token_another_thread_already_refreshed(
    mock: responses.RequestsMock, fake: FakeTime
) -> None:
    mock.post(TOKEN_URL, **token_answer("tok-2"))
    auth, _ = oauth(fake)
    assert auth.authorization() == "Bearer tok-2"
    auth.invalidate("Bearer tok-1")  # a late 401 for the old token
    assert auth.authorization() == "Bearer tok-2" and auth.fetch_count == 1
    auth.invalidate("Bearer tok-2")
    auth.authorization()
    assert auth.fetch_count == 2


def test_threads_share_one_token_fetch(mock: responses.RequestsMock, fake: FakeTime) -> None:
    mock.post(TOKEN_URL, **token_answer())
    mock.get(f"{BASE}/a", json={})
    auth, t = oauth(fake)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: t.get("/a"), range(32)))
    assert auth.fetch_count == 1
    assert t.request_count == 33


@pytest.mark.parametrize("status", [400, 401, 403])
def test_refused_token_request_is_authentication_error(
    mock: responses.RequestsMock, fake: FakeTime, status: int
) -> None:
    mock.post(TOKEN_URL, status=status, json={"error": "invalid_client", "error_description": "bad secret"})
    _, t = oauth(fake)
    with pytest.raises(errors.AuthenticationError) as info:
        t.get("/a")
    assert info.value.status == status and "token request failed" in str(info.value)
    assert len(mock.calls) == 1  # the API call itself never went out


def test_token_request_is_retried_like_an_idempotent_call(
    mock: responses.RequestsMock, fake: FakeTime
) -> None:
    mock.post(TOKEN_URL, status=503)
    mock.post(TOKEN_URL, **token_answer())
    mock.get(f"{BASE}/a", json={})
    _, t = oauth(fake)
    t.get("/a")
    assert len(token_calls(mock)) == 2


@pytest.mark.parametrize(
    "answer",
    [
        {"token_type": "Bearer"},
        {"access_token": ""},
        {"access_token": "a b"},
        ["x"],
        {"access_token": "t", "expires_in": "soon"},
    ],
)
def test_unusable_token_answer_is_authentication_error(
    mock: responses.RequestsMock, fake: FakeTime, answer: Any
) -> None:
    mock.post(TOKEN_URL, json=answer)
    _, t = oauth(fake)
    with pytest.raises(errors.AuthenticationError):
        t.get("/a")


def test_unbound_oauth_is_a_configuration_error() -> None:
    auth = OAuthClientCredentials(TOKEN_URL, "app-id", SECRET)
    with pytest.raises(errors.ConfigurationError):
        auth.authorization()


# -- simple auths -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [
        (BearerToken("tok-123"), "Authorization", "Bearer tok-123"),
        (ApiKeyAuth("key-123"), "Authorization", "Bearer key-123"),
        (ApiKeyAuth("key-123", header="X-Api-Key", prefix=""), "X-Api-Key", "key-123"),
        (ApiKeyAuth("key-123", prefix="Token"), "Authorization", "Token key-123"),
        (BasicAuth("shop", "pa:ss"), "Authorization", "Basic c2hvcDpwYTpzcw=="),
    ],
)
def test_simple_auths_set_their_header(
    mock: responses.RequestsMock, auth: requests.auth.AuthBase, header: str, value: str
) -> None:
    mock.get(f"{BASE}/a", json={})
    Transport(BASE, auth=auth).get("/a")
    assert mock.calls[0].request.headers[header] == value
    assert all(secret not in repr(auth) for secret in auth.secrets())  # type: ignore[attr-defined]


def test_secrets_lists_what_each_auth_holds(mock: responses.RequestsMock, fake: FakeTime) -> None:
    assert BearerToken("t-1").secrets() == ("t-1",)
    assert ApiKeyAuth("k-1").secrets() == ("k-1",)
    assert BasicAuth("u", "p-1").secrets() == ("p-1", "dTpwLTE=")
    mock.post(TOKEN_URL, **token_answer())
    auth, _ = oauth(fake)
    assert auth.secrets() == (SECRET,)
    auth.authorization()
    assert auth.secrets() == (SECRET, TOKEN)


@pytest.mark.parametrize("bad", ["", " padded", "line\nbreak"])
def test_bad_secret_is_refused_without_echo(bad: str) -> None:
    makers: list[Callable[[str], object]] = [
        BearerToken,
        ApiKeyAuth,
        lambda s: BasicAuth("u", s),
        lambda s: OAuthClientCredentials(TOKEN_URL, "id", s),
    ]
    for make in makers:
        with pytest.raises(errors.ConfigurationError) as info:
            make(bad)
        assert not bad or bad not in str(info.value)


# -- the canary: secrets never leak -----------------------------------------------------


def _leaks(text: str) -> bool:
    return SECRET in text or TOKEN in text


def _exception_texts(exc: BaseException) -> list[str]:
    return [str(exc), repr(exc), "".join(traceback.format_exception(exc)), repr(vars(exc))]


def test_canary_secret_and_token_never_leak(
    mock: responses.RequestsMock, fake: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    echo = f"oops {SECRET} {TOKEN} client_secret={SECRET} Authorization: Bearer {TOKEN}"
    mock.post(TOKEN_URL, **token_answer())
    mock.get(f"{BASE}/unauthorized", status=401, body=echo, headers={"X-Request-Id": f"id-{TOKEN}"})
    mock.get(f"{BASE}/broken", status=500, body=echo)
    mock.get(f"{BASE}/slow", body=requests.exceptions.ReadTimeout(f"timed out: {BASE}/slow?secret={SECRET}"))
    mock.post(f"{BASE}/slow", body=requests.exceptions.ReadTimeout(f"timed out {TOKEN}"))
    mock.post(f"{BASE}/reject", status=422, json={"errors": [f"bad {SECRET}"], "Message": TOKEN})
    auth, t = oauth(fake, max_retries=1)
    raised: list[BaseException] = []
    with caplog.at_level(logging.DEBUG):
        calls: list[Callable[[], object]] = [
            lambda: t.get("/unauthorized"),
            lambda: t.get("/broken"),
            lambda: t.get("/slow"),
            lambda: t.post("/slow", json={}),
            lambda: t.post("/reject", json={}),
        ]
        for call in calls:
            with pytest.raises(errors.TransportError) as info:
                call()
            raised.append(info.value)
    assert [type(e) for e in raised] == [
        errors.AuthenticationError,
        errors.ServerError,
        errors.ConnectionFailed,
        errors.AmbiguousWrite,
        errors.Rejected,
    ]
    assert "***" in str(raised[1])  # the echo was masked, not dropped
    for exc in raised:
        assert not any(_leaks(text) for text in _exception_texts(exc)), exc
    assert not _leaks(repr(auth)) and not _leaks(repr(t))
    assert caplog.records
    for record in caplog.records:
        assert not _leaks(record.getMessage())


def test_canary_token_endpoint_failure_never_leaks(
    mock: responses.RequestsMock, fake: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    mock.post(
        TOKEN_URL,
        status=400,
        body=f"grant_type=client_credentials&client_id=app-id&client_secret={SECRET} rejected",
    )
    _, t = oauth(fake)
    with caplog.at_level(logging.DEBUG), pytest.raises(errors.AuthenticationError) as info:
        t.get("/a")
    assert not any(_leaks(text) for text in _exception_texts(info.value))
    assert not any(_leaks(r.getMessage()) for r in caplog.records)
