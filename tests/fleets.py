"""Helpers of the fleet tests: a simulated fleet with its fleet.toml, and the exactness check of a site."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orderbridge.fleet.config import FleetConfig, load_fleet
from orderbridge.migration.config import connect_endpoint
from orderbridge.migration.verify import verify
from orderbridge.sandbox.fleet import SimulatedFleet, serve_fleet


@contextmanager
def simulated(
    directory: Path, count: int, *, orders: int = 20, latency: float = 0.0, sections: Any = None, **serve: Any
) -> Iterator[tuple[SimulatedFleet, Path, dict[str, str]]]:
    """``count`` simulated site pairs, their fleet.toml in ``directory`` and its secrets in
    ``os.environ`` (restored after), so that the Dask workers started later inherit them."""
    with serve_fleet(count, orders=orders, latency=latency, **serve) as fleet:
        path = directory / "fleet.toml"
        exports = fleet.write(path, **(sections or {}))
        saved = {k: os.environ.get(k) for k in exports}
        os.environ.update(exports)
        try:
            yield fleet, path, exports
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def assert_exact(config: FleetConfig, fleet: SimulatedFleet, name: str) -> None:
    """Every source order of site ``name`` is in its target once, and verify finds nothing."""
    site = config.sites[name]
    source = connect_endpoint(site.config.source, section="source")
    target = connect_endpoint(site.config.target, config=site.config, section="target")
    try:
        result = verify(source, target, site.config.state, resolver=site.config.resolver())
    finally:
        source.close()
        target.close()
    assert result.ok, (name, result.summary())
    assert not result.missing and not result.duplicated, (name, result.summary())
    assert len(fleet.target_ids(name)) == len(fleet.source_ids(name)) == fleet.orders, name


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def load(path: Path) -> FleetConfig:
    """The fleet configuration at ``path``."""
    return load_fleet(path)
