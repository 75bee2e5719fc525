"""A test-only double of :class:`controller.service.surface.ControlledService`.

It holds nodes, a record of what was sent and audited, and no link, store or desk, so
a handler can be unit-tested without a running service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.anomaly.desk import AlarmDesk
from controller.config import Config
from controller.control import schema
from controller.sensors.keystore import KeyStore
from controller.service.vehicles import VehicleRegister
from controller.store.layout import StoreLayout
from firmware_bridge.link import NodeStats
from firmware_bridge.messages import Message

from .status_sample import sample_status


@dataclass
class SurfaceDouble:
    """Implements :class:`controller.service.surface.ControlledService` in memory."""

    keys_dir: Path
    nodes: list[NodeStats] = field(default_factory=list)
    link_up: bool = True
    accepts_sends: bool = True
    cfg: Config = field(default_factory=Config)
    config_path: Path | None = None
    desk: AlarmDesk | None = None
    vehicles: VehicleRegister | None = None
    sent: list[tuple[str, Message]] = field(default_factory=list)
    audits: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    sample_rates: dict[str, float] = field(default_factory=dict)
    forwarder: schema.Forwarder | None = None
    applied: list[Config] = field(default_factory=list)

    def status(self, you: schema.You) -> schema.Status:
        return sample_status(you=you)

    def audit_event(self, action: str, detail: dict[str, Any]) -> None:
        self.audits.append((action, detail))

    def report_forwarder(self, report: schema.Forwarder) -> None:
        self.forwarder = report

    async def apply_config(self, new: Config, desk: AlarmDesk | None = None) -> None:
        self.applied.append(new)

    def store_layout(self) -> StoreLayout | None:
        return None

    def flush_store(self, timeout_s: float) -> bool:
        return False

    def link_running(self) -> bool:
        return self.link_up

    def node_stats(self) -> list[NodeStats]:
        return list(self.nodes) if self.link_up else []

    def send_to_node(self, uid: str, message: Message) -> bool:
        if not self.accepts_sends:
            return False
        self.sent.append((uid, message))
        return True

    def set_sample_rate(self, uid: str, hz: float) -> None:
        self.sample_rates[uid] = hz

    def ports_in_use(self) -> set[str]:
        return {n.port for n in self.nodes}

    def lend_port(self, path: str) -> bool:
        return path in self.ports_in_use()

    def return_port(self, path: str) -> None:
        pass

    def paired_keys(self) -> KeyStore:
        return KeyStore(self.keys_dir)

    def refresh_keys(self) -> None:
        pass
