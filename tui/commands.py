"""The command palette's site commands (Textual's Provider API): go to a screen, lock, help."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from tui.app import EdgewardenApp


class SiteCommands(Provider):
    """Every screen by name, plus the app-wide actions."""

    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        from tui.app import SCREENS

        app = cast("EdgewardenApp", self.app)
        out: list[tuple[str, Callable[[], object], str]] = [
            (f"Go to {title}", partial(app.action_go, mode), f"key {key}")
            for mode, key, title in SCREENS
        ]
        out += [
            ("Unlock history", partial(app.action_go, "keys"), "open the Keys screen"),
            ("Lock history", app.action_lock, "forget the identity now (ctrl+l)"),
            ("Reconnect to the service", lambda: app.run_worker(app.reconnect()),
             str(app.socket_path)),
            ("Help", app.action_help, "keys and screens (?)"),
        ]
        return out

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
