"""Replay frames through the tamper core with injected faults (for the bench and tests).

A scenario plays a list of frames (at the lores size the core sees) in a loop at ``fps``
and, between ``start`` and ``end`` seconds, replaces them as a tamperer would:
``covered`` (a dark, even picture with sensor noise), ``blurred`` (heavy Gaussian blur:
defocus, spray, fog), ``moved`` (the view shifted by 15 % of its width), ``frozen`` (the
frame at ``start`` repeated). Harmless changes the core must ignore: ``dusk`` (brightness
falling to a third over the whole run), ``truck`` (a dark box a third of the picture wide
crossing it in 6 s, twice the default delay) and ``clean``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from controller.camera.tamper import FAULTS, TamperChange, TamperDetector, scene_features
from controller.config import TamperConfig

INJECTIONS = ("clean", "covered", "blurred", "moved", "frozen", "dusk", "truck")


@dataclass(frozen=True)
class Scenario:
    name: str
    injection: str
    start: float
    end: float
    duration: float


@dataclass
class ReplayResult:
    scenario: Scenario
    changes: list[TamperChange] = field(default_factory=list)

    @property
    def expected(self) -> str | None:
        return self.scenario.injection if self.scenario.injection in FAULTS else None

    def delay(self) -> float | None:
        """Seconds from the fault's start to its alarm (None: never raised)."""
        for c in self.changes:
            if c.active and c.fault == self.expected and c.time >= self.scenario.start:
                return c.time - self.scenario.start
        return None

    def false_alarms(self) -> list[TamperChange]:
        """Alarms raised for anything but the injected fault while it was injected."""
        s = self.scenario
        return [c for c in self.changes if c.active and not (
            c.fault == self.expected and s.start <= c.time <= s.end)]

    def cleared(self) -> bool:
        """The expected fault's alarm cleared after the fault ended."""
        return any(not c.active and c.fault == self.expected and c.time >= self.scenario.end
                   for c in self.changes)


def inject(image: npt.NDArray[np.uint8], injection: str, t: float, scenario: Scenario,
           rng: np.random.Generator, held: npt.NDArray[np.uint8] | None,
           ) -> npt.NDArray[np.uint8]:
    if injection == "dusk":
        factor = 1.0 - 0.67 * min(1.0, t / scenario.duration)
        return np.clip(image.astype(np.float32) * factor, 0, 255).astype(np.uint8)
    if not scenario.start <= t < scenario.end:
        return image
    h, w = image.shape[:2]
    if injection == "covered":
        noise = rng.normal(12.0, 2.0, image.shape)
        return np.clip(noise, 0, 255).astype(np.uint8)
    if injection == "blurred":
        return np.asarray(cv2.GaussianBlur(image, (0, 0), sigmaX=w / 80), dtype=np.uint8)
    if injection == "moved":
        m = np.array([[1, 0, 0.15 * w], [0, 1, 0.05 * h]], dtype=np.float32)
        return np.asarray(cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE),
                          dtype=np.uint8)
    if injection == "frozen":
        return held if held is not None else image
    if injection == "truck":  # a third of the picture wide, crossing it slowly
        x = int((t - scenario.start) / max(scenario.end - scenario.start, 1e-9) * (w + w // 3))
        out = image.copy()
        out[h // 4:, max(0, x - w // 3):min(w, x)] = (40, 40, 45)
        cv2.rectangle(out, (x - w // 3, h // 4), (x, h - 1), (200, 200, 210), 2)
        return out
    return image


def replay(frames: Sequence[npt.NDArray[np.uint8]], scenario: Scenario, fps: float,
           cfg: TamperConfig, lores: tuple[int, int] = (320, 240), seed: int = 0,
           ) -> ReplayResult:
    """Play ``frames`` looped for the scenario's duration through a fresh tamper core."""
    if scenario.injection not in INJECTIONS:
        raise ValueError(f"unknown injection {scenario.injection!r}")
    core = TamperDetector(cfg)
    rng = np.random.default_rng(seed)
    result = ReplayResult(scenario)
    previous: npt.NDArray[np.uint8] | None = None
    held: npt.NDArray[np.uint8] | None = None
    n = int(scenario.duration * fps)
    # the core only sees the lores picture: faults are injected at that size (cheaper)
    small_frames = [np.asarray(cv2.resize(f, lores, interpolation=cv2.INTER_AREA),
                               dtype=np.uint8) for f in frames]
    for i in range(n):
        t = i / fps
        image = small_frames[i % len(small_frames)]
        if scenario.injection == "frozen" and held is None and t >= scenario.start:
            held = image
        image = inject(image, scenario.injection, t, scenario, rng, held)
        grey = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
        result.changes += core.observe(scene_features(grey, previous), t)
        previous = grey
    return result


def standard_scenarios(duration: float = 90.0, start: float = 30.0,
                       length: float = 30.0) -> list[Scenario]:
    s = [Scenario(name, name, start, start + length, duration)
         for name in ("clean", "covered", "blurred", "moved", "frozen")]
    s.append(Scenario("dusk", "dusk", 0.0, duration, duration))
    # a truck passing slowly close to the camera: longer than delay_s in view
    s.append(Scenario("truck", "truck", start, start + 6.0, duration))
    return s
