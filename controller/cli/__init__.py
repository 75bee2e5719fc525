"""The `edgewarden` command line.

Each command lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``handler`` to a function
``(argparse.Namespace) -> int``. This module only wires them and turns
:class:`~controller.errors.EdgewardenError` into one line on stderr and an exit status.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from controller.errors import EdgewardenError

# Command modules, in the order `--help` lists them.
COMMAND_MODULES = (
    "init",
    "run",
    "demo",
    "tui",
    "status",
    "pair",
    "simulate_node",
    "monitor",
    "anomaly",
    "detect",
    "verify",
    "export",
    "verify_bundle",
    "install",
    "doctor",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgewarden",
        description="On-device controller of a site-guarding Raspberry Pi.",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (repeatable)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"controller.cli.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args))
    except EdgewardenError as exc:
        print(f"edgewarden {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
