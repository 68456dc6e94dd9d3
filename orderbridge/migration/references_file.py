"""The ``references.toml`` file: a dry run's template of unresolved references, filled in by a person.

A dry run lists every reference the target could not resolve (per kind: the
value, how many orders need it, what the source says of it) and, where the
target can list its own entries (:meth:`~orderbridge.Backend.list_references`),
the candidates to choose from. :func:`write_template` writes that as TOML::

    [references.status]
    # webinone-v2 lists 9 status entries (id  name):
    #   21076  New
    #   21078  Paid
    "Paid" = ""  # 14 orders

The operator fills in each ``""`` with the target's id and passes the file back
(``--references references.toml``, or ``references_file`` in ``[run]``):
:func:`read_references_file` reads it. An entry left ``""`` is not mapped yet;
``"*" = "ID"`` maps every value of its kind the table does not list
(:data:`orderbridge.DEFAULT_KEY`). Its tables merge with the configuration's
inline ``[references.<kind>]`` tables key by key, the file winning
(:func:`merge_tables`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from orderbridge.backend import Backend
from orderbridge.errors import ConfigurationError, OrderbridgeError
from orderbridge.migration.report import MigrationReport
from orderbridge.options import nearest_name
from orderbridge.references import DEFAULT_KEY, REFERENCE_KINDS, ReferenceCandidate
from orderbridge.tomltext import comment_text, read_toml, toml_string, write_private

__all__ = [
    "CANDIDATE_LIMIT",
    "TEMPLATE_NAME",
    "Candidates",
    "list_candidates",
    "merge_tables",
    "read_references_file",
    "render_template",
    "write_template",
]

log = logging.getLogger("orderbridge.references")

TEMPLATE_NAME: Final = "references.toml"
"""The file name of a dry run's template, written beside its report."""

CANDIDATE_LIMIT: Final = 500
"""Candidates shown per kind in a template (the rest are counted, not listed)."""

Candidates = dict[str, list[ReferenceCandidate] | str]
"""Per kind, the target's entries, or the sentence saying why there are none to show."""


# ---------------------------------------------------------------- reading


def read_references_file(path: str | Path) -> dict[str, dict[str, str]]:
    """The mapping tables of a references file: kind -> source value -> target id.

    The file holds ``[references.<kind>]`` tables only (as a run
    configuration writes them). A value is the target's id, text or an
    integer; ``""`` is an entry not filled in yet and is left out. An unknown
    kind, another key or a value of another type is a
    :class:`~orderbridge.ConfigurationError` naming the file, kind and key.
    """
    path = Path(path)
    data = read_toml(path, "references file")
    extra = sorted(set(data) - {"references"})
    if extra:
        raise ConfigurationError(
            f"{path}: only [references.<kind>] tables belong in a references file, not {extra[0]!r}"
        )
    refs = data.get("references", {})
    tables: dict[str, dict[str, str]] = {}
    empty = 0
    for kind, table in refs.items():
        if not isinstance(table, Mapping):
            raise ConfigurationError(
                f"{path}: [references] {kind} = ...: a references file holds only "
                "[references.<kind>] tables (identity and on_unresolved belong in the run configuration)"
            )
        if kind not in REFERENCE_KINDS:
            near = nearest_name(kind, REFERENCE_KINDS)
            hint = f"did you mean [references.{near}]?" if near else f"known: {', '.join(REFERENCE_KINDS)}"
            raise ConfigurationError(f"{path}: [references.{kind}]: unknown kind; {hint}")
        entries: dict[str, str] = {}
        for key, value in table.items():
            if value == "":
                empty += 1
                continue
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise ConfigurationError(
                    f"{path}: [references.{kind}] {key!r} = {value!r} is not a target id (text or integer)"
                )
            entries[str(key)] = str(value)
        tables[kind] = entries
    if empty:
        log.info("%s: %d entr%s not filled in yet (not mapped)", path, empty, "y" if empty == 1 else "ies")
    return tables


def merge_tables(
    inline: Mapping[str, Mapping[str, str]], from_file: Mapping[str, Mapping[str, str]], *, file: str | Path
) -> dict[str, dict[str, str]]:
    """``inline`` tables (the configuration's) with ``from_file``'s entries over them, key by key.

    A key both map to different ids takes the file's id, with a warning naming
    the kind, the key and both ids.
    """
    merged = {kind: dict(table) for kind, table in inline.items()}
    for kind, table in from_file.items():
        into = merged.setdefault(kind, {})
        for key, value in table.items():
            if key in into and into[key] != value:
                log.warning(
                    "[references.%s] %r: %s maps it to %r, the configuration to %r; the file wins",
                    kind, key, file, value, into[key],
                )  # fmt: skip
            into[key] = value
    return merged


# ---------------------------------------------------------------- candidates


def list_candidates(target: Backend, kinds: Iterable[str]) -> Candidates:
    """The target's entries of each of ``kinds`` (:meth:`~orderbridge.Backend.list_references`).

    A kind the target cannot list, or whose list fails, gets the sentence
    saying so instead; nothing here raises for a site's answer.
    """
    found: Candidates = {}
    for kind in kinds:
        try:
            listed = target.list_references(kind)
        except OrderbridgeError as exc:
            found[kind] = f"listing {target.name}'s {kind} entries failed: {exc}"
            continue
        found[kind] = (
            listed
            if listed is not None
            else f"{target.name} cannot list its {kind} entries: look the ids up on the site"
        )
    return found


# ---------------------------------------------------------------- writing


def render_template(
    unresolved: Mapping[str, Counter[str]],
    *,
    candidates: Candidates,
    hints: Mapping[str, Mapping[str, str]] | None = None,
    filled: Mapping[str, Mapping[str, str]] | None = None,
    source: str = "the source",
    target: str = "the target",
    written_at: datetime | None = None,
) -> str:
    """The template's text: one ``[references.<kind>]`` table per kind with unresolved values.

    ``filled`` are entries to keep as they are (from the file this replaces);
    each unresolved value gets ``""``, the count of orders needing it and its
    hint; each table shows its ``candidates`` (or why there are none) as comments.
    """
    hints = hints or {}
    filled = filled or {}
    when = (written_at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [
        f"# references.toml: what a dry run of {source} -> {target} could not resolve ({when}).",
        "# Fill in each \"\" with the target's id (the candidates in each table are the target's",
        "# own entries), then run again with: --references references.toml",
        '# (or references_file = "references.toml" in [run]). An entry left "" is not mapped.',
        f'# "{DEFAULT_KEY}" = "ID" in a table maps every value of its kind that the table does not list.',
        "# This file may name customers (members' emails): it is readable by you only.",
    ]
    for kind in REFERENCE_KINDS:
        counts = unresolved.get(kind, Counter())
        kept = {k: v for k, v in filled.get(kind, {}).items() if k not in counts}
        if not counts and not kept:
            continue
        lines += ["", f"[references.{kind}]"]
        lines += _candidate_lines(kind, candidates.get(kind))
        for key, value in kept.items():
            lines.append(f"{toml_string(key)} = {toml_string(value)}")
        for value, orders in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
            note = f"{orders} order{'s' if orders != 1 else ''}"
            hint = hints.get(kind, {}).get(value)
            note += f"; source: {comment_text(hint)}" if hint else ""
            lines.append(f'{toml_string(value)} = ""  # {note}')
        if DEFAULT_KEY not in kept:
            lines.append(f'# "{DEFAULT_KEY}" = ""  # every other {kind} value')
    return "\n".join(lines) + "\n"


def _candidate_lines(kind: str, found: list[ReferenceCandidate] | str | None) -> list[str]:
    if found is None:
        return []
    if isinstance(found, str):
        return [f"# {comment_text(found)}"]
    if not found:
        return [f"# the target lists no {kind} entries"]
    lines = [f"# the target lists {len(found)} {kind} entr{'y' if len(found) == 1 else 'ies'} (id  name):"]
    lines += [f"#   {comment_text(c.id)}  {comment_text(c.name)}" for c in found[:CANDIDATE_LIMIT]]
    if len(found) > CANDIDATE_LIMIT:
        lines.append(f"#   ... and {len(found) - CANDIDATE_LIMIT} more")
    return lines


def write_template(path: str | Path, report: MigrationReport, target: Backend) -> Path | None:
    """Write the template of ``report``'s unresolved references to ``path``; ``None`` when there are none.

    Entries an existing file at ``path`` maps already are kept; its empty ones
    are replaced by this run's list. The file is written readable by its owner
    only (it may hold members' emails).
    """
    path = Path(path)
    filled = read_references_file(path) if path.exists() else {}
    if not report.unresolved_references:
        return None
    text = render_template(
        report.unresolved_references,
        candidates=list_candidates(target, [k for k in REFERENCE_KINDS if k in report.unresolved_references]),
        hints=report.unresolved_hints,
        filled=filled,
        source=report.source,
        target=report.target,
    )
    write_private(path, text)
    return path
