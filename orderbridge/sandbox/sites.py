"""Named sandbox sites for rehearsals: ``old=webinone:500 new=webinone:0``, each its own store.

A :class:`SiteSpec` names a site, the simulator it runs and how many orders it
is seeded with. :func:`serve_sites` starts each on loopback with its own
credentials, catalogs and id sequence (:meth:`Simulator.for_site`), so that a
rehearsal migrates between two sites as different as two real ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Final

from attrs import frozen

from orderbridge.errors import ConfigurationError
from orderbridge.sandbox.app import Simulator
from orderbridge.sandbox.server import Faults, SimServer

__all__ = ["SiteSpec", "check_sites", "serve_sites"]

_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")


@frozen
class SiteSpec:
    """One named site of a sandbox: ``name``, the ``simulator`` it runs, ``seed_orders`` orders.

    ``seed_orders`` ``None`` takes the command's default (``--seed-orders``).
    """

    name: str
    simulator: str
    seed_orders: int | None = None

    @classmethod
    def parse(cls, text: str) -> SiteSpec:
        """``NAME=SIMULATOR[:SEED_ORDERS]`` (``old=webinone:500``); :class:`ValueError` says what is wrong."""
        name, sep, rest = text.partition("=")
        simulator, colon, count = rest.partition(":")
        if not sep or not name or not simulator:
            raise ValueError(f"expected NAME=SIMULATOR:SEED_ORDERS (old=webinone:500), got {text!r}")
        if not _NAME.match(name):
            raise ValueError(f"a site name is a letter then letters, digits, '-' or '_', not {name!r}")
        if colon and not count.isdigit():
            raise ValueError(f"SEED_ORDERS must be a whole number of at least 0, got {count!r} in {text!r}")
        return cls(name, simulator, int(count) if colon else None)


def check_sites(sites: Sequence[SiteSpec]) -> None:
    """A :class:`~orderbridge.ConfigurationError` when no site is given or a name is used twice."""
    if not sites:
        raise ConfigurationError("name at least one site: --site NAME=SIMULATOR:SEED_ORDERS")
    seen: set[str] = set()
    for site in sites:
        if site.name in seen:
            raise ConfigurationError(f"site name {site.name!r} is given twice: each site needs its own name")
        seen.add(site.name)


@contextmanager
def serve_sites(
    sites: Sequence[SiteSpec],
    *,
    simulators: Mapping[str, type[Simulator]],
    default_orders: int = 0,
    seed: int = 0,
    faults: Faults | None = None,
    host: str = "127.0.0.1",
    ports: Mapping[str, int] | None = None,
) -> Iterator[dict[str, SimServer]]:
    """Start each site on loopback and yield ``{site name: SimServer}`` in the given order; all stop on exit.

    Site ``i`` is ``simulators[site.simulator].for_site(site.name, i)``, seeded
    with ``site.seed_orders`` (``default_orders`` when ``None``) orders from
    data seed ``seed``; ``ports`` fixes a site's port by its name.
    """
    from orderbridge.sandbox import SimulatorNotFound

    check_sites(sites)
    for site in sites:
        if site.simulator not in simulators:
            raise SimulatorNotFound(site.simulator, simulators)
    unknown = sorted(set(ports or {}) - {site.name for site in sites})
    if unknown:
        raise ConfigurationError(f"--port names no site: {', '.join(unknown)}")
    with ExitStack() as stack:
        servers: dict[str, SimServer] = {}
        for index, site in enumerate(sites):
            simulator = simulators[site.simulator].for_site(site.name, index)
            count = site.seed_orders if site.seed_orders is not None else default_orders
            if count:
                simulator.seed(count, seed=seed)
            server = SimServer(simulator, host=host, port=(ports or {}).get(site.name, 0), faults=faults)
            servers[site.name] = stack.enter_context(server)
        yield servers
