"""What a plate alarm says: the list it hit and where its read is, never the plate (the
channel carries none). The alarm list and the Alarms screen showed only the channel, the
rule `limits` and the value 1."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from controller.anomaly.alarm import AlarmState, AlarmView
from controller.service.notices import alarm_of
from controller.service.plate_channels import (
    plate_alarm_message,
    plate_channel,
    unavailable_channel,
)
from tui.model import Alarm
from tui.screens.alarms import render_alarm_detail


@pytest.mark.parametrize(("list_name", "says"), [
    ("watch", "vehicle on the watch list"),
    ("deny", "vehicle on the deny list"),
    ("unknown", "vehicle on no list"),
])
def test_a_hit_names_its_list_and_where_the_read_is(list_name: str, says: str) -> None:
    line = plate_alarm_message(plate_channel("gate", list_name, "high"))
    assert line is not None and line.startswith(says) and "Plates" in line


def test_a_reader_that_did_not_load_says_so() -> None:
    line = plate_alarm_message(unavailable_channel("gate"))
    assert line is not None and "not loaded" in line


@pytest.mark.parametrize("channel", [
    "north-door/temperature", "camera/gate/plates", "camera/gate/plates/other/high",
    "camera/gate/detections/person", "sensor/x/plates/watch/high"])
def test_other_channels_have_no_plate_line(channel: str) -> None:
    assert plate_alarm_message(channel) is None


def test_status_lists_a_watch_alarm_with_its_line_and_the_screen_shows_it() -> None:
    channel = plate_channel("gate", "watch", "high")
    view = AlarmView(
        alarm_id=f"{channel}:limits", channel=channel, rule="limits",
        state=AlarmState.ACTIVE_UNACK, condition=True, severity="warning", priority="high",
        trigger_value=1.0, trigger_t=100.0, peak_value=1.0, acked_by="", acked_t=None,
        ack_comment="", shelved_by="", shelved_t=None, shelved_until=None, shelve_reason="",
        suppress_reason="", chatter_per_hour=1, chattering=False)
    wire = alarm_of(view, None)
    assert wire.message == plate_alarm_message(channel)
    shown = Alarm(id=wire.id, source=wire.channel, rule=wire.rule, message=wire.message or "",
                  priority=wire.priority, state=wire.state, value=wire.value, since=wire.since)
    out = io.StringIO()
    Console(file=out, width=80, color_system=None).print(render_alarm_detail(shown, 130.0))
    assert "vehicle on the watch list" in out.getvalue()


def test_a_long_line_takes_one_row_of_the_history_panel() -> None:
    """The panel has few rows at 80x24: a node's long line must not push its transitions
    out of view."""
    shown = Alarm(id="loading-bay:missing", source="loading-bay", rule="missing",
                  message="node offline: 4 channel(s) silent (door, humidity, temperature, "
                          "vibration)", priority="high", state="active_unack", since=100.0)
    out = io.StringIO()
    Console(file=out, width=80, color_system=None).print(render_alarm_detail(shown, 130.0))
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and lines[2].startswith("says") and "node offline" in lines[2]
