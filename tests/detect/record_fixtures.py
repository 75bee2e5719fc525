"""Record small real-output fixtures of the traffic model (run by hand, needs ../shared).

    uv run python tests/detect/record_fixtures.py

Runs the model over the traffic video with the LSTM state fed back and keeps only the
four TFLite_Detection_PostProcess outputs of a few frames (a few KB) in
tests/detect/fixtures/traffic_postprocess.npz, in the model's own output order.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from controller.detect.detector import Detector  # noqa: E402
from controller.detect.thresholds import ScoreThresholds  # noqa: E402
from tests.conftest import shared_data_dir  # noqa: E402

FRAMES = (0, 5, 10, 15)
OUT = Path(__file__).resolve().parent / "fixtures" / "traffic_postprocess.npz"


def main() -> int:
    traffic = shared_data_dir() / "traffic"
    if not traffic.is_dir():
        print(f"shared data not found at {traffic}: nothing recorded", file=sys.stderr)
        return 1
    detector = Detector.open(traffic / "traffic_model.tflite",
                             thresholds=ScoreThresholds(0.0))
    cap = cv2.VideoCapture(str(traffic / "traffic_frames.mp4"))
    kept: dict[str, list[np.ndarray]] = {"boxes": [], "classes": [], "scores": [], "count": []}
    names = ("boxes", "classes", "scores", "count")  # the model's output order
    index = 0
    while True:
        ok, image = cap.read()
        if not ok:
            break
        detector.detect(image)
        if index in FRAMES:
            for name, array in zip(names, detector.raw_outputs(), strict=True):
                kept[name].append(array.astype(np.float32))
        index += 1
    cap.release()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, frames=np.array(FRAMES),
                        **{k: np.stack(v) for k, v in kept.items()})
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
