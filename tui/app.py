"""The edgewarden admin app: screens in modes, one connection worker, history after unlock.

The app owns the state every screen reads (the live status, the session key, the
connection) and the only path to the service (:meth:`EdgewardenApp.call`). Socket I/O runs
in an async worker and decryption in threads, so the UI thread never waits on either.
Screens redraw at most four times a second, whatever the event rate.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from asyncio import AbstractEventLoop
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast

from textual import events, work
from textual.app import App, AutopilotCallbackType
from textual.binding import Binding, BindingType
from textual.reactive import var
from textual.screen import Screen

from controller.control.schema import EventMismatch, decode_alarm_reply
from tui import terminal_graphics
from tui.commands import SiteCommands
from tui.connection import (
    AWAY,
    CONNECTED,
    CONNECTING,
    LIVE,
    ConnectionInfo,
    Freshness,
    retry_delay,
)
from tui.live_state import LiveState
from tui.model import Role, StatusMismatch, channel_histories, parse_status
from tui.screens.base import SiteScreen, is_text_field
from tui.screens.dashboard import DashboardScreen
from tui.secret import HandoutError, Locked, OpenedRecord, Passphrase
from tui.service_client import Event, ServiceClient, ServiceError, ServiceUnavailable
from tui.session_key import SessionKey

T = TypeVar("T")

SUBSCRIBED_EVENTS = ("reading", "alarm", "detection", "health", "plate")
REDRAW_INTERVAL_S = 0.25
CLOCK = "clock"  # a pseudo-part: relative times ("3s ago") moved on

# (mode, key, title) in the order of the help screen and the palette
SCREENS: tuple[tuple[str, str, str], ...] = (
    ("dashboard", "1", "Dashboard"),
    ("alarms", "2", "Alarms"),
    ("events", "3", "Events"),
    ("nodes", "4", "Nodes"),
    ("export", "5", "Evidence export"),
    ("config", "6", "Config"),
    ("audit", "7", "Audit log"),
    ("keys", "8", "Keys"),
    ("plates", "9", "Plates"),
)


def lazy_screen(module: str, name: str) -> Callable[[], Screen[Any]]:
    """A factory that imports `tui.screens.<module>` only when the screen is first shown."""

    def make() -> Screen[Any]:
        screen_class = getattr(importlib.import_module(f"tui.screens.{module}"), name)
        return cast("Screen[Any]", screen_class())

    return make


class EdgewardenApp(App[None]):
    """`edgewarden tui`."""

    CSS_PATH = "app.tcss"
    TITLE = "edgewarden"
    COMMANDS = App.COMMANDS | {SiteCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]  # noqa: RUF012
    # the dashboard loads with the app; every other screen on first visit (fast first paint)
    MODES: ClassVar[dict[str, Any]] = {
        "dashboard": DashboardScreen,
        "alarms": lazy_screen("alarms", "AlarmsScreen"),
        "events": lazy_screen("events", "EventsScreen"),
        "nodes": lazy_screen("nodes", "NodesScreen"),
        "export": lazy_screen("export", "ExportScreen"),
        "config": lazy_screen("config", "ConfigScreen"),
        "audit": lazy_screen("audit", "AuditScreen"),
        "keys": lazy_screen("keys", "KeysScreen"),
        "plates": lazy_screen("plates", "PlatesScreen"),
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(key, f"go('{mode}')", title, show=False) for mode, key, title in SCREENS),
        # screens and dialogs bind escape themselves (close, back); here it leaves a text
        # field, so that the digits and letters are bindings again
        Binding("escape", "leave_field", "Leave field"),
        Binding("question_mark,f1", "help", "Help"),
        Binding("ctrl+l", "lock", "Lock", show=False),
        Binding("q", "quit", "Quit"),
    ]

    # `var`, not `reactive`: screens watch these and repaint what changed; a reactive would
    # also repaint the whole screen on every change (four times a second)
    revision: var[int] = var(0, always_update=True)
    connection: var[ConnectionInfo] = var(ConnectionInfo, always_update=True)

    def __init__(
        self,
        socket_path: Path | str,
        *,
        clock: Callable[[], float] = time.time,
        idle_lock_s: float = 300.0,
        ticking: bool = True,
        unlock_hint: str = "",
    ) -> None:
        super().__init__()
        self.socket_path = Path(socket_path)
        self.clock = clock
        self.live = LiveState()
        self.session_key = SessionKey(idle_lock_s)
        self.last_changed: set[str] = set()
        self._pending: set[str] = set()
        self._client: ServiceClient | None = None
        self._ticking = ticking
        self._ticks = 0
        self.first_status_at: float | None = None
        # when the service was last heard: the link dropped then (None: never connected)
        self._lost_at: float | None = None
        self.unlock_hint = unlock_hint  # where the passphrase is (the demo says)
        self._mismatches: set[str] = set()  # lines said about payloads of another shape

    # ------------------------------------------------------------------ lifecycle
    def run(
        self,
        *,
        headless: bool = False,
        inline: bool = False,
        inline_no_clear: bool = False,
        mouse: bool = True,
        size: tuple[int, int] | None = None,
        auto_pilot: AutopilotCallbackType | None = None,
        loop: AbstractEventLoop | None = None,
    ) -> None:
        """`App.run`, after the terminal has said what it can draw (tui.terminal_graphics).

        Once the driver owns the tty nobody can ask; the CLI starts the question before it
        imports Textual, so this wait is normally over before it begins. Returns what `exit`
        was given (the snapshot plugin's SVG, typed None for this app).
        """
        if not headless:
            terminal_graphics.wait()
        return super().run(headless=headless, inline=inline, inline_no_clear=inline_no_clear,
                           mouse=mouse, size=size, auto_pilot=auto_pilot, loop=loop)

    def on_mount(self) -> None:
        self.switch_mode("dashboard")
        self._connect_loop()
        self.set_interval(REDRAW_INTERVAL_S, self._tick)

    def _tick(self) -> None:
        self._ticks += 1
        if self._ticking and self._ticks % 4 == 0:
            self._pending.add(CLOCK)
        if self.session_key.expire(self.clock()):
            self._pending.add("keys")
            self.notify("History locked after idle time.", title="Keys")
        if self._pending:
            self.last_changed = self._pending
            self._pending = set()
            self.revision += 1

    def on_key(self, _event: events.Key) -> None:
        self.session_key.touch(self.clock())

    def on_click(self, _event: events.Click) -> None:
        self.session_key.touch(self.clock())

    @work(exclusive=True, group="connection")
    async def _connect_loop(self) -> None:
        """Connect, subscribe, take a status snapshot; on loss wait and start again."""
        attempt = 0
        while True:
            client = ServiceClient(self.socket_path, on_event=self._on_service_event)
            try:
                await client.connect()
                await client.call("subscribe", {"events": list(SUBSCRIBED_EVENTS)})
                raw_status = await client.call("status")
            except (ServiceUnavailable, ServiceError) as exc:
                await client.close()
                attempt += 1
                self.connection = ConnectionInfo(AWAY, str(exc), attempt)
                await asyncio.sleep(retry_delay(attempt))
                continue
            try:
                status = parse_status(raw_status)
            except StatusMismatch as exc:  # another release: say so, keep trying
                await client.close()
                attempt += 1
                self.connection = ConnectionInfo(AWAY, str(exc), attempt)
                await asyncio.sleep(retry_delay(attempt))
                continue
            attempt = 0
            self._client = client
            self._pending |= self.live.apply_status(status, channel_histories(raw_status))
            if self.first_status_at is None:
                self.first_status_at = time.monotonic()
            self.connection = ConnectionInfo(CONNECTED, str(self.socket_path))
            await client.wait_closed()
            self._client = None
            self._lost_at = self.clock()
            self.connection = ConnectionInfo(AWAY, "connection lost", 0)
            if not self.is_running:
                return

    def _on_service_event(self, event: Event) -> None:
        try:
            self._pending |= self.live.apply_event(event.event, event.data)
        except EventMismatch as exc:  # another release: one line, once per kind of problem
            self._say_mismatch(str(exc))

    def _say_mismatch(self, line: str) -> None:
        if line not in self._mismatches:
            self._mismatches.add(line)
            self.notify(line, title="Service of another release", severity="error")

    async def reconnect(self) -> None:
        """Drop the connection now; the worker connects again at once."""
        if self._client is not None:
            await self._client.close()
        else:
            self.connection = ConnectionInfo(CONNECTING, "", 0)
            self._connect_loop()

    # ------------------------------------------------------------------ service calls
    @property
    def connected(self) -> bool:
        return self.connection.state == CONNECTED and self._client is not None

    @property
    def freshness(self) -> Freshness:
        """Whether `live.status` is current: only while connected (then events keep it so)."""
        return LIVE if self.connected else Freshness(live=False, as_of=self._lost_at)

    async def call(self, cmd: str, args: Mapping[str, Any] | None = None) -> Any:
        if self._client is None:
            raise ServiceUnavailable(f"{self.socket_path}: service away")
        return await self._client.call(cmd, args)

    async def call_or_notify(self, cmd: str, args: Mapping[str, Any] | None = None) -> Any:
        """`call`, turning a refusal or a lost service into an error toast (returns None)."""
        try:
            return await self.call(cmd, args)
        except ServiceError as exc:
            self.notify(f"{cmd}: {exc}", title="Refused", severity="error")
        except ServiceUnavailable as exc:
            self.notify(f"{cmd}: {exc}", title="Service away", severity="error")
        return None

    async def ask(self, cmd: str, kind: type[T], args: Mapping[str, Any] | None = None,
                  ) -> T | None:
        """`call_or_notify`, the reply decoded as the schema's `kind`; a reply of another
        shape (a service of another release) is one error toast, and None."""
        from controller.control.schema import ReplyMismatch, decode_reply

        result = await self.call_or_notify(cmd, args)
        if result is None:
            return None
        try:
            return decode_reply(cmd, result, kind)
        except ReplyMismatch as exc:
            self.notify(str(exc), title="Another release", severity="error")
            return None

    def apply_alarm_result(self, result: Any) -> None:
        """The alarm point an ack/shelve answered (the schema's `Alarm`)."""
        try:
            alarm = decode_alarm_reply(result)
        except EventMismatch as exc:
            self._say_mismatch(str(exc))
            return
        self._pending |= self.live.apply_alarm(alarm)

    def refusal(self, needed: Role, what: str) -> str | None:
        """Why the caller may not do `what` (None when allowed or still unknown)."""
        role = self.live.status.role
        if role == Role.NONE or role >= needed:
            return None
        return f"{what.capitalize()} needs the {needed.label} role; you are {role.label}."

    # ------------------------------------------------------------------ history
    async def unlock(self, secret: str) -> str | None:
        """Fetch the encrypted identity and open it in a thread; returns an error or None."""
        # crypto loads on first use
        from tui.history import WrongPassphrase, identity_blob, unlock_identity

        passphrase = Passphrase(secret)
        try:
            blob = identity_blob(await self.call("history.fetch", {"limit": 0}))
            identity = await asyncio.to_thread(unlock_identity, blob, passphrase)
        except WrongPassphrase:
            self.session_key.failed(self.clock())
            return "Wrong passphrase."
        except (HandoutError, ServiceError, ServiceUnavailable) as exc:
            return str(exc)
        self.session_key.unlock(identity, self.clock())
        self._pending.add("keys")
        return None

    def lock(self) -> None:
        self.session_key.lock(self.clock())
        self._pending.add("keys")

    async def fetch_history(self, args: Mapping[str, Any]) -> list[OpenedRecord]:
        """`history.fetch` decrypted here; raises Locked, HandoutError or service errors."""
        from tui.history import open_handout

        identity = self.session_key.use(self.clock())
        if identity is None:
            raise Locked("history is locked")
        handout = await self.call("history.fetch", args)
        return await asyncio.to_thread(open_handout, handout, identity)

    # ------------------------------------------------------------------ actions
    def action_go(self, mode: str) -> None:
        if mode in self.MODES and self.current_mode != mode:
            self.switch_mode(mode)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "leave_field":  # shown in the footer only while typing in a field
            return is_text_field(self.focused)
        return True

    def action_leave_field(self) -> None:
        screen = self.screen
        if isinstance(screen, SiteScreen):
            screen.focus_home()
        else:
            screen.set_focus(None)

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_lock(self) -> None:
        self.lock()
        self.notify("History locked.", title="Keys")


def run_app(
    socket_path: Path | str,
    *,
    seconds: float | None = None,
    data_dir: Path | None = None,
    idle_lock_s: float = 300.0,
    unlock_hint: str = "",
) -> None:
    """Open the app on `socket_path` (for `edgewarden tui` and `edgewarden demo`).

    `seconds` quits after that long (scripted demos); `data_dir` is accepted for the demo's
    call but unused: the TUI reads history only through the control socket. `unlock_hint`
    is shown where the passphrase is asked for (the demo says what its passphrase is).
    """
    del data_dir
    terminal_graphics.start()  # a no-op when `edgewarden tui` has started it already
    app = EdgewardenApp(socket_path, idle_lock_s=idle_lock_s, unlock_hint=unlock_hint)
    if seconds is not None:
        app.call_later(lambda: app.set_timer(seconds, app.exit))
    app.run()
