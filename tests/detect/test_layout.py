"""Model inspection, state matching and quantisation, from tensor descriptions alone."""

from __future__ import annotations

import numpy as np
import pytest

from controller.detect.layout import NotADetector, PostProcessLayout, YoloLayout, inspect_model
from controller.detect.tensors import TensorInfo, pixel_lut, requantize, state_key, zero_state

U8, I8, F32 = np.dtype(np.uint8), np.dtype(np.int8), np.dtype(np.float32)


def t(name: str, index: int, shape: tuple[int, ...], dtype: np.dtype = F32,
      scale: float = 0.0, zp: int = 0) -> TensorInfo:
    return TensorInfo(name, index, shape, dtype, scale, zp)


TRAFFIC_INPUTS = [
    t("normalized_input_image_tensor", 424, (1, 256, 256, 3), U8, 0.0078125, 128),
    t("raw_inputs/init_lstm_c", 425, (1, 8, 8, 320), U8, 0.0235, 0),
    t("raw_inputs/init_lstm_h", 426, (1, 8, 8, 320), U8, 0.0235, 0),
]
POSTPROCESS = [
    t("TFLite_Detection_PostProcess", 316, (1, 40, 4)),
    t("TFLite_Detection_PostProcess:1", 317, (1, 40)),
    t("TFLite_Detection_PostProcess:2", 318, (1, 40)),
    t("TFLite_Detection_PostProcess:3", 319, (1,)),
]
STATES_OUT = [
    t("raw_outputs/lstm_h", 428, (1, 8, 8, 320), U8, 0.0235, 0),  # h listed first on purpose
    t("raw_outputs/lstm_c", 427, (1, 8, 8, 320), U8, 0.0235, 0),
]


def test_traffic_layout_feeds_each_state_back_by_name() -> None:
    layout = inspect_model("traffic.tflite", TRAFFIC_INPUTS, POSTPROCESS + STATES_OUT)
    assert layout.image.index == 424
    assert {(s.output.name, s.input.name) for s in layout.states} == {
        ("raw_outputs/lstm_c", "raw_inputs/init_lstm_c"),
        ("raw_outputs/lstm_h", "raw_inputs/init_lstm_h"),
    }
    assert isinstance(layout.head, PostProcessLayout)
    assert layout.family == "ssd-postprocess+state"


def test_state_matched_by_shape_when_names_say_nothing() -> None:
    inputs = [TRAFFIC_INPUTS[0], t("state_in", 1, (1, 16), U8, 0.1, 0)]
    outputs = [*POSTPROCESS, t("something_else", 9, (1, 16), U8, 0.2, 3)]
    (link,) = inspect_model("m", inputs, outputs).states
    assert link.output.name == "something_else"


def test_yolo_layout() -> None:
    layout = inspect_model("y", [t("images", 0, (1, 320, 320, 3), I8, 1 / 255, -128)],
                           [t("out", 1, (1, 2100, 85), I8, 0.005, -120)])
    assert isinstance(layout.head, YoloLayout)
    assert layout.family == "yolo"


def test_a_classifier_is_not_a_detector() -> None:
    with pytest.raises(NotADetector, match=r"mobilenet\.tflite: not a detector model.*\[1,1001\]"):
        inspect_model("mobilenet.tflite", [t("input", 0, (1, 224, 224, 3), U8, 0.0078, 128)],
                      [t("probs", 1, (1, 1001), U8, 0.0039, 0)])


def test_an_input_without_a_state_output_is_an_error() -> None:
    inputs = [*TRAFFIC_INPUTS[:1], t("raw_inputs/init_lstm_c", 5, (1, 8, 8, 320), U8, 0.02, 0)]
    with pytest.raises(NotADetector, match="no matching state output"):
        inspect_model("m", inputs, POSTPROCESS)


def test_no_image_input_is_an_error() -> None:
    with pytest.raises(NotADetector, match="no \\[1,H,W,3\\] image input"):
        inspect_model("audio.tflite", [t("wave", 0, (1, 16000))], POSTPROCESS)


def test_state_key() -> None:
    assert state_key("raw_inputs/init_lstm_c") == state_key("raw_outputs/lstm_c") == "lstm_c"


def test_pixel_lut_uses_the_models_quantisation() -> None:
    minus_one_to_one_u8 = pixel_lut(TRAFFIC_INPUTS[0])  # real = (q-128)/128
    assert minus_one_to_one_u8.dtype == U8
    assert int(minus_one_to_one_u8[0]) <= 1
    assert abs(int(minus_one_to_one_u8[128]) - 128) <= 1
    zero_to_one_i8 = pixel_lut(t("in", 0, (1, 8, 8, 3), I8, 1 / 255, -128))
    assert zero_to_one_i8.dtype == I8
    assert int(zero_to_one_i8[0]) == -128 and int(zero_to_one_i8[255]) == 127
    float_model = pixel_lut(t("in", 0, (1, 8, 8, 3)), (-1.0, 1.0))
    assert float_model[0] == pytest.approx(-1.0) and float_model[255] == pytest.approx(1.0)


def test_requantize_between_different_scales() -> None:
    src = t("out", 0, (4,), U8, 0.02, 10)
    dst = t("in", 1, (4,), U8, 0.04, 0)
    values = np.array([10, 30, 110, 250], np.uint8)  # real 0, 0.4, 2.0, 4.8
    assert requantize(values, src, dst).tolist() == [0, 10, 50, 120]
    same = requantize(values, src, src)
    assert same.tolist() == values.tolist() and same is not values
    assert zero_state(src).tolist() == [10, 10, 10, 10]
