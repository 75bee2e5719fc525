"""A camera's plate reads as records, matched against the vehicle register (service side).

Runs on a camera's plate thread. Each read becomes one ``plate`` record: the text, the
register's verdict and the timing live only in the encrypted body (the plaintext header
is kind, camera and severity, as for every record); the plate crop and the vehicle
snapshot are age-encrypted media. A ``watch`` or ``deny`` hit (exact, then fuzzy) raises
an ISA-18.2 alarm on the channel ``camera/<name>/plates/<list>/<priority>``, a vehicle on
no list optionally one on ``.../plates/unknown/<priority>``; an ``allow`` hit is only
recorded. Channels carry no plate text, so alarm records do not leak it either.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import cv2

from controller.anomaly.desk import AlarmDesk
from controller.config import CameraConfig, ChannelRulesConfig, Priority
from controller.errors import EdgewardenError
from controller.plates.register import Register
from controller.plates.stage import PlateStage, TrackPlate
from controller.store.records import MediaRef
from controller.store.writer import RecordWriter

log = logging.getLogger("plates")

PRIORITIES: tuple[Priority, ...] = ("low", "medium", "high", "urgent")
ALARM_LISTS = ("watch", "deny", "unknown")
#: the register names its top priority "critical", the alarm desk "urgent"
DESK_PRIORITY = {"low": "low", "medium": "medium", "high": "high", "critical": "urgent"}
#: raises the alarm of a channel at wall time t (called on a plate thread)
RaiseAlarm = Callable[[str, float], None]


def plate_channel(camera: str, list_name: str, priority: str) -> str:
    return f"camera/{camera}/plates/{list_name}/{priority}"


def plate_rules(cameras: Sequence[CameraConfig]) -> dict[str, ChannelRulesConfig]:
    """The desk's rules of the plate channels: a hit is a 1, gone again at once."""
    return {plate_channel(cam.name, lst, prio): ChannelRulesConfig(high_warning=0.5,
                                                                   priority=prio)
            for cam in cameras if cam.plates for lst in ALARM_LISTS for prio in PRIORITIES}


def open_plate_stage(cam: CameraConfig, on_read: Callable[[TrackPlate], None]) -> PlateStage:
    """The camera's plate stage with the shipped OCR models (onnxruntime loads here only)."""
    from controller.plates.reader import PlateReader
    from controller.service.plate_models import open_plate_finder

    finder = None if cam.plate_model is None else open_plate_finder(
        cam.plate_model, cam.plate_model_threshold)
    # in tracks mode the reader gets vehicle crops, cut at the box: a plate may touch it
    reader = PlateReader(finder=finder, whole_frames=cam.plates_mode == "gate")
    stage = PlateStage(cam, reader.read, on_read)
    stage.start()
    return stage


class PlateRecords:
    """Stores plate reads and raises the register's alarms."""

    def __init__(self, writer: RecordWriter, register: Callable[[], Register],
                 raise_alarm: RaiseAlarm, not_stored: Callable[[], None],
                 publish: Callable[[str, Any], None] | None = None) -> None:
        self.writer = writer
        self._register = register
        self._raise = raise_alarm
        self._not_stored = not_stored
        self._publish = publish

    def on_read(self, cam: CameraConfig, read: TrackPlate) -> None:
        match = self._register().match(read.text, cam.plate_match_distance)
        refs: list[MediaRef] = []
        try:
            for image in (read.plate, read.vehicle):
                ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
                if ok:
                    refs.append(self.writer.add_media(jpeg.tobytes(), "image/jpeg"))
        except EdgewardenError as exc:
            log.warning("plate media of %s not stored: %s", cam.name, exc)
        body: dict[str, Any] = {
            "camera": cam.name, "track_id": read.track_id, "label": read.label,
            "text": read.text, "confidence": round(read.confidence, 3),
            "agreeing": read.agreeing, "attempts": read.attempts,
            "first_seen": round(read.first_seen, 3), "time": round(read.read_at, 3),
            "list": match.entry.list if match else None,
            "match": None if match is None else {
                "plate": match.entry.plate, "distance": match.distance,
                "label": match.entry.label, "priority": match.entry.alarm_priority},
            "media": ["plate", "vehicle"][:len(refs)],
        }
        alarm = match is not None and match.entry.list in ("watch", "deny")
        try:
            self.writer.append("plate", cam.name, "warning" if alarm else "info", body,
                               media=refs)
        except (EdgewardenError, ValueError) as exc:
            self._not_stored()
            log.error("plate read of %s not stored: %s", cam.name, exc)
        if self._publish is not None:
            self._publish("plate", plate_notice(body))
        if match is not None and alarm:
            priority = DESK_PRIORITY.get(match.entry.alarm_priority, "urgent")
            self._raise(plate_channel(cam.name, match.entry.list, priority), read.read_at)
        elif match is None and cam.plate_unknown_alarm:
            self._raise(plate_channel(cam.name, "unknown", cam.plate_unknown_priority),
                        read.read_at)


def plate_notice(body: dict[str, Any]) -> dict[str, Any]:
    """What subscribers (the TUI, the forwarder) hear of a read: the verdict, never the
    plate text, which stays inside the encrypted record."""
    match = body.get("match") or {}
    return {"camera": body["camera"], "track_id": body["track_id"], "label": body["label"],
            "time": body["time"], "first_seen": body["first_seen"],
            "confidence": body["confidence"], "agreeing": body["agreeing"],
            "list": body["list"], "entry": match.get("label"),
            "priority": match.get("priority")}


def camera_plate_stage(cam: CameraConfig, records: PlateRecords) -> PlateStage | None:
    """The plate stage of a camera with `plates = true` (None for the others)."""
    if not cam.plates:
        return None
    return open_plate_stage(cam, lambda read: records.on_read(cam, read))


def desk_alarm(loop: asyncio.AbstractEventLoop,
               desk: Callable[[], AlarmDesk | None]) -> RaiseAlarm:
    """Raise a plate channel's alarm on the service's loop: a 1, then back to 0."""

    def raise_alarm(channel: str, t: float) -> None:
        def observe() -> None:
            current = desk()
            if current is not None:
                current.observe(channel, t, 1.0)
                current.observe(channel, t + 0.001, 0.0)

        loop.call_soon_threadsafe(observe)

    return raise_alarm
