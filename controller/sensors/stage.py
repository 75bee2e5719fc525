"""The sensors stage: readings in, live values per channel, and downsampling for storage.

It is pure bookkeeping (no I/O, no loop), so the service decides what a reading becomes
(a record, an anomaly observation, a live event) and this module only says what changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from firmware_bridge.reading import Reading

HISTORY_LEN = 60  # values kept per channel for status sparklines


@dataclass
class ChannelLive:
    """The latest value of one channel, for status screens."""

    node: str
    channel: str
    unit: str
    value: float
    t: float
    history: list[float] = field(default_factory=list)


class SensorStage:
    """Live values and per-channel storage downsampling of every node's readings."""

    def __init__(self, downsample_s: Mapping[str, float]) -> None:
        self.downsample_s: Mapping[str, float] = downsample_s
        self.channels: dict[str, ChannelLive] = {}
        self.sample_rates: dict[str, float] = {}  # uid -> rate last set through CONFIG_SET
        self._last_stored: dict[str, float] = {}
        self._uid_names: dict[str, str] = {}

    def configure(self, downsample_s: Mapping[str, float]) -> None:
        """A reloaded config's downsampling periods apply from the next reading on."""
        self.downsample_s = downsample_s

    def take(self, r: Reading) -> bool:
        """Update the channel's live value; True if this reading is due to be stored."""
        key = f"{r.node_name}/{r.channel}"
        self._uid_names[r.node_uid] = r.node_name
        live = self.channels.get(key)
        if live is None:
            live = self.channels[key] = ChannelLive(r.node_name, r.channel, r.unit, r.value,
                                                    r.received_wall)
        live.value, live.t = r.value, r.received_wall
        live.history.append(r.value)
        del live.history[:-HISTORY_LEN]
        return self.due_for_storage(key, r.received_wall)

    def due_for_storage(self, key: str, t: float) -> bool:
        """At most one stored reading per channel per downsampling period (0 = all)."""
        ds = self.downsample_s
        period = ds.get(key, ds.get("*", 0.0))
        if period <= 0:
            return True
        last = self._last_stored.get(key)
        if last is not None and t - last < period:
            return False
        self._last_stored[key] = t
        return True

    def set_sample_rate(self, uid: str, hz: float) -> None:
        """Remember a rate a node accepted, so status can show it."""
        self.sample_rates[uid] = hz

    def node_name(self, uid: str) -> str | None:
        """The name a node's readings last carried, if any."""
        return self._uid_names.get(uid)

    def remember_name(self, uid: str, name: str) -> None:
        self._uid_names[uid] = name

    def forget_name(self, uid: str) -> None:
        """A node re-keyed or unpaired may come back under another name."""
        self._uid_names.pop(uid, None)
