"""Docs must keep up with the code: every hook, backend and command is documented."""

from __future__ import annotations

import importlib.util
import inspect
import re
from pathlib import Path

import pytest

import orderbridge as ob
from orderbridge import hookspecs, plugins

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _hook_names() -> list[str]:
    return [
        name
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("orderbridge_")
    ]


def _headings(page: Path) -> set[str]:
    return {m.group(1).strip() for m in re.finditer(r"^#+ (.+)$", page.read_text(), re.MULTILINE)}


@pytest.mark.parametrize("hook", _hook_names())
def test_every_hook_is_documented(hook: str) -> None:
    assert hook in _headings(DOCS / "hooks.md"), f"hook {hook} has no section in docs/hooks.md"


def test_hook_list_is_not_empty() -> None:
    assert len(_hook_names()) >= 3
    assert {"jsonl", "webinone-v1", "webinone-v2", "lunasoft-cart"} <= set(_builtin_backends())


def _builtin_backends() -> list[str]:
    # Backends of other installed distributions (the tutorial's example, say) document themselves.
    providers = plugins.backend_providers()
    dists = plugins.plugin_distributions()
    return sorted(n for n, p in providers.items() if dists.get(p, "").split(" ")[0] == "orderbridge")


@pytest.mark.parametrize("backend", _builtin_backends())
def test_every_backend_has_a_docs_page(backend: str) -> None:
    pages = list((DOCS / "backends").glob("*.md"))
    documented = {h.strip("`") for page in pages for h in _headings(page)} | {p.stem for p in pages}
    assert any(backend in h for h in documented), (
        f"backend {backend} has no page or heading in docs/backends/"
    )


def _load_generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "_generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_sections_cover_the_code() -> None:
    gen = _load_generator()
    matrix = gen.capability_matrix()
    for name in ob.available_backends():
        assert f"| `{name}` |" in matrix
    reference = gen.model_reference()
    assert "### Order" in reference and "`unit_price`" in reference
    run = gen.run_options()
    from orderbridge.migration.config import RunOptions

    for info in ob.declared_options(RunOptions):
        assert f"| `{info.name}` |" in run
    assert "<!-- generated: run-options -->" in (DOCS / "migration.md").read_text()
    cli = gen.cli_reference()
    for command in ("backends", "convert", "migrate", "verify", "export"):
        assert f"### orderbridge {command}" in cli


def test_every_fleet_key_is_documented() -> None:
    """docs/fleet.md shows the generated [fleet] and [hosts] tables, and names every site section."""
    from orderbridge.fleet.config import FLEET_SECTIONS, FleetOptions, HostLimitOptions
    from orderbridge.migration.config import SECTIONS

    gen = _load_generator()
    page = (DOCS / "fleet.md").read_text()
    for marker, table, options in (
        ("fleet-options", gen.fleet_options(), FleetOptions),
        ("host-options", gen.host_options(), HostLimitOptions),
    ):
        assert f"<!-- generated: {marker} -->" in page, marker
        for info in ob.declared_options(options):
            assert f"| `{info.name}` |" in table and info.doc, info.name
    for section in FLEET_SECTIONS:
        assert f"`[{section}" in page, section
    for section in SECTIONS:
        assert f"`[sites.NAME.{section}]`" in page, section
    assert "{site}" in page
    cli = gen.cli_reference()
    assert "### orderbridge fleet" in cli


def test_every_page_in_nav_exists() -> None:
    nav = (DOCS.parent / "mkdocs.yml").read_text()
    for page in re.findall(r":\s+([\w/-]+\.md)", nav):
        assert (DOCS / page).exists(), page


def _backend_page(name: str) -> str:
    pages = sorted((DOCS / "backends").glob("*.md"))
    texts = {page: page.read_text() for page in pages}
    for page, text in texts.items():
        if f"`{name}`" in text.split("\n", 1)[0] or page.stem == name:
            return text
    return "".join(texts.values())


@pytest.mark.parametrize("backend", _builtin_backends())
def test_every_backend_option_is_documented(backend: str) -> None:
    """Each built-in backend declares its options, and its page shows the table made from them."""
    cls = ob.get_backend(backend)
    assert cls.Options is not None, f"{backend} declares no Options"
    page = _backend_page(backend)
    assert f"<!-- generated: options {backend} -->" in page, (
        f"the page of {backend} lacks its generated options table"
    )
    table = _load_generator().options_table(backend)
    for info in ob.declared_options(cls.Options):
        assert f"| `{info.name}` |" in table and info.doc, info.name


def test_generated_options_tables_name_only_built_in_backends() -> None:
    """The docs build on a machine with only orderbridge installed (CI builds them before the example)."""
    marker = re.compile(r"<!-- generated: options ([a-z0-9-]+) -->")
    named = {m.group(1) for page in DOCS.rglob("*.md") for m in marker.finditer(page.read_text())}
    assert named and named <= set(_builtin_backends()), sorted(named - set(_builtin_backends()))


def test_the_jsonutil_reference_covers_every_public_name() -> None:
    page = DOCS / "jsonutil.md"
    assert set(ob.jsonutil.__all__) <= _headings(page), "docs/jsonutil.md lacks a section"


def test_the_jsonutil_reference_examples_run() -> None:
    blocks = re.findall(
        r"^```python\n(.*?)^```", (DOCS / "jsonutil.md").read_text(), re.MULTILINE | re.DOTALL
    )
    assert len(blocks) >= 2
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(block, namespace)  # the page's asserts are the test


SCHEMA_2_FIELDS = {
    ob.Order: ("prices_include_tax", "shipping_lines", "fees", "refunds", "metadata"),
    ob.OrderLine: ("variant_ref", "subtotal", "discount_amount", "tax_amount", "metadata"),
    ob.SourceRef: ("site",),
    ob.TaxLine: ("code", "rate", "amount", "remote_id", "name", "applies_to", "applies_to_index"),
}
"""Fields schema 2 added (and the classes it added, whole, below): each has a docstring."""


def test_every_schema_2_field_is_documented_in_the_reference() -> None:
    import attrs

    gen = _load_generator()
    reference = gen.model_reference()
    new_classes = (ob.Fee, ob.Refund, ob.RefundLine, ob.ShippingLine, ob.MetaEntry)
    wanted = {cls: tuple(f.name for f in attrs.fields(cls)) for cls in new_classes} | SCHEMA_2_FIELDS
    for cls, names in wanted.items():
        assert cls in gen.MODEL_CLASSES and f"### {cls.__name__}\n" in reference
        docs = gen.field_docs(cls)
        for name in names:
            assert docs.get(name), f"{cls.__name__}.{name} has no docstring"
            assert f"| `{name}` |" in reference
    assert "`Order.shipping` (read-only" in reference and "**TaxTarget** known values" in reference


def test_the_field_reference_kept_in_docs_model_md_is_fresh() -> None:
    gen = _load_generator()
    page = (DOCS / "model.md").read_text(encoding="utf-8")
    assert "<!-- end generated: model-reference -->" in page
    assert "| `shipping_lines` |" in page  # readable in the repository, not only in the built site
    assert gen.refresh_kept(page) == page, "docs/model.md is stale: run python docs/_generate.py --write"
    built = gen.on_page_markdown(page)
    assert "<!-- generated" not in built and built.count("### Order\n") == 1
