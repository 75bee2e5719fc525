"""Run the reference node firmware under CPython on a pty: `simulate-node`, tests, demo.

A :class:`PtyNode` owns a pseudo-terminal pair. The firmware writes to the master side;
the controller opens the slave side like any serial port. A stable symlink (`link`)
stands in for the udev name, and "unplug" closes the pty (readers get EIO, the slave
path disappears) and "replug" makes a new one and re-points the symlink, as a USB
serial adapter does when it is pulled and put back.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import threading
import time
import tty
from dataclasses import dataclass, field
from pathlib import Path

from firmware_bridge.node.firmware import Node
from firmware_bridge.node.sensors import Faults, parse_fault
from firmware_bridge.node.shim import FdHal

DEFAULT_UID = "E66138935F2A1B01"


def simulated_uid(stable_as: Path | None = None) -> str:
    """A uid for a simulated node that no other simulated node shares.

    A real node's uid is burnt into its flash; a simulated node's flash is its key file,
    so with one the uid is derived from that file's absolute path (the same node after a
    restart, still paired). Without one each node gets a random uid.
    """
    if stable_as is None:
        return secrets.token_hex(8).upper()
    digest = hashlib.sha256(str(stable_as.absolute()).encode()).digest()
    return digest[:8].hex().upper()


def parse_uid(text: str) -> bytes:
    """A node uid: 16 hex digits (the RP2040 flash unique id); ValueError otherwise."""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 8:
        raise ValueError(f"node uid must be 16 hex digits, got {text!r}")
    return raw


@dataclass
class SimNodeOptions:
    uid: str = DEFAULT_UID
    channels: list[str] = field(default_factory=lambda: [
        "temperature", "humidity", "vibration", "door"])
    rate_hz: float = 1.0
    key_file: Path | None = None
    pairing: bool = False
    faults: list[str] = field(default_factory=list)
    link: Path | None = None  # stable symlink to the current pty slave


class PtyNode:
    """The firmware on a pty, served by a background thread until :meth:`stop`."""

    def __init__(self, options: SimNodeOptions) -> None:
        self.options = options
        faults = [parse_fault(f) for f in options.faults]  # ValueError on a bad spec
        self.hal = FdHal(parse_uid(options.uid),
                         str(options.key_file) if options.key_file else None,
                         pairing=options.pairing)
        self._master: int | None = None
        self._slave: int | None = None
        self.slave_path = ""
        self._plug()
        self.node = Node(self.hal, channels=options.channels, rate_hz=options.rate_hz,
                         faults=Faults(faults))
        self._unplug_windows = [f for f in faults if f.kind == "unplug"]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._manual_unplug = False
        self._thread = threading.Thread(target=self._serve, name=f"simnode-{options.uid}",
                                        daemon=True)

    @property
    def path(self) -> str:
        """The name a controller should open: the stable link if any, else the pty slave."""
        return str(self.options.link) if self.options.link else self.slave_path

    def start(self) -> PtyNode:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._unplug()

    def unplug(self) -> None:
        """Pull the cable until :meth:`replug`."""
        with self._lock:
            self._manual_unplug = True
            self._unplug()

    def replug(self) -> None:
        with self._lock:
            self._manual_unplug = False
            if self._master is None:
                self._plug()

    # ------------------------------------------------------------------ internals
    def _plug(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no CR/LF mangling: a binary UART
        tty.setraw(master)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.slave_path = os.ttyname(slave)
        self.hal.fd = master
        link = self.options.link
        if link is not None:
            tmp = link.with_name(link.name + ".new")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(self.slave_path)
            tmp.replace(link)

    def _unplug(self) -> None:
        self.hal.fd = None
        if self.options.link is not None:
            with contextlib.suppress(FileNotFoundError):
                self.options.link.unlink()
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None

    def _serve(self) -> None:
        t0 = time.monotonic()
        while not self._stop.is_set():
            if self._unplug_windows:
                t = time.monotonic() - t0
                want_unplugged = any(f.active(t) for f in self._unplug_windows)
                with self._lock:
                    if want_unplugged and self._master is not None:
                        self._unplug()
                    elif not want_unplugged and self._master is None and \
                            not self._manual_unplug:
                        self._plug()
            self.node.poll()
            self.hal.sleep_ms(1)
