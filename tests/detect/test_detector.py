"""The Detector adapter against fake interpreters: state feedback, int8 input, YOLO, roles."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from controller.config.labels import parse_txt
from controller.detect.detector import Detector, DetectorOptions
from controller.detect.layout import inspect_model
from controller.detect.tensors import TensorInfo, tensor_info
from controller.detect.thresholds import ScoreThresholds


class FakeInterpreter:
    """Tensors by index; ``compute`` maps the inputs to the outputs on invoke."""

    def __init__(self, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]],
                 compute: Any) -> None:
        self.inputs, self.outputs, self.compute = inputs, outputs, compute
        self.tensors: dict[int, np.ndarray] = {}
        self.seen: list[dict[int, np.ndarray]] = []

    def get_input_details(self) -> list[dict[str, Any]]:
        return self.inputs

    def get_output_details(self) -> list[dict[str, Any]]:
        return self.outputs

    def set_tensor(self, index: int, value: np.ndarray) -> None:
        assert value.dtype == next(d["dtype"] for d in self.inputs if d["index"] == index)
        self.tensors[index] = np.array(value)

    def invoke(self) -> None:
        self.seen.append(dict(self.tensors))
        self.tensors.update(self.compute(self.tensors))

    def get_tensor(self, index: int) -> np.ndarray:
        return self.tensors[index]


def detail(name: str, index: int, shape: tuple[int, ...], dtype: Any,
           q: tuple[float, int] = (0.0, 0)) -> dict[str, Any]:
    return {"name": name, "index": index, "shape": np.array(shape), "dtype": dtype,
            "quantization": q}


def make(interp: FakeInterpreter, labels: str = "", threshold: float = 0.3) -> Detector:
    inputs = [tensor_info(d) for d in interp.inputs]
    outputs = [tensor_info(d) for d in interp.outputs]
    label_map = parse_txt(labels) if labels else parse_txt("a\nb\nc")
    layout = inspect_model("fake", inputs, outputs, len(label_map))
    return Detector(interp, layout, label_map, ScoreThresholds(threshold), DetectorOptions())


def stateful_ssd() -> FakeInterpreter:
    """Score of the one detection = the state's real value; state out = state in + 0.1.

    Output state scale 0.01, input state scale 0.02: feeding back must requantize.
    """
    inputs = [detail("image", 0, (1, 32, 32, 3), np.uint8, (1 / 128, 128)),
              detail("raw_inputs/init_lstm_c", 1, (1, 4), np.uint8, (0.02, 0))]
    outputs = [detail("scores", 10, (1, 5), np.float32), detail("boxes", 11, (1, 5, 4), np.float32),
               detail("count", 12, (1,), np.float32), detail("classes", 13, (1, 5), np.float32),
               detail("raw_outputs/lstm_c", 14, (1, 4), np.uint8, (0.01, 0))]

    def compute(t: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        state = float(t[1][0, 0]) * 0.02
        scores = np.zeros((1, 5), np.float32)
        scores[0, 0] = min(1.0, state)
        boxes = np.zeros((1, 5, 4), np.float32)
        boxes[0, 0] = [0.1, 0.2, 0.5, 0.6]
        classes = np.zeros((1, 5), np.float32)
        classes[0, 0] = 2
        new_state = np.full((1, 4), round((state + 0.1) / 0.01), np.uint8)
        return {10: scores, 11: boxes, 12: np.array([1.0], np.float32), 13: classes, 14: new_state}

    return FakeInterpreter(inputs, outputs, compute)


def test_state_is_fed_back_and_requantized() -> None:
    interp = stateful_ssd()
    detector = make(interp, threshold=0.0)
    frame = np.zeros((48, 64, 3), np.uint8)
    scores = [detector.detect(frame)[0].score for _ in range(4)]
    assert scores == pytest.approx([0.0, 0.1, 0.2, 0.3])
    (first, second) = interp.seen[0][1], interp.seen[1][1]
    assert first.tolist() == [[0, 0, 0, 0]] and second.tolist() == [[5, 5, 5, 5]]
    detector.reset_state()
    assert detector.detect(frame)[0].score == pytest.approx(0.0)


def test_roles_by_value_in_tf2_order_and_labels() -> None:
    detector = make(stateful_ssd(), threshold=0.0)
    (det,) = detector.detect(np.zeros((8, 8, 3), np.uint8))
    assert det.label == "c" and det.class_id == 2
    assert det.box == pytest.approx((0.2, 0.1, 0.6, 0.5))


def test_int8_yolo_model_input_and_output_quantisation() -> None:
    inputs = [detail("images", 0, (1, 16, 16, 3), np.int8, (1 / 255, -128))]
    outputs = [detail("out", 1, (1, 7, 30), np.int8, (1 / 200, -100))]  # [1, 5+C, N], C=2

    def compute(t: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        image = t[0]
        assert image.dtype == np.int8 and image.min() == -128 and image.max() == 127
        pred = np.zeros((30, 7), np.float32)
        pred[0] = [0.5, 0.5, 0.4, 0.4, 0.9, 0.1, 0.8]
        q = np.clip(np.round(pred / (1 / 200)) - 100, -128, 127).astype(np.int8)
        return {1: q.T[None]}

    interp = FakeInterpreter(inputs, outputs, compute)
    detector = make(interp, labels="cat\ndog")
    assert detector.family == "yolo"
    frame = np.zeros((16, 16, 3), np.uint8)
    frame[:8] = 255
    (det,) = detector.detect(frame)
    assert det.label == "dog" and det.score == pytest.approx(0.72, abs=0.02)
    assert det.box == pytest.approx((0.3, 0.3, 0.7, 0.7), abs=0.01)


def test_per_label_thresholds() -> None:
    thresholds = ScoreThresholds(0.5, {"car": 0.2})
    assert thresholds.for_label("car") == 0.2 and thresholds.lowest == 0.2
    from controller.detect.detection import Detection

    kept = thresholds.keep([Detection("car", 0.3, (0, 0, 1, 1)),
                            Detection("dog", 0.3, (0, 0, 1, 1))])
    assert [d.label for d in kept] == ["car"]


def test_tensor_info_is_read_from_interpreter_details() -> None:
    info = tensor_info(detail("x", 3, (1, 2), np.uint8, (0.5, 7)))
    assert info == TensorInfo("x", 3, (1, 2), np.dtype(np.uint8), 0.5, 7)
