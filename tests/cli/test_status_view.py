"""The status renderer on states the service may send, including fields it adds later."""

from __future__ import annotations

import io

from rich.console import Console

from controller.cli.status_view import counts, duration, human, print_status, size, when

NOW = 1_796_169_717.0877783


def rendered(state: object, width: int = 100) -> str:
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


def test_a_field_added_later_is_shown_without_python_reprs() -> None:
    state = {
        "state": "degraded", "time": NOW, "uptime_s": 7300.0,
        "you": {"uid": 1000, "role": "2"},
        "store": {"records": 10, "not_stored": 3, "dropped_no_space": 0},
        "writer": {"state": "failing", "since": NOW - 4.2, "last_error": "[Errno 28] full",
                   "flags": [], "extra": {}, "ok": False, "ratio": 0.33333333333333331},
        "nodes": [{"name": "gate", "state": "unpaired", "rejected": {"bad_cobs": 66},
                   "last_seen": None, "port": "/dev/edgewarden/node-1"}],
        "ports": [{"path": "/dev/edgewarden/node-1", "open": False, "reopens": 3,
                   "frame_errors": {}, "last_error": "[Errno 2] No such file"}],
        "alarms": [{"channel": "gate/door", "state": "active_unack", "since": NOW - 65,
                    "value": 1.0000000000000002, "shelved_until": None}],
        "disks": [{"path": "/var", "free_bytes": 2_000_000, "checked": NOW - 1.5}],
    }
    text = rendered(state)
    for repr_ in ("None", "True", "False", "{}", "[]", "{'", "0.3333333", "1796169"):
        assert repr_ not in text, (repr_, text)
    assert "role ops" in text and "not stored 3" in text
    assert "[Errno 28] full" in text and "[Errno 2] No such file" in text  # not eaten as markup
    assert "not paired" in text and "66 (bad_cobs 66)" in text
    assert "active, not acknowledged" in text and "1 min ago" in text
    assert "4.2 s ago" in text and "2 MB" in text


def test_a_failing_store_and_an_attacked_link_are_said_in_words() -> None:
    """The shapes the merged service sends: `store.state`/`failure` and a node's `link`."""
    state = {
        "state": "running", "time": NOW,
        "store": {"state": "failing", "failure": "commit failed: disk I/O error",
                  "failing_since": NOW - 3.0, "not_stored": 12, "records": 40},
        "nodes": [
            {"name": "gate", "state": "under_attack", "rejected": {"bad_signature": 9},
             "link": {"lost_frames": 0, "lag_ms": 3.0,
                      "problems": ["9 forged frames in 10 s"]}},
            {"name": "yard", "state": "online", "rejected": {},
             "link": {"lost_frames": 2, "lag_ms": 1.0, "problems": []}},
        ],
    }
    text = rendered(state, width=160)
    assert "FAILING: nothing is stored (commit failed: disk I/O error), since 3 s ago" in text
    assert "not stored 12" in text
    assert "online, under attack" in text and "under_attack" not in text
    assert "9 forged frames in 10 s" in text and "ok (2 lost in all)" in text
