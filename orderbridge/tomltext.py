"""TOML files: reading one as a configuration error names it, and writing the text orderbridge generates.

Python reads TOML (``tomllib``) but does not write it; the files orderbridge
writes (a dry run's ``references.toml``, the sandbox's ``run.toml``) need only
tables of strings, integers and booleans, written here so that any text (a
status name with quotes, an emoji, a newline) reads back as it was.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from pathlib import Path
from typing import Any, Final

from orderbridge.errors import ConfigurationError

__all__ = ["comment_text", "read_toml", "toml_key", "toml_string", "toml_value", "write_private"]

_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+\Z")
_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """The parsed TOML file at ``path``; a bad or unreadable file is a
    :class:`~orderbridge.ConfigurationError` naming it (``what``: "configuration", say)."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: {exc}") from None
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read the {what}: {exc.strerror}") from None


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string, quotes included (control characters escaped)."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    """``key`` bare when TOML allows it (``base_url``), else quoted (``"Click & Collect"``)."""
    return key if _BARE_KEY.match(key) else toml_string(key)


def toml_value(value: str | int | float | bool | Path) -> str:
    """A string, integer, number, boolean or path as a TOML value (a number as written by ``repr``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{value!r} has no TOML form orderbridge writes")
        return repr(value)
    return toml_string(str(value))


def comment_text(text: str) -> str:
    """``text`` fit for one comment line: control characters (a newline) shown as spaces."""
    return "".join(" " if ord(char) < 0x20 or ord(char) == 0x7F else char for char in text)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (mode 600), replacing it whole.

    The text goes to a temporary file in the same folder first, so a reader
    never sees half a file and an existing file is replaced in one step.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
