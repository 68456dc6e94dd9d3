"""Backend options, declared once and read strictly.

A backend declares its options as an attrs class whose fields are made with
:func:`option` (type, default, whether it is a secret, a one-line doc)::

    @attrs.frozen(kw_only=True)
    class AcmeOptions:
        base_url: ob.HttpUrl = ob.option("https://api.acme-shop.example/v1", doc="the API's origin")
        api_key: str | None = ob.option(None, secret=True, doc="the key (default: $ACME_API_KEY)")
        page_size: int = ob.option(20, doc="orders per list page")

    class AcmeBackend(ob.Backend):
        Options = AcmeOptions

:func:`orderbridge.connect`, a TOML section and ``--option KEY=VALUE`` all go
through :func:`structure_options`: one cattrs step with strict hooks (a
boolean is ``true``/``false``/``yes``/``no``/``1``/``0`` and nothing else;
integers, numbers, paths, URLs and time zones are checked), unknown keys
refused with the nearest valid name. ``KEY_env = "VAR"`` reads an option from
the environment. An error is one line naming where (``[target]``,
``--option``, the backend), the key, the value (never a secret's value), what
was expected, and a suggestion. The docs' options tables and
``orderbridge backends --options NAME`` are made from the same declaration
(:func:`declared_options`).
"""

from __future__ import annotations

import collections.abc
import difflib
import math
import os
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final, Literal, NewType, TypeVar, get_args, get_origin
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
import cattrs
from cattrs.errors import ClassValidationError, IterableValidationError
from cattrs.v import transform_error

from orderbridge.errors import ConfigurationError

__all__ = [
    "HttpUrl",
    "OptionError",
    "OptionInfo",
    "SourceIdText",
    "TimeZone",
    "Timeout",
    "declared_options",
    "nearest_name",
    "option",
    "parse_when",
    "structure_options",
    "unknown_key",
]

T = TypeVar("T")

HttpUrl = NewType("HttpUrl", str)
"""An ``http``/``https`` URL with a host (https-only is the transport's rule)."""
SourceIdText = NewType("SourceIdText", str)
"""An id as text; an integer (``min_id = 1000`` in TOML) is taken as its digits."""
TimeZone = NewType("TimeZone", str)
"""An IANA time zone name (``"Australia/Sydney"``), checked against the zone database."""
Timeout = float | tuple[float, float]
"""Seconds for connect and read alike, or ``(connect, read)``; ``"5,30"`` on the command line."""

_META: Final = "orderbridge.option"
_BOOLS: Final = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_INT = re.compile(r"[+-]?\d+")


@attrs.frozen
class _Meta:
    doc: str
    secret: bool
    python_only: bool


def option(
    default: Any = attrs.NOTHING,
    *,
    doc: str,
    secret: bool = False,
    python_only: bool = False,
    factory: Callable[[], Any] | None = None,
) -> Any:
    """An option field of a backend's options class.

    ``doc`` is the line shown in the docs and by ``orderbridge backends
    --options``; ``secret`` keeps the value out of reprs and error messages and
    warns when it is given on the command line; ``python_only`` marks an object
    that only Python code can pass (a ready transport, a clock), refused in a
    TOML section or ``--option``. No default: the option is required.
    """
    if not doc.strip():
        raise TypeError("an option needs a one-line doc")
    return attrs.field(
        default=attrs.Factory(factory) if factory is not None else default,
        kw_only=True,
        repr=not secret,
        metadata={_META: _Meta(doc.strip(), secret, python_only)},
    )


@attrs.frozen
class OptionInfo:
    """What one declared option is: for the docs, the command line and error messages."""

    name: str
    type: Any
    default: Any
    """The default value, or :data:`attrs.NOTHING` when the option is required."""
    doc: str
    secret: bool
    python_only: bool

    @property
    def required(self) -> bool:
        """Whether the option has no default."""
        return self.default is attrs.NOTHING

    def type_text(self) -> str:
        """The type in words: ``boolean``, ``integer``, ``'fail' or 'omit'``..."""
        return _type_text(self.type)

    def default_text(self) -> str:
        """The default as it would be written (``required`` when there is none)."""
        if self.required:
            return "required"
        if self.default is None:
            return "none"
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        if isinstance(self.default, tuple):
            return ",".join(str(x) for x in self.default)
        if callable(self.default):
            return getattr(self.default, "__qualname__", repr(self.default))
        return str(self.default)


def declared_options(options_cls: type) -> tuple[OptionInfo, ...]:
    """Every option of ``options_cls``, in declaration order; each field must be an :func:`option`."""
    hints = typing.get_type_hints(options_cls)
    found = []
    for f in attrs.fields(options_cls):
        meta = f.metadata.get(_META)
        if meta is None:
            raise TypeError(f"{options_cls.__name__}.{f.name} is not declared with orderbridge.option()")
        default = f.default.factory() if hasattr(f.default, "takes_self") else f.default  # an attrs Factory
        found.append(OptionInfo(f.name, hints[f.name], default, meta.doc, meta.secret, meta.python_only))
    return tuple(found)


class OptionError(ConfigurationError):
    """An option is unknown, missing or of the wrong type: one line naming where and which."""

    def __init__(self, where: str, key: str, problem: str) -> None:
        super().__init__(f"{where} {key}: {problem}" if key else f"{where}: {problem}")
        self.where = where
        self.key = key
        self.problem = problem


class _Expected(ValueError):
    """Raised by a hook: ``value`` is not ``expected``."""

    def __init__(self, value: Any, expected: str) -> None:
        super().__init__(expected)
        self.value = value
        self.expected = expected


# ---------------------------------------------------------------- strict hooks


def _bool(value: Any, _: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _BOOLS:
        return _BOOLS[value.strip().lower()]
    raise _Expected(value, "a boolean (true, false, yes, no, 1 or 0)")


def _int(value: Any, _: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INT.fullmatch(value.strip()):
        return int(value)
    raise _Expected(value, "an integer")


def _float(value: Any, _: Any) -> float:
    result: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value)
        except ValueError:
            result = None
    if result is None or not math.isfinite(result):
        raise _Expected(value, "a number")
    return result


def _str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    raise _Expected(value, "text")


def _path(value: Any, _: Any) -> Path:
    if isinstance(value, str | os.PathLike) and str(value):
        return Path(value)
    raise _Expected(value, "a file path")


def _url(value: Any, _: Any) -> str:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise _Expected(value, "an http(s) URL with a host, like https://shop.example.com")
    return str(value)


def _zone(value: Any, _: Any) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise _Expected(value, "an IANA time zone name, like Australia/Sydney") from None
    return str(value)


def _timeout(value: Any, _: Any) -> float | tuple[float, float]:
    parts = value.split(",") if isinstance(value, str) and "," in value else value
    try:
        if isinstance(parts, list | tuple):
            if len(parts) != 2:
                raise ValueError
            connect, read = (_float(p, None) for p in parts)
            if min(connect, read) > 0:
                return (connect, read)
        elif (seconds := _float(parts, None)) > 0:
            return seconds
    except ValueError:
        pass
    raise _Expected(value, "seconds above 0, or connect,read seconds")


def _when(value: Any, _: Any) -> datetime:
    """A date or datetime (TOML or ISO text), made aware: a bare date or naive time is UTC."""
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime(value.year, value.month, value.day)
    else:
        try:
            result = datetime.fromisoformat(value)
        except (ValueError, TypeError):
            raise _Expected(value, "an ISO 8601 date or datetime") from None
    return result if result.tzinfo is not None else result.replace(tzinfo=UTC)


def parse_when(value: Any, what: str) -> datetime:
    """A date or datetime from TOML or the command line, made aware (a bare date or naive time is UTC)."""
    try:
        return _when(value, None)
    except _Expected as exc:
        raise ConfigurationError(f"{what}: {value!r} is not {exc.expected}") from None


def _id_text(value: Any, _: Any) -> str:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _Expected(value, "an id (text or an integer)")


def _tuple_of(tp: Any) -> Callable[[Any, Any], Any]:
    """A homogeneous tuple from a list (never from a string, which would be split into characters)."""
    item = get_args(tp)[0]

    def structure(value: Any, _: Any) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise _Expected(value, "a list")
        return tuple(_CONVERTER.structure(v, item) for v in value)

    return structure


def _literal(tp: Any) -> Callable[[Any, Any], Any]:
    choices = get_args(tp)

    def structure(value: Any, _: Any) -> Any:
        if isinstance(value, str) and value in choices:
            return value
        raise _Expected(value, " or ".join(repr(c) for c in choices))

    return structure


def _instance_of(tp: type) -> Callable[[Any, Any], Any]:
    def structure(value: Any, _: Any) -> Any:
        if isinstance(value, tp):
            return value
        raise _Expected(value, f"a {tp.__name__} object")

    return structure


def _callable(value: Any, _: Any) -> Any:
    if callable(value):
        return value
    raise _Expected(value, "a callable")


def _is_object_type(tp: Any) -> bool:
    """A class that is passed as an object (a transport, a resolver), not read from text."""
    return isinstance(tp, type) and tp.__module__ not in ("builtins", "pathlib", "datetime")


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    hooks: dict[Any, Callable[[Any, Any], Any]] = {
        bool: _bool, int: _int, float: _float, str: _str, Path: _path, HttpUrl: _url, TimeZone: _zone,
        datetime: _when, SourceIdText: _id_text,
    }  # fmt: skip
    for tp, hook in hooks.items():
        conv.register_structure_hook(tp, hook)
    conv.register_structure_hook_func(_is_timeout, _timeout)
    conv.register_structure_hook_factory(_is_literal, _literal)
    conv.register_structure_hook_factory(_is_tuple_of, _tuple_of)
    conv.register_structure_hook_func(_is_callable, _callable)
    conv.register_structure_hook_factory(lambda t: _is_object_type(t) and not attrs.has(t), _instance_of)
    return conv


def _is_timeout(tp: Any) -> bool:
    return bool(tp == Timeout)


def _is_literal(tp: Any) -> bool:
    return get_origin(tp) is Literal


def _is_tuple_of(tp: Any) -> bool:
    return get_origin(tp) is tuple and len(get_args(tp)) == 2 and get_args(tp)[1] is Ellipsis


def _is_callable(tp: Any) -> bool:
    return get_origin(tp) is collections.abc.Callable


_CONVERTER: Final = _make_converter()


# ---------------------------------------------------------------- structuring


def structure_options(
    options_cls: type[T],
    values: Mapping[str, Any],
    *,
    where: str,
    from_python: bool = True,
    environ: Mapping[str, str] | None = None,
    runtime: Mapping[str, Any] | None = None,
) -> T:
    """``values`` as an instance of ``options_cls``, or :class:`OptionError` (one line).

    ``where`` names the place in messages (``"[target]"``, ``"--option"``,
    ``"webinone-v2"``). ``KEY_env = "VAR"`` reads ``KEY`` from ``environ``
    (default: the process environment). ``from_python=False`` (a TOML section,
    the command line) refuses options only Python can give; ``runtime``
    holds values the calling code supplies itself (checked, never refused).
    """
    infos = {info.name: info for info in declared_options(options_cls)}
    given = _read_keys(infos, values, where, os.environ if environ is None else environ)
    for name in given:
        if infos[name].python_only and not from_python:
            raise OptionError(where, name, "can only be given from Python (orderbridge.connect)")
    given.update(runtime or {})
    missing = [name for name, info in infos.items() if info.required and name not in given]
    if missing:
        raise OptionError(where, missing[0], f"required ({infos[missing[0]].doc})")
    try:
        return _CONVERTER.structure(given, options_cls)
    except ClassValidationError as exc:
        raise _first_problem(exc, infos, given, where) from None


def _read_keys(
    infos: Mapping[str, OptionInfo], values: Mapping[str, Any], where: str, environ: Mapping[str, str]
) -> dict[str, Any]:
    """Option name -> raw value, ``_env`` keys read from the environment; unknown keys refused."""
    given: dict[str, Any] = {}
    for key, value in values.items():
        if key in infos:
            name = key
        elif key.endswith("_env") and key[: -len("_env")] in infos:
            name = key[: -len("_env")]
            if not isinstance(value, str) or value not in environ:
                raise OptionError(where, key, f"environment variable {value!r} is not set")
            value = environ[value]
        else:
            raise OptionError(where, key, _unknown(key, infos))
        if name in given:
            raise OptionError(where, key, f"given twice (as {name} and {name}_env)")
        given[name] = value
    return given


def _unknown(key: str, infos: Mapping[str, OptionInfo]) -> str:
    names = list(infos) + [f"{n}_env" for n, i in infos.items() if not i.python_only]
    return unknown_key(key, names, shown=list(infos))


def nearest_name(key: str, names: Sequence[str]) -> str | None:
    """The valid name ``key`` most likely meant: a close spelling, else one sharing a word with it."""
    near = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    if near:
        return near[0]
    words = set(key.lower().split("_")) - {"", "env"}
    return next((n for n in names if words & set(n.lower().split("_"))), None)


def unknown_key(
    key: str, names: Sequence[str], *, shown: Sequence[str] | None = None, what: str = "option"
) -> str:
    """``unknown option; did you mean NAME?`` (or the known names when none is near)."""
    near = nearest_name(key, names)
    hint = (
        f"did you mean {near}?"
        if near
        else f"known: {', '.join(shown if shown is not None else names) or 'none'}"
    )
    return f"unknown {what}; {hint}"


def _first_problem(
    exc: ClassValidationError, infos: Mapping[str, OptionInfo], given: Mapping[str, Any], where: str
) -> OptionError:
    for sub in exc.exceptions:
        name = next((n.name for n in getattr(sub, "__notes__", ()) if hasattr(n, "name")), None)
        if name is None or name not in infos:
            continue
        inner = sub.exceptions[0] if isinstance(sub, IterableValidationError) and sub.exceptions else sub
        if isinstance(inner, _Expected):
            shown = (
                f"a value of type {type(given[name]).__name__}" if infos[name].secret else repr(given[name])
            )
            return OptionError(where, name, f"{shown} is not {inner.expected}")
        return OptionError(where, name, str(inner))
    return OptionError(where, "?", "; ".join(transform_error(exc)))


# ---------------------------------------------------------------- type names


def _type_text(tp: Any) -> str:
    if tp == Timeout:
        return "seconds or connect,read"
    origin = get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        parts = [a for a in get_args(tp) if a is not type(None)]
        text = " or ".join(_type_text(a) for a in parts)
        optional = len(parts) < len(get_args(tp)) and "Python only" not in text
        return f"{text} or none" if optional else text
    if origin is Literal:
        return " or ".join(repr(c) for c in get_args(tp))
    if origin is collections.abc.Callable:
        return "callable (Python only)"
    if origin is tuple:
        return f"list of {_type_text(get_args(tp)[0])}"
    words = {
        bool: "boolean", int: "integer", float: "number", str: "text", Path: "file path", HttpUrl: "URL",
        TimeZone: "time zone", datetime: "date or datetime", SourceIdText: "id",
    }  # fmt: skip
    if tp in words:
        return words[tp]
    return f"{getattr(tp, '__name__', str(tp))} (Python only)"
