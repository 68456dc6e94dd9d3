"""JSON text with exact money: numbers with a fraction parse as ``Decimal``.

Both directions go through msgspec, configured for money: a number with a
fraction or an exponent is read as the exact ``Decimal`` of its digits
(integers stay ``int``), and a ``Decimal`` is written as a JSON number with
exactly its digits (``Decimal("1.10")`` is ``1.10``, never ``1.1``).
:func:`dumps` writes compact UTF-8 text (non-ASCII characters as themselves,
not as ``\\u`` escapes); text msgspec refuses to write (a string with lone
surrogates, a ``str`` subclass, a key that is not text) is written by the
``json`` module instead, as before: ASCII only, lone surrogates escaped, so
that :func:`loads` gives them back.

Reading is built so that one bad order cannot make a whole page unreadable:
:func:`loads` never fails on a page because of what one value holds. NaN and
the infinities, a value nested deeper than :data:`MAX_DEPTH`, and (rarely) an
integer too long for ``int`` or an exponent too large for ``Decimal`` become
:class:`InvalidValue` markers in the tree; bytes that are not UTF-8 are kept
as lone surrogates. msgspec reads every clean page; a page it refuses is read
again by a tolerant reader built on the ``json`` module, which makes those
markers (and raises for text that is not JSON). :func:`find_problem` then
tells, per document, whether and where it holds such a value.
"""

from __future__ import annotations

import functools
import json
import math
import re
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, TypeAlias

import msgspec

__all__ = ["MAX_DEPTH", "MAX_NODES", "InvalidValue", "dumpb", "dumps", "find_problem", "ids", "loads"]

MAX_DEPTH = 64
"""Containers may nest this many levels; a deeper one is an :class:`InvalidValue` (no order nests
half as deep, and a limit far below the interpreter's recursion limit keeps every walk safe)."""

MAX_NODES = 100_000
"""The most values :func:`find_problem` accepts in one document (an order holds a few hundred)."""

# ------------------------------------------------------------ writing

# Shared instances: msgspec's encoders and decoders are thread-safe (since 0.16), and
# building one per call would cost more than encoding an order.
_ENCODERS = {
    False: msgspec.json.Encoder(decimal_format="number").encode,
    True: msgspec.json.Encoder(decimal_format="number", order="sorted").encode,
}

_NONCE = secrets.token_hex(8)
# The json module cannot write a Decimal as a number: ``default`` turns one into a
# string framed by these private-use characters, which ensure_ascii writes as the
# escapes \ue000 / \ue001, so in the text the opening marker always follows a quote
# and the closing one always precedes a quote: str.replace removes marker and quote in
# one go. The random nonce keeps any user string from imitating them.
_OPEN = "\ue000" + _NONCE
_CLOSE = "\ue001" + _NONCE
_OPEN_TEXT = '"\\ue000' + _NONCE
_CLOSE_TEXT = "\\ue001" + _NONCE + '"'


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot write {value} as JSON")
        return _OPEN + str(value) + _CLOSE
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_JSON_ENCODERS = {
    sort_keys: json.JSONEncoder(default=_default, separators=(",", ":"), sort_keys=sort_keys)
    for sort_keys in (False, True)
}


def _encode(value: Any, sort_keys: bool) -> bytes | None:
    """msgspec's compact UTF-8 text of ``value``, or None where msgspec cannot write it."""
    try:
        return _ENCODERS[sort_keys](value)
    except UnicodeEncodeError:
        return None  # a lone surrogate: the json module escapes it (\ud800) and loads reads it back
    except TypeError:
        return None  # a str or int subclass, a key that is not text: the json module knows those


def _encode_with_json(value: Any, sort_keys: bool) -> str:
    """The ``json`` module's compact, ASCII-only text of ``value``, Decimals as numbers."""
    text = _JSON_ENCODERS[sort_keys].encode(value)
    return text.replace(_OPEN_TEXT, "").replace(_CLOSE_TEXT, "")


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    """Serialise ``value`` as compact JSON text; ``Decimal`` values become JSON numbers verbatim.

    A non-finite ``Decimal`` raises ``ValueError``; ``sort_keys`` sorts every
    object's keys. Non-ASCII text is written as UTF-8 characters, except when
    the value holds a lone surrogate (then the whole text is ASCII, escaped).
    """
    data = _encode(value, sort_keys)
    return data.decode("utf-8") if data is not None else _encode_with_json(value, sort_keys)


def dumpb(value: Any, *, sort_keys: bool = False) -> bytes:
    """:func:`dumps` as UTF-8 bytes, as an HTTP body or a file wants them (saves a copy)."""
    data = _encode(value, sort_keys)
    return data if data is not None else _encode_with_json(value, sort_keys).encode("ascii")


# ------------------------------------------------------------ reading


@dataclass(frozen=True, slots=True)
class InvalidValue:
    """Stands in the parsed tree for a value that is not acceptable JSON for an order.

    :func:`loads` puts one where the text holds NaN, Infinity or -Infinity, a
    container nested deeper than :data:`MAX_DEPTH`, an integer too long to
    read or an exponent too large for ``Decimal``, so the rest of the page
    still parses; :func:`find_problem` reports it with its ``reason``.
    Translating code never sees one as a real value: it is neither a number
    nor a string.
    """

    reason: str

    def __repr__(self) -> str:
        return f"InvalidValue({self.reason!r})"


_CONSTANTS = {
    name: InvalidValue(f"{name} is not a number JSON allows") for name in ("NaN", "Infinity", "-Infinity")
}
_TOO_DEEP = InvalidValue(f"nested deeper than {MAX_DEPTH} levels")
_OUT_OF_RANGE = InvalidValue("number out of range (exponent too large)")


def _parse_constant(name: str) -> InvalidValue:
    # Python's json reads NaN/Infinity/-Infinity (JSON has no such numbers) as floats;
    # a float would slip into an amount, a marker is refused by find_problem.
    return _CONSTANTS[name]


def _parse_float(digits: str) -> Decimal | InvalidValue:
    try:
        return Decimal(digits)
    except InvalidOperation:  # an exponent past Decimal's limit, such as 1e1000000000000000000
        return _OUT_OF_RANGE


# A too-deep container is cut out of the text before decoding and replaced by an
# integer only this process knows (random, so no document can imitate it); the
# slow decoder's parse_int turns that integer back into the marker. An integer is
# used, not a string, so a container standing where a key must be stays an error.
_DEEP_DIGITS = str(10**38 + secrets.randbelow(9 * 10**38))
# Spaces keep the token from fusing with a neighbouring number of broken text.
_DEEP_TOKEN = " " + _DEEP_DIGITS + " "


def _parse_int(digits: str) -> int | InvalidValue:
    if digits == _DEEP_DIGITS:
        return _TOO_DEEP
    try:
        return int(digits)
    except ValueError:  # more digits than sys.get_int_max_str_digits() allows
        return InvalidValue(f"integer longer than {sys.get_int_max_str_digits()} digits")


_FAST_DECODE = msgspec.json.Decoder(float_hook=Decimal).decode
# The tolerant reader, for text msgspec refuses. The default parse_int (the int type
# itself) keeps the C scanner's fast path for integers; parse_constant costs nothing
# until a NaN/Infinity is met.
_DECODER = json.JSONDecoder(parse_float=_parse_float, parse_constant=_parse_constant)
# Only for text that needed rewriting or that holds an overlong integer.
_SLOW_DECODER = json.JSONDecoder(
    parse_float=_parse_float, parse_int=_parse_int, parse_constant=_parse_constant
)


def loads(text: str | bytes | bytearray) -> Any:
    """Parse JSON text; numbers with a fraction or exponent become ``Decimal``, integers ``int``.

    One bad value never fails the whole text: NaN, Infinity and -Infinity, a
    container nested deeper than :data:`MAX_DEPTH` (the outermost one past the
    limit), an integer too long to read and an exponent too large for
    ``Decimal`` become :class:`InvalidValue`; UTF-8 bytes that do not decode
    become lone surrogates (``surrogateescape``) in their string. Text that is
    not JSON still raises ``ValueError`` (:class:`json.JSONDecodeError`).
    """
    raw: bytes | bytearray
    if isinstance(text, str):
        if text.startswith("\ufeff"):
            # As json.loads: a BOM in str input is an error, not whitespace.
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        # The depth check reads bytes (bytes.translate is far cheaper than str.translate).
        raw = text.encode("utf-8", "surrogatepass")
    elif isinstance(text, bytes | bytearray):
        raw = text
    else:
        raise TypeError(f"the JSON object must be str, bytes or bytearray, not {type(text).__name__}")
    deep = _may_nest_too_deep(raw)
    if not deep:
        try:
            return _FAST_DECODE(raw)
        except (msgspec.DecodeError, RecursionError, InvalidOperation):
            # msgspec refuses the whole text for one bad value (NaN, bytes that are not
            # UTF-8, an overlong integer, a lone surrogate, a BOM, UTF-16) and for text
            # that is not JSON: the tolerant reader tells them apart.
            pass
    return _loads_tolerant(text, deep)


class _Part(msgspec.Struct):
    Id: Any = None


@functools.lru_cache(maxsize=16)
def _ids_decoder(keys: tuple[str, ...]) -> Callable[[bytes], Any]:
    fields = [("Id", Any, None), *((key, list[_Part] | None, None) for key in keys)]
    return msgspec.json.Decoder(msgspec.defstruct("Ids", fields)).decode


def ids(raw: bytes, keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """Only the ids of a JSON object: its ``Id`` and, per key of ``keys``, ``[{"Id": ...}, ...]``.

    For answers that are a whole document of which only ids are read (a write
    answered with the whole order): the rest is skipped, not turned into
    Decimals and strings. Anything msgspec refuses is read by :func:`loads`
    (the same result, or its ``ValueError``); a missing key is ``None``.
    """
    try:
        found = _ids_decoder(keys)(raw)
    except (msgspec.DecodeError, RecursionError, InvalidOperation):
        doc = loads(raw)
        if not isinstance(doc, dict):
            raise ValueError(f"expected a JSON object, got {type(doc).__name__}") from None
        return {"Id": doc.get("Id"), **{k: _part_ids(doc.get(k)) for k in keys}}
    result = {"Id": found.Id}
    for key in keys:
        parts = getattr(found, key)
        result[key] = None if parts is None else [{"Id": part.Id} for part in parts]
    return result


def _part_ids(parts: Any) -> list[dict[str, Any]] | None:
    if not isinstance(parts, list):
        return None
    return [{"Id": part.get("Id")} if isinstance(part, dict) else {"Id": None} for part in parts]


def _loads_tolerant(text: str | bytes | bytearray, deep: bool) -> Any:
    """:func:`loads` through the ``json`` module: bad values become markers, not errors."""
    if not isinstance(text, str):
        encoding = json.detect_encoding(text)
        if encoding.startswith("utf-8"):
            # A bad byte sequence in one string must not fail the page; escaped to a lone
            # surrogate, it is still visible to find_problem.
            text = text.decode(encoding, "surrogateescape")
        else:  # UTF-16/32: the depth check needs the ASCII structure bytes of UTF-8
            text = text.decode(encoding, "surrogatepass")
            deep = _may_nest_too_deep(text.encode("utf-8", "surrogatepass"))
    try:
        if deep:
            return _loads_slow(text)
        return _DECODER.decode(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        # The cheap check errs only on text that is not JSON; the exact scan settles it.
        return _loads_slow(text)
    except ValueError:
        # int() refuses an integer longer than its digit limit; read it as a marker.
        return _loads_slow(text)


# ------------------------------------------------------------ the depth check

_AS_PARENS = bytes.maketrans(b"[{]}", b"(())")
# Everything but the brackets, deleted in one pass (the first, cheap look).
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
# Everything but what shapes nesting and strings (the exact look). "u" is kept so that a
# \uXXXX escape ending a string does not leave its backslash next to the closing quote,
# where it would look like an escaped quote: that is the most common escape.
_NOT_SHAPE = bytes(b for b in range(256) if b not in b'"\\[]{}u')
_ESCAPED_QUOTE = re.compile(rb'\\"')


def _may_nest_too_deep(raw: bytes | bytearray) -> bool:
    """False when ``raw`` nests at most MAX_DEPTH deep (see below for the one soft spot).

    A Python loop over every byte would cost more than the decoding, so this
    uses only whole-buffer C operations. First look: every bracket, strings
    ignored; a balanced outline at most MAX_DEPTH deep passes (every real page).
    Brackets inside strings can only make it fail, or, when unbalanced
    ones are arranged on purpose to cancel real ones, hide nesting: such text
    still parses (no deeper than the interpreter's recursion limit, beyond it
    the RecursionError sends it to the exact path) and :func:`find_problem`
    reports the depth. Otherwise the exact look, which tells strings apart.
    """
    outline = raw.translate(_AS_PARENS, _NOT_BRACKET)
    if len(outline) <= 2 * MAX_DEPTH + 1:
        return False  # too few brackets to open MAX_DEPTH + 1 levels and close them
    if _deeper_than_limit(outline) is False:
        return False
    return _shape_nests_too_deep(raw)


def _deeper_than_limit(outline: bytes | bytearray) -> bool | None:
    """Whether a ``()`` outline nests past MAX_DEPTH; None when it is unbalanced.

    Each pass strips the innermost pairs, one level, so the outline is empty
    after MAX_DEPTH passes exactly when it nests no deeper.
    """
    for _ in range(MAX_DEPTH):
        if not outline:
            return False
        inner = outline.replace(b"()", b"")
        if len(inner) == len(outline):
            return None
        outline = inner
    return bool(outline)


def _shape_nests_too_deep(raw: bytes | bytearray) -> bool:
    """Exact for JSON text: the brackets outside strings nest past MAX_DEPTH (or do not balance)."""
    shape = raw.translate(_AS_PARENS, _NOT_SHAPE)
    if b"\\" in shape:
        # Only an escaped quote changes where a string ends. One leaves \" in shape, but
        # so does any other escape followed by plain text up to the closing quote; the
        # raw text says which (one C search), and only a real one costs a rewrite.
        if b'\\"' in shape and _ESCAPED_QUOTE.search(raw) is not None:
            # Left to right, as JSON pairs a run of backslashes; then \" is an escaped quote.
            shape = raw.replace(b"\\\\", b"").replace(b'\\"', b"").translate(_AS_PARENS, _NOT_SHAPE)
        shape = shape.translate(None, b"\\u")
    else:
        shape = shape.translate(None, b"u")
    quotes = shape.count(b'"')
    if quotes:
        if shape.count(b'""') * 2 == quotes:
            # Every run of quotes is even, so no string holds a bracket.
            shape = shape.translate(None, b'"')
        else:
            # The pieces outside strings are the even ones between quotes.
            shape = b"".join(shape.split(b'"')[::2])
    return _deeper_than_limit(shape) is not False


_STRUCTURE = re.compile(r'[][{}"]')
# The rest of a string after its opening quote. Possessive, so a string that never
# closes fails in one pass instead of a backtracking search (the scan stays linear).
_STRING_TAIL = re.compile(r'(?:[^"\\]++|\\.)*+"', re.DOTALL)


@dataclass(slots=True)
class _Cut:
    """A container opened MAX_DEPTH levels below the text or below the cut around it."""

    start: int
    end: int = -1  # just past its close bracket
    inner: list[_Cut] = field(default_factory=list)  # the cuts MAX_DEPTH levels further down


def _cuts(text: str) -> list[_Cut]:
    """The outermost containers past MAX_DEPTH, each with its own cuts; linear, no recursion.

    Only counts brackets outside strings: the decoder judges the syntax of every
    piece afterwards, so text that is not JSON is still refused.
    """
    top: list[_Cut] = []
    open_cuts: list[_Cut] = []
    depth = 0
    pos = 0
    search = _STRUCTURE.search
    string_tail = _STRING_TAIL.match
    while (found := search(text, pos)) is not None:
        at = found.start()
        char = text[at]
        pos = at + 1
        if char == '"':
            tail = string_tail(text, pos)
            if tail is None:
                break  # a string that never closes: the decoder reports it
            pos = tail.end()
        elif char == "[" or char == "{":
            depth += 1
            if depth > MAX_DEPTH and depth % MAX_DEPTH == 1:
                cut = _Cut(at)
                (open_cuts[-1].inner if open_cuts else top).append(cut)
                open_cuts.append(cut)
        else:
            if depth > MAX_DEPTH and depth % MAX_DEPTH == 1:
                open_cuts.pop().end = pos
            depth -= 1
    for cut in open_cuts:
        cut.end = len(text)  # never closed: the decoder reports the truncation
    return top


def _loads_slow(text: str) -> Any:
    """Decode ``text`` with each container past MAX_DEPTH replaced by the marker.

    What is cut out is still decoded, piece by piece (each piece MAX_DEPTH
    levels deep, its own deeper containers cut out in turn), only to check it
    is JSON: every character is decoded once, so this stays linear.
    """
    cuts = _cuts(text)
    doc = _decode_piece(text, 0, len(text), cuts)
    pending = list(cuts)
    while pending:
        cut = pending.pop()
        _decode_piece(text, cut.start, cut.end, cut.inner)
        pending.extend(cut.inner)
    return doc


def _decode_piece(text: str, start: int, end: int, cuts: list[_Cut]) -> Any:
    """Decode ``text[start:end]`` with each of ``cuts`` (inside it) replaced by the marker."""
    if not cuts and start == 0 and end == len(text):
        return _SLOW_DECODER.decode(text)
    pieces: list[str] = []
    pos = start
    for cut in cuts:
        pieces.append(text[pos : cut.start])
        pieces.append(_DEEP_TOKEN)
        pos = cut.end
    pieces.append(text[pos:end])
    try:
        return _SLOW_DECODER.decode("".join(pieces))
    except json.JSONDecodeError as exc:
        # Report the position in the text the caller gave, not in the piece.
        raise json.JSONDecodeError(exc.msg, text, _original_position(start, cuts, exc.pos)) from None


def _original_position(start: int, cuts: list[_Cut], pos: int) -> int:
    """Where ``pos`` of a rewritten piece beginning at ``start`` lies in the original text."""
    pos += start
    for cut in cuts:
        if pos < cut.start:
            break
        if pos < cut.start + len(_DEEP_TOKEN):
            return cut.start
        pos += cut.end - cut.start - len(_DEEP_TOKEN)
    return pos


# ------------------------------------------------------------ checking a document

# A field path is kept as a chain of (parent, key) links and spelt out only for a problem.
_Link: TypeAlias = "tuple[_Link | None, str | int] | None"


def find_problem(
    doc: Any, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES
) -> tuple[str, str] | None:
    """The first value in ``doc`` that no order may hold, as ``(field_path, message)``, or None.

    Problems, in document order: an :class:`InvalidValue` (its reason), a
    non-finite float or Decimal, a string (value or key) with lone surrogates
    (``"not valid UTF-8"``), a container nested deeper than ``max_depth``; and
    more than ``max_nodes`` values in all (reported for the root). Paths name
    wire keys as they appear, joined by dots, with list indexes in brackets:
    ``lines[2].unit_price``; the root is ``""``. The walk is iterative, so any
    depth is safe.
    """
    if _looks_clean(doc, max_depth, max_nodes):
        return None  # the common case, checked without keeping paths (several times faster)
    count = 1
    stack: list[tuple[Any, int, _Link]] = [(doc, 0, None)]
    while stack:
        value, depth, link = stack.pop()
        if isinstance(value, dict):
            if depth >= max_depth:
                return _path(link), f"nested deeper than {max_depth} levels"
            count += len(value)
            if count > max_nodes:
                return "", f"document too large: more than {max_nodes} values"
            for key in value:
                if isinstance(key, str) and not _is_utf8(key):
                    return _path((link, key)), "not valid UTF-8 (in the key)"
            # Pushed last to first, so they come off the stack in document order.
            stack.extend((item, depth + 1, (link, key)) for key, item in reversed(value.items()))
        elif isinstance(value, list | tuple):
            if depth >= max_depth:
                return _path(link), f"nested deeper than {max_depth} levels"
            count += len(value)
            if count > max_nodes:
                return "", f"document too large: more than {max_nodes} values"
            stack.extend((value[i], depth + 1, (link, i)) for i in range(len(value) - 1, -1, -1))
        elif isinstance(value, str):
            if not _is_utf8(value):
                return _path(link), "not valid UTF-8"
        elif isinstance(value, InvalidValue):
            return _path(link), value.reason
        elif isinstance(value, float | Decimal) and not _is_finite(value):
            # Not from loads (it reads none), but a document built otherwise may hold one.
            return _path(link), f"{_float_name(value)} is not a number JSON allows"
    return None


def _bad_scalar(value: Any) -> bool:
    kind = type(value)
    if kind is str:
        return not value.isascii() and not _is_utf8(value)
    if kind is Decimal or kind is float:
        return not _is_finite(value)
    return kind is InvalidValue


def _looks_clean(doc: Any, max_depth: int, max_nodes: int) -> bool:
    """Whether :func:`find_problem` would find nothing (no paths kept: scalars are checked in place)."""
    if type(doc) is not dict and type(doc) is not list:
        return not _bad_scalar(doc) and not isinstance(doc, dict | list | tuple | InvalidValue)
    count = 1
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        if depth >= max_depth:
            return False
        count += len(value)
        if type(value) is dict:
            for key in value:
                if type(key) is not str or not key.isascii():
                    if isinstance(key, str) and not _is_utf8(key):
                        return False
            items: Any = value.values()
        else:
            items = value
        for item in items:
            kind = type(item)
            if kind is str:
                if not item.isascii() and not _is_utf8(item):
                    return False
            elif kind is dict or kind is list:
                stack.append((item, depth + 1))
            elif kind is int or kind is bool or item is None:
                continue
            elif kind is Decimal:
                if not item.is_finite():
                    return False
            else:  # floats, markers, unusual containers: the full walk judges
                return False
    return count <= max_nodes


def _is_utf8(text: str) -> bool:
    # Lone surrogates (from undecodable bytes, or from \ud800-style escapes) cannot be encoded.
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_finite(value: float | Decimal) -> bool:
    return value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)


def _float_name(value: float | Decimal) -> str:
    if value != value:  # NaN is the one value unequal to itself
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _path(link: _Link) -> str:
    keys: list[str | int] = []
    while link is not None:
        link, key = link
        keys.append(key)
    parts: list[str] = []
    for key in reversed(keys):
        if isinstance(key, int):
            parts.append(f"[{key}]")
        else:
            parts.append(("." if parts else "") + _printable(key))
    return "".join(parts)


def _printable(key: str) -> str:
    """``key`` with lone surrogates shown as escapes, so a path can always be printed."""
    if _is_utf8(key):
        return key
    try:
        # Surrogates from undecodable bytes: show the original bytes (\\xe9).
        return key.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return key.encode("utf-8", "backslashreplace").decode("utf-8")
