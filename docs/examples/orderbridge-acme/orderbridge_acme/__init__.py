"""orderbridge plugin: the ``acme`` backend (Acme Shop) and its simulator.

Found through the ``orderbridge`` entry-point group (see ``pyproject.toml``);
orderbridge calls the two hooks below the first time it needs a backend or a
simulator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orderbridge as ob
from orderbridge_acme.backend import API_KEY_ENV, BACKEND_NAME, DEFAULT_BASE_URL, AcmeBackend

if TYPE_CHECKING:
    from orderbridge.sandbox import SimulatorRegistry

__all__ = [
    "API_KEY_ENV",
    "BACKEND_NAME",
    "DEFAULT_BASE_URL",
    "AcmeBackend",
    "orderbridge_register_backends",
    "orderbridge_register_simulators",
]


@ob.hookimpl
def orderbridge_register_backends(registry: ob.BackendRegistry) -> None:
    """Register the ``acme`` backend."""
    registry.add(AcmeBackend)


@ob.hookimpl
def orderbridge_register_simulators(registry: SimulatorRegistry) -> None:
    """Register the ``acme`` simulator (imported only when simulators are asked for)."""
    from orderbridge_acme.simulator import AcmeSimulator

    registry.add(AcmeSimulator)
