"""`edgewarden status` for people: the service's status as readable rich tables.

The status arrives decoded as the shared schema's `Status` (a status of another shape is
refused before this module sees it), so every field is read by name. Times are ages
against the service's own clock ("12 s ago"), sizes have units, states are words,
counters that are zero say 0 and reasons are listed by name; nothing prints a Python
repr. Scripts use `status --json`, which is the service's answer unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sized
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from controller.control import schema

NONE = "-"

ALARM_STATES = {
    "normal": "normal",
    "active_unack": "active, not acknowledged",
    "active_ack": "active, acknowledged",
    "returned_unack": "cleared, not acknowledged",
    "shelved": "shelved",
    "suppressed": "suppressed",
}
NODE_STATES = {"unpaired": "not paired", "under_attack": "online, under attack"}
STORE_STATES = {"ok": "ok, storing", "full": "full: only alarms and audit are stored",
                "failing": "FAILING: nothing is stored"}
# status keys whose value is a Unix time (shown as an age), a size in bytes, a duration
TIME_KEYS = frozenset({"time", "t", "since", "start", "last_seen", "acked_at",
                       "shelved_until", "last_reading", "last_frame"})
SPARK = "▁▂▃▄▅▆▇█"


# ------------------------------------------------------------------ scalar formatting
def number(value: float, digits: int = 3) -> str:
    """A float shortened to `digits` significant figures (no 17-digit tails)."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if float(value).is_integer() and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:,.0f}"


def size(n: float) -> str:
    """Bytes with a unit: 84.6 GB, 512 MB, 900 B."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{number(value)} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1000
    return f"{value} TB"  # pragma: no cover - loop always returns


def duration(seconds: float) -> str:
    """A span as a person says it: 45 s, 12 min, 3 h 5 min, 2 days."""
    s = abs(float(seconds))
    if s < 60:
        return f"{number(s, 2) if s < 10 else int(s)} s"
    if s < 3600:
        return f"{int(s // 60)} min"
    if s < 86400:
        hours, minutes = divmod(int(s // 60), 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days = int(s // 86400)
    return f"{days} day{'s' if days != 1 else ''}"


def when(t: float | None, now: float) -> str:
    """A Unix time as an age ("12 s ago", "in 5 min"), with the date when over a day."""
    if t is None:
        return "never"
    if not now:  # the service sent no clock to measure against
        return clock(t)
    delta = now - float(t)
    if abs(delta) < 1:
        return "just now"
    text = f"{duration(delta)} ago" if delta > 0 else f"in {duration(-delta)}"
    if abs(delta) >= 86400:
        text += f" ({clock(t)})"
    return text


def clock(t: float) -> str:
    return datetime.fromtimestamp(float(t), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def counts(reasons: Any) -> str:
    """A reason -> count table as "0" or "66 (bad_cobs 60, replay 6)"."""
    if isinstance(reasons, int | float):
        return number(reasons)
    if not isinstance(reasons, Mapping):
        return human(reasons)
    items = {k: v for k, v in reasons.items() if v}
    total = sum(int(v) for v in items.values() if isinstance(v, int | float))
    if not items:
        return "0"
    listed = ", ".join(f"{k} {v}" for k, v in sorted(items.items(), key=lambda kv: -kv[1]))
    return f"{total} ({listed})"


def sparkline(values: Iterable[Any]) -> str:
    """The recent history as a line of blocks, with its range: ▁▃█▅ 20.1..23.4."""
    vs = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if not vs:
        return NONE
    lo, hi = min(vs), max(vs)
    span = hi - lo
    blocks = "".join(SPARK[int((v - lo) / span * (len(SPARK) - 1))] if span else SPARK[0]
                     for v in vs[-20:])
    rng = number(lo) if span == 0 else f"{number(lo)}..{number(hi)}"
    return f"{blocks} {rng}"


def human(value: Any, key: str = "", now: float | None = None) -> str:
    """Any status value in words: the fallback for fields without their own column."""
    if value is None:
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        if now is not None and (key in TIME_KEYS or key.endswith("_at")) and value > 1e9:
            return when(value, now)
        if key.endswith("_bytes"):
            return size(value)
        if key.endswith("_s"):
            return duration(value)
        return number(value)
    if isinstance(value, str):
        return value or NONE
    if isinstance(value, Mapping):
        if not value:
            return "none"
        return ", ".join(f"{_words(k)} {human(v, str(k), now)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "; ".join(human(v, key, now) for v in value) if value else "none"
    return str(value)


def _words(key: Any) -> str:
    return str(key).replace("_", " ")


# ------------------------------------------------------------------ the sections
def _add(table: Table, *cells: str) -> None:
    """A row of plain text: paths and errors like "[Errno 2]" are never read as markup."""
    table.add_row(*(Text(c) for c in cells))


def _pairs(title: str | None = None) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False, title=title,
                  title_justify="left", title_style="bold")
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    return table


def summary(s: schema.Status, now: float) -> Table:
    table = _pairs()
    _add(table, "service", f"{s.state} (edgewarden {s.version})" if s.version else s.state)
    _add(table, "device", human(s.device))
    _add(table, "up for", duration(s.uptime_s))
    if now:
        _add(table, "as of", clock(now))
    _add(table, "you", f"uid {s.you.uid}, role {s.you.role}")
    cfg = s.config
    line = f"{cfg.path or 'built-in defaults'}, reloaded {cfg.reloads} time(s)"
    if cfg.last_error:
        line += f"; last reload refused: {cfg.last_error}"
    _add(table, "config", line)
    store = s.store
    _add(table, "store state", _store_state(store, now))
    _add(table, "store", _store_line(store))
    _add(table, "not stored", _store_losses(store))
    if store.verification_key_fingerprint:
        _add(table, "verification key", f"fingerprint {store.verification_key_fingerprint}")
    cp = store.checkpoint
    if cp is not None:
        _add(table, "checkpoint",
             f"seal {cp.seal}, record {cp.record}, epoch {cp.epoch}, "
             f"{when(cp.time, now)}, head {cp.head[:16]}..; "
             f"keep a copy of {cp.file} off the device")
    if s.health is not None:
        for name, text in _health_lines(s.health, now):
            _add(table, name, text)
    _add(table, "queues", _queue_line(s.queues))
    _add(table, "forwarder", human(None if s.forwarder is None else
                                   schema.to_wire(s.forwarder), "forwarder", now))
    return table


def _store_state(store: schema.Store, now: float) -> str:
    line = STORE_STATES.get(store.state, store.state)
    if store.failure:
        line += f" ({store.failure})"
    if store.failing_since:
        line += f", since {when(store.failing_since, now)}"
    return line


def _store_line(store: schema.Store) -> str:
    epoch = store.epoch
    parts = [f"{store.records:,} records ({store.sealed:,} sealed, {store.seals:,} seals)",
             f"epoch {epoch if epoch is not None else NONE}",
             f"{store.pending} pending",
             f"{store.committed_since_start:,} stored since start"]
    return ", ".join(parts)


def _store_losses(store: schema.Store) -> str:
    losses = {
        "not stored": store.not_stored,
        "dropped for space": store.dropped_no_space,
        "dropped, queue full": store.dropped_queue_full,
        "readings shed": store.shed_readings,
        "media files shed": store.shed_media_files,
    }
    if not any(losses.values()):
        return "0 (nothing lost)"
    return ", ".join(f"{k} {v:,}" for k, v in losses.items() if v)


def _health_lines(h: schema.Health, now: float) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    cpu = ["load " + " / ".join(f"{v:.2f}" for v in (h.load_1m, h.load_5m, h.load_15m))
           + (f" on {h.cpu_count} CPUs" if h.cpu_count else "")]
    if h.cpu_percent is not None:
        cpu.append(f"{h.cpu_percent:.0f}% busy")
    cpu.append(f"{h.cpu_temp_c:.1f} °C" if h.cpu_temp_c is not None else "temperature unknown")
    if h.throttling is not None:
        cpu.append(f"throttled: {human(schema.to_wire(h.throttling))}")
    lines.append(("cpu", ", ".join(cpu)))
    lines.append(("memory", f"{size(h.memory_available_bytes)} available of "
                            f"{size(h.memory_total_bytes)}, swap used {size(h.swap_used_bytes)}"))
    for fs in h.filesystems:
        lines.append((f"disk {fs.path}", f"{size(fs.free_bytes)} free of {size(fs.total_bytes)}"
                      f" ({fs.device or NONE}{', SD card' if fs.on_sd_card else ''})"))
    lines.append(("health sampled", when(h.time, now)))
    return lines


def _queue_line(q: schema.Queues) -> str:
    c = q.control
    return (f"readings dropped {q.readings_dropped}; control: {c.clients} client(s), "
            f"{c.subscribers} subscriber(s), {c.events_published:,} events sent, "
            f"{c.events_dropped} dropped, {c.clients_refused} refused")


def _rows(title: str, columns: list[str], whole: tuple[str, ...] = ()) -> Table:
    """A titled table; the `whole` columns (paths, uids) never break, to copy them."""
    table = Table(title=title, title_justify="left", title_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column in whole)
    return table


def nodes_table(nodes: list[schema.Node], now: float) -> Table:
    """One row per node; its port is in the ports table (long paths need the room)."""
    rates = any(n.sample_rate_hz is not None for n in nodes)
    table = _rows("nodes", ["node", "state", "last seen", "frames", "readings", "rejected",
                            "link", "firmware", *(["rate"] if rates else []), "uid"],
                  whole=("uid",))
    for n in nodes:
        rate = n.sample_rate_hz
        shown_rate = [f"{number(rate)} Hz" if rate is not None else "as flashed"]
        _add(table, n.name, NODE_STATES.get(n.state, n.state), when(n.last_seen, now),
             human(n.frames_ok), human(n.readings), counts(n.rejected), _link(n.link),
             human(n.firmware), *(shown_rate if rates else []), human(n.uid))
    return table


def _link(link: schema.NodeLink | None) -> str:
    """The link's integrity in words: its problems, else "ok" with the frames lost."""
    if link is None:
        return NONE
    problems = [p for p in link.problems if p]
    if problems:
        return "; ".join(problems)
    lost = link.lost_frames
    return "ok" if not lost else f"ok ({human(lost)} lost in all)"


def ports_table(ports: list[schema.Port], nodes: list[schema.Node]) -> Table:
    """Every serial port the service has, and every node's port, with who is on it."""
    on_port: dict[str, list[str]] = {}
    for n in nodes:
        on_port.setdefault(n.port, []).append(n.name)
    table = _rows("serial ports", ["port", "node", "state", "reopens", "bad frames", "error"])
    longest = max([len(p.path) for p in ports] + [len(k) for k in on_port])
    table.columns[0].min_width = min(longest, 48)  # a udev name stays on one line
    seen = set()
    for p in ports:
        seen.add(p.path)
        _add(table, p.path, ", ".join(on_port.get(p.path, [])) or NONE,
             "open" if p.open else "closed", human(p.reopens), counts(p.frame_errors),
             human(p.last_error))
    for path, names in on_port.items():
        if path not in seen:
            _add(table, path, ", ".join(names), NONE, NONE, NONE, NONE)
    return table


def channels_table(channels: list[schema.Channel], now: float) -> Table:
    table = _rows("readings", ["channel", "value", "updated", "recent", "score"])
    for c in channels:
        _add(table, c.key or f"{c.node}/{c.channel}", f"{number(c.value)} {c.unit}".strip(),
             when(c.t, now), sparkline(c.history), f"{c.score:.2f}")
    return table


def alarms_table(alarms: list[schema.Alarm], now: float) -> Table:
    table = _rows("alarms", ["channel", "rule", "severity", "state", "priority", "since",
                             "value", "handled"])
    for a in alarms:
        handled = []
        if a.acked_by:
            handled.append(f"acknowledged by {a.acked_by} {when(a.acked_at, now)}")
        if a.shelved_until:
            handled.append(f"shelved by {a.shelved_by or NONE} until "
                           f"{when(a.shelved_until, now)}")
        if a.chattering:
            handled.append("chattering")
        _add(table, human(a.channel), human(a.rule), human(a.severity),
             ALARM_STATES.get(a.state, a.state.replace("_", " ")), human(a.priority),
             when(a.since, now), NONE if a.value is None else number(a.value),
             "; ".join(handled) or NONE)
    return table


def cameras_table(cameras: list[schema.Camera], now: float) -> Table:
    table = _rows("cameras", ["camera", "state", "source", "detector", "frames", "dropped",
                              "last detection", "reopens", "reason"])
    for c in cameras:
        det = c.last_detection
        last = ("none yet" if det is None
                else f"{det.label} {det.score:.2f} {when(det.time, now)}")
        _add(table, human(c.name), human(c.state), human(c.source), human(c.detector),
             human(c.frames), human(c.dropped), last, human(c.reopen_attempts),
             human(c.reason))
    return table


EMPTY = {"nodes": "no nodes", "channels": "no readings yet",
         "alarms": "no active alarms", "cameras": "no cameras"}


def _section(name: str, table: Table, rows: Sized) -> RenderableType:
    return table if rows else Text.assemble((name, "bold"), f": {EMPTY[name]}")


def render(s: schema.Status) -> list[RenderableType]:
    """The status as a list of rich renderables, in reading order."""
    now = s.time
    out: list[RenderableType] = [summary(s, now),
                                 _section("nodes", nodes_table(s.nodes, now), s.nodes)]
    if s.ports or s.nodes:
        out.append(ports_table(s.ports, s.nodes))
    out += [_section("channels", channels_table(s.channels, now), s.channels),
            _section("alarms", alarms_table(s.alarms, now), s.alarms),
            _section("cameras", cameras_table(s.cameras, now), s.cameras)]
    return out


def print_status(status: schema.Status, console: Console) -> None:
    for part in render(status):
        console.print(part)
