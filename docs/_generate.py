"""MkDocs hook: fills generated sections of the docs from the code.

A page marks a generated section with an HTML comment, e.g.
``<!-- generated: capability-matrix -->``; the text is produced here, from the
installed code, at build time, so the docs cannot drift from it. The tests
import the same functions.

A generated section may also be kept in the repository, so that the page reads
whole on GitHub too: the marker is then followed by the text and closed by
``<!-- end generated: NAME -->``. The build replaces the kept text with a fresh
one; ``python docs/_generate.py --write`` refreshes the kept text, and a test
fails when it is stale (``docs/model.md`` keeps the field reference this way).

A page includes source code the same way, so that code shown in the docs is
code that is tested (the example plugin under ``docs/examples/``)::

    <!-- include: examples/orderbridge-acme/orderbridge_acme/backend.py -->
    <!-- include: examples/orderbridge-acme/orderbridge_acme/backend.py#to_canonical -->
    <!-- include: examples/orderbridge-acme/pyproject.toml#5-12 -->

The path is relative to ``docs/``. After ``#``, either a named region, delimited
in the source by the comment lines ``# --8<-- [start:NAME]`` and
``# --8<-- [end:NAME]``, or a line range ``START-END`` (1-based, inclusive;
``START-`` runs to the end). The marker, alone on its line (it may be indented,
inside a list item), becomes a fenced code block in the file's language; region
comment lines are left out of what is shown. A path, region or range that does
not resolve stops the build with :class:`IncludeError`.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import itertools
import re
import sys
import typing
from pathlib import Path
from typing import Any

import attrs

import orderbridge as ob

MODEL_CLASSES = (
    ob.Order,
    ob.OrderLine,
    ob.Payment,
    ob.Refund,
    ob.RefundLine,
    ob.Customer,
    ob.Address,
    ob.ShippingLine,
    ob.Fee,
    ob.Discount,
    ob.GiftVoucher,
    ob.TaxLine,
    ob.MetaEntry,
    ob.AttributeSelection,
    ob.OrderStatus,
    ob.StatusChange,
    ob.SourceRef,
    ob.ShippingOption,
)
_MARKER = re.compile(r"<!-- generated: ([a-z-]+)(?: ([a-z0-9-]+))? -->")
KEPT = re.compile(
    r"<!-- generated: (?P<name>[a-z-]+)(?: (?P<arg>[a-z0-9-]+))? -->\n(?P<text>.*?)"
    r"<!-- end generated: (?P=name) -->",
    re.DOTALL,
)
"""A generated section kept in the repository: the marker, the text, the end marker."""
"""A generated-section marker: a generator's name and, for some, an argument (a backend name)."""
INCLUDE = re.compile(r"^(?P<indent>[ \t]*)<!-- include: (?P<spec>\S+) -->[ \t]*$", re.MULTILINE)
"""An include marker, alone on its line; ``spec`` is ``path[#region|#start-end]``."""
_REGION = re.compile(r"^\s*(?:#|//|<!--)\s*--8<--\s*\[(?P<kind>start|end):(?P<name>[\w.-]+)\]")
_RANGE = re.compile(r"(?P<start>\d+)-(?P<end>\d*)")
DOCS_DIR = Path(__file__).resolve().parent
LANGUAGES = {".py": "python", ".toml": "toml", ".json": "json", ".cfg": "ini", ".md": "markdown",
             ".yml": "yaml", ".yaml": "yaml", ".sh": "sh"}  # fmt: skip
"""Fence language by file suffix (anything else: ``text``)."""

try:
    from mkdocs.exceptions import PluginError as _BuildError
except ImportError:  # the tests may import this module without MkDocs
    _BuildError = Exception  # type: ignore[assignment,misc]


class IncludeError(_BuildError):
    """An include marker names a file, region or line range that does not exist."""


def _type_name(tp: Any) -> str:
    if tp == ob.JsonValue:
        return "JsonValue"
    text = tp.__name__ if isinstance(tp, type) else str(tp)
    text = text.replace("typing.", "").replace("decimal.", "").replace("datetime.", "")
    text = re.sub(r"orderbridge\.model\.", "", text)
    return text.replace("|", "\\|")


def field_docs(cls: type) -> dict[str, str]:
    """Field name -> the first paragraph of its docstring (the string literal below its declaration)."""
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, following in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[node.target.id] = " ".join(inspect.cleandoc(following.value.value).split("\n\n")[0].split())
    return docs


def _rst_to_md(text: str) -> str:
    text = re.sub(r":[a-z]+:`~?(?:orderbridge\.)?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`").replace("|", "\\|")


def model_reference() -> str:
    """Markdown tables of every canonical class and field, from the attrs definitions and field docstrings."""
    out: list[str] = []
    for cls in MODEL_CLASSES:
        hints = typing.get_type_hints(cls)
        docs = field_docs(cls)
        out.append(f"### {cls.__name__}\n")
        out.append(_rst_to_md(" ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())) + "\n")
        out.append("| field | type | default | meaning |\n|---|---|---|---|")
        for field in attrs.fields(cls):
            if field.default is attrs.NOTHING:
                default = "required"
            elif isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
                default = "empty"
            elif isinstance(field.default, ob.OpenEnum):
                default = f"`{field.default.value!r}`"
            else:
                default = f"`{field.default!r}`"
            meaning = _rst_to_md(docs.get(field.name, ""))
            out.append(f"| `{field.name}` | `{_type_name(hints[field.name])}` | {default} | {meaning} |")
        out.append("")
    out.append(
        "`Order.shipping` (read-only, not a field) gives `shipping_lines` as one `ShippingOption`: "
        "`None` without shipping lines, the line itself with one, the names joined by ` + ` and "
        "the costs summed with several.\n"
    )
    out.append(
        "`JsonValue` is any JSON value: `str`, `bool`, `int`, `Decimal` (never float), `None`, "
        "lists and objects of them.\n"
    )
    for enum_cls in (ob.PaymentState, ob.PaymentType, ob.TaxTarget):
        values = ", ".join(f"`{m.value}`" for m in enum_cls)
        out.append(f"**{enum_cls.__name__}** known values: {values}; any other text is kept as is.\n")
    return "\n".join(out)


def capability_matrix() -> str:
    """A table of installed backends against capabilities, from the registry."""
    from orderbridge.plugins import backend_providers

    caps = sorted(ob.Capability.ALL)
    providers = backend_providers()
    rows = ["| backend | plugin | " + " | ".join(caps) + " |", "|---|---|" + "---|" * len(caps)]
    for name, cls in ob.available_backends().items():
        marks = " | ".join("yes" if c in cls.capabilities else "-" for c in caps)
        rows.append(f"| `{name}` | `{providers[name]}` | {marks} |")
    return "\n".join(rows) + "\n"


def cli_reference() -> str:
    """The help text of every sub-command, from the argument parser."""
    from orderbridge.cli import build_parser

    parser = build_parser()
    out = ["```text", parser.format_help().rstrip(), "```", ""]
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        out += [f"### orderbridge {name}", "", "```text", sub.format_help().rstrip(), "```", ""]
    return "\n".join(out)


def options_table(backend: str) -> str:
    """The options of ``backend`` as a Markdown table, from its declaration (``Backend.Options``)."""
    from orderbridge.cli import options_rows

    return _table(options_rows(ob.get_backend(backend)))


def run_options() -> str:
    """The ``[run]`` keys of a configuration file, from their declaration."""
    from orderbridge.migration.config import RunOptions

    infos = ob.declared_options(RunOptions)
    return _table([(i.name, i.type_text(), i.default_text(), i.doc) for i in infos])


def _table(options: list[tuple[str, str, str, str]]) -> str:
    rows = ["| option | type | default | meaning |", "|---|---|---|---|"]
    for name, type_text, default, doc in options:
        cells = (f"`{name}`", type_text, default, doc)
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"


def generate(name: str, argument: str | None = None) -> str:
    """The text of the generated section ``name`` (with its ``argument``, e.g. a backend name)."""
    if name == "options":
        if argument is None:
            raise IncludeError("<!-- generated: options NAME --> needs a backend name")
        return options_table(argument)
    return GENERATORS[name]()


def _regions(lines: list[str], where: str) -> dict[str, tuple[int, int]]:
    """Region name -> (first, last) 0-based line indexes of its body (marker lines excluded)."""
    starts: dict[str, int] = {}
    found: dict[str, tuple[int, int]] = {}
    for i, line in enumerate(lines):
        m = _REGION.match(line)
        if m is None:
            continue
        name = m.group("name")
        if m.group("kind") == "start":
            if name in starts or name in found:
                raise IncludeError(f"{where}: region {name!r} starts twice")
            starts[name] = i + 1
        else:
            if name not in starts:
                raise IncludeError(f"{where}: region {name!r} ends before it starts")
            found[name] = (starts.pop(name), i - 1)
    if starts:
        raise IncludeError(f"{where}: region {sorted(starts)[0]!r} never ends")
    return found


def resolve_include(spec: str, docs_dir: Path = DOCS_DIR) -> tuple[Path, list[str]]:
    """The file and the lines an include ``spec`` (``path[#region|#start-end]``) names.

    Raises :class:`IncludeError` for a path outside ``docs_dir`` or missing, an
    unknown region, or a line range outside the file.
    """
    rel, _, selector = spec.partition("#")
    root = docs_dir.resolve()
    path = (root / rel).resolve()
    if root not in path.parents or not path.is_file():
        raise IncludeError(f"include {spec!r}: no file {rel!r} under {root}")
    lines = path.read_text(encoding="utf-8").splitlines()
    regions = _regions(lines, rel)
    if not selector:
        first, last = 0, len(lines) - 1
    elif (m := _RANGE.fullmatch(selector)) is not None:
        first = int(m.group("start")) - 1
        last = int(m.group("end")) - 1 if m.group("end") else len(lines) - 1
        if first < 0 or last < first or last >= len(lines):
            raise IncludeError(f"include {spec!r}: lines {selector} outside 1-{len(lines)}")
    elif selector in regions:
        first, last = regions[selector]
    else:
        known = ", ".join(sorted(regions)) or "none"
        raise IncludeError(f"include {spec!r}: no region {selector!r} in {rel} (regions: {known})")
    shown = [line for line in lines[first : last + 1] if not _REGION.match(line)]
    return path, shown


def render_include(spec: str, docs_dir: Path = DOCS_DIR, indent: str = "") -> str:
    """A fenced code block holding what ``spec`` names, dedented, each line prefixed with ``indent``."""
    path, lines = resolve_include(spec, docs_dir)
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    margin = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
    body = [x[margin:] for x in lines]
    longest = max((len(run) for x in body for run in re.findall(r"`+", x)), default=0)
    fence = "`" * max(3, longest + 1)
    block = [f"{fence}{LANGUAGES.get(path.suffix, 'text')}", *body, fence]
    return "\n".join(f"{indent}{x}" if x else "" for x in block)


def include_specs(markdown: str) -> list[str]:
    """The ``spec`` of every include marker in a page."""
    return [m.group("spec") for m in INCLUDE.finditer(markdown)]


def expand_includes(markdown: str, docs_dir: Path = DOCS_DIR) -> str:
    """Replace every include marker with its fenced code block."""
    return INCLUDE.sub(lambda m: render_include(m.group("spec"), docs_dir, m.group("indent")), markdown)


def fleet_options() -> str:
    """The ``[fleet]`` keys of a fleet file, from their declaration."""
    from orderbridge.fleet.config import FleetOptions

    infos = ob.declared_options(FleetOptions)
    return _table([(i.name, i.type_text(), i.default_text(), i.doc) for i in infos])


def host_options() -> str:
    """The keys of a fleet file's ``[hosts."HOST"]`` tables, from their declaration."""
    from orderbridge.fleet.config import HostLimitOptions

    infos = ob.declared_options(HostLimitOptions)
    return _table([(i.name, i.type_text(), i.default_text(), i.doc) for i in infos])


GENERATORS = {
    "model-reference": model_reference,
    "fleet-options": fleet_options,
    "host-options": host_options,
    "capability-matrix": capability_matrix,
    "cli-reference": cli_reference,
    "run-options": run_options,
}


def on_page_markdown(markdown: str, config: Any = None, **_: Any) -> str:
    """MkDocs event: replace include markers with code, then generated-section markers with their text."""
    docs_dir = Path(config["docs_dir"]) if config is not None else DOCS_DIR
    markdown = expand_includes(markdown, docs_dir)
    markdown = KEPT.sub(lambda m: generate(m.group("name"), m.group("arg")), markdown)
    return _MARKER.sub(lambda m: generate(m.group(1), m.group(2)), markdown)


def refresh_kept(markdown: str) -> str:
    """``markdown`` with every kept generated section's text made afresh from the code."""

    def fresh(m: re.Match[str]) -> str:
        marker = m.group(0).split("\n", 1)[0]
        text = generate(m.group("name"), m.group("arg")).rstrip("\n")
        return f"{marker}\n\n{text}\n\n<!-- end generated: {m.group('name')} -->"

    return KEPT.sub(fresh, markdown)


def main(argv: list[str] | None = None) -> int:
    """``python docs/_generate.py --write``: refresh the generated sections kept in the pages."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite stale pages (else: list them)")
    args = parser.parse_args(argv)
    stale = []
    for page in sorted(DOCS_DIR.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        fresh = refresh_kept(text)
        if fresh != text:
            stale.append(page)
            if args.write:
                page.write_text(fresh, encoding="utf-8")
    for page in stale:
        print(f"{'rewrote' if args.write else 'stale'}: {page.relative_to(DOCS_DIR)}")
    return 1 if stale and not args.write else 0


if __name__ == "__main__":
    sys.exit(main())
