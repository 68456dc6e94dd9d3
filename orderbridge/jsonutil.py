"""JSON text with exact money: numbers with a fraction parse as ``Decimal``.

``json`` cannot write a ``Decimal`` as a number, and a float would lose cents,
so :func:`dumps` lets the C encoder turn each ``Decimal`` into a marked string
(through ``default``) and then unquotes the marked strings. The marker holds a
random nonce chosen at import, so no user string can imitate it.
"""

from __future__ import annotations

import json
import re
import secrets
from decimal import Decimal
from typing import Any

__all__ = ["dumps", "loads"]

_NONCE = "\ue000" + secrets.token_hex(8)
# ensure_ascii turns the private-use marker into the \ue000 escape sequence.
_MARKED = re.compile(r'"\\ue000' + _NONCE[1:] + r'([-+0-9.Ee]+)"')


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot write {value} as JSON")
        return _NONCE + str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    """Serialise ``value`` as compact JSON; ``Decimal`` values become JSON numbers verbatim."""
    text = json.dumps(value, default=_default, separators=(",", ":"), sort_keys=sort_keys)
    if "\\ue000" not in text:
        return text
    return _MARKED.sub(r"\1", text)


def loads(text: str | bytes) -> Any:
    """Parse JSON text; numbers with a fraction or exponent become ``Decimal``, integers ``int``."""
    return json.loads(text, parse_float=Decimal)
