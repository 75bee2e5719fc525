"""Config: view, edit with inline validation, a diff before apply, apply through the service."""

from __future__ import annotations

from typing import ClassVar

from rich.syntax import Syntax
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Label, TextArea

from tui.config_edit import unified_diff, validate
from tui.model import Role
from tui.screens.base import SiteScreen
from tui.screens.dialogs import ConfirmDialog


class ConfigScreen(SiteScreen):
    TITLE_TEXT = "Config"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "edit", "Edit"),
        # the editor is the only field: Tab would cycle back into it, so it leaves it
        Binding("tab", "tab", "", show=False),
        Binding("ctrl+s", "apply", "Apply"),
        Binding("ctrl+r", "revert", "Revert"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.running_text = ""
        self.path = "config.toml"
        self._loaded = False

    def compose_body(self) -> ComposeResult:
        yield Label("", id="config-note", classes="role-note")
        yield TextArea("", id="config-text", show_line_numbers=True, read_only=True)
        yield Label("", id="config-error", classes="error")

    def refresh_view(self, changed: set[str]) -> None:
        cannot_view = self.site.refusal(Role.OPS, "viewing the config")
        refusal = cannot_view or self.site.refusal(Role.ADMIN, "editing the config")
        note = self.query_one("#config-note", Label)
        note.update(refusal or "")
        note.display = refusal is not None
        self.query_one(TextArea).read_only = refusal is not None
        self.query_one(TextArea).display = cannot_view is None
        if not self._loaded and self.site.connected and cannot_view is None:
            self._loaded = True
            self._load()
        self.refresh_bindings()

    @work(exclusive=True, group="config-load")
    async def _load(self) -> None:
        from controller.control.schema import ConfigText

        result = await self.site.ask("config.get", ConfigText)
        if result is None:
            self._loaded = False
            return
        self.running_text = result.toml or ""
        self.path = result.path or self.path
        self.query_one(TextArea).load_text(self.running_text)
        self.query_one("#config-text").border_title = self.path

    @property
    def edited(self) -> str:
        return self.query_one(TextArea).text

    def on_text_area_changed(self, _event: TextArea.Changed) -> None:
        self._show_problem()
        self.refresh_bindings()

    def _show_problem(self) -> bool:
        problem = validate(self.edited, self.path)
        self.query_one("#config-error", Label).update(str(problem) if problem else "")
        area = self.query_one(TextArea)
        area.set_class(problem is not None, "invalid")
        return problem is None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("apply", "revert"):
            if self.site.refusal(Role.ADMIN, "config") is not None:
                return None
            if self.edited == self.running_text:
                return None
        return True

    def action_edit(self) -> None:
        self.query_one(TextArea).focus()

    def action_tab(self) -> None:
        if self.focused is self.query_one(TextArea):
            self.set_focus(None)
        else:
            self.focus_next()

    def action_revert(self) -> None:
        self.query_one(TextArea).load_text(self.running_text)

    def action_apply(self) -> None:
        if not self._show_problem():
            self.notify("Fix the error shown below the editor first.", severity="error")
            return
        self.run_worker(self._apply(self.edited), exclusive=True, group="config-apply")

    async def _apply(self, text: str) -> None:
        from controller.control.schema import ConfigApplied, ConfigCheck

        checked = await self.site.ask("config.validate", ConfigCheck, {"toml": text})
        if checked is None:
            return
        if not checked.valid:
            self.query_one("#config-error", Label).update(
                f"service: {checked.error or 'rejected'}")
            return
        diff = unified_diff(self.running_text, text, self.path)
        body = Syntax(diff, "diff", theme="ansi_dark", word_wrap=True)
        if not await self.app.push_screen_wait(ConfirmDialog("Apply this change?", body,
                                                             "Apply")):
            return
        result = await self.site.ask("config.apply", ConfigApplied, {"toml": text})
        if result is not None and result.applied:
            self.running_text = text
            self.notify("Config applied; the service reloaded it.")
            self.refresh_bindings()
