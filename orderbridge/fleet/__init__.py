"""Fleets: many site migrations at once, each a task on Dask distributed (``orderbridge fleet``).

The configuration (:mod:`orderbridge.fleet.config`) is read without Dask;
running a fleet (:func:`orderbridge.fleet.runner.run_fleet`) needs the
``fleet`` extra (``pip install "orderbridge[fleet]"``). ``import orderbridge``
never imports Dask, nor does this package: its submodules that need it import
it themselves.
"""

from __future__ import annotations

from orderbridge.fleet.config import FleetConfig, HostLimit, Site, check_endpoints, load_fleet

__all__ = ["FleetConfig", "HostLimit", "Site", "check_endpoints", "load_fleet"]
