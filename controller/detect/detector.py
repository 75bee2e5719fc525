"""The on-device detector: a LiteRT interpreter plus the decoder its tensors call for.

Frames come in as BGR uint8 (OpenCV and picamera2 "RGB888" order); the detector
resizes, converts and quantises them, invokes the model, feeds recurrent state back,
and returns labelled detections above the score thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from controller.config import DetectConfig
from controller.config.labels import LabelMap, load_labels, numbered_labels
from controller.detect.decoders import (
    PostProcessRoles,
    RawDetection,
    decide_classes_scores,
    decode_postprocess,
    decode_yolo,
)
from controller.detect.detection import Detection
from controller.detect.interpreter import open_interpreter
from controller.detect.layout import ModelLayout, PostProcessLayout, YoloLayout, inspect_model
from controller.detect.tensors import dequantize, pixel_lut, requantize, tensor_info, zero_state
from controller.detect.thresholds import ScoreThresholds
from controller.errors import UsageError


@dataclass(frozen=True)
class DetectorOptions:
    threads: int = 2
    nms_iou: float = 0.45
    float_input_range: tuple[float, float] = (0.0, 1.0)


class Detector:
    """One model, one interpreter; not thread-safe (run it on one worker thread)."""

    def __init__(
        self,
        interpreter: Any,
        layout: ModelLayout,
        labels: LabelMap,
        thresholds: ScoreThresholds,
        options: DetectorOptions,
    ) -> None:
        self._interpreter = interpreter
        self.layout = layout
        self.labels = labels
        self.thresholds = thresholds
        self.options = options
        image = layout.image
        self._lut = pixel_lut(image, options.float_input_range)
        self._lut_u8 = self._lut.view(np.uint8) if self._lut.dtype == np.int8 else None
        self._roles: PostProcessRoles | None = None
        self._state: dict[int, npt.NDArray[Any]] = {}
        self.invocations = 0
        self.reset_state()

    @classmethod
    def open(
        cls,
        model: Path,
        labels: Path | None = None,
        thresholds: ScoreThresholds | None = None,
        options: DetectorOptions | None = None,
        label_map: LabelMap | None = None,
    ) -> Detector:
        """Load a model file; a file that is no detector gets a one-line error.

        `label_map` names the classes when there is no `labels` file (a one-class model).
        """
        options = options or DetectorOptions()
        if labels is not None:
            label_map = load_labels(labels)
        elif label_map is None:
            label_map = numbered_labels()
        interpreter = open_interpreter(model, options.threads)
        inputs = [tensor_info(d) for d in interpreter.get_input_details()]
        outputs = [tensor_info(d) for d in interpreter.get_output_details()]
        layout = inspect_model(str(model), inputs, outputs, len(label_map) or None)
        return cls(interpreter, layout, label_map, thresholds or ScoreThresholds(), options)

    @property
    def input_size(self) -> tuple[int, int]:
        """Model input width and height."""
        shape = self.layout.image.shape
        return shape[2], shape[1]

    @property
    def family(self) -> str:
        return self.layout.family

    def reset_state(self) -> None:
        """Forget recurrent state (a new scene, or a gap in the frames)."""
        self._state = {link.input.index: zero_state(link.input) for link in self.layout.states}

    def prepare(self, frame_bgr: npt.NDArray[np.uint8]) -> npt.NDArray[Any]:
        """The model's input tensor for one BGR frame."""
        width, height = self.input_size
        small = cv2.resize(frame_bgr, (width, height), interpolation=cv2.INTER_LINEAR)
        if self.layout.image.shape[3] == 1:
            small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)[..., None]
        else:
            small = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
        if self._lut.dtype == np.uint8:
            data: npt.NDArray[Any] = cv2.LUT(small, self._lut)
        elif self._lut_u8 is not None:
            data = cv2.LUT(small, self._lut_u8).view(np.int8)
        else:
            data = self._lut[small]
        return data.reshape(self.layout.image.shape)

    def invoke(self, tensor: npt.NDArray[Any]) -> None:
        """Run the model once on a prepared input (state inputs set from the last run)."""
        it = self._interpreter
        it.set_tensor(self.layout.image.index, tensor)
        for index, value in self._state.items():
            it.set_tensor(index, value)
        it.invoke()
        self.invocations += 1
        for link in self.layout.states:
            self._state[link.input.index] = requantize(
                it.get_tensor(link.output.index), link.output, link.input
            )

    def decode(self) -> list[Detection]:
        """Labelled detections of the last invocation, above the thresholds."""
        raw = self._decode_raw()
        out = [
            Detection(self.labels.name(r.class_index), r.score, r.box, r.class_index)
            for r in raw
        ]
        return self.thresholds.keep(out)

    def detect(self, frame_bgr: npt.NDArray[np.uint8]) -> list[Detection]:
        self.invoke(self.prepare(frame_bgr))
        return self.decode()

    def raw_outputs(self) -> list[npt.NDArray[Any]]:
        """The head's output arrays of the last run (for recording fixtures)."""
        head = self.layout.head
        infos = head.outputs if isinstance(head, PostProcessLayout) else (head.output,)
        return [np.array(self._interpreter.get_tensor(t.index)) for t in infos]

    def _decode_raw(self) -> list[RawDetection]:
        head = self.layout.head
        if isinstance(head, YoloLayout):
            data = dequantize(self._interpreter.get_tensor(head.output.index), head.output)
            return decode_yolo(
                data,
                transposed=head.transposed,
                has_objectness=head.has_objectness,
                input_size=self.input_size,
                min_score=self.thresholds.lowest,
                nms_iou=self.options.nms_iou,
            )
        arrays = [self._interpreter.get_tensor(t.index) for t in head.outputs]
        return decode_postprocess(arrays, self.roles_for(head, arrays))

    def roles_for(
        self, head: PostProcessLayout, arrays: list[npt.NDArray[Any]]
    ) -> PostProcessRoles:
        """Classes vs scores, decided from values once and then kept."""
        if self._roles is not None:
            return self._roles
        a, b = head.pair
        count = int(np.asarray(arrays[head.count]).reshape(-1)[0])
        a_is_classes, decided = decide_classes_scores(arrays[a], arrays[b], count)
        classes, scores = (a, b) if a_is_classes else (b, a)
        roles = PostProcessRoles(boxes=head.boxes, classes=classes, scores=scores,
                                 count=head.count)
        if decided:
            self._roles = roles
        return roles


def open_detector(config: DetectConfig) -> Detector:
    """The detector a config names (``[detect] model``, labels, thresholds, threads)."""
    if config.model is None:
        raise UsageError("detect.model is not set: no detector model configured")
    low, high = (float(v) for v in config.float_input_range.split(".."))
    return Detector.open(
        config.model,
        config.labels,
        ScoreThresholds(config.threshold, dict(config.label_thresholds)),
        DetectorOptions(threads=config.threads, nms_iou=config.nms_iou,
                        float_input_range=(low, high)),
    )
