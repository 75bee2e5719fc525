"""`edgewarden demo`: run the service with simulated nodes and a video file, no hardware.

For now (issue 2): two simulated nodes on ptys, paired into a temporary key store, and
their live readings in a table. Node starting lives in firmware_bridge.fleet so later
stages reuse it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table

from controller.errors import EdgewardenError
from firmware_bridge.fleet import SimulatedFleet, start_paired_nodes
from firmware_bridge.keystore import KeystoreError
from firmware_bridge.link import LinkManager
from firmware_bridge.pairing import PairingError
from firmware_bridge.reading import Reading


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="run the service with simulated nodes and a video file, no hardware",
        description="Run the service with simulated nodes and a video file, no hardware. "
        "Now: two simulated sensor nodes, paired into a temporary directory, with their "
        "live readings.",
    )
    p.add_argument("--seconds", type=float, help="stop after this long (exit 0)")
    p.add_argument("--rate", type=float, default=2.0, metavar="HZ", help="node sample rate")
    p.set_defaults(handler=run)


def _table(latest: dict[tuple[str, str], Reading], link: LinkManager) -> Table:
    table = Table(title="edgewarden demo: sensor nodes", expand=False)
    for col in ("node", "state", "channel", "value", "unit", "age s", "frames ok", "rejected"):
        table.add_column(col, justify="right" if col in ("value", "age s") else "left")
    stats = {s.name: s for s in link.node_stats()}
    now = time.time()
    for (node, channel), r in sorted(latest.items()):
        st = stats.get(node)
        table.add_row(node, st.state if st else "?", channel, f"{r.value:.3f}", r.unit,
                      f"{now - r.received_wall:.1f}", str(st.frames_ok if st else 0),
                      str(sum(st.rejected.values()) if st else 0))
    return table


async def _show(fleet: SimulatedFleet, seconds: float | None, console: Console) -> None:
    link = LinkManager(fleet.port_specs(), fleet.key_lookup)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, link.stop)
    if seconds is not None:
        loop.call_later(seconds, link.stop)
    runner = asyncio.create_task(link.run())
    latest: dict[tuple[str, str], Reading] = {}
    with Live(_table(latest, link), console=console, refresh_per_second=4) as live:
        while not runner.done():
            with contextlib.suppress(TimeoutError):
                r = await asyncio.wait_for(link.readings.get(), 0.25)
                latest[(r.node_name, r.channel)] = r
                while not link.readings.empty():
                    r = link.readings.get_nowait()
                    latest[(r.node_name, r.channel)] = r
            live.update(_table(latest, link))
    await runner


def run(args: argparse.Namespace) -> int:
    console = Console()
    with tempfile.TemporaryDirectory(prefix="edgewarden-demo-") as tmp:
        try:
            with console.status("starting and pairing two simulated nodes ..."):
                fleet = start_paired_nodes(2, Path(tmp), rate_hz=args.rate,
                                           names=["north-door", "server-room"])
        except (PairingError, KeystoreError, OSError) as exc:
            raise EdgewardenError(f"demo: could not start simulated nodes: {exc}") from None
        with fleet:
            for n in fleet.nodes:
                console.print(f"paired {n.name} ({n.uid}) on {n.port}")
            asyncio.run(_show(fleet, args.seconds, console))
    return 0
