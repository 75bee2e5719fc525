"""A subscriber resumes from the server's backlog: what it missed, in order, gaps said."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.config import ControlConfig
from controller.control.client import ControlClient
from controller.control.protocol import EVENT_KINDS

from .control_harness import ServerThread

CFG = ControlConfig(socket_group="")


@pytest.fixture
def sock_path() -> Iterator[Path]:
    top = Path(tempfile.mkdtemp(prefix="ew-", dir="/tmp"))
    yield top / "run" / "control.sock"
    for p in sorted(top.rglob("*"), reverse=True):
        p.unlink() if not p.is_dir() else p.rmdir()
    top.rmdir()


def test_resume_replays_what_was_missed_then_goes_live(sock_path: Path) -> None:
    with ServerThread(sock_path, CFG, backlog_size=8) as st:
        with ControlClient(sock_path) as c:
            st.call_soon(lambda: st.server.publish("health", {"before": True}))
            first = c.subscribe_from(0, None)
            stream = first["stream"]
            assert first["gap"] is None  # no stream named: nothing claimed to be complete
            # a first subscription gets what the backlog holds
            (early,) = list(c.events(timeout=0.5))
            assert (early.seq, early.data) == (1, {"before": True})
            st.call_soon(lambda: [st.server.publish("alarm", {"i": i}) for i in range(3)])
            got = list(c.events(timeout=0.5))
            assert [(e.seq, e.data["i"]) for e in got] == [(2, 0), (3, 1), (4, 2)]
        # away: five more, then back holding seq 4
        st.call_soon(lambda: [st.server.publish("alarm", {"i": i}) for i in range(3, 8)])
        with ControlClient(sock_path) as c:
            again = c.subscribe_from(4, stream)
            assert again == {"events": sorted(EVENT_KINDS),
                             "queue_size": 256, "stream": stream, "seq": 9, "gap": 0}
            st.call_soon(lambda: st.server.publish("alarm", {"i": 8}))
            got = list(c.events(timeout=0.5))
            assert [(e.seq, e.data["i"]) for e in got] == [(s, s - 2) for s in range(5, 11)]


def test_resume_past_the_backlog_says_how_many_are_lost(sock_path: Path) -> None:
    with ServerThread(sock_path, CFG, backlog_size=4) as st:
        st.call_soon(lambda: [st.server.publish("reading", {"i": i}) for i in range(10)])
        with ControlClient(sock_path) as c:
            stream = st.server.stream
            answer = c.subscribe_from(2, stream)
            assert answer["gap"] == 4  # 3..6 fell out of a backlog of 4 (7..10 kept)
            assert [e.seq for e in c.events(timeout=0.5)] == [7, 8, 9, 10]
        with ControlClient(sock_path) as c:  # a stream from before a restart
            answer = c.subscribe_from(10, "another-stream")
            assert answer["gap"] is None and answer["seq"] == 10
            assert [e.seq for e in c.events(timeout=0.5)] == [7, 8, 9, 10]


def test_plain_subscribers_keep_their_own_numbering(sock_path: Path) -> None:
    with ServerThread(sock_path, CFG, backlog_size=4) as st:
        st.call_soon(lambda: [st.server.publish("alarm", {"i": i}) for i in range(5)])
        with ControlClient(sock_path) as c:
            assert "stream" not in c.subscribe(["alarm"])
            st.call_soon(lambda: st.server.publish("alarm", {"i": 5}))
            assert [(e.seq, e.data["i"]) for e in c.events(timeout=0.5)] == [(1, 5)]
