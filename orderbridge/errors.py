"""One error hierarchy for orderbridge, classified by cause.

Every error orderbridge raises derives from :class:`OrderbridgeError`. HTTP
failures derive from :class:`TransportError` and carry the status, a trimmed
body and the request id where the server sent one. No error message ever holds
a secret: transport errors are built from already-redacted text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

__all__ = [
    "AmbiguousWrite",
    "AuthenticationError",
    "BackendConflict",
    "BackendNotFound",
    "ConfigurationError",
    "ConnectionFailed",
    "InvalidOrder",
    "MalformedResponse",
    "NotFound",
    "OrderbridgeError",
    "PagingError",
    "PartialWrite",
    "PreflightFailed",
    "RateLimited",
    "RedirectRefused",
    "Rejected",
    "ServerError",
    "TransportError",
    "UnresolvedReference",
    "UnsupportedOperation",
    "UnsupportedSchemaVersion",
    "field_scope",
]

BODY_LIMIT = 500
"""How many characters of a response body an error keeps."""


def trim(text: str | None, limit: int = BODY_LIMIT) -> str | None:
    """Shorten ``text`` to ``limit`` characters, marking the cut."""
    if text is None:
        return None
    if len(text) <= limit:
        return text
    return text[:limit] + f"... [{len(text) - limit} more characters]"


class OrderbridgeError(Exception):
    """Base class of every error orderbridge raises."""


class ConfigurationError(OrderbridgeError, ValueError):
    """A setting is missing or wrong (URL, credentials, mapping table, option)."""


class BackendNotFound(OrderbridgeError, LookupError):
    """No installed backend has the requested name."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = sorted(known)
        listing = ", ".join(self.known) or "none"
        super().__init__(f"no backend named {name!r}; installed backends: {listing}")


class BackendConflict(OrderbridgeError):
    """Two plugins claim the same backend name."""

    def __init__(self, name: str, first_plugin: str, second_plugin: str) -> None:
        self.name = name
        self.plugins = (first_plugin, second_plugin)
        super().__init__(
            f"backend name {name!r} is claimed by two plugins: "
            f"{first_plugin!r} and {second_plugin!r}; block one with "
            f"ORDERBRIDGE_BLOCK_PLUGINS"
        )


class UnsupportedOperation(OrderbridgeError):
    """The backend cannot perform this operation (checked before any request)."""

    def __init__(self, backend: str, operation: str, capabilities: Iterable[str]) -> None:
        self.backend = backend
        self.operation = operation
        self.capabilities = frozenset(capabilities)
        super().__init__(
            f"backend {backend!r} does not support {operation!r} "
            f"(it supports: {', '.join(sorted(self.capabilities)) or 'nothing'})"
        )


class InvalidOrder(OrderbridgeError, ValueError):
    """An order (canonical or wire document) breaks a rule.

    ``order`` names the order (its remote id, number, or ``"?"`` when the
    document has none), ``field`` is the path of the offending field, for
    example ``"lines[2].unit_price"``.
    """

    def __init__(self, message: str, *, field: str | None = None, order: str | None = None) -> None:
        self.message = message
        self.field = field
        self.order = order
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.order is not None:
            where.append(f"order {self.order}")
        if self.field:
            where.append(f"field {self.field}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message

    def within(self, *, order: str | None = None, prefix: str | None = None) -> InvalidOrder:
        """Return a copy placed inside an order and/or under a parent field path."""
        field = self.field
        if prefix:
            field = f"{prefix}.{field}" if field and not field.startswith("[") else f"{prefix}{field or ''}"
        err = type(self).__new__(type(self))
        err.__dict__.update(self.__dict__)
        InvalidOrder.__init__(
            err, self.message, field=field, order=order if order is not None else self.order
        )
        return err


class UnsupportedSchemaVersion(InvalidOrder):
    """A canonical order document names a ``schema_version`` this orderbridge cannot read.

    ``version`` is the value the document gives (``None`` when it gives none),
    ``supported`` the versions this orderbridge reads. An :class:`InvalidOrder`,
    so a JSON Lines reader counts it as one bad line.
    """

    def __init__(self, version: Any, supported: Sequence[int], *, order: str | None = None) -> None:
        self.version = version
        self.supported = tuple(supported)
        readable = ", ".join(str(v) for v in self.supported)
        if version is None:
            message = f"has no schema_version (this orderbridge reads versions {readable})"
        elif isinstance(version, int) and not isinstance(version, bool) and version > max(self.supported):
            message = (
                f"unsupported schema_version {version!r}: written by a newer orderbridge "
                f"(this one reads versions {readable}); upgrade orderbridge to read it"
            )
        else:
            message = f"unsupported schema_version {version!r} (this orderbridge reads versions {readable})"
        super().__init__(message, field="schema_version", order=order)


@contextmanager
def field_scope(path: str) -> Iterator[None]:
    """An :class:`InvalidOrder` raised inside names its field under ``path``.

    For translations that build nested parts::

        for i, pay in enumerate(doc["payments"]):
            with field_scope(f"payments[{i}]"):
                payments.append(Payment(created_at=..., amount=...))

    a naive ``created_at`` is then reported as ``payments[0].created_at``.
    """
    try:
        yield
    except InvalidOrder as exc:
        raise exc.within(prefix=path) from None


class UnresolvedReference(OrderbridgeError, LookupError):
    """A reference the target must already hold (status, member, discount...) has no mapping."""

    def __init__(self, *, kind: str, value: str, order: str | None = None, target: str | None = None) -> None:
        self.kind = kind
        self.value = value
        self.order = order
        self.target = target
        where = f"order {order}: " if order else ""
        on = f" on target {target!r}" if target else ""
        super().__init__(f"{where}no {kind} mapping for {value!r}{on}")


class TransportError(OrderbridgeError):
    """An HTTP exchange failed. Carries what is needed to diagnose it, never a secret."""

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        status: int | None = None,
        body: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.body = trim(body)
        self.request_id = request_id
        self.message = message
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [self.message]
        if self.method and self.url:
            parts.append(f"({self.method} {self.url})")
        if self.status is not None:
            parts.append(f"status {self.status}")
        if self.request_id:
            parts.append(f"request id {self.request_id}")
        if self.body:
            parts.append(f"body: {self.body}")
        return " ".join(parts)


class AuthenticationError(TransportError):
    """The server refused the credentials (401/403, or the token endpoint failed)."""


class NotFound(TransportError, LookupError):
    """The server has no such resource (404)."""


class RateLimited(TransportError):
    """The server answered 429 and retries were exhausted."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class Rejected(TransportError):
    """The server rejected the request as invalid (4xx other than 401/403/404/429).

    ``messages`` holds the server's own error messages when it sent any.
    """

    def __init__(self, message: str, *, messages: Sequence[str] = (), **kw: Any) -> None:
        self.messages = tuple(messages)
        if self.messages:
            message = f"{message}: {'; '.join(self.messages)}"
        super().__init__(message, **kw)


class ServerError(TransportError):
    """The server failed (5xx) and retries were exhausted."""


class ConnectionFailed(TransportError):
    """No answer: the connection could not be made, was dropped, or timed out."""


class MalformedResponse(TransportError):
    """The server answered, but not with what the API documents (bad JSON, wrong shape)."""


class PreflightFailed(OrderbridgeError):
    """An endpoint failed its read-only check before the run read a single order."""


class RedirectRefused(TransportError):
    """The server answered with a redirect, which orderbridge does not follow.

    Following it could send credentials (an Authorization header, an API key, a
    token request's secret) to another host, or over plain HTTP; ``location`` says
    where the server pointed, so the configured base URL can be corrected.
    """

    def __init__(self, message: str, *, location: str | None = None, **details: Any) -> None:
        self.location = location
        super().__init__(message, **details)


class AmbiguousWrite(TransportError):
    """A non-idempotent write may or may not have reached the server.

    It is never retried blindly: look the object up (by a natural key) before
    writing again.
    """


class PartialWrite(OrderbridgeError):
    """A write that takes several requests failed part-way.

    ``written`` says exactly what the target already holds, for example
    ``{"order_id": "812", "lines": ["1", "2"], "payments": [], "steps": ["order", "line:0"]}``,
    so a caller can finish or undo it. ``cause`` is the error that stopped it.
    """

    def __init__(self, message: str, *, written: dict[str, Any], cause: BaseException) -> None:
        self.written = written
        self.cause = cause
        super().__init__(f"{message}; already written: {written}; cause: {cause}")


class PagingError(OrderbridgeError):
    """A source's paging cannot be trusted (it repeats, stalls or contradicts itself); paging stopped."""
