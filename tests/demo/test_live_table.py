"""The demo's live table (`demo --headless`) on a narrow terminal: names are never cut."""

from __future__ import annotations

import io

from rich.console import Console

from controller.cli.demo import _render
from controller.control import schema
from tests.service.status_sample import sample_status


def _alarm(alarm_id: str) -> schema.Alarm:
    return schema.Alarm(
        id=alarm_id, channel=alarm_id.split(":")[0], rule="limits", state="active_unack",
        condition=True, severity="warning", priority="high", value=1.0, since=None,
        peak=None, acked_by=None, acked_at=None, comment=None, shelved_by=None,
        shelved_until=None, shelve_reason=None, suppressed=None, chatter_per_hour=1,
        chattering=False, detail=None, message=None)


def test_an_alarm_name_wraps_on_80_columns_rather_than_ending_in_an_ellipsis() -> None:
    # a pipe is 80 columns wide: the watch alarm's name was cut to "...plates/watch/hi…"
    name = "camera/gate/plates/watch/high:limits"
    out = io.StringIO()
    Console(file=out, width=80, color_system=None).print(
        _render(sample_status(alarms=[_alarm(name)])))
    text = out.getvalue()
    assert "…" not in text
    cells = [line.split("│")[1].strip() for line in text.splitlines()
             if line.startswith("│")]
    assert "".join(cells) == name, text
