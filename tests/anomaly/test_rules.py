"""Each rule on its own: thresholds, boundaries, hysteresis, learning, scores in 0..1."""

from __future__ import annotations

import dataclasses
import json
import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.anomaly.rules import (
    AdaptiveRule,
    FlatlineRule,
    LimitsRule,
    MissingRule,
    RateRule,
    RollingMadRule,
    SeasonProfile,
    build_rules,
)
from controller.config import ChannelRulesConfig


def limits(db: float = 0.0) -> LimitsRule:
    return LimitsRule(high_warning=80, high_critical=90, low_warning=10, low_critical=5,
                      deadband=db)


def test_limits_boundaries_are_inclusive() -> None:
    r = limits()
    assert r.update(0, 79.999) == (0.0, False)
    assert r.update(1, 80.0) == (1.0, True) and r.severity == "warning"
    assert r.update(2, 90.0)[1] and r.severity == "critical"
    assert r.update(3, 50.0) == (0.0, False)
    assert r.update(4, 10.0)[1] and r.severity == "warning"
    assert r.update(5, 5.0)[1] and r.severity == "critical"
    assert r.update(6, 10.001) == (0.0, False)


def test_limits_hysteresis_holds_until_deadband_is_passed() -> None:
    r = limits(db=2.0)
    assert r.update(0, 80.0)[1]
    # flapping around the limit stays one alarm
    for i, v in enumerate([79.0, 80.5, 78.5, 80.1, 78.01]):
        assert r.update(i + 1, v)[1], v
    assert not r.update(10, 77.99)[1]
    assert not r.update(11, 79.9)[1]  # below the limit again: no re-alarm inside deadband


def test_limits_critical_falls_back_to_warning_with_deadband() -> None:
    r = limits(db=1.0)
    r.update(0, 95.0)
    assert r.severity == "critical"
    r.update(1, 89.5)
    assert r.severity == "critical"
    r.update(2, 88.9)
    assert r.severity == "warning"


def test_only_high_limit_set() -> None:
    r = LimitsRule(high_warning=None, high_critical=3.0, low_warning=None, low_critical=None)
    assert not r.update(0, -1e9)[1]
    assert r.update(1, 3.0)[1] and r.severity == "critical"


def test_rate_per_second_and_per_sample() -> None:
    r = RateRule(max_rate_per_s=1.0, max_step=None)
    assert r.update(0.0, 0.0) == (0.0, False)
    assert r.update(10.0, 10.0) == (1.0, False)  # exactly at the limit is allowed
    score, active = r.update(11.0, 12.0)
    assert active and score == 1.0
    s = RateRule(max_rate_per_s=None, max_step=5.0)
    s.update(0, 0.0)
    assert s.update(0, 2.5) == (0.5, False)  # same timestamp: per-sample still judged
    assert s.update(1, 8.0)[1]


def test_rate_ignores_time_going_backwards_for_per_second() -> None:
    r = RateRule(max_rate_per_s=1.0, max_step=None)
    r.update(100.0, 0.0)
    assert r.update(50.0, 1000.0) == (0.0, False)


def test_flatline_anchored_run() -> None:
    r = FlatlineRule(seconds=60.0, tolerance=0.1)
    assert r.update(0, 5.0) == (0.0, False)
    assert r.update(30, 5.05) == (0.5, False)
    assert r.update(60, 4.95) == (1.0, True)
    assert r.update(61, 5.2) == (0.0, False)  # moved: a new run starts


def test_flatline_slow_drift_is_not_stuck() -> None:
    r = FlatlineRule(seconds=60.0, tolerance=0.1)
    for i in range(200):
        assert not r.update(i, i * 0.05)[1]


def test_missing_needs_a_gap_of_t_seconds() -> None:
    r = MissingRule(seconds=10.0)
    assert r.check(100.0) == (0.0, False)  # the clock starts at the first check
    assert r.check(109.999)[1] is False
    assert r.check(110.0) == (1.0, True)
    r.update(111.0, 1.0)
    assert r.check(115.0) == (0.4, False)
    r.seen(120.0)
    assert r.check(125.0) == (0.5, False)


def noisy(n: int, seed: int = 1, step_s: float = 300.0) -> list[tuple[float, float]]:
    rnd = random.Random(seed)
    return [(i * step_s, 20.0 + 3 * math.sin(i * step_s / 86400 * 2 * math.pi)
             + rnd.gauss(0, 0.5)) for i in range(n)]


def adaptive(**kw: float) -> AdaptiveRule:
    args: dict = dict(threshold=2.5, warmup=288, alpha=0.001, fast_alpha=0.015,
                      season_s=86400.0)
    args.update(kw)
    return AdaptiveRule(**args)


def test_adaptive_warmup_never_alarms() -> None:
    r = adaptive(warmup=100)
    for i in range(100):
        assert r.update(i, 1e6 if i % 2 else -1e6) == (0.0, False)


def test_adaptive_quiet_on_normal_data_then_alarms_on_a_lasting_shift() -> None:
    r = adaptive()
    data = noisy(288 * 8)
    for t, v in data:
        assert not r.update(t, v)[1]
    assert r.season is not None
    swing = max(r.season.values) - min(r.season.values)
    assert 5.0 < swing < 7.0  # the daily cycle (+-3) is learned
    t0 = data[-1][0]
    first = None
    for k in range(1, 200):
        t = t0 + k * 300
        _, active = r.update(t, 26.0 + 3 * math.sin(t / 86400 * 2 * math.pi))
        if active:
            first = k
            break
    assert first is not None and first < 60


def test_season_profile_learns_per_season_not_per_reading() -> None:
    """A shift is not absorbed into the hour's bin by many readings within that hour."""
    p = SeasonProfile(season_s=86400.0, bins=24, alpha=0.1)
    for day in range(20):
        for i in range(720):  # one reading every 5 s during hour 0
            p.learn(0, day * 86400.0 + i * 5.0, 0.0)
    for i in range(720):
        p.learn(0, 20 * 86400.0 + i * 5.0, 10.0)
    assert 0.5 < p.values[0] < 2.0  # about alpha of the way per season, not all of it


def test_adaptive_single_spike_barely_moves_the_baseline_and_raises_nothing() -> None:
    r = adaptive()
    data = noisy(288 * 4)
    for t, v in data:
        r.update(t, v)
    before = r.level
    assert not r.update(288 * 4 * 300, 1e4)[1]
    assert abs(r.level - before) < 1.0
    for t, v in noisy(100, seed=2, step_s=300.0):
        assert not r.update(288 * 4 * 300 + 300 + t, v)[1]


def test_adaptive_warmup_only_holds_alarms_back_learning_is_the_same() -> None:
    """The warm-up gates alarms; the baseline learns the same way whatever its length."""
    short, long = adaptive(warmup=50), adaptive(warmup=5000)
    data = noisy(2000)
    for t, v in data:
        assert not short.update(t, v)[1]
        assert long.update(t, v) == (0.0, False)
    assert short.save() == long.save()


def excursions(shift: float) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """8 normal days, then a day at ``shift``, a day back, another day at ``shift``, 2 days."""
    rnd = random.Random(3)
    data: list[tuple[float, float]] = []
    spans: list[tuple[float, float]] = []
    day = 86400.0
    for days, d in [(8, 0.0), (1, shift), (1, 0.0), (1, shift), (2, 0.0)]:
        start = len(data) * 300.0
        for _ in range(days * 288):
            t = len(data) * 300.0
            data.append((t, 20.0 + 3 * math.sin(t / day * 2 * math.pi) + rnd.gauss(0, 0.5) + d))
        if d:
            spans.append((start, len(data) * 300.0))
    return data, spans


def raises(rule: AdaptiveRule, data: list[tuple[float, float]]) -> list[float]:
    out, before = [], False
    for t, v in data:
        active = rule.update(t, v)[1]
        if active and not before:
            out.append(t)
        before = active
    return out


def test_adaptive_an_excursion_does_not_teach_that_excursions_are_normal() -> None:
    """A second day-long excursion after a day back to normal gets a fresh alarm.

    The spreads learn four times slower than the level, so the first excursion barely
    widens them; with spreads as fast as the level the second one would go unseen.
    """
    data, spans = excursions(-3.0)  # 6 spreads of single readings
    cfg = ChannelRulesConfig(adaptive="ewma", adaptive_warmup_samples=288)
    [rule] = build_rules(cfg)
    assert isinstance(rule, AdaptiveRule)
    got = raises(rule, data)
    assert [any(a <= t < b for t in got) for a, b in spans] == [True, True]
    assert all(any(a <= t < b for a, b in spans) for t in got[:2])
    [fast] = build_rules(dataclasses.replace(cfg, adaptive_spread_alpha=cfg.adaptive_alpha))
    assert isinstance(fast, AdaptiveRule)
    assert not any(spans[1][0] <= t < spans[1][1] for t in raises(fast, data))


def test_adaptive_state_round_trip_continues_identically() -> None:
    a, b = adaptive(), adaptive()
    data = noisy(1000)
    for t, v in data[:600]:
        a.update(t, v)
    b.load(a.save())
    for t, v in data[600:]:
        assert a.update(t, v) == b.update(t, v)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1e6), st.floats(-1e6, 1e6)), min_size=1, max_size=300))
def test_every_rule_scores_within_0_and_1(readings: list[tuple[float, float]]) -> None:
    cfg = ChannelRulesConfig(
        high_warning=1.0, high_critical=2.0, low_warning=-1.0, low_critical=-2.0,
        deadband=0.5, max_rate_per_s=1.0, max_step=3.0, flatline_s=10.0, missing_s=5.0,
        onset_warmup_readings=5,
    )
    rules = build_rules(cfg)
    assert [r.name for r in rules] == ["limits", "rate", "flatline", "missing", "adaptive"]
    for t, v in readings:
        for rule in rules:
            score, active = rule.update(t, v)
            assert 0.0 <= score <= 1.0
            assert isinstance(active, bool)
            assert rule.severity in ("warning", "critical")


def mad(**kw: float) -> RollingMadRule:
    args: dict = dict(threshold=2.5, warmup=288, window=576, fast_alpha=0.015,
                      season_s=86400.0)
    args.update(kw)
    return RollingMadRule(**args)


def test_mad_quiet_on_normal_data_alarms_on_shift_and_ignores_outliers() -> None:
    r = mad()
    data = noisy(288 * 4)
    for i, (t, v) in enumerate(data):
        # every 50th reading is a wild outlier: the median and MAD do not care
        _, active = r.update(t, 1e5 if i % 50 == 25 and i > 300 else v)
        assert not active, i
    t0 = data[-1][0]
    hits = [r.update(t0 + k * 300, 30.0)[1] for k in range(1, 100)]
    assert any(hits)


def test_mad_state_round_trip_continues_identically() -> None:
    a, b = mad(), mad()
    data = noisy(1200)
    for t, v in data[:700]:
        a.update(t, v)
    b.load(json.loads(json.dumps(a.save())))
    for t, v in data[700:]:
        assert a.update(t, v) == b.update(t, v)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1e6), st.floats(-1e6, 1e6)), min_size=1, max_size=300))
def test_mad_scores_within_0_and_1(readings: list[tuple[float, float]]) -> None:
    r = mad(warmup=3, window=20)
    for t, v in readings:
        score, _ = r.update(t, v)
        assert 0.0 <= score <= 1.0
