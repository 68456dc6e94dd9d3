"""Local HTTP simulators of e-commerce platforms, for the demo, end-to-end tests and benchmarks.

A plugin provides a :class:`Simulator` subclass and registers it through the
``orderbridge_register_simulators`` hook; :func:`serve` starts any of them on
loopback ports::

    with serve(["webinone"], seed_counts=100) as servers:
        url = servers["webinone"].url

For a rehearsal, :func:`serve_sites` starts named sites, several of one
simulator if need be, each its own store (``old=webinone:500``, ``new=webinone:0``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager

from orderbridge.errors import ConfigurationError, OrderbridgeError
from orderbridge.sandbox.app import (
    Handler,
    Headers,
    HttpError,
    LoggedRequest,
    Request,
    RequestLog,
    Response,
    Router,
    Simulator,
    empty,
    json_response,
    route,
    text_response,
)
from orderbridge.sandbox.server import FAULT_MIX, Faults, SimServer
from orderbridge.sandbox.sites import SiteSpec, check_sites, serve_sites

__all__ = [
    "FAULT_MIX",
    "Faults",
    "Handler",
    "Headers",
    "HttpError",
    "LoggedRequest",
    "Request",
    "RequestLog",
    "Response",
    "Router",
    "SimServer",
    "Simulator",
    "SimulatorConflict",
    "SimulatorNotFound",
    "SimulatorRegistry",
    "SiteSpec",
    "available_simulators",
    "check_sites",
    "empty",
    "json_response",
    "route",
    "serve",
    "serve_sites",
    "text_response",
]


class SimulatorNotFound(OrderbridgeError, LookupError):
    """No registered simulator has the requested name."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = sorted(known)
        super().__init__(f"no simulator named {name!r}; known simulators: {', '.join(self.known) or 'none'}")


class SimulatorConflict(OrderbridgeError):
    """Two simulator classes (from two plugins, or one plugin twice) claim the same name."""

    def __init__(self, name: str, first: str, second: str) -> None:
        self.name = name
        self.claimants = (first, second)
        super().__init__(f"simulator name {name!r} is claimed twice: by {first} and by {second}")


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class SimulatorRegistry:
    """Collects simulator classes; handed to each ``orderbridge_register_simulators`` hook.

    Iterating yields the names, sorted.
    """

    def __init__(self) -> None:
        self._classes: dict[str, type[Simulator]] = {}
        self._providers: dict[str, str] = {}
        self._current_plugin = "<unknown>"

    def add(self, simulator_cls: type[Simulator]) -> type[Simulator]:
        """Register a class under its ``name`` and return it (usable as a class decorator).

        Adding the same class again is a no-op; another class with a taken name raises
        :class:`SimulatorConflict` naming both classes and their plugins.
        """
        if not (isinstance(simulator_cls, type) and issubclass(simulator_cls, Simulator)):
            raise TypeError(f"{simulator_cls!r} is not a subclass of orderbridge.sandbox.Simulator")
        name = getattr(simulator_cls, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"{simulator_cls.__name__} has no 'name' class attribute")
        existing = self._classes.get(name)
        if existing is not None and existing is not simulator_cls:
            raise SimulatorConflict(
                name,
                f"{_qualname(existing)} (plugin {self._providers[name]!r})",
                f"{_qualname(simulator_cls)} (plugin {self._current_plugin!r})",
            )
        self._classes[name] = simulator_cls
        self._providers[name] = self._current_plugin
        return simulator_cls

    def get(self, name: str) -> type[Simulator]:
        """The class named ``name``; :class:`SimulatorNotFound` lists the known names."""
        try:
            return self._classes[name]
        except KeyError:
            raise SimulatorNotFound(name, self._classes) from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._classes)

    def provider(self, name: str) -> str:
        """The plugin that registered ``name``."""
        return self._providers[name]

    def as_dict(self) -> dict[str, type[Simulator]]:
        """A copy of the name -> class mapping, sorted by name."""
        return dict(sorted(self._classes.items()))

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._classes)

    def __contains__(self, name: object) -> bool:
        return name in self._classes


def available_simulators() -> dict[str, type[Simulator]]:
    """Every simulator installed plugins register: name -> class, sorted by name."""
    # Imported here: the sandbox must import without loading the plugin machinery.
    from orderbridge.plugins import get_plugin_manager

    registry = SimulatorRegistry()
    hook = get_plugin_manager().hook.orderbridge_register_simulators
    # One implementation at a time, so that a conflict can name both plugins.
    for impl in reversed(hook.get_hookimpls()):
        registry._current_plugin = impl.plugin_name
        impl.function(registry=registry)
    registry._current_plugin = "<unknown>"
    return registry.as_dict()


@contextmanager
def serve(
    names: Iterable[str] | None = None,
    *,
    seed_counts: int | Mapping[str, int] | None = None,
    seed: int = 0,
    faults: Faults | Mapping[str, Faults] | None = None,
    host: str = "127.0.0.1",
    ports: Mapping[str, int] | None = None,
    simulators: Mapping[str, type[Simulator]] | None = None,
) -> Iterator[dict[str, SimServer]]:
    """Start simulators on loopback and yield ``{name: SimServer}``; all stop on exit.

    ``names``: which to start (``None``: all; a name given twice is a
    :class:`~orderbridge.ConfigurationError`: see :func:`serve_sites`). ``seed_counts``: orders to seed, one
    number for all or per name (absent: not seeded), with ``seed`` as the data seed.
    ``faults``: one :class:`Faults` shared by all servers, or one per name.
    ``ports``: fixed ports per name (default: free ports). ``simulators``: the classes
    to choose from (default: :func:`available_simulators`).
    """
    known = dict(simulators) if simulators is not None else available_simulators()
    wanted = list(known) if names is None else list(names)
    for name in wanted:
        if name not in known:
            raise SimulatorNotFound(name, known)
    repeated = sorted({name for name in wanted if wanted.count(name) > 1})
    if repeated:
        raise ConfigurationError(
            f"simulator {repeated[0]!r} is named twice, and one name is one site; for two sites of one "
            f"simulator name each: --site old={repeated[0]}:500 --site new={repeated[0]}:0"
        )
    with ExitStack() as stack:
        servers: dict[str, SimServer] = {}
        for name in wanted:
            simulator = known[name]()
            count = seed_counts.get(name) if isinstance(seed_counts, Mapping) else seed_counts
            if count is not None:
                simulator.seed(count, seed=seed)
            server_faults = faults.get(name) if isinstance(faults, Mapping) else faults
            server = SimServer(simulator, host=host, port=(ports or {}).get(name, 0), faults=server_faults)
            servers[name] = stack.enter_context(server)
        yield servers
