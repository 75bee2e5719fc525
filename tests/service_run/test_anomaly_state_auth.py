"""An edited anomaly-state.json is refused at start with one line and an alarm record, and
fails `verify`; an untouched one is restored. Real service, real store, real CLI."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from .conftest import RunningService
from .store_faults import start_service, verify, wait_for, wait_up


def _alarm_records(data: Path) -> int:
    with sqlite3.connect(f"file:{data / 'records.db'}?mode=ro", uri=True) as c:
        return int(c.execute("SELECT COUNT(*) FROM records WHERE kind = 'alarm' AND "
                             "source = 'store/anomaly-state'").fetchone()[0])


def test_edited_anomaly_state_is_refused_alarmed_and_fails_verify(
        service: RunningService) -> None:
    wait_up(service)
    assert service.stop() == 0
    data = service.root / "data"
    state_file = data / "anomaly-state.json"
    assert state_file.exists()
    assert verify(service).returncode == 0
    # a restart with the untouched state restores it, with no alarm
    service.proc = start_service(service.root, service.config)
    wait_up(service)
    assert service.stop() == 0
    log = (service.root / "service.log").read_text()
    assert "learned anomaly state restored" in log and _alarm_records(data) == 0
    # the burglar's edit: the learned state says everything is quiet
    doc = json.loads(state_file.read_text())
    state_file.write_text(json.dumps({**doc, "edited": time.time()}))
    result = verify(service)
    assert result.returncode != 0
    assert f"FAIL: {state_file}: does not match the digest" in result.stdout, result.stdout
    before = log.count("learned anomaly state restored")
    service.proc = start_service(service.root, service.config)
    wait_up(service)
    wait_for(lambda: _alarm_records(data) == 1, what="the alarm record about the state")
    assert service.stop() == 0
    log = (service.root / "service.log").read_text()
    assert log.count("learned anomaly state restored") == before
    refusals = [line for line in log.splitlines() if "does not match the digest" in line]
    assert len(refusals) == 1 and "not used" in refusals[0], refusals
