"""A silent node is one alarm (ISA-18.2 first-out), on the engine and on the alarm desk."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from controller.anomaly.desk import AlarmDesk, node_rules
from controller.anomaly.engine import AnomalyEngine
from controller.config import AnomalyConfig, ChannelRulesConfig
from controller.control.schema import to_wire
from controller.service.notices import alarm_of

CHANNELS = ("temperature", "humidity", "vibration", "door")


def _engine(channel_missing_s: float | None, node_missing_s: float = 20.0) -> AnomalyEngine:
    channels = dict(node_rules(["north", "south"], node_missing_s))
    if channel_missing_s is not None:
        channels["*"] = ChannelRulesConfig(missing_s=channel_missing_s, adaptive="off")
    return AnomalyEngine(AnomalyConfig(channels=channels))


def _feed(engine: AnomalyEngine, node: str, t: float) -> list[Any]:
    out = []
    for ch in CHANNELS:
        out += engine.observe(f"{node}/{ch}", t, 1.0)
    return out + engine.heartbeat(node, t)


def _raised(transitions: list[Any]) -> list[str]:
    return [tr.alarm_id for tr in transitions if tr.event == "raise"]


@pytest.mark.parametrize(("channel_missing_s", "node_missing_s"),
                         list(itertools.product([None, 5.0, 20.0, 60.0], [5.0, 20.0])))
def test_a_silent_node_raises_one_alarm_whatever_its_channels_say(
    channel_missing_s: float | None, node_missing_s: float
) -> None:
    engine = _engine(channel_missing_s, node_missing_s)
    raised: list[str] = []
    for t in range(0, 10):
        raised += _raised(_feed(engine, "north", float(t)) + _feed(engine, "south", float(t)))
        raised += _raised(engine.tick(float(t)))
    for t in range(10, 200):  # north goes silent at 10 s, south keeps talking
        raised += _raised(_feed(engine, "south", float(t)) + engine.tick(float(t)))
    assert raised == ["north:missing"]
    # it came at the first timeout of the node or of any of its channels (first-out)
    first = min(x for x in (channel_missing_s, node_missing_s) if x is not None)
    engine2 = _engine(channel_missing_s, node_missing_s)
    _feed(engine2, "north", 0.0)
    assert _raised(engine2.tick(first - 0.5)) == []
    assert _raised(engine2.tick(first)) == ["north:missing"]
    # no per-channel missing alarm is even pending
    assert [v.alarm_id for v in engine.alarms()] == ["north:missing"]


def test_a_node_never_heard_raises_after_missing_s_and_clears_on_its_first_frame() -> None:
    engine = _engine(None)
    engine.tick(0.0)
    assert engine.tick(19.0) == []
    assert _raised(engine.tick(20.0)) == ["north:missing", "south:missing"]
    back = engine.heartbeat("north", 21.0)
    assert [(tr.alarm_id, tr.to_state.value) for tr in back] == [
        ("north:missing", "returned_unack")]


def test_the_desk_records_one_alarm_with_the_channels_and_the_port() -> None:
    records: list[tuple[str, str, str, dict[str, Any]]] = []
    published: list[tuple[str, int | None]] = []

    def record(kind: str, source: str, severity: str, body: dict[str, Any],
               on_stored: Callable[[int | None], None]) -> None:
        records.append((kind, source, severity, body))
        on_stored(len(records))  # the record's sequence number, once "durable"

    engine = _engine(5.0)
    desk = AlarmDesk(engine, record, lambda tr, d, seq: published.append((tr.event, seq)),
                     nodes=["north", "south"],
                     node_detail=lambda n: {"state": "absent", "port": f"/dev/{n}"})
    for ch in CHANNELS:
        desk.observe(f"north/{ch}", 0.0, 1.0)
    desk.observe("south/temperature", 0.0, 1.0)
    for t in range(1, 30):
        desk.observe("south/temperature", float(t), 1.0)  # readings alone keep it alive
        desk.tick(float(t))
    raises = [body for kind, _, _, body in records if kind == "alarm" and body["event"] == "raise"]
    assert [b["alarm_id"] for b in raises] == ["north:missing"]
    detail = raises[0]["detail"]
    assert detail["channels"] == sorted(f"north/{c}" for c in CHANNELS)
    assert detail["state"] == "absent" and detail["port"] == "/dev/north"
    assert ("raise", next(i + 1 for i, r in enumerate(records) if r[3] is raises[0])) \
        in published  # told under its record's number
    (point,) = desk.points()
    view = to_wire(alarm_of(*point))
    assert view["id"] == "north:missing" and view["detail"] == detail
    assert view["message"].startswith("node absent: 4 channel(s) silent (door, humidity")


def test_no_node_rule_when_missing_s_is_zero() -> None:
    assert node_rules(["north"], 0.0) == {}
