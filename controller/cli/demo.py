"""`edgewarden demo`: the real service on a simulated site, with no hardware.

Three simulated sensor nodes on ptys (with injected faults: a temperature spike, a stuck
sensor, a dropout), a camera playing a video file (the shared traffic video when `../shared`
is beside the checkout, else a synthetic yard), a gate camera reading the synthetic
Nigerian plates of the vehicles that drive up (one on the watch list, one on the allow
list), and the store initialised with a printed demo passphrase. The service runs in this
process exactly as `edgewarden run` does; the live view reads it through the control
socket like any client.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from controller.cli.signal_flags import SignalFlags
from controller.control.client import ControlClient, ControlError
from controller.control.schema import Plates, Status
from controller.errors import EdgewardenError
from controller.sensors.keystore import KeystoreError
from firmware_bridge.pairing import PairingError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="run the service with simulated nodes and a video file, no hardware",
        description="Run the real service on a simulated site: three sensor nodes with "
        "injected faults, a camera playing a video file, a gate camera reading synthetic "
        "number plates, encrypted and sealed records in a temporary data directory. Opens "
        "the TUI on it (--headless: a live table instead).",
    )
    p.add_argument("--seconds", type=float, help="stop cleanly after this long (exit 0)")
    p.add_argument("--data-dir", type=Path,
                   help="keep the demo site here (default: a temporary directory)")
    p.add_argument("--headless", action="store_true",
                   help="print a live table instead of opening the TUI (scripts, CI)")
    p.add_argument("--rate", type=float, default=2.0, metavar="HZ", help="node sample rate")
    p.add_argument("--model", type=Path, help="a .tflite detector for the yard camera "
                   "(without one the camera makes motion-only events)")
    p.add_argument("--labels", type=Path, help="labels for --model (.txt or .pbtxt)")
    p.add_argument("--video", type=Path, help="video file for the yard camera")
    p.add_argument("--no-camera", action="store_true", help="sensor nodes only")
    p.add_argument("--no-plates", action="store_true",
                   help="no gate camera (no plate reads, no OCR models loaded)")
    p.set_defaults(handler=run)


class _ServiceThread:
    """The service on its own loop in a thread, so the UI owns the main thread."""

    def __init__(self, site: Any) -> None:
        from controller.service import Service

        self.service = Service(site.config, site.config_path)
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._main, name="service", daemon=True)

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:
            self.error = exc
            self.ready.set()

    async def _run(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.service.run(ready=self.ready.set)

    def start(self, timeout: float = 30.0) -> None:
        self.thread.start()
        if not self.ready.wait(timeout):
            raise EdgewardenError("the demo service did not become ready")
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        if self.loop is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.service.request_stop)
        self.thread.join(60)


def run(args: argparse.Namespace) -> int:
    from controller.simulation.site import build_site
    from controller.system.journal import log_to_file, setup_logging

    console = Console()
    with contextlib.ExitStack() as stack:
        root = args.data_dir or Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="edgewarden-demo-")))
        # AF_UNIX paths are short (108 bytes): the socket lives in a short temp dir
        runtime = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ew-")))
        try:
            with console.status("initialising the store and pairing three simulated nodes"):
                site = build_site(root, rate_hz=args.rate, camera=not args.no_camera,
                                  video=args.video, model=args.model, labels=args.labels,
                                  runtime_dir=runtime, plates=not args.no_plates)
        except (PairingError, KeystoreError, OSError) as exc:
            raise EdgewardenError(f"could not start the simulated site: {exc}") from None
        stack.callback(site.stop)
        _intro(console, site, args)
        if args.headless:
            # log lines would tear the live table: keep only errors
            setup_logging(0)
            import logging

            logging.getLogger().setLevel(logging.ERROR)
        else:
            # the TUI owns the terminal: the service's log goes to the site instead
            log_to_file(root / "service.log")
            console.print(f"  service log: {root / 'service.log'}")
        svc = _ServiceThread(site)
        svc.start()
        stack.callback(svc.stop)
        socket_path = Path(site.config.device.runtime_dir) / site.config.control.socket_name
        if args.headless:
            _live_table(console, socket_path, args.seconds, svc)
        else:
            _tui(socket_path, args.seconds, site)
        console.print(f"stopping: flushing and sealing the records in {root / 'data'}")
    console.print("stopped cleanly")
    return 0


def _intro(console: Console, site: Any, args: argparse.Namespace) -> None:
    console.print(f"[bold]edgewarden demo[/bold]: site in {site.root}"
                  + (" (reused: the records, nodes and keys of the last run)"
                     if site.reused else ""))
    for n in site.fleet.nodes:
        console.print(f"  paired node {n.name} ({n.uid}) on {n.port}")
    if site.video is not None:
        how = f"detector {site.model}" if site.model else "motion-only events (no --model)"
        console.print(f"  camera 'yard' plays {site.video}: {how}")
    if site.gate is not None:
        from controller.simulation.site import GATE_VEHICLES

        seen = ", ".join(f"{plate} ({lst or 'on no list'})"
                         for plate, lst, *_ in GATE_VEHICLES)
        console.print(f"  camera 'gate' reads plates in {site.gate}: {seen}")
    if site.passphrase:
        console.print(f"  demo passphrase (unlocks history): [bold]{site.passphrase}[/bold]")
        if site.verification_key:
            console.print(f"  verification key (shown once): {site.verification_key}")
    console.print("  faults: spike on north-door at 12 s, dropout of loading-bay at 25 s, "
                  "stuck sensor on server-room at 40 s")


def _tui(socket_path: Path, seconds: float | None, site: Any) -> None:
    try:
        from tui.app import run_app
    except ImportError as exc:  # pragma: no cover - the TUI ships with the package
        raise EdgewardenError(f"the TUI is not available ({exc}); use --headless") from None
    from controller.simulation.site import DEMO_PASSPHRASE

    # printed before the TUI took the screen; the unlock dialog says it again
    hint = (f"Demo site: the passphrase is “{DEMO_PASSPHRASE}” (also printed when the "
            "demo started).")
    run_app(socket_path, seconds=seconds, data_dir=site.config.device.data_dir,
            unlock_hint=hint)


def _live_table(console: Console, socket_path: Path, seconds: float | None,
                svc: _ServiceThread) -> None:
    stop = SignalFlags((signal.SIGINT, signal.SIGTERM)).install()
    deadline = None if seconds is None else time.monotonic() + seconds
    with ControlClient(socket_path) as client, Live(console=console,
                                                    refresh_per_second=2) as live:
        while not stop.seen() and (deadline is None or time.monotonic() < deadline):
            if not svc.thread.is_alive():
                raise EdgewardenError("the demo service stopped unexpectedly")
            try:
                live.update(_render(client.ask("status", Status)))
            except ControlError as exc:
                live.update(Text(f"service not answering: {exc}", style="red"))
            stop.wait(1.0)
    if not console.is_terminal:  # Live leaves its last line open when piped to a file
        console.line()


def _render(st: Status) -> Group:
    nodes = Table(title="sensor nodes", title_justify="left")
    for col in ("node", "state", "channel", "value", "unit", "score"):
        nodes.add_column(col, justify="right" if col in ("value", "score") else "left")
    state = {n.name: n.state for n in st.nodes}
    for c in st.channels:
        nodes.add_row(c.node, state.get(c.node, "?"), c.channel, f"{c.value:.2f}", c.unit,
                      f"{c.score:.2f}")
    alarms = Table(title="alarms (ISA-18.2)", title_justify="left")
    # an alarm's name says which camera, node or channel: wrapped, never cut short
    alarms.add_column("alarm", overflow="fold")
    for col in ("state", "severity", "value", "chatter/h"):
        alarms.add_column(col, no_wrap=True)
    for a in st.alarms:
        style = "red" if a.state.startswith("active") else "yellow"
        value = "" if a.value is None else f"{a.value:.2f}"
        alarms.add_row(Text(a.id, style=style), a.state, a.severity, value,
                       str(a.chatter_per_hour))
    store = st.store
    cams = ", ".join(f"{c.name}: {c.state}, {c.frames} frames"
                     + (f", last {c.last_detection.label}" if c.last_detection else "")
                     + _plates_note(c.plates)
                     for c in st.cameras) or "none"
    footer = Text(f"records stored: {store.records}  epoch: {store.epoch}  "
                  f"not stored: {store.not_stored}  cameras: {cams}  "
                  f"uptime {st.uptime_s:.0f} s")
    return Group(nodes, alarms, footer)


def _plates_note(plates: Plates | None) -> str:
    """", 2 plate reads" (or why there are none yet) for a camera that reads plates."""
    if plates is None:
        return ""
    if plates.state != "reading":
        return f", plates {plates.state}"
    return f", {plates.plates} plate read{'' if plates.plates == 1 else 's'}"
