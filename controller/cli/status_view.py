"""`edgewarden status` for people: the service's status JSON as readable rich tables.

Times are ages against the service's own clock ("12 s ago"), sizes have units, states
are words, counters that are zero say 0 and reasons are listed by name. Nothing here
prints a Python repr: a field this module does not know yet (the service grows) is still
shown through :func:`human`. Scripts use `status --json`, which is the service's answer
unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from controller.control.roles import Role

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


def role_name(role: Any) -> str:
    """The caller's role in words, whether the service sent "3" or "admin"."""
    text = str(role)
    if text.isdigit():
        try:
            return Role(int(text)).label
        except ValueError:
            return text
    return text or NONE


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


def summary(state: Mapping[str, Any], now: float) -> Table:
    table = _pairs()
    service = str(state.get("state", NONE))
    version = state.get("version")
    _add(table, "service", service + (f" (edgewarden {version})" if version else ""))
    _add(table, "device", human(state.get("device")))
    if "uptime_s" in state:
        _add(table, "up for", duration(float(state["uptime_s"])))
    if now:
        _add(table, "as of", clock(now))
    you = state.get("you")
    if isinstance(you, Mapping):
        _add(table, "you", f"uid {you.get('uid', NONE)}, role {role_name(you.get('role'))}")
    cfg = state.get("config")
    if isinstance(cfg, Mapping):
        line = (f"{cfg.get('path') or 'built-in defaults'}, "
                f"reloaded {cfg.get('reloads', 0)} time(s)")
        if cfg.get("last_error"):
            line += f"; last reload refused: {cfg['last_error']}"
        _add(table, "config", line)
    store = state.get("store")
    if isinstance(store, Mapping):
        if store.get("state"):
            _add(table, "store state", _store_state(store, now))
        _add(table, "store", _store_line(store))
        lost = _store_losses(store)
        _add(table, "not stored", lost)
        if store.get("verification_key_fingerprint"):
            _add(table, "verification key",
                 f"fingerprint {store['verification_key_fingerprint']}")
        cp = store.get("checkpoint")
        if isinstance(cp, Mapping):
            _add(table, "checkpoint",
                 f"seal {cp.get('seal')}, record {cp.get('record')}, epoch {cp.get('epoch')}, "
                 f"{when(cp.get('time'), now)}, head {str(cp.get('head', ''))[:16]}..; "
                 f"keep a copy of {cp.get('file')} off the device")
    health = state.get("health")
    if isinstance(health, Mapping) and health:
        for name, line in _health_lines(health, now):
            _add(table, name, line)
    queues = state.get("queues")
    if isinstance(queues, Mapping):
        _add(table, "queues", _queue_line(queues, now))
    known = {"state", "version", "device", "time", "uptime_s", "you", "config", "store",
             "health", "queues", "ports", *LIST_SECTIONS}
    for key, value in state.items():  # fields added to the service later
        if key not in known and not _is_rows(value):
            _add(table, _words(key), human(value, key, now))
    return table


def _store_state(store: Mapping[str, Any], now: float) -> str:
    state = str(store["state"])
    line = STORE_STATES.get(state, state)
    if store.get("failure"):
        line += f" ({store['failure']})"
    if store.get("failing_since"):
        line += f", since {when(store['failing_since'], now)}"
    return line


def _store_line(store: Mapping[str, Any]) -> str:
    epoch = store.get("epoch")
    parts = [f"{store.get('records', 0):,} records ({store.get('sealed', 0):,} sealed, "
             f"{store.get('seals', 0):,} seals)",
             f"epoch {epoch if epoch is not None else NONE}",
             f"{store.get('pending', 0)} pending",
             f"{store.get('committed_since_start', 0):,} stored since start"]
    return ", ".join(parts)


def _store_losses(store: Mapping[str, Any]) -> str:
    losses = {
        "not stored": store.get("not_stored", 0),
        "dropped for space": store.get("dropped_no_space", 0),
        "dropped, queue full": store.get("dropped_queue_full", 0),
        "readings shed": store.get("shed_readings", 0),
        "media files shed": store.get("shed_media_files", 0),
    }
    if not any(losses.values()):
        return "0 (nothing lost)"
    return ", ".join(f"{k} {v:,}" for k, v in losses.items() if v)


def _health_lines(h: Mapping[str, Any], now: float) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    load = [h.get(k) for k in ("load_1m", "load_5m", "load_15m")]
    cpu = []
    if all(isinstance(v, int | float) for v in load):
        cpu.append("load " + " / ".join(f"{v:.2f}" for v in load)
                   + (f" on {h['cpu_count']} CPUs" if h.get("cpu_count") else ""))
    if isinstance(h.get("cpu_percent"), int | float):
        cpu.append(f"{h['cpu_percent']:.0f}% busy")
    temp = h.get("cpu_temp_c")
    cpu.append(f"{temp:.1f} °C" if isinstance(temp, int | float) else "temperature unknown")
    if h.get("throttling"):
        cpu.append(f"throttled: {human(h['throttling'])}")
    lines.append(("cpu", ", ".join(cpu)))
    total, avail = h.get("memory_total_bytes"), h.get("memory_available_bytes")
    if isinstance(total, int | float) and isinstance(avail, int | float):
        mem = f"{size(avail)} available of {size(total)}"
        if isinstance(h.get("swap_used_bytes"), int | float):
            mem += f", swap used {size(h['swap_used_bytes'])}"
        lines.append(("memory", mem))
    for fs in h.get("filesystems") or []:
        if isinstance(fs, Mapping) and isinstance(fs.get("free_bytes"), int | float):
            line = f"{size(fs['free_bytes'])} free"
            if isinstance(fs.get("total_bytes"), int | float):
                line += f" of {size(fs['total_bytes'])}"
            line += f" ({fs.get('device', NONE)}{', SD card' if fs.get('on_sd_card') else ''})"
            lines.append((f"disk {fs.get('path', '')}", line))
    if isinstance(h.get("time"), int | float):
        lines.append(("health sampled", when(h["time"], now)))
    return lines


def _queue_line(q: Mapping[str, Any], now: float) -> str:
    parts = [f"readings dropped {q.get('readings_dropped', 0)}"]
    control = q.get("control")
    if isinstance(control, Mapping) and control:
        parts.append(f"control: {control.get('clients', 0)} client(s), "
                     f"{control.get('subscribers', 0)} subscriber(s), "
                     f"{control.get('events_published', 0):,} events sent, "
                     f"{control.get('events_dropped', 0)} dropped, "
                     f"{control.get('clients_refused', 0)} refused")
    for key, value in q.items():
        if key not in ("readings_dropped", "control"):
            parts.append(f"{_words(key)} {human(value, key, now)}")
    return "; ".join(parts)


def _rows(title: str, columns: list[str], whole: tuple[str, ...] = ()) -> Table:
    """A titled table; the `whole` columns (paths, uids) never break, to copy them."""
    table = Table(title=title, title_justify="left", title_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column in whole)
    return table


def nodes_table(nodes: list[Mapping[str, Any]], now: float) -> Table:
    """One row per node; its port is in the ports table (long paths need the room)."""
    rates = any(isinstance(n.get("sample_rate_hz"), int | float) for n in nodes)
    table = _rows("nodes", ["node", "state", "last seen", "frames", "readings", "rejected",
                            "link", "firmware", *(["rate"] if rates else []), "uid"],
                  whole=("uid",))
    for n in nodes:
        state = str(n.get("state", NONE))
        rate = n.get("sample_rate_hz")
        shown_rate = [f"{number(rate)} Hz" if isinstance(rate, int | float) else "as flashed"]
        _add(table, str(n.get("name", NONE)), NODE_STATES.get(state, state),
             when(n.get("last_seen"), now), human(n.get("frames_ok", 0)),
             human(n.get("readings", 0)), counts(n.get("rejected")), _link(n),
             human(n.get("firmware")),
             *(shown_rate if rates else []), human(n.get("uid")))
    return table


def _link(node: Mapping[str, Any]) -> str:
    """The link's integrity in words: its problems, else "ok" with the frames lost."""
    link = node.get("link")
    if not isinstance(link, Mapping):
        return NONE
    problems = [str(p) for p in link.get("problems") or [] if p]
    if problems:
        return "; ".join(problems)
    lost = link.get("lost_frames") or 0
    return "ok" if not lost else f"ok ({human(lost)} lost in all)"


def ports_table(ports: list[Mapping[str, Any]], nodes: list[Mapping[str, Any]],
                now: float) -> Table:
    """Every serial port the service has, and every node's port, with who is on it."""
    on_port: dict[str, list[str]] = {}
    for n in nodes:
        on_port.setdefault(str(n.get("port")), []).append(str(n.get("name", NONE)))
    table = _rows("serial ports", ["port", "node", "state", "reopens", "bad frames", "error"])
    longest = max([len(str(p.get("path", ""))) for p in ports] + [len(k) for k in on_port])
    table.columns[0].min_width = min(longest, 48)  # a udev name stays on one line
    seen = set()
    for p in ports:
        path = str(p.get("path", NONE))
        seen.add(path)
        _add(table, path, ", ".join(on_port.get(path, [])) or NONE,
             "open" if p.get("open") else "closed", human(p.get("reopens", 0)),
             counts(p.get("frame_errors")), human(p.get("last_error")))
    for path, names in on_port.items():
        if path not in seen:
            _add(table, path, ", ".join(names), NONE, NONE, NONE, NONE)
    return table


def channels_table(channels: list[Mapping[str, Any]], now: float) -> Table:
    table = _rows("readings", ["channel", "value", "updated", "recent", "score"])
    for c in channels:
        value = c.get("value")
        unit = str(c.get("unit") or "")
        shown = (f"{number(value)} {unit}".strip() if isinstance(value, int | float)
                 else human(value))
        score = c.get("score")
        _add(table, human(c.get("key") or f"{c.get('node')}/{c.get('channel')}"), shown,
                      when(c.get("t"), now), sparkline(c.get("history") or []),
                      f"{score:.2f}" if isinstance(score, int | float) else NONE)
    return table


def alarms_table(alarms: list[Mapping[str, Any]], now: float) -> Table:
    table = _rows("alarms", ["channel", "rule", "severity", "state", "priority", "since",
                             "value", "handled"])
    for a in alarms:
        state = str(a.get("state", NONE))
        handled = []
        if a.get("acked_by"):
            handled.append(f"acknowledged by {a['acked_by']} {when(a.get('acked_at'), now)}")
        if a.get("shelved_until"):
            handled.append(f"shelved by {a.get('shelved_by') or NONE} until "
                           f"{when(a['shelved_until'], now)}")
        if a.get("chattering"):
            handled.append("chattering")
        value = a.get("value")
        _add(table, human(a.get("channel")), human(a.get("rule")), human(a.get("severity")),
                      ALARM_STATES.get(state, state.replace("_", " ")), human(a.get("priority")),
                      when(a.get("since"), now),
                      number(value) if isinstance(value, int | float) else human(value),
                      "; ".join(handled) or NONE)
    return table


def cameras_table(cameras: list[Mapping[str, Any]], now: float) -> Table:
    table = _rows("cameras", ["camera", "state", "source", "detector", "frames", "dropped",
                              "last detection", "reopens", "reason"])
    for c in cameras:
        det = c.get("last_detection")
        if isinstance(det, Mapping):
            score = det.get("score")
            last = (f"{det.get('label', NONE)}"
                    + (f" {score:.2f}" if isinstance(score, int | float) else "")
                    + f" {when(det.get('time'), now)}")
        else:
            last = "none yet"
        _add(table, human(c.get("name")), human(c.get("state")), human(c.get("source")),
                      human(c.get("detector")), human(c.get("frames", 0)),
                      human(c.get("dropped", 0)), last, human(c.get("reopen_attempts", 0)),
                      human(c.get("reason")))
    return table


def generic_table(title: str, rows: list[Mapping[str, Any]], now: float) -> Table:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    table = _rows(_words(title), [_words(c) for c in columns])
    for row in rows:
        _add(table, *(human(row.get(c), c, now) for c in columns))
    return table


LIST_SECTIONS = {"nodes": nodes_table, "channels": channels_table, "alarms": alarms_table,
                 "cameras": cameras_table}
EMPTY = {"nodes": "no nodes", "channels": "no readings yet",
         "alarms": "no active alarms", "cameras": "no cameras"}


def _is_rows(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping)
                                                           for v in value)


def render(state: Any) -> list[RenderableType]:
    """The status as a list of rich renderables, in reading order."""
    if not isinstance(state, Mapping):
        return [Text(human(state))]
    now = float(state["time"]) if isinstance(state.get("time"), int | float) else 0.0
    out: list[RenderableType] = [summary(state, now)]
    for key, make in LIST_SECTIONS.items():
        rows = state.get(key)
        if isinstance(rows, list) and _is_rows(rows):
            out.append(make(rows, now))
        elif key in state:
            value = state[key]
            shown = EMPTY[key] if value in ([], None) else human(value, key, now)
            out.append(Text.assemble((key, "bold"), f": {shown}"))
        if key == "nodes":
            ports, nodes = state.get("ports"), state.get("nodes")
            ports = ports if isinstance(ports, list) and _is_rows(ports) else []
            nodes = nodes if isinstance(nodes, list) and _is_rows(nodes) else []
            if ports or nodes:
                out.append(ports_table(ports, nodes, now))
    for key, value in state.items():
        if key not in LIST_SECTIONS and key != "ports" and _is_rows(value):
            out.append(generic_table(key, value, now))
    return out


def print_status(state: Any, console: Console) -> None:
    for part in render(state):
        console.print(part)
