"""One alarm point and its ISA-18.2 life cycle, as a pure state machine.

An alarm point is one rule on one channel (id ``"<channel>:<rule>"``). The rule's raw
condition passes a debounce (on-delay by sample count and by time, off-delay by time)
and the debounced condition drives the life cycle:

    normal --raise--> active_unack --ack--> active_ack --clear--> normal
    active_unack --return--> returned_unack --ack--> normal
    returned_unack --raise--> active_unack              (raised again before anyone acked)
    active_ack --escalate--> active_unack               (severity rose: needs a fresh ack)
    any --shelve--> shelved --unshelve / shelve_expired--> active_unack or normal
    any --suppress--> suppressed --unsuppress--> active_unack, shelved or normal

While shelved or suppressed the condition is still followed (so the point comes back in
the right state) but nothing is annunciated. Every change is an :class:`AlarmTransition`.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from controller.errors import EdgewardenError

HOUR_S = 3600.0
_SEVERITY_RANK = {"warning": 1, "critical": 2}


class AlarmState(StrEnum):
    NORMAL = "normal"
    ACTIVE_UNACK = "active_unack"
    ACTIVE_ACK = "active_ack"
    RETURNED_UNACK = "returned_unack"
    SHELVED = "shelved"
    SUPPRESSED = "suppressed"


class AlarmActionError(EdgewardenError):
    """An operator action that does not apply (unknown alarm, nothing to acknowledge...)."""


@dataclass(frozen=True, slots=True)
class AlarmTransition:
    """One change of one alarm point: the store records it as an "alarm" record.

    Fields:
        t: when it happened (seconds since the epoch, the engine's time).
        alarm_id: ``"<channel>:<rule>"``, stable across restarts.
        channel: the sensor channel, e.g. ``"node-1/temp"``.
        rule: ``limits``, ``rate``, ``flatline``, ``missing`` or ``adaptive``.
        event: ``raise``, ``return``, ``clear``, ``ack``, ``escalate``, ``shelve``,
            ``unshelve``, ``shelve_expired``, ``suppress`` or ``unsuppress``.
        from_state, to_state: :class:`AlarmState` values before and after.
        severity: ``warning`` or ``critical`` (the highest of the current episode).
        priority: ``low``, ``medium``, ``high`` or ``urgent`` (from the channel's config).
        value: the reading that triggered the alarm (for raise/escalate) or the latest one.
        score: the rule's score 0..1 at that reading.
        user, comment: who acted and why (ack, shelve, suppress); empty for automatic ones.
        chatter_per_hour: raises of this point within the last hour, this one included.
    """

    t: float
    alarm_id: str
    channel: str
    rule: str
    event: str
    from_state: AlarmState
    to_state: AlarmState
    severity: str
    priority: str
    value: float | None
    score: float
    user: str = ""
    comment: str = ""
    chatter_per_hour: int = 0

    def to_record(self) -> dict[str, Any]:
        """JSON-able dict (states as plain strings) for the record store."""
        d = dataclasses.asdict(self)
        d["from_state"] = str(self.from_state)
        d["to_state"] = str(self.to_state)
        return d


@dataclass(frozen=True, slots=True)
class AlarmView:
    """A snapshot of one alarm point for status displays (TUI, control socket)."""

    alarm_id: str
    channel: str
    rule: str
    state: AlarmState
    condition: bool
    severity: str
    priority: str
    trigger_value: float | None
    trigger_t: float | None
    peak_value: float | None
    acked_by: str
    acked_t: float | None
    ack_comment: str
    shelved_by: str
    shelved_t: float | None
    shelved_until: float | None
    shelve_reason: str
    suppress_reason: str
    chatter_per_hour: int
    chattering: bool


class AlarmPoint:
    """The debounce and life cycle of one rule on one channel (mutable, engine-owned)."""

    __slots__ = (
        "ack_comment",
        "acked_by",
        "acked_t",
        "alarm_id",
        "busy",
        "channel",
        "clear_delay_s",
        "clear_since",
        "condition",
        "debounce_n",
        "debounce_s",
        "last_score",
        "last_value",
        "peak_value",
        "pending_n",
        "pending_since",
        "priority",
        "raises",
        "ref_value",
        "rule",
        "severity",
        "shelve_reason",
        "shelved_by",
        "shelved_t",
        "shelved_until",
        "state",
        "suppress_reason",
        "trigger_t",
        "trigger_value",
    )

    def __init__(
        self,
        channel: str,
        rule: str,
        priority: str,
        debounce_samples: int = 1,
        debounce_s: float = 0.0,
        clear_delay_s: float = 0.0,
    ) -> None:
        self.alarm_id = f"{channel}:{rule}"
        self.channel = channel
        self.rule = rule
        self.priority = priority
        self.debounce_n = max(1, debounce_samples)
        self.debounce_s = debounce_s
        self.clear_delay_s = clear_delay_s
        self.state = AlarmState.NORMAL
        self.condition = False  # debounced condition
        self.busy = False  # condition or a pending raise: the engine must keep calling
        self.pending_n = 0
        self.pending_since = 0.0
        self.clear_since: float | None = None
        self.severity = "warning"
        self.trigger_value: float | None = None
        self.trigger_t: float | None = None
        # the reading farthest from the last one before the alarm (ref_value)
        self.peak_value: float | None = None
        self.ref_value: float | None = None
        self.last_value: float | None = None
        self.last_score = 0.0
        self.acked_by = ""
        self.acked_t: float | None = None
        self.ack_comment = ""
        self.shelved_by = ""
        self.shelved_t: float | None = None
        self.shelved_until: float | None = None
        self.shelve_reason = ""
        self.suppress_reason = ""
        self.raises: deque[float] = deque()

    # ------------------------------------------------------------------ condition
    def evaluate(
        self, t: float, active: bool, severity: str, value: float | None, score: float
    ) -> list[AlarmTransition]:
        """Feed the rule's raw condition at a reading (or a tick, with value None)."""
        before = self.last_value
        if value is not None:
            self.last_value = value
        self.last_score = score
        out: list[AlarmTransition] = []
        if active:
            self.clear_since = None
            if self.condition:
                ref, peak = self.ref_value, self.peak_value
                if value is not None and (
                    peak is None or ref is None or abs(value - ref) > abs(peak - ref)
                ):
                    self.peak_value = value
                if _SEVERITY_RANK[severity] > _SEVERITY_RANK[self.severity]:
                    self._escalate(t, severity, value, score, out)
            else:
                if self.pending_n == 0:
                    self.pending_since = t
                    self.ref_value = before if before is not None else value
                self.pending_n += 1
                if self.pending_n >= self.debounce_n and t - self.pending_since >= self.debounce_s:
                    self._raise(t, severity, value, score, out)
        else:
            self.pending_n = 0
            if self.condition:
                if self.clear_since is None:
                    self.clear_since = t
                if t - self.clear_since >= self.clear_delay_s:
                    self._clear(t, value, score, out)
        self.busy = self.condition or self.pending_n > 0
        return out

    def tick(self, t: float) -> list[AlarmTransition]:
        """Time-driven parts: debounce by time, clear delay, shelve expiry."""
        out: list[AlarmTransition] = []
        if (
            not self.condition
            and self.pending_n >= self.debounce_n
            and t - self.pending_since >= self.debounce_s
        ):
            self._raise(t, self.severity, self.last_value, self.last_score, out)
        if (
            self.condition
            and self.clear_since is not None
            and t - self.clear_since >= self.clear_delay_s
        ):
            self._clear(t, self.last_value, self.last_score, out)
        if (
            self.state is AlarmState.SHELVED
            and self.shelved_until is not None
            and t >= self.shelved_until
        ):
            self.shelved_until = None
            self._come_back(t, "shelve_expired", "", "", out)
        self.busy = self.condition or self.pending_n > 0
        return out

    def _raise(
        self, t: float, severity: str, value: float | None, score: float,
        out: list[AlarmTransition],
    ) -> None:
        self.condition = True
        self.pending_n = 0
        self.clear_since = None
        self.severity = severity
        self.trigger_value = value
        self.trigger_t = t
        self.peak_value = value
        raises = self.raises
        raises.append(t)
        while raises and raises[0] <= t - HOUR_S:
            raises.popleft()
        if self.state in (AlarmState.NORMAL, AlarmState.RETURNED_UNACK):
            self.acked_by, self.acked_t, self.ack_comment = "", None, ""
            self._emit(t, "raise", AlarmState.ACTIVE_UNACK, value, score, "", "", out)

    def _escalate(
        self, t: float, severity: str, value: float | None, score: float,
        out: list[AlarmTransition],
    ) -> None:
        self.severity = severity
        if self.state in (AlarmState.ACTIVE_UNACK, AlarmState.ACTIVE_ACK):
            self.acked_by, self.acked_t, self.ack_comment = "", None, ""
            self._emit(t, "escalate", AlarmState.ACTIVE_UNACK, value, score, "", "", out)

    def _clear(
        self, t: float, value: float | None, score: float, out: list[AlarmTransition]
    ) -> None:
        self.condition = False
        self.clear_since = None
        if self.state is AlarmState.ACTIVE_ACK:
            self._emit(t, "clear", AlarmState.NORMAL, value, score, "", "", out)
        elif self.state is AlarmState.ACTIVE_UNACK:
            self._emit(t, "return", AlarmState.RETURNED_UNACK, value, score, "", "", out)

    def _come_back(
        self, t: float, event: str, user: str, comment: str, out: list[AlarmTransition]
    ) -> None:
        """Leave shelving/suppression for the state the condition calls for."""
        if self.state is AlarmState.SUPPRESSED and self.shelved_until is not None:
            new = AlarmState.SHELVED
        elif self.condition:
            new = AlarmState.ACTIVE_UNACK
            self.acked_by, self.acked_t, self.ack_comment = "", None, ""
        else:
            new = AlarmState.NORMAL
        self._emit(t, event, new, self.last_value, self.last_score, user, comment, out)

    def _emit(
        self, t: float, event: str, to_state: AlarmState, value: float | None, score: float,
        user: str, comment: str, out: list[AlarmTransition],
    ) -> None:
        out.append(
            AlarmTransition(
                t=t, alarm_id=self.alarm_id, channel=self.channel, rule=self.rule,
                event=event, from_state=self.state, to_state=to_state,
                severity=self.severity, priority=self.priority, value=value,
                score=score, user=user, comment=comment,
                chatter_per_hour=self.chatter_count(t),
            )
        )
        self.state = to_state

    # ------------------------------------------------------------------ operator actions
    def acknowledge(self, t: float, user: str, comment: str = "") -> list[AlarmTransition]:
        out: list[AlarmTransition] = []
        if self.state is AlarmState.ACTIVE_UNACK:
            new = AlarmState.ACTIVE_ACK
        elif self.state is AlarmState.RETURNED_UNACK:
            new = AlarmState.NORMAL
        else:
            raise AlarmActionError(
                f"alarm {self.alarm_id} is {self.state}: nothing to acknowledge"
            )
        self.acked_by, self.acked_t, self.ack_comment = user, t, comment
        self._emit(t, "ack", new, self.last_value, self.last_score, user, comment, out)
        return out

    def shelve(self, t: float, user: str, until_t: float, reason: str) -> list[AlarmTransition]:
        if until_t <= t:
            raise AlarmActionError(f"alarm {self.alarm_id}: shelve expiry must be in the future")
        if self.state is AlarmState.SUPPRESSED:
            raise AlarmActionError(f"alarm {self.alarm_id} is suppressed: cannot shelve")
        out: list[AlarmTransition] = []
        self.shelved_by, self.shelved_t, self.shelved_until = user, t, until_t
        self.shelve_reason = reason
        if self.state is not AlarmState.SHELVED:
            self._emit(t, "shelve", AlarmState.SHELVED, self.last_value, self.last_score,
                       user, reason, out)
        return out

    def unshelve(self, t: float, user: str) -> list[AlarmTransition]:
        if self.state is not AlarmState.SHELVED:
            raise AlarmActionError(f"alarm {self.alarm_id} is not shelved")
        self.shelved_until = None
        out: list[AlarmTransition] = []
        self._come_back(t, "unshelve", user, "", out)
        return out

    def suppress(self, t: float, user: str, reason: str) -> list[AlarmTransition]:
        out: list[AlarmTransition] = []
        self.suppress_reason = reason
        if self.state is not AlarmState.SUPPRESSED:
            if self.state is not AlarmState.SHELVED:
                self.shelved_until = None
            self._emit(t, "suppress", AlarmState.SUPPRESSED, self.last_value,
                       self.last_score, user, reason, out)
        return out

    def unsuppress(self, t: float, user: str) -> list[AlarmTransition]:
        out: list[AlarmTransition] = []
        if self.state is AlarmState.SUPPRESSED:
            self.suppress_reason = ""
            if self.shelved_until is not None and t >= self.shelved_until:
                self.shelved_until = None
            self._come_back(t, "unsuppress", user, "", out)
        return out

    # ------------------------------------------------------------------ views and state
    def chatter_count(self, now: float) -> int:
        return sum(1 for r in self.raises if now - HOUR_S < r <= now)

    def view(self, now: float, chatter_per_hour: int) -> AlarmView:
        count = self.chatter_count(now)
        return AlarmView(
            alarm_id=self.alarm_id, channel=self.channel, rule=self.rule, state=self.state,
            condition=self.condition, severity=self.severity, priority=self.priority,
            trigger_value=self.trigger_value, trigger_t=self.trigger_t,
            peak_value=self.peak_value, acked_by=self.acked_by, acked_t=self.acked_t,
            ack_comment=self.ack_comment, shelved_by=self.shelved_by,
            shelved_t=self.shelved_t, shelved_until=self.shelved_until,
            shelve_reason=self.shelve_reason, suppress_reason=self.suppress_reason,
            chatter_per_hour=count, chattering=count >= chatter_per_hour > 0,
        )

    _SAVED = (
        "condition", "pending_n", "pending_since", "clear_since", "severity",
        "trigger_value", "trigger_t", "peak_value", "ref_value", "last_value", "last_score",
        "acked_by", "acked_t", "ack_comment", "shelved_by", "shelved_t", "shelved_until",
        "shelve_reason", "suppress_reason",
    )

    def save(self) -> dict[str, Any]:
        d: dict[str, Any] = {name: getattr(self, name) for name in self._SAVED}
        d["state"] = str(self.state)
        d["raises"] = list(self.raises)
        return d

    def load(self, d: dict[str, Any]) -> None:
        state = AlarmState(d["state"])
        if d["severity"] not in _SEVERITY_RANK:
            raise ValueError(f"severity {d['severity']!r}")
        for name in self._SAVED:
            value = d[name]
            if name in ("condition",):
                value = bool(value)
            elif name == "pending_n":
                value = int(value)
            setattr(self, name, value)
        self.state = state
        self.raises = deque(float(r) for r in d["raises"])
        self.busy = self.condition or self.pending_n > 0
