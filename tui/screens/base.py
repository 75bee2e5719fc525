"""What every top-level screen shares: the connection bar, the footer, and redraw hooks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from textual.app import ComposeResult
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer

from tui.widgets.connection_bar import ConnectionBar

if TYPE_CHECKING:
    from tui.app import EdgewardenApp


class SiteScreen(Screen[None]):
    """A top-level screen; subclasses compose `compose_body` and implement `refresh_view`."""

    TITLE_TEXT = ""
    # parts of the live status (tui.live_state names) whose change redraws this screen
    WATCHES: frozenset[str] = frozenset()

    @property
    def site(self) -> EdgewardenApp:
        return cast("EdgewardenApp", self.app)

    def compose(self) -> ComposeResult:
        yield ConnectionBar(id="connection-bar")
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

    def refresh_view(self, changed: set[str]) -> None:
        """Redraw from `self.site.live`; `changed` is empty when everything may have."""


class SiteModal(ModalScreen[Any]):
    """A dialog over a site screen."""

    @property
    def site(self) -> EdgewardenApp:
        return cast("EdgewardenApp", self.app)
