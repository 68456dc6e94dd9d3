"""JSON text with exact money: numbers with a fraction parse as ``Decimal``.

``json`` cannot write a ``Decimal`` as a number, and a float would lose cents,
so :func:`dumps` lets the C encoder turn each ``Decimal`` into a string framed
by two markers (through ``default``) and then deletes the markers together with
the quotes around them, leaving the digits as a JSON number. The markers hold a
random nonce chosen at import, so no user string can imitate them.
"""

from __future__ import annotations

import json
import json.encoder
import secrets
from decimal import Decimal
from typing import Any

__all__ = ["dumps", "loads"]

_NONCE = secrets.token_hex(8)
# Private-use characters; ensure_ascii writes them as the escapes \ue000 / \ue001,
# so in the text the opening marker always follows a quote and the closing one
# always precedes a quote: str.replace removes marker and quote in one go.
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


# json.dumps() with any keyword builds a JSONEncoder and, through iterencode,
# a C encoder on every call; building only the C encoder (a fresh one per call,
# so the circular-reference markers never carry over) costs a fraction of that.
# ``c_make_encoder`` is None only where the ``_json`` accelerator is missing.
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_ENCODERS = {
    sort_keys: json.JSONEncoder(default=_default, separators=(",", ":"), sort_keys=sort_keys)
    for sort_keys in (False, True)
}


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    """Serialise ``value`` as compact JSON; ``Decimal`` values become JSON numbers verbatim."""
    if _c_make_encoder is not None:
        encode = _c_make_encoder(
            {}, _default, json.encoder.encode_basestring_ascii, None, ":", ",", sort_keys, False, True
        )
        text = "".join(encode(value, 0))
    else:
        text = _ENCODERS[sort_keys].encode(value)
    return text.replace(_OPEN_TEXT, "").replace(_CLOSE_TEXT, "")


# json.loads() with parse_float builds a JSONDecoder (and its scanner) per call.
_DECODER = json.JSONDecoder(parse_float=Decimal)


def loads(text: str | bytes) -> Any:
    """Parse JSON text; numbers with a fraction or exponent become ``Decimal``, integers ``int``."""
    if isinstance(text, str):
        if text.startswith("\ufeff"):
            # As json.loads: a BOM in str input is an error, not whitespace.
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    elif isinstance(text, bytes | bytearray):
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    else:
        raise TypeError(f"the JSON object must be str, bytes or bytearray, not {type(text).__name__}")
    return _DECODER.decode(text)
