"""The options of the WebinOne backends, declared once (the docs and ``backends --options`` read them)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

import attrs

import orderbridge as ob

from . import wire

__all__ = ["WebinOneOptions", "WebinOneV1Options", "WebinOneV2Options"]


@attrs.frozen(kw_only=True)
class WebinOneOptions:
    """Options both WebinOne backends take."""

    base_url: ob.HttpUrl | None = ob.option(
        None, doc="the site's https origin, e.g. https://example.webinone.site (required without transport)"
    )
    client_id: str | None = ob.option(
        None, doc=f"the API application's Client ID (default: ${wire.CLIENT_ID_ENV})"
    )
    client_secret: str | None = ob.option(
        None, secret=True, doc=f"the API application's Client Secret (default: ${wire.CLIENT_SECRET_ENV})"
    )
    token: str | None = ob.option(
        None, secret=True, doc="a ready access token, instead of client credentials"
    )
    page_size: int = ob.option(
        wire.PAGE_SIZE, doc="orders per list request (at least 2: pages overlap by one)"
    )
    timeout: ob.Timeout = ob.option((5.0, 30.0), doc="seconds to connect and to read an answer")
    max_retries: int = ob.option(4, doc="retries of a request that failed transiently (429, 5xx, connection)")
    rate_limit: float | None = ob.option(None, doc="requests per second at most (none: no limit)")
    allow_http: bool = ob.option(
        False, doc="allow plain http to a host that is not loopback (never do on a live site)"
    )
    on_unresolved: Literal["fail", "omit"] = ob.option(
        "fail", doc="a reference that does not resolve: fail the order, or omit it and write the rest"
    )
    resolver: ob.ReferenceResolver | None = ob.option(
        None, python_only=True, doc="the reference resolver (a migration passes its own; default: identity)"
    )
    transport: ob.Transport | None = ob.option(
        None, python_only=True, doc="a ready orderbridge.Transport (then base_url and credentials are unused)"
    )
    sleep: Callable[[float], None] = ob.option(
        time.sleep, python_only=True, doc="how to wait (tests inject one)"
    )


@attrs.frozen(kw_only=True)
class WebinOneV2Options(WebinOneOptions):
    """Options of ``webinone-v2``."""

    stamp_field: str | None = ob.option(
        None, doc="a custom CRM field, Group.Field, where a migration stamps each order it writes"
    )


@attrs.frozen(kw_only=True)
class WebinOneV1Options(WebinOneOptions):
    """Options of ``webinone-v1``."""

    site_timezone: ob.TimeZone = ob.option(
        ob.TimeZone("UTC"), doc="the site's IANA time zone (v1 times are naive local times)"
    )
    fields: str | None = ob.option(wire.V1_FIELDS, doc="the nested parts a list asks for (comma list)")
