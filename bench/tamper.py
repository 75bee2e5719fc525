"""Camera tamper detection on the traffic video with injected faults (needs ../shared).

    uv run python bench/tamper.py

The traffic video (looped, at the demo camera's 10 fps) plays clean, then with each fault
injected from 30 s to 60 s of a 90 s run: lens covered, blurred (defocus/spray/fog), view
moved, picture frozen; and with harmless changes: dusk (brightness down to a third over the
run) and a truck a third of the view wide crossing it in 6 s. For each: the detection delay of the
injected fault's alarm (the configured delay is the baseline: delay_s, or frozen_s for a
frozen picture) and every false alarm.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from controller.camera.tamper_replay import replay, standard_scenarios
from controller.config import TamperConfig
from tests.conftest import shared_data_dir

FPS = 10.0


def main() -> None:
    shared = shared_data_dir()
    video = shared / "traffic" / "traffic_frames.mp4" if shared else None
    if video is None or not video.exists():
        print("needs ../shared/data/traffic/traffic_frames.mp4")
        raise SystemExit(2)
    cap = cv2.VideoCapture(str(video))
    frames = []
    i = 0
    while True:
        ok, image = cap.read()
        if not ok:
            break
        if i % 3 == 0:  # 30 fps thinned to the camera's 10 fps, as the OpenCV backend does
            frames.append(image)
        i += 1
    cap.release()
    cfg = TamperConfig()
    print(f"{len(frames)} frames looped at {FPS:g} fps; delay_s {cfg.delay_s:g}, "
          f"frozen_s {cfg.frozen_s:g}, clear_s {cfg.clear_s:g}")
    print(f"{'scenario':10} {'alarm after':>12} {'configured':>11} {'cleared':>8} "
          f"{'false alarms':>13}  ms per frame (with injection)")
    for scenario in standard_scenarios():
        started = time.perf_counter()
        result = replay(frames, scenario, FPS, cfg)
        took = (time.perf_counter() - started) / (scenario.duration * FPS)
        delay = result.delay()
        configured = (cfg.frozen_s if scenario.injection == "frozen" else cfg.delay_s)
        false = result.false_alarms()
        shown = "-" if result.expected is None else ("missed" if delay is None
                                                      else f"{delay:.1f} s")
        print(f"{scenario.name:10} {shown:>12} "
              f"{'-' if result.expected is None else f'{configured:g} s':>11} "
              f"{'-' if result.expected is None else ('yes' if result.cleared() else 'no'):>8} "
              f"{len(false):>13}  {took * 1e3:.2f} ms"
              + ("" if not false else "  " + ", ".join(f"{c.fault}@{c.time:.1f}s"
                                                     for c in false)))


if __name__ == "__main__":
    main()
