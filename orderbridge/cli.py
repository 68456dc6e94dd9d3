"""The ``orderbridge`` command.

Each sub-command lives in a small function below; :func:`main` parses the
arguments and turns any orderbridge error into one clear line on stderr and a
non-zero exit status (no traceback; ``--debug`` shows it).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

import orderbridge as ob
from orderbridge import jsonutil

__all__ = ["main"]

log = logging.getLogger("orderbridge.cli")

CANONICAL = "canonical"
"""Pseudo backend name for the canonical JSON form in ``convert``."""

Handler = Callable[[argparse.Namespace], int]


# ---------------------------------------------------------------- backends


def cmd_backends(args: argparse.Namespace) -> int:
    """List installed backends with their capabilities and providing plugin."""
    from orderbridge.plugins import backend_providers, plugin_distributions

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
    stream = sys.stdin if args.input in (None, "-") else open(args.input, encoding="utf-8")  # noqa: SIM115
    name = "<stdin>" if stream is sys.stdin else args.input
    out = sys.stdout if args.output in (None, "-") else open(args.output, "w", encoding="utf-8")  # noqa: SIM115
    count = 0
    try:
        for doc in _read_documents(stream, name):
            order = _to_canonical(args.source, doc)
            if args.target != CANONICAL:
                losses = ob.get_backend(args.target).losses(order)
                for loss in losses:
                    log.warning("order %s: %s cannot hold %s (%s)", order.label, args.target, loss.field, loss.reason)
            out.write(jsonutil.dumps(_from_canonical(args.target, order)) + "\n")
            count += 1
    finally:
        if stream is not sys.stdin:
            stream.close()
        if out is not sys.stdout:
            out.close()
    log.info("converted %d order(s) from %s to %s", count, args.source, args.target)
    return 0


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``orderbridge`` command."""
    parser = argparse.ArgumentParser(
        prog="orderbridge", description="Move e-commerce orders between platforms."
    )
    parser.add_argument("--version", action="version", version=f"orderbridge {ob.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("backends", help="list installed backends, their capabilities and plugins")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=cmd_backends)

    p = sub.add_parser("convert", help="translate order documents between backends offline")
    p.add_argument("--from", dest="source", required=True, metavar="NAME", help="backend name or 'canonical'")
    p.add_argument("--to", dest="target", required=True, metavar="NAME", help="backend name or 'canonical'")
    p.add_argument("input", nargs="?", help="input file (JSON, JSON array or JSON Lines); default stdin")
    p.add_argument("-o", "--output", help="output file (JSON Lines); default stdout")
    p.set_defaults(handler=cmd_convert)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s" if args.verbose else "%(message)s",
        stream=sys.stderr,
    )
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("orderbridge: interrupted", file=sys.stderr)
        return 130
    except (ob.OrderbridgeError, OSError, ValueError) as exc:
        if args.debug:
            raise
        print(f"orderbridge: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
