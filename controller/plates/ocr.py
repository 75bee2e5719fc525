"""The PP-OCR text detector and recogniser that the rapidocr wheel ships, on onnxruntime.

The model files are opened by path from the installed wheel (or a directory given in the
config) and nothing is ever downloaded: a missing file is one clear `EdgewardenError`.
The recogniser's output is restricted to letters and digits (a plate has nothing else),
with every other class counted as a gap, so punctuation never displaces a character.
"""

from __future__ import annotations

import hashlib
import importlib.util
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from controller.errors import EdgewardenError

DET_MODEL = "PP-OCRv6_det_small.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"
REC_HEIGHT = 48
ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: characters that part a plate's groups of letters and of digits (besides spaces)
SEPARATORS = "-‐‑‒–—·•.:"
#: DB's unclip ratio: a text's shrunk region is grown by area * UNCLIP / perimeter
UNCLIP = 1.6
#: recognised lines remembered by their input: a photo's search reads some lines twice (a
#: two-line plate's lines alone and then joined; the padded variant of a line already as
#: wide as the padding), and reads a few dozen lines at most (up to 14 regions, a few rows
#: each, three variants); a line's key and read are under a kilobyte
RECENT_READS = 64


def default_model_dir() -> Path:
    """The `models/` folder of the installed rapidocr wheel (found without importing it)."""
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise EdgewardenError("the rapidocr package is not installed "
                              "(it ships the OCR models); run `uv sync`")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def model_path(model_dir: Path, name: str) -> Path:
    """The path of one model file; a missing file is one line naming it."""
    path = model_dir / name
    if not path.is_file():
        raise EdgewardenError(f"OCR model file missing: {path}")
    return path


def _session(path: Path, threads: int) -> Any:
    import onnxruntime as ort  # lazily: only a site that reads plates loads it

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # every crop has its own size: an arena grown to the largest input ever seen (the
    # whole-image text search) never shrinks, and memory patterns are planned (and kept)
    # per input shape; off, a service reading plates holds about 25 MB less at the same
    # speed (bench/service_footprint.py --camera), the shared photos' bench about 55 MB
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise EdgewardenError(f"cannot load OCR model {path}: "
                              f"{str(exc).splitlines()[0][:200]}") from None


def return_freed_heap() -> None:
    """Hand the heap that loading the models freed back to the OS (glibc's malloc_trim).

    onnxruntime parses each model file and optimises its graph in temporaries (about
    20 MB for the two shipped models) that glibc keeps in the loading thread's heap after
    they are freed, so they would count in the service's RSS for as long as it runs. Other
    C libraries: nothing to do."""
    import ctypes

    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim(0)


def _normalise(image: np.ndarray) -> np.ndarray:
    x = image.astype(np.float32) * (2.0 / 255.0) - 1.0
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


@dataclass(frozen=True)
class LineRead:
    """One recognised text line: letters and digits, and per-character confidences."""

    text: str
    char_conf: tuple[float, ...]
    #: per character, the most probable character of the other kind (a letter for a
    #: digit, a digit for a letter) and its probability, where the character was surest:
    #: the model's own choice where a format fixes the kind (empty: not known)
    other_kind: tuple[tuple[str, float], ...] = ()
    #: per character, its group: characters the model saw a space or a dash between
    #: are in different groups (a plate's groups are each of one kind, as in AYO-9034;
    #: empty: not known)
    groups: tuple[int, ...] = ()

    @property
    def confidence(self) -> float:
        return float(np.mean(self.char_conf)) if self.char_conf else 0.0


class TextRecogniser:
    """PP-OCR recognition of one text line, restricted to letters and digits."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        self._session = _session(path, threads)
        meta = self._session.get_modelmeta().custom_metadata_map
        if "character" not in meta:
            raise EdgewardenError(f"OCR model {path} carries no character list")
        chars = ["<blank>", *meta["character"].splitlines(), " "]
        #: the classes that part a plate's groups: a space, a dash, a dot
        self._separators = np.array([ch.isspace() or ch in SEPARATORS for ch in chars])
        # columns per alphanumeric class (upper and lower case together)
        self._columns: list[list[int]] = [[] for _ in ALNUM]
        self._recent: dict[bytes, LineRead] = {}  # oldest first
        for index, ch in enumerate(chars):
            up = ch.upper()
            if len(up) == 1 and up in ALNUM:
                self._columns[ALNUM.index(up)].append(index)

    @staticmethod
    def input_width(line: np.ndarray, max_ratio: float = 12.0) -> int:
        """The width the line is resized to (height `REC_HEIGHT`, its ratio kept up to
        `max_ratio`): padding to a `min_width` no larger changes nothing."""
        h, w = line.shape[:2]
        return int(min(max_ratio, max(w / max(h, 1), 1.0)) * REC_HEIGHT)

    def read(self, line: np.ndarray, max_ratio: float = 12.0, min_width: int = 0) -> LineRead:
        """Recognise a BGR crop of one text line.

        `min_width`: the input is padded (neutral grey) to at least this width, the way the
        model was trained (320); a short line then reads differently, a second opinion.
        """
        width = self.input_width(line, max_ratio)
        # shrunk by area (a tall line shrunk bilinearly aliases its strokes: a camera of
        # twice the shared photos' resolution read one more US plate exactly so)
        shrink = line.shape[0] > REC_HEIGHT
        resized = cv2.resize(line, (width, REC_HEIGHT),
                             interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        # the model's input is the resized line and the width it is padded to, no more:
        # the same pair gives the same output, so a line read before is not run again
        key = hashlib.blake2b(resized.tobytes(), digest_size=16,
                              person=struct.pack("<II", width, max(width, min_width))).digest()
        known = self._recent.get(key)
        if known is not None:
            return known
        tensor = _normalise(resized)
        if min_width > width:
            padded = np.zeros((1, 3, REC_HEIGHT, min_width), np.float32)
            padded[..., :width] = tensor
            tensor = padded
        probs = self._session.run(None, {"x": tensor})[0][0]  # (T, classes)
        read = self.decode(probs)
        self._recent[key] = read
        if len(self._recent) > RECENT_READS:
            del self._recent[next(iter(self._recent))]
        return read

    def decode(self, probs: np.ndarray) -> LineRead:
        """Greedy CTC decoding over letters, digits and a gap (every other class)."""
        alnum = np.stack([probs[:, cols].sum(axis=1) for cols in self._columns], axis=1)
        gap = 1.0 - alnum.sum(axis=1)
        best = alnum.argmax(axis=1)
        best_p = alnum[np.arange(len(best)), best]
        digits = len(ALNUM) - 26  # ALNUM: the digits, then the letters
        best_digit = alnum[:, :digits].argmax(axis=1)
        best_letter = alnum[:, digits:].argmax(axis=1) + digits
        text: list[str] = []
        conf: list[float] = []
        other: list[tuple[str, float]] = []
        groups: list[int] = []
        group = 0
        parted = self._separators[probs.argmax(axis=1)] if len(self._separators) == \
            probs.shape[1] else np.zeros(len(probs), bool)
        previous = -1
        for t in range(len(best)):
            if best_p[t] <= gap[t]:
                previous = -1
                if parted[t] and text and groups[-1] == group:
                    group += 1
                continue
            if best[t] == previous and best_p[t] <= conf[-1]:
                continue
            twin = int(best_letter[t] if best[t] < digits else best_digit[t])
            if best[t] == previous:  # the same character, surer here
                conf[-1], other[-1] = float(best_p[t]), (ALNUM[twin], float(alnum[t, twin]))
                continue
            previous = int(best[t])
            text.append(ALNUM[previous])
            conf.append(float(best_p[t]))
            other.append((ALNUM[twin], float(alnum[t, twin])))
            groups.append(group)
        return LineRead("".join(text), tuple(conf), tuple(other), tuple(groups))


@dataclass(frozen=True)
class TextBox:
    """A text region found by the detector: its four corners (x, y) and its score."""

    corners: np.ndarray  # (4, 2) float32, clockwise from top-left
    score: float


class TextDetector:
    """PP-OCR (DB) text detection on a small image: boxes of text lines."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        self._session = _session(path, threads)

    def detect(self, image: np.ndarray, thresh: float = 0.3, box_thresh: float = 0.5,
               unclip: float = UNCLIP) -> list[TextBox]:
        """Text lines of a BGR image (its sides are rounded to multiples of 32 inside)."""
        h, w = image.shape[:2]
        dh, dw = max(32, round(h / 32) * 32), max(32, round(w / 32) * 32)
        resized = cv2.resize(image, (dw, dh))
        prob = self._session.run(None, {"x": _normalise(resized)})[0][0, 0]
        mask = (prob > thresh).astype(np.uint8)
        mask = cv2.dilate(mask, np.ones((2, 2), np.uint8))
        contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        sx, sy = w / dw, h / dh
        boxes: list[TextBox] = []
        for contour in contours:
            if cv2.contourArea(contour) < 6:
                continue
            score = _mean_inside(prob, contour)
            if score < box_thresh:
                continue
            (cx, cy), (rw, rh), angle = cv2.minAreaRect(contour)
            area, perimeter = rw * rh, 2 * (rw + rh)
            grow = area * unclip / max(perimeter, 1e-6)
            rect = ((cx, cy), (rw + 2 * grow, rh + 2 * grow), angle)
            corners = order_corners(cv2.boxPoints(rect))
            corners[:, 0] *= sx
            corners[:, 1] *= sy
            boxes.append(TextBox(corners, score))
        return boxes


def _mean_inside(prob: np.ndarray, contour: np.ndarray) -> float:
    """The mean of `prob` over the pixels the filled `contour` covers.

    Drawn in a mask of the contour's bounding box only (a filled contour never leaves
    it), not of the whole map: the same pixels in the same order, so the same mean, at
    a cost of the box's size rather than the map's for each of a map's many contours."""
    x, y, bw, bh = cv2.boundingRect(contour)
    blob = np.zeros((bh, bw), np.uint8)
    cv2.drawContours(blob, [contour], -1, 1, -1, offset=(-x, -y))
    return float(prob[y:y + bh, x:x + bw][blob.astype(bool)].mean())


def order_corners(points: np.ndarray) -> np.ndarray:
    """Four points as top-left, top-right, bottom-right, bottom-left."""
    pts = np.asarray(points, dtype=np.float32).reshape(4, 2)
    s = pts.sum(axis=1)
    d = pts[:, 1] - pts[:, 0]
    return np.array([pts[s.argmin()], pts[d.argmin()], pts[s.argmax()], pts[d.argmax()]],
                    dtype=np.float32)


def rectify(image: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """The quadrilateral `corners` of `image` warped to an upright rectangle."""
    tl, tr, br, bl = corners
    width = int(max(float(np.linalg.norm(tr - tl)), float(np.linalg.norm(br - bl)), 2.0))
    height = int(max(float(np.linalg.norm(bl - tl)), float(np.linalg.norm(br - tr)), 2.0))
    target = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]],
                      dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), target)
    return cv2.warpPerspective(image, matrix, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
