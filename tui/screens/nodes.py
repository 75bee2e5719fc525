"""Nodes: pairing with a confirm step, sample rate, key rotation, link statistics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Label, Static

from tui.live_state import NODES, ago
from tui.model import Node, Role
from tui.screens.base import SiteScreen
from tui.screens.dialogs import ConfirmDialog, NumberDialog
from tui.widgets.detail_grid import detail_grid

if TYPE_CHECKING:
    from controller.control.schema import Paired


def render_link(node: Node | None) -> Table | Text:
    if node is None:
        return Text("Select a node.", style="dim")
    table = detail_grid()
    table.add_row("node", f"{node.name} (uid {node.uid or 'unknown'}) "
                  f"firmware {node.firmware or '?'}")
    if node.port:
        table.add_row("port", node.port)
    table.add_row("state", state_text(node))
    if node.last_error and not node.online:
        table.add_row("last error", Text(node.last_error, "red"))
    link = node.link
    if link.problems:
        table.add_row("link", Text("; ".join(link.problems), "red"))
    elif node.online:
        lag = f", lag {link.lag_ms:.0f} ms" if link.lag_ms is not None else ""
        table.add_row("link", Text(f"ok, {link.lost_frames:,} frame(s) lost{lag}", "green"))
    table.add_row("frames ok", f"{node.link.frames_ok:,}")
    table.add_row("rejected", f"{node.link.rejected_total:,}")
    for reason, count in sorted(node.link.rejected.items(), key=lambda kv: -kv[1]):
        if count:
            table.add_row("", f"{reason}: {count:,}")
    return table


def state_text(node: Node) -> Text:
    """The node's state in words: online in green, anything a user must act on in red."""
    if node.online:
        return Text("online", "green")
    state = node.state if node.state and node.state != "online" else "offline"
    return Text(state, "yellow" if state == "unpaired" else "red")


def _who(node: Node) -> str:
    port = f" on {node.port}" if node.port else ""
    return f"{node.name}, uid {node.uid or 'not known yet'}{port}"


class NodesScreen(SiteScreen):
    TITLE_TEXT = "Nodes"
    WATCHES = frozenset({NODES})
    AUTO_FOCUS = "DataTable"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pair", "Pair"),
        Binding("r", "sample_rate", "Rate"),
        Binding("k", "rotate_key", "Rotate key"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Label("", id="nodes-note", classes="role-note")
        yield DataTable(id="node-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="node-link", classes="panel")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("node", "paired", "state", "seen", "rate",
                                              "ok", "rejected")
        self.query_one("#node-link").border_title = "Link statistics"
        super().on_mount()

    def refresh_view(self, changed: set[str]) -> None:
        now = self.site.freshness.view_time(self.site.clock())  # ages stop when stale
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for n in self.site.live.status.nodes:
            table.add_row(
                n.name, Text("yes", "green") if n.paired else Text("no", "yellow"),
                state_text(n),
                ago(n.last_seen, now),
                "—" if n.sample_rate_hz is None else f"{n.sample_rate_hz:g} Hz",
                f"{n.link.frames_ok:,}", f"{n.link.rejected_total:,}", key=n.id,
            )
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))
        refusal = self.site.refusal(Role.ADMIN, "pairing, sample rate and key rotation")
        note = self.query_one("#nodes-note", Label)
        note.update(refusal or "")
        note.display = refusal is not None
        self.query_one("#node-link", Static).update(render_link(self.selected()))
        self.refresh_bindings()

    def selected(self) -> Node | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((n for n in self.site.live.status.nodes if n.id == key), None)

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self.query_one("#node-link", Static).update(render_link(self.selected()))
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("pair", "sample_rate", "rotate_key"):
            node = self.selected()
            if node is None or self.site.refusal(Role.ADMIN, action) is not None:
                return None
            if action == "pair" and node.paired:
                return None
            if action in ("sample_rate", "rotate_key") and not node.paired:
                return None
        return True

    def action_pair(self) -> None:
        node = self.selected()
        if node is not None:
            self.run_worker(self._pair(node), group="node-action")

    async def _pair(self, node: Node) -> None:
        body = Text.assemble(
            "Pair node ", (_who(node), "bold"), "?\n\n",
            "Its frames reach the records only once it is paired. Check that the uid is the "
            "one on the node's label (its USB serial) before you confirm; the node must be "
            "in pairing mode (pairing button held at power-up).",
        )
        done = await self._confirmed_pairing(node, ConfirmDialog("Pair node", body, "Pair"),
                                             replace=False)
        if done is not None:
            self.notify(f"Paired {done.node} (uid {done.uid})")

    async def _confirmed_pairing(self, node: Node, dialog: ConfirmDialog,
                                 replace: bool) -> Paired | None:
        """Pair (or give a new key) once the admin confirms; the service's answer or None."""
        if not await self.app.push_screen_wait(dialog):
            return None
        args: dict[str, Any] = {"node": node.uid or node.name}
        if replace:
            args["replace"] = True
        from controller.control.schema import Paired

        return await self.site.ask("pair", Paired, args)

    def action_sample_rate(self) -> None:
        node = self.selected()
        if node is None:
            return

        def apply(hz: float | None) -> None:
            if hz is not None:
                self.run_worker(self._rate(node, hz), group="node-action")

        self.app.push_screen(NumberDialog(f"Sample rate of {node.name}", node.sample_rate_hz,
                                          "Hz"), apply)

    async def _rate(self, node: Node, hz: float) -> None:
        from controller.control.schema import SampleRateSet

        if await self.site.ask("node.sample_rate", SampleRateSet, {"node": node.id, "hz": hz}):
            self.notify(f"{node.name}: {hz:g} Hz")

    def action_rotate_key(self) -> None:
        node = self.selected()
        if node is not None:
            self.run_worker(self._rotate(node), group="node-action")

    async def _rotate(self, node: Node) -> None:
        body = Text.assemble(
            "Give ", (_who(node), "bold"), " a new link key?\n\n",
            "Put the node in pairing mode first (pairing button held at power-up) and check "
            "the uid against its label. Frames signed with the old key are rejected "
            "afterwards.",
        )
        dialog = ConfirmDialog("Rotate key", body, "Rotate")
        if await self._confirmed_pairing(node, dialog, replace=True) is not None:
            self.notify(f"New key for {node.name}")
