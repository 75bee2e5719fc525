"""The `edgewarden` command line.

Each command lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``handler`` to a function
``(argparse.Namespace) -> int``. This module only wires them and turns
:class:`~controller.errors.EdgewardenError` into one line on stderr and an exit status.

Only the module of the command being run is imported: the others pull in OpenCV, NumPy,
Textual and the crypto stack, which the service (and its memory footprint) must not pay
for. The top-level `--help` lists every command from the table below.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys
from collections.abc import Sequence

from controller.errors import EdgewardenError

# Command -> its one-line help, in the order `--help` lists them; module = name with "_".
COMMANDS = {
    "init": "create the device's keys and data directory",
    "run": "run the headless service (systemd starts this)",
    "demo": "run the service with simulated nodes and a video file, no hardware",
    "tui": "open the Textual admin interface",
    "status": "print the running service's state",
    "pair": "provision a key to a sensor node in pairing mode",
    "simulate-node": "run the reference node firmware on a pty",
    "monitor": "print readings and rejected frames from a serial port",
    "anomaly": "replay and explain anomaly rules on recorded data",
    "detect": "run the camera detection pipeline on a recording",
    "plates": "read number plates offline (images, folders, video)",
    "vehicles": "manage the vehicle register (allow/watch/deny plates)",
    "verify": "check the record store's hash chain, seals and tags",
    "export": "write an evidence bundle (BagIt) to a directory",
    "verify-bundle": "check an evidence bundle",
    "install": "lay out systemd units, udev rules and config",
    "doctor": "check this device's setup",
    "forward": "publish alarms, events and readings to an MQTT broker",
}
COMMAND_MODULES = tuple(name.replace("-", "_") for name in COMMANDS)

# Where a newcomer starts, under the command list of the top-level `--help`.
START_HERE = """\
where to start:
  edgewarden demo                    try it: the service on a simulated site, no hardware
  edgewarden init --config F         on a device: create the keys (once)
  edgewarden run --config F          the service (systemd runs this after `install`)
  edgewarden tui                     the admin interface on the running service
  edgewarden COMMAND --help          what a command takes
"""


def package_version() -> str:
    """The installed distribution's version (the one `pip`/`uv` put in the venv)."""
    import importlib.metadata  # only for --version: every command start pays for imports

    try:
        return importlib.metadata.version("edgewarden")
    except importlib.metadata.PackageNotFoundError:  # run from a bare checkout
        return "unknown (not installed)"


class _VersionAction(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        print(f"edgewarden {package_version()}")
        parser.exit()


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `only`, just that command's module is imported (others: help only)."""
    parser = argparse.ArgumentParser(
        prog="edgewarden",
        description="On-device controller of a site-guarding Raspberry Pi.",
        epilog=START_HERE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (repeatable)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, help_text in COMMANDS.items():
        if only is None or name == only:
            module = importlib.import_module(f"controller.cli.{name.replace('-', '_')}")
            module.register(sub)
        else:
            sub.add_parser(name, help=help_text)
    return parser


def _command_in(argv: Sequence[str]) -> str:
    """The command word of argv ("" when there is none: top-level help or a typo)."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else ""
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; Ctrl-C anywhere (a prompt, an import, a long step) exits 130 quietly."""
    try:
        return _run_command(list(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:
        with contextlib.suppress(OSError, ValueError):
            print(file=sys.stderr)  # end the line a prompt left open
        return 130


def _run_command(words: list[str]) -> int:
    parser = build_parser(only=_command_in(words))
    args = parser.parse_args(words)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args))
    except EdgewardenError as exc:
        print(f"edgewarden {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
