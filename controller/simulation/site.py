"""A whole simulated site for `edgewarden demo`: store, paired nodes with faults, a camera.

Everything lives in one data directory: the store initialised with a printed demo
passphrase, node keys, a config file the service reads like a real one, (without
`../shared`) a synthetic video of a still yard that something crosses now and then, and a
gate camera's image folder of vehicles with synthetic Nigerian plates, one of them on the
register's watch list and one on its allow list.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from controller.config import Config, load_config
from controller.sensors.keystore import KeyStore
from controller.simulation.fleet import SimulatedFleet, SimulatedNode, start_paired_nodes
from controller.simulation.node import PtyNode, SimNodeOptions
from controller.store import initialise
from controller.store.layout import StoreLayout

DEMO_PASSPHRASE = "edgewarden demo passphrase"  # noqa: S105 (public by design: demo data only)
NODE_NAMES = ["north-door", "server-room", "loading-bay"]
# fault windows (seconds after start) that make the alarm life cycle visible
NODE_FAULTS = {0: ["spike@12:15"], 1: ["stuck@40:30"], 2: ["dropout@25:15"]}
#: the vehicles at the demo's gate, in the order they come: plate, register list or None,
#: label, priority (a watch hit raises its alarm, an allow hit is only recorded)
GATE_VEHICLES: list[tuple[str, str | None, str, str]] = [
    ("KJA-407XY", "watch", "stolen van (demo)", "high"),
    ("LND-908BG", "allow", "site manager (demo)", ""),
    ("ABJ-215KT", None, "", ""),
]


def shared_traffic_dir() -> Path | None:
    """The real traffic data when ../shared is beside the checkout (or $EDGEWARDEN_SHARED_DATA)."""
    env = os.environ.get("EDGEWARDEN_SHARED_DATA")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve().parents[2]
    candidates += [here.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for base in candidates:
        video = base / "traffic" / "traffic_frames.mp4"
        if video.is_file():
            return video.parent
    return None


def write_synthetic_video(path: Path, frames: int = 150, fps: float = 15.0) -> Path:
    """A still yard with a box crossing it: motion for the camera pipeline to find."""
    import cv2
    import numpy as np

    w, h = 640, 360
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise OSError(f"{path}: cannot write a video (OpenCV has no mp4v encoder)")
    rng = np.random.default_rng(7)
    background = np.full((h, w, 3), 90, np.uint8)
    background[h // 2 :, :] = (60, 110, 70)  # grass
    cv2.rectangle(background, (40, 60), (200, 170), (140, 140, 150), -1)  # a shed
    try:
        for i in range(frames):
            frame = background.copy()
            frame += rng.integers(0, 3, frame.shape, dtype=np.uint8)  # sensor noise
            if 40 <= i < 110:  # something crosses the yard
                x = int((i - 40) / 70 * (w + 80)) - 80
                cv2.rectangle(frame, (x, 180), (x + 60, 300), (235, 235, 245), -1)
            writer.write(frame)
    finally:
        writer.release()
    return path


@dataclass
class DemoSite:
    root: Path
    config_path: Path
    config: Config
    fleet: SimulatedFleet
    passphrase: str | None
    verification_key: str | None
    video: Path | None
    model: Path | None
    reused: bool = False  # a --data-dir from an earlier run: its store, nodes and keys
    gate: Path | None = None  # the gate camera's image folder (plates), if it has one

    def stop(self) -> None:
        self.fleet.stop()


def build_site(
    root: Path,
    *,
    rate_hz: float = 2.0,
    camera: bool = True,
    video: Path | None = None,
    model: Path | None = None,
    labels: Path | None = None,
    runtime_dir: Path | None = None,
    faults: dict[int, list[str]] | None = None,
    extra_config: str = "",
    plates: bool = True,
) -> DemoSite:
    """Initialise (or reuse) the demo data dir, start the nodes, write the config."""
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = root / "data"
    verification_key: str | None = None
    reused = StoreLayout(data).manifest.exists()
    if not reused:
        result = initialise(data, passphrase=DEMO_PASSPHRASE)
        verification_key = result.verification_key
    passphrase = DEMO_PASSPHRASE  # the demo's store always has it (public by design)
    fleet = start_site_nodes(root / "nodes", rate_hz,
                             NODE_FAULTS if faults is None else faults)
    source: Path | None = None
    if camera:
        if video is not None:
            source = video
        else:
            traffic = shared_traffic_dir()
            if traffic is not None:
                source = traffic / "traffic_frames.mp4"
                if model is not None and labels is None:
                    pbtxt = traffic / "traffic_label_map.pbtxt"
                    labels = pbtxt if pbtxt.exists() else None
            else:
                source = root / "yard.mp4"
                if not source.exists():
                    write_synthetic_video(source)
    gate = build_gate(root / "gate", data) if camera and plates else None
    config_path = root / "config.toml"
    runtime = runtime_dir or root / "run"
    config_path.write_text(_config_text(root, runtime, fleet, source, model, labels, gate)
                           + extra_config, encoding="utf-8")
    return DemoSite(root, config_path, load_config(config_path), fleet, passphrase,
                    verification_key, source, model, reused, gate)


def build_gate(folder: Path, data: Path) -> Path:
    """The gate camera's frames (rendered once per site) and, on a site without a
    register yet, the demo's register entries for them."""
    from controller.plates import register_file
    from controller.plates.register import Register, make_entry
    from controller.simulation.plates import write_gate_frames

    if not any(folder.glob("*.jpg")):
        write_gate_frames(folder, [plate for plate, *_ in GATE_VEHICLES])
    register = data / register_file.FILE_NAME
    if not register.exists():  # a reused site keeps the register its admin changed
        register_file.save(register, Register([
            make_entry(plate, list_name, label=label, priority=priority)
            for plate, list_name, label, priority in GATE_VEHICLES if list_name]))
    return folder


def start_site_nodes(workdir: Path, rate_hz: float,
                     faults: dict[int, list[str]]) -> SimulatedFleet:
    """The site's nodes: the ones paired on an earlier run when they are all there.

    A simulated node's key file is its flash: started again with its uid and that file,
    it is the same, still-paired node (as a real one after a power cycle). A site that
    is missing any of them (an older or broken demo directory) is paired afresh.
    """
    store = KeyStore(workdir / "keys")
    by_name = {rec.name: rec for rec in store.nodes().values()}
    known = [by_name.get(name) for name in NODE_NAMES]
    if not all(rec is not None and (workdir / rec.name / "node.key").is_file()
               and (store.directory / rec.key_file).is_file() for rec in known):
        if store.registry_path.exists():
            store.registry_path.unlink()  # stale simulated pairings; fresh ones follow
        return start_paired_nodes(len(NODE_NAMES), workdir, rate_hz=rate_hz, faults=faults,
                                  names=NODE_NAMES)
    fleet = SimulatedFleet(store)
    try:
        for i, rec in enumerate(known):
            assert rec is not None
            node_dir = workdir / rec.name
            node = PtyNode(SimNodeOptions(
                uid=rec.uid, rate_hz=rate_hz, key_file=node_dir / "node.key",
                faults=faults.get(i, []), link=node_dir / "tty")).start()
            fleet.nodes.append(SimulatedNode(rec.name, rec.uid, node))
    except BaseException:
        fleet.stop()
        raise
    return fleet


def _config_text(root: Path, runtime: Path, fleet: SimulatedFleet, video: Path | None,
                 model: Path | None, labels: Path | None, gate: Path | None) -> str:
    nodes = "".join(
        f'\n[[serial.nodes]]\nname = "{n.name}"\nport = "{n.port}"\n' for n in fleet.nodes
    )
    camera = ""
    if video is not None:
        camera = (f'\n[[cameras]]\nname = "yard"\nsource = "{video}"\nloop = true\n'
                  "fps = 10.0\nwidth = 640\nheight = 360\npre_roll_s = 1.0\npost_roll_s = 1.0\n"
                  "max_event_s = 10.0\n")
    if gate is not None:
        # the vehicle fills a gate camera's frame: no object detector, and no tamper
        # checks (a vehicle would look like a covered lens); the plate crops and vehicle
        # snapshots are its pictures, so it records no video
        camera += (f'\n[[cameras]]\nname = "gate"\nsource = "{gate}"\nloop = true\n'
                   "fps = 4.0\nwidth = 640\nheight = 360\nrecording = \"off\"\n"
                   "max_event_s = 10.0\nplates = true\nplates_mode = \"gate\"\n"
                   "\n[cameras.tamper]\nenabled = false\n")
    detect = "\n[detect]\nthreshold = 0.3\n"
    if model is not None:
        detect += f'model = "{model}"\n'
        if labels is not None:
            detect += f'labels = "{labels}"\n'
    return f"""# edgewarden demo site: a normal config file, written by `edgewarden demo`
[device]
name = "demo-site"
data_dir = "{root / 'data'}"
runtime_dir = "{runtime}"

[serial]
keys_dir = "{root / 'nodes' / 'keys'}"
heartbeat_timeout_s = 5.0

[store]
epoch_seconds = 60
seal_every_records = 200
commit_interval_ms = 100
# the demo's data dir is a temp dir, often RAM (tmpfs): a smaller pre-allocated reserve
reserved_space_mb = 8

[health]
interval_s = 5.0
textfile_path = "{root / 'metrics.prom'}"

[anomaly]
chatter_per_hour = 6

# channels not named below: no rules but the health defaults
[anomaly.channels."*"]
adaptive = "off"
{''.join(_node_rules(n.name) for n in fleet.nodes)}
{detect}{camera}{nodes}"""


def _node_rules(node: str) -> str:
    """Limits and stuck-sensor rules on temperature; every channel alarms when missing."""
    rules = f"""
[anomaly.channels."{node}/temperature"]
high_warning = 35.0
high_critical = 60.0
deadband = 2.0
flatline_s = 8.0
missing_s = 6.0
adaptive = "off"
priority = "high"
"""
    for channel in ("humidity", "vibration", "door"):
        rules += f"""
[anomaly.channels."{node}/{channel}"]
missing_s = 6.0
adaptive = "off"
"""
    return rules
