"""Decoders on recorded real traffic-model outputs and on synthetic SSD/YOLO tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from controller.config.labels import parse_pbtxt
from controller.detect.decoders import (
    PostProcessRoles,
    decide_classes_scores,
    decode_postprocess,
    decode_yolo,
    postprocess_shape_roles,
    yolo_layout,
)
from controller.detect.detection import iou

FIXTURE = Path(__file__).parent / "fixtures" / "traffic_postprocess.npz"
TRAFFIC_LABELS = parse_pbtxt(
    'item { name: "sedan" id: 1 }\nitem { name: "pickup_suv_van" id: 2 }\n'
    'item { name: "large_veh_bus" id: 3 }\n'
)
# Frame 0 of traffic_frames.mp4, boxes read by hand from the image (pixels of 960x540,
# divided by the size): the dark sedan at x 197..460, y 318..412; the black pickup
# entering on the right at x 795..960, y 305..402.
SEDAN_F0 = (0.205, 0.589, 0.479, 0.763)
PICKUP_F0 = (0.828, 0.565, 1.0, 0.744)


def traffic(frame_row: int, order: tuple[str, ...]) -> list[np.ndarray]:
    data = np.load(FIXTURE)
    return [data[name][frame_row] for name in order]


def decode_any_order(outputs: list[np.ndarray]):
    roles = postprocess_shape_roles([o.shape for o in outputs])
    assert roles is not None
    boxes, count, (a, b) = roles
    n = int(outputs[count].reshape(-1)[0])
    a_is_classes, decided = decide_classes_scores(outputs[a], outputs[b], n)
    assert decided
    classes, scores = (a, b) if a_is_classes else (b, a)
    return decode_postprocess(outputs, PostProcessRoles(boxes, classes, scores, count))


def test_recorded_traffic_outputs_find_the_sedan_and_the_pickup() -> None:
    dets = decode_any_order(traffic(0, ("boxes", "classes", "scores", "count")))
    assert len(dets) == 40
    named = [(TRAFFIC_LABELS.name(d.class_index), d) for d in dets if d.score >= 0.3]
    sedans = [d for label, d in named if label == "sedan"]
    pickups = [d for label, d in named if label == "pickup_suv_van"]
    assert max(iou(d.box, SEDAN_F0) for d in sedans) > 0.45
    assert max(iou(d.box, PICKUP_F0) for d in pickups) > 0.6


@pytest.mark.parametrize(
    "order",
    [
        ("boxes", "classes", "scores", "count"),
        ("scores", "boxes", "count", "classes"),
        ("count", "scores", "classes", "boxes"),
    ],
)
def test_postprocess_roles_found_in_any_output_order(order: tuple[str, ...]) -> None:
    standard = decode_any_order(traffic(2, ("boxes", "classes", "scores", "count")))
    permuted = decode_any_order(traffic(2, order))
    assert permuted == standard
    assert standard[0].score >= standard[-1].score
    assert all(0.0 <= v <= 1.0 for d in standard for v in d.box)


def test_recorded_boxes_are_converted_from_ymin_xmin_order() -> None:
    raw = traffic(0, ("boxes", "classes", "scores", "count"))
    ymin, xmin, ymax, xmax = raw[0][0, 0]
    det = decode_any_order(raw)[0]
    assert det.box == pytest.approx((max(xmin, 0), max(ymin, 0), min(xmax, 1), min(ymax, 1)))


def synthetic_ssd(n: int = 10, count: int = 3) -> dict[str, np.ndarray]:
    boxes = np.zeros((1, n, 4), np.float32)
    boxes[0, :3] = [[0.1, 0.2, 0.3, 0.4], [0.5, 0.5, 0.9, 0.7], [0.0, 0.0, 1.0, 1.0]]
    classes = np.zeros((1, n), np.float32)
    classes[0, :3] = [2, 0, 7]
    scores = np.zeros((1, n), np.float32)
    scores[0, :3] = [0.9, 0.6, 0.55]
    return {"boxes": boxes, "classes": classes, "scores": scores,
            "count": np.array([count], np.float32)}


@pytest.mark.parametrize(
    "order", [("boxes", "classes", "scores", "count"), ("scores", "boxes", "count", "classes")]
)
def test_synthetic_ssd_both_orders(order: tuple[str, ...]) -> None:
    t = synthetic_ssd()
    dets = decode_any_order([t[k] for k in order])
    assert [(d.class_index, round(d.score, 2)) for d in dets] == [(2, 0.9), (0, 0.6), (7, 0.55)]
    assert dets[0].box == pytest.approx((0.2, 0.1, 0.4, 0.3))


def test_classes_and_scores_undecided_without_detections() -> None:
    t = synthetic_ssd(count=0)
    _, decided = decide_classes_scores(t["classes"], t["scores"], 0)
    assert not decided


def test_shapes_that_are_not_postprocess() -> None:
    assert postprocess_shape_roles([(1, 1001)]) is None
    assert postprocess_shape_roles([(1, 10, 4), (1, 10), (1, 10), (1, 10)]) is None


def yolo_tensor(transposed: bool, pixels: bool) -> np.ndarray:
    num_classes = 3
    pred = np.zeros((20, 5 + num_classes), np.float32)  # N candidates > attributes
    # two overlapping candidates of class 1, one of class 2 at the same place, one weak
    pred[0, :5], pred[0, 5 + 1] = [0.5, 0.5, 0.2, 0.2, 0.9], 0.9
    pred[1, :5], pred[1, 5 + 1] = [0.51, 0.5, 0.2, 0.2, 0.8], 0.9
    pred[2, :5], pred[2, 5 + 2] = [0.5, 0.5, 0.2, 0.2, 0.9], 0.7
    pred[3, :5], pred[3, 5 + 0] = [0.2, 0.2, 0.1, 0.1, 0.1], 0.2
    if pixels:
        pred[:, :4] *= 320
    out = pred.T if transposed else pred
    return out[None]


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("pixels", [False, True])
def test_yolo_decode_with_nms(transposed: bool, pixels: bool) -> None:
    raw = yolo_tensor(transposed, pixels)
    layout = yolo_layout(raw.shape, None)
    assert layout == (transposed, True)
    dets = decode_yolo(raw, transposed=layout[0], has_objectness=layout[1],
                       input_size=(320, 320), min_score=0.25, nms_iou=0.45)
    assert [(d.class_index, round(d.score, 2)) for d in dets] == [(1, 0.81), (2, 0.63)]
    assert dets[0].box == pytest.approx((0.4, 0.4, 0.6, 0.6), abs=1e-5)


def test_yolo_v8_layout_needs_the_label_count() -> None:
    assert yolo_layout((1, 84, 8400), 80) == (True, False)
    assert yolo_layout((1, 84, 8400), None) == (True, True)
    assert yolo_layout((1, 1001), None) is None
