"""The anomaly rules of one channel: pure, incremental, a few attribute updates per sample.

Every rule answers each reading with ``(score, active)``: ``score`` in 0..1 is how close
the reading is to the rule's alarm threshold (1.0 means at or beyond it), ``active`` is the
rule's own alarm condition, which may stay true below the threshold while hysteresis
holds it. ``severity`` says how bad an active condition is ("warning" or "critical").
Rules never read a clock: time arrives as ``t`` (seconds, any epoch) with each call.

The per-sample path is written for CPython speed (``__slots__``, locals, no allocations
beyond the result tuple), because a Pi runs many channels at once.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from typing import Any, Protocol

from controller.config import ChannelRulesConfig

WARNING = "warning"
CRITICAL = "critical"

FAST_CLIP = 6.0  # residuals enter the short-term mean clipped at this many spreads
FAST_FLOOR = 0.5  # a lasting shift must reach this many spreads of single readings too
MAD_FAST_CLIP = 3.0  # the same for the rolling median/MAD rule (MADs are tighter)
SPREAD_RATE = 0.25  # spreads learn this much slower than the level unless told otherwise
ROBUST_AFTER = 32  # readings of spread learned before residuals are clipped against it
RuleResult = tuple[float, bool]
_QUIET: RuleResult = (0.0, False)


class Rule(Protocol):
    """What the engine needs from a rule."""

    name: str
    severity: str

    def update(self, t: float, value: float) -> RuleResult:
        """Take one reading; return (score 0..1, condition active)."""
        ...

    def save(self) -> dict[str, Any]:
        """Learned/running state as JSON-able data."""
        ...

    def load(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`save` returned (raises KeyError/TypeError/ValueError if bad)."""
        ...


class TimedRule(Rule, Protocol):
    """A rule that can also fire when *no* reading arrives (checked by the engine's tick)."""

    def check(self, t: float) -> RuleResult:
        """Evaluate the condition at time ``t`` without a reading."""
        ...


# --------------------------------------------------------------------------- limits
class LimitsRule:
    """Static low/high limits at two levels, with a deadband for clearing.

    A reading at or beyond a limit is in alarm. Once in alarm at a level, it stays there
    until the reading is back inside the limit by more than ``deadband`` (hysteresis), so
    a value wobbling on the limit raises one alarm, not one per sample.
    """

    __slots__ = ("deadband", "hc", "hw", "lc", "level", "lw", "name", "severity")

    def __init__(
        self,
        high_warning: float | None,
        high_critical: float | None,
        low_warning: float | None,
        low_critical: float | None,
        deadband: float = 0.0,
    ) -> None:
        inf = math.inf
        self.name = "limits"
        self.hw = high_warning if high_warning is not None else inf
        self.hc = high_critical if high_critical is not None else inf
        self.lw = low_warning if low_warning is not None else -inf
        self.lc = low_critical if low_critical is not None else -inf
        self.deadband = deadband
        self.level = 0  # 0 normal, 1 warning, 2 critical
        self.severity = WARNING

    def update(self, t: float, value: float) -> RuleResult:
        level = self.level
        db = self.deadband
        if level == 0:
            if value >= self.hc or value <= self.lc:
                new = 2
            elif value >= self.hw or value <= self.lw:
                new = 1
            else:
                return _QUIET
        else:
            # limits already crossed are relaxed by the deadband (hysteresis)
            hc = self.hc - db if level >= 2 else self.hc
            lc = self.lc + db if level >= 2 else self.lc
            if value >= hc or value <= lc:
                new = 2
            elif value >= self.hw - db or value <= self.lw + db:
                new = 1
            else:
                new = 0
        self.level = new
        if new == 0:
            return _QUIET
        self.severity = CRITICAL if new == 2 else WARNING
        return (1.0, True)

    def save(self) -> dict[str, Any]:
        return {"level": self.level}

    def load(self, state: dict[str, Any]) -> None:
        level = int(state["level"])
        if level not in (0, 1, 2):
            raise ValueError(f"limits level {level}")
        self.level = level
        self.severity = CRITICAL if level == 2 else WARNING


# --------------------------------------------------------------------------- rate
class RateRule:
    """Rate of change: per second (``max_rate_per_s``) and/or per sample (``max_step``).

    Score is the larger ratio of the observed change to its limit; above 1 is an alarm.
    A reading whose time does not advance (duplicate or out-of-order timestamp) is judged
    by the per-sample step only.
    """

    __slots__ = ("inv_rate", "inv_step", "name", "prev_t", "prev_v", "severity")

    def __init__(self, max_rate_per_s: float | None, max_step: float | None) -> None:
        self.name = "rate"
        self.severity = WARNING
        self.inv_rate = 1.0 / max_rate_per_s if max_rate_per_s else 0.0
        self.inv_step = 1.0 / max_step if max_step else 0.0
        self.prev_t: float | None = None
        self.prev_v = 0.0

    def update(self, t: float, value: float) -> RuleResult:
        prev_t = self.prev_t
        step = abs(value - self.prev_v)
        self.prev_t = t
        self.prev_v = value
        if prev_t is None:
            return _QUIET
        ratio = step * self.inv_step
        dt = t - prev_t
        if dt > 0.0 and self.inv_rate:
            r = step / dt * self.inv_rate
            if r > ratio:
                ratio = r
        if ratio > 1.0:
            return (1.0, True)
        return (ratio, False)

    def save(self) -> dict[str, Any]:
        return {"prev_t": self.prev_t, "prev_v": self.prev_v}

    def load(self, state: dict[str, Any]) -> None:
        prev_t = state["prev_t"]
        self.prev_t = None if prev_t is None else float(prev_t)
        self.prev_v = float(state["prev_v"])


# --------------------------------------------------------------------------- flatline
class FlatlineRule:
    """A stuck sensor: every reading within ``tolerance`` of the first of a run for T s.

    The run is anchored at its first value (not the previous one), so a slow drift in
    tiny steps does not count as stuck. Score is the stuck time over T.
    """

    __slots__ = ("anchor", "inv_s", "name", "seconds", "severity", "since", "tolerance")

    def __init__(self, seconds: float, tolerance: float = 0.0) -> None:
        self.name = "flatline"
        self.severity = WARNING
        self.seconds = seconds
        self.inv_s = 1.0 / seconds if seconds > 0 else math.inf
        self.tolerance = tolerance
        self.anchor: float | None = None
        self.since = 0.0

    def update(self, t: float, value: float) -> RuleResult:
        anchor = self.anchor
        if anchor is None or abs(value - anchor) > self.tolerance:
            self.anchor = value
            self.since = t
            return _QUIET
        stuck = t - self.since
        if stuck >= self.seconds:
            return (1.0, True)
        if stuck <= 0.0:
            return _QUIET
        return (stuck * self.inv_s, False)

    def save(self) -> dict[str, Any]:
        return {"anchor": self.anchor, "since": self.since}

    def load(self, state: dict[str, Any]) -> None:
        anchor = state["anchor"]
        self.anchor = None if anchor is None else float(anchor)
        self.since = float(state["since"])


# --------------------------------------------------------------------------- missing
class MissingRule:
    """No reading (or heartbeat) for T seconds: a dead node or a cut cable.

    Readings and heartbeats reset it; the engine's ``tick`` raises it. Until the first
    reading, the clock starts at the first time the engine saw (``start``).
    """

    __slots__ = ("inv_s", "last_t", "name", "seconds", "severity")

    def __init__(self, seconds: float) -> None:
        self.name = "missing"
        self.severity = CRITICAL
        self.seconds = seconds
        self.inv_s = 1.0 / seconds if seconds > 0 else math.inf
        self.last_t: float | None = None

    def update(self, t: float, value: float) -> RuleResult:
        if self.last_t is None or t > self.last_t:
            self.last_t = t
        return _QUIET

    def seen(self, t: float) -> None:
        """A heartbeat: the node is alive even without a reading."""
        if self.last_t is None or t > self.last_t:
            self.last_t = t

    def check(self, t: float) -> RuleResult:
        last = self.last_t
        if last is None:
            self.last_t = t
            return _QUIET
        gap = t - last
        if gap >= self.seconds:
            return (1.0, True)
        if gap <= 0.0:
            return _QUIET
        return (gap * self.inv_s, False)

    def save(self) -> dict[str, Any]:
        return {"last_t": self.last_t}

    def load(self, state: dict[str, Any]) -> None:
        last = state["last_t"]
        self.last_t = None if last is None else float(last)


# --------------------------------------------------------------------------- adaptive
class SeasonProfile:
    """A learned daily (or any period) profile: the mean deviation from the level per bin.

    Learning is paced by time, not by readings: each bin moves by about ``alpha`` per
    season however fast the channel is sampled (a running mean until then), so a lasting
    shift is not absorbed into the profile within the hour. Always applied: on data with
    no cycle it stays flat and changes nothing.
    """

    __slots__ = ("alpha", "bin_s", "bins", "last_t", "n", "season_s", "values")

    def __init__(self, season_s: float, bins: int, alpha: float) -> None:
        self.season_s = season_s
        self.bins = bins
        self.bin_s = season_s / bins
        self.alpha = alpha
        self.values = [0.0] * bins
        self.n = [0] * bins
        self.last_t: float | None = None

    def bin(self, t: float) -> int:
        return int((t % self.season_s) / self.bin_s) % self.bins

    def learn(self, b: int, t: float, deviation: float) -> None:
        last = self.last_t
        self.last_t = t
        dt = self.bin_s if last is None else t - last
        if dt > self.bin_s:
            dt = self.bin_s
        w = self.alpha * dt / self.bin_s if dt > 0.0 else 0.0
        k = self.n[b] + 1
        self.n[b] = k
        if w < 1.0 / k:
            w = 1.0 / k
        v = self.values[b]
        self.values[b] = v + w * (deviation - v)

    def save(self) -> dict[str, Any]:
        return {"values": list(self.values), "n": list(self.n), "last_t": self.last_t}

    def load(self, state: dict[str, Any]) -> None:
        values = [float(v) for v in state["values"]]
        n = [int(k) for k in state["n"]]
        if len(values) != self.bins or len(n) != self.bins:
            raise ValueError("seasonal profile has a different number of bins")
        if not all(math.isfinite(v) for v in values) or min(n, default=0) < 0:
            raise ValueError("seasonal profile out of range")
        last = state["last_t"]
        self.values, self.n = values, n
        self.last_t = None if last is None else float(last)


class _AdaptiveBase:
    """What both adaptive rules share: threshold with hysteresis, warm-up, daily profile.

    Both score the *short-term mean* of the residuals (an EWMA with ``fast_alpha``, about
    1/fast_alpha readings) in its own learned spreads: a lasting shift of a noisy signal
    stands out long before single readings do, while plain noise averages away. No alarm
    during ``warmup`` readings (learning goes on the same either way). Score is
    ``|z| / threshold`` clipped to 1; the condition clears below ``clear_ratio *
    threshold`` (hysteresis); ``|z|`` beyond ``critical_factor * threshold`` is critical.
    """

    __slots__ = (
        "active", "clear_z", "crit_z", "fast", "fast_alpha", "floor", "n", "name", "season",
        "severity", "threshold", "warmup",
    )

    def __init__(
        self,
        threshold: float,
        warmup: int,
        fast_alpha: float,
        season_s: float | None,
        season_bins: int,
        season_alpha: float,
        clear_ratio: float,
        critical_factor: float,
        floor: float,
    ) -> None:
        self.name = "adaptive"
        self.severity = WARNING
        self.threshold = threshold
        self.clear_z = threshold * clear_ratio
        self.crit_z = threshold * critical_factor
        self.warmup = warmup
        self.fast_alpha = fast_alpha
        self.floor = floor
        self.season = (
            SeasonProfile(season_s, season_bins, season_alpha)
            if season_s and season_s > 0 else None
        )
        self.fast = 0.0
        self.n = 0
        self.active = False

    def _verdict(self, z: float) -> RuleResult:
        """The condition for a warmed-up rule's ``z``: threshold, hysteresis, severity."""
        thr = self.threshold
        score = z / thr
        if z >= thr or (self.active and z >= self.clear_z):
            self.active = True
            self.severity = CRITICAL if z >= self.crit_z else WARNING
            return (1.0 if score > 1.0 else score, True)
        self.active = False
        return (score, False)


class AdaptiveRule(_AdaptiveBase):
    """A baseline learned on the device: robust EWMA level and spreads, plus a daily profile.

    Each reading's residual is taken against ``level + profile[time-of-day bin]``; the
    short-term mean of the residuals (single ones clipped at ``FAST_CLIP`` spreads, so one
    spike barely counts) is scored against its own learned spread, floored at
    ``FAST_FLOOR`` spreads of single readings.

    Learning: every estimate starts as a running mean over all readings so far and turns
    into its EWMA only once it has seen its horizon (1/alpha readings for the level,
    1/spread_alpha for the spreads). Switching to the slow rate at the end of the warm-up
    instead would freeze in spreads learned from the first day, and every ordinary
    excursion of the next days would alarm. The spreads learn slower than the level
    (``spread_alpha``, by default alpha * ``SPREAD_RATE``): an excursion in progress then
    widens them far less, so it does not teach the rule that such excursions are normal
    and the next one, or the jump back, is still seen, while a lasting new normal is
    absorbed by the level. Residuals are clipped at ``clip`` spreads for learning (after
    ``ROBUST_AFTER`` readings), so an anomaly is not absorbed at once.
    """

    __slots__ = ("alpha", "clip", "fast_spread", "level", "spread", "spread_alpha")

    def __init__(
        self,
        threshold: float,
        warmup: int,
        alpha: float,
        fast_alpha: float,
        season_s: float | None,
        season_bins: int = 24,
        season_alpha: float = 0.1,
        clear_ratio: float = 0.5,
        critical_factor: float = 2.0,
        clip: float = 3.0,
        floor: float = 1e-9,
        spread_alpha: float | None = None,
    ) -> None:
        super().__init__(threshold, warmup, fast_alpha, season_s, season_bins, season_alpha,
                         clear_ratio, critical_factor, floor)
        self.alpha = alpha
        self.spread_alpha = alpha * SPREAD_RATE if spread_alpha is None else spread_alpha
        self.clip = clip
        self.level = 0.0
        self.spread = 0.0
        self.fast_spread = 0.0

    def update(self, t: float, value: float) -> RuleResult:
        n = self.n
        season = self.season
        if n == 0:
            self.level = value
            self.n = 1
            if season is not None:
                season.learn(season.bin(t), t, 0.0)
            return _QUIET
        level = self.level
        b = -1
        seasonal = 0.0
        if season is not None:
            b = season.bin(t)
            seasonal = season.values[b]
        resid = value - level - seasonal
        floor = self.floor
        sigma = self.spread * 1.25
        if sigma < floor:
            sigma = floor
        robust = n >= ROBUST_AFTER
        r = resid
        if robust:
            lim = FAST_CLIP * sigma
            r = lim if resid > lim else (-lim if resid < -lim else resid)
        fast = self.fast + self.fast_alpha * (r - self.fast)
        self.fast = fast
        fsigma = self.fast_spread * 1.25
        if fsigma < FAST_FLOOR * sigma:
            fsigma = FAST_FLOOR * sigma
        if fsigma < floor:
            fsigma = floor
        z = abs(fast) / fsigma
        # learn: running means until each horizon is reached, then robust (clipped) EWMAs
        k = 1.0 / (n + 1)
        a = self.alpha
        if a < k:
            a = k
        s = self.spread_alpha
        if s < k:
            s = k
        f = fast
        if robust:
            lim = self.clip * sigma
            r = lim if resid > lim else (-lim if resid < -lim else resid)
            lim = self.clip * fsigma
            f = lim if fast > lim else (-lim if fast < -lim else fast)
        self.level = level + a * r
        self.spread += s * (abs(r) - self.spread)
        self.fast_spread += s * (abs(f) - self.fast_spread)
        if season is not None:
            season.learn(b, t, seasonal + r)  # clipped too: robust to spikes
        self.n = n + 1
        if n < self.warmup:
            return _QUIET
        return self._verdict(z)

    @property
    def warmed_up(self) -> bool:
        return self.n > self.warmup

    def save(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "level": self.level,
            "spread": self.spread,
            "fast": self.fast,
            "fast_spread": self.fast_spread,
            "season": self.season.save() if self.season else None,
            "active": self.active,
        }

    def load(self, state: dict[str, Any]) -> None:
        n = int(state["n"])
        nums = [float(state[k]) for k in ("level", "spread", "fast", "fast_spread")]
        if n < 0 or not all(math.isfinite(x) for x in nums) or nums[1] < 0 or nums[3] < 0:
            raise ValueError("adaptive baseline out of range")
        _load_season(self.season, state["season"])
        self.n = n
        self.level, self.spread, self.fast, self.fast_spread = nums
        self.active = bool(state["active"])


def _load_season(season: SeasonProfile | None, saved: Any) -> None:
    if (season is None) != (saved is None):
        raise ValueError("seasonality switched on or off since the state was saved")
    if season is not None:
        season.load(saved)


class RollingMadRule(_AdaptiveBase):
    """The robust alternative: rolling median and MAD over the last ``window`` readings.

    Same scoring as :class:`AdaptiveRule` (the short-term mean of the residuals, in
    robust spreads) and the same daily profile, but the baseline is the exact median of
    a sliding window and the spreads are medians of absolute deviations (times 1.4826),
    so up to half the window can be outliers without moving them. Costs a few sorted-list
    inserts per reading; its learned state is the window itself.
    """

    __slots__ = (
        "abs_fast", "abs_fast_sorted", "abs_res", "abs_res_sorted", "values", "values_sorted",
        "window",
    )

    def __init__(
        self,
        threshold: float,
        warmup: int,
        window: int,
        fast_alpha: float,
        season_s: float | None,
        season_bins: int = 24,
        season_alpha: float = 0.1,
        clear_ratio: float = 0.5,
        critical_factor: float = 2.0,
        floor: float = 1e-9,
    ) -> None:
        super().__init__(threshold, max(warmup, 3), fast_alpha, season_s, season_bins,
                         season_alpha, clear_ratio, critical_factor, floor)
        self.window = max(window, 3)
        self.values: deque[float] = deque()
        self.values_sorted: list[float] = []
        self.abs_res: deque[float] = deque()
        self.abs_res_sorted: list[float] = []
        self.abs_fast: deque[float] = deque()
        self.abs_fast_sorted: list[float] = []

    def _push(self, q: deque[float], srt: list[float], x: float) -> None:
        q.append(x)
        insort(srt, x)
        if len(q) > self.window:
            del srt[bisect_left(srt, q.popleft())]

    def update(self, t: float, value: float) -> RuleResult:
        season = self.season
        b = -1
        seasonal = 0.0
        if season is not None:
            b = season.bin(t)
            seasonal = season.values[b]
        x = value - seasonal
        vs = self.values_sorted
        n = self.n
        self.n = n + 1
        if not vs:
            self._push(self.values, vs, x)
            return _QUIET
        median = vs[len(vs) // 2]
        resid = x - median
        ar, af = self.abs_res_sorted, self.abs_fast_sorted
        sigma = 1.4826 * ar[len(ar) // 2] if ar else 0.0
        r = resid
        if n >= self.warmup:
            lim = MAD_FAST_CLIP * sigma
            r = lim if resid > lim else (-lim if resid < -lim else resid)
        fast = self.fast + self.fast_alpha * (r - self.fast)
        self.fast = fast
        fsigma = 1.4826 * af[len(af) // 2] if af else 0.0
        if fsigma < FAST_FLOOR * sigma:
            fsigma = FAST_FLOOR * sigma
        if fsigma < self.floor:
            fsigma = self.floor
        z = abs(fast) / fsigma
        self._push(self.values, vs, x)
        self._push(self.abs_res, ar, abs(resid))
        self._push(self.abs_fast, af, abs(fast))
        if season is not None:
            lim = 3.0 * sigma if sigma > self.floor else math.inf
            season.learn(b, t, seasonal + (lim if resid > lim else max(resid, -lim)))
        if n < self.warmup:
            return _QUIET
        return self._verdict(z)

    def save(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "fast": self.fast,
            "values": list(self.values),
            "abs_res": list(self.abs_res),
            "abs_fast": list(self.abs_fast),
            "season": self.season.save() if self.season else None,
            "active": self.active,
        }

    def load(self, state: dict[str, Any]) -> None:
        lists = [[float(x) for x in state[k]][-self.window:]
                 for k in ("values", "abs_res", "abs_fast")]
        fast = float(state["fast"])
        if not all(math.isfinite(x) for xs in lists for x in xs) or not math.isfinite(fast):
            raise ValueError("rolling window out of range")
        _load_season(self.season, state["season"])
        self.n = int(state["n"])
        self.fast = fast
        self.values, self.abs_res, self.abs_fast = (deque(xs) for xs in lists)
        self.values_sorted, self.abs_res_sorted, self.abs_fast_sorted = (
            sorted(xs) for xs in lists
        )
        self.active = bool(state["active"])


# --------------------------------------------------------------------------- build
def build_rules(cfg: ChannelRulesConfig) -> list[Rule]:
    """The rules a channel's config turns on, in a fixed order (limits first)."""
    rules: list[Rule] = []
    limits = (cfg.high_warning, cfg.high_critical, cfg.low_warning, cfg.low_critical)
    if any(v is not None for v in limits):
        rules.append(LimitsRule(*limits, deadband=cfg.deadband))
    if cfg.max_rate_per_s is not None or cfg.max_step is not None:
        rules.append(RateRule(cfg.max_rate_per_s, cfg.max_step))
    if cfg.flatline_s is not None:
        rules.append(FlatlineRule(cfg.flatline_s, cfg.flatline_tolerance))
    if cfg.missing_s is not None:
        rules.append(MissingRule(cfg.missing_s))
    if cfg.adaptive == "onset":
        from controller.anomaly.onset import OnsetScore  # onset imports this module

        rules.append(
            OnsetScore(
                threshold=cfg.onset_threshold,
                level_s=cfg.onset_level_s,
                spread_s=cfg.onset_spread_s,
                history_s=cfg.onset_history_s,
                short_readings=cfg.onset_short_readings,
                refractory_s=cfg.onset_refractory_s,
                warmup_s=cfg.onset_warmup_s,
                warmup_readings=cfg.onset_warmup_readings,
                range_margin=cfg.onset_range_margin,
                season_s=cfg.onset_season_s,
                season_bins=cfg.onset_season_bins,
            )
        )
    elif cfg.adaptive == "mad":
        rules.append(
            RollingMadRule(
                threshold=cfg.adaptive_threshold,
                warmup=cfg.adaptive_warmup_samples,
                window=cfg.adaptive_window,
                fast_alpha=cfg.adaptive_fast_alpha,
                season_s=cfg.adaptive_season_s,
                season_bins=cfg.adaptive_season_bins,
                season_alpha=cfg.adaptive_season_alpha,
                clear_ratio=cfg.adaptive_clear_ratio,
                critical_factor=cfg.adaptive_critical_factor,
            )
        )
    elif cfg.adaptive == "ewma":
        rules.append(
            AdaptiveRule(
                threshold=cfg.adaptive_threshold,
                warmup=cfg.adaptive_warmup_samples,
                alpha=cfg.adaptive_alpha,
                fast_alpha=cfg.adaptive_fast_alpha,
                season_s=cfg.adaptive_season_s,
                season_bins=cfg.adaptive_season_bins,
                season_alpha=cfg.adaptive_season_alpha,
                clear_ratio=cfg.adaptive_clear_ratio,
                critical_factor=cfg.adaptive_critical_factor,
                spread_alpha=cfg.adaptive_spread_alpha,
            )
        )
    return rules
