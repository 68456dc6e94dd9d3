"""A ready ``run.toml`` for sandbox sites (and the demo): secrets moved to environment variables.

:func:`render_run_config` turns two endpoint sections (as
:meth:`Simulator.endpoint` gives them, secrets as values) into the text of a
run configuration in which every secret option of the backend is written
``<option>_env = "<SITE>_<OPTION>"`` instead, and returns the variables to
export beside it. The file never holds a secret; the sandbox prints the
``export`` lines for the operator's shell.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from orderbridge.errors import ConfigurationError
from orderbridge.tomltext import toml_key, toml_string, toml_value

__all__ = ["MARKER", "env_name", "export_lines", "render_run_config", "render_section", "write_run_config"]

MARKER: Final = "# written by orderbridge"
"""How a generated ``run.toml`` begins; a file that does not is never overwritten."""


def env_name(site: str, option: str) -> str:
    """The environment variable of ``option`` of site ``site``: ``OLD_CLIENT_SECRET``."""
    return re.sub(r"[^A-Z0-9_]", "_", f"{site}_{option}".upper())


def render_section(name: str, options: Mapping[str, Any], site: str, exports: dict[str, str]) -> list[str]:
    """The lines of table ``[name]`` holding an endpoint's ``options``: each secret option written
    ``<option>_env = "<SITE>_<OPTION>"``, its value added to ``exports`` under that variable."""
    from orderbridge.plugins import get_backend  # the sandbox imports without the plugin machinery

    secrets = get_backend(str(options["backend"])).secret_options()
    lines = [f"[{name}]"]
    for key, value in options.items():
        if value is None:
            continue
        if key in secrets:
            variable = env_name(site, key)
            exports[variable] = str(value)
            lines.append(f"{toml_key(key + '_env')} = {toml_string(variable)}  # export {variable}=...")
            continue
        lines.append(f"{toml_key(key)} = {toml_value(value)}")
    return lines


def render_run_config(
    source: Mapping[str, Any],
    target: Mapping[str, Any],
    *,
    sites: tuple[str, str],
    run: Mapping[str, str | int | bool] | None = None,
    references: Mapping[str, Any] | None = None,
    header: str = "",
) -> tuple[str, dict[str, str]]:
    """``(text of run.toml, {variable: secret})`` for a migration from ``source`` to ``target``.

    ``sites`` names the two sites (the variables' prefixes); ``run`` and
    ``references`` are the ``[run]`` and ``[references]`` sections (a value
    that is a mapping becomes a ``[references.<kind>]`` table); ``header``
    lines follow :data:`MARKER` as comments.
    """
    exports: dict[str, str] = {}
    lines = [f"{MARKER} {header}".rstrip()] if header else [MARKER]
    lines += render_section("source", source, sites[0], exports)
    lines += ["", *render_section("target", target, sites[1], exports)]
    if run:
        lines += ["", "[run]", *(f"{toml_key(k)} = {toml_value(v)}" for k, v in run.items())]
    tables = {k: v for k, v in (references or {}).items() if isinstance(v, Mapping)}
    scalars = {k: v for k, v in (references or {}).items() if not isinstance(v, Mapping)}
    if scalars:
        lines += ["", "[references]", *(f"{toml_key(k)} = {toml_value(v)}" for k, v in scalars.items())]
    for kind, table in tables.items():
        lines += ["", f"[references.{kind}]"]
        lines += [f"{toml_string(str(k))} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n", exports


def export_lines(exports: Mapping[str, str]) -> list[str]:
    """``export NAME=value`` lines for a POSIX shell, values quoted."""
    return [f"export {name}={shlex.quote(value)}" for name, value in exports.items()]


def write_run_config(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` unless ``path`` holds a file orderbridge did not write.

    A configuration a person wrote is never replaced: that is a
    :class:`~orderbridge.ConfigurationError` naming it. The text holds no
    secret (see :func:`render_run_config`).
    """
    if path.exists():
        with path.open(encoding="utf-8") as existing:
            first = existing.readline()
        if not first.startswith(MARKER):
            raise ConfigurationError(
                f"{path} exists and was not written by orderbridge: not replaced "
                "(move it, or name another file with --write-config)"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
