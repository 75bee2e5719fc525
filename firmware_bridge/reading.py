"""`Reading`: the one thing the serial link hands to the rest of the controller."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reading:
    """One accepted, authenticated, in-range sensor value.

    node_time_ms is the node's clock (Unix ms as set by the controller at WELCOME, so it
    is comparable to received_wall); received_wall is time.time() and received_mono is
    time.monotonic() on the controller when the frame arrived. counter is the frame's
    per-session counter (several readings of one batch share it).
    """

    node_uid: str
    node_name: str
    channel: str
    value: float
    unit: str
    node_time_ms: int
    received_wall: float
    received_mono: float
    counter: int

    def to_json(self) -> dict[str, object]:
        return {
            "kind": "reading",
            "node_uid": self.node_uid,
            "node": self.node_name,
            "channel": self.channel,
            "value": self.value,
            "unit": self.unit,
            "node_time_ms": self.node_time_ms,
            "received_wall": self.received_wall,
            "received_mono": self.received_mono,
            "counter": self.counter,
        }
