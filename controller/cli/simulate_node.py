"""`edgewarden simulate-node`: run the reference node firmware on a pty."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from controller.cli.signal_flags import SignalFlags
from controller.errors import UsageError
from controller.simulation.node import PtyNode, SimNodeOptions, simulated_uid
from firmware_bridge.node.sensors import CHANNELS, FAULT_KINDS


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "simulate-node",
        help="run the reference node firmware on a pty",
        description="Run the reference sensor-node firmware (the MicroPython code, under "
        "CPython) on a new pty. The first line of stdout is the port to open. Serves "
        "until SIGTERM or Ctrl-C; SIGUSR1 unplugs / replugs the node (use --link).",
    )
    p.add_argument("--pty", action="store_true", required=True,
                   help="serve on a new pseudo-terminal (the only transport for now)")
    p.add_argument("--uid", default=None,
                   help="node uid, 16 hex digits (default: derived from --key-file or --link, "
                   "so the same node keeps its uid; random without either)")
    p.add_argument("--channels", default=",".join(CHANNELS),
                   help=f"comma-separated channels out of {', '.join(CHANNELS)}")
    p.add_argument("--rate", type=float, default=1.0, metavar="HZ",
                   help="samples per second (settable later by CONFIG_SET)")
    p.add_argument("--key-file", type=Path,
                   help="the node's key (its flash); pairing writes it, 0600")
    p.add_argument("--pairing", action="store_true",
                   help="start in pairing mode (as if the pairing button were held)")
    p.add_argument("--fault", action="append", default=[], metavar="KIND[@START:DURATION]",
                   help=f"inject a fault ({', '.join(FAULT_KINDS)}), optionally for a window "
                   "in seconds from start; repeatable")
    p.add_argument("--link", type=Path,
                   help="keep a stable symlink here to the pty (like a udev name); "
                   "needed for the unplug fault to keep one path")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    channels = [c.strip() for c in args.channels.split(",") if c.strip()]
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown or not channels:
        raise UsageError(f"--channels: unknown channel {', '.join(unknown) or '(none)'} "
                         f"(known: {', '.join(CHANNELS)})")
    if not 0 < args.rate <= 2000:
        raise UsageError(f"--rate: {args.rate:g} Hz is outside 0..2000")
    uid = (args.uid or simulated_uid(args.key_file or args.link)).upper()
    options = SimNodeOptions(uid=uid, channels=channels, rate_hz=args.rate,
                             key_file=args.key_file, pairing=args.pairing,
                             faults=args.fault, link=args.link)
    try:
        node = PtyNode(options)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    signals = SignalFlags((signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)).install()
    node.start()
    print(node.path, flush=True)
    print(f"node {uid} on {node.slave_path}"
          + (" in pairing mode" if args.pairing else ""), file=sys.stderr, flush=True)
    try:
        unplugged = False
        while not signals.wait(0.05, signal.SIGTERM, signal.SIGINT):
            if signals.take(signal.SIGUSR1):  # pull / put back the cable
                unplugged = not unplugged
                (node.unplug if unplugged else node.replug)()
                print("unplugged" if unplugged else "replugged", file=sys.stderr, flush=True)
    finally:
        node.stop()
    return 0
