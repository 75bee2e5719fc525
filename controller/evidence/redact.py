"""Blurring faces and licence plates in snapshots and clips before they leave for people
who must not see them (image work: OpenCV's shipped Haar cascades, the classical plate
locator and the detector's boxes).

Every frame gets the detector's boxes of the event (the whole track: a clip's frames carry
no timestamps to match single boxes against, so the object's path is obscured in all of
them) plus whatever the face and plate cascades and the plate locator
(controller/plates/locate.py, tens of ms a frame) find in that frame, plus the plates of
plate reads that were not selected. The plates of the selected plate reads stay readable
in their own crop and vehicle snapshot (`PlateBoxes.keep`, restored after the searches'
blur); a detector box is obscured over them all the same. An OpenCV without the
cascades (5.x wheels dropped them; the project pins 4.x) falls back to the boxes alone,
and media with neither are withheld from the bundle rather than shared unredacted (the
plate locator finds no faces, so it alone does not make media safe).
Regions are averaged down to a coarse grid (at most 8 cells across) and smoothly scaled
back up, which unlike a light Gaussian blur cannot be sharpened back into a recognisable
face or plate: all that is left of a region is its 64 cell averages.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from controller.plates.locate import candidates

Box = tuple[float, float, float, float]  # xmin, ymin, xmax, ymax normalised 0..1
Region = tuple[int, int, int, int]  # x, y, w, h in pixels
CASCADES = ("haarcascade_frontalface_default.xml", "haarcascade_russian_plate_number.xml")
_ENCODINGS = {"image/jpeg": ".jpg", "image/jpg": ".jpg", "image/png": ".png"}
_VIDEOS = {"video/mp4": ".mp4", "video/h264": ".h264"}
CLIP_TYPE = "video/mp4"  # redacted clips are re-encoded as MPEG-4 in an MP4 file
_CLIP_FPS = 15.0  # when the container does not say
_CLIP_CASCADE_HZ = 5.0  # clip frames searched by the cascades per second of video
_CLIP_CASCADE_WIDTH = 640  # and at most this wide (the cascades cost ~O(pixels))
_PAD = 0.08  # grow every region a little: detectors cut faces tight
_MERGE_GROWTH = 1.25
#: plate-shaped regions the locator proposes per frame (false ones only blur a little more)
_LOCATOR_LIMIT = 12
#: a located band of characters grown to the plate around it (share of width, of height)
_LOCATOR_GROW = (0.25, 0.6)
WHOLE: Box = (0.0, 0.0, 1.0, 1.0)


@dataclass(frozen=True)
class PlateBoxes:
    """Plates of plate reads in one image (normalised): `keep` those of the selected reads
    (left readable), `blur` those of the others."""

    keep: tuple[Box, ...] = ()
    blur: tuple[Box, ...] = ()


@dataclass(frozen=True)
class RedactedMedia:
    data: bytes
    content_type: str
    regions: int  # regions obscured (summed over the frames of a clip)
    methods: tuple[str, ...]
    frames: int = 1


def is_redactable(content_type: str) -> bool:
    return content_type.lower() in _ENCODINGS or content_type.lower() in _VIDEOS


def redact_media(data: bytes, content_type: str, boxes: Sequence[Box],
                 use_cascades: bool = True, plates: PlateBoxes | None = None) -> RedactedMedia:
    """A snapshot or a clip with every face, plate and box obscured but the plates to keep;
    ValueError if it cannot be done safely (the caller then withholds the media).
    `use_cascades` searches each image for faces and plates (cascades and locator)."""
    if content_type.lower() in _VIDEOS:
        return redact_clip(data, content_type, boxes, use_cascades)
    return redact_image(data, content_type, boxes, use_cascades, plates)


def boxes_in(body: Any) -> list[Box]:
    """Every normalised `"box": [x0, y0, x1, y1]` anywhere in an event record's body."""
    return list(_walk(body))


def plate_box_of(body: Any, role: str) -> Box | None:
    """Where the plate is in one medium of a plate record: all of its crop (`plate`), the
    body's `plate_box` in its vehicle snapshot (`vehicle`; None in reads made before the
    box was stored, whose snapshot is then searched like any image)."""
    if role == "plate":
        return WHOLE
    if role == "vehicle" and isinstance(body, dict):
        return _box(body.get("plate_box"))
    return None


def _box(value: Any) -> Box | None:
    """A normalised [x0, y0, x1, y1] with x0 < x1 and y0 < y1 inside 0..1, else None."""
    if (isinstance(value, list | tuple) and len(value) == 4
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
        x0, y0, x1, y1 = (float(v) for v in value)
        if 0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0:
            return (x0, y0, x1, y1)
    return None


def _walk(node: Any) -> Iterator[Box]:
    if isinstance(node, dict):
        box = _box(node.get("box"))
        if box is not None:
            yield box
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


@functools.lru_cache(maxsize=4)
def _cascade(name: str) -> Any:
    """The classifier, or None: OpenCV 5 wheels ship neither the class nor the XML files."""
    make = getattr(cv2, "CascadeClassifier", None)
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if make is None or folder is None:
        return None
    classifier = make(folder + name)
    return None if classifier.empty() else classifier


def cascades_available() -> bool:
    return all(_cascade(name) is not None for name in CASCADES)


def cascade_regions(image: np.ndarray, max_width: int | None = None) -> list[Region]:
    """Faces and plates found by OpenCV's shipped cascades (searched on a copy scaled
    down to ``max_width`` when given; regions are in ``image``'s pixels)."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    scale = 1.0
    if max_width is not None and gray.shape[1] > max_width:
        scale = gray.shape[1] / max_width
        gray = cv2.resize(gray, (max_width, max(1, round(gray.shape[0] / scale))),
                          interpolation=cv2.INTER_AREA)
    gray = cv2.equalizeHist(gray)
    found: list[Region] = []
    for name in CASCADES:
        classifier = _cascade(name)
        if classifier is None:
            continue
        hits = classifier.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=4,
                                               minSize=(16, 16))
        found.extend((int(x * scale), int(y * scale), int(np.ceil(w * scale)),
                      int(np.ceil(h * scale))) for x, y, w, h in hits)
    return found


def locator_regions(image: np.ndarray) -> list[Region]:
    """Plate-shaped regions the classical locator finds, each grown from its band of
    characters to the plate around it."""
    height, width = image.shape[:2]
    gx, gy = _LOCATOR_GROW
    out: list[Region] = []
    for c in candidates(image, _LOCATOR_LIMIT):
        mx, my = int((c.x1 - c.x0) * gx) + 4, int((c.y1 - c.y0) * gy) + 4
        x0, y0 = max(0, c.x0 - mx), max(0, c.y0 - my)
        x1, y1 = min(width, c.x1 + mx), min(height, c.y1 + my)
        if x1 > x0 and y1 > y0:
            out.append((x0, y0, x1 - x0, y1 - y0))
    return out


def box_regions(boxes: Sequence[Box], width: int, height: int) -> list[Region]:
    out = []
    for x0, y0, x1, y1 in boxes:
        px0, py0 = int(x0 * width), int(y0 * height)
        px1, py1 = round(x1 * width), round(y1 * height)
        if px1 > px0 and py1 > py0:
            out.append((px0, py0, px1 - px0, py1 - py0))
    return out


def merge_regions(regions: Sequence[Region], growth: float = _MERGE_GROWTH) -> list[Region]:
    """Fewer regions that still cover every one given.

    A track holds one box per analysed frame, and neighbouring boxes nearly coincide;
    obscuring each of hundreds of them in every frame of a clip costs minutes. Two regions
    merge when the rectangle around both is at most ``growth`` times the largest region
    that went into either, so what is obscured stays close to what was boxed.
    """
    merged: list[list[int]] = []  # x0, y0, x1, y1, area of the largest region merged in
    for x, y, w, h in regions:
        r = (x, y, x + w, y + h)
        area = w * h
        for m in merged:
            u = (min(m[0], r[0]), min(m[1], r[1]), max(m[2], r[2]), max(m[3], r[3]))
            largest = max(area, m[4])
            if (u[2] - u[0]) * (u[3] - u[1]) <= growth * largest:
                m[:] = [*u, largest]
                break
        else:
            merged.append([*r, area])
    return [(x0, y0, x1 - x0, y1 - y0) for x0, y0, x1, y1, _ in merged]


def obscure(image: np.ndarray, regions: Sequence[Region]) -> np.ndarray:
    """A copy with every region reduced to at most 8x8 cell averages, smoothly rescaled.

    (Bilinear upscaling of the cells looks like a heavy blur at a fraction of the cost of
    a Gaussian kernel a quarter of the region wide, which took 70 ms per large region.)
    """
    out = image.copy()
    height, width = out.shape[:2]
    for x, y, w, h in regions:
        px, py = int(w * _PAD), int(h * _PAD)
        x0, y0 = max(0, x - px), max(0, y - py)
        x1, y1 = min(width, x + w + px), min(height, y + h + py)
        if x1 <= x0 or y1 <= y0:
            continue
        roi = out[y0:y1, x0:x1]
        small = cv2.resize(roi, (max(1, min(8, x1 - x0)), max(1, min(8, y1 - y0))),
                           interpolation=cv2.INTER_AREA)
        out[y0:y1, x0:x1] = cv2.resize(small, (x1 - x0, y1 - y0),
                                       interpolation=cv2.INTER_LINEAR)
    return out


def _methods(boxes: Sequence[Box], use_cascades: bool,
             plates: PlateBoxes | None = None) -> tuple[str, ...]:
    methods = ["detector-boxes"] if boxes else []
    if use_cascades and cascades_available():
        methods.append("opencv-haar")
    if not methods:
        raise ValueError("no detector boxes in the record and OpenCV's Haar cascades are "
                         "not available: cannot be redacted safely")
    if use_cascades:
        methods.append("plate-locator")
    if plates is not None and plates.blur:
        methods.append("plate-reads")
    return tuple(methods)


def redact_frame(image: np.ndarray, boxed: Sequence[Region], found: Sequence[Region],
                 keep: Sequence[Region] = ()) -> np.ndarray:
    """`found` (faces, plates) obscured except inside `keep` (the selected reads' plates),
    then `boxed` (the detector's boxes) obscured over everything."""
    out = obscure(image, found)
    height, width = image.shape[:2]
    for x, y, w, h in keep:
        px, py = int(w * _PAD), int(h * _PAD)
        x0, y0 = max(0, x - px), max(0, y - py)
        x1, y1 = min(width, x + w + px), min(height, y + h + py)
        out[y0:y1, x0:x1] = image[y0:y1, x0:x1]
    return obscure(out, boxed) if boxed else out


def _searched(image: np.ndarray, methods: tuple[str, ...],
              cascade_width: int | None = None) -> list[Region]:
    """What the searches of `methods` find in one frame."""
    found = cascade_regions(image, cascade_width) if "opencv-haar" in methods else []
    if "plate-locator" in methods:
        found.extend(locator_regions(image))
    return found


class _ClipRedactor:
    """Obscures a clip's frames as they stream by.

    The cascades search one frame in ``step``; the frames between two searched ones get
    the regions of both (a face moves little in a fifth of a second, and obscuring more
    is the safe side), so at most ``step`` frames are held in memory.
    """

    def __init__(self, boxes: Sequence[Box], methods: tuple[str, ...], fps: float,
                 emit: Callable[[np.ndarray], None]) -> None:
        self.boxes = boxes
        self.methods = methods
        searching = "opencv-haar" in methods or "plate-locator" in methods
        self.step = max(1, round(fps / _CLIP_CASCADE_HZ)) if searching else 1
        self.emit = emit
        self.frames = 0
        self.regions = 0
        self._prev: list[Region] = []
        self._pending: list[np.ndarray] = []
        self._boxed: dict[tuple[int, int], list[Region]] = {}  # frame size -> regions

    def add(self, image: np.ndarray) -> None:
        if self.frames % self.step:
            self._pending.append(image)
        else:
            found = _searched(image, self.methods, _CLIP_CASCADE_WIDTH)
            for held in self._pending:
                self._write(held, self._prev + found)
            self._pending.clear()
            self._write(image, self._prev + found)
            self._prev = found
        self.frames += 1

    def finish(self) -> None:
        for held in self._pending:
            self._write(held, self._prev)
        self._pending.clear()

    def _write(self, image: np.ndarray, found: list[Region]) -> None:
        height, width = image.shape[:2]
        boxed = self._boxed.get((width, height))
        if boxed is None:
            boxed = merge_regions(box_regions(self.boxes, width, height))
            self._boxed[(width, height)] = boxed
        self.regions += len(boxed) + len(found)
        self.emit(redact_frame(image, boxed, found))


def redact_image(data: bytes, content_type: str, boxes: Sequence[Box],
                 use_cascades: bool = True, plates: PlateBoxes | None = None) -> RedactedMedia:
    """The image re-encoded in its own format with every face, plate and box obscured,
    but the plates of `plates.keep`."""
    ext = _ENCODINGS.get(content_type.lower())
    if ext is None:
        raise ValueError(f"cannot redact {content_type!r} media")
    plates = plates or PlateBoxes()
    methods = _methods(boxes, use_cascades, plates)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"media is not a decodable {content_type} image")
    height, width = image.shape[:2]
    boxed = merge_regions(box_regions(boxes, width, height))
    found = _searched(image, methods) + box_regions(plates.blur, width, height)
    keep = box_regions(plates.keep, width, height)
    ok, encoded = cv2.imencode(ext, redact_frame(image, boxed, found, keep))
    if not ok:
        raise ValueError(f"cannot re-encode redacted {content_type} image")
    return RedactedMedia(encoded.tobytes(), content_type, len(boxed) + len(found), methods)


def redact_clip(data: bytes, content_type: str, boxes: Sequence[Box],
                use_cascades: bool = True) -> RedactedMedia:
    """The clip decoded frame by frame, obscured, and re-encoded as MPEG-4 (mp4v).

    OpenCV reads and writes video only through files: both live in a private (0700)
    temporary directory that is removed before returning, as the clip recorder does.
    """
    ext = _VIDEOS.get(content_type.lower())
    if ext is None:
        raise ValueError(f"cannot redact {content_type!r} media")
    methods = _methods(boxes, use_cascades)
    work = Path(tempfile.mkdtemp(prefix="edgewarden-redact-"))
    try:
        src, dst = work / f"in{ext}", work / "out.mp4"
        fd = os.open(src, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        writer: cv2.VideoWriter | None = None

        def emit(image: np.ndarray) -> None:
            nonlocal writer
            if writer is None:
                height, width = image.shape[:2]
                os.close(os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                writer = cv2.VideoWriter(str(dst), cv2.VideoWriter.fourcc(*"mp4v"),
                                         reader.fps, (width, height))
                if not writer.isOpened():
                    raise ValueError("cannot open an MPEG-4 writer for the redacted clip")
            writer.write(image)

        with contextlib.closing(_Reader(src)) as reader:
            redactor = _ClipRedactor(boxes, methods, reader.fps, emit)
            try:
                for image in reader:
                    redactor.add(image)
                redactor.finish()
            finally:
                if writer is not None:
                    writer.release()
        if redactor.frames == 0:
            raise ValueError(f"media is not a decodable {content_type} clip")
        return RedactedMedia(dst.read_bytes(), CLIP_TYPE, redactor.regions, methods,
                             redactor.frames)
    finally:
        shutil.rmtree(work, ignore_errors=True)


class _Reader:
    """Frames of a video file; a frame that fails to decode ends the clip (bad tail)."""

    def __init__(self, path: Path) -> None:
        self._cap = cv2.VideoCapture(str(path))
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 1.0 <= fps <= 240.0 else _CLIP_FPS

    def __iter__(self) -> Iterator[np.ndarray]:
        while self._cap.isOpened():
            ok, image = self._cap.read()
            if not ok or image is None:
                return
            yield image

    def close(self) -> None:
        self._cap.release()
