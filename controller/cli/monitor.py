"""`edgewarden monitor`: print readings and rejected frames from a serial port."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from controller.errors import UsageError
from controller.sensors.keystore import KeyStore, KeystoreError, is_uid, read_key_file
from firmware_bridge.link import KeyLookup, LinkManager, LinkObserver, PortSpec
from firmware_bridge.messages import Message
from firmware_bridge.reading import Reading
from firmware_bridge.reasons import RejectReason
from firmware_bridge.signing import SecretKey


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "monitor",
        help="print readings and rejected frames from a serial port",
        description="Print every accepted reading and every rejected frame (with its "
        "reason) from one serial port: a bench tool for the technician.",
    )
    p.add_argument("port", metavar="PORT", help="serial port, e.g. /dev/edgewarden/node-...")
    keys = p.add_mutually_exclusive_group(required=True)
    keys.add_argument("--key-file", type=Path,
                      help="node key file; named <UID>.key it only admits that node")
    keys.add_argument("--keys-dir", type=Path, help="key directory with registry.json")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--baudrate", type=int, default=921_600)
    p.add_argument("--max-rate", type=float, default=200.0, metavar="FPS",
                   help="frames per second a node may send before frames are refused")
    p.add_argument("--seconds", type=float, help="stop after this long (exit 0)")
    p.set_defaults(handler=run)


def key_lookup_for(key_file: Path | None, keys_dir: Path | None) -> KeyLookup:
    """A key file named <UID>.key admits that uid only; any other name admits any uid."""
    try:
        if key_file is not None:
            key = read_key_file(key_file)
            only = key_file.stem.upper() if is_uid(key_file.stem.upper()) else None

            def by_file(uid: str) -> tuple[SecretKey, str] | None:
                return (key, uid) if only is None or uid == only else None

            return by_file
        assert keys_dir is not None
        store = KeyStore(keys_dir)
        store.nodes()  # fail now on a broken registry
    except KeystoreError as exc:
        raise UsageError(str(exc)) from None

    return store.key_lookup


class _Printer(LinkObserver):
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.on_broken_pipe: Callable[[], None] = lambda: None
        self.broken = False

    def emit(self, obj: dict[str, object], text: str) -> None:
        if self.broken:
            return
        try:
            print(json.dumps(obj) if self.as_json else text, flush=True)
        except BrokenPipeError:  # `monitor ... | head`: stop quietly
            self.broken = True
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            self.on_broken_pipe()

    def reading(self, r: Reading) -> None:
        self.emit(r.to_json(), f"{r.node_name:<16} {r.channel:<12} {r.value:>10.3f} {r.unit:<4}"
                  f" #{r.counter}")

    def on_reject(self, port: str, uid: str | None, reason: RejectReason) -> None:
        self.emit({"kind": "rejected", "port": port, "node_uid": uid, "reason": reason.value},
                  f"REJECTED {uid or '-':<16} {reason.value}")

    def on_message(self, port: str, uid: str, message: Message) -> None:
        name = type(message).__name__.lower()
        detail = {k: v for k, v in _fields(message).items() if not isinstance(v, bytes)}
        self.emit({"kind": "message", "type": name, "node_uid": uid, **detail},
                  f"{name.upper():<8} {uid} {detail}")


def _fields(message: Message) -> dict[str, object]:
    out: dict[str, object] = {}
    for slot in getattr(type(message), "__slots__", ()):
        value = getattr(message, slot)
        if isinstance(value, tuple):
            value = [getattr(v, "name", str(v)) for v in value]
        out[slot] = value
    return out


async def _monitor(args: argparse.Namespace, keys: KeyLookup) -> int:
    printer = _Printer(args.json)
    # the monitor says itself, in one line, why a port could not be opened; the link's own
    # "retrying" warning (for the service's log) would be a second line here
    logging.getLogger("firmware_bridge.link").setLevel(logging.ERROR)
    spec = PortSpec(args.port, baudrate=args.baudrate, max_frames_per_second=args.max_rate)
    link = LinkManager([spec], keys, observer=printer)
    printer.on_broken_pipe = link.stop
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, link.stop)
    if args.seconds is not None:
        loop.call_later(args.seconds, link.stop)
    runner = asyncio.create_task(link.run())

    async def drain() -> None:
        while True:
            printer.reading(await link.readings.get())

    async def give_up_on_a_port_that_never_opens() -> None:
        """The first open failed (not a tty, refused): say so now instead of retrying."""
        while True:
            await asyncio.sleep(0.1)
            if all(ps.opens == 0 and ps.last_error for ps in link.port_stats()):
                link.stop()
                return
            if any(ps.opens for ps in link.port_stats()):
                return

    drainer = asyncio.create_task(drain())
    watcher = asyncio.create_task(give_up_on_a_port_that_never_opens())
    await runner
    for task in (drainer, watcher):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    while not link.readings.empty():
        printer.reading(link.readings.get_nowait())
    for st in link.node_stats():
        print(f"node {st.name} ({st.uid}): {st.state}, frames ok {st.frames_ok}, "
              f"readings {st.readings_ok}, rejected {dict(st.rejected) or 0}",
              file=sys.stderr)
    never_opened = []
    for ps in link.port_stats():
        if ps.opens == 0:
            never_opened.append(f"{ps.path}: could not be opened"
                                + (f" ({ps.last_error})" if ps.last_error else ""))
            continue
        print(f"port {ps.path}: opened {ps.opens}x, {ps.bytes_in} bytes, "
              f"frame errors {dict(ps.frame_errors) or 0}", file=sys.stderr)
    if never_opened:
        raise UsageError("; ".join(never_opened))
    return 0


def check_port(port: str) -> None:
    """Fail now, in one line, on a port that is absent or that this user may not open.

    Only looked at, not opened: opening a serial port toggles DTR, which resets some
    boards. A port that exists but will not open fails at the end of the run instead.
    """
    if not os.path.exists(port):
        raise UsageError(f"{port}: no such serial port (is the node plugged in? "
                         "udev names nodes /dev/edgewarden/node-*)")
    if not os.access(port, os.R_OK | os.W_OK):
        raise UsageError(f"{port}: permission denied (join the edgewarden group: "
                         "usermod -aG edgewarden $USER)")


def run(args: argparse.Namespace) -> int:
    keys = key_lookup_for(args.key_file, args.keys_dir)
    check_port(args.port)
    return asyncio.run(_monitor(args, keys))
