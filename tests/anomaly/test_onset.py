"""The onset score: bounded, onset-driven, quiet on clean signals, one raise per step.

Also time handling: horizons in seconds (the same signal sampled at another rate behaves
the same), irregular sampling, gaps, out-of-order readings, and state round trips.
"""

from __future__ import annotations

import json
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.anomaly.onset import OnsetScore
from controller.anomaly.rules import build_rules
from controller.config import ChannelRulesConfig


def run(rule: OnsetScore, readings: list[tuple[float, float]]) -> list[tuple[float, bool]]:
    return [rule.update(t, v) for t, v in readings]


def raise_times(rule: OnsetScore, readings: list[tuple[float, float]]) -> list[float]:
    """Times at which the rule's condition turns on (what raises an alarm)."""
    out, before = [], False
    for t, v in readings:
        _, active = rule.update(t, v)
        if active and not before:
            out.append(t)
        before = active
    return out


def test_default_rule_is_the_onset_score() -> None:
    [rule] = build_rules(ChannelRulesConfig())
    assert isinstance(rule, OnsetScore)
    assert rule.threshold == ChannelRulesConfig().onset_threshold


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e3, 1e7), st.floats(-1e9, 1e9)), min_size=1,
                max_size=400))
def test_score_is_always_within_0_and_1(readings: list[tuple[float, float]]) -> None:
    rule = OnsetScore(warmup_readings=3)
    for score, active in run(rule, readings):
        assert 0.0 <= score <= 1.0
        assert isinstance(active, bool)
    assert isinstance(rule.explain(), str)


@settings(max_examples=40, deadline=None)
@given(
    value=st.floats(-1e6, 1e6),
    step_s=st.sampled_from([1.0, 60.0, 300.0, 3600.0]),
)
def test_a_constant_stream_never_alarms(value: float, step_s: float) -> None:
    rule = OnsetScore()
    got = run(rule, [(i * step_s, value) for i in range(1500)])
    assert not any(active for _, active in got)
    assert max(score for score, _ in got) < rule.threshold


@settings(max_examples=30, deadline=None)
@given(
    period=st.integers(12, 400),
    amplitude=st.floats(0.01, 1e4),
    offset=st.floats(-1e4, 1e4),
    square=st.booleans(),
)
def test_a_clean_periodic_stream_gives_no_alarm_after_warm_up(
    period: int, amplitude: float, offset: float, square: bool
) -> None:
    rule = OnsetScore(warmup_readings=3 * period, warmup_s=math.inf)

    def wave(i: int) -> float:
        s = math.sin(2 * math.pi * i / period)
        return offset + amplitude * ((1.0 if s >= 0 else -1.0) if square else s)

    got = run(rule, [(i * 300.0, wave(i)) for i in range(3 * period + 2000)])
    assert not any(active for _, active in got[3 * period:]), rule.explain()


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    shift=st.integers(10, 100),  # whole steps: the noise looks the same on both levels
    up=st.booleans(),
    quantum=st.sampled_from([0.0, 0.1, 1.0]),
)
def test_a_step_change_gives_one_raise_and_becomes_the_new_normal(
    seed: int, shift: int, up: bool, quantum: float
) -> None:
    """A small-noise signal steps by many times its noise: one raise at the step, then quiet."""
    rnd = random.Random(seed)

    def v(i: int) -> float:
        x = 100.0 + rnd.uniform(-0.5, 0.5) + (shift if up else -shift) * (i >= 1000)
        return round(x / quantum) * quantum if quantum else x

    rule = OnsetScore()
    readings = [(i * 300.0, v(i)) for i in range(3000)]
    got = raise_times(rule, readings)
    assert got == [1000 * 300.0], rule.explain()


def test_score_rises_at_the_onset_and_falls_back_while_the_change_lasts() -> None:
    rnd = random.Random(1)
    readings = [(i * 60.0, 10.0 + rnd.gauss(0, 0.2) + (3.0 if i >= 800 else 0.0))
                for i in range(1600)]
    scores = [s for s, _ in run(OnsetScore(), readings)]
    assert max(scores[800:803]) >= 0.5
    assert max(scores[300:800]) < max(scores[800:803])
    assert max(scores[1200:]) < 0.5  # the new level is normal by then


def test_a_spike_and_a_spike_burst_are_seen() -> None:
    rnd = random.Random(2)
    base = [10.0 + rnd.gauss(0, 0.5) for _ in range(2000)]
    base[1000] += 15.0
    for i in range(1500, 1506):
        base[i] += 6.0 * (1 if i % 2 else -1)
    got = raise_times(OnsetScore(), [(i * 300.0, v) for i, v in enumerate(base)])
    assert 1000 * 300.0 in got
    assert any(1500 * 300.0 <= t <= 1506 * 300.0 for t in got)


def test_horizons_are_seconds_not_readings() -> None:
    """The same signal sampled every 1 s or every 10 s learns at the same pace."""
    fine, coarse = OnsetScore(level_s=600.0), OnsetScore(level_s=600.0)
    for i in range(3600):
        fine.update(float(i), 0.0 if i < 1800 else 10.0)
        if i % 10 == 0:
            coarse.update(float(i), 0.0 if i < 1800 else 10.0)
    assert abs(fine.level - coarse.level) < 0.05
    assert fine.interval == 1.0 and abs(coarse.interval - 10.0) < 1e-9


def test_interval_is_learned_from_irregular_sampling() -> None:
    rnd = random.Random(3)
    rule, t = OnsetScore(), 0.0
    for _ in range(2000):
        t += rnd.uniform(50.0, 70.0)
        rule.update(t, 5.0 + rnd.gauss(0, 0.1))
    assert 55.0 < rule.interval < 65.0


def test_warm_up_ends_after_its_time_or_its_readings_whichever_first() -> None:
    by_time = OnsetScore(warmup_s=3600.0, warmup_readings=10_000)
    by_count = OnsetScore(warmup_s=1e9, warmup_readings=50)
    for i in range(100):
        by_time.update(i * 60.0, 1.0)
        by_count.update(i * 60.0, 1.0)
    assert by_time.warmed_up and by_count.warmed_up
    assert not OnsetScore(warmup_s=1e9, warmup_readings=200).warmed_up


def test_a_gap_restarts_short_memory_and_raises_once() -> None:
    rule = OnsetScore()
    readings = [(i * 300.0, 20.0 + 0.1 * (i % 3)) for i in range(1000)]
    readings += [((1000 + 200 + i) * 300.0, 20.0 + 0.1 * (i % 3)) for i in range(500)]
    got = raise_times(rule, readings)
    assert got == [1200 * 300.0]
    assert "no score yet" in OnsetScore().explain()
    rule2 = OnsetScore()
    for t, v in readings[:1001]:
        rule2.update(t, v)
    assert "after a gap" in rule2.explain()


def test_a_service_restart_is_not_the_streams_gap() -> None:
    """The service saved its state, was down for 200 readings and came back: the first
    reading after that is judged like any other (no alarm per channel at every restart),
    while the same gap inside one run of the stream is raised."""
    readings = [(i * 300.0, 20.0 + 0.1 * (i % 3)) for i in range(1000)]
    after = [((1000 + 200 + i) * 300.0, 20.0 + 0.1 * (i % 3)) for i in range(500)]
    before = OnsetScore()
    run(before, readings)
    restarted = OnsetScore()
    restarted.load(json.loads(json.dumps(before.save())))
    assert raise_times(restarted, after) == []
    assert "after a gap" not in restarted.explain()
    assert raise_times(before, after) == [1200 * 300.0]


def test_out_of_order_and_duplicate_times_are_harmless() -> None:
    rule = OnsetScore(warmup_readings=5)
    for t, v in [(0.0, 1.0), (60.0, 1.0), (60.0, 1.0), (30.0, 1.0), (120.0, 1.0)] * 50:
        score, _ = rule.update(t, v)
        assert 0.0 <= score <= 1.0
    assert rule.interval > 0


def test_state_round_trip_continues_identically() -> None:
    rnd = random.Random(5)
    data = [(i * 300.0, 50.0 + rnd.gauss(0, 2)) for i in range(1200)]
    a = OnsetScore()
    run(a, data[:700])
    b = OnsetScore()
    b.load(json.loads(json.dumps(a.save())))
    assert run(a, data[700:]) == run(b, data[700:])


def daily_shape(days: int, missing_day: int | None, seed: int) -> list[tuple[float, float]]:
    """Low at night, a jump to a noisy high plateau by day (5-minute readings); on
    ``missing_day`` the jump never comes: every reading stays inside the usual range."""
    rnd = random.Random(seed)
    out = []
    for i in range(days * 288):
        day, slot = divmod(i, 288)
        high = 108 <= slot < 216 and day != missing_day
        out.append((i * 300.0, (80.0 if high else 20.0) + rnd.uniform(-5.0, 5.0)))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_missing_daily_jump_is_raised_by_the_time_of_week_profile(seed: int) -> None:
    """No reading is out of range or a big step; only the time of day says it is wrong."""
    readings = daily_shape(12, missing_day=9, seed=seed)
    got = raise_times(OnsetScore(), readings)
    assert got and all(9 * 86_400.0 + 108 * 300.0 <= t < 10 * 86_400.0 for t in got), got
    assert raise_times(OnsetScore(season_s=0.0), readings) == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_normal_daily_shape_gives_no_alarm_after_warm_up(seed: int) -> None:
    rule = OnsetScore()
    got = raise_times(rule, daily_shape(12, missing_day=None, seed=seed))
    assert [t for t in got if t >= 2 * 86_400.0] == [], rule.explain()


def test_state_saved_before_the_daily_profile_still_loads() -> None:
    rnd = random.Random(6)
    data = [(i * 300.0, 50.0 + rnd.gauss(0, 2)) for i in range(800)]
    a = OnsetScore()
    run(a, data)
    state = a.save()
    for key in list(state):
        if key.startswith("profile"):
            del state[key]
    state["spread"] = state["spread"][:2]
    b = OnsetScore()
    b.load(state)
    assert b.sv == [None] * b.season_bins and b.spread[:2] == a.spread[:2]


def test_a_weekday_that_looks_like_a_weekend_is_raised() -> None:
    """Busy weekdays, quiet weekends (hourly readings); one weekday stays quiet all day.
    Raised on that day only: a week later the profile has not learned the holiday as the
    shape of that weekday."""
    rnd = random.Random(9)
    readings = []
    for i in range(5 * 7 * 24):
        day, hour = divmod(i, 24)
        busy = day % 7 < 5 and 8 <= hour < 18 and day != 23  # day 23: a weekday holiday
        readings.append((i * 3600.0, (100.0 if busy else 10.0) + rnd.uniform(-3.0, 3.0)))
    got = raise_times(OnsetScore(), readings)
    assert got and all(23 * 86_400.0 + 8 * 3600.0 <= t < 24 * 86_400.0 for t in got), got


def smooth_daily(days: int, flat_day: int | None, seed: int) -> list[tuple[float, float]]:
    """A smooth daily swing (5-minute readings) whose size varies +-15% from day to day, so
    the previous reading predicts far better than the time-of-week profile; on ``flat_day``
    the swing is absent: every step is smaller than usual and every reading in range."""
    rnd = random.Random(seed)
    out, amp = [], 1.0
    for i in range(days * 288):
        day, slot = divmod(i, 288)
        if slot == 0:
            amp = 1.0 + rnd.uniform(-0.15, 0.15)
        swing = 0.0 if day == flat_day else 40.0 * amp * math.sin(2 * math.pi * slot / 288)
        out.append((i * 300.0, 100.0 + swing + rnd.uniform(-0.2, 0.2)))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_flat_day_on_a_smooth_daily_stream_is_raised(seed: int) -> None:
    """The profile judges although its usual error is larger than the previous reading's:
    only the time of day can see this day, so it is raised on that day and nowhere else."""
    got = raise_times(OnsetScore(), smooth_daily(13, flat_day=10, seed=seed))
    assert got and all(10 * 86_400.0 <= t < 11 * 86_400.0 for t in got), got
    assert raise_times(OnsetScore(), smooth_daily(13, flat_day=None, seed=seed)) == []
