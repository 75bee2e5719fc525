"""The onset score of one channel: how unlikely the recent prediction errors are, 0..1.

Two cheap predictors run side by side: an EWMA level (horizon ``level_s`` seconds) and
the previous reading (short memory). Each one's absolute error is kept in units of its
own long-run mean error (horizon ``spread_s``), floored at the signal's resolution (the
smallest step it has ever made), and the channel is judged by whichever predictor has
been the better one so far. The mean of that normalised error over the last
``short_readings`` readings is compared with its own long-run mean and deviation
(horizon ``history_s``): the tail probability of the short mean under that distribution
(Numenta's anomaly likelihood) gives the score ``log(tail) / log(1e-10)``, so 0.5 is a
tail of 1e-5 and 1.0 is 1e-10 or beyond. A reading beyond the range the channel has ever
shown (by more than ``range_margin`` of it plus one usual error) scores 1.0, and so does
the first reading after a gap.
A third predictor, the time-of-week profile (``season_bins`` bins over ``season_s``, each a
running mean of its readings), has its own usual error and its own likelihood; the score
is the larger of the two, but the profile's counts only after it has judged
``warmup_readings`` readings (and one period) and while its usual error is under
``SEASON_GAIN`` x the level's: on a strongly daily-shaped or weekly-shaped stream it sees a
wrong day whose readings are all in range. It is not also held to beat the previous
reading: on a smooth stream the one-step error is small whatever the day looks like, so
that test would switch the profile off exactly where a wrong day is only visible to it.

The score rises at the onset of unusual behaviour and falls back while it lasts, because
both the predictors and the error distribution take the new behaviour in. A raise (score
at or above ``threshold``) starts a refractory period of ``refractory_s`` seconds: the
emitted score is damped (an alarm is raised once per episode, not once per reading). A
level shift is the new normal once the level has learned it (95% after three
``level_s``) and the short memory at once; the errors of the shift widen the recent-error
distribution only as much as ``history_s`` lets them.
Horizons are seconds: each learning rate is ``1 - exp(-dt / horizon)`` for the time since
the previous reading, so a gap in the data weighs as the time it spans. The sampling
interval is learned from the stream (a running median of the steps); a step of more than
``GAP_INTERVALS`` intervals is a gap: the short memory and the short mean restart after it.
No score during the warm-up (``warmup_s`` or ``warmup_readings``, whichever ends first),
while learning is the same. Every estimate starts as a running mean, so a stream is
judged as soon as the warm-up ends.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from controller.anomaly.rules import CRITICAL, WARNING, RuleResult

CLIP = 8.0  # a normalised error counts at most this much (a spike is seen, not learned)
GAP_INTERVALS = 10.0  # a step this many sampling intervals long is a gap
INTERVAL_STEP = 1.02  # the interval estimate moves by this factor per reading
SD_FLOOR = 1e-3  # the short mean's deviation never counts as less than this
LOG_TAIL_FLOOR = -23.025850929940457  # log(1e-10): the tail that scores 1.0
RANGE_ERRORS = 1.0  # a new extreme counts only this many usual errors beyond the range
DAMPING = 0.1  # the emitted score is multiplied by this during the refractory period
SEASON_ALPHA = 0.25  # a profile bin moves this share toward each reading that falls in it
SEASON_GAIN = 0.5  # the profile judges only while its usual error is under this x the level's
SEASON_CLIP = CLIP  # a bin moves toward at most this many usual errors: a wrong day is not learned
PREDICTORS = ("level", "previous reading")
_QUIET: RuleResult = (0.0, False)


def _normalised(e: float, s: float, res: float) -> tuple[float, float]:
    """The usual error floored at half the signal's resolution (inf: none seen yet), and the
    error in units of it, clipped at ``CLIP``: one rule for every predictor."""
    if s < 0.5 * res:
        s = 0.5 * res
    if s > 0.0:
        raw = e / s
        return s, (raw if raw < CLIP else CLIP)
    return s, (CLIP if e > 0.0 else 0.0)


def _short_mean(q: deque[float], total: float, raw: float, gap: bool,
                size_max: int) -> tuple[float, float]:
    """Push ``raw`` into the short window ``q`` (emptied after a gap): its new running sum and
    mean, kept in O(1) per reading."""
    if gap:
        q.clear()
        total = 0.0
    q.append(raw)
    total += raw
    size = len(q)
    if size > size_max:
        total -= q.popleft()
        size -= 1
    return total, total / size


class OnsetScore:
    """The "onset" adaptive rule (see the module docstring); one instance per channel."""

    __slots__ = (
        "a_cache",
        "active",
        "dt_cache",
        "err",
        "hi",
        "history_s",
        "interval",
        "last",
        "last_raise",
        "last_t",
        "level",
        "level_s",
        "lo",
        "m_mean",
        "m_var",
        "n",
        "name",
        "range_margin",
        "refractory_s",
        "resolution",
        "resumed",
        "s_mean",
        "s_n",
        "s_short",
        "s_sum",
        "s_var",
        "season_bins",
        "season_s",
        "severity",
        "short",
        "short_n",
        "short_sum",
        "spread",
        "spread_s",
        "start_t",
        "sv",
        "threshold",
        "warmup_readings",
        "warmup_s",
        "why",
    )

    def __init__(
        self,
        threshold: float = 0.5,
        level_s: float = 21_600.0,
        spread_s: float = 259_200.0,
        history_s: float = 1_209_600.0,
        short_readings: int = 10,
        refractory_s: float = 43_200.0,
        warmup_s: float = 172_800.0,
        warmup_readings: int = 300,
        range_margin: float = 0.01,
        season_s: float = 604_800.0,
        season_bins: int = 672,
    ) -> None:
        self.name = "adaptive"
        self.severity = WARNING
        self.threshold = threshold
        self.level_s = level_s
        self.spread_s = spread_s
        self.history_s = history_s
        self.short_n = max(1, short_readings)
        self.refractory_s = refractory_s
        self.warmup_s = warmup_s
        self.warmup_readings = warmup_readings
        self.range_margin = range_margin
        self.season_s = season_s
        self.season_bins = max(1, season_bins) if season_s > 0.0 else 0
        self.sv: list[float | None] = [None] * self.season_bins  # the time-of-week profile
        self.s_n = 0  # readings the profile has predicted
        self.s_short: deque[float] = deque()
        self.s_sum = 0.0
        self.s_mean = 0.0
        self.s_var = 0.0
        self.n = 0
        self.start_t = 0.0
        self.last_t = 0.0
        self.last = 0.0
        self.interval = 0.0  # 0 until a positive step was seen
        self.level = 0.0
        self.spread = [0.0, 0.0, 0.0]  # long-run mean error: level, previous, profile
        self.resolution = math.inf  # smallest nonzero step the signal has made
        self.lo = math.inf
        self.hi = -math.inf
        self.short: deque[float] = deque()
        self.short_sum = 0.0
        self.m_mean = 0.0
        self.m_var = 0.0
        self.last_raise = -math.inf
        self.active = False
        # restored from a saved state: the first step spans the service's own downtime,
        # which is not the stream's gap (it counts as one sampling interval)
        self.resumed = False
        self.dt_cache = -1.0
        self.a_cache = (0.0, 0.0, 0.0)
        self.why: tuple[Any, ...] = ("warm-up",)

    @property
    def warmed_up(self) -> bool:
        return self.n > self.warmup_readings or (
            self.n > 1 and self.last_t - self.start_t >= self.warmup_s
        )

    def _alphas(self, dt: float) -> tuple[float, float, float]:
        """Learning rates for a step of ``dt`` seconds: level, spread, history."""
        if dt == self.dt_cache:
            return self.a_cache
        exp = math.exp
        a = (1.0 - exp(-dt / self.level_s), 1.0 - exp(-dt / self.spread_s),
             1.0 - exp(-dt / self.history_s))
        self.dt_cache, self.a_cache = dt, a
        return a

    def update(self, t: float, value: float) -> RuleResult:
        n = self.n
        self.n = n + 1
        if n == 0:
            self.start_t = self.last_t = t
            self.last = self.level = self.lo = self.hi = value
            return _QUIET
        dt = t - self.last_t
        if dt < 0.0:
            dt = 0.0  # out of order: learn it as simultaneous
        else:
            self.last_t = t
        iv = self.interval
        if self.resumed:  # the step spans the service's downtime, not the stream's
            self.resumed = False
            if iv > 0.0 and dt > GAP_INTERVALS * iv:
                dt = iv
        if dt > 0.0:
            if iv == 0.0:
                iv = dt
            elif dt > iv:
                iv *= INTERVAL_STEP
            elif dt < iv:
                iv /= INTERVAL_STEP
            self.interval = iv
        if dt == self.dt_cache:
            a_level, a_spread, a_hist = self.a_cache
        else:
            a_level, a_spread, a_hist = self._alphas(dt)
        k = 1.0 / (n + 1)  # running means until each horizon is reached
        if a_level < k:
            a_level = k
        if a_spread < k:
            a_spread = k
        if a_hist < k:
            a_hist = k
        level = self.level
        gap = dt > GAP_INTERVALS * iv > 0.0
        diff = value - level
        e_level = diff if diff >= 0.0 else -diff
        step = value - self.last
        if step < 0.0:
            step = -step
        e_prev = e_level if gap else step
        res = self.resolution
        if 0.0 < step < res:
            self.resolution = res = step
        self.last = value
        self.level = level + a_level * diff
        # the predictor that has been better so far judges the reading
        sp = self.spread
        s_level, s_prev = sp[0], sp[1]
        if s_prev < s_level:
            which, e, s = 1, e_prev, s_prev
        else:
            which, e, s = 0, e_level, s_level
        s, raw = _normalised(e, s, res)
        lim = CLIP * s_level if s_level > 0.0 else e_level
        sp[0] = s_level + a_spread * ((e_level if e_level < lim else lim) - s_level)
        lim = CLIP * s_prev if s_prev > 0.0 else e_prev
        sp[1] = s_prev + a_spread * ((e_prev if e_prev < lim else lim) - s_prev)
        # short mean of the normalised error against its own long-run distribution
        self.short_sum, m = _short_mean(self.short, self.short_sum, raw, gap, self.short_n)
        mu = self.m_mean
        var = self.m_var
        d = m - mu
        self.m_mean = mu + a_hist * d
        self.m_var = (1.0 - a_hist) * (var + a_hist * d * d)
        sd = math.sqrt(var) if var > SD_FLOOR * SD_FLOOR else SD_FLOOR
        z = d / sd
        tail = 0.5 * math.erfc(z * 0.7071067811865476) if z > 0.0 else 0.5
        score = math.log(tail) / LOG_TAIL_FLOOR if tail > 1e-10 else 1.0
        s_score = self._season(t, value, gap, a_spread, a_hist, res, s_level) if (
            self.season_bins) else 0.0
        if s_score > score:
            score = s_score
        lo = self.lo
        hi = self.hi
        margin = self.range_margin * (hi - lo) + RANGE_ERRORS * s
        outside = False
        if value < lo:
            self.lo = value
            outside = value < lo - margin
        elif value > hi:
            self.hi = value
            outside = value > hi + margin
        if n < self.warmup_readings and t - self.start_t < self.warmup_s:
            self.why = ("warm-up",)
            return _QUIET
        if outside or gap:
            score = 1.0
        in_refractory = t - self.last_raise < self.refractory_s
        self.why = (which, e, s, m, mu, sd, tail, outside, gap, dt, in_refractory, s_score)
        if in_refractory:
            # one alarm per episode: the condition holds while the raw score stays high
            active = self.active and score >= self.threshold * 0.5
            self.active = active
            return (score * DAMPING, active)
        if score >= self.threshold:
            self.last_raise = t
            self.active = True
            self.severity = CRITICAL if score >= 1.0 else WARNING
            return (score, True)
        self.active = False
        return (score, False)

    def _season(self, t: float, value: float, gap: bool, a_spread: float, a_hist: float,
                res: float, s_level: float) -> float:
        """The time-of-week profile's likelihood: how unlikely the recent errors against the profile
        (the mean of each time-of-week bin) are; 0 until it has judged ``warmup_readings``
        readings, and while its usual error is not under ``SEASON_GAIN`` x the level's."""
        bins = self.season_bins
        b = int(t % self.season_s * bins / self.season_s)
        if b >= bins:
            b = bins - 1
        sv = self.sv
        pred = sv[b]
        sp = self.spread
        s = sp[2]
        if pred is None:
            sv[b] = value
            return 0.0
        e = value - pred
        lim = SEASON_CLIP * s
        if s > 0.0 and e > lim:
            sv[b] = pred + SEASON_ALPHA * lim
        elif s > 0.0 and e < -lim:
            sv[b] = pred - SEASON_ALPHA * lim
        else:
            sv[b] = pred + SEASON_ALPHA * e
        if t - self.start_t < self.season_s:
            return 0.0
        if e < 0.0:
            e = -e
        n = self.s_n + 1
        self.s_n = n
        k = 1.0 / n
        lim = CLIP * s if s > 0.0 else e
        sp[2] = s + (a_spread if a_spread > k else k) * ((e if e < lim else lim) - s)
        s, raw = _normalised(e, s, res)
        self.s_sum, m = _short_mean(self.s_short, self.s_sum, raw, gap, self.short_n)
        mu = self.s_mean
        var = self.s_var
        d = m - mu
        a = a_hist if a_hist > k else k
        self.s_mean = mu + a * d
        self.s_var = (1.0 - a) * (var + a * d * d)
        if n <= self.warmup_readings or not s < SEASON_GAIN * s_level or d <= 0.0:
            return 0.0
        sd = math.sqrt(var) if var > SD_FLOOR * SD_FLOOR else SD_FLOOR
        tail = 0.5 * math.erfc(d / sd * 0.7071067811865476)
        return math.log(tail) / LOG_TAIL_FLOOR if tail > 1e-10 else 1.0

    def explain(self) -> str:
        """Why the latest reading scored as it did, in words and numbers."""
        why = self.why
        if len(why) == 1:
            return f"{why[0]}: no score yet (learning)"
        which, e, s, m, mu, sd, tail, outside, gap, dt, in_refractory, s_score = why
        text = (f"predictor {PREDICTORS[which]}: error {e:.6g} = {e / s if s else 0.0:.2f} x "
                f"its usual {s:.6g}; mean of the last {len(self.short)} normalised errors "
                f"{m:.3f} vs usual {mu:.3f} +- {sd:.3f}: tail probability {tail:.3g}")
        if s_score > 0.0:
            text += (f"; the time-of-week profile's recent errors score {s_score:.3f} "
                     "(the larger of the two counts)")
        if outside:
            text += f"; beyond the range ever seen [{self.lo:.6g}, {self.hi:.6g}]: score 1"
        if gap:
            text += f"; first reading after a gap of {dt:g} s: score 1"
        if in_refractory:
            text += f"; within {self.refractory_s:g} s of the last raise: score damped"
        return text

    def save(self) -> dict[str, Any]:
        return {
            "n": self.n, "start_t": self.start_t, "last_t": self.last_t, "last": self.last,
            "interval": self.interval, "level": self.level, "spread": list(self.spread),
            "resolution": None if self.resolution == math.inf else self.resolution,
            "lo": self.lo if self.n else None, "hi": self.hi if self.n else None,
            "short": list(self.short), "short_sum": self.short_sum, "m_mean": self.m_mean,
            "m_var": self.m_var,
            "last_raise": None if self.last_raise == -math.inf else self.last_raise,
            "active": self.active, "profile": list(self.sv), "profile_n": self.s_n,
            "profile_short": list(self.s_short), "profile_sum": self.s_sum,
            "profile_mean": self.s_mean, "profile_var": self.s_var,
        }

    def load(self, state: dict[str, Any]) -> None:
        n = int(state["n"])
        nums = [float(state[k]) for k in ("start_t", "last_t", "last", "interval", "level",
                                          "m_mean", "m_var", "short_sum")]
        spread = [float(x) for x in state["spread"]]
        if len(spread) == 2:  # saved before the profile existed: it starts afresh
            spread.append(0.0)
        profile = [None if x is None else float(x) for x in state.get("profile", [])]
        if len(profile) != self.season_bins:  # none saved, or the bins changed: afresh
            profile, s_n, s_short, s_nums = [None] * self.season_bins, 0, [], [0.0] * 3
        else:
            s_n = int(state["profile_n"])
            s_short = [float(x) for x in state["profile_short"]][-self.short_n:]
            s_nums = [float(state[k]) for k in ("profile_sum", "profile_mean", "profile_var")]
        s_all = [x for x in profile if x is not None] + s_short + s_nums
        short = [float(x) for x in state["short"]][-self.short_n:]
        res, lo, hi, raised = (state[k] for k in ("resolution", "lo", "hi", "last_raise"))
        opt = [float(x) for x in (res, lo, hi, raised) if x is not None]
        if (n < 0 or s_n < 0 or len(spread) != 3 or min(spread) < 0 or nums[3] < 0
                or nums[6] < 0 or s_nums[2] < 0
                or not all(math.isfinite(x) for x in nums + spread + short + opt + s_all)):
            raise ValueError("onset score state out of range")
        self.n = n
        (self.start_t, self.last_t, self.last, self.interval, self.level, self.m_mean,
         self.m_var, self.short_sum) = nums
        self.spread = spread
        self.short = deque(short)
        self.resolution = math.inf if res is None else float(res)
        self.lo = math.inf if lo is None else float(lo)
        self.hi = -math.inf if hi is None else float(hi)
        self.last_raise = -math.inf if raised is None else float(raised)
        self.active = bool(state["active"])
        self.resumed = True
        self.sv = profile
        self.s_n = s_n
        self.s_short = deque(s_short)
        self.s_sum, self.s_mean, self.s_var = s_nums
