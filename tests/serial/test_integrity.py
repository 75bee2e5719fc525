"""Sans-IO cores of issue 14's link defences: integrity windows and reject summaries."""

from __future__ import annotations

from firmware_bridge.integrity import IntegrityLimits, LinkIntegrity
from firmware_bridge.reasons import RejectReason
from firmware_bridge.reject_summary import OTHER_NODES, RejectSummary

WALL = 1_700_000_000_000.0


def test_lost_frames_count_in_the_window_and_age_out() -> None:
    li = LinkIntegrity(IntegrityLimits(lost_frames_window_s=10, max_lost_frames=2))
    li.accepted(100.0, 0, None, WALL)
    li.accepted(101.0, 3, None, WALL)
    assert li.lost_in_window(101.5) == 3 and li.lost_total == 3
    assert li.problems(101.5) == ["3 frames lost in 10 s"]
    li.accepted(102.0, -1, None, WALL)  # a late frame filled one
    assert li.lost_in_window(102.0) == 2 and li.problems(102.0) == []
    assert li.lost_in_window(120.0) == 0 and li.lost_total == 2


def test_lag_is_the_windows_minimum() -> None:
    li = LinkIntegrity(IntegrityLimits(lag_window_s=5, max_lag_ms=2000))
    assert li.lag_ms(0.0) is None
    li.accepted(10.0, 0, int(WALL) - 9000, WALL)  # a stall's backlog
    li.accepted(11.0, 0, int(WALL) - 20, WALL)  # then on time
    assert li.lag_ms(11.0) == 20 and li.problems(11.0) == []
    for t in range(20, 30):  # held back every time
        li.accepted(float(t), 0, int(WALL) - 5000, WALL)
    assert li.lag_ms(29.0) == 5000 and li.problems(29.0) == ["frames 5000 ms late"]


def test_forged_frames_mark_an_attack_in_their_window() -> None:
    li = LinkIntegrity(IntegrityLimits(attack_window_s=10, attack_min_forged=5))
    for i in range(4):
        li.forged(1.0 + i * 0.1)
    assert not li.under_attack(2.0)
    li.forged(2.0)
    assert li.under_attack(2.0) and li.forged_total == 5
    assert not li.under_attack(30.0)


def test_status_reports_find_frames_no_gap_showed() -> None:
    li = LinkIntegrity(IntegrityLimits())
    li.accepted(1.0, 0, None, WALL)  # the STATUS frame itself arrived
    li.status_report(1.0, frames_sent=10)  # first STATUS: a baseline
    for _ in range(5):
        li.accepted(2.0, 0, None, WALL)  # 5 arrive, STATUS included; the node sent 9
    li.status_report(3.0, frames_sent=19)
    assert li.lost_total == 4
    li.accepted(4.0, 2, None, WALL)  # a gap of 2 in the session, already counted
    li.status_report(4.0, frames_sent=22)
    assert li.lost_total == 6  # not counted twice
    li.accepted(5.0, 0, None, WALL)
    li.status_report(5.0, frames_sent=3)  # the node rebooted: a new baseline
    assert li.lost_total == 6


def test_a_port_lent_to_pairing_loses_no_frames_of_the_link() -> None:
    """A key rotation the node refused (not in pairing mode) kept its port 8 s: the frames
    sent meanwhile were never read, and raised `link/<node>/lost_frames` (25 frames)."""
    li = LinkIntegrity(IntegrityLimits(lost_frames_window_s=60, max_lost_frames=2))
    li.accepted(1.0, 0, None, WALL)
    li.status_report(1.0, frames_sent=10)
    li.port_lent()  # the service closes the port for pairing, then gives it back
    li.accepted(10.0, 25, None, WALL)  # the same session, 25 frames on
    li.status_report(11.0, frames_sent=40)  # and the node's count across the lend
    assert li.lost_total == 0 and li.problems(11.0) == []
    for _ in range(4):  # later losses count again, gaps and STATUS alike
        li.accepted(12.0, 0, None, WALL)
    li.accepted(13.0, 3, None, WALL)
    li.status_report(14.0, frames_sent=52)  # sent 12 since: 5 arrived, 3 in a gap
    assert li.lost_total == 7 and li.problems(14.0) == ["7 frames lost in 60 s"]


def test_reject_summary_counts_by_node_and_reason_per_interval() -> None:
    rs = RejectSummary(interval_s=60, max_sources=2)
    for _ in range(930):
        rs.add("/dev/n1", "AA", RejectReason.BAD_SIGNATURE, 1000.0)
    rs.add("/dev/n1", None, RejectReason.BAD_CRC, 1001.0)
    rs.add("/dev/n1", "BB", RejectReason.UNPAIRED, 1002.0)  # a third source: "other"
    assert rs.due(1059.0) == []
    (s,) = rs.due(1060.0)
    assert s["total"] == 932 and s["port"] == "/dev/n1"
    assert s["by_node"] == {"AA": {"bad_signature": 930}, "-": {"bad_crc": 1},
                            OTHER_NODES: {"unpaired": 1}}
    assert rs.due(2000.0) == []  # nothing new: no record
    rs.add("/dev/n2", "CC", RejectReason.REPLAYED, 2000.0)
    assert [x["port"] for x in rs.due(2001.0, force=True)] == ["/dev/n2"]
