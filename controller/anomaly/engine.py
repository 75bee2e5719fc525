"""The anomaly engine: readings in, alarm transitions out, for every channel at once.

Pure: no I/O, no clock. The caller passes the time with every call (``observe`` for a
reading, ``tick`` about once a second for what happens without readings: missing data,
debounce by time, clear delays, shelve expiry) and records the transitions it gets back.
Operator actions (acknowledge, shelve, suppress) also return the transitions they cause.
``save_state``/``load_state`` carry learned baselines and alarm states across a restart.
"""

from __future__ import annotations

import math
from typing import Any

from controller.anomaly.alarm import AlarmActionError, AlarmPoint, AlarmState, AlarmTransition
from controller.anomaly.alarm import AlarmView as AlarmView
from controller.anomaly.rules import MissingRule, Rule, build_rules
from controller.config import AnomalyConfig, ChannelRulesConfig
from controller.errors import UsageError

STATE_VERSION = 1


class StateError(UsageError):
    """A saved engine state that cannot be loaded (wrong version or damaged)."""


class _Channel:
    """The rules of one channel with one alarm point per rule."""

    __slots__ = ("cfg", "in_alarm", "missing", "name", "pairs", "score")

    def __init__(self, name: str, cfg: ChannelRulesConfig) -> None:
        self.name = name
        self.cfg = cfg
        rules = build_rules(cfg)
        self.pairs: list[tuple[Rule, AlarmPoint]] = [
            (
                rule,
                AlarmPoint(
                    name, rule.name, cfg.priority,
                    debounce_samples=cfg.debounce_samples,
                    debounce_s=cfg.debounce_s,
                    clear_delay_s=cfg.clear_delay_s,
                ),
            )
            for rule in rules
        ]
        self.missing: tuple[MissingRule, AlarmPoint] | None = None
        for rule, point in self.pairs:
            if isinstance(rule, MissingRule):
                self.missing = (rule, point)
        self.score = 0.0
        self.in_alarm = False


class AnomalyEngine:
    """Per-channel rules and alarm points; see the module docstring for the protocol."""

    def __init__(self, cfg: AnomalyConfig) -> None:
        self.cfg = cfg
        self._channels: dict[str, _Channel] = {}
        self._points: dict[str, AlarmPoint] = {}
        self._now = -math.inf
        self.ignored_readings = 0  # non-finite values, counted rather than learned
        for name in cfg.channels:
            if name != "*":
                self._channel(name)

    # ------------------------------------------------------------------ channels
    def rules_for(self, channel: str) -> ChannelRulesConfig:
        """The channel's own rules, else the "*" default, else the built-in defaults."""
        channels = self.cfg.channels
        return channels.get(channel) or channels.get("*") or ChannelRulesConfig()

    def _channel(self, name: str) -> _Channel:
        ch = self._channels.get(name)
        if ch is None:
            ch = _Channel(name, self.rules_for(name))
            self._channels[name] = ch
            for _, point in ch.pairs:
                self._points[point.alarm_id] = point
        return ch

    def channels(self) -> list[str]:
        return sorted(self._channels)

    def score(self, channel: str) -> float:
        """The channel's score at its latest reading: the highest of its rules, 0..1."""
        ch = self._channels.get(channel)
        return ch.score if ch else 0.0

    def explain(self, channel: str, rule: str) -> str:
        """Why ``rule`` of ``channel`` scored its latest reading as it did ("" if it cannot say)."""
        ch = self._channels.get(channel)
        for r, _ in ch.pairs if ch else ():
            explain = getattr(r, "explain", None)
            if r.name == rule and explain is not None:
                return str(explain())
        return ""

    def in_alarm(self, channel: str) -> bool:
        """Whether any rule of the channel has its (debounced) alarm condition now."""
        ch = self._channels.get(channel)
        return bool(ch and any(p.condition for _, p in ch.pairs))

    # ------------------------------------------------------------------ readings and time
    def observe(self, channel: str, t: float, value: float) -> list[AlarmTransition]:
        """One reading of one channel at time ``t``; returns the alarm transitions it caused."""
        ch = self._channels.get(channel)
        if ch is None:
            ch = self._channel(channel)
        if t > self._now:
            self._now = t
        if not math.isfinite(value):
            self.ignored_readings += 1
            return []
        out: list[AlarmTransition] = []
        best = 0.0
        for rule, point in ch.pairs:
            score, active = rule.update(t, value)
            if score > best:
                best = score
            if active or point.busy:
                out += point.evaluate(t, active, rule.severity, value, score)
        ch.score = best
        return out

    def heartbeat(self, node: str, t: float) -> list[AlarmTransition]:
        """A node's heartbeat: its channels (``node/...``) are not missing."""
        if t > self._now:
            self._now = t
        out: list[AlarmTransition] = []
        prefix = node + "/"
        for name, ch in self._channels.items():
            if ch.missing and (name == node or name.startswith(prefix)):
                rule, point = ch.missing
                rule.seen(t)
                if point.busy:
                    out += point.evaluate(t, False, rule.severity, None, 0.0)
        return out

    def tick(self, t: float) -> list[AlarmTransition]:
        """Time passes: missing data, debounce by time, clear delays and shelve expiry."""
        if t > self._now:
            self._now = t
        out: list[AlarmTransition] = []
        missing: dict[str, tuple[bool, float]] = {}
        for name, ch in self._channels.items():
            if ch.missing:
                rule, _ = ch.missing
                score, active = rule.check(t)
                if score > ch.score:
                    ch.score = score
                missing[name] = (active, score)
        # first-out: a silent node is one alarm on the node's own channel (its name), not
        # one per channel; its channels' missing rules only feed that alarm
        node_silent: dict[str, bool] = {}
        for name, (active, _) in missing.items():
            node, sep, _rest = name.partition("/")
            if sep and node in missing:
                node_silent[node] = node_silent.get(node, False) or active
        for name, (active, score) in missing.items():
            rule, point = self._channels[name].missing  # type: ignore[misc]
            node, sep, _rest = name.partition("/")
            if sep and node in missing:
                active = False  # grouped under the node's alarm
            elif node_silent.get(name):
                active, score = True, 1.0
            if active or point.busy:
                out += point.evaluate(t, active, rule.severity, None, score)
        for point in self._points.values():
            if point.busy or point.state is AlarmState.SHELVED:
                out += point.tick(t)
        return out

    # ------------------------------------------------------------------ operator actions
    def _point(self, alarm_id: str) -> AlarmPoint:
        point = self._points.get(alarm_id)
        if point is None:
            raise AlarmActionError(f"no alarm {alarm_id!r}")
        return point

    def acknowledge(
        self, alarm_id: str, user: str, t: float, comment: str = ""
    ) -> list[AlarmTransition]:
        return self._point(alarm_id).acknowledge(t, user, comment)

    def shelve(
        self, alarm_id: str, user: str, t: float, until_t: float, reason: str
    ) -> list[AlarmTransition]:
        """Hide a (nuisance) alarm until ``until_t``; it comes back by itself then."""
        return self._point(alarm_id).shelve(t, user, until_t, reason)

    def unshelve(self, alarm_id: str, user: str, t: float) -> list[AlarmTransition]:
        return self._point(alarm_id).unshelve(t, user)

    def suppress(
        self, channel: str, reason: str, t: float, user: str = ""
    ) -> list[AlarmTransition]:
        """Suppress by design every alarm of a channel (pairing, maintenance)."""
        out: list[AlarmTransition] = []
        for _, point in self._channel(channel).pairs:
            out += point.suppress(t, user, reason)
        return out

    def unsuppress(self, channel: str, t: float, user: str = "") -> list[AlarmTransition]:
        ch = self._channels.get(channel)
        if ch is None:
            raise AlarmActionError(f"no channel {channel!r}")
        out: list[AlarmTransition] = []
        for _, point in ch.pairs:
            out += point.unsuppress(t, user)
        return out

    # ------------------------------------------------------------------ views
    def alarms(self, include_normal: bool = False) -> list[AlarmView]:
        """Snapshot of alarm points (by default those not normal, or still in condition)."""
        now = self._now if math.isfinite(self._now) else 0.0
        limit = self.cfg.chatter_per_hour
        return [
            p.view(now, limit)
            for _, p in sorted(self._points.items())
            if include_normal or p.state is not AlarmState.NORMAL or p.condition
        ]

    def alarm(self, alarm_id: str) -> AlarmView:
        """Snapshot of one alarm point (AlarmActionError if there is none)."""
        now = self._now if math.isfinite(self._now) else 0.0
        return self._point(alarm_id).view(now, self.cfg.chatter_per_hour)

    # ------------------------------------------------------------------ persistence
    def save_state(self) -> dict[str, Any]:
        """Everything learned or pending, as JSON-able data."""
        channels: dict[str, Any] = {}
        for name, ch in self._channels.items():
            channels[name] = {
                rule.name: {"rule": rule.save(), "alarm": point.save()}
                for rule, point in ch.pairs
            }
        return {
            "version": STATE_VERSION,
            "now": self._now if math.isfinite(self._now) else None,
            "channels": channels,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`save_state` output; rules no longer configured are skipped.

        All or nothing: a damaged state raises :class:`StateError` and leaves this engine
        as it was.
        """
        fresh = AnomalyEngine(self.cfg)
        fresh._load(state)
        self._channels, self._points = fresh._channels, fresh._points
        self._now = max(self._now, fresh._now)

    def _load(self, state: dict[str, Any]) -> None:
        try:
            if state.get("version") != STATE_VERSION:
                raise StateError(f"anomaly state version {state.get('version')!r} unsupported")
            now = state.get("now")
            for name, rules in dict(state["channels"]).items():
                ch = self._channel(str(name))
                for rule, point in ch.pairs:
                    saved = rules.get(rule.name)
                    if saved is None:
                        continue
                    try:
                        rule.load(saved["rule"])
                    except ValueError:
                        continue  # config changed shape (e.g. season bins): relearn
                    point.load(saved["alarm"])
            if now is not None and float(now) > self._now:
                self._now = float(now)
        except StateError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateError(f"anomaly state damaged: {type(exc).__name__}") from None
