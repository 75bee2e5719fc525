"""The segment keeper (pure): which segments each recording mode keeps, exhaustively over
small timelines, against a brute-force model."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from controller.camera.segment_keeper import SegmentKeeper


@dataclass(frozen=True)
class Seg:
    start: float
    end: float


def timeline(n: int, length: float = 4.0) -> list[Seg]:
    return [Seg(i * length, (i + 1) * length) for i in range(n)]


def run(keeper: SegmentKeeper[Seg], segments: list[Seg],
        events: dict[int, tuple[float, float]]) -> list[Seg]:
    """Events announced (want) while segment i is being written, as the pipeline does."""
    kept: list[Seg] = []
    for i, seg in enumerate(segments):
        if i in events:
            kept += keeper.want(*events[i])
        kept += keeper.offer(seg)
    return kept


def test_continuous_keeps_all_and_off_keeps_none() -> None:
    segs = timeline(5)
    assert run(SegmentKeeper("continuous", 2.0, 2.0), segs, {}) == segs
    assert run(SegmentKeeper("off", 2.0, 2.0), segs, {2: (8.5, 9.0)}) == []


def test_events_mode_keeps_nothing_without_events() -> None:
    assert run(SegmentKeeper("events", 3.0, 3.0), timeline(20), {}) == []


@pytest.mark.parametrize("pre,post", [(0.0, 0.0), (1.0, 1.0), (3.0, 2.0), (5.0, 6.0)])
def test_events_mode_matches_brute_force_on_every_small_timeline(pre: float,
                                                                 post: float) -> None:
    segs = timeline(8)
    # every event start in whole seconds inside the timeline, lasting 0..6 s, announced
    # while the segment holding its start (or the next one: confirmation lag) is written
    for start, length, lag in itertools.product(range(0, 30, 1), (0, 2, 6), (0, 1)):
        end = float(start + length)
        announce = min(len(segs) - 1, int(start // 4) + lag)
        if end > segs[announce].end:
            end = segs[announce].end  # the event is only known up to now
        keeper: SegmentKeeper[Seg] = SegmentKeeper("events", pre, post)
        kept = run(keeper, segs, {announce: (float(start), end)})
        expected = [s for s in segs if s.start < end + post and s.end > start - pre]
        assert kept == expected, (start, length, lag)
        assert len(kept) == len(set(kept))  # each segment kept once


def test_overlapping_events_keep_shared_segments_once() -> None:
    keeper: SegmentKeeper[Seg] = SegmentKeeper("events", 2.0, 2.0)
    segs = timeline(6)
    kept = run(keeper, segs, {1: (5.0, 7.0), 2: (6.0, 11.0)})
    assert kept == segs[0:4]


def test_pre_roll_segments_are_forgotten_after_the_slack() -> None:
    keeper: SegmentKeeper[Seg] = SegmentKeeper("events", 2.0, 2.0, slack_s=4.0)
    for seg in timeline(10):
        keeper.offer(seg)
    assert keeper.pending == [Seg(32.0, 36.0), Seg(36.0, 40.0)]  # ends >= 40 - 2 - 4
    assert keeper.want(1.0, 2.0) == []  # too late for the old ones


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="recording mode"):
        SegmentKeeper("sometimes", 1.0, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        SegmentKeeper("events", -1.0, 1.0)
    with pytest.raises(ValueError, match="before it starts"):
        SegmentKeeper("events", 1.0, 1.0).want(5.0, 4.0)
