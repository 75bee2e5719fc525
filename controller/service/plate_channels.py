"""The alarm channels of a camera's plate reads, and what their alarms say.

A watch or deny hit raises ``camera/<name>/plates/<list>/<priority>``, a vehicle on no
list (when the camera asks) ``.../plates/unknown/<priority>``, a reader that did not
load ``camera/<name>/plates/unavailable``. The channel names no plate: the read itself
stays in its encrypted record, so an alarm's line says where to find it. Kept apart from
`plate_records` (which imports OpenCV) so that every service can describe its alarms.
"""

from __future__ import annotations

ALARM_LISTS = ("watch", "deny", "unknown")


def plate_channel(camera: str, list_name: str, priority: str) -> str:
    return f"camera/{camera}/plates/{list_name}/{priority}"


def unavailable_channel(camera: str) -> str:
    """1 while the camera's plate reader could not be loaded."""
    return f"camera/{camera}/plates/unavailable"


def plate_alarm_message(channel: str) -> str | None:
    """One line for the alarm of a plate channel (None for any other channel)."""
    parts = channel.split("/")
    if len(parts) < 4 or parts[0] != "camera" or parts[2] != "plates":
        return None
    if parts[3:] == ["unavailable"]:
        return "plate reader not loaded: reads stopped (the service log says why)"
    if len(parts) == 5 and parts[3] in ALARM_LISTS:
        where = "on no list" if parts[3] == "unknown" else f"on the {parts[3]} list"
        return f"vehicle {where}: its read in Plates (9)"
    return None
