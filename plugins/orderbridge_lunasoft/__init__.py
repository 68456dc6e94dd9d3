"""orderbridge plugin: the ``lunasoft-cart`` backend (Lunasoft shopping cart module) and its simulator.

The cart module can list and get orders and add a status to an order; it
cannot create, update or delete them. See ``docs/backends/lunasoft-cart.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orderbridge as ob
from orderbridge_lunasoft.client import API_KEY_ENV, LunasoftCartBackend, format_created_on_after
from orderbridge_lunasoft.translate import BACKEND_NAME, CartTranslator

if TYPE_CHECKING:
    from orderbridge.sandbox import SimulatorRegistry

__all__ = [
    "API_KEY_ENV",
    "BACKEND_NAME",
    "CartTranslator",
    "LunasoftCartBackend",
    "format_created_on_after",
    "orderbridge_register_backends",
    "orderbridge_register_simulators",
]


@ob.hookimpl
def orderbridge_register_backends(registry: ob.BackendRegistry) -> None:
    """Register the ``lunasoft-cart`` backend."""
    registry.add(LunasoftCartBackend)


@ob.hookimpl
def orderbridge_register_simulators(registry: SimulatorRegistry) -> None:
    """Register the ``lunasoft-cart`` simulator (imported only when simulators are asked for)."""
    from orderbridge_lunasoft.simulator import CartSimulator

    registry.add(CartSimulator)
