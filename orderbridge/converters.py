"""The shared cattrs converter factory and the canonical JSON form of an order.

:func:`make_converter` builds a converter that knows orderbridge's value
types: ``Decimal`` (a string in JSON-ready form, never a float), aware
datetimes (ISO 8601 with offset), open enums (their raw text), and free-form
JSON values (custom fields, extras) in which a ``Decimal`` is tagged
``{"$decimal": "12.50"}`` so it survives a trip through JSON text exactly.
Backends call :func:`make_converter` (or ``canonical_converter.copy()``) and
register their own hooks on their private copy.

The canonical form of an order is the converter's dict plus
``"schema_version"``; JSON Lines hold one such dict per line. Orders are
written in schema :data:`~orderbridge.model.SCHEMA_VERSION` (2); documents of
schema 1 are read too (:func:`upgrade_document`), any other version raises
:class:`~orderbridge.errors.UnsupportedSchemaVersion`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import IO, Any

import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

from orderbridge import jsonutil
from orderbridge.errors import InvalidOrder, UnsupportedSchemaVersion
from orderbridge.model import SCHEMA_VERSION, CustomValue, Extras, JsonValue, OpenEnum, Order

__all__ = [
    "canonical_converter",
    "invalid_order_from",
    "iter_jsonl",
    "iter_jsonl_records",
    "make_converter",
    "order_from_dict",
    "order_from_json",
    "order_to_dict",
    "order_to_json",
    "parse_aware_datetime",
    "parse_decimal",
    "upgrade_document",
    "write_jsonl",
]

READABLE_SCHEMA_VERSIONS = (1, 2)
"""The ``schema_version`` values :func:`order_from_dict` reads (it writes only the last)."""

_DECIMAL_TAG = "$decimal"


def parse_decimal(value: Any) -> Decimal:
    """Read an amount from a JSON value: a string, an int or a Decimal, never a float."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"expected an exact amount, got {type(value).__name__} {value!r}")
    if isinstance(value, int | str):
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"not an amount: {value!r}") from None
        if not result.is_finite():
            raise ValueError(f"not a finite amount: {value!r}")
        return result
    raise ValueError(f"expected an amount, got {type(value).__name__}")


def _parse_int(value: Any, _: Any = None) -> int:
    # cattrs' default is int(value), which reads "2" and truncates 2.5; an index is a JSON integer.
    # (Strict scalars: canonical JSON is written by orderbridge, a wrong type is a broken document.)
    if type(value) is int:
        return value
    raise ValueError(f"expected an integer, got {type(value).__name__} {value!r}")


def _parse_str(value: Any, _: Any = None) -> str:
    # cattrs' default is str(value): a number where text belongs would pass unseen.
    if isinstance(value, str):
        return value
    raise ValueError(f"must be a string, got {type(value).__name__} {value!r}")


def _parse_bool(value: Any, _: Any = None) -> bool:
    # cattrs' default is bool(value): the text "false" would be true.
    if type(value) is bool:
        return value
    raise ValueError(f"expected true or false, got {type(value).__name__} {value!r}")


def parse_aware_datetime(value: Any) -> datetime:
    """Read an ISO 8601 datetime that carries an offset; a naive one is an error."""
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, str):
        try:
            result = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not an ISO 8601 datetime: {value!r}") from None
    else:
        raise ValueError(f"expected a datetime string, got {type(value).__name__}")
    if result.tzinfo is None:
        raise ValueError(f"datetime has no offset: {value!r}")
    return result


def _json_value_out(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {_DECIMAL_TAG: str(value)}
    if isinstance(value, Mapping):
        return {k: _json_value_out(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value_out(v) for v in value]
    return value


def _json_value_in(value: Any) -> Any:
    if isinstance(value, Mapping):
        if len(value) == 1 and _DECIMAL_TAG in value:
            return parse_decimal(value[_DECIMAL_TAG])
        return {k: _json_value_in(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value_in(v) for v in value]
    if isinstance(value, float):
        raise ValueError("floats are not allowed; write amounts as strings or $decimal")
    return value


def _check_mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a mapping of {what}, got {type(value).__name__}")
    return value


def _structure_custom_fields(value: Any, _: Any) -> dict[str, dict[str, CustomValue]]:
    groups = _json_value_in(_check_mapping(value, "groups"))
    return {group: dict(_check_mapping(fields, "fields")) for group, fields in groups.items()}


def make_converter(*, omit_if_default: bool = True, forbid_extra_keys: bool = True) -> cattrs.Converter:
    """A new converter with orderbridge's value hooks; copy or extend it freely."""
    conv = cattrs.Converter(omit_if_default=omit_if_default, forbid_extra_keys=forbid_extra_keys)
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(Decimal, lambda v, _: parse_decimal(v))
    conv.register_structure_hook(int, _parse_int)
    conv.register_structure_hook(bool, _parse_bool)
    conv.register_structure_hook(str, _parse_str)
    conv.register_unstructure_hook(datetime, datetime.isoformat)
    conv.register_structure_hook(datetime, lambda v, _: parse_aware_datetime(v))

    def is_open_enum(t: Any) -> bool:
        return isinstance(t, type) and issubclass(t, OpenEnum)

    conv.register_unstructure_hook(OpenEnum, lambda e: e.value)

    def structure_enum(value: Any, cls: type[OpenEnum]) -> OpenEnum:
        if not isinstance(value, str):
            raise ValueError(f"expected text, got {type(value).__name__}")
        return cls(value)

    conv.register_structure_hook_func(is_open_enum, structure_enum)

    # Generic aliases cannot go through singledispatch, so match them by equality.
    custom_type = dict[str, dict[str, CustomValue]]
    conv.register_unstructure_hook_func(lambda t: t == custom_type, _json_value_out)
    conv.register_structure_hook_func(lambda t: t == custom_type, _structure_custom_fields)
    conv.register_unstructure_hook_func(lambda t: t == Extras, _json_value_out)
    conv.register_structure_hook_func(
        lambda t: t == Extras, lambda v, _: _json_value_in(_check_mapping(v, "backends"))
    )
    # A metadata value is any JSON: tagged Decimals, like custom fields and extras.
    conv.register_unstructure_hook_func(lambda t: t == JsonValue, _json_value_out)
    conv.register_structure_hook_func(lambda t: t == JsonValue, lambda v, _: _json_value_in(v))
    return conv


canonical_converter = make_converter()
"""The converter of the canonical JSON form (shared; do not register hooks on it, copy it)."""


def invalid_order_from(exc: BaseException, *, order: str | None = None) -> InvalidOrder:
    """Turn a cattrs structuring error into an :class:`InvalidOrder` naming the first bad field."""
    if isinstance(exc, InvalidOrder):
        return exc.within(order=order) if order is not None else exc
    leaves = list(_leaves(exc, ""))
    if not leaves:
        return InvalidOrder(str(exc), order=order)
    path, leaf = leaves[0]
    if isinstance(leaf, InvalidOrder):
        field = leaf.field or ""
        joined = ".".join(p for p in (path, field) if p) if not field.startswith("[") else path + field
        err = InvalidOrder(leaf.message, field=joined or None, order=order)
    elif isinstance(leaf, ForbiddenExtraKeysError):
        names = ", ".join(sorted(leaf.extra_fields))
        where = f"{path}." if path else ""
        err = InvalidOrder("is not a field of the canonical model", field=f"{where}{names}", order=order)
    elif isinstance(leaf, KeyError):
        err = InvalidOrder("is required but missing", field=path or None, order=order)
    else:
        err = InvalidOrder(str(leaf) or type(leaf).__name__, field=path or None, order=order)
    if len(leaves) > 1:
        err.message += f" (and {len(leaves) - 1} more problem(s))"
        err.args = (err._render(),)
    return err


def _leaves(exc: BaseException, path: str) -> Iterator[tuple[str, BaseException]]:
    if isinstance(exc, ClassValidationError | IterableValidationError):
        with_notes, without = exc.group_exceptions()
        for sub_exc, note in with_notes:
            name = getattr(note, "name", None)
            index = getattr(note, "index", None)
            if name is not None:
                step = f"{path}.{name}" if path else str(name)
            elif index is not None:
                step = f"{path}[{index}]"
            else:
                step = path
            yield from _leaves(sub_exc, step)
        for plain in without:
            yield from _leaves(plain, path)
    elif isinstance(exc, BaseExceptionGroup):
        for sub in exc.exceptions:
            yield from _leaves(sub, path)
    else:
        yield path, exc


def order_to_dict(order: Order) -> dict[str, Any]:
    """The canonical JSON-ready dict of ``order`` (with ``schema_version``)."""
    data: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
    data.update(canonical_converter.unstructure(order))
    return data


_SCHEMA_2_FIELDS = frozenset({"shipping_lines", "fees", "refunds", "metadata", "prices_include_tax"})
"""Top-level fields schema 2 added: a schema 1 document holding one is not a schema 1 document."""


def upgrade_document(data: Mapping[str, Any]) -> dict[str, Any]:
    """A canonical order dict of any readable schema, as a dict of the current schema.

    Schema 1 -> 2: the single ``shipping`` option becomes the one entry of
    ``shipping_lines`` (its ``name``, ``cost`` and ``remote_id`` keep their
    names); nothing else changed shape (``taxes`` entries, now :class:`TaxLine`,
    default to ``applies_to: "order"``). Raises
    :class:`~orderbridge.errors.UnsupportedSchemaVersion` for any other version.
    """
    body = dict(data)
    version = body.get("schema_version")
    label = _label_of(body)
    if type(version) is not int or version not in READABLE_SCHEMA_VERSIONS:
        raise UnsupportedSchemaVersion(version, READABLE_SCHEMA_VERSIONS, order=label)
    if version == 1:
        newer = sorted(_SCHEMA_2_FIELDS & body.keys())
        if newer:
            raise InvalidOrder(
                "is a field of schema 2, not of schema 1 (write schema_version 2)",
                field=", ".join(newer),
                order=label,
            )
        if "shipping" in body:
            shipping = body.pop("shipping")
            if shipping is not None:
                body["shipping_lines"] = [shipping]
    body["schema_version"] = SCHEMA_VERSION
    return body


def order_from_dict(data: Mapping[str, Any]) -> Order:
    """Build an :class:`Order` from its canonical dict; errors name the field.

    Reads every schema in :data:`READABLE_SCHEMA_VERSIONS` (see :func:`upgrade_document`);
    another ``schema_version`` raises :class:`~orderbridge.errors.UnsupportedSchemaVersion`.
    """
    if not isinstance(data, Mapping):
        raise InvalidOrder(f"expected an object, got {type(data).__name__}")
    version = data.get("schema_version")
    if type(version) is not int or version != SCHEMA_VERSION:
        data = upgrade_document(data)
    body = dict(data)
    del body["schema_version"]
    label = _label_of(body)
    try:
        return canonical_converter.structure(body, Order)
    except Exception as exc:
        raise invalid_order_from(exc, order=label) from exc


def _label_of(body: Mapping[str, Any]) -> str:
    source = body.get("source")
    if isinstance(source, Mapping) and source.get("remote_id") is not None:
        return f"{source.get('backend')}:{source.get('remote_id')}"
    number = body.get("number")
    return str(number) if number is not None else "?"


def order_to_json(order: Order) -> str:
    """One order as compact canonical JSON text (one line, no trailing newline)."""
    return jsonutil.dumps(order_to_dict(order))


def order_from_json(text: str | bytes) -> Order:
    """Parse one order from canonical JSON text."""
    try:
        data = jsonutil.loads(text)
    except ValueError as exc:
        raise InvalidOrder(f"not valid JSON: {exc}") from exc
    return order_from_dict(data)


def write_jsonl(orders: Iterable[Order], stream: IO[str]) -> int:
    """Write orders to a text stream, one canonical JSON per line; returns the count."""
    count = 0
    for order in orders:
        stream.write(order_to_json(order))
        stream.write("\n")
        count += 1
    return count


def iter_jsonl_records(
    stream: IO[str] | IO[bytes] | Iterable[str] | Iterable[bytes], *, name: str = "<stream>"
) -> Iterator[Order | InvalidOrder]:
    """Read a JSON Lines stream lazily; a bad line yields its :class:`InvalidOrder` and reading goes on.

    ``stream`` may be binary (best: a line that is not UTF-8 is then one bad
    line, where a text stream fails to decode) or text. A line is bad when it
    is not JSON, holds a value no order may (see
    :func:`orderbridge.jsonutil.find_problem`: NaN, invalid UTF-8, too deep or
    too large), or is not an order. The error's message names the stream and
    the line number; its ``field`` names the offending field when known.
    """
    lines: Iterable[str | bytes] = stream
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield _order_from_line(line)
        except InvalidOrder as exc:
            exc.message = f"{name} line {number}: {exc.message}"
            exc.args = (exc._render(),)
            yield exc


def _order_from_line(line: str | bytes) -> Order:
    try:
        data = jsonutil.loads(line)
    except ValueError as exc:
        raise InvalidOrder(f"not valid JSON: {exc}") from exc
    # loads keeps a bad value as a marker or a lone surrogate, which the converter
    # might carry into an order unnoticed; check the whole document first.
    problem = jsonutil.find_problem(data)
    if problem is not None:
        path, message = problem
        raise InvalidOrder(message, field=path or None, order=_safe_label_of(data))
    return order_from_dict(data)


def _safe_label_of(data: Any) -> str:
    """The order's label, unless the values it is made of are bad (then ``"?"``)."""
    if not isinstance(data, Mapping):
        return "?"
    source = data.get("source")
    if isinstance(source, Mapping) and source.get("remote_id") is not None:
        made_of = [source.get("backend"), source.get("remote_id")]  # as _label_of reads it
    else:
        made_of = [data.get("number")]
    return "?" if jsonutil.find_problem(made_of) is not None else _label_of(data)


def iter_jsonl(stream: IO[str], *, name: str = "<stream>") -> Iterator[Order]:
    """Read orders lazily from a JSON Lines stream; blank lines are skipped.

    A bad line raises :class:`InvalidOrder` whose message names the line number.
    """
    for record in iter_jsonl_records(stream, name=name):
        if isinstance(record, InvalidOrder):
            raise record
        yield record
