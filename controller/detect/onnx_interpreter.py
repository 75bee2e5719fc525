"""An ONNX detector behind the TFLite interpreter's interface, so the same decoders apply.

A YOLO-style `.onnx` export (a plate detector, say) takes NCHW float input; the layout
code and the decoders expect what a TFLite interpreter reports (NHWC). This adapter
reports the image input as NHWC and transposes on the way in, and learns the output
shapes by one run on a blank image, since exports often leave them symbolic.
onnxruntime is imported only when such a model is opened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from controller.errors import UsageError

#: a symbolic image side (a dynamic export) is run at this size
DEFAULT_SIDE = 640
_DTYPES = {"tensor(float)": np.float32, "tensor(uint8)": np.uint8, "tensor(int8)": np.int8}


class OnnxInterpreter:
    """The part of the TFLite `Interpreter` API the detector uses, over onnxruntime."""

    def __init__(self, model: Path, threads: int) -> None:
        import onnxruntime as ort  # lazily: only a site with an ONNX model loads it

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(model), options,
                                                 providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise UsageError(f"{model}: not a usable ONNX model ({first})") from None
        inputs = self._session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].type not in _DTYPES:
            raise UsageError(f"{model}: not a detector model: expected one image input, "
                             f"found {[(i.name, i.shape, i.type) for i in inputs]}")
        image = inputs[0]
        dims = [d if isinstance(d, int) and d > 0 else None for d in image.shape]
        self._nchw = dims[1] in (1, 3)
        channels = dims[1] if self._nchw else dims[3]
        h, w = (dims[2], dims[3]) if self._nchw else (dims[1], dims[2])
        self._input_name = image.name
        self._dtype = _DTYPES[image.type]
        self._input_shape = (1, h or DEFAULT_SIDE, w or DEFAULT_SIDE, channels or 3)  # NHWC
        self._output_names = [o.name for o in self._session.get_outputs()]
        self._outputs: list[npt.NDArray[Any]] = []
        self._tensor = np.zeros(self._input_shape, self._dtype)
        try:
            self.invoke()  # learns the output shapes
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise UsageError(f"{model}: the ONNX model does not run ({first})") from None

    def allocate_tensors(self) -> None:
        """Nothing to do: onnxruntime allocates per run (kept for the interface)."""

    def get_input_details(self) -> list[dict[str, Any]]:
        return [{"name": self._input_name, "index": 0, "shape": self._input_shape,
                 "dtype": self._dtype, "quantization": (0.0, 0)}]

    def get_output_details(self) -> list[dict[str, Any]]:
        return [{"name": name, "index": 1 + i, "shape": value.shape, "dtype": value.dtype,
                 "quantization": (0.0, 0)}
                for i, (name, value) in enumerate(zip(self._output_names, self._outputs,
                                                      strict=True))]

    def set_tensor(self, index: int, value: npt.NDArray[Any]) -> None:
        if index != 0:
            raise ValueError(f"the ONNX model has no input {index}")
        self._tensor = np.asarray(value, self._dtype)

    def invoke(self) -> None:
        data = self._tensor.transpose(0, 3, 1, 2) if self._nchw else self._tensor
        self._outputs = [np.asarray(o) for o in self._session.run(
            None, {self._input_name: np.ascontiguousarray(data)})]

    def get_tensor(self, index: int) -> npt.NDArray[Any]:
        return self._outputs[index - 1]
