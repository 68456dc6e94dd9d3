"""The fleet configuration: a TOML file naming many site migrations, shared defaults and host limits.

::

    [fleet]
    workers = 2                          # a LocalCluster of 2 worker processes (no scheduler given)
    threads_per_worker = 2               # sites at once in each
    report = "fleet-report.json"

    [hosts."api.webinone.example"]       # every site whose API is on this host, together
    rate = 10                            # requests per second, across the whole cluster
    concurrency = 8                      # requests in flight at once, across the whole cluster

    [defaults.run]                       # each site's [run] starts from these ([defaults.source] ...)
    state = "state/{site}.sqlite"        # {site}: the site's name, its migration id
    report = "reports/{site}/report.json"

    [sites.shop-a.source]                # a site: the sections of a run.toml, under [sites.NAME]
    backend = "webinone-v1"
    ...

Each site is read as a run configuration (:func:`orderbridge.migration.config.config_from_dict`:
the same strict readers, the same keys), its sections the defaults' sections
updated key by key with its own (a ``[references.<kind>]`` table too). An
error names the site and the key. The state is passed on as written (a path,
relative to this file, or a URL such as ``postgresql://...``): the fleet never
opens it itself except for ``fleet status``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import attrs
from attrs import frozen

from orderbridge.errors import ConfigurationError
from orderbridge.migration.config import SECTIONS, RunConfig, config_from_dict, connect_endpoint
from orderbridge.options import OptionError, nearest_name, option, structure_options
from orderbridge.tomltext import read_toml

__all__ = [
    "FLEET_SECTIONS",
    "FleetConfig",
    "FleetOptions",
    "HostLimit",
    "HostLimitOptions",
    "Site",
    "check_endpoints",
    "fleet_from_dict",
    "load_fleet",
]

FLEET_SECTIONS: Final = ("fleet", "hosts", "defaults", "sites")
"""The top-level tables of a fleet file."""

SITE_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")
"""A site's name (its migration id): a letter, then letters, digits, ``-`` or ``_``."""

DEFAULT_STATE: Final = "{site}/state.sqlite"
"""A site's state when neither it nor ``[defaults.run]`` names one: a file of its own."""
DEFAULT_REPORT: Final = "{site}/report.json"
"""A site's report when neither it nor ``[defaults.run]`` names one."""
_PLACEHOLDER_KEYS: Final = ("state", "report", "references_file")


@attrs.frozen(kw_only=True)
class FleetOptions:
    """The ``[fleet]`` section (command-line flags override it)."""

    scheduler: str | None = option(
        None, doc="the address of a running Dask scheduler (tcp://HOST:8786); none: a LocalCluster here"
    )
    workers: int = option(2, doc="worker processes of the LocalCluster (ignored with a scheduler)")
    threads_per_worker: int = option(
        1, doc="sites at once in each LocalCluster worker (ignored with a scheduler)"
    )
    report: Path = option(
        Path("fleet-report.json"),
        doc="the fleet report (JSON; an HTML page beside it, same name .html), relative to this file",
    )
    lock_wait: float = option(
        120.0,
        doc="seconds a site waits for its state's run lock (held by a worker that is dying) before failing",
    )
    progress_interval: float = option(2.0, doc="at most one progress line per site this often (seconds)")
    attempts: int = option(
        3, doc="times a site is started on a worker before the fleet gives it up (a worker died each time)"
    )


@attrs.frozen(kw_only=True)
class HostLimitOptions:
    """One ``[hosts."HOST"]`` table: limits every site's requests to that host share."""

    rate: float | None = option(
        None, doc="requests per second to this host, all sites of the cluster together"
    )
    concurrency: int | None = option(
        None, doc="requests in flight to this host at once, all sites of the cluster together"
    )


@frozen
class HostLimit:
    """A host's cluster-wide limits; ``key`` is ``host`` (any port) or ``host:port``."""

    key: str
    rate: float | None = None
    concurrency: int | None = None

    def matches(self, netloc: str) -> bool:
        """Whether a request to ``netloc`` (``host[:port]``, lower case) falls under this limit."""
        if netloc == self.key:
            return True
        return _host_of(self.key) == self.key and _host_of(netloc) == self.key


def _host_of(netloc: str) -> str:
    """``host`` of ``host[:port]`` (``[::1]`` of ``[::1]:8080``)."""
    if netloc.startswith("["):
        return netloc[: netloc.find("]") + 1]
    return netloc.split(":", 1)[0]


@frozen
class Site:
    """One site of the fleet: its ``name`` (the migration id) and its run configuration."""

    name: str
    config: RunConfig
    state: str
    """The state as the run receives it (a path made absolute, or a URL), for messages and status."""


@frozen
class FleetConfig:
    """A parsed fleet file: options, host limits and sites in the file's order."""

    path: Path
    options: FleetOptions
    hosts: tuple[HostLimit, ...]
    sites: dict[str, Site]

    @property
    def report(self) -> Path:
        """The fleet report's JSON path."""
        report = self.options.report
        return report if report.is_absolute() else self.path.parent / report

    def only(self, names: list[str]) -> FleetConfig:
        """The same fleet with only the sites ``names``; an unknown name is an error naming the known ones."""
        for name in names:
            if name not in self.sites:
                near = nearest_name(name, list(self.sites))
                hint = f"did you mean {near!r}?" if near else f"known: {', '.join(self.sites)}"
                raise ConfigurationError(f"{self.path}: no site named {name!r}; {hint}")
        return attrs.evolve(self, sites={n: s for n, s in self.sites.items() if n in names})


def load_fleet(path: str | Path, **overrides: Any) -> FleetConfig:
    """Read a fleet file; keyword ``overrides`` (``[fleet]`` keys from the command line) win."""
    path = Path(path).resolve()
    data = read_toml(path, "fleet configuration")
    return fleet_from_dict(data, path=path, **overrides)


def fleet_from_dict(data: Mapping[str, Any], *, path: Path, **overrides: Any) -> FleetConfig:
    """Build a :class:`FleetConfig` from the parsed TOML mapping of the file at ``path``."""
    for name in data:
        if name not in FLEET_SECTIONS:
            raise OptionError(f"[{name}]", "", _unknown_section(name, FLEET_SECTIONS))
    given = {**_table(data, "fleet", "[fleet]"), **{k: v for k, v in overrides.items() if v is not None}}
    options = structure_options(FleetOptions, given, where="[fleet]", from_python=False, environ={})
    for key in ("workers", "threads_per_worker", "attempts"):
        if getattr(options, key) < 1:
            raise OptionError("[fleet]", key, f"{getattr(options, key)} is below 1")
    for key in ("lock_wait", "progress_interval"):
        if getattr(options, key) < 0:
            raise OptionError("[fleet]", key, f"{getattr(options, key)} is below 0")
    hosts = _hosts(_table(data, "hosts", "[hosts]"))
    defaults = _site_sections(_table(data, "defaults", "[defaults]"), "[defaults]")
    sites_table = _table(data, "sites", "[sites]")
    if not sites_table:
        raise OptionError("[sites]", "", "no site: add one, [sites.NAME.source], [sites.NAME.target]")
    sites = {name: _site(name, raw, defaults, path.parent) for name, raw in sites_table.items()}
    return FleetConfig(path=path, options=options, hosts=hosts, sites=sites)


def _unknown_section(name: str, known: tuple[str, ...]) -> str:
    near = nearest_name(name, known)
    return (
        f"unknown section; did you mean [{near}]?" if near else f"unknown section; known: {', '.join(known)}"
    )


def _table(data: Mapping[str, Any], name: str, where: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        raise OptionError(where, "", f"must be a table, not {type(value).__name__}")
    return dict(value)


def _hosts(table: Mapping[str, Any]) -> tuple[HostLimit, ...]:
    limits = []
    for key, raw in table.items():
        where = f'[hosts."{key}"]'
        if not isinstance(raw, Mapping):
            raise OptionError(where, "", f"must be a table (rate, concurrency), not {type(raw).__name__}")
        values = structure_options(HostLimitOptions, raw, where=where, from_python=False, environ={})
        if values.rate is not None and values.rate <= 0:
            raise OptionError(where, "rate", f"{values.rate} is not above 0")
        if values.concurrency is not None and values.concurrency < 1:
            raise OptionError(where, "concurrency", f"{values.concurrency} is below 1")
        if values.rate is None and values.concurrency is None:
            raise OptionError(where, "", "names no limit: give rate, concurrency or both")
        limits.append(HostLimit(key.lower(), values.rate, values.concurrency))
    return tuple(limits)


def _site_sections(raw: Mapping[str, Any], where: str) -> dict[str, dict[str, Any]]:
    """A site's (or the defaults') sections, each a table; an unknown one is an error naming it."""
    sections: dict[str, dict[str, Any]] = {}
    for name, value in raw.items():
        if name not in SECTIONS:
            raise OptionError(where, name, _unknown_section(name, SECTIONS))
        if not isinstance(value, Mapping):
            raise OptionError(f"{where[:-1]}.{name}]", "", f"must be a table, not {type(value).__name__}")
        sections[name] = dict(value)
    return sections


def _merged(defaults: Mapping[str, dict[str, Any]], own: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """The defaults' sections updated key by key with the site's (mapping tables kind by kind)."""
    merged: dict[str, Any] = {}
    for section in SECTIONS:
        base, mine = defaults.get(section, {}), own.get(section, {})
        if not (base or mine):
            continue
        table = {**base, **mine}
        for key, value in mine.items():
            if isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
                table[key] = {**base[key], **value}
        merged[section] = table
    return merged


def _site(name: str, raw: Any, defaults: Mapping[str, dict[str, Any]], base_dir: Path) -> Site:
    where = f"[sites.{name}]"
    if not SITE_NAME.match(name):
        raise OptionError(where, "", "a site name is a letter, then letters, digits, '-' or '_'")
    if not isinstance(raw, Mapping):
        raise OptionError(where, "", f"must be a table (source, target, run, references), not {raw!r}")
    data = _merged(defaults, _site_sections(raw, where))
    run = data.setdefault("run", {})
    run.setdefault("state", DEFAULT_STATE)
    run.setdefault("report", DEFAULT_REPORT)
    for key in _PLACEHOLDER_KEYS:
        if isinstance(run.get(key), str):
            run[key] = run[key].replace("{site}", name)
    try:
        config = config_from_dict(data, base_dir=base_dir)
    except OptionError as exc:
        section = exc.where.strip("[]")
        raise OptionError(f"[sites.{name}.{section}]", exc.key, exc.problem) from None
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None
    return Site(name=name, config=config, state=str(config.state))


def check_endpoints(fleet: FleetConfig) -> None:
    """Connect each site's endpoints and close them (no request is sent): unknown options, unset
    ``*_env`` variables and the like are configuration errors naming the site, before any site runs."""
    for name, site in fleet.sites.items():
        for section in ("source", "target"):
            options = getattr(site.config, section)
            try:
                connect_endpoint(options, config=site.config, section=section).close()
            except OptionError as exc:
                raise OptionError(f"[sites.{name}.{section}]", exc.key, exc.problem) from None
            except ConfigurationError as exc:
                raise ConfigurationError(f"[sites.{name}]: {exc}") from None
