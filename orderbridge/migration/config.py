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
    workers = 4
    mode = "skip"                            # or "update"
    max_failures = 50

    [references]
    identity = true                          # unmapped values stand for themselves
    on_unresolved = "fail"                   # or "omit": write without it and report

    [references.status]
    "Paid" = 13176

Secrets belong in the environment, not in the file: ``<option>_env = "VAR"``.
Relative paths (``state``, ``report``, and backend options named ``path`` or
``*_path``) are relative to the configuration file.
"""

from __future__ import annotations

import inspect
import logging
import os
import tomllib
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

from attrs import field, frozen

from orderbridge.backend import Backend
from orderbridge.errors import ConfigurationError
from orderbridge.migration.engine import Mode, Selection
from orderbridge.plugins import get_backend
from orderbridge.references import REFERENCE_KINDS, ReferenceResolver

__all__ = ["SECRET_OPTIONS", "RunConfig", "connect_endpoint", "load_config", "parse_when"]

log = logging.getLogger("orderbridge.config")

UNRESOLVED_POLICIES = ("fail", "omit")

SECRET_OPTIONS: Final = frozenset({"client_secret", "api_key", "password", "token"})
"""Backend options that hold a secret: better read from the environment (``<name>_env``)."""


@frozen(kw_only=True)
class RunConfig:
    """A parsed run configuration (secrets already read from the environment)."""

    source: dict[str, Any] = field(repr=False)
    target: dict[str, Any] = field(repr=False)
    state: Path
    report: Path | None = None
    workers: int = 4
    mode: str = Mode.SKIP
    dry_run: bool = False
    max_failures: int | None = None
    selection: Selection = field(factory=Selection)
    reference_tables: dict[str, dict[str, str]] = field(factory=dict)
    identity: bool = True
    on_unresolved: str = "fail"

    def resolver(self) -> ReferenceResolver:
        """The reference resolver the target is given."""
        return ReferenceResolver(self.reference_tables, identity=self.identity)


def parse_when(value: Any, what: str) -> datetime:
    """A date or datetime from TOML or the command line, made aware (a bare date or naive time is UTC)."""
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            result = datetime.fromisoformat(value)
        except ValueError:
            raise ConfigurationError(f"{what}: not an ISO 8601 date or datetime: {value!r}") from None
    else:
        raise ConfigurationError(f"{what}: expected a date, got {type(value).__name__}")
    return result if result.tzinfo is not None else result.replace(tzinfo=UTC)


def _resolve_env(section: str, options: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in options.items():
        if key.endswith("_env"):
            name = key[: -len("_env")]
            if not isinstance(value, str) or value not in os.environ:
                raise ConfigurationError(f"[{section}] {key}: environment variable {value!r} is not set")
            result[name] = os.environ[value]
        else:
            result[key] = value
    if "backend" not in result:
        raise ConfigurationError(f"[{section}] needs a 'backend' name")
    return result


def load_config(path: str | Path, **overrides: Any) -> RunConfig:
    """Read a run configuration file; keyword ``overrides`` (from the command line) win."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: {exc}") from None
    _warn_about_literal_secrets(path, data)
    return config_from_dict(data, base_dir=path.parent, **overrides)


def _warn_about_literal_secrets(path: Path, data: Mapping[str, Any]) -> None:
    """A secret written in a file others can read is said once, naming the file (never the value)."""
    mode = path.stat().st_mode
    if not mode & 0o077:
        return
    for section in ("source", "target"):
        literal = sorted(k for k in data.get(section, {}) if k in SECRET_OPTIONS)
        if literal:
            log.warning(
                "%s holds a literal secret ([%s] %s) and is readable by other users (mode %o): "
                "use %s_env = \"VARIABLE\" instead, or chmod 600 %s",
                path, section, ", ".join(literal), mode & 0o777, literal[0], path,
            )  # fmt: skip


def config_from_dict(data: Mapping[str, Any], *, base_dir: Path = Path(), **overrides: Any) -> RunConfig:
    """Build a :class:`RunConfig` from the parsed TOML mapping."""
    unknown = set(data) - {"source", "target", "run", "references"}
    if unknown:
        raise ConfigurationError(f"unknown section(s): {', '.join(sorted(unknown))}")
    run = {**dict(data.get("run", {})), **{k: v for k, v in overrides.items() if v is not None}}
    refs = dict(data.get("references", {}))
    identity = refs.pop("identity", True)
    on_unresolved = refs.pop("on_unresolved", "fail")
    if on_unresolved not in UNRESOLVED_POLICIES:
        raise ConfigurationError(f"[references] on_unresolved must be one of {UNRESOLVED_POLICIES}")
    for kind in refs:
        if kind not in REFERENCE_KINDS:
            raise ConfigurationError(
                f"[references.{kind}]: unknown kind; known: {', '.join(REFERENCE_KINDS)}"
            )
    tables = {kind: {str(k): str(v) for k, v in table.items()} for kind, table in refs.items()}

    def path_of(value: Any) -> Path:
        p = Path(value)
        return p if p.is_absolute() else base_dir / p

    selection = Selection(
        since=parse_when(run.pop("since"), "since") if "since" in run else None,
        until=parse_when(run.pop("until"), "until") if "until" in run else None,
        min_id=str(run.pop("min_id")) if "min_id" in run else None,
        max_id=str(run.pop("max_id")) if "max_id" in run else None,
        ids=tuple(str(i) for i in run.pop("ids", ())),
        limit=int(run.pop("limit")) if "limit" in run else None,
    )
    known_run = {"state", "report", "workers", "mode", "dry_run", "max_failures"}
    extra = set(run) - known_run
    if extra:
        raise ConfigurationError(f"[run]: unknown option(s): {', '.join(sorted(extra))}")
    mode = run.get("mode", Mode.SKIP)
    if mode not in (Mode.SKIP, Mode.UPDATE):
        raise ConfigurationError(f"[run] mode must be 'skip' or 'update', not {mode!r}")

    def endpoint(section: str) -> dict[str, Any]:
        options = _resolve_env(section, data.get(section, {}))
        # File options are relative to the configuration file, like the state file.
        for key, value in options.items():
            if (key == "path" or key.endswith("_path")) and isinstance(value, str):
                options[key] = str(path_of(value))
        return options

    return RunConfig(
        source=endpoint("source"),
        target=endpoint("target"),
        state=path_of(run.get("state", "orderbridge-state.sqlite")),
        report=path_of(run["report"]) if run.get("report") else None,
        workers=int(run.get("workers", 4)),
        mode=mode,
        dry_run=bool(run.get("dry_run", False)),
        max_failures=int(run["max_failures"]) if run.get("max_failures") is not None else None,
        selection=selection,
        reference_tables=tables,
        identity=bool(identity),
        on_unresolved=on_unresolved,
    )


def connect_endpoint(options: Mapping[str, Any], *, config: RunConfig | None = None) -> Backend:
    """Connect one side of a run: ``options`` holds ``backend`` and the backend's options.

    The target side also receives the run's resolver and unresolved-reference
    policy when its backend takes them (``resolver=``, ``on_unresolved=``).
    """
    options = dict(options)
    cls = get_backend(options.pop("backend"))
    if config is not None:
        accepted = inspect.signature(cls.__init__).parameters
        if "resolver" in accepted:
            options.setdefault("resolver", config.resolver())
        if "on_unresolved" in accepted:
            options.setdefault("on_unresolved", config.on_unresolved)
    try:
        return cls(**options)
    except TypeError as exc:
        raise ConfigurationError(f"backend {cls.name!r}: {exc}") from None
