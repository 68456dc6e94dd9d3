"""The run configuration: a TOML file naming source, target, mapping tables and options.

::

    [source]
    backend = "webinone-v1"
    base_url = "https://old-shop.example.com"
    client_id = "abc"
    client_secret_env = "OLD_SHOP_SECRET"   # any option ending in _env is read from that variable
    site_timezone = "Australia/Sydney"

    [target]
    backend = "webinone-v2"
    base_url = "https://new-shop.example.com"
    client_id = "def"
    client_secret_env = "NEW_SHOP_SECRET"
    rate_limit = 10                          # requests per second

    [run]
    state = "orderbridge-state.sqlite"       # relative paths are relative to this file
    report = "orderbridge-report.json"
    workers = 8                              # fixed; leave out to adapt to the target
    mode = "skip"                            # or "update"
    max_failures = 50                        # 0: no limit; a dry run reads every order regardless

    [references]
    identity = true                          # unmapped values stand for themselves
    on_unresolved = "fail"                   # or "omit": write without it and report

    [references.status]
    "Paid" = 13176
    "*" = 13175                              # every status not listed

A ``references.toml`` (a dry run's template, filled in) adds its tables with
``references_file = "references.toml"`` in ``[run]`` or ``--references FILE``:
its entries win over the inline tables key by key (a warning names each key
both map differently).

Secrets belong in the environment, not in the file: ``<option>_env = "VAR"``.
Relative paths (``state``, ``report``, and backend options typed as paths or
named ``path``/``*_path``) are relative to the configuration file.

Every section is read strictly (:mod:`orderbridge.options`): ``dry_run = "no"``
is false, ``workers = "four"`` and a misspelt key are errors of one line naming
the section, the key, the value and what was expected (or the nearest key).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

import attrs
from attrs import field, frozen

from orderbridge.backend import Backend
from orderbridge.errors import ConfigurationError
from orderbridge.migration.concurrency import DEFAULT_MAX_WORKERS, Concurrency
from orderbridge.migration.engine import Selection
from orderbridge.migration.references_file import merge_tables, read_references_file
from orderbridge.migration.state import is_state_url, literal_password, redacted_location
from orderbridge.options import (
    OptionError,
    SourceIdText,
    declared_options,
    nearest_name,
    option,
    parse_when,
    structure_options,
)
from orderbridge.plugins import get_backend
from orderbridge.references import REFERENCE_KINDS, ReferenceResolver
from orderbridge.tomltext import read_toml

__all__ = [
    "ReferencesOptions",
    "RunConfig",
    "RunOptions",
    "connect_endpoint",
    "connected",
    "load_config",
    "parse_when",
]

log = logging.getLogger("orderbridge.config")

SECTIONS = ("source", "target", "run", "references")


@attrs.frozen(kw_only=True)
class RunOptions:
    """The ``[run]`` section (command-line flags override it)."""

    state: str = option(
        "orderbridge-state.sqlite",
        doc="the state: a SQLite file (relative to this file), or a PostgreSQL URL "
        "postgresql://user@host/db (one migration of many in that database, shared by every worker "
        "of it; the password from the environment)",
    )
    migration: str | None = option(
        None,
        doc="the migration id within a PostgreSQL state (the URL's ?migration= wins; none: 'default')",
    )
    state_password_env: str | None = option(
        None,
        doc="the environment variable holding the PostgreSQL state's password "
        "(none: libpq's own rules, PGPASSWORD or ~/.pgpass)",
    )
    report: Path | None = option(
        None,
        doc="the latest report's path: each run writes NAME-<UTC time>.json and .html beside it, "
        "then copies its JSON here (none: no report files)",
    )
    workers: int | None = option(
        None, doc="orders in flight at once, fixed (none: adapted to the target, up to max_workers)"
    )
    max_workers: int = option(
        DEFAULT_MAX_WORKERS, doc="the ceiling of the adapted number of orders in flight"
    )
    mode: Literal["skip", "update"] = option("skip", doc="an order written before: skip it, or update it")
    dry_run: bool = option(False, doc="read and plan only: nothing is written to the target")
    max_failures: int | None = option(
        None,
        doc="stop a real run once this many orders have failed (none or 0: never; a dry run never stops)",
    )
    since: datetime | None = option(
        None, doc="only orders created at or after this date or time (UTC if naive)"
    )
    until: datetime | None = option(None, doc="only orders created before this date or time (UTC if naive)")
    min_id: SourceIdText | None = option(None, doc="only orders whose source id is at least this")
    max_id: SourceIdText | None = option(None, doc="only orders whose source id is at most this")
    ids: tuple[SourceIdText, ...] = option((), doc="only these source ids")
    limit: int | None = option(None, doc="at most this many orders (at least 0)")
    references_file: Path | None = option(
        None,
        doc="a references.toml (a dry run's filled template) whose tables win over [references.<kind>] "
        "key by key (relative to this file; --references overrides it)",
    )


@attrs.frozen(kw_only=True)
class ReferencesOptions:
    """The scalar keys of ``[references]``; its sub-tables are the mapping tables."""

    identity: bool = option(True, doc="an unmapped value may stand for itself where ids are shared")
    on_unresolved: Literal["fail", "omit"] = option(
        "fail", doc="a reference that does not resolve: fail the order, or write it without"
    )


@frozen(kw_only=True)
class RunConfig:
    """A parsed run configuration; endpoint sections are kept as written (read when connected)."""

    source: dict[str, Any] = field(repr=False)
    target: dict[str, Any] = field(repr=False)
    state: Path | str = field(repr=redacted_location)
    """A SQLite file, or a PostgreSQL state URL (``[run] migration`` and ``state_password_env`` folded in)."""
    report: Path | None = None
    workers: int | None = None
    max_workers: int = DEFAULT_MAX_WORKERS
    mode: str = "skip"
    dry_run: bool = False
    max_failures: int | None = None
    selection: Selection = field(factory=Selection)
    reference_tables: dict[str, dict[str, str]] = field(factory=dict)
    references_file: Path | None = None
    identity: bool = True
    on_unresolved: str = "fail"

    def concurrency(self) -> Concurrency:
        """The run's concurrency policy: ``workers`` fixed, else adaptive up to ``max_workers``."""
        return Concurrency.of(self.workers, maximum=self.max_workers)

    def resolver(self) -> ReferenceResolver:
        """The reference resolver the target is given."""
        return ReferenceResolver(self.reference_tables, identity=self.identity)

    def migrate_arguments(self) -> dict[str, Any]:
        """The keyword arguments of :func:`orderbridge.migrate` this configuration sets (state,
        mode, dry run, concurrency, selection, failure limit); callers add progress and stop."""
        return {
            "state": self.state,
            "dry_run": self.dry_run,
            "mode": self.mode,
            "concurrency": self.concurrency(),
            "selection": self.selection,
            "max_failures": self.max_failures,
        }


def load_config(path: str | Path, **overrides: Any) -> RunConfig:
    """Read a run configuration file; keyword ``overrides`` (from the command line) win."""
    path = Path(path)
    data = read_toml(path, "configuration")
    _warn_about_literal_secrets(path, data)
    return config_from_dict(data, base_dir=path.parent, **overrides)


def _backend_of(section: str, options: Mapping[str, Any]) -> type[Backend]:
    name = options.get("backend")
    if not isinstance(name, str) or not name:
        raise OptionError(f"[{section}]", "backend", "required: the backend's name (orderbridge backends)")
    return get_backend(name)


def _warn_about_literal_secrets(path: Path, data: Mapping[str, Any]) -> None:
    """A secret written in a file others can read is said once, naming the file (never the value)."""
    mode = path.stat().st_mode
    if not mode & 0o077:
        return
    for section in ("source", "target"):
        options = data.get(section, {})
        try:
            secrets = _backend_of(section, options).secret_options()
        except ConfigurationError:
            continue  # reported when the section is connected
        literal = sorted(k for k in options if k in secrets)
        _say_literal(path, mode, section, literal)
    state = data.get("run", {}).get("state") if isinstance(data.get("run"), Mapping) else None
    if isinstance(state, str) and is_state_url(state) and literal_password(state):
        _say_literal(path, mode, "run", ["state (its URL's password)"], "state_password")


def _say_literal(path: Path, mode: int, section: str, literal: list[str], key: str | None = None) -> None:
    if literal:
        log.warning(
                "%s holds a literal secret ([%s] %s) and is readable by other users (mode %o): "
                "use %s_env = \"VARIABLE\" instead, or chmod 600 %s",
                path, section, ", ".join(literal), mode & 0o777, key or literal[0], path,
            )  # fmt: skip


def config_from_dict(data: Mapping[str, Any], *, base_dir: Path = Path(), **overrides: Any) -> RunConfig:
    """Build a :class:`RunConfig` from the parsed TOML mapping (``overrides``: command-line values)."""
    for name in data:
        if name not in SECTIONS:
            near = nearest_name(name, SECTIONS)
            hint = f"did you mean [{near}]?" if near else f"known: {', '.join(SECTIONS)}"
            raise OptionError(f"[{name}]", "", f"unknown section; {hint}")
    given = {**_table(data, "run"), **{k: v for k, v in overrides.items() if v is not None}}
    run = structure_options(RunOptions, given, where="[run]", from_python=False, environ={})
    _check_at_least(run, workers=1, max_workers=1, limit=0, max_failures=0)
    tables, refs = _references(_table(data, "references"))

    def path_of(value: Path) -> Path:
        return value if value.is_absolute() else base_dir / value

    references_file = path_of(run.references_file) if run.references_file is not None else None
    if references_file is not None:
        tables = merge_tables(tables, read_references_file(references_file), file=references_file)

    return RunConfig(
        source=_endpoint(data, "source", path_of),
        target=_endpoint(data, "target", path_of),
        state=_state_of(run, path_of),
        report=path_of(run.report) if run.report is not None else None,
        workers=run.workers,
        max_workers=run.max_workers,
        mode=run.mode,
        dry_run=run.dry_run,
        max_failures=run.max_failures,
        selection=Selection(
            since=run.since,
            until=run.until,
            min_id=run.min_id,
            max_id=run.max_id,
            ids=tuple(run.ids),
            limit=run.limit,
        ),
        reference_tables=tables,
        references_file=references_file,
        identity=refs.identity,
        on_unresolved=refs.on_unresolved,
    )


def _state_of(run: RunOptions, path_of: Any) -> Path | str:
    """The run's state: a file (relative to the configuration), or a URL naming its migration."""
    if not is_state_url(run.state):
        for key in ("migration", "state_password_env"):
            if getattr(run, key) is not None:
                raise OptionError("[run]", key, 'applies to a PostgreSQL state (state = "postgresql://...")')
        return Path(path_of(Path(run.state)))
    url, query = run.state, parse_qs(urlsplit(run.state).query)
    for key, value in (("migration", run.migration), ("password_env", run.state_password_env)):
        if value is None:
            continue
        if key in query and query[key] != [value]:
            raise OptionError("[run]", "state", f"names {key} {query[key][0]!r}, [run] says {value!r}")
        if key not in query:
            url += ("&" if "?" in url else "?") + urlencode({key: value})
    redacted_location(url)  # a malformed URL (a bad lease) is an error now, not at the first order
    return url


def _table(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        raise OptionError(f"[{name}]", "", f"must be a table, not {type(value).__name__}")
    return dict(value)


def _check_at_least(run: RunOptions, **least: int) -> None:
    for key, bound in least.items():
        value = getattr(run, key)
        if value is not None and value < bound:
            raise OptionError("[run]", key, f"{value} is below {bound}")


def _references(refs: Mapping[str, Any]) -> tuple[dict[str, dict[str, str]], ReferencesOptions]:
    """The mapping tables (sub-tables, per kind) and the scalar keys of ``[references]``."""
    scalars = {k: v for k, v in refs.items() if not isinstance(v, Mapping)}
    tables: dict[str, dict[str, str]] = {}
    for kind, table in refs.items():
        if kind in scalars:
            continue
        if kind not in REFERENCE_KINDS:
            near = nearest_name(kind, REFERENCE_KINDS)
            hint = f"did you mean [references.{near}]?" if near else f"known: {', '.join(REFERENCE_KINDS)}"
            raise OptionError(f"[references.{kind}]", "", f"unknown kind; {hint}")
        tables[kind] = {str(k): _target_id(kind, k, v) for k, v in table.items()}
    names = {i.name for i in declared_options(ReferencesOptions)}
    for key in scalars:
        if key not in names and key in REFERENCE_KINDS:
            raise OptionError("[references]", key, f"a mapping table is written [references.{key}]")
    return tables, structure_options(
        ReferencesOptions, scalars, where="[references]", from_python=False, environ={}
    )


def _target_id(kind: str, key: str, value: Any) -> str:
    """A mapping table value: the target's id, text or an integer."""
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise OptionError(
            f"[references.{kind}]", repr(key), f"{value!r} is not a target id (text or integer)"
        )
    return str(value)


def _endpoint(data: Mapping[str, Any], section: str, path_of: Any) -> dict[str, Any]:
    """A ``[source]``/``[target]`` section as written, with its file paths made relative to the file."""
    options = _table(data, section)
    cls = _backend_of(section, options)
    paths = {"path"} | {k for k in options if k.endswith("_path")}
    if cls.Options is not None:
        paths |= {i.name for i in declared_options(cls.Options) if i.type in (Path, Path | None)}
    for key, value in options.items():
        if key in paths and isinstance(value, str):
            options[key] = str(path_of(Path(value)))
    return options


def connect_endpoint(
    options: Mapping[str, Any], *, config: RunConfig | None = None, section: str | None = None
) -> Backend:
    """Connect one side of a run: ``options`` holds ``backend`` and the backend's options as written.

    Read strictly through the backend's declared options (``KEY_env`` from the
    environment; errors name ``[section]``). The target side also receives the
    run's resolver and unresolved-reference policy where its backend takes them.
    """
    options = dict(options)
    where = f"[{section}]" if section else "configuration"
    cls = _backend_of(section or "endpoint", options)
    options.pop("backend")
    runtime = {"resolver": config.resolver(), "on_unresolved": config.on_unresolved} if config else {}
    try:
        return cls.configure(options, where=where, from_python=False, runtime=runtime)
    except TypeError as exc:
        raise ConfigurationError(f"{where} backend {cls.name!r}: {exc}") from None


@contextmanager
def connected(config: RunConfig) -> Iterator[tuple[Backend, Backend]]:
    """Both ends of ``config`` connected (the target with the mapping tables), closed afterwards;
    a source connected before a target that fails to connect is closed too."""
    source = connect_endpoint(config.source, section="source")
    try:
        target = connect_endpoint(config.target, config=config, section="target")
        try:
            yield source, target
        finally:
            target.close()
    finally:
        source.close()
