"""Credentials for :class:`~orderbridge.transport.Transport`, as ``requests`` auth objects.

Every class here exposes ``secrets()`` (the secret strings it holds, so the
transport can mask them out of errors and logs) and a ``repr`` without them.

- :class:`OAuthClientCredentials`: the OAuth 2.0 client-credentials grant
  (WebinOne). The token is fetched through the transport it is bound to, cached
  until shortly before it expires, shared by all threads, and dropped when the
  server answers 401 so the transport can retry once with a fresh one.
- :class:`BearerToken`: a ready token.
- :class:`ApiKeyAuth`: an API key in a configurable header.
- :class:`BasicAuth`: HTTP Basic.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import requests
from requests.auth import AuthBase

from orderbridge.errors import (
    AuthenticationError,
    ConfigurationError,
    MalformedResponse,
    NotFound,
    Rejected,
)

if TYPE_CHECKING:
    from orderbridge.transport import Transport

__all__ = ["ApiKeyAuth", "BasicAuth", "BearerToken", "OAuthClientCredentials"]


def _check_secret(name: str, value: str) -> str:
    """Refuse an empty or header-breaking secret without ever echoing it."""
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{name} must be a non-empty string")
    if value != value.strip() or any(c in value for c in "\r\n\0"):
        raise ConfigurationError(f"{name} must not contain line breaks or surrounding whitespace")
    return value


class OAuthClientCredentials(AuthBase):
    """OAuth 2.0 client-credentials grant with a cached, thread-safe access token.

    ``token_url`` is absolute or a path on the transport's site (WebinOne:
    ``/api/v1/oauth/token``). The token request is a form-encoded POST of
    ``grant_type=client_credentials``, ``client_id``, ``client_secret`` (and
    ``scope`` when given), sent through the bound transport so it shares its
    session, timeouts, TLS settings and retries. The answer
    ``{"access_token", "token_type", "expires_in"}`` is cached until
    ``expires_in`` minus ``refresh_margin`` (at most half the lifetime) by
    ``clock``. A refused token request raises
    :class:`~orderbridge.errors.AuthenticationError`; a server or network
    failure keeps its own class (ServerError, ConnectionFailed, RateLimited).
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        refresh_margin: float = 60.0,
    ) -> None:
        if not token_url:
            raise ConfigurationError("token_url must not be empty")
        if not client_id:
            raise ConfigurationError("client_id must not be empty")
        self.token_url = token_url
        self.client_id = client_id
        self.scope = scope
        self.refresh_margin = refresh_margin
        self._client_secret = _check_secret("client_secret", client_secret)
        self._clock = clock
        # Re-entrant: the transport asks secrets() while we hold it during a fetch.
        self._lock = threading.RLock()
        self._transport: Transport | None = None
        self._token: str | None = None
        self._token_type = "Bearer"  # noqa: S105 - a scheme name, not a secret
        self._expires_at: float | None = None
        self.fetch_count = 0
        """How many tokens were fetched (for tests and diagnostics)."""

    def bind(self, transport: Transport) -> None:
        """Fetch tokens through ``transport`` (called by the Transport constructor)."""
        self._transport = transport

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = self.authorization()
        return r

    def authorization(self) -> str:
        """The ``Authorization`` header value, fetching a token first when none is valid."""
        with self._lock:  # one fetch at a time; other threads wait and reuse it
            if self._token is None or (self._expires_at is not None and self._clock() >= self._expires_at):
                self._fetch()
            return self._header()

    def invalidate(self, rejected: str | None = None) -> None:
        """Forget the cached token, unless ``rejected`` names an older one already replaced.

        ``rejected`` is the ``Authorization`` value the server refused; when
        another thread has refreshed in the meantime, the new token is kept.
        """
        with self._lock:
            if self._token is not None and (rejected is None or rejected == self._header()):
                self._token = None

    def secrets(self) -> tuple[str, ...]:
        """The client secret and the current access token."""
        token = self._token  # read without the lock: called while a fetch holds it
        return (self._client_secret, token) if token else (self._client_secret,)

    def __repr__(self) -> str:
        scope = f", scope={self.scope!r}" if self.scope else ""
        return f"OAuthClientCredentials({self.token_url!r}, client_id={self.client_id!r}{scope})"

    def _header(self) -> str:
        return f"{self._token_type} {self._token}"

    def _fetch(self) -> None:
        if self._transport is None:
            raise ConfigurationError("OAuthClientCredentials must be passed to a Transport before use")
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
        }
        if self.scope:
            form["scope"] = self.scope
        self.fetch_count += 1
        try:
            answer = self._transport.request(
                "POST", self.token_url, data=form, idempotent=True, authenticate=False
            )
        except (AuthenticationError, NotFound, Rejected, MalformedResponse) as exc:
            failure = exc  # raised outside the except block: nothing chained
        else:
            self._store(*_parse_token_answer(answer, self.token_url))
            return
        # The transport already redacted the body; the request body is never kept.
        raise AuthenticationError(
            f"token request failed: {failure.message}",
            method=failure.method,
            url=failure.url,
            status=failure.status,
            body=failure.body,
            request_id=failure.request_id,
        )

    def _store(self, token: str, token_type: str, expires_in: float | None) -> None:
        self._token, self._token_type = token, token_type
        if expires_in is None:
            self._expires_at = None  # kept until the server answers 401
        else:
            margin = min(self.refresh_margin, expires_in / 2)
            self._expires_at = self._clock() + expires_in - margin


def _parse_token_answer(answer: Any, url: str) -> tuple[str, str, float | None]:
    """(access_token, token_type, expires_in) from the token endpoint's JSON answer."""

    def refuse(why: str) -> AuthenticationError:
        return AuthenticationError(f"token endpoint answer {why}", method="POST", url=url)

    if not isinstance(answer, dict):
        raise refuse("is not a JSON object")
    token = answer.get("access_token")
    if not isinstance(token, str) or not token or any(c in token for c in "\r\n\0 "):
        raise refuse("has no usable access_token")
    token_type = answer.get("token_type") or "Bearer"
    if not isinstance(token_type, str) or not token_type.isalnum():
        raise refuse("has an unusable token_type")
    if token_type.lower() == "bearer":
        token_type = "Bearer"  # noqa: S105 - servers may send "bearer"; use the usual case
    expires_in = answer.get("expires_in")
    if expires_in is None:
        return token, token_type, None
    try:
        seconds = float(Decimal(str(expires_in)))
    except (InvalidOperation, ValueError):
        raise refuse("has an unusable expires_in")
    return token, token_type, max(0.0, seconds)


class BearerToken(AuthBase):
    """A ready access token, sent as ``Authorization: Bearer <token>``. It cannot be refreshed."""

    def __init__(self, token: str) -> None:
        self._token = _check_secret("token", token)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self._token}"
        return r

    def secrets(self) -> tuple[str, ...]:
        """The token."""
        return (self._token,)

    def __repr__(self) -> str:
        return "BearerToken(***)"


class ApiKeyAuth(AuthBase):
    """An API key in a header: ``<header>: <prefix> <key>``, or the bare key when ``prefix`` is empty."""

    def __init__(self, key: str, header: str = "Authorization", prefix: str = "Bearer") -> None:
        if not header or any(c in header for c in ":\r\n "):
            raise ConfigurationError("header must be a valid HTTP header name")
        self._key = _check_secret("API key", key)
        self.header = header
        self.prefix = prefix.strip()

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers[self.header] = f"{self.prefix} {self._key}" if self.prefix else self._key
        return r

    def secrets(self) -> tuple[str, ...]:
        """The key."""
        return (self._key,)

    def __repr__(self) -> str:
        return f"ApiKeyAuth(header={self.header!r}, prefix={self.prefix!r}, key=***)"


class BasicAuth(AuthBase):
    """HTTP Basic authentication (``user:password`` encoded as UTF-8)."""

    def __init__(self, username: str, password: str) -> None:
        if not username or ":" in username:
            raise ConfigurationError("username must be non-empty and must not contain ':'")
        self.username = username
        self._password = _check_secret("password", password)
        self._encoded = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Basic {self._encoded}"
        return r

    def secrets(self) -> tuple[str, ...]:
        """The password and its encoded header form."""
        return (self._password, self._encoded)

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password=***)"
