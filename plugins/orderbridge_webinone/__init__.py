"""orderbridge plugin: the WebinOne backends ``webinone-v2`` (admin API) and ``webinone-v1`` (legacy).

See ``docs/backends/webinone.md`` for the field mapping, the normal form of
documents, configuration and the wire assumptions. The simulator of a WebinOne
site (:mod:`orderbridge_webinone.simulator`) is registered for
``orderbridge sandbox`` and loaded only when simulators are asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orderbridge as ob

from .client import WebinOneV1, WebinOneV2

if TYPE_CHECKING:
    from orderbridge.sandbox import SimulatorRegistry

__all__ = ["WebinOneV1", "WebinOneV2"]


@ob.hookimpl
def orderbridge_register_backends(registry: ob.BackendRegistry) -> None:
    """Register ``webinone-v2`` and ``webinone-v1``."""
    registry.add(WebinOneV2)
    registry.add(WebinOneV1)


@ob.hookimpl
def orderbridge_register_simulators(registry: SimulatorRegistry) -> None:
    """Register the WebinOne site simulator (imported only now: the sandbox is optional)."""
    from .simulator import WebinOneSimulator

    registry.add(WebinOneSimulator)
