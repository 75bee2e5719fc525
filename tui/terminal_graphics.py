"""What the terminal can draw (Sixel, Kitty graphics, cell size), asked once before Textual.

Only the Events detail view draws a picture, but a terminal can only be asked before Textual
owns the tty (Textual's input thread would eat the answers). textual-image asks at import,
one question at a time, and waits out a timeout for each one the terminal ignores; with
NumPy and PIL that cost the first paint ~0.5 s. Here one write carries every question and
ends with Primary Device Attributes (DA1), which every terminal answers, and answers last:
a terminal without Kitty graphics costs one round trip, not a timeout.

`edgewarden tui` calls :func:`start` before it imports Textual, so the round trip runs on a
thread while the main thread imports; `EdgewardenApp.run` calls :func:`wait` (bounded by
`PROBE_TIMEOUT_S`) before the driver takes the terminal. textual-image loads later, off the
UI thread, and is handed this answer (tui.widgets.image_support). Stdlib only: this module
is imported before Textual.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import select
import struct
import sys
import termios
import threading
import time
import tty
from collections.abc import Mapping
from dataclasses import dataclass
from fcntl import ioctl

log = logging.getLogger(__name__)

SIXEL = "sixel"
KITTY = "kitty"
HALFCELL = "halfcell"
UNICODE = "unicode"

PROBE_TIMEOUT_S = 0.3  # a terminal that does not answer DA1 by then is treated as plain
DEFAULT_CELL = (10, 20)  # VT340 cell in pixels, textual-image's own default
# a 1x1 RGB "query" image (a=q: nothing is stored or shown); id 31 is echoed in the reply
KITTY_QUERY = b"\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\"
CELL_SIZE_QUERY = b"\x1b[16t"  # answered "CSI 6 ; height ; width t" where supported
DA1_QUERY = b"\x1b[c"
HEADLESS_SOURCE = "headless"
_DA1 = re.compile(rb"\x1b\[\?([0-9;]*)c")
_KITTY_REPLY = re.compile(rb"\x1b_G([^\x1b]*)\x1b\\")
_CELL_REPLY = re.compile(rb"\x1b\[6;(\d+);(\d+)t")


@dataclass(frozen=True)
class Graphics:
    """The answer: which protocols the terminal speaks and how big a cell is in pixels."""

    tty: bool
    sixel: bool
    kitty: bool
    cell_width: int
    cell_height: int
    source: str  # "probe", "environment", "no tty" or "headless": how we know

    @property
    def renderer(self) -> str:
        """The snapshot renderer, in textual-image's order: Sixel before Kitty.

        textual-image's Kitty renderer uses Unicode placeholders only Kitty itself draws;
        terminals that speak both (WezTerm, Konsole) draw its Sixel output correctly.
        """
        if self.sixel:
            return SIXEL
        if self.kitty:
            return KITTY
        return HALFCELL if self.tty else UNICODE


def headless() -> Graphics:
    """What a headless app (Pilot, snapshots) draws with: half-block, plain segments only."""
    return Graphics(True, False, False, *DEFAULT_CELL, HEADLESS_SOURCE)


def cell_size_from_env(env: Mapping[str, str]) -> tuple[int, int]:
    """textual-serve's cell size variables, else the VT340 default."""
    width, height = env.get("TEXTUAL_CELL_WIDTH", ""), env.get("TEXTUAL_CELL_HEIGHT", "")
    if width.isdigit() and height.isdigit() and int(width) and int(height):
        return int(width), int(height)
    return DEFAULT_CELL


def guess_from_env(env: Mapping[str, str], is_tty: bool) -> Graphics:
    """A conservative guess for when the terminal could not be asked: half-block unless the
    environment names a terminal known for a protocol (variables SSH does not forward are
    only present locally, so a remote session mostly gets half-block)."""
    width, height = cell_size_from_env(env)
    if not is_tty:
        return Graphics(False, False, False, width, height, "no tty")
    term = env.get("TERM", "")
    in_tmux = bool(env.get("TMUX"))  # tmux passes neither protocol through by default
    kitty = not in_tmux and (term == "xterm-kitty" or bool(env.get("KITTY_WINDOW_ID")))
    sixel = not in_tmux and not kitty and (
        env.get("TERM_PROGRAM") == "WezTerm" or term.startswith(("foot", "mlterm", "contour")))
    return Graphics(True, sixel, kitty, width, height, "environment")


def parse_reply(
    reply: bytes, ioctl_cell: tuple[int, int] | None, env: Mapping[str, str]
) -> Graphics:
    """Read the terminal's answers; without a DA1 answer, fall back to the environment."""
    da1 = _DA1.search(reply)
    if da1 is None:
        return guess_from_env(env, is_tty=True)
    sixel = b"4" in da1.group(1).split(b";")
    # a Kitty answer counts only before DA1: whatever follows it is not ours
    kitty = any(m.group(1).endswith(b";OK") for m in _KITTY_REPLY.finditer(reply, 0,
                                                                            da1.start()))
    cell = ioctl_cell
    if cell is None and (answer := _CELL_REPLY.search(reply)):
        height, width = int(answer.group(1)), int(answer.group(2))
        cell = (width, height) if width and height else None
    width, height = cell or cell_size_from_env(env)
    return Graphics(True, sixel, kitty, width, height, "probe")


def ioctl_cell_size(fd: int) -> tuple[int, int] | None:
    """Cell size from the window size in pixels, when the terminal fills it in."""
    try:
        rows, cols, xpixel, ypixel = struct.unpack(
            "HHHH", ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return None
    if not (rows and cols and xpixel and ypixel):
        return None
    width, height = xpixel // cols, ypixel // rows
    return (width, height) if width and height else None


def probe(
    in_fd: int, out_fd: int, env: Mapping[str, str], timeout_s: float = PROBE_TIMEOUT_S
) -> Graphics:
    """Ask the terminal on `out_fd` and read its answers from `in_fd` (both a tty).

    The tty is in cbreak mode (no echo, no line buffering) only while we read, and is put
    back as it was before returning, so it must run before Textual sets its own mode.
    """
    cell = ioctl_cell_size(out_fd)
    # the Linux console prints APC strings it does not know; it has no graphics anyway
    query = (b"" if env.get("TERM") == "linux" else KITTY_QUERY)
    query += (CELL_SIZE_QUERY if cell is None else b"") + DA1_QUERY
    saved = termios.tcgetattr(in_fd)
    reply = b""
    try:
        tty.setcbreak(in_fd, termios.TCSANOW)
        written = 0
        while written < len(query):
            written += os.write(out_fd, query[written:])
        deadline = time.monotonic() + timeout_s
        while _DA1.search(reply) is None:
            left = deadline - time.monotonic()
            readable = select.select([in_fd], [], [], left)[0] if left > 0 else []
            if not readable:
                termios.tcflush(in_fd, termios.TCIFLUSH)  # drop a half-arrived answer
                break
            chunk = os.read(in_fd, 1024)
            if not chunk:
                break
            reply += chunk
    finally:
        termios.tcsetattr(in_fd, termios.TCSANOW, saved)
    return parse_reply(reply, cell, env)


class _Probe:
    """One probe per process: started at launch, waited for before the driver starts."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.result: Graphics | None = None

    def _terminal_fds(self) -> tuple[int, int] | None:
        """stdin to read answers, and stdout (textual-image's side) or stderr (Textual's)."""
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stdin = sys.__stdin__.fileno() if sys.__stdin__ else -1
            if stdin >= 0 and os.isatty(stdin):
                for stream in (sys.__stdout__, sys.__stderr__):
                    if stream is not None and os.isatty(stream.fileno()):
                        return stdin, stream.fileno()
        return None

    def _run(self, in_fd: int, out_fd: int) -> None:
        try:
            result = probe(in_fd, out_fd, os.environ)
        except (OSError, termios.error) as exc:
            log.debug("terminal graphics probe failed: %s", exc)
            result = guess_from_env(os.environ, is_tty=True)
        self.result = result

    def start(self) -> None:
        with self.lock:
            if self.thread is not None or self.result is not None:
                return
            fds = self._terminal_fds()
            if fds is None:
                self.result = guess_from_env(os.environ, is_tty=False)
                return
            # not a daemon: a Ctrl-C during start-up waits (<= PROBE_TIMEOUT_S) for the
            # probe to put the tty back, instead of leaving it without echo
            self.thread = threading.Thread(target=self._run, args=fds,
                                           name="terminal-graphics-probe", daemon=False)
            self.thread.start()

    def wait(self) -> Graphics:
        self.start()
        thread = self.thread
        if thread is not None:
            thread.join(PROBE_TIMEOUT_S + 1.0)  # the probe bounds itself; this is a backstop
            if thread.is_alive():
                log.warning("terminal graphics probe still running; using half-block")
        return self.current()

    def current(self) -> Graphics:
        result = self.result
        if result is not None:
            return result
        return guess_from_env(os.environ, is_tty=self._terminal_fds() is not None)


_PROBE = _Probe()


def start() -> None:
    """Ask the terminal on a background thread, once (a no-op when it is not a tty)."""
    _PROBE.start()


def wait() -> Graphics:
    """The answer, after the probe (started here if it was not) has finished.

    Call only before Textual owns the terminal; takes one round trip at most
    `PROBE_TIMEOUT_S`, and nothing when :func:`start` ran early enough.
    """
    return _PROBE.wait()


def current() -> Graphics:
    """The answer if the probe has run, else a guess from the environment (never asks)."""
    return _PROBE.current()
