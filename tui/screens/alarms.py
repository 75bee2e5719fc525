"""Alarms: the ISA-18.2 list with filter and sort; acknowledge, shelve, see an alarm's history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Label, Select, Static

from tui.live_state import ALARMS, ago, filter_alarms, format_value, sort_alarms
from tui.model import ALARM_STATES, Alarm, Role
from tui.screens.base import SiteScreen
from tui.screens.dialogs import ShelveDialog
from tui.widgets.detail_grid import detail_grid
from tui.widgets.panels import alarm_state_text, priority_text


def clock_text(t: float | None) -> str:
    if t is None:
        return "—"
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")


def render_alarm_detail(alarm: Alarm | None, now: float) -> Table | Text:
    if alarm is None:
        return Text("Select an alarm to see its history.", style="dim")
    table = detail_grid()
    table.add_row("alarm", f"{alarm.id}  ({alarm.severity or 'no severity'})")
    table.add_row("value", f"{format_value(alarm.value)} since {ago(alarm.since, now)}")
    if alarm.message:  # a node's silent channels and port, where a plate alarm's read is
        # one line, so that the panel's few rows (80x24) still show the latest transitions
        table.add_row("says", Text(alarm.message, no_wrap=True, overflow="ellipsis"))
    if alarm.acked_by:
        table.add_row("acked by", alarm.acked_by)
    if alarm.shelved_until is not None:
        table.add_row("shelved", f"until {clock_text(alarm.shelved_until)} "
                                 f"({alarm.shelve_reason})")
    for h in alarm.history[-6:]:
        who = f" by {h.user}" if h.user else ""
        table.add_row(clock_text(h.time), f"{h.event or '→'} {h.state}{who}")
    return table


class AlarmsScreen(SiteScreen):
    TITLE_TEXT = "Alarms"
    AUTO_FOCUS = "#alarm-table"
    WATCHES = frozenset({ALARMS})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "acknowledge", "Ack"),
        Binding("s", "shelve", "Shelve"),
        Binding("slash", "focus_filter", "Filter", show=False),
    ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="alarm-filters", classes="filters"):
            yield Input(placeholder="filter text", id="alarm-filter")
            yield Select([(s, s) for s in ("all", *ALARM_STATES)], value="all",
                         allow_blank=False, id="alarm-state")
            yield Select([("by priority", "priority"), ("newest", "time"), ("by source",
                          "source")], value="priority", allow_blank=False, id="alarm-sort")
        yield Label("", id="alarm-role", classes="role-note")
        yield DataTable(id="alarm-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="alarm-detail", classes="panel")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("priority", "state", "alarm", "value", "since")
        self.query_one("#alarm-detail").border_title = "History"
        super().on_mount()

    # ------------------------------------------------------------------ drawing
    def visible_alarms(self) -> list[Alarm]:
        state = self.query_one("#alarm-state", Select).value
        key = self.query_one("#alarm-sort", Select).value
        text = self.query_one("#alarm-filter", Input).value
        alarms = sort_alarms(self.site.live.status.alarms, str(key))
        return filter_alarms(alarms, text, str(state))

    def refresh_view(self, changed: set[str]) -> None:
        now = self.site.freshness.view_time(self.site.clock())  # ages stop when stale
        table = self.query_one(DataTable)
        selected = self.selected_alarm()
        keep = selected.id if selected else None
        table.clear()
        alarms = self.visible_alarms()
        for alarm in alarms:
            table.add_row(
                priority_text(alarm.priority), alarm_state_text(alarm), alarm.source + " "
                + alarm.rule, format_value(alarm.value), ago(alarm.since, now), key=alarm.id,
            )
        if keep is not None:
            ids = [a.id for a in alarms]
            if keep in ids:
                table.move_cursor(row=ids.index(keep))
        reason = self.site.refusal(Role.OPS, "acknowledge or shelve")
        self.query_one("#alarm-role", Label).update(reason or "")
        self.query_one("#alarm-role").display = bool(reason)
        self._show_detail()
        self.refresh_bindings()

    def selected_alarm(self) -> Alarm | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # cursor outside the rows right after a clear
            return None
        return next((a for a in self.site.live.status.alarms if a.id == key), None)

    def _show_detail(self) -> None:
        now = self.site.freshness.view_time(self.site.clock())
        detail = render_alarm_detail(self.selected_alarm(), now)
        self.query_one("#alarm-detail", Static).update(detail)

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_detail()
        self.refresh_bindings()

    def on_input_changed(self, _event: Input.Changed) -> None:
        self.refresh_view(set())

    def on_select_changed(self, _event: Select.Changed) -> None:
        self.refresh_view(set())

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.focus_home()  # Enter ends the filter: back to the list and its keys

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("acknowledge", "shelve"):
            if self.site.refusal(Role.OPS, action) is not None or not self.site.connected:
                return None  # shown disabled in the footer (and stale while away)
            alarm = self.selected_alarm()
            if alarm is None:
                return None
            if action == "acknowledge" and not alarm.needs_ack:
                return None
        return True

    def action_focus_filter(self) -> None:
        self.query_one("#alarm-filter", Input).focus()

    def action_acknowledge(self) -> None:
        alarm = self.selected_alarm()
        if alarm is None:
            return
        self.run_worker(self._ack(alarm.id), group="alarm-action")

    async def _ack(self, alarm_id: str) -> None:
        result = await self.site.call_or_notify("alarms.ack", {"alarm": alarm_id})
        if result is not None:
            self.site.apply_alarm_result(result)
            self.notify(f"Acknowledged {alarm_id}")

    def action_shelve(self) -> None:
        alarm = self.selected_alarm()
        if alarm is None:
            return

        def shelve(answer: tuple[int, str] | None) -> None:
            if answer is not None:
                self.run_worker(self._shelve(alarm.id, *answer), group="alarm-action")

        self.app.push_screen(ShelveDialog(alarm.id), shelve)

    async def _shelve(self, alarm_id: str, duration_s: int, reason: str) -> None:
        result = await self.site.call_or_notify(
            "alarms.shelve", {"alarm": alarm_id, "minutes": duration_s / 60, "reason": reason}
        )
        if result is not None:
            self.site.apply_alarm_result(result)
            self.notify(f"Shelved {alarm_id}")
