"""Notifications the service's queue dropped become a `gap` message with their count."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.config import ControlConfig
from controller.control import schema
from controller.forward import payloads
from tests.service.control_harness import ServerThread

from .harness import ForwardProcess, Subscriber, seq_of, wait_until
from .mosquitto import Mosquitto, need_mosquitto


@pytest.fixture
def root() -> Iterator[Path]:
    need_mosquitto()
    with tempfile.TemporaryDirectory(prefix="ewf-", dir="/tmp") as d:
        yield Path(d)


def alarm(i: int) -> Any:
    """A transition whose record the store could not keep: named by the stream only."""
    return schema.to_wire(schema.AlarmNotice(
        seq=None, t=float(i), alarm_id="n1/temp:limits", channel="n1/temp", rule="limits",
        event="raise" if i % 2 == 0 else "return", from_state="normal",
        to_state="active_unack", severity="warning", priority="high", value=float(i),
        score=1.0, user="", comment="", chatter_per_hour=1, detail=None, message=None))


def test_dropped_notifications_are_published_as_a_gap(root: Path) -> None:
    sock = root / "run" / "control.sock"
    with Mosquitto(root / "broker") as broker, \
            ServerThread(sock, ControlConfig(socket_group=""), queue_size=4,
                         backlog_size=16) as st:
        cfg = root / "config.toml"
        cfg.write_text(f'[device]\nname = "site"\ndata_dir = "{root}/data"\n'
                       f'runtime_dir = "{root}/run"\n\n[forward]\nurl = "{broker.url}"\n'
                       f'state_dir = "{root}/fwd"\ndiscovery = false\n')
        sub = Subscriber(broker.port).start()
        fwd = ForwardProcess(cfg, root / "fwd.log").start()
        try:
            wait_until(lambda: sub.on("/availability"), 20, "the forwarder online")
            wait_until(lambda: st.run(_subscribers(st)) == 1, 20,
                       f"the forwarder subscribed: {fwd.lines()}")

            def flood() -> None:  # no await in between: the queue of 4 overflows
                for i in range(40):
                    st.server.publish("alarm", alarm(i))

            st.call_soon(flood)
            # a gap shows when the next notification comes (its sequence jumps)
            st.call_soon(lambda: st.server.publish("alarm", alarm(40)))
            wait_until(lambda: len(sub.transitions()) == 5, 20,
                       f"five transitions: {[m.topic for m in sub.messages]} {fwd.lines()}")
            assert [seq_of(t.id)[1] for t in sub.transitions()] == [1, 2, 3, 4, 41]
            (gap,) = sub.decoded("/gap")
            assert isinstance(gap, payloads.Gap) and (gap.after, gap.missing) == (4, 36)
            assert gap.reason == "dropped by the service's queue"
            # in order: the gap comes between what got through and what followed
            order = [m.topic.rsplit("/", 1)[-1] for m in sub.messages
                     if m.topic.endswith(("/events", "/gap"))]
            assert order == ["events"] * 4 + ["gap", "events"]
            # a notification of another shape (another release) is a gap saying why
            st.call_soon(lambda: st.server.publish("alarm", {"alarm": "renamed"}))
            wait_until(lambda: len(sub.decoded("/gap")) == 2, 20, "the mismatch as a gap")
            mismatch = sub.decoded("/gap")[1]
            assert isinstance(mismatch, payloads.Gap) and mismatch.missing == 1
            assert "alarm event does not match" in mismatch.reason
        finally:
            code = fwd.stop()
            sub.stop()
        assert code == 0, "\n".join(fwd.lines())


async def _subscribers(st: ServerThread) -> int:
    return st.server.stats().subscribers
