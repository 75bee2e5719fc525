"""Renderers of the dashboard panels: status data in, Rich renderables out (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tui.connection import LIVE, Freshness
from tui.live_state import LiveState, ago, format_value, sort_alarms, sparkline
from tui.model import Alarm, Node, Status
from tui.widgets.fast_table import FastColumn, FastTable

PRIORITY_STYLE = {
    "urgent": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
}
STATE_LABEL = {
    "active_unack": "ACTIVE",
    "active_ack": "acked",
    "returned_unack": "RETURNED",
    "shelved": "shelved",
    "suppressed": "suppressed",
    "normal": "normal",
}


def alarm_state_text(alarm: Alarm) -> Text:
    label = STATE_LABEL.get(alarm.state, alarm.state)
    style = "bold blink" if alarm.state == "active_unack" else ""
    text = Text(label, style=style)
    if alarm.chattering:
        text.append(" ~chatter", style="magenta")
    return text


def priority_text(priority: str) -> Text:
    return Text(priority, style=PRIORITY_STYLE.get(priority, ""))


def clock_of_day(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S")


def render_alarm_banner(status: Status, limit: int, fresh: Freshness = LIVE) -> RenderableType:
    """Active alarms on top of the dashboard, most urgent first.

    The green all-clear only while live: an away service's last word is not an all-clear.
    """
    shown = [a for a in sort_alarms(status.alarms) if a.state not in ("normal",)]
    if not fresh.live and fresh.as_of is None:
        return Text("Alarms not known yet: waiting for the service", style="dim")
    if not shown:
        if not fresh.live:
            return Text(f"No active alarms {fresh.label()}; not known since (service away)",
                        style="dim")
        return Text("No active alarms", style="green")
    table = Table.grid(padding=(0, 1), expand=True)
    if not fresh.live:
        table.style = "dim"
    table.add_column(width=8)
    table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    table.add_column(no_wrap=True)
    for alarm in shown[:limit]:
        what = Text(f"{alarm.source} {alarm.rule}".strip())
        if alarm.message:
            what.append(f" {alarm.message}", style="dim")
        table.add_row(priority_text(alarm.priority), what, alarm_state_text(alarm))
    if len(shown) > limit:
        table.add_row("", Text(f"… {len(shown) - limit} more (press 2)", style="dim"), "")
    return table


NOT_HEARD = frozenset({"absent", "failing", "silent"})  # the service's words for them


def node_state_text(node: Node, now: float, fresh: Freshness = LIVE) -> Text:
    """`on 4s` / `off 2m` while live; `was on` / `was off 2m` (frozen at `as_of`) when not."""
    if node.state in NOT_HEARD and not node.online and fresh.live:  # its port's state
        seen = f" {ago(node.last_seen, now)}" if node.last_seen is not None else ""
        return Text(f"{node.state}{seen}", style="red")
    if not node.paired:
        return Text("unpaired", style="yellow" if fresh.live else "dim")
    if not fresh.live:
        then = fresh.view_time(now)
        return Text("was on" if node.online else f"was off {ago(node.last_seen, then)}",
                    style="dim")
    if node.online:
        return Text(f"on {ago(node.last_seen, now)}", style="green")
    return Text(f"off {ago(node.last_seen, now)}", style="red")


def render_sensors(
    live: LiveState, now: float, spark_width: int, fresh: Freshness = LIVE
) -> RenderableType:
    status = live.status
    if not status.nodes:
        return Text("No sensor nodes reported yet", style="dim")
    # redrawn four times a second: FastTable, not rich's Table (same output, far less CPU)
    table = FastTable([
        FastColumn("node", max_width=16),
        FastColumn("state"),
        FastColumn("channel", max_width=14),
        FastColumn("value", justify="right"),
        FastColumn("trend", width=spark_width),
    ])
    for node in status.nodes:
        state = node_state_text(node, now, fresh)
        if not node.channels:
            table.add_row(node.name, state, "—", "", "")
            continue
        for i, ch in enumerate(node.channels):
            table.add_row(
                node.name if i == 0 else "",
                state if i == 0 else "",
                ch.name,
                format_value(ch.value, ch.unit),
                Text(sparkline(live.history(node.id, ch.name), spark_width), style="cyan"),
            )
    return table


def render_cameras(status: Status, now: float, fresh: Freshness = LIVE) -> RenderableType:
    if not status.cameras:
        return Text("No cameras", style="dim")
    table = Table(expand=True, box=None, padding=(0, 1), header_style="bold")
    table.add_column("camera", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("last detection", no_wrap=True, overflow="ellipsis")
    with_media = any(cam.media_bytes is not None for cam in status.cameras)
    if with_media:
        table.add_column("media", no_wrap=True, overflow="ellipsis")
    with_plates = any(cam.plates is not None for cam in status.cameras)
    if with_plates:
        table.add_column("plates", no_wrap=True, overflow="ellipsis")
    for cam in status.cameras:
        det = cam.last_detection
        if det is None:
            last = Text("none", style="dim")
        else:
            score = f" {det.score:.2f}" if det.score is not None else ""
            when = f"{ago(det.time, now)} ago" if fresh.live else f"at {clock_of_day(det.time)}"
            last = Text(f"{det.label}{score} {when}", style="" if fresh.live else "dim")
        if fresh.live:
            state = Text(cam.state, style="green" if cam.state == "running" else "red")
        else:
            state = Text(f"was {cam.state}", style="dim")
        cells: list[RenderableType] = [cam.name, state, last]
        if with_media:
            cells.append(Text(media_cell(cam.media_bytes, cam.days_held)))
        if with_plates:
            cells.append(Text(cam.plates or "—", style="" if cam.plates and fresh.live
                              else "dim"))
        table.add_row(*cells)
    return table


def media_cell(stored: int | None, days: float | None) -> str:
    """"1.2 GB, 9.5 d": media stored and the days of footage the budget holds."""
    if stored is None:
        return "—"
    size = f"{stored / 1e9:.1f} GB" if stored >= 1e9 else f"{stored / 1e6:.0f} MB"
    return size if days is None else f"{size}, {days:.1f} d"


def render_health(status: Status, fresh: Freshness = LIVE) -> RenderableType:
    h = status.health
    s = status.store
    lines = []
    # the CPU's load, then its temperature: each says which it is, or that it is unknown
    temp = Text("CPU ")
    temp.append("busy —" if h.cpu_pct is None else f"{h.cpu_pct:.0f}% busy")
    if h.cpu_temp_c is None:
        temp.append("  temperature —", style="dim")
    else:
        temp.append(f"  {h.cpu_temp_c:.1f} °C",
                    style="red" if h.cpu_temp_c >= 75 else "green")
    temp.append("  throttled " if h.throttled else "  not throttled",
                style="bold red" if h.throttled else "dim")
    if h.throttle_flags:
        temp.append(",".join(h.throttle_flags), style="red")
    lines.append(temp)
    mem = "—" if h.memory_used_pct is None else f"{h.memory_used_pct:.0f}%"
    if h.disk_free_mb is None:
        disk = "—"
    else:
        disk = f"{h.disk_free_mb:,.0f} MB free"
        if h.disk_total_mb:
            disk += f" of {h.disk_total_mb:,.0f}"
    lines.append(Text(f"memory {mem}  disk {disk}"))
    epoch = "—" if s.epoch is None else str(s.epoch)
    lines.append(Text(f"records {s.records:,}  sealed {s.sealed:,}  epoch {epoch}"))
    if s.checkpoint is not None:  # its own line: it must not wrap at 80 columns
        cp = s.checkpoint
        lines.append(Text(f"checkpoint seal {cp.seal:,} @ record {cp.record:,} "
                          f"{cp.head[:8]}", style="dim"))
    if s.state != "ok" or s.not_stored:
        line = Text(f"store: {s.state}", style="bold red" if s.state == "failing" else "yellow")
        if s.failure:
            line.append(f" — {s.failure}")
        if s.not_stored:
            line.append(f"  not stored {s.not_stored:,}")
        lines.append(line)
    f = status.forwarder
    if f is not None:
        line = Text("MQTT ")
        line.append("connected" if f.connected else "not connected",
                    style="green" if f.connected else "bold red")
        line.append(f"  outbox {f.outbox:,}", style="yellow" if f.outbox else "dim")
        if f.last_error and not f.connected:
            line.append(f" — {f.last_error}", style="red")
        lines.append(line)
    dropped = {k: v for k, v in h.dropped.items() if v}
    if dropped:
        lines.append(Text("dropped " + ", ".join(f"{k} {v}" for k, v in sorted(dropped.items())),
                          style="yellow"))
    if not fresh.live:
        for line in lines:
            line.stylize("dim")
    return Group(*lines)
