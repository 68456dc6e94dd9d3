"""The ``orderbridge`` command.

Each sub-command lives in a small function below; :func:`main` parses the
arguments and turns any orderbridge error into one clear line on stderr and a
non-zero exit status (no traceback; ``--debug`` shows it).
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import orderbridge as ob
from orderbridge import jsonutil

__all__ = ["main"]

log = logging.getLogger("orderbridge.cli")

CANONICAL = "canonical"
"""Pseudo backend name for the canonical JSON form in ``convert``."""

Handler = Callable[[argparse.Namespace], int]

EXIT_OK = 0
"""Everything asked for was done."""
EXIT_FAILURES = 1
"""Failures found (failed orders, verify findings), or the run could not go ahead (a site failed its
check, the state file is held by another run or damaged)."""
EXIT_USAGE = 2
"""A usage or configuration error: a bad flag, a bad configuration file or mapping table, an unknown
backend; nothing was read or written."""
EXIT_INTERRUPTED = 130
"""Interrupted (Ctrl-C); the orders in flight were finished first."""


EXIT_BROKEN_PIPE = 141
"""stdout's reader closed the pipe (``orderbridge backends | head -1``): 128 + SIGPIPE, as a shell shows."""


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush cannot fail on the closed pipe again."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def exit_status_of(exc: BaseException) -> int:
    """The exit status for an error that ended a command (:data:`EXIT_USAGE` or :data:`EXIT_FAILURES`)."""
    from orderbridge.migration.state import StateDamaged, StateLocked, StateUnavailable
    from orderbridge.sandbox import SimulatorConflict, SimulatorNotFound

    if isinstance(exc, (StateLocked, StateDamaged, StateUnavailable)):
        return EXIT_FAILURES  # a condition of the state file, not of the configuration
    usage = (
        ob.ConfigurationError,
        ob.BackendNotFound,
        ob.UnsupportedOperation,
        SimulatorNotFound,
        SimulatorConflict,
    )
    return EXIT_USAGE if isinstance(exc, usage) else EXIT_FAILURES


# ---------------------------------------------------------------- backends


def options_rows(cls: type[ob.Backend]) -> list[tuple[str, str, str, str]]:
    """``(name, type, default, meaning)`` of each option of backend ``cls``, from its declaration.

    A backend that declares no ``Options`` shows its constructor's keywords, untyped.
    """
    if cls.Options is None:
        return [(name, "as given", "", "(not declared)") for name in cls.option_names()]
    rows = []
    for info in ob.declared_options(cls.Options):
        doc = info.doc + (f" (a secret: give {info.name}_env)" if info.secret else "")
        rows.append((info.name, info.type_text(), info.default_text(), doc))
    return rows


def _print_options(name: str, as_json: bool) -> int:
    cls = ob.get_backend(name)
    rows = options_rows(cls)
    if as_json:
        keys = ("name", "type", "default", "doc")
        print(jsonutil.dumps([dict(zip(keys, row, strict=True)) for row in rows]))
        return 0
    widths = [max(len(r[i]) for r in [("OPTION", "TYPE", "DEFAULT", ""), *rows]) for i in range(3)]
    print(
        "  ".join(h.ljust(w) for h, w in zip(("OPTION", "TYPE", "DEFAULT"), widths, strict=True))
        + "  MEANING"
    )
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row[:3], widths, strict=True)) + "  " + row[3])
    return 0


def cmd_backends(args: argparse.Namespace) -> int:
    """List installed backends with their capabilities and providing plugin (or one backend's options)."""
    from orderbridge.plugins import backend_providers, plugin_distributions

    if args.options:
        return _print_options(args.options, args.json)
    backends = ob.available_backends()
    providers = backend_providers()
    dists = plugin_distributions()
    if args.json:
        rows = [
            {
                "name": name,
                "capabilities": sorted(cls.capabilities),
                "plugin": providers[name],
                "distribution": dists.get(providers[name]),
                "description": cls.description,
            }
            for name, cls in backends.items()
        ]
        print(jsonutil.dumps(rows))
        return 0
    width = max([len(n) for n in backends] + [4])
    print(f"{'NAME':<{width}}  {'CAPABILITIES':<38}  PLUGIN")
    for name, cls in backends.items():
        caps = ",".join(sorted(cls.capabilities)) or "-"
        plugin = providers[name]
        dist = dists.get(plugin)
        print(f"{name:<{width}}  {caps:<38}  {plugin}" + (f" ({dist})" if dist else ""))
    return 0


# ---------------------------------------------------------------- convert


def _read_documents(stream: IO[str], name: str) -> Iterator[Any]:
    """Documents from a JSON object, a JSON array of objects, or JSON Lines."""
    head = stream.read(1)
    while head and head.isspace():
        head = stream.read(1)
    if not head:
        return
    if head == "[":
        try:
            docs = jsonutil.loads(head + stream.read())
        except ValueError as exc:
            raise ob.InvalidOrder(f"{name}: not valid JSON: {exc}") from None
        yield from docs
        return
    rest = stream.readline()
    first = head + rest
    try:
        yield jsonutil.loads(first)
    except ValueError:
        # Not a single line of JSON: a pretty-printed object spread over lines.
        try:
            yield jsonutil.loads(first + stream.read())
        except ValueError as exc:
            raise ob.InvalidOrder(f"{name}: not valid JSON: {exc}") from None
        return
    for number, line in enumerate(stream, start=2):
        if line.strip():
            try:
                yield jsonutil.loads(line)
            except ValueError as exc:
                raise ob.InvalidOrder(f"{name} line {number}: not valid JSON: {exc}") from None


def _to_canonical(name: str, doc: Any) -> ob.Order:
    if not isinstance(doc, dict):
        raise ob.InvalidOrder(f"expected an order object, got {type(doc).__name__}")
    if name == CANONICAL:
        return ob.order_from_dict(doc)
    return ob.get_backend(name).to_canonical(doc)


def _from_canonical(name: str, order: ob.Order) -> Any:
    if name == CANONICAL:
        return ob.order_to_dict(order)
    return ob.get_backend(name).from_canonical(order)


def cmd_convert(args: argparse.Namespace) -> int:
    """Translate order documents between two backends' dialects, offline."""
    for name in (args.source, args.target):
        if name != CANONICAL:
            ob.get_backend(name)  # unknown names fail before any input is read
    stream = sys.stdin if args.input in (None, "-") else open(args.input, encoding="utf-8")
    name = "<stdin>" if stream is sys.stdin else args.input
    out = sys.stdout if args.output in (None, "-") else open(args.output, "w", encoding="utf-8")
    count = 0
    try:
        for doc in _read_documents(stream, name):
            order = _to_canonical(args.source, doc)
            if args.target != CANONICAL:
                losses = ob.get_backend(args.target).losses(order)
                for loss in losses:
                    log.warning(
                        "order %s: %s cannot hold %s (%s)", order.label, args.target, loss.field, loss.reason
                    )
            out.write(jsonutil.dumps(_from_canonical(args.target, order)) + "\n")
            count += 1
    finally:
        if stream is not sys.stdin:
            stream.close()
        if out is not sys.stdout:
            out.close()
    log.info("converted %d order(s) from %s to %s", count, args.source, args.target)
    return 0


# ---------------------------------------------------------------- migrate / verify / export


def _load_run_config(args: argparse.Namespace) -> Any:
    from orderbridge.migration.config import load_config, parse_when

    overrides: dict[str, Any] = {
        "mode": getattr(args, "mode", None),
        "workers": getattr(args, "workers", None),
        "limit": getattr(args, "limit", None),
        "max_failures": getattr(args, "max_failures", None),
        "state": getattr(args, "state", None),
        "report": getattr(args, "report", None),
    }
    if getattr(args, "references", None):
        overrides["references_file"] = str(Path(args.references).resolve())  # relative to the shell
    for flag in ("since", "until"):
        if getattr(args, flag, None):
            overrides[flag] = parse_when(getattr(args, flag), f"--{flag}")
    if getattr(args, "ids", None):
        overrides["ids"] = tuple(i for group in args.ids for i in group)
    if getattr(args, "dry_run", False):
        overrides["dry_run"] = True
    _warn_about_state_password(overrides["state"])
    return load_config(args.config, **overrides)


def _warn_about_state_password(state: str | None) -> None:
    """``--state`` with a password in its URL: every user of the machine can read a command line."""
    from orderbridge.migration.state import literal_password

    if state is not None and literal_password(state):
        log.warning(
            "--state holds a literal password, readable by other users in the process list: "
            "use PGPASSWORD, ~/.pgpass or [run] state_password_env instead"
        )


def run_migration(config: Any, *, show_progress: bool = True, as_json: bool = False) -> Any:
    """Connect both sides of ``config``, migrate, and print/write the report; returns it.

    The report files are new for each run (timestamped JSON and HTML beside
    ``config.report``), so no run overwrites another's; ``config.report`` holds
    a copy of the latest. With ``as_json`` stdout is the report as JSON alone
    (the notes on files written go to stderr).
    """
    from orderbridge.migration import migrate
    from orderbridge.migration.config import connected
    from orderbridge.progress import ProgressDisplay

    with connected(config) as (source, target):
        display = ProgressDisplay("dry run" if config.dry_run else "migrating") if show_progress else None
        try:
            progress = display.migration_callback() if display else None
            report = migrate(source, target, **config.migrate_arguments(), progress=progress)
        finally:
            if display:
                display.close()
        template = _write_references_template(config, report, target) if config.dry_run else None
    _print_run_outcome(config, report, template, as_json=as_json)
    return report


def _print_run_outcome(config: Any, report: Any, template: Path | None, *, as_json: bool) -> None:
    """The summary (or JSON) on stdout, then where the report and the references template went."""
    from orderbridge.migration.report_files import write_reports

    files = write_reports(report, config.report) if config.report is not None else None
    notes = sys.stderr if as_json else sys.stdout
    if as_json:
        data = report.to_dict()
        if files is not None:
            data["files"] = {"json": str(files.json), "html": str(files.html), "latest": str(files.latest)}
        print(jsonutil.dumps(data))
    else:
        print(report.summary())
    if files is not None:
        print(
            f"  report written to {files.json} and {files.html} (the latest also in {files.latest})",
            file=notes,
        )
    if template is not None:
        values = sum(len(v) for v in report.unresolved_references.values())
        print(
            f"  references template written to {template} ({values} value(s) to map): fill in the "
            f"target's ids, then run with --references {template}",
            file=notes,
        )


def _write_references_template(config: Any, report: Any, target: ob.Backend) -> Path | None:
    """A dry run's ``references.toml``, beside its report (or its state file when it writes no report)."""
    from orderbridge.migration.references_file import TEMPLATE_NAME, write_template
    from orderbridge.migration.state import is_state_url

    if config.report is not None:
        beside = Path(config.report)
    else:  # beside the state file; a database state has no folder: the current one
        beside = Path.cwd() / "state" if is_state_url(config.state) else Path(config.state)
    return write_template(beside.parent / TEMPLATE_NAME, report, target)


def cmd_migrate(args: argparse.Namespace) -> int:
    """Run (or dry-run) a migration described by a TOML configuration."""
    config = _load_run_config(args)
    if getattr(args, "repair", False):
        return _repair(config, as_json=args.json)
    report = run_migration(config, show_progress=not (args.quiet or args.json), as_json=args.json)
    if report.stopped_reason and not report.dry_run:
        # The summary above says what was done; this one line says why it stopped and how to go on.
        print(
            f"orderbridge: stopped: {report.stopped_reason}; resume with "
            f"`orderbridge migrate --config {args.config}`",
            file=sys.stderr,
        )
        return EXIT_FAILURES
    if report.interrupted:
        print(
            f"interrupted: run `orderbridge migrate --config {args.config}` again to resume", file=sys.stderr
        )
        return EXIT_INTERRUPTED
    return EXIT_OK if report.ok else EXIT_FAILURES


def cmd_check(args: argparse.Namespace) -> int:
    """Validate a run configuration and check both sites read-only, as a migration would first."""
    from orderbridge.migration.check import check_run

    result = check_run(_load_run_config(args))
    print(jsonutil.dumps(result.to_dict()) if args.json else result.summary())
    return EXIT_OK


def _verify(config: Any) -> Any:
    from orderbridge.migration.config import connected
    from orderbridge.migration.state import redacted_location, state_exists
    from orderbridge.migration.verify import verify

    if not state_exists(config.state):
        raise ob.ConfigurationError(
            f"no state at {redacted_location(config.state)}: nothing was migrated with this configuration"
        )
    with connected(config) as (source, target):
        return verify(
            source,
            target,
            config.state,
            concurrency=config.workers or 4,
            resolver=config.resolver(),
            selection=config.selection,
        )


def _repair(config: Any, *, as_json: bool = False) -> int:
    """Verify, then write what is missing and remove duplicates that are provably orderbridge's."""
    from orderbridge.migration.config import connected
    from orderbridge.migration.repair import repair

    findings = _verify(config)
    if not (findings.missing or findings.duplicated):
        _print_repair(findings, None, as_json=as_json)
        return EXIT_OK if findings.ok else EXIT_FAILURES
    with connected(config) as (source, target):
        report = repair(
            source, target, state=config.state, findings=findings, concurrency=config.concurrency()
        )
    _print_repair(findings, report, as_json=as_json)
    return EXIT_OK if report.ok else EXIT_FAILURES


def _print_repair(findings: Any, report: Any, *, as_json: bool) -> None:
    if as_json:
        repaired = report.to_dict() if report is not None else None
        print(jsonutil.dumps({"verify": findings.to_dict(), "repair": repaired}))
        return
    print(findings.summary())
    if report is None:
        print("nothing to repair" + ("" if findings.ok else " (mismatches and extras are left to you)"))
    else:
        print(report.summary())


def cmd_state_rebuild(args: argparse.Namespace) -> int:
    """Set a damaged (or doubtful) state aside and start a new one bound to the run's endpoints."""
    from orderbridge.migration.config import connected
    from orderbridge.migration.state import is_state_url, open_state_store, redacted_location

    config = _load_run_config(args)
    shown = redacted_location(config.state)
    if is_state_url(config.state):
        _set_aside_migration(str(config.state))
    else:
        _set_aside_file(Path(config.state))
    with connected(config) as (source, target):
        store: Any = open_state_store(config.state, lock=True)
        try:
            store.lock()
            store.bind(source.endpoint(), target.endpoint())
        finally:
            store.close()
    print(
        f"new state: {shown}; the next `orderbridge migrate --config {args.config}` reads the "
        "target's orders first and adopts what it already holds (nothing is written twice)"
    )
    return 0


def _aside_suffix() -> str:
    import time

    return f".damaged-{time.strftime('%Y%m%dT%H%M%S')}"


def _set_aside_file(path: Path) -> None:
    if not path.exists():
        return
    aside = path.with_name(path.name + _aside_suffix())
    for suffix in ("", "-wal", "-shm"):
        part = Path(str(path) + suffix)
        if part.exists():
            part.rename(Path(str(aside) + suffix))
    print(f"set aside: {aside}")


def _set_aside_migration(url: str) -> None:
    """Move a PostgreSQL state's migration to ``<id>.damaged-<time>`` (refused while a worker runs)."""
    from orderbridge.migration.state_postgres import PostgresStateStore

    store = PostgresStateStore(url, lock=True)
    try:
        if store.is_new:
            return
        aside = store.migration + _aside_suffix()
        store.set_aside(aside)
        print(f"set aside: migration {aside!r}")
    finally:
        store.close()


def cmd_verify(args: argparse.Namespace) -> int:
    """Compare the source with the target: missing, duplicated, extra and mismatched orders."""
    from orderbridge.migration.report_files import attach_verify

    config = _load_run_config(args)
    result = _verify(config)
    if args.json:
        print(jsonutil.dumps(result.to_dict()))
    else:
        print(result.summary())
    files = attach_verify(config.report, result) if config.report is not None else None
    if files is not None:
        # On stderr: with --json, stdout is the findings alone.
        print(f"verify results added to the latest run's report: {files.html}", file=sys.stderr)
    return 0 if result.ok else 1


def _parse_options(pairs: Sequence[str], backend: str) -> dict[str, Any]:
    """``--option KEY=VALUE`` pairs as raw values (read strictly when the backend is connected)."""
    secrets = ob.get_backend(backend).secret_options()
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ob.ConfigurationError(f"--option expects KEY=VALUE, got {pair!r}")
        if key in secrets:
            print(
                f"orderbridge: warning: --option {key}=... is visible to every user of this machine "
                f"(ps); use --option {key}_env=VARIABLE or a configuration file",
                file=sys.stderr,
            )
        options[key] = value
    return options


def _export_source(args: argparse.Namespace) -> ob.Backend:
    """What ``export`` reads: ``--config``'s ``[source]`` (only its secrets are read), or ``--from``."""
    if args.config:
        from orderbridge.migration.config import connect_endpoint, load_config

        return connect_endpoint(load_config(args.config).source, section="source")
    if not args.source:
        raise ob.ConfigurationError("export needs --from NAME (with --option KEY=VALUE) or --config FILE")
    values = _parse_options(args.option or [], args.source)
    return ob.get_backend(args.source).configure(values, where="--option", from_python=False)


def cmd_export(args: argparse.Namespace) -> int:
    """Stream every order of a backend into a canonical JSON Lines file (after a read-only check)."""
    from orderbridge.migration.engine import preflight
    from orderbridge.progress import ProgressDisplay

    source = _export_source(args)
    display = None
    written = 0
    failures: list[ob.InvalidOrder] = []
    try:
        # Before the output file is opened: a site that is not ready costs one line, not an empty file.
        preflight(source=source)
        total = source.count_orders() if ob.Capability.READ in source.capabilities else None
        display = ProgressDisplay("exporting") if not (args.quiet or args.json) else None
        with open(args.to, "w", encoding="utf-8") as out:
            for record in source.iter_records():
                if isinstance(record, ob.InvalidOrder):
                    failures.append(record)
                    _say(display, f"orderbridge: skipped a bad order: {record}")
                    continue
                out.write(ob.order_to_json(record) + "\n")
                written += 1
                if display:
                    display.update(written + len(failures), total)
    finally:
        if display:
            display.close()
        source.close()
    _print_export_outcome(args, written, failures)
    return EXIT_OK if not failures else EXIT_FAILURES


def _say(display: Any, text: str) -> None:
    """A line on stderr that does not share the progress bar's line."""
    if display is not None:
        display.message(text)
    else:
        print(text, file=sys.stderr)


def _print_export_outcome(args: argparse.Namespace, written: int, failures: list[ob.InvalidOrder]) -> None:
    if args.json:
        bad = [{"order": f.order, "field": f.field, "message": f.message} for f in failures]
        print(jsonutil.dumps({"to": args.to, "exported": written, "failed": len(failures), "failures": bad}))
        return
    skipped = f"; {len(failures)} bad order(s) skipped" if failures else ""
    print(f"exported {written} order(s) to {args.to}{skipped}")


# ---------------------------------------------------------------- fleet


def _load_fleet(args: argparse.Namespace) -> Any:
    """The fleet file ``--config`` names, its ``[fleet]`` keys overridden by the flags given."""
    from orderbridge.fleet.config import load_fleet

    if not getattr(args, "config", None):
        raise ob.ConfigurationError("fleet needs --config FILE (the fleet configuration, TOML)")
    overrides = {
        "scheduler": getattr(args, "scheduler", None),
        "workers": getattr(args, "workers", None),
        "threads_per_worker": getattr(args, "threads_per_worker", None),
    }
    return load_fleet(args.config, **overrides)


def _run_fleet(args: argparse.Namespace, fleet: Any) -> Any:
    """Check every site's endpoints, then run the fleet on Dask; returns the report (not yet written)."""
    from orderbridge.fleet.config import check_endpoints

    check_endpoints(fleet)
    try:
        from orderbridge.fleet.runner import run_fleet
    except ImportError as exc:
        raise ob.ConfigurationError(
            f"orderbridge fleet needs Dask distributed ({exc}): pip install 'orderbridge[fleet]'"
        ) from None
    quiet = args.quiet or getattr(args, "json", False)
    stream = sys.stderr if getattr(args, "json", False) else sys.stdout

    def say(line: str) -> None:
        if not quiet:
            print(line, file=stream, flush=True)

    return run_fleet(fleet, say=say)


def _finish_fleet(args: argparse.Namespace, fleet: Any, report: Any, names: Sequence[str]) -> int:
    """Write the fleet report, print it, and the exit status of the sites ``names``."""
    from orderbridge.fleet.report import site_ok, write_fleet_report

    json_path, html_path = write_fleet_report(report, fleet.report)
    if args.json:
        print(jsonutil.dumps(report.to_dict()))
    else:
        print(report.summary())
    print(
        f"  fleet report written to {json_path} and {html_path}", file=sys.stderr if args.json else sys.stdout
    )
    if report.interrupted:
        print(f"interrupted: run `orderbridge fleet --config {args.config}` again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    wanted = [s for s in report.sites if s["site"] in names]
    return EXIT_OK if all(site_ok(s) for s in wanted) else EXIT_FAILURES


def cmd_fleet(args: argparse.Namespace) -> int:
    """Run every site of a fleet file as a task on Dask (a LocalCluster, or --scheduler's cluster)."""
    fleet = _load_fleet(args)
    report = _run_fleet(args, fleet)
    return _finish_fleet(args, fleet, report, list(fleet.sites))


def cmd_fleet_retry(args: argparse.Namespace) -> int:
    """Run some sites of a fleet again; their entries in the fleet report are replaced, the others kept."""
    from orderbridge.fleet.report import read_fleet_report

    fleet = _load_fleet(args)
    chosen = fleet.only(args.sites)
    report = _run_fleet(args, chosen)
    previous = read_fleet_report(fleet.report)
    merged = previous.merge(report) if previous is not None else report
    return _finish_fleet(args, fleet, merged, args.sites)


def cmd_fleet_status(args: argparse.Namespace) -> int:
    """Where each site of a fleet stands (its state, its latest report, the last fleet run); runs nothing."""
    from orderbridge.fleet.status import fleet_status, status_table

    rows = fleet_status(_load_fleet(args))
    print(jsonutil.dumps(rows) if args.json else status_table(rows))
    return EXIT_OK if all(row["last_status"] == "ok" for row in rows) else EXIT_FAILURES


# ---------------------------------------------------------------- sandbox


def cmd_sandbox_serve(args: argparse.Namespace) -> int:
    """Start local simulators (or named sites), print URLs, credentials and catalogs, serve until Ctrl-C."""

    from orderbridge.sandbox import Faults, available_simulators, check_sites, serve, serve_sites

    faults = Faults(
        latency=args.latency,
        error_rate=args.error_rate,
        rate_429=args.rate_429,
        retry_after=0,
        drop_rate=args.drop_rate,
        rate_limit=args.rate_limit,
        exempt_paths=frozenset({"/api/v1/oauth/token"}),
    )
    ports = {k: int(v) for k, v in (_parse_pair(p, "--port") for p in args.port or [])}
    if args.site and args.names:
        raise ob.ConfigurationError(
            f"name sites with --site only, or simulators without it; not both ({' '.join(args.names)})"
        )
    if args.site:
        check_sites(args.site)
        servers_cm = serve_sites(
            args.site,
            simulators=available_simulators(),
            default_orders=args.seed_orders,
            seed=args.seed,
            faults=faults,
            ports=ports,
        )
    else:
        servers_cm = serve(
            args.names or None, seed_counts=args.seed_orders, seed=args.seed, faults=faults, ports=ports
        )
    with servers_cm as servers:
        for name, server in servers.items():
            print(f"{name}: {server.url}" + (f"  ({server.simulator.name})" if args.site else ""))
            for label, url in server.urls().items():
                print(f"  {label} url: {url}")
            for key, value in server.simulator.credentials().items():
                print(f"  {key}: {value}")
            for kind, url in server.catalogs().items():
                print(f"  {kind} catalog: {url}")
        if args.site:
            _write_sandbox_config(args, servers)
        _serve_until_interrupted()
    return 0


def _serve_until_interrupted() -> None:
    """Say the sandbox serves, then wait (its servers run in their own threads) until Ctrl-C."""
    import time

    print("serving; press Ctrl-C to stop", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopped")


def cmd_sandbox_fleet(args: argparse.Namespace) -> int:
    """Serve N simulated site pairs and write the fleet.toml that migrates each; serve until Ctrl-C."""

    from orderbridge.sandbox.fleet import serve_fleet
    from orderbridge.sandbox.runconfig import export_lines

    with serve_fleet(
        args.sites, orders=args.orders, latency=args.latency, seed=args.seed, shared_source=args.shared_source
    ) as fleet:
        path = Path(args.write_config)
        exports = fleet.write(path)
        for name, site in fleet.sites.items():
            print(f"{name}: {site.source.url} -> {site.target.url}")
        print(f"fleet.toml for {len(fleet.sites)} site pair(s): {path} (no secret in it; set these first:)")
        for line in export_lines(exports):
            print(f"  {line}")
        _serve_until_interrupted()
    return 0


def _write_sandbox_config(args: argparse.Namespace, servers: Any) -> None:
    """``run.toml`` for a migration from the first site to the second, with its ``export`` lines."""
    from orderbridge.sandbox.runconfig import export_lines, render_run_config, write_run_config

    names = list(servers)
    if len(names) < 2:
        print("one site: no run.toml (name a second site for a rehearsal: --site new=webinone:0)")
        return
    (old, new), path = names[:2], Path(args.write_config)
    source = servers[old].simulator.endpoint(servers[old].url, "source")
    target = servers[new].simulator.endpoint(servers[new].url, "target")
    if source is None or target is None:
        side = old if source is None else new
        print(
            f"no run.toml: site {side!r} ({servers[side].simulator.name}) cannot be that end of a migration"
        )
        return
    text, exports = render_run_config(
        source,
        target,
        sites=(old, new),
        header=f"sandbox serve: {old} -> {new} (the sites live while the command runs)",
        run={"state": "state.sqlite", "report": "report.json"},
        # Each sandbox site has its own catalogs (other ids): identity would send the old site's ids.
        references={"identity": False},
    )
    write_run_config(path, text)
    print(f"run.toml for {old} -> {new}: {path} (no secret in it; set these first:)")
    for line in export_lines(exports):
        print(f"  {line}")


DEMO_ORDERS = 500


def cmd_demo(args: argparse.Namespace) -> int:
    """Two local WebinOne sites; migrate v1 -> v2 with progress, verify, report."""
    import tempfile

    from orderbridge.migration.config import config_from_dict
    from orderbridge.migration.report_files import attach_verify
    from orderbridge.migration.verify import verify
    from orderbridge.sandbox import SimServer, available_simulators

    simulators = available_simulators()
    if "webinone" not in simulators:
        raise ob.ConfigurationError(
            "the demo needs the webinone simulator (plugin 'webinone' is not installed)"
        )
    simulator_cls: Any = simulators["webinone"]
    # Two sites cloned from one catalog (same statuses, members, discounts...),
    # with different id sequences so that ids of the two systems never coincide.
    old_site = simulator_cls(client_id="old-site", client_secret="old-site-secret", id_start=28000)  # noqa: S106
    new_site = simulator_cls(client_id="new-site", client_secret="new-site-secret", id_start=1000)  # noqa: S106
    old_site.seed(args.orders, seed=args.seed)
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="orderbridge-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    with SimServer(old_site) as old, SimServer(new_site) as new:
        print(f"old site (WebinOne v1 API): {old.url}  [{args.orders} orders seeded]")
        print(f"new site (WebinOne v2 API): {new.url}  [empty, same catalogs]")
        tables = {
            kind: {str(k): str(v) for k, v in table.items()}
            for kind, table in new_site.catalog_tables().items()
        }
        config = config_from_dict(
            {
                "source": {"backend": "webinone-v1", "base_url": old.url, **old_site.credentials()},
                "target": {"backend": "webinone-v2", "base_url": new.url, **new_site.credentials()},
                "run": {"state": "state.sqlite", "report": "report.json", "workers": args.workers},
                "references": tables,
            },
            base_dir=workdir,
        )
        report = run_migration(config)
        source = ob.connect("webinone-v1", base_url=old.url, **old_site.credentials())
        target = ob.connect("webinone-v2", base_url=new.url, **new_site.credentials())
        result = verify(
            source, target, str(config.state), concurrency=args.workers, resolver=config.resolver()
        )
        print(result.summary())
        print(f"files: {workdir}")
        _write_demo_config(workdir, config, old_site, new_site, old.url, new.url)
    files = attach_verify(config.report, result) if config.report is not None else None
    if files is not None:
        # The last line: the page to open (the README's first command ends here).
        print(f"HTML report: {files.html}")
    ok = report.ok and result.ok and report.written + report.skipped == args.orders
    return 0 if ok else 1


def _write_demo_config(
    workdir: Path, config: Any, old_site: Any, new_site: Any, old_url: str, new_url: str
) -> None:
    """The demo's configuration as ``run.toml`` beside its report, to copy: secrets as ``*_env`` names."""
    from orderbridge.sandbox.runconfig import render_run_config, write_run_config

    text, exports = render_run_config(
        {"backend": "webinone-v1", "base_url": old_url, **old_site.credentials()},
        {"backend": "webinone-v2", "base_url": new_url, **new_site.credentials()},
        sites=("old", "new"),
        header="demo: the configuration of this run (its sites are gone; copy it for your own)",
        run={"state": Path(config.state).name, "report": "report.json"},
        references=dict(config.reference_tables),
    )
    path = workdir / "run.toml"
    write_run_config(path, text)
    print(f"configuration: {path} (secrets from {', '.join(exports)})")


def _parse_pair(text: str, option: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        raise ob.ConfigurationError(f"{option} expects NAME=VALUE, got {text!r}")
    return key, value


# ---------------------------------------------------------------- parser


def _number(
    kind: type[int] | type[float], low: float, high: float | None = None, *, above: bool = False
) -> Any:
    """An argparse type: a number of ``kind`` at least ``low`` (above, with ``above``), at most ``high``."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {'an integer' if kind is int else 'a number'}: {text!r}")
        if (value <= low if above else value < low) or (high is not None and value > high) or value != value:
            bound = f"above {low:g}" if above else f"at least {low:g}"
            raise argparse.ArgumentTypeError(
                f"must be {bound}{f' and at most {high:g}' if high is not None else ''}, got {text}"
            )
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def _site(text: str) -> Any:
    """An argparse type: a ``--site NAME=SIMULATOR:SEED_ORDERS`` value."""
    from orderbridge.sandbox import SiteSpec

    try:
        return SiteSpec.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_site.__name__ = "site"

_COUNT = _number(int, 1)
_NON_NEGATIVE = _number(int, 0)
_SECONDS = _number(float, 0)
_SHARE = _number(float, 0, 1)
_RATE = _number(float, 0, above=True)


def _add_common_flags(parser: argparse.ArgumentParser, *, default: Any) -> None:
    """``-v``, ``-q`` and ``--debug``: accepted before the command and after it."""
    parser.add_argument("-v", "--verbose", action="store_true", default=default, help="log more")
    parser.add_argument(
        "-q", "--quiet", action="store_true", default=default, help="no progress display, warnings only"
    )
    parser.add_argument("--debug", action="store_true", default=default, help="show tracebacks on errors")


def _with_common_flags(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Every parser ``subparsers`` adds takes the common flags."""
    subparsers.add_parser = functools.partial(subparsers.add_parser, parents=[common])


def _id_list(text: str) -> list[str]:
    ids = [part.strip() for part in text.split(",")]
    if not all(ids):
        raise argparse.ArgumentTypeError(f"expected source ids separated by commas, got {text!r}")
    return ids


def _add_selection_flags(parser: argparse.ArgumentParser) -> None:
    """Which source orders a command takes (each overrides the same key of ``[run]``)."""
    parser.add_argument("--limit", type=_COUNT, help="take only the first N orders (a trial run)")
    parser.add_argument("--since", help="only orders created at or after this date/datetime (ISO 8601)")
    parser.add_argument("--until", help="only orders created before this date/datetime (ISO 8601)")
    parser.add_argument(
        "--ids",
        type=_id_list,
        action="append",
        metavar="ID[,ID...]",
        help="only these source order ids (repeatable)",
    )


def _add_fleet_flags(parser: argparse.ArgumentParser, *, run: bool) -> None:
    parser.add_argument("--config", help="the fleet configuration (TOML)", default=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    if run:
        parser.add_argument(
            "--scheduler",
            metavar="tcp://HOST:8786",
            help="a running Dask scheduler (default: a LocalCluster)",
        )
        parser.add_argument(
            "--workers", type=_COUNT, help="LocalCluster worker processes (overrides [fleet])"
        )
        parser.add_argument(
            "--threads-per-worker",
            type=_COUNT,
            help="sites at once per LocalCluster worker (overrides [fleet])",
        )


def _add_fleet_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """``fleet`` (run every site), ``fleet status`` and ``fleet retry SITE``."""
    p = sub.add_parser("fleet", help="run many site migrations as tasks on Dask (status, retry SITE)")
    _add_fleet_flags(p, run=True)
    p.set_defaults(handler=cmd_fleet, config=None, json=False)
    actions = p.add_subparsers(dest="fleet_command", metavar="ACTION")
    _with_common_flags(actions, common)
    q = actions.add_parser(
        "status", help="each site's state, latest report and last fleet status (runs nothing)"
    )
    _add_fleet_flags(q, run=False)
    q.set_defaults(handler=cmd_fleet_status)
    q = actions.add_parser("retry", help="run these sites of the fleet again (their state resumes them)")
    q.add_argument("sites", nargs="+", metavar="SITE", help="site names, as under [sites] in the file")
    _add_fleet_flags(q, run=True)
    q.set_defaults(handler=cmd_fleet_retry)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``orderbridge`` command."""
    parser = argparse.ArgumentParser(
        prog="orderbridge", description="Move e-commerce orders between platforms."
    )
    parser.add_argument("--version", action="version", version=f"orderbridge {ob.__version__}")
    _add_common_flags(parser, default=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a flag given before the command is not reset by the command's parser.
    _add_common_flags(common, default=argparse.SUPPRESS)
    _with_common_flags(sub, common)

    p = sub.add_parser("backends", help="list installed backends, their capabilities and plugins")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--options", metavar="NAME", help="list the options of backend NAME instead")
    p.set_defaults(handler=cmd_backends)

    p = sub.add_parser("convert", help="translate order documents between backends offline")
    p.add_argument("--from", dest="source", required=True, metavar="NAME", help="backend name or 'canonical'")
    p.add_argument("--to", dest="target", required=True, metavar="NAME", help="backend name or 'canonical'")
    p.add_argument("input", nargs="?", help="input file (JSON, JSON array or JSON Lines); default stdin")
    p.add_argument("-o", "--output", help="output file (JSON Lines); default stdout")
    p.set_defaults(handler=cmd_convert)

    p = sub.add_parser("migrate", help="migrate orders as a TOML run configuration says")
    p.add_argument("--config", required=True, help="the run configuration (TOML)")
    p.add_argument("--dry-run", action="store_true", help="read, translate and resolve; write nothing")
    p.add_argument("--mode", choices=["skip", "update"], help="what to do with orders already migrated")
    _add_selection_flags(p)
    p.add_argument(
        "--workers", type=_COUNT, help="orders written at once, fixed (default: adapted to the target, 1-32)"
    )
    p.add_argument(
        "--max-failures",
        type=_NON_NEGATIVE,
        help="stop a real run once N orders have failed (0: no limit; a dry run reads every order)",
    )
    p.add_argument(
        "--state", help="state file or PostgreSQL URL postgresql://user@host/db (overrides the configuration)"
    )
    p.add_argument(
        "--report",
        help="the latest report's path (overrides the configuration); each run also writes its own "
        "NAME-<UTC time>.json and .html beside it",
    )
    p.add_argument(
        "--references",
        metavar="FILE",
        help="mapping tables from this references.toml (a dry run's filled template; overrides [run])",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON (nothing else on stdout)")
    p.add_argument(
        "--repair",
        action="store_true",
        help="verify, then write what is missing and remove duplicate copies that are provably orderbridge's",
    )
    p.set_defaults(handler=cmd_migrate)

    p = sub.add_parser(
        "check", help="validate a run configuration and check both sites read-only (writes nothing)"
    )
    p.add_argument("--config", required=True, help="the run configuration (TOML)")
    p.add_argument(
        "--references",
        metavar="FILE",
        help="mapping tables from this references.toml (as the migration will use)",
    )
    p.add_argument("--mode", choices=["skip", "update"], help="check the target can write in this mode")
    p.add_argument(
        "--state", help="state file or PostgreSQL URL postgresql://user@host/db (overrides the configuration)"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=cmd_check)

    p = sub.add_parser("verify", help="compare migrated orders on both sides")
    p.add_argument("--config", required=True, help="the run configuration (TOML) of the migration")
    _add_selection_flags(p)
    p.add_argument("--workers", type=_COUNT, help="parallel readers")
    p.add_argument(
        "--references",
        metavar="FILE",
        help="mapping tables from this references.toml (as the migration used)",
    )
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.set_defaults(handler=cmd_verify)

    p = sub.add_parser("state", help="the run's state file")
    state_sub = p.add_subparsers(dest="state_command", metavar="ACTION", required=True)
    _with_common_flags(state_sub, common)
    p = state_sub.add_parser(
        "rebuild", help="set the state file aside and start a new one (the next run re-reads the target)"
    )
    p.add_argument("--config", required=True, help="the run configuration (TOML) of the migration")
    p.set_defaults(handler=cmd_state_rebuild)

    p = sub.add_parser("export", help="export a backend's orders to a canonical JSON Lines file")
    p.add_argument("--from", dest="source", metavar="NAME", help="backend name")
    p.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="a backend option (repeatable); KEY_env=VAR reads the value from $VAR",
    )
    p.add_argument("--config", help="take the source from this run configuration's [source]")
    p.add_argument("--to", required=True, metavar="FILE.jsonl", help="output file")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON (nothing else on stdout)")
    p.set_defaults(handler=cmd_export)

    _add_fleet_parsers(sub, common)

    p = sub.add_parser("demo", help="migrate 500 orders between two local WebinOne sites, verify, report")
    p.add_argument(
        "--orders", type=_COUNT, default=DEMO_ORDERS, help=f"orders to seed (default {DEMO_ORDERS})"
    )
    p.add_argument("--seed", type=int, default=0, help="data seed")
    p.add_argument("--workers", type=_COUNT, default=8, help="parallel writers (default 8)")
    p.add_argument("--workdir", help="where the state file and report go (default: a new temporary folder)")
    p.set_defaults(handler=cmd_demo)

    p = sub.add_parser("sandbox", help="local simulators of the supported platforms")
    sandbox = p.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    _with_common_flags(sandbox, common)
    p = sandbox.add_parser(
        "serve", help="start simulators (or named sites) on loopback; print URLs, credentials and catalogs"
    )
    p.add_argument("names", nargs="*", help="simulators to start, once each (default: all installed)")
    p.add_argument(
        "--site",
        action="append",
        type=_site,
        metavar="NAME=SIMULATOR:SEED_ORDERS",
        help="a named site with its own store (repeatable; old=webinone:500 new=webinone:0); with two "
        "or more, run.toml migrates the first to the second",
    )
    p.add_argument(
        "--write-config",
        default="run.toml",
        metavar="FILE",
        help="where --site writes the run configuration (default run.toml; never replaces a file "
        "orderbridge did not write)",
    )
    p.add_argument(
        "--seed-orders",
        type=_NON_NEGATIVE,
        default=100,
        help="orders to generate in each (default 100; a --site's own :SEED_ORDERS wins)",
    )
    p.add_argument("--seed", type=int, default=0, help="data seed (same seed, same orders)")
    p.add_argument("--port", action="append", metavar="NAME=PORT", help="fixed port for a simulator")
    p.add_argument("--latency", type=_SECONDS, default=0.0, help="seconds added to every answer")
    p.add_argument("--error-rate", type=_SHARE, default=0.0, help="share of requests answered 5xx")
    p.add_argument("--rate-429", type=_SHARE, default=0.0, help="share of requests answered 429")
    p.add_argument("--drop-rate", type=_SHARE, default=0.0, help="share of connections dropped")
    p.add_argument("--rate-limit", type=_RATE, default=None, help="requests per second accepted")
    p.set_defaults(handler=cmd_sandbox_serve)
    p = sandbox.add_parser(
        "fleet", help="N simulated site pairs on loopback and a fleet.toml migrating each (orderbridge fleet)"
    )
    p.add_argument("--sites", type=_COUNT, default=5, help="site pairs (default 5)")
    p.add_argument("--orders", type=_NON_NEGATIVE, default=20, help="orders in each source (default 20)")
    p.add_argument("--latency", type=_SECONDS, default=0.0, help="seconds added to every answer")
    p.add_argument("--seed", type=int, default=0, help="data seed (site i uses seed + i)")
    p.add_argument(
        "--shared-source",
        action="store_true",
        help="every site reads one source server (one shared API host)",
    )
    p.add_argument(
        "--write-config",
        default="fleet.toml",
        metavar="FILE",
        help="where to write the fleet configuration (default fleet.toml; never replaces a file orderbridge "
        "did not write)",
    )
    p.set_defaults(handler=cmd_sandbox_fleet)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s" if args.verbose else "%(message)s",
        stream=sys.stderr,
    )
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("orderbridge: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`, `| grep -q`): stop quietly, as a tool killed by SIGPIPE.
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except (ob.OrderbridgeError, OSError, ValueError) as exc:
        if args.debug:
            raise
        print(f"orderbridge: error: {exc}", file=sys.stderr)
        return exit_status_of(exc)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
