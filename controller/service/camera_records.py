"""A camera's segments, events and live notices as records (the service's side).

Runs on the camera's thread: media are encrypted there, records are queued to the one
writer. A segment is one ``recording`` record naming its file; an event is a ``start``
record when it begins and an ``end`` record (snapshot, track, and the segments covering
it with pre- and post-roll) once its post-roll is recorded. Live notices go to control
socket subscribers as ``detection`` events with a ``phase`` (start, update, end), all
three sharing the ``event_id`` of the records; a start goes out once its record is
durable and carries that record's sequence number (`seq`), the others have no record of
their own (the ``end`` record comes a post-roll later) and carry None.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from controller.camera.segments import EncodedSegment
from controller.control.schema import to_wire
from controller.detect.events import DetectionEvent
from controller.errors import EdgewardenError
from controller.service.notices import detection_notice
from controller.store.records import MediaRef
from controller.store.writer import RecordWriter, Stored

log = logging.getLogger("camera")

Publish = Callable[[str, dict[str, Any]], None]


@dataclass
class CameraMedia:
    """Media this camera stored since the service started (for the rate in status)."""

    bytes_written: int = 0
    segments: int = 0
    since: float = 0.0


class CameraRecords:
    """Stores what the camera workers hand over; ``publish`` must be thread-safe."""

    def __init__(self, writer: RecordWriter, publish: Publish,
                 not_stored: Callable[[], None], clock: Callable[[], float] = time.time,
                 ) -> None:
        self.writer = writer
        self._publish = publish
        self._not_stored = not_stored
        self._clock = clock
        self._lock = threading.Lock()
        self.media: dict[str, CameraMedia] = {}
        # event id -> its later notices, held while its start record is not yet durable
        self._waiting: dict[str, list[dict[str, Any]]] = {}

    def _count(self, camera: str, size: int, segment: bool) -> None:
        with self._lock:
            m = self.media.setdefault(camera, CameraMedia(since=self._clock()))
            m.bytes_written += size
            m.segments += int(segment)

    def store_segment(self, camera: str, segment: EncodedSegment) -> MediaRef | None:
        try:
            ref = self.writer.add_media(segment.data, segment.content_type)
            self.writer.append("recording", camera, "info", {
                "camera": camera, "start": round(segment.start, 3),
                "end": round(segment.end, 3), "frames": segment.frames,
                "content_type": segment.content_type, "bytes": len(segment.data),
            }, media=[ref])
        except (EdgewardenError, ValueError) as exc:
            self._not_stored()
            log.warning("segment of %s not stored: %s", camera, exc)
            return None
        self._count(camera, len(segment.data), True)
        return ref

    def on_live(self, notice: dict[str, Any]) -> None:
        """An event started, goes on, or ended. A start is recorded and its notice goes out
        once the record is durable, under its sequence number; the event's later notices
        wait behind it, so a subscriber hears each event in order."""
        event_id = str(notice.get("event_id"))
        with self._lock:
            waiting = self._waiting.get(event_id)
            if waiting is not None:
                waiting.append(notice)
                return
            if notice.get("phase") == "start":
                self._waiting[event_id] = []
        if notice.get("phase") != "start":
            self._send(notice, None)
            return

        def stored(seq: int | None) -> None:
            with self._lock:  # held while sending: nothing of this event overtakes these
                self._send(notice, seq)
                for n in self._waiting.pop(event_id, []):
                    self._send(n, None)

        self._append(str(notice.get("camera")), {**notice}, [], stored)

    def _send(self, notice: dict[str, Any], seq: int | None) -> None:
        self._publish("detection", to_wire(detection_notice(notice, seq)))

    def on_event(self, event: DetectionEvent) -> None:
        """A finished event with its media: the ``end`` record of its stream."""
        refs: list[MediaRef] = []
        try:
            if event.snapshot_jpeg:
                refs.append(self.writer.add_media(event.snapshot_jpeg, "image/jpeg"))
                self._count(event.camera, len(event.snapshot_jpeg), False)
            if event.clip:
                kind = "video/mp4" if event.clip_format == "mp4" else "video/h264"
                refs.append(self.writer.add_media(event.clip, kind))
                self._count(event.camera, len(event.clip), False)
        except EdgewardenError as exc:
            log.warning("event media of %s not stored: %s", event.camera, exc)
        refs.extend(event.segments)  # already stored, once, by store_segment
        body: dict[str, Any] = dict(event.summary())
        body["phase"] = "end"
        body["event_id"] = event.event_id
        body["track"] = [{"t": p.time, "box": list(p.box), "score": p.score}
                         for p in event.track]
        # subscribers saw the end when it happened (on_live): this record comes a post-roll
        # later, and publishing it again would move "last detection" back in time
        self._append(event.camera, body, refs)

    def _append(self, camera: str, body: dict[str, Any], refs: list[MediaRef],
                on_stored: Stored | None = None) -> None:
        try:
            self.writer.append("event", camera, "warning", body, media=refs,
                               on_stored=on_stored)
        except (EdgewardenError, ValueError) as exc:
            self._not_stored()
            log.error("event of %s not stored: %s", camera, exc)
            if on_stored is not None:
                on_stored(None)
