"""Camera tamper and health against a learned reference of the scene (sans-IO core).

Four faults, each judged on a small grey picture of every frame (:func:`scene_features`):

- ``covered``: the lens is covered or blacked out: almost no contrast left, or the picture
  went much darker *and* lost its detail at once.
- ``blurred``: a sudden loss of detail (defocus, spray, fog on the lens) while the picture
  keeps its brightness.
- ``moved``: the view was turned or moved: in most tiles of the picture the edges no
  longer correlate with the reference's (a passing truck changes only a few tiles).
- ``frozen``: the same picture for too long (a stuck pipeline or a replayed still).

The reference (brightness, detail, a normalised thumbnail) is learned over ``learn_s`` and
then follows slow changes with a time constant of ``adapt_s`` while nothing is suspect, so
dusk moves the reference along instead of raising an alarm. Every fault has hysteresis in
time: it must hold for ``delay_s`` to become active and be gone for ``clear_s`` to clear,
so a truck passing in front of the camera (a few seconds) raises nothing.

Each fault follows the table ``TRANSITIONS`` (normal -> suspect -> active -> clearing ->
normal); an illegal step raises. The adapter (camera worker) turns active/cleared faults
into alarm-desk observations of ``camera/<name>/tamper/<fault>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import cv2
import numpy as np
import numpy.typing as npt

from controller.config import TamperConfig

THUMB = (64, 48)  # thumbnail of the reference for shift and structure
FAULTS = ("covered", "blurred", "moved", "frozen")


@dataclass(frozen=True)
class SceneFeatures:
    brightness: float  # mean grey level 0..255
    contrast: float  # standard deviation of grey levels
    detail: float  # mean absolute Laplacian (edge energy)
    change: float  # mean absolute difference to the previous picture (-1: none yet)
    thumb: npt.NDArray[np.float32]  # THUMB-sized, zero mean, unit variance (or zeros)
    edges: npt.NDArray[np.float32]  # its gradient magnitude, normalised the same way


def scene_features(grey: npt.NDArray[np.uint8],
                   previous: npt.NDArray[np.uint8] | None) -> SceneFeatures:
    """The features of one grey picture (pure; the lores stream at its own size)."""
    g = grey.astype(np.float32)
    detail = float(np.mean(np.abs(cv2.Laplacian(g, cv2.CV_32F, ksize=3))))
    change = -1.0
    if previous is not None and previous.shape == grey.shape:
        change = float(np.mean(cv2.absdiff(grey, previous)))
    small = np.asarray(cv2.resize(g, THUMB, interpolation=cv2.INTER_AREA), dtype=np.float32)
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1)
    return SceneFeatures(float(g.mean()), float(g.std()), detail, change,
                         _normalised(small),
                         _normalised(np.asarray(np.sqrt(gx * gx + gy * gy), dtype=np.float32)))


def _normalised(a: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    std = float(a.std())
    out = (a - a.mean()) / std if std > 1e-3 else np.zeros_like(a)
    return np.asarray(out, dtype=np.float32)


class FaultState(StrEnum):
    NORMAL = "normal"
    SUSPECT = "suspect"  # the condition holds, not yet for delay_s
    ACTIVE = "active"  # raised
    CLEARING = "clearing"  # active, the condition gone, not yet for clear_s


class Step(StrEnum):
    SEEN = "seen"  # the condition holds in this frame
    GONE = "gone"  # it does not
    HELD = "held"  # ... and has done so for long enough (delay_s or clear_s)


TRANSITIONS: dict[tuple[FaultState, Step], FaultState] = {
    (FaultState.NORMAL, Step.SEEN): FaultState.SUSPECT,
    (FaultState.NORMAL, Step.GONE): FaultState.NORMAL,
    (FaultState.SUSPECT, Step.SEEN): FaultState.SUSPECT,
    (FaultState.SUSPECT, Step.HELD): FaultState.ACTIVE,
    (FaultState.SUSPECT, Step.GONE): FaultState.NORMAL,
    (FaultState.ACTIVE, Step.SEEN): FaultState.ACTIVE,
    (FaultState.ACTIVE, Step.GONE): FaultState.CLEARING,
    (FaultState.CLEARING, Step.GONE): FaultState.CLEARING,
    (FaultState.CLEARING, Step.HELD): FaultState.NORMAL,
    (FaultState.CLEARING, Step.SEEN): FaultState.ACTIVE,
}


def transition(state: FaultState, step: Step) -> FaultState:
    try:
        return TRANSITIONS[(state, step)]
    except KeyError:
        raise ValueError(f"tamper fault: no step {step} from {state}") from None


@dataclass
class FaultTracker:
    """One fault's hysteresis in time."""

    delay_s: float
    clear_s: float
    state: FaultState = FaultState.NORMAL
    since: float = 0.0  # when the current suspect/clearing phase began

    def update(self, seen: bool, t: float) -> FaultState:
        s = self.state
        if s in (FaultState.NORMAL, FaultState.ACTIVE):
            step = Step.SEEN if seen else Step.GONE
        elif s is FaultState.SUSPECT:
            step = (Step.GONE if not seen
                    else Step.HELD if t - self.since >= self.delay_s else Step.SEEN)
        else:  # clearing
            step = (Step.SEEN if seen
                    else Step.HELD if t - self.since >= self.clear_s else Step.GONE)
        new = transition(s, step)
        if new is not s and new in (FaultState.SUSPECT, FaultState.CLEARING):
            self.since = t
            # a zero delay (or clear time) has already passed: the next step, now
            wait = self.delay_s if new is FaultState.SUSPECT else self.clear_s
            if wait <= 0:
                new = transition(new, Step.HELD)
        self.state = new
        return new

    @property
    def raised(self) -> bool:
        return self.state in (FaultState.ACTIVE, FaultState.CLEARING)


@dataclass(frozen=True)
class TamperChange:
    """A fault became active (``active`` True) or cleared."""

    fault: str
    active: bool
    time: float
    detail: dict[str, float]


@dataclass
class _Reference:
    brightness: float
    detail: float
    thumb: npt.NDArray[np.float32]
    edges: npt.NDArray[np.float32]
    frames: int = 1

    def follow(self, x: SceneFeatures, a: float) -> None:
        """Move towards ``x`` by the fraction ``a``: an average of what it has seen, so
        moving objects fade out and the still scene stays."""
        self.brightness += a * (x.brightness - self.brightness)
        self.detail += a * (x.detail - self.detail)
        self.thumb = np.asarray(self.thumb + a * (x.thumb - self.thumb), dtype=np.float32)
        self.edges = np.asarray(self.edges + a * (x.edges - self.edges), dtype=np.float32)


@dataclass
class TamperDetector:
    """Feeds :class:`SceneFeatures` per frame; returns the faults that changed."""

    cfg: TamperConfig
    reference: _Reference | None = None
    learning_since: float | None = None
    last_time: float | None = None
    faults: dict[str, FaultTracker] = field(default_factory=dict)
    _still_since: float | None = None

    def __post_init__(self) -> None:
        c = self.cfg
        self.faults = {
            "covered": FaultTracker(c.delay_s, c.clear_s),
            "blurred": FaultTracker(c.delay_s, c.clear_s),
            "moved": FaultTracker(c.delay_s, c.clear_s),
            # the frozen test itself waits frozen_s
            "frozen": FaultTracker(0.0, c.clear_s),
        }

    @property
    def learned(self) -> bool:
        return self.reference is not None and self.learning_since is None

    def active(self) -> list[str]:
        return [name for name, f in self.faults.items() if f.raised]

    def observe(self, x: SceneFeatures, t: float) -> list[TamperChange]:
        if self.last_time is not None and t < self.last_time:
            raise ValueError("tamper: frame times must not go backwards")
        dt = 0.0 if self.last_time is None else t - self.last_time
        self.last_time = t
        seen = self._frozen(x, t)
        if not self._learn(x, t):
            return self._apply({"frozen": seen}, t, x)
        ref = self.reference
        assert ref is not None
        c = self.cfg
        bright_ratio = x.brightness / max(ref.brightness, 1.0)
        detail_ratio = x.detail / max(ref.detail, 1e-3)
        covered = x.contrast < c.covered_contrast or (
            bright_ratio < c.covered_brightness_ratio and detail_ratio < c.blurred_detail_ratio)
        blurred = not covered and detail_ratio < c.blurred_detail_ratio
        moved = False
        if not covered and not blurred:
            moved = _misaligned(ref, x, c.moved_similarity)
        changes = self._apply({"covered": covered, "blurred": blurred, "moved": moved,
                               "frozen": seen}, t, x)
        if not any(f.state is not FaultState.NORMAL for f in self.faults.values()):
            ref.follow(x, min(1.0, dt / c.adapt_s) if c.adapt_s > 0 else 0.0)
        return changes

    def _learn(self, x: SceneFeatures, t: float) -> bool:
        """Build the first reference over learn_s; True once it is learned."""
        if self.reference is None:
            self.reference = _Reference(x.brightness, x.detail, x.thumb.copy(),
                                        x.edges.copy())
            self.learning_since = t
            return False
        if self.learning_since is None:
            return True
        ref = self.reference
        ref.frames += 1
        ref.follow(x, 1.0 / ref.frames)
        if t - self.learning_since >= self.cfg.learn_s:
            self.learning_since = None
        return False

    def _frozen(self, x: SceneFeatures, t: float) -> bool:
        if x.change < 0 or x.change > self.cfg.frozen_change:
            self._still_since = None
            return False
        if self._still_since is None:
            self._still_since = t
        return t - self._still_since >= self.cfg.frozen_s

    def _apply(self, seen: dict[str, bool], t: float, x: SceneFeatures) -> list[TamperChange]:
        out = []
        for name, is_seen in seen.items():
            fault = self.faults[name]
            before = fault.raised
            fault.update(is_seen, t)
            if fault.raised != before:
                out.append(TamperChange(name, fault.raised, t, {
                    "brightness": round(x.brightness, 1), "contrast": round(x.contrast, 1),
                    "detail": round(x.detail, 2), "change": round(x.change, 2)}))
        return out


_TILES = (4, 4)  # the view is judged tile by tile: a passing truck covers only a few
_MIN_STRUCTURE = 0.3  # reference tiles flatter than this (sky, a wall) are not judged
_MIN_TILES = 3  # fewer tiles with structure than this: "moved" cannot be judged


def _misaligned(ref: _Reference, x: SceneFeatures, min_similarity: float) -> bool:
    """The view moved or turned: in most tiles of the picture that have structure, the
    edges no longer correlate with the reference's. A large object passing close to the
    camera changes a few tiles, a moved camera changes all of them: the median tile
    decides. (Phase correlation of the whole picture was tried: a big object crossing
    pulls its peak by itself.)"""
    tiles = _tile_similarities(ref.edges, x.edges)
    if len(tiles) < _MIN_TILES:
        return False
    return float(np.median(tiles)) < min_similarity


def _tile_similarities(ref: npt.NDArray[np.float32],
                       cur: npt.NDArray[np.float32]) -> list[float]:
    h, w = ref.shape
    th, tw = h // _TILES[1], w // _TILES[0]
    out = []
    for j in range(_TILES[1]):
        for i in range(_TILES[0]):
            a = ref[j * th:(j + 1) * th, i * tw:(i + 1) * tw]
            b = cur[j * th:(j + 1) * th, i * tw:(i + 1) * tw]
            sa, sb = float(a.std()), float(b.std())
            if sa < _MIN_STRUCTURE:
                continue
            if sb < 1e-6:
                out.append(0.0)
                continue
            out.append(float(np.mean((a - a.mean()) * (b - b.mean()))) / (sa * sb))
    return out
