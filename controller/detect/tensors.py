"""Model tensor facts and quantisation arithmetic, as pure functions over arrays."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class TensorInfo:
    """One model input or output: what the interpreter reports, made immutable."""

    name: str
    index: int
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    scale: float = 0.0
    zero_point: int = 0

    @property
    def quantized(self) -> bool:
        return self.scale != 0.0 and self.dtype in (np.dtype(np.uint8), np.dtype(np.int8))

    def describe(self) -> str:
        dims = ",".join(str(d) for d in self.shape)
        return f"{self.name or '#' + str(self.index)} [{dims}] {self.dtype.name}"


def tensor_info(detail: Mapping[str, Any]) -> TensorInfo:
    """From an interpreter ``get_input_details()``/``get_output_details()`` entry."""
    scale, zero = detail.get("quantization", (0.0, 0))
    return TensorInfo(
        name=str(detail.get("name", "")),
        index=int(detail["index"]),
        shape=tuple(int(d) for d in detail["shape"]),
        dtype=np.dtype(detail["dtype"]),
        scale=float(scale),
        zero_point=int(zero),
    )


def dtype_range(dtype: np.dtype[Any]) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def dequantize(values: npt.NDArray[Any], info: TensorInfo) -> npt.NDArray[np.float32]:
    """Real values of a tensor (float tensors pass through)."""
    if not info.quantized:
        return np.asarray(values, dtype=np.float32)
    return ((values.astype(np.float32) - info.zero_point) * info.scale).astype(np.float32)


def quantize(values: npt.NDArray[Any], info: TensorInfo) -> npt.NDArray[Any]:
    """Real values stored in the tensor's type (rounded, saturated)."""
    if not info.quantized:
        return np.asarray(values, dtype=info.dtype)
    lo, hi = dtype_range(info.dtype)
    q = np.round(np.asarray(values, dtype=np.float32) / info.scale) + info.zero_point
    return np.clip(q, lo, hi).astype(info.dtype)


def requantize(values: npt.NDArray[Any], src: TensorInfo, dst: TensorInfo) -> npt.NDArray[Any]:
    """An output's values made fit for an input: a copy when both share type and scale."""
    same = (
        src.dtype == dst.dtype
        and np.isclose(src.scale, dst.scale, rtol=1e-6, atol=0.0)
        and src.zero_point == dst.zero_point
    )
    if same:
        return np.array(values, dtype=dst.dtype, copy=True)
    return quantize(dequantize(values, src), dst)


def zero_state(info: TensorInfo) -> npt.NDArray[Any]:
    """A state tensor holding real zeros (the zero point when quantised)."""
    return np.full(info.shape, info.zero_point if info.quantized else 0, dtype=info.dtype)


def pixel_lut(info: TensorInfo, float_range: tuple[float, float] = (0.0, 1.0)) -> npt.NDArray[Any]:
    """The 256-entry table from a uint8 pixel to the model's input value.

    The model does not store how it normalised pixels, but its input quantisation
    does say which real range it expects: if that range reaches well below zero the
    model wants pixels in -1..1 (pixel/127.5 - 1), otherwise 0..1 (pixel/255). The
    real value is then quantised with the model's own scale and zero point, so uint8
    and int8 models with any parameters get what they were trained on. Float models
    use ``float_range``.
    """
    pixels = np.arange(256, dtype=np.float32)
    if not info.quantized:
        lo, hi = float_range
        return (lo + pixels / 255.0 * (hi - lo)).astype(info.dtype)
    qmin, _ = dtype_range(info.dtype)
    real_min = (qmin - info.zero_point) * info.scale
    real = pixels / 127.5 - 1.0 if real_min < -0.5 else pixels / 255.0
    return quantize(real, info)


def state_key(name: str) -> str:
    """``raw_inputs/init_lstm_c`` and ``raw_outputs/lstm_c`` both become ``lstm_c``."""
    leaf = name.rsplit("/", 1)[-1]
    leaf = re.sub(r":\d+$", "", leaf)
    return re.sub(r"^(init_|initial_|input_|in_|prev_|previous_)", "", leaf)
