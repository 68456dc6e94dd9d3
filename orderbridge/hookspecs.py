"""Hook specifications: the points where a plugin plugs into orderbridge.

A plugin is a module (or object) with functions marked ``@hookimpl``, made
known through the ``orderbridge`` entry-point group::

    # pyproject.toml of a plugin
    [project.entry-points.orderbridge]
    acme = "orderbridge_acme"

    # orderbridge_acme/__init__.py
    import orderbridge

    @orderbridge.hookimpl
    def orderbridge_register_backends(registry):
        registry.add(AcmeBackend)

Every hook is documented in ``docs/hooks.md``; a test fails when one is not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from orderbridge.backend import Backend
    from orderbridge.model import Order
    from orderbridge.plugins import BackendRegistry
    from orderbridge.sandbox import SimulatorRegistry

PROJECT = "orderbridge"

hookspec = pluggy.HookspecMarker(PROJECT)
"""Marker for hook specifications (used by orderbridge itself)."""

hookimpl = pluggy.HookimplMarker(PROJECT)
"""Marker for hook implementations: decorate a plugin's hook functions with it."""


@hookspec
def orderbridge_register_backends(registry: BackendRegistry) -> None:
    """Register the backends this plugin provides.

    Call ``registry.add(BackendClass)`` once per backend. The class's ``name``
    attribute is the name users pass to :func:`orderbridge.get_backend`; two
    plugins claiming one name is an error naming both.
    """


@hookspec
def orderbridge_register_simulators(registry: SimulatorRegistry) -> None:
    """Register local HTTP simulators of the platforms this plugin speaks to.

    Call ``registry.add(SimulatorClass)`` once per simulator. Simulators back
    ``orderbridge sandbox serve``, ``orderbridge demo``, the end-to-end tests and
    the benchmarks; a backend without one simply does not appear there.
    """


@hookspec(firstresult=True)
def orderbridge_resolve_reference(kind: str, value: str, order: Order, target: Backend) -> str | None:
    """Resolve a reference the target must already hold, or return ``None``.

    ``kind`` is one of ``"status"``, ``"member"``, ``"discount"``,
    ``"gift_voucher"``, ``"shipping_option"`` or ``"tax"``; ``value`` is the
    source's name or code for it (a status name, a discount code...). Return the
    target's id as a string to settle it; the first non-``None`` answer wins.
    The caller's mapping tables are consulted first, this hook next, and the
    identity default (between two sites of one platform) last.
    """
