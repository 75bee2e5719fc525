"""The systemd notify protocol (sd_notify) without libsystemd.

systemd starts the service with ``Type=notify`` and passes ``$NOTIFY_SOCKET``; the service
sends newline-separated ``KEY=value`` datagrams there: ``READY=1`` once it serves,
``WATCHDOG=1`` from its main loop (a hung loop is then killed and restarted), ``STATUS=...``
for ``systemctl status``, ``STOPPING=1`` and ``RELOADING=1``. Outside systemd (tests, a
shell) ``$NOTIFY_SOCKET`` is unset and every call is a cheap no-op.

The message format and the watchdog arithmetic are pure functions; :class:`Notifier` is the
thin socket adapter. A failed send is logged and reported as ``False``, never raised: the
service must not die because its supervisor went away.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)

#: The longest STATUS text sent; systemd shows one line, and a datagram has to stay small.
MAX_STATUS_CHARS = 512


def socket_address(notify_socket: str | None) -> str | None:
    """The AF_UNIX address for ``$NOTIFY_SOCKET``: ``@name`` becomes an abstract ``\\0name``.

    Only absolute paths and abstract names are valid (``sd_notify(3)``); anything else
    (empty, relative, ``vsock:``) gives ``None``, which disables notification.
    """
    if not notify_socket:
        return None
    if notify_socket.startswith("@"):
        return "\0" + notify_socket[1:] if len(notify_socket) > 1 else None
    if notify_socket.startswith("/"):
        return notify_socket
    return None


def format_message(fields: Mapping[str, str]) -> bytes:
    """Encode ``KEY=value`` assignments, one per line; values lose any newline."""
    lines = []
    for key, value in fields.items():
        if not key or not key.isupper() or "=" in key or "\n" in key:
            raise ValueError(f"invalid sd_notify key {key!r}")
        clean = " ".join(str(value).splitlines())
        lines.append(f"{key}={clean}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def status_text(text: str) -> str:
    """A STATUS value: one line, bounded length."""
    one_line = " ".join(text.splitlines()).strip()
    if len(one_line) > MAX_STATUS_CHARS:
        one_line = one_line[: MAX_STATUS_CHARS - 1] + "…"
    return one_line


def watchdog_interval(environ: Mapping[str, str], pid: int) -> float | None:
    """Seconds between WATCHDOG=1 pings, or ``None`` when systemd wants none.

    systemd sets ``WATCHDOG_USEC`` (the timeout) and ``WATCHDOG_PID`` (the process it
    expects pings from); like ``sd_watchdog_enabled(3)`` we ping at half the timeout, and
    not at all if ``WATCHDOG_PID`` names another process or the values are malformed.
    """
    usec_text = environ.get("WATCHDOG_USEC")
    if not usec_text:
        return None
    try:
        usec = int(usec_text)
    except ValueError:
        return None
    if usec <= 0:
        return None
    pid_text = environ.get("WATCHDOG_PID")
    if pid_text:
        try:
            if int(pid_text) != pid:
                return None
        except ValueError:
            return None
    return usec / 2_000_000


class WatchdogPacer:
    """Decides when the main loop owes systemd a WATCHDOG=1 ping (time is passed in).

    The loop calls :meth:`due` each turn and, when it is, pings and calls :meth:`pinged`.
    Pinging from the loop itself (not a side thread) is the point: a hung loop stops
    pinging and systemd restarts the service.
    """

    def __init__(self, interval_s: float | None) -> None:
        self.interval_s = interval_s
        self._next: float | None = None

    def due(self, now: float) -> bool:
        if self.interval_s is None:
            return False
        return self._next is None or now >= self._next

    def pinged(self, now: float) -> None:
        if self.interval_s is not None:
            self._next = now + self.interval_s

    def seconds_until_due(self, now: float) -> float | None:
        """How long the loop may sleep before the next ping (``None``: no watchdog)."""
        if self.interval_s is None:
            return None
        if self._next is None:
            return 0.0
        return max(0.0, self._next - now)


class Notifier:
    """Sends sd_notify messages to one socket; every method is a no-op when disabled."""

    def __init__(self, notify_socket: str | None) -> None:
        self._address = socket_address(notify_socket)
        self._sock: socket.socket | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        """The notifier systemd asked for through ``$NOTIFY_SOCKET`` (disabled if unset)."""
        env = os.environ if environ is None else environ
        return cls(env.get("NOTIFY_SOCKET"))

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def send(self, fields: Mapping[str, str]) -> bool:
        """Send one datagram; ``True`` when it left, ``False`` when disabled or failed."""
        if self._address is None:
            return False
        payload = format_message(fields)
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            # never block the service's loop on a peer that is not reading
            self._sock.sendto(payload, socket.MSG_DONTWAIT, self._address)
        except BlockingIOError:
            log.warning("sd_notify to %s: the receiver is not reading; message dropped",
                        self._printable_address())
            return False
        except OSError as exc:
            log.warning("sd_notify to %s failed: %s", self._printable_address(), exc)
            self.close()
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        fields = {"READY": "1"}
        if status is not None:
            fields["STATUS"] = status_text(status)
        return self.send(fields)

    def watchdog(self) -> bool:
        return self.send({"WATCHDOG": "1"})

    def status(self, text: str) -> bool:
        return self.send({"STATUS": status_text(text)})

    def stopping(self, status: str | None = None) -> bool:
        fields = {"STOPPING": "1"}
        if status is not None:
            fields["STATUS"] = status_text(status)
        return self.send(fields)

    def reloading(self, monotonic_usec: int | None = None) -> bool:
        """RELOADING=1 with MONOTONIC_USEC, as ``Type=notify-reload`` expects; send
        :meth:`ready` when the reload is done."""
        if monotonic_usec is None:
            monotonic_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send({"RELOADING": "1", "MONOTONIC_USEC": str(monotonic_usec)})

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _printable_address(self) -> str:
        addr = self._address or ""
        return "@" + addr[1:] if addr.startswith("\0") else addr

    def __repr__(self) -> str:
        return f"Notifier({self._printable_address() or 'disabled'!r})"
