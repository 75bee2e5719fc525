"""Service footprint: time from start to READY, and RSS after a while with 8 simulated nodes;
with `--camera`, also with one camera, the detector and plates.

Targets: READY within 1.5 s, RSS at most 60 MB without cameras (issue 5); RSS at most
250 MB with one camera playing the traffic video, the traffic model as its detector and
`plates = true` (issue 17). Baselines, measured in the same run: a bare `python -c pass`
start and its RSS (what the service adds to the interpreter) and, with `--camera`, the
same camera and detector without plates (what plate reading adds). Then the plate records
the plates run stored are decrypted and counted per vehicle track (goal: at most one).

    uv run python bench/service_footprint.py [--seconds 60] [--nodes 8] [--camera]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from controller.control.client import ControlClient, ControlError
from controller.simulation.fleet import SimulatedFleet, start_paired_nodes
from controller.simulation.site import shared_traffic_dir
from controller.store import HistoryReader, initialise, unlock_identity

PASSPHRASE = "footprint benchmark passphrase"
RSS_GOAL_MB = 60.0
PLATES_RSS_GOAL_MB = 250.0


@dataclass
class Footprint:
    ready_s: float
    rss_mb: float
    peak_mb: float
    cpu_share: float
    exit_code: int
    cameras: list[dict[str, Any]]


def bare_interpreter() -> tuple[float, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1)"])
    rss = 0.0
    time.sleep(0.5)
    rss = psutil.Process(proc.pid).memory_info().rss / 2**20
    proc.wait()
    return time.perf_counter() - t0 - 1.0, rss


def camera_config(traffic: Path, plates: bool) -> str:
    """One camera looping the traffic video with the traffic model; plates if asked."""
    return (f'[detect]\nmodel = "{traffic / "traffic_model.tflite"}"\n'
            f'labels = "{traffic / "traffic_label_map.pbtxt"}"\nthreshold = 0.3\n'
            f'[[cameras]]\nname = "road"\nsource = "{traffic / "traffic_frames.mp4"}"\n'
            'loop = true\nfps = 10.0\nwidth = 960\nheight = 540\nrecording = "off"\n'
            f'plates = {"true" if plates else "false"}\n')


def measure(root: Path, fleet: SimulatedFleet, seconds: float, extra: str) -> Footprint:
    """Run the service on the fleet (plus `extra` config) for `seconds` after READY (and
    after a plate camera's models have loaded); its RSS at the end and at its peak."""
    nodes = "\n".join(f'[[serial.nodes]]\nname = "{n.name}"\nport = "{n.port}"\n'
                      for n in fleet.nodes)
    cfg = root / "config.toml"
    run = root / "run"
    cfg.write_text(f'[device]\ndata_dir = "{root / "data"}"\nruntime_dir = "{run}"\n'
                   f'[serial]\nkeys_dir = "{root / "nodes" / "keys"}"\n{nodes}\n{extra}')
    notify_path = root / "notify"
    notify_path.unlink(missing_ok=True)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    env = dict(os.environ, NOTIFY_SOCKET=str(notify_path))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "controller", "run", "--config", str(cfg)],
                            env=env, stderr=subprocess.DEVNULL)
    ready_s = None
    notify.settimeout(30)
    cameras: list[dict[str, Any]] = []
    try:
        while ready_s is None:
            if b"READY=1" in notify.recv(4096):
                ready_s = time.perf_counter() - t0
        notify.setblocking(False)
        p = psutil.Process(proc.pid)
        with ControlClient(run / "control.sock") as client:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and any(
                    (c.get("plates") or {}).get("state") == "loading"
                    for c in client.call("status")["cameras"]):
                time.sleep(0.5)
            end = time.monotonic() + seconds
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
            try:
                cameras = client.call("status")["cameras"]
            except ControlError:
                cameras = []
        cpu_share = ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) / seconds
    finally:
        proc.terminate()
        code = proc.wait(60)
        notify.close()
    return Footprint(ready_s, rss, max(peak, rss), cpu_share, code, cameras)


def camera_line(cameras: list[dict[str, Any]]) -> str:
    parts = []
    for c in cameras:
        plates = c.get("plates")
        part = f"{c['name']}: {c['frames']} frames, detector {c['detector']}"
        if plates:
            part += (f", plates {plates['state']}: {plates['read']} crops read, "
                     f"{plates['dropped']} dropped, {plates['plates']} reads")
        parts.append(part)
    return "; ".join(parts)


def reads_per_track(data_dir: Path) -> Counter[tuple[str, int]]:
    """The stored `plate` records per (camera, track id); only the plates run makes them."""
    with HistoryReader(data_dir, unlock_identity(data_dir, PASSPHRASE)) as history:
        return Counter((str(r.body["camera"]), int(r.body["track_id"]))
                       for r in history.records(kinds=["plate"]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--nodes", type=int, default=8)
    ap.add_argument("--rate", type=float, default=4.0, help="readings per second per channel")
    ap.add_argument("--camera", action="store_true",
                    help="also one camera with the traffic model, without and with plates")
    args = ap.parse_args()
    traffic = shared_traffic_dir()
    if args.camera and traffic is None:
        print("--camera needs ../shared/data/traffic (the traffic video and model)",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        initialise(root / "data", passphrase=PASSPHRASE)
        fleet = start_paired_nodes(args.nodes, root / "nodes", rate_hz=args.rate)
        try:
            plain = measure(root, fleet, args.seconds, "")
            runs: list[tuple[str, Footprint]] = []
            if args.camera:
                assert traffic is not None
                for plates in (False, True):
                    runs.append((f"camera + detector{' + plates' if plates else ''}",
                                 measure(root, fleet, args.seconds,
                                         camera_config(traffic, plates))))
        finally:
            fleet.stop()
        per_track = reads_per_track(root / "data") if args.camera else Counter()
        bare_start, bare_rss = bare_interpreter()
        print(f"nodes: {args.nodes} at {args.rate:g} Hz x 4 channels, run {args.seconds:g} s")
        print(f"time to READY: {plain.ready_s:.2f} s (target <= 1.5 s); bare interpreter "
              f"start {bare_start:.2f} s, ratio {plain.ready_s / max(bare_start, 1e-3):.1f}x")
        print(f"RSS after {args.seconds:g} s: {plain.rss_mb:.1f} MB (peak {plain.peak_mb:.1f} "
              f"MB; target <= {RSS_GOAL_MB:g} MB); bare interpreter {bare_rss:.1f} MB")
        print(f"CPU share: {100 * plain.cpu_share:.1f}% of one core; exit status on SIGTERM: "
              f"{plain.exit_code}")
        for name, fp in runs:
            goal = f"; goal <= {PLATES_RSS_GOAL_MB:g} MB" if "plates" in name else ""
            print(f"{name}: READY {fp.ready_s:.2f} s, RSS {fp.rss_mb:.1f} MB (peak "
                  f"{fp.peak_mb:.1f} MB{goal}), CPU {100 * fp.cpu_share:.0f}% of one core, "
                  f"exit {fp.exit_code}; {camera_line(fp.cameras)}")
        if args.camera:
            print(f"plate reads per track (max): {max(per_track.values(), default=0)} "
                  f"(goal <= 1); {sum(per_track.values())} plate records stored over "
                  f"{len(per_track)} tracks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
