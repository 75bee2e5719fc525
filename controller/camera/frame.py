"""A captured frame as every backend hands it to the pipeline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Frame:
    """``image`` is BGR uint8 (H, W, 3); ``lores`` an optional small grey frame for the
    motion gate (the pipeline makes one from ``image`` when the backend has none)."""

    index: int
    time: float
    image: npt.NDArray[np.uint8]
    lores: npt.NDArray[np.uint8] | None = None
