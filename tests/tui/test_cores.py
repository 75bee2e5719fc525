"""The sans-IO cores of the TUI: payload models, live state, session key, config edits."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.control import schema
from tests.tui.scripted_service import (
    T0,
    base_status,
    scripted_alarm,
    scripted_camera,
    scripted_channel,
    scripted_detection,
    scripted_health,
    scripted_node,
    scripted_reading,
    scripted_status,
    scripted_transition,
)
from tui.config_edit import unified_diff, validate
from tui.connection import retry_delay
from tui.live_state import (
    ALARMS,
    CAMERAS,
    HEALTH,
    NODES,
    PLATES,
    STORE,
    LiveState,
    ago,
    filter_alarms,
    sort_alarms,
    sparkline,
)
from tui.model import Alarm as ModelAlarm
from tui.model import Role, StatusMismatch, parse_status
from tui.model import Status as ModelStatus
from tui.secret import Identity, Passphrase

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)


@given(json_values)
def test_parsing_any_json_never_raises(raw: object) -> None:
    for status in (raw, {"nodes": [raw], "alarms": [raw], "cameras": [raw], "health": raw,
                         "store": raw, "role": raw}):
        with pytest.raises(StatusMismatch):  # never a crash: one line naming the mismatch
            parse_status(status)
    for kind in (*schema.NOTICE_TYPES, "bogus"):
        with pytest.raises(schema.EventMismatch):  # an event too: one line, no crash
            LiveState().apply_event(kind, raw)


def test_status_parses_the_documented_shape() -> None:
    s = parse_status(base_status("ops"))
    assert s.role == Role.OPS and s.user == "uid 1000"  # the service names only the uid
    assert [n.id for n in s.nodes] == ["node-1", "node-2", "node-3"]
    assert s.nodes[0].channels[0].unit == "°C" and s.nodes[0].link.rejected_total == 4
    assert not s.nodes[2].paired
    assert s.alarms[0].id == "node-1/temp:limits" and s.alarms[0].needs_ack
    assert s.alarms[1].chattering and not s.alarms[1].needs_ack
    assert s.cameras[0].last_detection is not None and s.cameras[1].last_detection is None
    assert s.store.epoch == 472 and s.health.cpu_temp_c == 54.2


def test_a_status_of_another_shape_is_one_clear_line() -> None:
    raw = base_status("ops")
    raw["alarms"][0]["priority"] = 3  # a service that changed a field's type
    with pytest.raises(StatusMismatch) as caught:
        parse_status(raw)
    message = str(caught.value)
    assert "\n" not in message and "$.alarms[0].priority" in message
    del raw["alarms"]
    with pytest.raises(StatusMismatch, match="alarms"):
        parse_status(raw)


def test_readings_update_value_history_and_liveness() -> None:
    live = LiveState(history_points=3)
    live.apply_status(parse_status(base_status("view")))
    for v in (1.0, 2.0, 3.0, 4.0):
        changed = live.apply_event("reading", schema.to_wire(
            scripted_reading("node-2", "humidity", v, T0 + v, "%")))
        assert changed == {NODES}
    node = live.status.nodes[1]
    assert node.online and node.last_seen == T0 + 4.0 and node.channels[0].value == 4.0
    assert live.history("node-2", "humidity") == (2.0, 3.0, 4.0)


def test_a_reading_from_an_unknown_node_or_channel_adds_it() -> None:
    live = LiveState()
    live.apply_event("reading", schema.to_wire(scripted_reading("n9", "lux", 3.0, T0, "lx")))
    assert live.status.nodes[0].id == "n9" and live.status.nodes[0].channels[0].unit == "lx"


def test_an_event_of_another_shape_is_one_clear_line() -> None:
    wire = schema.to_wire(scripted_transition("n/t:limits", "raise", "normal", "active_unack",
                                              t=T0, value=1.0))
    for bad, named in (({**wire, "trigger_value": 1.0}, "trigger_value"),  # a renamed field
                       ({k: v for k, v in wire.items() if k != "seq"}, "seq")):
        with pytest.raises(schema.EventMismatch) as caught:
            LiveState().apply_event("alarm", bad)
        assert "\n" not in str(caught.value) and named in str(caught.value)


def test_alarm_transitions_and_answers_replace_by_id_and_normal_removes() -> None:
    live = LiveState()
    live.apply_status(parse_status(base_status("view")))
    alarm_id = "node-1/temp:limits"
    raised = scripted_transition(alarm_id, "ack", "active_unack", "active_ack", t=T0,
                                 value=90.0, user="tech", seq=41)
    assert live.apply_event("alarm", schema.to_wire(raised)) == {ALARMS}
    (mine,) = [x for x in live.status.alarms if x.id == alarm_id]
    assert mine.state == "active_ack" and mine.acked_by == "tech" and mine.value == 88.0
    assert mine.history[-1].event == "ack"
    answer = msgspec.structs.replace(scripted_alarm(alarm_id, "limits", "shelved", "critical",
                                                    "high", value=88.0, since=T0 - 120),
                                     shelve_reason="visit")
    assert live.apply_alarm(answer) == {ALARMS}
    (mine,) = [x for x in live.status.alarms if x.id == alarm_id]
    assert mine.state == "shelved" and mine.shelve_reason == "visit" and mine.history
    live.apply_event("alarm", schema.to_wire(scripted_transition(
        alarm_id, "clear", "shelved", "normal", t=T0 + 1, value=None)))
    assert all(x.id != alarm_id for x in live.status.alarms)


def test_detection_and_health_events() -> None:
    live = LiveState()
    raw = base_status("view")
    live.apply_status(parse_status(raw))
    assert live.apply_event("detection", schema.to_wire(
        scripted_detection("yard", "person", 0.9, T0, seq=7))) == {CAMERAS}
    assert live.status.cameras[1].last_detection.label == "person"  # type: ignore[union-attr]
    raw["store"]["epoch"] = 473
    assert live.apply_event("health", schema.to_wire(scripted_health(raw, with_sample=True))) \
        == {HEALTH, STORE}
    assert live.status.store.epoch == 473
    boiler = {**raw["nodes"][0], "online": False, "state": "offline"}
    assert live.apply_event("health", schema.to_wire(scripted_health(raw, [boiler]))) == {
        NODES, STORE}
    assert not live.status.nodes[0].online and len(live.status.nodes[0].channels) == 2
    assert live.apply_event("plate", schema.to_wire(schema.PlateNotice(
        seq=9, camera="gate", track_id=1, label="car", time=T0, first_seen=T0,
        confidence=0.9, agreeing=2, list=None, entry=None, priority=None))) == {CAMERAS, PLATES}
    (gate,) = [c for c in live.status.cameras if c.name == "gate"]
    assert gate.plate_reads == 1 and gate.plates == "1 read"  # one read more on its panel


def test_sparkline_scales_between_min_and_max() -> None:
    assert sparkline([0, 7], 10) == "▁█"
    assert sparkline([5, 5, 5], 2) == "▄▄"
    assert sparkline([1, 2, 3, 4], 2) == "▁█"  # only the last `width` values
    assert sparkline([], 5) == ""


def test_ago() -> None:
    assert ago(None, T0) == "—"
    assert [ago(T0 - d, T0) for d in (5, 120, 7200, 3 * 86400)] == ["5s", "2m", "2h", "3d"]


def test_alarm_sort_puts_action_first_and_filter_matches_text_and_state() -> None:
    alarms = [ModelAlarm("b", "b", state="active_ack", priority="urgent"),
              ModelAlarm("a", "a", state="active_unack", priority="low"),
              ModelAlarm("c", "pump/flow", state="active_unack", priority="high")]
    assert [a.id for a in sort_alarms(alarms)] == ["c", "a", "b"]
    assert [a.id for a in filter_alarms(alarms, "PUMP")] == ["c"]
    assert [a.id for a in filter_alarms(alarms, "", "active_ack")] == ["b"]


def test_retry_delay_backs_off_to_a_cap() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 10)] == [0.5, 1.0, 2.0, 5.0]


def test_session_key_auto_locks_after_idle_and_logs_without_secrets() -> None:
    from tui.session_key import SessionKey

    key = SessionKey(idle_s=60)
    ident = Identity(object())  # type: ignore[arg-type]
    key.unlock(ident, now=100.0)
    assert key.use(150.0) is ident  # use restarts the idle timer
    key.touch(200.0)
    assert key.unlocked and key.remaining(230.0) == 30.0
    assert not key.expire(259.0)
    assert key.expire(260.0) and not key.unlocked
    assert key.use(261.0) is None
    assert [e.what for e in key.log] == ["unlocked", "auto-locked after idle"]
    assert "unlocked=False" in repr(key)


def test_secrets_never_show_in_reprs() -> None:
    assert "hunter2" not in repr(Passphrase("hunter2")) + str(Passphrase("hunter2"))
    assert "AGE-SECRET" not in repr(Identity(object()))  # type: ignore[arg-type]


def test_config_validation_names_line_and_key() -> None:
    assert validate("[device]\nname = 'x'\n") is None
    problem = validate("[device]\nname = 'x'\n\n[health]\ninterval_s = -2\n")
    assert problem is not None and problem.line == 5 and problem.key == "health.interval_s"
    assert str(problem) == "line 5: health.interval_s: must be greater than 0, got -2"
    bad = validate("[device\n")
    assert bad is not None and "invalid TOML" in bad.message


def test_unified_diff_shows_the_change_only() -> None:
    diff = unified_diff("a = 1\nb = 2\n", "a = 1\nb = 3\n", "c.toml")
    assert "-b = 2" in diff and "+b = 3" in diff and "-a = 1" not in diff
    assert unified_diff("x\n", "x\n", "c.toml") == ""


@pytest.mark.parametrize("role", ["view", "ops", "admin"])
def test_role_order(role: str) -> None:
    r = Role.parse(role)
    assert Role.VIEW <= r <= Role.ADMIN and r.label == role
    assert dataclasses.replace(ModelStatus(), role=r).role == r


def test_the_running_service_status_shape_parses() -> None:
    """`controller.service.status()` + `you`: nodes by name, channels top-level."""
    mb = 1024 * 1024
    typed = msgspec.structs.replace(
        scripted_status("admin"), device="site", you=schema.You(uid=0, role="admin"),
        nodes=[scripted_node("6DA1", "north-door", "6DA1", "online", online=True, paired=True,
                     last_seen=T0, firmware="1.0.0", hz=None, frames_ok=9,
                     rejected={"bad_crc": 2})],
        channels=[msgspec.structs.replace(
            scripted_channel("north-door", "temperature", "C", 21.2, T0),
            history=[21.0, 21.1, 21.2])],
        alarms=[scripted_alarm("north-door/temperature:limits", "limits", "returned_unack",
                       "critical", "high", value=51.0, since=T0 - 6)],
        cameras=[scripted_camera("yard", "up", None)])
    assert typed.health is not None
    typed = msgspec.structs.replace(typed, health=msgspec.structs.replace(
        typed.health, cpu_percent=12.0, cpu_temp_c=None, memory_total_bytes=100,
        memory_available_bytes=75, filesystems=(schema.Filesystem(
            path="/", device=None, total_bytes=4 * mb, free_bytes=2 * mb, on_sd_card=False),)))
    raw = schema.to_wire(typed)
    s = parse_status(raw)
    assert s.role == Role.ADMIN and s.user == "uid 0"
    node = s.nodes[0]
    assert node.online and node.paired and node.link.rejected == {"bad_crc": 2}
    assert node.channels[0].name == "temperature" and node.channels[0].value == 21.2
    assert s.alarms[0].needs_ack and s.alarms[0].value == 51.0
    assert s.cameras[0].state == "running"
    assert s.health.memory_used_pct == 25.0 and s.health.disk_free_mb == 2.0
    live = LiveState()
    from tui.model import channel_histories

    live.apply_status(s, channel_histories(raw))
    assert live.history("north-door", "temperature") == (21.0, 21.1, 21.2)
    # a published transition updates the known alarm
    live.apply_event("alarm", schema.to_wire(scripted_transition(
        "north-door/temperature:limits", "ack", "returned_unack", "active_ack", t=T0,
        value=20.0, user="tech")))
    alarm = live.status.alarms[0]
    assert alarm.state == "active_ack" and alarm.value == 51.0  # an ack keeps the trigger
    assert alarm.history[-1].event == "ack" and alarm.history[-1].state == "active_ack"
    live.apply_event("alarm", schema.to_wire(scripted_transition(
        "north-door/temperature:limits", "clear", "active_ack", "normal", t=T0 + 1,
        value=None)))
    assert live.status.alarms == ()


def test_a_plate_camera_shows_its_reads_or_its_plate_state_in_the_cameras_panel() -> None:
    from rich.console import Console

    from tui.widgets.panels import render_cameras

    def plates(state: str, reads: int, reason: str | None = None) -> schema.Plates:
        return schema.Plates(mode="gate", state=state, reason=reason, offered=reads,
                             read=reads, dropped=0, plates=reads, failed=0)

    cameras = [scripted_camera("yard", "up", None),
               msgspec.structs.replace(scripted_camera("gate", "up", None),
                                       plates=plates("reading", 3)),
               msgspec.structs.replace(scripted_camera("dock", "up", None),
                                       plates=plates("unavailable", 0, "OCR model missing"))]
    typed = msgspec.structs.replace(scripted_status("admin"), cameras=cameras)
    s = parse_status(schema.to_wire(typed))
    assert [c.plates for c in s.cameras] == [None, "3 reads", "unavailable"]
    console = Console(width=80, record=True)
    console.print(render_cameras(s, T0))
    rows = {line.split()[0]: line for line in console.export_text().splitlines() if line}
    assert "plates" in rows["camera"]
    assert rows["gate"].rstrip().endswith("3 reads")
    assert rows["dock"].rstrip().endswith("unavailable")
    assert rows["yard"].rstrip().endswith("—")
    # without a plate camera the panel has no plates column
    console = Console(width=80, record=True)
    console.print(render_cameras(parse_status(schema.to_wire(msgspec.structs.replace(
        typed, cameras=cameras[:1]))), T0))
    assert "plates" not in console.export_text()


def test_plate_reads_and_the_plate_state_follow_plate_and_health_events() -> None:
    loading = schema.Plates(mode="gate", state="loading", reason=None, offered=0, read=0,
                            dropped=0, plates=0, failed=0)
    typed = msgspec.structs.replace(scripted_status("admin"), cameras=[
        msgspec.structs.replace(scripted_camera("gate", "up", None), plates=loading),
        scripted_camera("yard", "up", None)])
    live = LiveState()
    live.apply_status(parse_status(schema.to_wire(typed)))
    assert live.status.cameras[0].plates == "loading"
    # the periodic health event carries each plate camera's summary
    raw = schema.to_wire(typed)
    reading = msgspec.structs.replace(loading, state="reading")
    assert CAMERAS in live.apply_event("health", schema.to_wire(schema.HealthNotice(
        health=None, store=typed.store, nodes=None, plates={"gate": reading})))
    assert live.status.cameras[0].plates == "0 reads"

    def read(camera: str, verdict: str | None) -> set[str]:  # a read's notice: verdict only
        return live.apply_event("plate", schema.to_wire(schema.PlateNotice(
            seq=9, camera=camera, track_id=1, label="car", time=T0, first_seen=T0,
            confidence=0.9, agreeing=2, list=verdict, entry=None, priority=None)))

    assert read("gate", "watch") == {CAMERAS, PLATES}
    assert read("gate", None) == {CAMERAS, PLATES}
    assert live.status.cameras[0].plates == "2 reads"
    assert read("dock", None) == {PLATES}  # listed on the Plates screen, on no camera panel
    assert raw["cameras"][1]["plates"] is None
    assert live.status.cameras[1].plates is None
