"""orderbridge: move e-commerce orders between platforms without losing a cent.

The public API. Plugins import only names exported here (plus the documented
subpackages :mod:`orderbridge.sandbox` and :mod:`orderbridge.testing`); JSON
with exact money is :mod:`orderbridge.jsonutil`, exported as ``ob.jsonutil``::

    import orderbridge as ob

    source = ob.connect("webinone-v1", base_url=..., client_id=..., client_secret=...)
    target = ob.connect("jsonl", path="orders.jsonl")
    for order in source.iter_orders():
        target.create_order(order)
"""

from __future__ import annotations

from typing import Any as _Any

from orderbridge import jsonutil
from orderbridge.auth import ApiKeyAuth, BasicAuth, BearerToken, OAuthClientCredentials
from orderbridge.backend import (
    Backend,
    Capability,
    Loss,
    Stamp,
    WriteJournal,
    foreign_extras_losses,
    merge_losses,
)
from orderbridge.converters import (
    canonical_converter,
    iter_jsonl,
    iter_jsonl_records,
    make_converter,
    order_from_dict,
    order_from_json,
    order_to_dict,
    order_to_json,
    parse_aware_datetime,
    parse_decimal,
    upgrade_document,
    write_jsonl,
)
from orderbridge.errors import (
    AmbiguousWrite,
    AuthenticationError,
    BackendConflict,
    BackendNotFound,
    ConfigurationError,
    ConnectionFailed,
    InvalidOrder,
    MalformedResponse,
    NotFound,
    OrderbridgeError,
    PagingError,
    PartialWrite,
    PreflightFailed,
    RateLimited,
    RedirectRefused,
    Rejected,
    ServerError,
    TransportError,
    UnresolvedReference,
    UnsupportedOperation,
    UnsupportedSchemaVersion,
    field_scope,
)
from orderbridge.hookspecs import hookimpl
from orderbridge.migration import Concurrency, MigrationReport, Selection, VerifyReport, migrate, verify
from orderbridge.model import (
    SCHEMA_VERSION,
    Address,
    AttributeSelection,
    Customer,
    CustomValue,
    Discount,
    Fee,
    GiftVoucher,
    JsonValue,
    MetaEntry,
    OpenEnum,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentState,
    PaymentType,
    Refund,
    RefundLine,
    ShippingLine,
    ShippingOption,
    SourceRef,
    StatusChange,
    Tax,
    TaxLine,
    TaxTarget,
)
from orderbridge.options import (
    HttpUrl,
    OptionError,
    OptionInfo,
    Timeout,
    TimeZone,
    declared_options,
    option,
    structure_options,
)
from orderbridge.paging import (
    KeysetPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PagingStats,
    pages_from_headers,
)
from orderbridge.plugins import (
    BackendRegistry,
    available_backends,
    get_backend,
    register,
    unregister,
)
from orderbridge.references import (
    DEFAULT_KEY,
    NO_ID_SPACE,
    REFERENCE_ID_FIELDS,
    REFERENCE_KINDS,
    ReferenceCandidate,
    ReferenceResolver,
    check_listed_ids,
    foreign_id_losses,
    foreign_ids,
    id_space_of,
    shares_ids,
)
from orderbridge.transport import Answer, Transport

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_KEY",
    "NO_ID_SPACE",
    "REFERENCE_ID_FIELDS",
    "REFERENCE_KINDS",
    "SCHEMA_VERSION",
    "Address",
    "AmbiguousWrite",
    "Answer",
    "ApiKeyAuth",
    "AttributeSelection",
    "AuthenticationError",
    "Backend",
    "BackendConflict",
    "BackendNotFound",
    "BackendRegistry",
    "BasicAuth",
    "BearerToken",
    "Capability",
    "Concurrency",
    "ConfigurationError",
    "ConnectionFailed",
    "CustomValue",
    "Customer",
    "Discount",
    "Fee",
    "GiftVoucher",
    "HttpUrl",
    "InvalidOrder",
    "JsonValue",
    "KeysetPaginator",
    "Loss",
    "MalformedResponse",
    "MetaEntry",
    "MigrationReport",
    "NotFound",
    "OAuthClientCredentials",
    "OffsetPaginator",
    "OpenEnum",
    "OptionError",
    "OptionInfo",
    "Order",
    "OrderLine",
    "OrderStatus",
    "OrderbridgeError",
    "PageNumberPaginator",
    "PagingError",
    "PagingStats",
    "PartialWrite",
    "Payment",
    "PaymentState",
    "PaymentType",
    "PreflightFailed",
    "RateLimited",
    "RedirectRefused",
    "ReferenceCandidate",
    "ReferenceResolver",
    "Refund",
    "RefundLine",
    "Rejected",
    "Selection",
    "ServerError",
    "ShippingLine",
    "ShippingOption",
    "SourceRef",
    "Stamp",
    "StatusChange",
    "Tax",
    "TaxLine",
    "TaxTarget",
    "TimeZone",
    "Timeout",
    "Transport",
    "TransportError",
    "UnresolvedReference",
    "UnsupportedOperation",
    "UnsupportedSchemaVersion",
    "VerifyReport",
    "WriteJournal",
    "__version__",
    "available_backends",
    "canonical_converter",
    "check_listed_ids",
    "connect",
    "declared_options",
    "field_scope",
    "foreign_extras_losses",
    "foreign_id_losses",
    "foreign_ids",
    "get_backend",
    "hookimpl",
    "id_space_of",
    "iter_jsonl",
    "iter_jsonl_records",
    "jsonutil",
    "make_converter",
    "merge_losses",
    "migrate",
    "option",
    "order_from_dict",
    "order_from_json",
    "order_to_dict",
    "order_to_json",
    "pages_from_headers",
    "parse_aware_datetime",
    "parse_decimal",
    "register",
    "shares_ids",
    "structure_options",
    "unregister",
    "upgrade_document",
    "verify",
    "write_jsonl",
]


def connect(backend: str, **options: _Any) -> Backend:
    """An instance of backend ``backend`` built with its keyword ``options``.

    ``connect("webinone-v2", base_url=..., client_id=..., client_secret=...)``;
    each backend's page in the docs lists its options. Options are read
    strictly through the backend's declaration (``"false"`` is false, a typo
    is an :class:`OptionError` naming the nearest option); ``KEY_env="VAR"``
    reads an option from the environment.
    """
    return get_backend(backend).configure(options)


def __dir__() -> list[str]:
    """The public names only (``dir(orderbridge)``, editors' completion): what ``__all__`` lists."""
    return sorted(__all__)
