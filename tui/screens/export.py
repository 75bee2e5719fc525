"""Evidence export: choose the range and the stick, see the estimate, export, read the result.

The export runs in the service (admin role): it writes the bundle under a temporary name,
fsyncs, verifies and only then renames it, so the screen shows progress while it waits and
then the verification result. Nothing here blocks the UI thread: every call is a worker.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, ProgressBar, Select, Static

from tui.model import Role
from tui.screens.base import SiteScreen


def human_bytes(n: float | None) -> str:
    if n is None:
        return "unknown"
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} GB"  # pragma: no cover


class ExportScreen(SiteScreen):
    TITLE_TEXT = "Evidence export"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+e", "estimate", "Estimate"),
        Binding("ctrl+x", "export", "Export"),
    ]

    def compose_body(self) -> ComposeResult:
        with Vertical(id="export-form", classes="panel"):
            yield Label("", id="export-role", classes="role-note")
            with Horizontal(classes="form-row"):
                yield Label("Last days", classes="form-label")
                yield Input("7", id="export-days", type="number")
            with Horizontal(classes="form-row"):
                yield Label("USB stick", classes="form-label")
                yield Select[str]([], id="export-stick", prompt="detected sticks",
                                  allow_blank=True)
            with Horizontal(classes="form-row"):
                yield Label("or directory", classes="form-label")
                yield Input("", id="export-dest", placeholder="/media/EDGEWARDEN")
            with Horizontal(classes="form-row"):
                yield Button("Estimate", id="export-estimate")
                yield Button("Export", id="export-run", variant="primary")
            yield Static("", id="export-estimate-text")
            yield ProgressBar(id="export-progress", show_eta=False)
            yield Static("", id="export-result")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#export-progress", ProgressBar).display = False

    def refresh_view(self, changed: set[str]) -> None:
        reason = self.site.refusal(Role.ADMIN, "evidence export")
        note = self.query_one("#export-role", Label)
        note.update(reason or "")
        note.display = bool(reason)
        for selector in ("#export-estimate", "#export-run"):
            self.query_one(selector, Button).disabled = bool(reason)

    # ------------------------------------------------------------------ inputs
    def _days(self) -> float | None:
        try:
            days = float(self.query_one("#export-days", Input).value)
        except ValueError:
            days = 0.0
        if not 0 < days <= 3650:
            self.query_one("#export-result", Static).update("Days must be between 0 and 3650.")
            return None
        return days

    def _dest(self) -> str:
        typed = self.query_one("#export-dest", Input).value.strip()
        if typed:
            return typed
        stick = self.query_one("#export-stick", Select).value
        return stick if isinstance(stick, str) else ""

    # ------------------------------------------------------------------ actions
    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "export-estimate":
            self.action_estimate()
        elif event.button.id == "export-run":
            self.action_export()

    def action_estimate(self) -> None:
        if self.site.refusal(Role.ADMIN, "evidence export"):
            return
        days = self._days()
        if days is not None:
            self.run_worker(self._estimate(days, self._dest()), group="export", exclusive=True)

    def action_export(self) -> None:
        if self.site.refusal(Role.ADMIN, "evidence export"):
            return
        days = self._days()
        dest = self._dest()
        if days is None:
            return
        if not dest:
            self.query_one("#export-result", Static).update(
                "Pick a detected stick or type a directory.")
            return
        self.run_worker(self._export(days, dest), group="export", exclusive=True)

    async def _estimate(self, days: float, dest: str) -> None:
        args: dict[str, Any] = {"days": days, "estimate": True}
        if dest:
            args["dest"] = dest
        from controller.control.schema import ExportEstimate

        result = await self.site.ask("export", ExportEstimate, args)
        if result is None:
            return
        sticks = result.sticks
        select = self.query_one("#export-stick", Select)
        select.set_options([(s, s) for s in sticks])
        text = f"{result.records:,} records, about {human_bytes(result.bytes)}"
        free = result.free
        if free is not None:
            fits = "fits" if free > result.bytes else "does NOT fit"
            text += f"; {human_bytes(free)} free at {dest}: {fits}"
        if not sticks:
            text += "\nNo USB stick detected under /media, /run/media or /mnt."
        self.query_one("#export-estimate-text", Static).update(text)

    async def _export(self, days: float, dest: str) -> None:
        bar = self.query_one("#export-progress", ProgressBar)
        result_box = self.query_one("#export-result", Static)
        bar.update(total=None)  # the service writes, fsyncs and verifies, then answers
        bar.display = True
        result_box.update(f"Exporting the last {days:g} days to {dest} ...")
        from controller.control.schema import Exported

        try:
            result = await self.site.ask("export", Exported, {"days": days, "dest": dest})
        finally:
            bar.display = False
        if result is None:
            result_box.update("Export failed: see the message above.")
            return
        verified = "verified" if result.verified else "NOT verified"
        missing = result.missing_media
        if missing:
            verified += (f", but {len(missing)} media missing at export (marked stored on "
                         "the device, file gone; declared in the bundle): record "
                         + ", record ".join(f"{seq} {sha[:16]}.." for seq, sha in missing[:5]))
        result_box.update(
            f"Bundle {result.bundle}: {verified}.\n"
            f"{result.selected:,} records selected "
            f"({result.records:,} in the chain segment), "
            f"{result.media_files} media files, {human_bytes(result.bytes)}.\n"
            "Check it anywhere with `edgewarden verify-bundle DIR`.")
