"""The stop and unplug signals of foreground commands, noted without a lock."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator

import pytest

from controller.cli.signal_flags import SignalFlags

SIGNALS = (signal.SIGUSR1, signal.SIGUSR2)


@pytest.fixture
def flags() -> Iterator[SignalFlags]:
    before = {s: signal.getsignal(s) for s in SIGNALS}
    try:
        yield SignalFlags(SIGNALS).install()
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


def test_each_arrival_is_taken_once(flags: SignalFlags) -> None:
    assert not flags.seen() and not flags.take(signal.SIGUSR1)
    signal.raise_signal(signal.SIGUSR1)
    signal.raise_signal(signal.SIGUSR1)
    assert flags.seen(signal.SIGUSR1) and not flags.seen(signal.SIGUSR2)
    assert flags.take(signal.SIGUSR1) and flags.take(signal.SIGUSR1)
    assert not flags.take(signal.SIGUSR1)  # two toggles, not three
    assert flags.seen(signal.SIGUSR1)  # a stop, once seen, stays seen


def test_a_wait_ends_on_the_signal_it_waits_for_and_not_on_others(flags: SignalFlags) -> None:
    main = threading.main_thread().ident
    assert main is not None
    timer = threading.Timer(0.2, signal.pthread_kill, (main, signal.SIGUSR2))
    timer.start()
    try:
        assert not flags.wait(0.5, signal.SIGUSR1)  # SIGUSR2 came, but it waits for USR1
        assert flags.seen(signal.SIGUSR2)
        assert flags.wait(5.0, signal.SIGUSR2)
    finally:
        timer.cancel()
    assert not flags.wait(0.1, signal.SIGUSR1)


def test_a_signal_inside_the_loop_s_own_bookkeeping_is_not_lost(flags: SignalFlags) -> None:
    """The case that deadlocked `simulate-node`: the signal lands while the loop is busy
    with the flags themselves (there a threading.Event's lock was held)."""
    stop = time.monotonic() + 1.0
    sent = taken = 0
    while time.monotonic() < stop:
        signal.raise_signal(signal.SIGUSR1)  # handled at once, in the middle of the loop
        sent += 1
        taken += flags.take(signal.SIGUSR1)
    while flags.take(signal.SIGUSR1):
        taken += 1
    assert taken == sent
