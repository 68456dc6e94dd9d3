"""Code shown in the docs is included from the tested example plugin, and every include resolves."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
EXAMPLE = "examples/orderbridge-acme"
TUTORIAL = DOCS / "writing-a-backend.md"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_generate_includes", DOCS / "_generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _load_generator()


def _pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if EXAMPLE not in p.as_posix())


def _markers() -> list[tuple[str, str]]:
    return [
        (page.relative_to(DOCS).as_posix(), spec)
        for page in _pages()
        for spec in GEN.include_specs(page.read_text(encoding="utf-8"))
    ]


@pytest.mark.parametrize(("page", "spec"), _markers())
def test_every_include_resolves(page: str, spec: str) -> None:
    block = GEN.render_include(spec)
    assert block.startswith("```") and block.count("\n") >= 2, f"{page}: include {spec} is empty"


def test_tutorial_includes_the_example_backend_module() -> None:
    specs = GEN.include_specs(TUTORIAL.read_text(encoding="utf-8"))
    backend = f"{EXAMPLE}/orderbridge_acme/backend.py"
    assert backend in specs, "the tutorial must include the whole backend module"
    for path in ("pyproject.toml", "orderbridge_acme/__init__.py", "tests/conftest.py"):
        assert any(s.partition("#")[0] == f"{EXAMPLE}/{path}" for s in specs), f"{path} is not included"


def test_tutorial_copies_no_example_code_by_hand() -> None:
    text = TUTORIAL.read_text(encoding="utf-8")
    for needle in ("class AcmeBackend", "def to_canonical", "class TestAcme", "def orderbridge_register"):
        assert needle not in text, f"{needle!r} is written in the tutorial; include it from the example"


def test_every_region_in_the_example_is_well_formed() -> None:
    for path in sorted((DOCS / EXAMPLE).rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        GEN._regions(lines, path.name)  # raises IncludeError on an unbalanced region


def test_include_expands_a_region_without_its_markers() -> None:
    page = f"before\n  <!-- include: {EXAMPLE}/orderbridge_acme/backend.py#class -->\nafter\n"
    out = GEN.expand_includes(page)
    assert "  ```python\n  name: ClassVar[str] = BACKEND_NAME\n" in out
    assert "--8<--" not in out and out.startswith("before\n") and out.endswith("after\n")


def test_include_takes_a_line_range() -> None:
    out = GEN.render_include(f"{EXAMPLE}/pyproject.toml#1-2")
    assert out == '```toml\n[build-system]\nrequires = ["setuptools>=64"]\n```'


@pytest.mark.parametrize(
    "spec",
    [
        "examples/no-such-file.py",
        f"{EXAMPLE}/orderbridge_acme/backend.py#no-such-region",
        f"{EXAMPLE}/pyproject.toml#3-9999",
        f"{EXAMPLE}/pyproject.toml#0-2",
        "../pyproject.toml",
    ],
)
def test_unknown_includes_are_build_errors(spec: str) -> None:
    with pytest.raises(GEN.IncludeError):
        GEN.render_include(spec)


def test_a_page_hook_stops_on_an_unknown_include(tmp_path: Path) -> None:
    with pytest.raises(GEN.IncludeError, match=r"missing\.py"):
        GEN.on_page_markdown("<!-- include: missing.py -->\n", config={"docs_dir": str(tmp_path)})
