"""CPython stand-ins for the RP2040 board, so the same firmware runs against a pty.

`FdHal` plays UART (a non-blocking file descriptor), pairing button (a flag), flash (a
key file written 0600) and clock (time.monotonic). The fd can be swapped while running,
which is how the simulator "unplugs" and "replugs" the node.
"""

import os
import select
import time

from .firmware import Hal

KEY_LEN = 32


class FdHal(Hal):
    def __init__(self, uid: bytes, key_file: "str | None", pairing: bool = False) -> None:
        self.uid = uid
        self.key_file = key_file
        self.button = pairing
        self.fd: "int | None" = None
        self.bytes_dropped = 0  # written while nobody could take them (a UART overrun)

    def ticks_ms(self) -> int:
        return int(time.monotonic() * 1000)

    def ticks_diff(self, a: int, b: int) -> int:
        return a - b

    def sleep_ms(self, ms: int) -> None:
        fd = self.fd
        if fd is None:
            time.sleep(ms / 1000)
            return
        try:
            select.select([fd], [], [], ms / 1000)
        except (OSError, ValueError):
            time.sleep(ms / 1000)

    def urandom(self, n: int) -> bytes:
        return os.urandom(n)

    def read(self) -> bytes:
        fd = self.fd
        if fd is None:
            return b""
        try:
            return os.read(fd, 4096)
        except (BlockingIOError, OSError):
            return b""

    def write(self, data: bytes) -> None:
        fd = self.fd
        if fd is None:
            self.bytes_dropped += len(data)
            return
        view = memoryview(data)
        while view:
            try:
                n = os.write(fd, view)
            except (BlockingIOError, OSError):
                self.bytes_dropped += len(view)
                return
            view = view[n:]

    def pairing_button(self) -> bool:
        return self.button

    def load_key(self) -> "bytes | None":
        if not self.key_file:
            return None
        try:
            with open(self.key_file, "rb") as f:
                key = f.read()
        except FileNotFoundError:
            return None
        return key if len(key) == KEY_LEN else None

    def store_key(self, key: bytes) -> None:
        self.button = False  # the button was released once the key was taken
        if not self.key_file:
            return
        tmp = self.key_file + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, key)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.key_file)

    def unique_id(self) -> bytes:
        return self.uid

    def reset(self) -> None:
        """The shim restarts firmware state in place (Node.boot follows this call)."""
