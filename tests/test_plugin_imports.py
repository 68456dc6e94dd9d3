"""Plugins use only orderbridge's public surface, so any of them could move to its own repository.

The rule (docs/writing-a-backend.md): a plugin imports the names ``orderbridge``
exports (``orderbridge.__all__``) and the documented subpackages
``orderbridge.sandbox`` and ``orderbridge.testing``; never another module of
the core. Checked on the source of every built-in plugin and of the example.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import orderbridge as ob

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_SUBPACKAGES = {"orderbridge.sandbox", "orderbridge.testing"}
PUBLIC_NAMES = set(ob.__all__) | {name.rpartition(".")[2] for name in PUBLIC_SUBPACKAGES}


def _plugin_sources() -> list[Path]:
    folders = [ROOT / "plugins", ROOT / "docs" / "examples"]
    return sorted(p for folder in folders for p in folder.rglob("*.py") if "build" not in p.parts)


def _aliases(tree: ast.AST) -> set[str]:
    """The local names bound to the ``orderbridge`` package itself (``import orderbridge as ob``)."""
    return {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name == "orderbridge"
    }


def _private_uses(tree: ast.AST) -> Iterator[str]:
    aliases = _aliases(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("orderbridge.") and alias.name not in PUBLIC_SUBPACKAGES:
                    yield f"line {node.lineno}: import {alias.name}"
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            if node.module == "orderbridge":
                for alias in node.names:
                    if alias.name not in PUBLIC_NAMES:
                        yield f"line {node.lineno}: from orderbridge import {alias.name}"
            elif node.module.startswith("orderbridge.") and node.module not in PUBLIC_SUBPACKAGES:
                yield f"line {node.lineno}: from {node.module} import ..."
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            # ob.converters.make_converter reaches a module the package does not export.
            if node.value.id in aliases and node.attr not in PUBLIC_NAMES:
                yield f"line {node.lineno}: {node.value.id}.{node.attr}"


@pytest.mark.parametrize("path", _plugin_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_plugin_imports_only_public_names(path: Path) -> None:
    assert list(_private_uses(ast.parse(path.read_text(encoding="utf-8")))) == []


def test_the_check_sees_every_way_in() -> None:
    code = """
import orderbridge as ob
import orderbridge.converters
from orderbridge import jsonutil_not_exported, Order
from orderbridge.model import Order
from orderbridge.sandbox import Simulator
ob.converters.make_converter()
ob.Order()
"""
    assert [use.split(": ")[1] for use in _private_uses(ast.parse(code))] == [
        "import orderbridge.converters",
        "from orderbridge import jsonutil_not_exported",
        "from orderbridge.model import ...",
        "ob.converters",
    ]
    assert len(_plugin_sources()) >= 10
