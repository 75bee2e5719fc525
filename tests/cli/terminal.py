"""A command on a real pseudo-terminal (its controlling tty), as a user at a shell runs it."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

CLI = [sys.executable, "-m", "controller"]


class Terminal:
    """`edgewarden ARGS` with stdin, stdout, stderr and /dev/tty on one pty."""

    def __init__(self, *args: str, python: tuple[str, ...] = (), cwd: Path | None = None
                 ) -> None:
        self.master, slave = os.openpty()

        def take_tty() -> None:  # the session's controlling terminal, as a login shell's
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            # an interactive shell runs its foreground job with Ctrl-C's signals at their
            # defaults, though the tests may run in the background of one (`pytest &`),
            # which ignores them, and an ignored SIGINT is inherited through exec
            for sig in (signal.SIGINT, signal.SIGQUIT):
                signal.signal(sig, signal.SIG_DFL)

        self.proc = subprocess.Popen([sys.executable, *python, *CLI[1:], *args],
                                     stdin=slave, stdout=slave, stderr=slave,
                                     start_new_session=True, preexec_fn=take_tty, cwd=cwd)
        os.close(slave)
        self.output = b""

    def read_until(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.output:
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                raise AssertionError(f"no {text!r} on the terminal; got {self.text!r}")
        return self.text

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def finish(self, timeout: float = 30.0) -> int:
        """Read to the end; the exit status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(deadline - time.monotonic()):
            pass
        rc = self.proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        os.close(self.master)
        return rc

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], min(timeout, 1.0))
        if not ready:
            return self.proc.poll() is None
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # EIO: every slave end is closed
            return False
        self.output += chunk
        return bool(chunk)
