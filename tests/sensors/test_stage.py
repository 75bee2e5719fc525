"""The sensors stage: live values per channel and per-channel storage downsampling."""

from __future__ import annotations

from controller.sensors.stage import HISTORY_LEN, SensorStage
from firmware_bridge.reading import Reading


def _reading(t: float, value: float = 1.0, channel: str = "temp", node: str = "shed",
             uid: str = "u1") -> Reading:
    return Reading(uid, node, channel, value, "C", int(t * 1000), t, t, 1)


def test_live_value_and_bounded_history() -> None:
    stage = SensorStage({})
    for i in range(HISTORY_LEN + 5):
        stage.take(_reading(100.0 + i, float(i)))
    live = stage.channels["shed/temp"]
    assert (live.node, live.channel, live.unit) == ("shed", "temp", "C")
    assert live.value == HISTORY_LEN + 4 and live.t == 100.0 + HISTORY_LEN + 4
    assert live.history == [float(i) for i in range(5, HISTORY_LEN + 5)]
    assert stage.node_name("u1") == "shed"


def test_no_period_stores_every_reading() -> None:
    stage = SensorStage({"*": 0.0})
    assert all(stage.take(_reading(100.0 + i * 0.1)) for i in range(5))


def test_a_channel_period_wins_over_the_wildcard() -> None:
    stage = SensorStage({"*": 10.0, "shed/hum": 0.0})
    due = [stage.take(_reading(t)) for t in (100.0, 105.0, 109.9, 110.0, 115.0, 120.5)]
    assert due == [True, False, False, True, False, True]
    assert all(stage.take(_reading(100.0 + i, channel="hum")) for i in range(3))


def test_a_reload_changes_the_period_from_the_next_reading() -> None:
    stage = SensorStage({"*": 60.0})
    assert stage.take(_reading(100.0)) and not stage.take(_reading(101.0))
    stage.configure({})
    assert stage.take(_reading(102.0))


def test_sample_rates_and_names_are_kept_per_uid() -> None:
    stage = SensorStage({})
    stage.set_sample_rate("u1", 2.0)
    stage.remember_name("u2", "barn")
    assert stage.sample_rates == {"u1": 2.0} and stage.node_name("u2") == "barn"
    stage.forget_name("u2")
    assert stage.node_name("u2") is None
