"""The status renderer on states the service may send, including fields it adds later."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path
from typing import Any

import msgspec
import pytest
from rich.console import Console

from controller.cli import main
from controller.cli.status_view import counts, duration, human, print_status, size, when
from controller.config import ControlConfig
from controller.control import schema
from controller.control.commands import command_table
from controller.service.health import filesystem_usage
from tests.service.control_harness import ServerThread
from tests.service.fake_service import _alarm
from tests.service.status_sample import sample_node, sample_status, sample_store

NOW = 1_796_169_717.0877783


def rendered(state: schema.Status, width: int = 100) -> str:
    out = io.StringIO()
    print_status(state, Console(file=out, width=width, color_system=None))
    return out.getvalue()


def test_scalars_read_as_words() -> None:
    assert when(NOW - 12.4, NOW) == "12 s ago" and when(NOW + 300, NOW) == "in 5 min"
    assert when(None, NOW) == "never" and when(NOW, NOW) == "just now"
    assert "2026-" in when(NOW - 3 * 86400, NOW) and "3 days ago" in when(NOW - 3 * 86400, NOW)
    assert size(84_607_201_280) == "84.6 GB" and size(900) == "900 B"
    assert duration(3 * 3600 + 5 * 60) == "3 h 5 min"
    assert counts({}) == "0"
    assert counts({"bad_cobs": 60, "replay": 6}) == "66 (bad_cobs 60, replay 6)"
    assert human(0.1 + 0.2) == "0.3" and human(None) == "-" and human(True) == "yes"


def test_a_status_reads_as_words_without_python_reprs() -> None:
    state = sample_status(
        state="degraded", time=NOW, uptime_s=7300.0, you=schema.You(uid=1000, role="ops"),
        store=sample_store(records=10, not_stored=3, state="failing",
                           failure="[Errno 28] full", failing_since=NOW - 4.2),
        nodes=[sample_node("gate", "/dev/edgewarden/node-1", "unpaired", last_seen=None,
                           rejected={"bad_cobs": 66}, link=None)],
        ports=[schema.Port(path="/dev/edgewarden/node-1", open=False, reopens=3,
                           frame_errors={}, last_error="[Errno 2] No such file")],
        alarms=[msgspec.structs.replace(
            _alarm("gate/door:limits", "gate/door", "high"), since=NOW - 65,
            value=1.0000000000000002)],
        health=schema.Health(
            time=NOW - 1.5, load_1m=0.3333333333333333, load_5m=0.1, load_15m=0.0,
            cpu_count=4, cpu_percent=None, cpu_temp_c=None, memory_total_bytes=4_000_000,
            memory_available_bytes=2_000_000, swap_used_bytes=0, uptime_s=9.0,
            filesystems=(filesystem_usage("/var", None, 8_000_000, 2_000_000),),
            throttling=None))
    text = rendered(state, width=160)
    for repr_ in ("None", "True", "False", "{}", "[]", "{'", "0.3333333", "1796169"):
        assert repr_ not in text, (repr_, text)
    assert "role ops" in text and "not stored 3" in text
    assert "[Errno 28] full" in text and "[Errno 2] No such file" in text  # not eaten as markup
    assert "not paired" in text and "66 (bad_cobs 66)" in text
    assert "active, not acknowledged" in text and "1 min ago" in text
    assert "4.2 s ago" in text and "2 MB free of 8 MB" in text


def test_a_failing_store_and_an_attacked_link_are_said_in_words() -> None:
    """`store.state`/`failure` and a node's `link`."""
    link = schema.NodeLink(lost_frames=0, lost_frames_window=0, lag_ms=3.0,
                           forged_frames_window=9, problems=["9 forged frames in 10 s"])
    state = sample_status(
        time=NOW,
        store=sample_store(state="failing", failure="commit failed: disk I/O error",
                           failing_since=NOW - 3.0, not_stored=12, records=40),
        nodes=[
            sample_node("gate", "/dev/a", "under_attack", rejected={"bad_signature": 9},
                        link=link),
            sample_node("yard", "/dev/b", link=msgspec.structs.replace(
                link, lost_frames=2, lag_ms=1.0, forged_frames_window=0, problems=[])),
        ],
    )
    text = rendered(state, width=160)
    assert "FAILING: nothing is stored (commit failed: disk I/O error), since 3 s ago" in text
    assert "not stored 12" in text
    assert "online, under attack" in text and "under_attack" not in text
    assert "9 forged frames in 10 s" in text and "ok (2 lost in all)" in text


def test_a_status_of_another_shape_is_one_line_and_a_failure(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A service of another release (a field this client does not know): `status` says so
    in one line and exits non-zero; `--json` still prints the answer unchanged."""
    sock = Path(tempfile.mkdtemp(prefix="ew-", dir="/tmp")) / "control.sock"
    with ServerThread(sock, ControlConfig(socket_group="")) as st:
        async def newer(call: Any, args: Any) -> Any:
            return {**schema.to_wire(sample_status()), "weather": "fine"}

        st.fake.status = newer  # type: ignore[method-assign]
        st.server.table = command_table(st.fake)
        assert main(["status", "--socket", str(sock)]) == 1
        err = capsys.readouterr().err.strip()
        assert main(["status", "--socket", str(sock), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["weather"] == "fine"
    assert len(err.splitlines()) == 1 and "weather" in err
    assert "does not match this client" in err and "same release" in err
