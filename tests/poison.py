"""Making one good order document bad in a chosen way, for the poisoned-page tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orderbridge import jsonutil

DELETE: Any = object()
"""Stands for "remove this key" in :func:`set_at`."""

_RAW = "__raw__"


def set_at(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation setting (or, with :data:`DELETE`, removing) the value at ``path``."""

    def apply(doc: dict[str, Any]) -> None:
        target: Any = doc
        for step in path[:-1]:
            target = target[step]
        if value is DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return apply


def raw_at(path: list[Any], token: bytes) -> Callable[[dict[str, Any]], bytes]:
    """A mutation giving the document as JSON bytes with ``token`` written raw at ``path``
    (``NaN``, ``1e400``, invalid UTF-8: what no JSON encoder writes)."""

    def apply(doc: dict[str, Any]) -> bytes:
        set_at(path, _RAW)(doc)
        return jsonutil.dumps(doc).encode().replace(f'"{_RAW}"'.encode(), token)

    return apply


def bad_bytes(good: dict[str, Any], mutate: Callable[[dict[str, Any]], Any]) -> bytes:
    """``good`` (copied) after ``mutate``, as JSON bytes."""
    import copy

    doc = copy.deepcopy(good)
    result = mutate(doc)
    return result if isinstance(result, bytes) else jsonutil.dumps(doc).encode()
