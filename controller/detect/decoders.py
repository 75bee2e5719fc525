"""Pure output decoders: raw model output arrays -> class-indexed candidate detections.

No interpreter here: each function takes numpy arrays, so the decoders are tested on
recorded real outputs and on synthetic tensors alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from controller.detect.detection import Box, clip_box, iou

FloatArray = npt.NDArray[np.float32]
MAX_CANDIDATES = 1000


@dataclass(frozen=True)
class RawDetection:
    """A decoded candidate before labels and thresholds: class index, score, box."""

    class_index: int
    score: float
    box: Box


@dataclass(frozen=True)
class PostProcessRoles:
    """Which of the four TFLite_Detection_PostProcess outputs is which (by position)."""

    boxes: int
    classes: int
    scores: int
    count: int


class RolesUndecided(ValueError):
    """The classes and scores outputs cannot be told apart from these values alone."""


def postprocess_shape_roles(shapes: list[tuple[int, ...]]) -> tuple[int, int, list[int]] | None:
    """Boxes and count by shape; the two [1,N] tensors are returned undecided.

    Returns ``(boxes, count, [a, b])`` or None when the shapes are not the
    post-process family: one [1,N,4], two [1,N] and one [1] (or [1,1]).
    """
    if len(shapes) != 4:
        return None
    boxes = [i for i, s in enumerate(shapes) if len(s) == 3 and s[-1] == 4]
    if len(boxes) != 1:
        return None
    n = shapes[boxes[0]][1]
    pair = [i for i, s in enumerate(shapes) if i not in boxes and tuple(s) == (1, n)]
    count = [i for i in range(4) if i not in boxes and i not in pair]
    if n == 1 and len(pair) == 3:  # [1,1] count looks like the pair: the smallest is count
        pair, count = pair[:2], pair[2:]
    if len(pair) != 2 or len(count) != 1 or int(np.prod(shapes[count[0]])) != 1:
        return None
    return boxes[0], count[0], pair


def decide_classes_scores(
    first: npt.NDArray[Any], second: npt.NDArray[Any], count: int
) -> tuple[bool, bool]:
    """Tell classes from scores by their values: ``(a_is_classes, decided)``.

    Scores are in 0..1 and, from the post-process op, sorted in descending order;
    classes are whole numbers. Returns ``decided=False`` when the values fit both
    (e.g. no detections yet), so the caller can fall back and look again next frame.
    """
    a = np.asarray(first, dtype=np.float64).reshape(-1)[: max(count, 0)]
    b = np.asarray(second, dtype=np.float64).reshape(-1)[: max(count, 0)]

    def could_be_scores(v: npt.NDArray[np.float64]) -> bool:
        return bool(np.all((v >= 0.0) & (v <= 1.0)) and np.all(np.diff(v) <= 1e-6))

    def could_be_classes(v: npt.NDArray[np.float64]) -> bool:
        return bool(np.all(v >= 0.0) and np.all(np.abs(v - np.round(v)) < 1e-6))

    a_cls, b_cls = could_be_classes(a), could_be_classes(b)
    a_sc, b_sc = could_be_scores(a), could_be_scores(b)
    if a_cls and b_sc and not (b_cls and a_sc):
        return True, True
    if b_cls and a_sc and not (a_cls and b_sc):
        return False, True
    return True, False


def decode_postprocess(
    outputs: list[npt.NDArray[np.float32]], roles: PostProcessRoles, max_results: int | None = None
) -> list[RawDetection]:
    """The TFLite_Detection_PostProcess tensors (boxes as ymin,xmin,ymax,xmax) decoded."""
    boxes = np.asarray(outputs[roles.boxes], dtype=np.float32).reshape(-1, 4)
    classes = np.asarray(outputs[roles.classes], dtype=np.float32).reshape(-1)
    scores = np.asarray(outputs[roles.scores], dtype=np.float32).reshape(-1)
    count = int(np.asarray(outputs[roles.count]).reshape(-1)[0])
    n = max(0, min(count, len(scores), len(boxes)))
    if max_results is not None:
        n = min(n, max_results)
    out: list[RawDetection] = []
    for i in range(n):
        ymin, xmin, ymax, xmax = (float(v) for v in boxes[i])
        out.append(
            RawDetection(round(float(classes[i])), float(scores[i]),
                         clip_box((xmin, ymin, xmax, ymax)))
        )
    return out


def yolo_layout(shape: tuple[int, ...], num_labels: int | None) -> tuple[bool, bool] | None:
    """``(transposed, has_objectness)`` of a raw YOLO output, or None if not YOLO-like.

    [1,N,A] or [1,A,N] with A attributes per candidate: A = 5+C (cx,cy,w,h,obj,classes,
    YOLOv5) or A = 4+C (no objectness, YOLOv8). The attribute axis is the shorter one.
    Without a label count A is read as 5+C; with one, A == 4+C selects the v8 layout.
    """
    if len(shape) != 3 or shape[0] != 1:
        return None
    transposed = shape[1] < shape[2]
    attrs = shape[1] if transposed else shape[2]
    if attrs < 5:
        return None
    has_obj = not (num_labels is not None and attrs == 4 + num_labels)
    return transposed, has_obj


def decode_yolo(
    raw: npt.NDArray[np.float32],
    *,
    transposed: bool,
    has_objectness: bool,
    input_size: tuple[int, int],
    min_score: float,
    nms_iou: float,
    max_results: int = 100,
) -> list[RawDetection]:
    """Raw YOLO candidates (cx,cy,w,h[,obj],classes...) -> boxes after per-class NMS.

    Coordinates may be normalised or in input pixels (``input_size`` = width, height);
    values well above 1 are taken as pixels.
    """
    pred = np.asarray(raw, dtype=np.float32)[0]
    if transposed:
        pred = pred.T
    first_class = 5 if has_objectness else 4
    class_scores = pred[:, first_class:]
    if class_scores.shape[1] == 0:
        return []
    best = np.argmax(class_scores, axis=1)
    score = class_scores[np.arange(len(pred)), best]
    if has_objectness:
        score = score * pred[:, 4]
    keep = score >= min_score
    if not np.any(keep):
        return []
    pred, best, score = pred[keep], best[keep], score[keep]
    if len(score) > MAX_CANDIDATES:  # bound the quadratic NMS on a noisy frame
        top = np.argsort(-score, kind="stable")[:MAX_CANDIDATES]
        pred, best, score = pred[top], best[top], score[top]
    cx, cy, w, h = pred[:, 0], pred[:, 1], pred[:, 2], pred[:, 3]
    if float(np.max(np.abs(pred[:, :4]))) > 2.0:
        width, height = input_size
        cx, w = cx / width, w / width
        cy, h = cy / height, h / height
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    order = nms(boxes, score, best, nms_iou)[:max_results]
    return [
        RawDetection(int(best[i]), float(score[i]),
                     clip_box(tuple(float(v) for v in boxes[i])))  # type: ignore[arg-type]
        for i in order
    ]


def nms(
    boxes: npt.NDArray[np.float32],
    scores: npt.NDArray[np.float32],
    classes: npt.NDArray[np.integer],
    iou_threshold: float,
) -> list[int]:
    """Greedy per-class non-maximum suppression; indices kept, best score first."""
    order = list(np.argsort(-scores, kind="stable"))
    kept: list[int] = []
    for i in order:
        bi: Box = tuple(float(v) for v in boxes[i])  # type: ignore[assignment]
        suppressed = False
        for k in kept:
            if classes[k] != classes[i]:
                continue
            bk: Box = tuple(float(v) for v in boxes[k])  # type: ignore[assignment]
            if iou(bi, bk) > iou_threshold:
                suppressed = True
                break
        if not suppressed:
            kept.append(int(i))
    return kept
