"""Anomaly rules and the ISA-18.2 alarm life cycle (pure core) plus the replay adapter.

Live use: one :class:`AnomalyEngine` per service; feed ``observe(channel, t, value)`` for
each reading, ``heartbeat(node, t)`` for each heartbeat and ``tick(t)`` about once a
second; record every returned :class:`AlarmTransition` (``to_record()``) as an "alarm"
record; keep ``save_state()`` with the service state and ``load_state()`` it at start.
"""

from controller.anomaly.alarm import AlarmActionError, AlarmState, AlarmTransition, AlarmView
from controller.anomaly.engine import AnomalyEngine, StateError

__all__ = [
    "AlarmActionError",
    "AlarmState",
    "AlarmTransition",
    "AlarmView",
    "AnomalyEngine",
    "StateError",
]
