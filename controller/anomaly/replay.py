"""Replay a recorded `timestamp,value` CSV through one channel's rules (the file adapter).

The technician tunes rules on recorded data before they go live: each reading gets the
channel's score and whether it is in alarm, and every alarm episode is listed with the
rule that raised it, when it started and cleared, and its peak value. Malformed input is
rejected as ``FILE:LINE: what``; the output is written to a temporary name and renamed
only when the whole replay succeeded, so an existing output file is never half-replaced.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from controller.anomaly.alarm import AlarmTransition
from controller.anomaly.engine import AnomalyEngine
from controller.anomaly.rules import build_rules
from controller.atomic_file import replacing
from controller.config import AnomalyConfig, ChannelRulesConfig
from controller.errors import EdgewardenError, UsageError

DEFAULT_CHANNEL = "replay"
ProgressFn = Callable[[int, int], None]  # (bytes done, bytes total)


@dataclass(frozen=True, slots=True)
class Sample:
    """One row of the input: its line number, timestamp as written, seconds, value."""

    line: int
    stamp: str
    t: float
    value: float
    value_text: str


@dataclass(slots=True)
class AlarmEpisode:
    """One alarm from raise to clear (``clear_t`` None: still active at the end)."""

    alarm_id: str
    rule: str
    severity: str
    start_t: float
    start_stamp: str
    trigger_value: float | None
    clear_t: float | None = None
    clear_stamp: str = ""
    peak_value: float | None = None
    why: str = ""  # the rule's own account of the raising reading, if it gives one


@dataclass(slots=True)
class ReplayResult:
    rows: int = 0
    episodes: list[AlarmEpisode] = field(default_factory=list)
    transitions: list[AlarmTransition] = field(default_factory=list)
    # asked-for readings (by timestamp as written): (score, in alarm, each rule's account)
    explained: dict[str, tuple[float, bool, list[str]]] = field(default_factory=dict)


def parse_timestamp(text: str) -> float:
    """ISO 8601 (naive means UTC, as in the NAB files) or epoch seconds -> epoch seconds."""
    s = text.strip()
    if not s:
        raise ValueError("empty timestamp")
    if s[0].isdigit() and ("-" not in s[1:] and ":" not in s):
        t = float(s)
    else:
        dt = datetime.fromisoformat(s)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        t = dt.timestamp()
    if not math.isfinite(t):
        raise ValueError(f"timestamp {s!r} is not finite")
    return t


def format_t(t: float) -> str:
    """Epoch seconds as the NAB-style UTC text used in reports."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")


def read_samples(
    path: Path, progress: ProgressFn | None = None, progress_every: int = 4096
) -> Iterator[Sample]:
    """Rows of a `timestamp,value` CSV; a bad row raises UsageError `FILE:LINE: what`."""
    try:
        total = path.stat().st_size
        f = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    done = 0

    def lines() -> Iterator[str]:
        nonlocal done
        for line in f:
            done += len(line)
            yield line

    with f:
        reader = csv.reader(lines())
        try:
            header = next(reader, None)
            if header is None:
                raise UsageError(f"{path}: empty file (expected a header timestamp,value)")
            names = [h.strip().lower() for h in header]
            if "timestamp" not in names or "value" not in names:
                raise UsageError(
                    f"{path}:1: expected a header with columns timestamp,value, "
                    f"got {','.join(header)!r}"
                )
            it, iv = names.index("timestamp"), names.index("value")
            width = len(names)
            for row in reader:
                line = reader.line_num
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) != width:
                    raise UsageError(f"{path}:{line}: expected {width} columns, got {len(row)}")
                try:
                    t = parse_timestamp(row[it])
                except (ValueError, OverflowError, OSError):
                    raise UsageError(f"{path}:{line}: bad timestamp {row[it]!r}") from None
                text = row[iv].strip()
                try:
                    value = float(text)
                except ValueError:
                    raise UsageError(f"{path}:{line}: bad value {row[iv]!r}") from None
                if not math.isfinite(value):
                    raise UsageError(f"{path}:{line}: value {row[iv]!r} is not finite")
                if progress and line % progress_every == 0:
                    progress(done, total)
                yield Sample(line, row[it].strip(), t, value, text)
        except UnicodeDecodeError:
            raise UsageError(f"{path}: not UTF-8 text") from None
        except csv.Error as exc:
            raise UsageError(f"{path}:{reader.line_num}: {exc}") from None
    if progress:
        progress(total, total)


def replay(
    samples: Iterable[Sample],
    rules: ChannelRulesConfig,
    channel: str = DEFAULT_CHANNEL,
    on_row: Callable[[Sample, float, bool], None] | None = None,
    chatter_per_hour: int = AnomalyConfig.chatter_per_hour,
    explain_at: Collection[str] = (),
) -> ReplayResult:
    """Run samples through a fresh engine holding only ``channel`` with ``rules``.

    For each timestamp in ``explain_at`` (as written in the file), ``result.explained``
    keeps that reading's score, alarm and every rule's account of why it scored so.
    """
    engine = AnomalyEngine(
        AnomalyConfig(channels={channel: rules}, chatter_per_hour=chatter_per_hour)
    )
    result = ReplayResult()
    open_episodes: dict[str, AlarmEpisode] = {}
    stamp = ""
    rule_names = [rule.name for rule in build_rules(rules)]

    def record(transitions: list[AlarmTransition], t: float) -> None:
        for tr in transitions:
            result.transitions.append(tr)
            if tr.event == "raise":
                ep = AlarmEpisode(tr.alarm_id, tr.rule, tr.severity, tr.t, format_t(tr.t)
                                  if tr.t != t else stamp, tr.value, peak_value=tr.value,
                                  why=engine.explain(channel, tr.rule))
                open_episodes[tr.alarm_id] = ep
                result.episodes.append(ep)
            elif tr.event == "escalate" and tr.alarm_id in open_episodes:
                open_episodes[tr.alarm_id].severity = tr.severity
            elif tr.event in ("return", "clear") and tr.alarm_id in open_episodes:
                ep = open_episodes.pop(tr.alarm_id)
                ep.clear_t = tr.t
                ep.clear_stamp = stamp if tr.t == t else format_t(tr.t)
                ep.peak_value = engine.alarm(tr.alarm_id).peak_value

    for s in samples:
        stamp = s.stamp
        record(engine.tick(s.t), s.t)
        record(engine.observe(channel, s.t, s.value), s.t)
        result.rows += 1
        if explain_at and stamp in explain_at:
            why = [f"{rule}: {text}" for rule in rule_names
                   if (text := engine.explain(channel, rule))]
            result.explained[stamp] = (engine.score(channel), engine.in_alarm(channel), why)
        if on_row is not None:
            on_row(s, engine.score(channel), engine.in_alarm(channel))
    for alarm_id, ep in open_episodes.items():
        ep.peak_value = engine.alarm(alarm_id).peak_value
    return result


def replay_file(
    src: Path,
    out: Path | None,
    rules: ChannelRulesConfig,
    channel: str = DEFAULT_CHANNEL,
    progress: ProgressFn | None = None,
    explain_at: Collection[str] = (),
) -> ReplayResult:
    """Replay ``src``; write `timestamp,value,score,alarm` rows to ``out`` (atomically)."""
    samples = read_samples(src, progress)
    if out is None:
        result = replay(samples, rules, channel, explain_at=explain_at)
        if result.rows == 0:
            raise UsageError(f"{src}: no readings after the header")
        return result
    out_dir = out.parent if str(out.parent) else Path(".")
    if not out_dir.is_dir():
        raise UsageError(f"{out}: directory {out_dir} does not exist")
    try:
        with replacing(out, 0o644, encoding="utf-8") as f:  # a replay result is not secret
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(("timestamp", "value", "score", "alarm"))
            write = writer.writerow

            def on_row(s: Sample, score: float, alarm: bool) -> None:
                write((s.stamp, s.value_text, f"{score:.4f}", 1 if alarm else 0))

            result = replay(samples, rules, channel, on_row, explain_at=explain_at)
            if result.rows == 0:
                raise UsageError(f"{src}: no readings after the header")
    except OSError as exc:
        raise EdgewardenError(f"{out}: cannot write: {exc.strerror or exc}") from None
    return result



@dataclass(frozen=True, slots=True)
class WindowReport:
    """How a replay fared against labelled anomaly windows (``[start, end]`` seconds)."""

    delays_s: list[float | None]  # per window: first raise inside minus window start
    active_at_start: list[bool]  # per window: an alarm raised before it still active then
    false_alarms: int  # raises outside every window
    false_per_day: float
    days: float


def window_report(
    result: ReplayResult, windows: list[tuple[float, float]], first_t: float, last_t: float
) -> WindowReport:
    """Score alarm raises against labelled windows: delay to the first, false ones per day."""
    starts = [ep.start_t for ep in result.episodes]
    delays: list[float | None] = []
    for a, b in windows:
        inside = [s for s in starts if a <= s <= b]
        delays.append(min(inside) - a if inside else None)
    active = [
        any(ep.start_t < a and (ep.clear_t is None or ep.clear_t >= a)
            for ep in result.episodes)
        for a, _ in windows
    ]
    false = sum(1 for s in starts if not any(a <= s <= b for a, b in windows))
    days = max((last_t - first_t) / 86_400.0, 1e-9)
    return WindowReport(delays, active, false, false / days, days)
