"""MkDocs hook: fills generated sections of the docs from the code.

A page marks a generated section with an HTML comment, e.g.
``<!-- generated: capability-matrix -->``; the text is produced here, from the
installed code, at build time, so the docs cannot drift from it. The tests
import the same functions.
"""

from __future__ import annotations

import re
import typing
from typing import Any

import attrs

import orderbridge as ob

MODEL_CLASSES = (
    ob.Order, ob.OrderLine, ob.Payment, ob.Customer, ob.Address, ob.ShippingOption, ob.Discount,
    ob.GiftVoucher, ob.Tax, ob.AttributeSelection, ob.OrderStatus, ob.StatusChange, ob.SourceRef,
)
_MARKER = re.compile(r"<!-- generated: ([a-z-]+) -->")


def _type_name(tp: Any) -> str:
    text = str(tp).replace("typing.", "").replace("decimal.", "").replace("datetime.", "")
    text = re.sub(r"orderbridge\.model\.", "", text)
    return text.replace("|", "\\|")


def model_reference() -> str:
    """Markdown tables of every canonical class and field, from the attrs definitions."""
    out: list[str] = []
    for cls in MODEL_CLASSES:
        hints = typing.get_type_hints(cls)
        out.append(f"### {cls.__name__}\n")
        out.append((cls.__doc__ or "").strip().split("\n\n")[0] + "\n")
        out.append("| field | type | default |\n|---|---|---|")
        for field in attrs.fields(cls):
            if field.default is attrs.NOTHING:
                default = "required"
            elif isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
                default = "empty"
            else:
                default = f"`{field.default!r}`"
            out.append(f"| `{field.name}` | `{_type_name(hints[field.name])}` | {default} |")
        out.append("")
    for enum_cls in (ob.PaymentState, ob.PaymentType):
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
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, sub in subparsers.choices.items():  # type: ignore[attr-defined]
        out += [f"### orderbridge {name}", "", "```text", sub.format_help().rstrip(), "```", ""]
    return "\n".join(out)


GENERATORS = {
    "model-reference": model_reference,
    "capability-matrix": capability_matrix,
    "cli-reference": cli_reference,
}


def on_page_markdown(markdown: str, **_: Any) -> str:
    """MkDocs event: replace each generated-section marker with its text."""
    return _MARKER.sub(lambda m: GENERATORS[m.group(1)](), markdown)
