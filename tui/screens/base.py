"""What every top-level screen shares: the connection bar, the footer, and redraw hooks."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, cast

from textual.app import ComposeResult
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Footer, Label

from tui.connection import Freshness
from tui.widgets.connection_bar import ConnectionBar

if TYPE_CHECKING:
    from tui.app import EdgewardenApp

# the widgets a key typed goes into; looked up in sys.modules so that asking (the footer asks
# on every focus change) never imports them: a widget not loaded yet cannot have focus
TEXT_FIELDS = (("textual.widgets._input", "Input"), ("textual.widgets._text_area", "TextArea"))


def is_text_field(widget: Widget | None) -> bool:
    """Whether `widget` takes printable keys (the screen digits included) as text."""
    for module_name, class_name in TEXT_FIELDS:
        module = sys.modules.get(module_name)
        cls = getattr(module, class_name, None) if module is not None else None
        if cls is not None and isinstance(widget, cls):
            return True
    return False


def stale_note(fresh: Freshness) -> str:
    return f"Service away: all below is {fresh.label()} and not updating."


class SiteScreen(Screen[None]):
    """A top-level screen; subclasses compose `compose_body` and implement `refresh_view`."""

    TITLE_TEXT = ""
    # a list to focus on arrival and after Escape leaves a text field; never a text field
    # itself (and "" is not Textual's None, which focuses the first field): the digits
    # switch screens until the user picks a field to type in
    AUTO_FOCUS = ""
    # parts of the live status (tui.live_state names) whose change redraws this screen
    WATCHES: frozenset[str] = frozenset()

    _fresh_shown: Freshness | None = None

    @property
    def site(self) -> EdgewardenApp:
        return cast("EdgewardenApp", self.app)

    def compose(self) -> ComposeResult:
        yield ConnectionBar(id="connection-bar")
        yield Label("", id="stale-note", classes="stale-note")
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.watch(self.site, "revision", self._on_revision, init=False)
        self.watch(self.site, "connection", self._on_connection, init=False)
        self.refresh_bar()
        self.refresh_view(set())

    def on_screen_resume(self) -> None:
        self.refresh_bar()
        self.refresh_view(set())

    def _on_revision(self, _revision: int) -> None:
        if not self.is_current:
            return
        changed = self.site.last_changed
        self.refresh_bar()
        if not self.WATCHES or changed & self.WATCHES:
            self.refresh_view(changed)

    def _on_connection(self, _info: Any) -> None:
        if self.is_current:
            self.refresh_bar()
            self.refresh_view(set())

    def refresh_bar(self) -> None:
        site = self.site
        status = site.live.status
        self.query_one(ConnectionBar).show(
            self.TITLE_TEXT, site.connection, status.user, status.role,
            site.session_key.unlocked,
        )
        fresh = site.freshness
        if fresh != self._fresh_shown:
            self._fresh_shown = fresh
            # what was live and no longer is: said on top and dimmed (app.tcss `.-stale`)
            stale = not fresh.live and fresh.as_of is not None
            self.set_class(stale, "-stale")
            note = self.query_one("#stale-note", Label)
            note.update(stale_note(fresh) if stale else "")
            note.display = stale

    def focus_home(self) -> None:
        """Leave a text field: focus the screen's list (AUTO_FOCUS), or nothing."""
        if self.AUTO_FOCUS:
            for widget in self.query(self.AUTO_FOCUS):
                if widget.focusable and not is_text_field(widget):
                    widget.focus()
                    return
        self.set_focus(None)

    def refresh_view(self, changed: set[str]) -> None:
        """Redraw from `self.site.live`; `changed` is empty when everything may have."""


class SiteModal(ModalScreen[Any]):
    """A dialog over a site screen."""

    @property
    def site(self) -> EdgewardenApp:
        return cast("EdgewardenApp", self.app)
