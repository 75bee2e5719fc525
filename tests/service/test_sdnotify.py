"""sd_notify: messages arrive on a fake NOTIFY_SOCKET bound by the test."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.system.sdnotify import (
    Notifier,
    WatchdogPacer,
    format_message,
    socket_address,
    status_text,
    watchdog_interval,
)


@pytest.fixture
def path_socket(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2)
    yield path, sock
    sock.close()


@pytest.fixture
def abstract_socket() -> Iterator[tuple[str, socket.socket]]:
    name = f"edgewarden-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2)
    yield "@" + name, sock
    sock.close()


def received(sock: socket.socket) -> dict[str, str]:
    data = sock.recv(4096).decode()
    assert data.endswith("\n")
    return dict(line.split("=", 1) for line in data.splitlines())


def test_ready_watchdog_status_stopping_arrive(path_socket: tuple[str, socket.socket]) -> None:
    path, sock = path_socket
    n = Notifier.from_environ({"NOTIFY_SOCKET": path})
    assert n.enabled
    assert n.ready("serving 3 nodes")
    assert received(sock) == {"READY": "1", "STATUS": "serving 3 nodes"}
    assert n.watchdog()
    assert received(sock) == {"WATCHDOG": "1"}
    assert n.status("two\nlines")
    assert received(sock) == {"STATUS": "two lines"}
    assert n.reloading(monotonic_usec=1234)
    assert received(sock) == {"RELOADING": "1", "MONOTONIC_USEC": "1234"}
    assert n.stopping()
    assert received(sock) == {"STOPPING": "1"}
    n.close()


def test_abstract_socket_names_work(abstract_socket: tuple[str, socket.socket]) -> None:
    name, sock = abstract_socket
    n = Notifier.from_environ({"NOTIFY_SOCKET": name})
    assert n.ready()
    assert received(sock) == {"READY": "1"}
    n.close()


def test_reloading_defaults_to_monotonic_clock(path_socket: tuple[str, socket.socket]) -> None:
    path, sock = path_socket
    Notifier(path).reloading()
    assert int(received(sock)["MONOTONIC_USEC"]) > 0


def test_unset_socket_is_a_no_op() -> None:
    n = Notifier.from_environ({})
    assert not n.enabled
    assert not n.ready()
    assert not n.watchdog()
    assert not n.stopping()
    assert "disabled" in repr(n)


def test_vanished_socket_does_not_raise(tmp_path: Path) -> None:
    n = Notifier(str(tmp_path / "gone"))
    assert n.enabled
    assert n.watchdog() is False  # logged, not raised


def test_socket_address_forms() -> None:
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"
    assert socket_address("@abc") == "\0abc"
    assert socket_address("@") is None
    assert socket_address("") is None
    assert socket_address(None) is None
    assert socket_address("relative/path") is None
    assert socket_address("vsock:2:1234") is None


def test_format_message_rejects_bad_keys() -> None:
    assert format_message({"READY": "1", "STATUS": "a\nb"}) == b"READY=1\nSTATUS=a b\n"
    for bad in ("", "ready", "A=B", "A\nB"):
        with pytest.raises(ValueError):
            format_message({bad: "1"})


def test_status_text_is_bounded() -> None:
    assert len(status_text("x" * 5000)) == 512


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "20000000"}, 10.0),
        ({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(os.getpid())}, 10.0),
        ({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "x"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "-5"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
    ],
)
def test_watchdog_interval(env: dict[str, str], expected: float | None) -> None:
    assert watchdog_interval(env, os.getpid()) == expected


def test_watchdog_pacer() -> None:
    pacer = WatchdogPacer(5.0)
    assert pacer.due(100.0)
    assert pacer.seconds_until_due(100.0) == 0.0
    pacer.pinged(100.0)
    assert not pacer.due(104.9)
    assert pacer.seconds_until_due(103.0) == 2.0
    assert pacer.due(105.0)
    off = WatchdogPacer(None)
    assert not off.due(0.0)
    assert off.seconds_until_due(0.0) is None


def test_a_receiver_that_stops_reading_never_blocks_the_sender(
    path_socket: tuple[str, socket.socket],
) -> None:
    address, receiver = path_socket
    notifier = Notifier(address)
    # fill the receiver's queue: systemd busy or a test that reads only READY
    results = [notifier.watchdog() for _ in range(5000)]
    assert results[0] is True
    assert results[-1] is False  # dropped, not blocked
    receiver.settimeout(1)
    assert receiver.recv(64).startswith(b"WATCHDOG=1")
