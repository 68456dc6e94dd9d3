"""The plugin manager: lazy, idempotent loading of the ``orderbridge`` entry points.

Nothing is imported until a backend is first asked for. Loading happens once
per process (under a lock, so worker threads may race for it). Set
``ORDERBRIDGE_BLOCK_PLUGINS`` to a comma-separated list of plugin (entry-point)
names to keep them from loading, e.g. ``ORDERBRIDGE_BLOCK_PLUGINS=lunasoft``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import pluggy

from orderbridge import hookspecs
from orderbridge.backend import Backend
from orderbridge.errors import BackendConflict, BackendNotFound, ConfigurationError
from orderbridge.options import nearest_name

__all__ = [
    "BLOCK_ENV",
    "ENTRY_POINT_GROUP",
    "BackendRegistry",
    "available_backends",
    "backend_providers",
    "get_backend",
    "get_plugin_manager",
    "id_space_named",
    "register",
    "reset",
    "unregister",
]

ENTRY_POINT_GROUP = "orderbridge"
"""The entry-point group plugins (the built-in ones included) are registered under."""

BLOCK_ENV = "ORDERBRIDGE_BLOCK_PLUGINS"
"""Environment variable: comma-separated plugin names not to load."""

_lock = threading.RLock()
_manager: pluggy.PluginManager | None = None
_registry: BackendRegistry | None = None


class BackendRegistry:
    """Collects backend classes from the ``orderbridge_register_backends`` hook.

    Handed to each plugin's hook implementation; the plugin calls :meth:`add`.
    """

    def __init__(self) -> None:
        self._backends: dict[str, type[Backend]] = {}
        self._providers: dict[str, str] = {}
        self._current_plugin = "<unknown>"
        # Asked for each order written (shares_ids): a name that is no backend would
        # otherwise build a BackendNotFound every time. A new registry starts empty.
        self._id_spaces: dict[str, str] = {}

    def add(self, backend: type[Backend]) -> None:
        """Register ``backend`` under its ``name``; a name taken by another plugin is an error."""
        if not (isinstance(backend, type) and issubclass(backend, Backend)):
            raise TypeError(f"{backend!r} is not a subclass of orderbridge.Backend")
        name = getattr(backend, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"{backend.__name__} has no 'name' class attribute")
        if name in self._backends and self._backends[name] is not backend:
            raise BackendConflict(name, self._providers[name], self._current_plugin)
        self._backends[name] = backend
        self._providers[name] = self._current_plugin

    def get(self, name: str) -> type[Backend]:
        """The backend class named ``name``; :class:`BackendNotFound` lists the known ones."""
        try:
            return self._backends[name]
        except KeyError:
            raise BackendNotFound(name, self._backends) from None

    def id_space(self, name: str) -> str:
        """The id space of the backend ``name`` (its ``id_space``, else its name); a name that
        is no backend here is taken as an id space itself."""
        space = self._id_spaces.get(name)
        if space is None:
            backend = self._backends.get(name)
            declared = backend.id_space if backend is not None else None
            space = self._id_spaces.setdefault(name, name if declared is None else declared)
        return space

    def provider(self, name: str) -> str:
        """The name of the plugin that registered backend ``name``."""
        return self._providers[name]

    def as_dict(self) -> dict[str, type[Backend]]:
        """A copy of the name -> class mapping, sorted by name."""
        return dict(sorted(self._backends.items()))

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._backends))

    def __len__(self) -> int:
        return len(self._backends)


def _blocked_names() -> list[str]:
    raw = os.environ.get(BLOCK_ENV, "")
    return [n.strip() for n in raw.split(",") if n.strip()]


def get_plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager, created and loaded on first call."""
    global _manager
    with _lock:
        if _manager is None:
            pm = pluggy.PluginManager(hookspecs.PROJECT)
            pm.add_hookspecs(hookspecs)
            for name in _blocked_names():
                pm.set_blocked(name)
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
            _check_hook_names(pm)
            _manager = pm
        return _manager


def _check_hook_names(pm: pluggy.PluginManager) -> None:
    """A hook implementation with no hook of that name (a typo) is an error naming it, never ignored."""
    known = [name for name in vars(hookspecs) if name.startswith(f"{hookspecs.PROJECT}_")]
    for name, caller in vars(pm.hook).items():
        if not isinstance(caller, pluggy.HookCaller) or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if not impl.opts.get("optionalhook"):
                near = nearest_name(name, known)
                raise ConfigurationError(
                    f"plugin {impl.plugin_name!r} implements {name!r}, which is not an orderbridge hook"
                    + (f" (did you mean {near}?)" if near else f" (hooks: {', '.join(known)})")
                )


def register(plugin: Any, name: str | None = None) -> str:
    """Register a plugin object or module by hand (tests, scripts); returns its name."""
    with _lock:
        pm = get_plugin_manager()
        registered = pm.register(plugin, name=name)
        _invalidate()
        if registered is None:
            raise ValueError(f"plugin {name or plugin!r} is blocked and was not registered")
        try:
            _check_hook_names(pm)
        except ConfigurationError:
            pm.unregister(plugin)
            raise
        return registered


def unregister(plugin: Any = None, name: str | None = None) -> None:
    """Remove a plugin registered with :func:`register`."""
    with _lock:
        get_plugin_manager().unregister(plugin, name=name)
        _invalidate()


def reset() -> None:
    """Forget everything loaded; the next call reloads the entry points (tests use this)."""
    global _manager
    with _lock:
        _manager = None
        _invalidate()


def _invalidate() -> None:
    global _registry
    _registry = None


def _load_registry() -> BackendRegistry:
    global _registry
    loaded = _registry
    if loaded is not None:
        return loaded  # asked per order: no lock once loaded (a reference is read atomically)
    with _lock:
        if _registry is None:
            pm = get_plugin_manager()
            registry = BackendRegistry()
            # Call each implementation separately so that a name conflict can
            # say which two plugins claim it.
            for impl in reversed(pm.hook.orderbridge_register_backends.get_hookimpls()):
                registry._current_plugin = impl.plugin_name
                impl.function(registry=registry)
            registry._current_plugin = "<unknown>"
            _registry = registry
        return _registry


def available_backends() -> dict[str, type[Backend]]:
    """Every installed backend: name -> class (plugins loaded on first call)."""
    return _load_registry().as_dict()


def get_backend(name: str) -> type[Backend]:
    """The backend class called ``name``; :class:`BackendNotFound` lists the installed ones."""
    return _load_registry().get(name)


def id_space_named(name: str) -> str:
    """The id space of the installed backend ``name``, or ``name`` itself when none is called so."""
    return _load_registry().id_space(name)


def backend_providers() -> dict[str, str]:
    """Backend name -> name of the plugin that provides it."""
    registry = _load_registry()
    return {name: registry.provider(name) for name in registry}


def plugin_distributions() -> dict[str, str]:
    """Plugin name -> "distribution version" for plugins loaded from entry points."""
    pm = get_plugin_manager()
    result: dict[str, str] = {}
    for plugin, dist in pm.list_plugin_distinfo():
        name = pm.get_name(plugin)
        if name is not None:
            result[name] = f"{dist.project_name} {dist.version}"
    return result
