"""Storing fails under a running service (read-only, full disk, full at a rollover): it is
visible at once in `status` and as an alarm, nothing stored before is lost, and `verify`
passes once the fault is cleared."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.store.small_fs import fill_up

from .store_faults import (
    remount,
    service_on_small_fs,
    start_service,
    status,
    store_alarm,
    verify,
    wait_for,
    wait_up,
)


def _records(data: Path) -> int:
    with sqlite3.connect(f"file:{data / 'records.db'}?mode=ro", uri=True) as c:
        return int(c.execute("SELECT COUNT(*) FROM records").fetchone()[0])


def test_a_failing_commit_is_a_failing_state_and_an_alarm_then_recovers(
    tmp_path: Path,
) -> None:
    with service_on_small_fs(tmp_path, 64, "reserved_space_mb = 2\nshed_margin_mb = 2") as svc:
        wait_up(svc)
        data = svc.root / "data"
        # what a second writer did: a row in the way of the service's next records
        with sqlite3.connect(data / "records.db", timeout=10) as c:
            seq = c.execute("SELECT MAX(seq) FROM records").fetchone()[0] + 100
            c.execute("INSERT INTO records VALUES (?, 0, 0, 'audit', 'x', 'info', x'00', "
                      "x'00')", (seq,))
        st = wait_for(lambda: (s := status(svc))["store"]["state"] == "failing" and s,
                      what="status to say the store is failing")
        assert "UNIQUE constraint failed" in st["store"]["failure"]
        st = wait_for(lambda: (s := status(svc)) and store_alarm(s) and s,
                      what="the store alarm")
        assert store_alarm(st)["severity"] == "critical"  # type: ignore[index]
        wait_for(lambda: status(svc)["store"]["not_stored"] > 0, what="a non-zero not_stored")
        with sqlite3.connect(data / "records.db", timeout=10) as c:
            c.execute("DELETE FROM records WHERE seq = ?", (seq,))
        wait_for(lambda: status(svc)["store"]["state"] == "ok", what="storing again")
        before = status(svc)["store"]["records"]
        wait_for(lambda: status(svc)["store"]["records"] > before + 10, what="new records")
        assert svc.stop() == 0
        result = verify(svc)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Traceback" not in (svc.root / "service.log").read_text()


def test_disk_full_at_a_rollover_then_freed_verifies_and_loses_nothing(tmp_path: Path) -> None:
    # no reserve: the rollovers themselves meet the full disk
    store = "epoch_seconds = 2\nreserved_space_mb = 0\nshed_margin_mb = 0"
    with service_on_small_fs(tmp_path, 48, store) as svc:
        wait_up(svc)
        data = svc.root / "data"
        fill_up(data / "filler")
        stored_before = _records(data)
        st = wait_for(lambda: (s := status(svc))["store"]["state"] == "failing" and s,
                      what="status to say the store is failing")
        epoch_full = st["store"]["epoch"]
        wait_for(lambda: store_alarm(status(svc)), what="the store alarm")
        seals_full = status(svc)["store"]["seals"]
        wait_for(lambda: "rollover" in (status(svc)["store"]["failure"] or ""), timeout=15,
                 what="a failed rollover")
        # no end seals in a loop while full (the broken writer wrote ~1,000 a second)
        assert status(svc)["store"]["seals"] - seals_full < 20
        (data / "filler").unlink()
        wait_for(lambda: (s := status(svc)["store"])["state"] == "ok"
                 and s["epoch"] > epoch_full + 1, what="rollovers to succeed again")
        assert svc.stop() == 0
        assert _records(data) >= stored_before
        result = verify(svc)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Traceback" not in (svc.root / "service.log").read_text()


def test_a_completely_full_disk_keeps_alarms_and_audit_and_counts_the_rest(
    tmp_path: Path,
) -> None:
    with service_on_small_fs(tmp_path, 48, "reserved_space_mb = 4\nshed_margin_mb = 1") as svc:
        wait_up(svc)
        data = svc.root / "data"
        alarms_before = _count(data, "alarm")
        fill_up(data / "filler")
        st = wait_for(lambda: (s := status(svc))["store"]["dropped_no_space"] > 0 and s,
                      what="readings to be dropped and counted")
        assert st["store"]["not_stored"] >= st["store"]["dropped_no_space"]
        wait_for(lambda: status(svc)["store"]["state"] == "full", what="store state full")
        wait_for(lambda: store_alarm(status(svc)), what="the store alarm")
        # the alarm's record and a command's audit get through at 0 bytes free
        wait_for(lambda: _count(data, "alarm") > alarms_before, what="the alarm's record")
        audits_before = _count(data, "audit")
        status(svc)  # every control command is audited
        wait_for(lambda: _count(data, "audit") > audits_before, what="an audit record")
        # SIGTERM while full: a clean stop
        svc.proc.send_signal(signal.SIGTERM)
        assert svc.proc.wait(60) == 0
        # a restart while full starts, stores its audit, and stops cleanly too
        svc.proc = start_service(svc.root, svc.config)
        wait_for(lambda: svc.socket_path.exists() and status(svc)["state"] == "running",
                 what="the restart while full")
        assert svc.stop() == 0
        log = (svc.root / "service.log").read_text()
        assert "Traceback" not in log
        (data / "filler").unlink()
        result = verify(svc)
        assert result.returncode == 0, result.stdout + result.stderr


def _count(data: Path, kind: str) -> int:
    with sqlite3.connect(f"file:{data / 'records.db'}?mode=ro", uri=True) as c:
        return int(c.execute("SELECT COUNT(*) FROM records WHERE kind = ?",
                             (kind,)).fetchone()[0])


def test_run_on_a_read_only_data_dir_is_one_line(tmp_path: Path) -> None:
    with service_on_small_fs(tmp_path, 16, "") as svc:
        wait_up(svc)
        assert svc.stop() == 0
        remount(svc.root / "data", "ro")
        proc = subprocess.run([sys.executable, "-m", "controller", "run", "--config",
                               str(svc.config), "--seconds", "3"],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode != 0
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert "data" in lines[0] and "Read-only file system" in lines[0]


def test_ctrl_c_while_the_store_fails_is_one_line_and_the_next_start_recovers(
    tmp_path: Path,
) -> None:
    with service_on_small_fs(tmp_path, 64, "reserved_space_mb = 2\nshed_margin_mb = 2") as svc:
        wait_up(svc)
        data = svc.root / "data"
        # what a second writer did: a seal in the way of the service's next seal
        with sqlite3.connect(data / "records.db", timeout=10) as c:
            c.execute("BEGIN IMMEDIATE")  # the service must not take seal_no in between
            seal_no = c.execute("SELECT MAX(seal_no) FROM seals").fetchone()[0] + 1
            c.execute("INSERT INTO seals VALUES (?, 0, 'batch', 0, x'00', 0, x'00', x'00')",
                      (seal_no,))
        wait_for(lambda: status(svc)["store"]["state"] == "failing", what="failing")
        log_before = (svc.root / "service.log").read_text()
        svc.proc.send_signal(signal.SIGINT)
        assert svc.proc.wait(60) != 0
        tail = (svc.root / "service.log").read_text()[len(log_before):]
        assert "Traceback" not in tail
        assert "edgewarden run:" in tail and "not sealed at stop" in tail
        with sqlite3.connect(data / "records.db", timeout=10) as c:
            c.execute("DELETE FROM seals WHERE seal_no = ?", (seal_no,))
        again = subprocess.run([sys.executable, "-m", "controller", "run", "--config",
                                str(svc.config), "--seconds", "3"],
                               capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, again.stderr
        result = verify(svc)
        assert result.returncode == 0, result.stdout + result.stderr


def test_without_a_reserve_stop_and_restart_on_a_full_disk_are_one_line(
    tmp_path: Path,
) -> None:
    with service_on_small_fs(tmp_path, 32, "reserved_space_mb = 0\nshed_margin_mb = 0") as svc:
        wait_up(svc)
        data = svc.root / "data"
        fill_up(data / "filler")
        wait_for(lambda: status(svc)["store"]["state"] == "failing", what="failing")
        log_before = (svc.root / "service.log").read_text()
        svc.proc.send_signal(signal.SIGTERM)
        svc.proc.wait(60)
        tail = (svc.root / "service.log").read_text()[len(log_before):]
        assert "Traceback" not in tail
        again = subprocess.run([sys.executable, "-m", "controller", "run", "--config",
                                str(svc.config), "--seconds", "3"],
                               capture_output=True, text=True, timeout=60)
        assert again.returncode != 0
        assert "Traceback" not in again.stderr
        last = again.stderr.strip().splitlines()[-1]
        assert last.startswith("edgewarden run:") and "disk is full" in last
        (data / "filler").unlink()
        back = subprocess.run([sys.executable, "-m", "controller", "run", "--config",
                               str(svc.config), "--seconds", "3"],
                              capture_output=True, text=True, timeout=60)
        assert back.returncode == 0, back.stderr
        result = verify(svc)
        assert result.returncode == 0, result.stdout + result.stderr
