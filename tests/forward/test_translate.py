"""Notifications to messages (pure): payload types round-trip, readings rate-limited,
link changes only, discovery removes what is gone."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import msgspec
import pytest

from controller.config import CameraConfig, Config, DeviceConfig
from controller.control import schema
from controller.forward import discovery, payloads
from controller.forward.topics import Topics
from controller.forward.translate import Translator
from tests.tui.scripted_service import base_status

TOPICS = Topics("edgewarden", "site a")


def translator() -> Translator:
    return Translator(TOPICS, reading_min_interval_s=5.0)


def transition(seq: int | None = 7) -> schema.AlarmNotice:
    return schema.AlarmNotice(
        seq=seq, t=10.0, alarm_id="n1/temp:limits", channel="n1/temp", rule="limits",
        event="raise", from_state="normal", to_state="active_unack", severity="critical",
        priority="high", value=61.5, score=1.0, user="", comment="", chatter_per_hour=1,
        detail=None, message=None)


def test_alarm_transition_and_point_state_named_by_the_record() -> None:
    out = translator().event(transition(), "s:3", 11.0)
    assert [(m.topic, m.retain, m.klass, m.msg_id) for m in out] == [
        ("edgewarden/site_a/alarm/events", False, "alarm", "7"),
        ("edgewarden/site_a/alarm/n1_temp_limits/state", True, "alarm", "7")]
    tr, point = (payloads.decode(m.payload) for m in out)
    assert isinstance(tr, payloads.AlarmTransition) and tr.event == "raise" and tr.id == "7"
    assert isinstance(point, payloads.AlarmPointState) and point.active
    assert point.priority == "high" and point.value == 61.5
    # a transition the store could not keep has no record: the stream names it
    assert {m.msg_id for m in translator().event(transition(None), "s:3", 11.0)} == {"s:3"}


def reading(node: str, channel: str) -> schema.ReadingNotice:
    return schema.ReadingNotice(node_uid="u", node=node, channel=channel, value=1.0,
                                unit="C", node_time_ms=0, received_wall=1.0,
                                received_mono=1.0, counter=1)


def test_readings_are_rate_limited_per_channel_and_named_by_the_stream() -> None:
    t = translator()
    def sent(ch: str, now: float) -> int:
        out = t.event(reading("n1", ch), "s:1", now)
        assert all(m.msg_id == "s:1" for m in out)
        return len(out)
    assert [sent("temp", 0.0), sent("temp", 4.9), sent("hum", 4.9),
            sent("temp", 5.0)] == [1, 0, 1, 1]
    assert t.readings_skipped == 1


def health(nodes: list[dict[str, object]] | None, sample: bool = True) -> schema.HealthNotice:
    raw = base_status("view")
    return schema.HealthNotice(
        health=msgspec.convert(raw["health"], schema.Health) if sample else None,
        store=msgspec.convert(raw["store"], schema.Store),
        nodes=None if nodes is None else msgspec.convert(nodes, list[schema.Node]))


def test_node_link_state_only_when_it_changes() -> None:
    t = translator()
    node = base_status("view")["nodes"][0]
    assert len(t.event(health([node]), "s:1", 1.0)) == 2
    assert len(t.event(health([node]), "s:2", 2.0)) == 1
    out = t.event(health([{**node, "state": "silent"}], sample=False), "s:3", 3.0)
    (link,) = [payloads.decode(m.payload) for m in out]
    assert isinstance(link, payloads.NodeLink) and link.state == "silent"


def test_the_plate_cells_of_a_health_notice_are_not_device_metrics() -> None:
    reading = schema.Plates(mode="gate", state="reading", reason=None, offered=2, read=2,
                            dropped=0, plates=2, failed=0)
    notice = msgspec.structs.replace(health(None), plates={"gate": reading})
    (out,) = [payloads.decode(m.payload) for m in translator().event(notice, "s:1", 1.0)]
    assert isinstance(out, payloads.Health) and "plates" not in out.metrics
    assert set(out.metrics) == set(msgspec.structs.asdict(notice.health))  # the sample alone


def test_a_plate_read_is_published_with_its_verdict_and_no_plate_text() -> None:
    from controller.service.notices import plate_notice
    body = {"camera": "gate", "track_id": 3, "label": "car", "text": "ABC123DE",
            "confidence": 0.97, "agreeing": 3, "attempts": 4, "first_seen": 9.0,
            "time": 10.0, "list": "watch", "media": ["plate", "vehicle"],
            "match": {"plate": "ABC123DE", "distance": 0.0, "label": "stolen van",
                      "priority": "high"}}
    (out,) = translator().event(plate_notice(body, 88), "s:9", 10.0)
    assert out.topic == "edgewarden/site_a/plate/gate" and not out.retain
    read = payloads.decode(out.payload)
    assert isinstance(read, payloads.PlateRead) and read.id == "88"
    assert (read.list, read.entry, read.priority, read.agreeing) == ("watch", "stolen van",
                                                                     "high", 3)
    assert b"ABC123" not in out.payload


def test_a_detection_start_is_named_by_its_record_and_carries_no_image() -> None:
    start = schema.DetectionNotice(
        seq=12, camera="gate", zone="drive", label="person", track_id=2, score=0.9,
        time=5.0, start=5.0, continues=False, phase="start", event_id="gate/drive/5.000/2")
    for t in (translator(), Translator(TOPICS, reading_min_interval_s=0,
                                       publish_snapshots=True)):
        (out,) = t.event(start, "s:1", 5.0)
        det = payloads.decode(out.payload)
        assert isinstance(det, payloads.Detection) and det.snapshot_b64 is None
        assert (det.id, det.phase, det.event_id) == ("12", "start", "gate/drive/5.000/2")
    (update,) = translator().event(msgspec.structs.replace(start, seq=None, phase="update"),
                                   "s:2", 6.0)
    assert update.msg_id == "s:2"


def test_decode_refuses_what_is_not_ours() -> None:
    for raw, why in [(b"{", "not JSON"), (b'{"schema": 1, "kind": "gap"}', "schema 1"),
                     (b'{"schema": 2, "kind": "nope"}', "unknown kind"),
                     (b'{"schema": 2, "kind": "gap", "id": "x"}', "gap:")]:
        with pytest.raises(payloads.PayloadError, match=why):
            payloads.decode(raw)


@dataclass
class Memory:
    topics: set[str] = field(default_factory=set)

    def announced(self) -> set[str]:
        return set(self.topics)

    def set_announced(self, topics: set[str]) -> None:
        self.topics = set(topics)


def test_discovery_removes_the_entities_of_a_removed_camera() -> None:
    status = {"channels": [{"key": "n1/temp", "unit": "°C"}],
              "alarms": [{"id": "n1/temp:limits", "state": "active_unack"}]}
    memory = Memory()
    two = Config(device=DeviceConfig(name="site a"), cameras=[
        CameraConfig(name="gate", source="x.mp4"), CameraConfig(name="yard", source="y.mp4")])
    first = discovery.messages(two, TOPICS, status, "1.2", memory)
    assert len(first) == 4 and all(m.payload and m.retain for m in first)
    one = Config(device=DeviceConfig(name="site a"),
                 cameras=[CameraConfig(name="gate", source="x.mp4")])
    second = discovery.messages(one, TOPICS, status, "1.2", memory)
    removed = [m.topic for m in second if not m.payload]
    assert removed == ["homeassistant/binary_sensor/site_a/camera_yard_occupancy/config"]
    sensor = json.loads(next(m.payload for m in second if "/sensor/" in m.topic))
    assert sensor["device_class"] == "temperature" and sensor["device"]["sw_version"] == "1.2"


def test_discovery_speaks_current_home_assistant() -> None:
    # HA 2026.4 no longer reads `object_id`; a temperature class needs °C, not C.
    status = {"channels": [{"key": "n1/temp", "unit": "C"}, {"key": "n1/hum", "unit": "%RH"}],
              "alarms": [{"id": "n1/temp:limits", "state": "active_unack"}]}
    cfg = Config(device=DeviceConfig(name="site a"),
                 cameras=[CameraConfig(name="gate", source="x.mp4")])
    configs = discovery.entity_configs(cfg, TOPICS, status, "1.2")
    assert all("object_id" not in c for c in configs.values())
    for topic, conf in configs.items():
        component = topic.split("/")[1]
        assert conf["default_entity_id"].startswith(f"{component}.edgewarden_site_a_")
    temp = configs["homeassistant/sensor/site_a/sensor_n1_temp/config"]
    assert (temp["unit_of_measurement"], temp["device_class"]) == ("°C", "temperature")
    hum = configs["homeassistant/sensor/site_a/sensor_n1_hum/config"]
    assert (hum["unit_of_measurement"], hum["device_class"]) == ("%", "humidity")


def test_points_the_service_no_longer_lists_go_back_to_normal() -> None:
    (msg,) = translator().points_back_to_normal("s2:0", {"n1/temp:limits"})
    point = payloads.decode(msg.payload)
    assert msg.topic == "edgewarden/site_a/alarm/n1_temp_limits/state" and msg.retain
    assert isinstance(point, payloads.AlarmPointState)
    assert (point.state, point.active, point.rule) == ("normal", False, "limits")
