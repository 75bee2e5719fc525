"""Help: every key and screen, in one place."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# edgewarden admin

| key | does |
| --- | --- |
| 1 | Dashboard: nodes, live values, alarms, cameras, device health |
| 2 | Alarms: filter (/), acknowledge (a), shelve (s) |
| 3 | Events: detections and alarm history; Enter opens one (unlock first) |
| 4 | Nodes: pair (p), sample rate (r), rotate key (k), link statistics |
| 5 | Evidence export |
| 6 | Config: edit (e), apply with a diff (ctrl+s), revert (ctrl+r) |
| 7 | Audit log: who did what (admin, after unlock); Enter opens a record in full |
| 8 | Keys: unlock/lock history, auto-lock, verification key fingerprint |
| 9 | Plates: reads (Enter opens one), search (/), register (v): add (a), change (e), remove (d) |
| Esc | leave a text field (filter, editor, passphrase): the keys above work again |
| ctrl+p | command palette |
| ctrl+l | lock history now |
| ? / F1 | this help |
| q | quit |

Actions your role may not take are shown disabled, with the reason on the screen.
The service refuses them anyway. History is decrypted in this process only; the
passphrase never leaves it, and the identity is forgotten on lock or after idle time.
When the service restarts, the bar on top says so and the app reconnects by itself;
meanwhile every screen is dimmed and says it shows the site "as of" the last time the
service was heard.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help", classes="dialog"):
            yield Markdown(HELP)

    def action_close(self) -> None:
        self.dismiss(None)
