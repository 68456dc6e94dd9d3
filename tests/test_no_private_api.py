"""No source of orderbridge, its plugins, the example or the benchmarks uses a private stdlib API.

Private means: a name with a leading underscore taken from a standard-library
module (``sys._getframe``, ``from json import _x``), the ``json`` package's
submodules (its public API is ``json`` itself; ``json.encoder.c_make_encoder``
is an accelerator detail), and enum's undocumented tables (``_value2member_map_``).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRIVATE_MODULES = {"json.encoder", "json.decoder", "json.scanner", "_json"}
PRIVATE_ATTRIBUTES = {"c_make_encoder", "c_make_scanner", "c_scanstring", "encoder", "decoder", "scanner"}
ENUM_INTERNALS = {"_value2member_map_", "_member_map_", "_member_names_", "_unhashable_values_"}


def _sources() -> list[Path]:
    folders = [ROOT / "orderbridge", ROOT / "plugins", ROOT / "benchmarks", ROOT / "docs" / "examples"]
    return sorted(p for folder in folders for p in folder.rglob("*.py") if "build" not in p.parts)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _stdlib_aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> standard-library module, for every ``import x`` / ``import x as y``."""
    return {
        alias.asname or alias.name.partition(".")[0]: alias.name
        if alias.asname
        else alias.name.partition(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name.partition(".")[0] in sys.stdlib_module_names
    }


def _private_uses(tree: ast.AST) -> Iterator[str]:
    modules = _stdlib_aliases(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (f"import {a.name}" for a in node.names if a.name in PRIVATE_MODULES)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            top = node.module.partition(".")[0]
            if node.module in PRIVATE_MODULES:
                yield f"from {node.module} import ..."
            elif top in sys.stdlib_module_names:
                yield from (f"from {node.module} import {a.name}" for a in node.names if _is_private(a.name))
        elif isinstance(node, ast.Attribute):
            if node.attr in ENUM_INTERNALS:
                yield f"....{node.attr}"
            elif isinstance(node.value, ast.Name) and node.value.id in modules:
                module = modules[node.value.id]
                if _is_private(node.attr) or (module == "json" and node.attr in PRIVATE_ATTRIBUTES):
                    yield f"{module}.{node.attr}"


def test_no_source_uses_a_private_stdlib_api() -> None:
    offenders = {
        str(path.relative_to(ROOT)): uses
        for path in _sources()
        if (uses := list(_private_uses(ast.parse(path.read_text(encoding="utf-8")))))
    }
    assert offenders == {}


def test_the_check_sees_each_kind_of_private_use() -> None:
    code = """
import json
import json.encoder
import json as stdjson
import sys
from json.decoder import JSONDecoder
from json import _default_decoder
from decimal import Decimal
encode = json.encoder.c_make_encoder
frame = sys._getframe()
table = SomeEnum._value2member_map_
fine = stdjson.dumps(Decimal(1)), sys.version_info, obj._private
"""
    assert sorted(_private_uses(ast.parse(code))) == sorted(
        [
            "import json.encoder",
            "from json.decoder import ...",
            "from json import _default_decoder",
            "json.encoder",
            "sys._getframe",
            "...._value2member_map_",
        ]
    )
