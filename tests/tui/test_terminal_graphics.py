"""The launch-time terminal graphics probe, and the lazy snapshot support that relies on it.

The probe runs against a real pty whose other end plays the terminal; the import checks run
in fresh interpreters, since what a module imports is a property of a new process.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator

import pytest

from tests.conftest import REPO_ROOT
from tui import terminal_graphics as tg
from tui.terminal_graphics import Graphics

PLAIN_ENV = {"TERM": "xterm-256color"}
DA1_VT220 = b"\x1b[?62;22c"
DA1_SIXEL = b"\x1b[?62;4;22c"
KITTY_OK = b"\x1b_Gi=31;OK\x1b\\"


def test_da1_with_attribute_4_means_sixel() -> None:
    got = tg.parse_reply(DA1_SIXEL, (9, 18), PLAIN_ENV)
    assert (got.sixel, got.kitty, got.renderer, got.source) == (True, False, "sixel", "probe")
    assert (got.cell_width, got.cell_height) == (9, 18)
    assert tg.parse_reply(b"\x1b[?64;1;2;6;22c", None, PLAIN_ENV).renderer == "halfcell"


def test_kitty_counts_only_when_it_answers_before_da1() -> None:
    assert tg.parse_reply(KITTY_OK + DA1_VT220, None, PLAIN_ENV).renderer == "kitty"
    assert tg.parse_reply(DA1_VT220 + KITTY_OK, None, PLAIN_ENV).renderer == "halfcell"
    refused = b"\x1b_Gi=31;ENOTSUPPORTED:no\x1b\\" + DA1_VT220
    assert tg.parse_reply(refused, None, PLAIN_ENV).renderer == "halfcell"


def test_cell_size_from_ioctl_then_the_reply_then_the_default() -> None:
    reply = b"\x1b[6;21;11t" + DA1_VT220
    assert tg.parse_reply(reply, (8, 16), PLAIN_ENV).cell_width == 8
    got = tg.parse_reply(reply, None, PLAIN_ENV)
    assert (got.cell_width, got.cell_height) == (11, 21)
    got = tg.parse_reply(DA1_VT220, None, PLAIN_ENV)
    assert (got.cell_width, got.cell_height) == tg.DEFAULT_CELL
    env = {**PLAIN_ENV, "TEXTUAL_CELL_WIDTH": "7", "TEXTUAL_CELL_HEIGHT": "15"}
    assert tg.parse_reply(DA1_VT220, None, env).cell_height == 15


def test_no_answer_falls_back_to_a_conservative_guess() -> None:
    assert tg.parse_reply(b"", None, PLAIN_ENV) == tg.guess_from_env(PLAIN_ENV, is_tty=True)
    assert tg.guess_from_env(PLAIN_ENV, is_tty=True).renderer == "halfcell"
    assert tg.guess_from_env({"TERM": "xterm-kitty"}, is_tty=True).renderer == "kitty"
    assert tg.guess_from_env({"TERM": "xterm-kitty", "TMUX": "/tmp/t,1,0"},
                             is_tty=True).renderer == "halfcell"
    assert tg.guess_from_env({"TERM_PROGRAM": "WezTerm"}, is_tty=True).renderer == "sixel"
    assert tg.guess_from_env({"TERM": "xterm-kitty"}, is_tty=False).renderer == "unicode"
    assert tg.headless().renderer == "halfcell"


class FakeTerminal:
    """The far end of a pty: records what the program wrote, answers the DA1 query."""

    def __init__(self, master: int, answer: bytes | None) -> None:
        self.master = master
        self.answer = answer
        self.received = b""
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            if not select.select([self.master], [], [], 0.02)[0]:
                continue
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            self.received += chunk
            if self.answer is not None and b"\x1b[c" in chunk:
                os.write(self.master, self.answer)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, int]]:
    master, slave = os.openpty()
    yield master, slave
    for fd in (master, slave):
        with contextlib.suppress(OSError):
            os.close(fd)


@pytest.mark.parametrize(("answer", "renderer"), [(KITTY_OK + DA1_VT220, "kitty"),
                                                  (DA1_SIXEL, "sixel"),
                                                  (DA1_VT220, "halfcell")])
def test_probe_on_a_pty_asks_once_and_restores_the_tty(
    pty_pair: tuple[int, int], answer: bytes, renderer: str
) -> None:
    master, slave = pty_pair
    before = termios.tcgetattr(slave)
    terminal = FakeTerminal(master, answer)
    try:
        started = time.monotonic()
        got = tg.probe(slave, slave, PLAIN_ENV)
        took = time.monotonic() - started
    finally:
        terminal.close()
    assert (got.renderer, got.source) == (renderer, "probe")
    assert took < tg.PROBE_TIMEOUT_S  # an answered DA1 ends the wait, no timeout
    assert terminal.received.count(b"\x1b[c") == 1 and tg.KITTY_QUERY in terminal.received
    assert termios.tcgetattr(slave) == before


def test_probe_gives_up_on_a_silent_terminal(pty_pair: tuple[int, int]) -> None:
    master, slave = pty_pair
    before = termios.tcgetattr(slave)
    terminal = FakeTerminal(master, answer=None)
    try:
        started = time.monotonic()
        got = tg.probe(slave, slave, {"TERM": "linux"})
        took = time.monotonic() - started
    finally:
        terminal.close()
    assert got.source == "environment" and got.renderer == "halfcell"
    assert tg.PROBE_TIMEOUT_S <= took < tg.PROBE_TIMEOUT_S + 0.5
    assert tg.KITTY_QUERY not in terminal.received  # the Linux console would print it
    assert termios.tcgetattr(slave) == before


def run_on_pty(
    code: str, answer: bytes | None, pty_pair: tuple[int, int]
) -> tuple[str, bytes]:
    """`python -c code` with the pty as its terminal: what it printed after "RESULT ", and
    everything it wrote."""
    master, slave = pty_pair
    terminal = FakeTerminal(master, answer)
    try:
        proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, stdin=slave,
                              stdout=slave, stderr=subprocess.PIPE, timeout=60,
                              env={**os.environ, **PLAIN_ENV}, check=False)
        time.sleep(0.1)  # let the fake terminal drain the last output
    finally:
        terminal.close()
    assert proc.returncode == 0, proc.stderr.decode()
    _, _, result = terminal.received.rpartition(b"RESULT ")
    return result.decode().strip(), terminal.received


def test_the_probe_runs_while_tui_app_imports(pty_pair: tuple[int, int]) -> None:
    code = ("from tui import terminal_graphics as tg; tg.start(); import tui.app; "
            "g = tg.wait(); print('RESULT', g.source, g.renderer)")
    last, _ = run_on_pty(code, DA1_SIXEL, pty_pair)
    assert last == "probe sixel"


def test_starting_the_app_imports_no_image_stack() -> None:
    code = ("import sys, tui.app; "
            "print(sorted(m for m in ('numpy', 'PIL', 'textual_image') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"


LOAD_WIDGET = """\
import time
from tui.terminal_graphics import Graphics
from tui.widgets.image_support import image_widget_class
started = time.monotonic()
cls = image_widget_class(Graphics(True, {sixel}, {kitty}, 10, 20, "probe"))
took = time.monotonic() - started
import textual_image.widget as w
print("RESULT", cls is w.{widget}, round(took, 3))
"""


@pytest.mark.parametrize(("sixel", "kitty", "widget"), [(True, False, "SixelImage"),
                                                        (False, True, "TGPImage"),
                                                        (False, False, "HalfcellImage")])
def test_textual_image_loads_with_our_answer_and_asks_nothing(
    pty_pair: tuple[int, int], sixel: bool, kitty: bool, widget: str
) -> None:
    # a silent terminal: a query textual-image sent itself would show here (and time out)
    last, written = run_on_pty(LOAD_WIDGET.format(sixel=sixel, kitty=kitty, widget=widget),
                               None, pty_pair)
    right_class, _seconds = last.split()
    assert right_class == "True"
    assert b"\x1b[c" not in written and b"\x1b_G" not in written and b"\x1b[16t" not in written


def test_sixel_wins_over_kitty_like_textual_image() -> None:
    assert Graphics(True, True, True, 10, 20, "probe").renderer == "sixel"
