"""A camera's plate reads as records, matched against the vehicle register (service side).

Runs on a camera's plate thread. Each read becomes one ``plate`` record: the text, the
register's verdict, the timing and the plate's box in the vehicle snapshot live only in
the encrypted body (the plaintext header is kind, camera and severity, as for every
record); the plate crop and the vehicle snapshot are age-encrypted media. The severity is
the read's retention class, since retention sees only headers: ``warning`` for a watch or
deny hit, ``info`` for an allow hit, ``unlisted`` for a vehicle on no list (kept the
shorter ``retention_days.plate_unlisted``). It says listed or not, never the plate.
A ``watch`` or ``deny`` hit (exact, then fuzzy) raises
an ISA-18.2 alarm on the channel ``camera/<name>/plates/<list>/<priority>``, a vehicle on
no list optionally one on ``.../plates/unknown/<priority>``, held active until no such
read came for ``SIGHTING_HOLD_S``; an ``allow`` hit is only recorded. Channels carry no
plate text, so alarm records do not leak it either.
A camera whose reader cannot be loaded (a missing model file) holds an alarm on
``camera/<name>/plates/unavailable`` until a reader loads.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import cv2

from controller.anomaly.desk import AlarmDesk
from controller.config import CameraConfig, ChannelRulesConfig, Priority
from controller.control.schema import to_wire
from controller.errors import EdgewardenError
from controller.plates.register import Register
from controller.plates.stage import PlateStage, ReadFn, TrackPlate
from controller.service.notices import plate_notice
from controller.service.plate_channels import ALARM_LISTS, plate_channel, unavailable_channel
from controller.store.records import MediaRef
from controller.store.retention_class import UNLISTED
from controller.store.writer import RecordWriter

log = logging.getLogger("plates")

PRIORITIES: tuple[Priority, ...] = ("low", "medium", "high", "urgent")
#: the register names its top priority "critical", the alarm desk "urgent"
DESK_PRIORITY = {"low": "low", "medium": "medium", "high": "high", "critical": "urgent"}
#: a sighting holds its alarm active this long: another read of a listed vehicle within
#: it (a new track of the same visit) is the same alarm, not a new one
SIGHTING_HOLD_S = 60.0
#: raises the alarm of a channel at wall time t (called on a plate thread)
RaiseAlarm = Callable[[str, float], None]
#: sets a channel to a value at wall time t (called on a plate thread)
SetChannel = Callable[[str, float, float], None]
#: makes a camera's plate reader; runs on the camera's plate thread, so a slow load never
#: holds the service's loop (the service's `plate_reader` seam: tests pass slow or failing ones)
ReaderLoader = Callable[[CameraConfig], ReadFn]


def plate_rules(cameras: Sequence[CameraConfig]) -> dict[str, ChannelRulesConfig]:
    """The desk's rules of the plate channels: a hit is a 1, gone again at once; a reader
    that did not load is a 1 until one does."""
    rules = {plate_channel(cam.name, lst, prio): ChannelRulesConfig(high_warning=0.5,
                                                                    priority=prio)
             for cam in cameras if cam.plates for lst in ALARM_LISTS for prio in PRIORITIES}
    rules.update({unavailable_channel(cam.name): ChannelRulesConfig(high_warning=0.5,
                                                                    priority="high")
                  for cam in cameras if cam.plates})
    return rules


def shipped_reader(cam: CameraConfig,
                   site_formats: Mapping[str, str | Sequence[str]] | None = None) -> ReadFn:
    """The reader with the OCR models shipped in the rapidocr wheel (onnxruntime loads
    here only, so a site without plates never imports it), fitting reads to the camera's
    `plate_formats` (`site_formats`: the config's `[plate_formats]`, for the site's own)."""
    from controller.plates.formats import formats_named
    from controller.plates.reader import PlateReader
    from controller.service.plate_models import open_plate_finder

    finder = None if cam.plate_model is None else open_plate_finder(
        cam.plate_model, cam.plate_model_threshold)
    # in tracks mode the reader gets vehicle crops, cut at the box: a plate may touch it;
    # the service runs for months, so each read's freed heap goes back to the OS
    return PlateReader(formats_named(cam.plate_formats, site_formats), finder=finder,
                       whole_frames=cam.plates_mode == "gate", return_heap=True).read


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
        roles: list[str] = []  # what each of `refs` shows, in order
        try:
            for role, image in (("plate", read.plate), ("vehicle", read.vehicle)):
                ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
                if ok:
                    refs.append(self.writer.add_media(jpeg.tobytes(), "image/jpeg"))
                    roles.append(role)
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
            "media": roles,
            # where the plate is in the vehicle snapshot (normalised), so a redacted export
            # can leave this read's plate readable and blur every other (evidence/redact.py)
            "plate_box": plate_box(read.box, read.vehicle.shape[1], read.vehicle.shape[0]),
        }
        alarm = match is not None and match.entry.list in ("watch", "deny")
        severity = UNLISTED if match is None else "warning" if alarm else "info"
        publish = self._publish

        def stored(seq: int | None) -> None:  # its notice names the durable record
            if publish is not None:
                publish("plate", to_wire(plate_notice(body, seq)))

        try:
            self.writer.append("plate", cam.name, severity, body, media=refs, on_stored=stored)
        except (EdgewardenError, ValueError) as exc:
            self._not_stored()
            log.error("plate read of %s not stored: %s", cam.name, exc)
            stored(None)
        if match is not None and alarm:
            priority = DESK_PRIORITY.get(match.entry.alarm_priority, "urgent")
            self._raise(plate_channel(cam.name, match.entry.list, priority), read.read_at)
        elif match is None and cam.plate_unknown_alarm:
            self._raise(plate_channel(cam.name, "unknown", cam.plate_unknown_priority),
                        read.read_at)


def plate_box(box: tuple[int, int, int, int], width: int, height: int) -> list[float]:
    """A pixel box in an image of this size as normalised [x0, y0, x1, y1]."""
    x0, y0, x1, y1 = box
    return [round(min(max(v / size, 0.0), 1.0), 4)
            for v, size in ((x0, width), (y0, height), (x1, width), (y1, height))]


def camera_plate_stage(cam: CameraConfig, records: PlateRecords, set_channel: SetChannel,
                       load: ReaderLoader = shipped_reader) -> PlateStage | None:
    """The started plate stage of a camera with `plates = true` (None for the others);
    its reader loads on the stage's thread, and whether it did is the camera's
    `plates/unavailable` channel."""
    if not cam.plates:
        return None

    def on_state(state: str, reason: str | None) -> None:
        set_channel(unavailable_channel(cam.name), time.time(),
                    1.0 if state == "unavailable" else 0.0)

    stage = PlateStage(cam, None, lambda read: records.on_read(cam, read),
                       load=lambda: load(cam), on_state=on_state)
    stage.start()
    return stage


def desk_alarm(loop: asyncio.AbstractEventLoop, desk: Callable[[], AlarmDesk | None],
               hold_s: float = SIGHTING_HOLD_S) -> RaiseAlarm:
    """Raise a plate channel's alarm on the service's loop: a 1, back to 0 once `hold_s`
    pass without another sighting on that channel (ISA-18.2's off-delay).

    A listed vehicle waiting at a gate, or lost and found again by the tracker, is read
    once per track: each read returning its alarm to normal at once made one alarm
    chatter in and out for one visit (the demo's looping clip showed it)."""
    pending: dict[str, asyncio.TimerHandle] = {}

    def clear(channel: str) -> None:
        pending.pop(channel, None)
        _observe(desk, channel, time.time(), 0.0)

    def sighted(channel: str, t: float) -> None:
        held = pending.pop(channel, None)
        if held is not None:
            held.cancel()  # still active: the hold starts again from this sighting
        _observe(desk, channel, t, 1.0)
        pending[channel] = loop.call_later(hold_s, clear, channel)

    def raise_alarm(channel: str, t: float) -> None:
        loop.call_soon_threadsafe(sighted, channel, t)

    return raise_alarm


def desk_channel(loop: asyncio.AbstractEventLoop,
                 desk: Callable[[], AlarmDesk | None]) -> SetChannel:
    """Set a plate channel on the service's loop (from a plate thread)."""

    def set_channel(channel: str, t: float, value: float) -> None:
        loop.call_soon_threadsafe(_observe, desk, channel, t, value)

    return set_channel


def _observe(desk: Callable[[], AlarmDesk | None], channel: str, t: float,
             value: float) -> None:
    """A channel's value at wall time t to the desk, if it is up (on the service's loop)."""
    current = desk()
    if current is not None:
        current.observe(channel, t, value)
