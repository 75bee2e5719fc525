"""Service footprint: time from start to READY, and RSS after a while with 8 simulated nodes.

Targets (issue 5): READY within 1.5 s, RSS at most 60 MB without cameras. Baseline, measured
in the same run: a bare `python -c pass` start and its RSS, so the figures say what the
service adds to the interpreter.

    uv run python bench/service_footprint.py [--seconds 60] [--nodes 8]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from controller.simulation.fleet import start_paired_nodes
from controller.store import initialise


def bare_interpreter() -> tuple[float, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1)"])
    rss = 0.0
    time.sleep(0.5)
    rss = psutil.Process(proc.pid).memory_info().rss / 2**20
    proc.wait()
    return time.perf_counter() - t0 - 1.0, rss


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--nodes", type=int, default=8)
    ap.add_argument("--rate", type=float, default=4.0, help="readings per second per channel")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        initialise(root / "data", passphrase="footprint benchmark passphrase")
        fleet = start_paired_nodes(args.nodes, root / "nodes", rate_hz=args.rate)
        nodes = "\n".join(f'[[serial.nodes]]\nname = "{n.name}"\nport = "{n.port}"\n'
                          for n in fleet.nodes)
        cfg = root / "config.toml"
        cfg.write_text(f'[device]\ndata_dir = "{root / "data"}"\nruntime_dir = "{root / "run"}"\n'
                       f'[serial]\nkeys_dir = "{root / "nodes" / "keys"}"\n{nodes}')
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(root / "notify"))
        env = dict(os.environ, NOTIFY_SOCKET=str(root / "notify"))
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "controller", "run", "--config", str(cfg)],
                                env=env, stderr=subprocess.DEVNULL)
        ready_s = None
        notify.settimeout(30)
        try:
            while ready_s is None:
                if b"READY=1" in notify.recv(4096):
                    ready_s = time.perf_counter() - t0
            notify.setblocking(False)
            p = psutil.Process(proc.pid)
            end = time.monotonic() + args.seconds
            cpu0 = p.cpu_times()
            peak = 0.0
            while time.monotonic() < end:
                time.sleep(1.0)
                peak = max(peak, p.memory_info().rss / 2**20)
                try:
                    while notify.recv(4096):
                        pass
                except BlockingIOError:
                    pass
            rss = p.memory_info().rss / 2**20
            cpu1 = p.cpu_times()
            cpu_share = ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) / args.seconds
        finally:
            proc.terminate()
            code = proc.wait(30)
            fleet.stop()
        bare_start, bare_rss = bare_interpreter()
        print(f"nodes: {args.nodes} at {args.rate:g} Hz x 4 channels, run {args.seconds:g} s")
        print(f"time to READY: {ready_s:.2f} s (target <= 1.5 s); bare interpreter start "
              f"{bare_start:.2f} s, ratio {ready_s / max(bare_start, 1e-3):.1f}x")
        print(f"RSS after {args.seconds:g} s: {rss:.1f} MB (peak {peak:.1f} MB; target <= 60 MB);"
              f" bare interpreter {bare_rss:.1f} MB")
        print(f"CPU share: {100 * cpu_share:.1f}% of one core; exit status on SIGTERM: {code}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
