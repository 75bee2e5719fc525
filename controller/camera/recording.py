"""A camera's recording: encoder -> segment keeper -> record store (the I/O side).

Segments the keeper keeps are handed to a :class:`SegmentStore` (the service encrypts each
one once, names it by its hash and chains it with a ``recording`` record). The recorder
remembers the stored segments of the last minutes so that events can name the ones that
cover their time range with pre- and post-roll.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from controller.camera.media import MediaRef
from controller.camera.segment_keeper import SegmentKeeper
from controller.camera.segments import (
    EncodedSegment,
    OpenCvSegmentEncoder,
    PyAvSegmentEncoder,
    SegmentEncoder,
)
from controller.config import CameraConfig

log = logging.getLogger("camera")


@dataclass(frozen=True)
class StoredSegment:
    start: float
    end: float
    frames: int
    ref: MediaRef


class SegmentStore(Protocol):
    def store_segment(self, camera: str, segment: EncodedSegment) -> MediaRef | None:
        """Store one segment; None when it could not be stored (counted by the store)."""


@dataclass
class RecordingStats:
    segments_encoded: int = 0
    segments_stored: int = 0
    segments_not_stored: int = 0
    bytes_stored: int = 0


class SegmentRecorder:
    """Encodes every frame once and keeps the segments the keeper wants."""

    def __init__(self, camera: str, encoder: SegmentEncoder, keeper: SegmentKeeper[EncodedSegment],
                 store: SegmentStore, remember_s: float = 600.0) -> None:
        self.camera = camera
        self.encoder = encoder
        self.keeper = keeper
        self.store = store
        self.remember_s = remember_s
        self.stats = RecordingStats()
        self._stored: deque[StoredSegment] = deque()
        self.closed_until = float("-inf")  # end of the last closed segment

    @property
    def codec(self) -> str:
        return self.encoder.codec

    def add(self, image: npt.NDArray[np.uint8], time: float) -> None:
        segment = self.encoder.add(image, time)
        if segment is not None:
            self._closed(segment)

    def want(self, start: float, until: float) -> None:
        """An event covers start..until so far."""
        self._store(self.keeper.want(start, until))

    def finish(self, time: float) -> None:
        """End of input: close the segment being written."""
        for segment in self.encoder.flush(time):
            self._closed(segment)
        self.closed_until = float("inf")

    def replace_encoder(self, encoder: SegmentEncoder) -> None:
        """The camera was reopened with a new encoder: keep what the old one finished."""
        old, self.encoder = self.encoder, encoder
        for segment in old.flush(self.closed_until):
            self._closed(segment)
        old.close()

    def close(self) -> None:
        self.encoder.close()

    def covering(self, start: float, end: float) -> tuple[StoredSegment, ...]:
        """Stored segments overlapping start..end, oldest first."""
        return tuple(s for s in self._stored if s.start < end and s.end > start)

    def _closed(self, segment: EncodedSegment) -> None:
        self.stats.segments_encoded += 1
        self.closed_until = max(self.closed_until, segment.end)
        self._store(self.keeper.offer(segment))

    def _store(self, segments: list[EncodedSegment]) -> None:
        for segment in segments:
            ref = self.store.store_segment(self.camera, segment)
            if ref is None:
                self.stats.segments_not_stored += 1
                continue
            self.stats.segments_stored += 1
            self.stats.bytes_stored += len(segment.data)
            self._stored.append(StoredSegment(segment.start, segment.end, segment.frames, ref))
        horizon = self.closed_until - self.remember_s
        while self._stored and self._stored[0].end < horizon:
            self._stored.popleft()


def segment_encoder_for(source: object, cfg: CameraConfig) -> SegmentEncoder:
    """The backend's own encoder when it has one (picamera2's hardware H.264), else
    libx264 through PyAV, else OpenCV's mp4v."""
    own = getattr(source, "segment_encoder", None)
    if callable(own):
        encoder: SegmentEncoder = own()
        return encoder
    segment_s = max(1.0, cfg.segment_s)
    if PyAvSegmentEncoder.available():
        return PyAvSegmentEncoder(segment_s, cfg.fps, cfg.h264_bitrate, cfg.h264_crf)
    log.warning("camera %s: PyAV with libx264 not available, recording MPEG-4 (mp4v)",
                cfg.name)
    return OpenCvSegmentEncoder(segment_s, cfg.fps)


def make_segment_recorder(cfg: CameraConfig, source: object,
                          store: SegmentStore) -> SegmentRecorder | None:
    """The camera's recorder for its recording mode (None when recording is off)."""
    if cfg.recording == "off":
        return None
    keeper: SegmentKeeper[EncodedSegment] = SegmentKeeper(cfg.recording, cfg.pre_roll_s,
                                                          cfg.post_roll_s)
    return SegmentRecorder(cfg.name, segment_encoder_for(source, cfg), keeper, store)
