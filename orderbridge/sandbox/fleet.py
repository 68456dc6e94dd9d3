"""A simulated fleet: N site pairs on loopback and the ``fleet.toml`` that migrates each.

For tests, the docs and the benchmark (``orderbridge sandbox fleet`` serves
one from the command line)::

    with serve_fleet(5, orders=40, latency=0.05) as fleet:
        exports = fleet.write(Path("fleet.toml"))     # secrets as *_env; export them first
        ...                                           # orderbridge fleet --config fleet.toml
        fleet.target_ids("site-01")                   # what a target holds

Site ``site-NN`` migrates ``site-NN-old`` (a v1 source seeded with ``orders``
orders) to ``site-NN-new`` (an empty v2 target with the same catalogs, as a
platform's own migration keeps them, and an order id sequence of its own),
with the target's reference tables. The ``webinone`` simulator is the one
that takes these settings. With ``shared_source`` every site reads one
source server (one API host shared by every site: what ``[hosts]`` limits are
for).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from attrs import frozen

from orderbridge.sandbox.runconfig import MARKER, render_section, write_run_config
from orderbridge.sandbox.server import Faults, SimServer
from orderbridge.tomltext import toml_key, toml_string, toml_value

__all__ = ["SimulatedFleet", "SimulatedSite", "serve_fleet"]


@frozen
class SimulatedSite:
    """One site pair of a simulated fleet."""

    name: str
    source: SimServer
    target: SimServer


class SimulatedFleet:
    """The site pairs of :func:`serve_fleet`, and the fleet file that migrates them."""

    def __init__(self, sites: dict[str, SimulatedSite], orders: int) -> None:
        self.sites = sites
        self.orders = orders
        """Orders each source holds."""

    def render(
        self,
        *,
        fleet: Mapping[str, Any] | None = None,
        hosts: Mapping[str, Mapping[str, Any]] | None = None,
        run: Mapping[str, Any] | None = None,
    ) -> tuple[str, dict[str, str]]:
        """``(text of fleet.toml, {variable: secret})``: ``fleet`` is its ``[fleet]``, ``hosts`` its
        ``[hosts]`` tables, ``run`` added to ``[defaults.run]`` (state and report per site by default)."""
        exports: dict[str, str] = {}
        lines = [f"{MARKER} sandbox fleet: {len(self.sites)} simulated site pair(s)"]
        lines += _table("fleet", fleet or {})
        for host, limits in (hosts or {}).items():
            lines += _table(f"hosts.{toml_string(host)}", limits)
        defaults = {"state": "{site}/state.sqlite", "report": "{site}/report.json", **(run or {})}
        lines += _table("defaults.run", defaults)
        for name, site in self.sites.items():
            lines += ["", *self._site_lines(name, site, exports)]
        return "\n".join(lines) + "\n", exports

    def _site_lines(self, name: str, site: SimulatedSite, exports: dict[str, str]) -> list[str]:
        source_sim: Any = site.source.simulator
        target_sim: Any = site.target.simulator
        shared = sum(1 for s in self.sites.values() if s.source is site.source) > 1
        source = source_sim.endpoint(site.source.url, "source")
        target = target_sim.endpoint(site.target.url, "target")
        lines = render_section(f"sites.{name}.source", source, "source" if shared else f"{name}-old", exports)
        lines += ["", *render_section(f"sites.{name}.target", target, f"{name}-new", exports)]
        for kind, table in target_sim.catalog_tables().items():
            lines += ["", f"[sites.{name}.references.{kind}]"]
            lines += [f"{toml_string(str(k))} = {toml_value(v)}" for k, v in table.items()]
        return lines

    def write(self, path: Path, **sections: Any) -> dict[str, str]:
        """Write the fleet file (:meth:`render`) to ``path``; returns the variables to export."""
        text, exports = self.render(**sections)
        write_run_config(path, text)
        return exports

    def target_ids(self, name: str) -> list[int]:
        """The ids of the orders site ``name``'s target holds (not deleted)."""
        simulator: Any = self.sites[name].target.simulator
        return list(simulator.live_order_ids())

    def source_ids(self, name: str) -> list[int]:
        """The ids of the orders site ``name``'s source holds."""
        simulator: Any = self.sites[name].source.simulator
        return list(simulator.live_order_ids())


def _target(cls: Any, name: str, catalog: int, index: int) -> Any:
    """A site's target: the source's catalogs (one set of member, status... ids, as a platform's
    migration keeps them) under an order id sequence of its own, so no order id is in both."""
    return cls(
        client_id=f"{name}-app",
        client_secret=secrets.token_urlsafe(18),
        catalog_seed=catalog,
        id_start=900_000_000 + index * 1_000_000,
    )


def _table(name: str, values: Mapping[str, Any]) -> list[str]:
    if not values:
        return []
    return ["", f"[{name}]", *(f"{toml_key(k)} = {toml_value(v)}" for k, v in values.items())]


@contextmanager
def serve_fleet(
    count: int,
    *,
    orders: int = 20,
    latency: float = 0.0,
    seed: int = 0,
    simulator: str = "webinone",
    shared_source: bool = False,
    source_faults: Faults | None = None,
    host: str = "127.0.0.1",
) -> Iterator[SimulatedFleet]:
    """Start ``count`` simulated site pairs on loopback; all stop on exit.

    Every answer takes ``latency`` seconds more (the token request excepted);
    ``source_faults`` replaces the sources' faults (a rate limit, say).
    """
    from orderbridge.sandbox import available_simulators

    cls: Any = available_simulators()[simulator]

    def faults() -> Faults:
        return Faults(latency=latency, exempt_paths=frozenset({"/api/v1/oauth/token"}))

    with ExitStack() as stack:

        def start(sim: Any, knobs: Faults) -> SimServer:
            return stack.enter_context(SimServer(sim, host=host, faults=knobs))

        shared = None
        if shared_source:
            source_sim = cls.for_site("source", 0)
            source_sim.seed(orders, seed=seed)
            shared = start(source_sim, source_faults or faults())
        sites: dict[str, SimulatedSite] = {}
        for index in range(count):
            name = f"site-{index + 1:02d}"
            source = shared
            catalog = 0 if shared_source else index + 1
            if source is None:
                source_sim = cls.for_site(f"{name}-old", catalog)
                source_sim.seed(orders, seed=seed + index)
                source = start(source_sim, source_faults or faults())
            target = start(_target(cls, f"{name}-new", catalog, index), faults())
            sites[name] = SimulatedSite(name, source, target)
        yield SimulatedFleet(sites, orders)
