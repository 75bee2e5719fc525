"""Start N simulated, paired nodes on ptys: the hardware-free half of `edgewarden demo`.

Reusable by later demo stages and tests: :func:`start_paired_nodes` pairs each node
through the real pairing exchange into a key store in `workdir`, and the returned
:class:`SimulatedFleet` knows their ports and stops them.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from controller.sensors.keystore import KeyStore
from controller.simulation.node import PtyNode, SimNodeOptions
from firmware_bridge.link import PortSpec
from firmware_bridge.pairing import pair_over_serial
from firmware_bridge.signing import KEY_LEN, SecretKey


@dataclass
class SimulatedNode:
    name: str
    uid: str
    node: PtyNode

    @property
    def port(self) -> str:
        return self.node.path


@dataclass
class SimulatedFleet:
    keystore: KeyStore
    nodes: list[SimulatedNode] = field(default_factory=list)

    def port_specs(self, max_frames_per_second: float = 200.0) -> list[PortSpec]:
        return [PortSpec(n.port, n.name, max_frames_per_second=max_frames_per_second)
                for n in self.nodes]

    def key_lookup(self, uid: str) -> tuple[SecretKey, str] | None:
        return self.keystore.key_lookup(uid)

    def stop(self) -> None:
        for n in self.nodes:
            n.node.stop()

    def __enter__(self) -> SimulatedFleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_paired_nodes(
    count: int,
    workdir: Path,
    rate_hz: float = 2.0,
    faults: dict[int, list[str]] | None = None,
    names: list[str] | None = None,
) -> SimulatedFleet:
    """Start `count` nodes (faults by index), pair each into `workdir/keys`; running."""
    workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fleet = SimulatedFleet(KeyStore(workdir / "keys"))
    fleet.keystore.ensure_dir()
    try:
        for i in range(count):
            name = names[i] if names else f"node-{i + 1}"
            uid = secrets.token_bytes(8).hex().upper()
            node_dir = workdir / name
            node_dir.mkdir(exist_ok=True, mode=0o700)
            node = PtyNode(SimNodeOptions(
                uid=uid, rate_hz=rate_hz, key_file=node_dir / "node.key", pairing=True,
                faults=(faults or {}).get(i, []), link=node_dir / "tty")).start()
            fleet.nodes.append(SimulatedNode(name, uid, node))
            key = SecretKey(os.urandom(KEY_LEN))

            def check(uid: str, name: str = name) -> None:
                fleet.keystore.check_can_pair(uid, name, replace=False)

            paired = pair_over_serial(node.path, key, check, timeout_s=10.0)
            fleet.keystore.add(paired.uid, name, key,
                               datetime.now(UTC).isoformat(timespec="seconds"))
    except BaseException:
        fleet.stop()
        raise
    return fleet
