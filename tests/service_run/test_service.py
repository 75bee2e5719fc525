"""`edgewarden run` as systemd runs it: notify protocol, signals, records, no network."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from controller.control.client import ControlClient
from controller.store.handout import HandoutReader, unlock_handed_identity

from .conftest import PASSPHRASE, RunningService


def _wait(pred, timeout: float = 20.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_ready_watchdog_records_and_clean_stop(service: RunningService) -> None:
    service.wait_notify("READY=1")
    service.wait_notify("WATCHDOG=1")

    # no TCP or UDP socket anywhere in the running service
    proc = psutil.Process(service.proc.pid)
    assert proc.net_connections(kind="inet") == []

    with ControlClient(service.socket_path) as client:
        # every node comes online (a node is `silent` until its first frame is heard:
        # on a loaded machine the first records can come from the others alone)
        status = _wait(lambda: (s := client.call("status"))["store"]["records"] > 20
                       and {n["state"] for n in s["nodes"]} == {"online"} and s,
                       what="records stored from every node online")
        first = {c["key"]: c["value"] for c in status["channels"]}
        assert "node-2/temperature" in first
        # a reading changes over time
        _wait(lambda: {c["key"]: c["value"] for c in client.call("status")["channels"]}
              != first, what="a reading to change")

    assert service.stop() == 0
    service.wait_notify("STOPPING=1")

    # everything it stored verifies, including every AEAD tag
    passfile = service.root / "pass"
    passfile.write_text(PASSPHRASE)
    with open(passfile) as fh:
        verify = subprocess.run(
            [sys.executable, "-m", "controller", "verify", "--data-dir",
             str(service.root / "data"), "--identity", "--passphrase-fd", str(fh.fileno()),
             "--verification-key", service.verification_key],
            pass_fds=(fh.fileno(),), capture_output=True, text=True, timeout=120,
            input="",
        )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    log = (service.root / "service.log").read_text()
    assert "<6>service: serving" in log  # journald priority prefixes
    metrics = (service.root / "metrics.prom").read_text()
    assert "edgewarden_records_committed_total" in metrics


def test_spike_raises_an_alarm_that_ops_acknowledge(service: RunningService) -> None:
    service.wait_notify("READY=1")
    with ControlClient(service.socket_path) as client:
        alarms = _wait(
            lambda: [a for a in client.call("status")["alarms"]
                     if a["channel"] == "node-1/temperature" and a["rule"] == "limits"],
            timeout=30, what="the injected spike to raise an alarm",
        )
        alarm = alarms[0]
        assert alarm["state"] in ("active_unack", "returned_unack")
        acked = client.call("alarms.ack", {"alarm": alarm["id"], "comment": "seen"})
        assert acked["acked_by"].startswith(("root", "uid"))
        assert acked["state"] in ("active_ack", "normal")
        # the spike ends, the alarm clears
        _wait(lambda: all(a["state"] == "normal" or a["id"] != alarm["id"]
                          for a in client.call("status")["alarms"]),
              timeout=40, what="the alarm to clear after the fault ended")
        history = client.call("history.fetch", {"kinds": ["alarm", "audit"]})
    identity = unlock_handed_identity(history, PASSPHRASE)
    records = list(HandoutReader(history, identity).records())
    events = [r.body["event"] for r in records if r.kind == "alarm"]
    assert "raise" in events and "ack" in events
    assert any(r.kind == "audit" and r.body.get("action") == "alarms.ack" for r in records)
    assert service.stop() == 0


def test_sighup_refuses_a_bad_config_and_keeps_running(service: RunningService) -> None:
    service.wait_notify("READY=1")
    good = service.config.read_text()
    service.config.write_text(good.replace("[store]\n", "[store]\nepoch_seconds = 0\n"))
    os.kill(service.proc.pid, signal.SIGHUP)
    log_path = service.root / "service.log"
    _wait(lambda: "reload refused" in log_path.read_text(), what="the refusal in the log")
    assert "config.toml" in log_path.read_text()
    with ControlClient(service.socket_path) as client:
        status = client.call("status")
        assert status["state"] == "running"
        assert "config.toml" in (status["config"]["last_error"] or "")
        assert "store.epoch_seconds: must be at least 1" in status["config"]["last_error"]
    # a bad plate pattern of the site's own formats is refused the same way, with its line
    service.config.write_text(good + '\n[plate_formats]\ngh = "LL-0000-00"\n')
    lines = service.config.read_text().count("\n")
    os.kill(service.proc.pid, signal.SIGHUP)
    with ControlClient(service.socket_path) as client:
        _wait(lambda: "plate_formats.gh" in (
            client.call("status")["config"]["last_error"] or ""), what="the plate refusal")
        error = client.call("status")["config"]["last_error"]
        assert f"config.toml:{lines}: plate_formats.gh: pattern 'LL-0000-00'" in error
        assert client.call("status")["state"] == "running"
    # a good config is taken
    service.config.write_text(good.replace('name = "test-site"', 'name = "renamed-site"'))
    os.kill(service.proc.pid, signal.SIGHUP)
    with ControlClient(service.socket_path) as client:
        _wait(lambda: client.call("status")["config"]["reloads"] == 1, what="the reload")
    assert service.stop() == 0


def test_missing_data_dir_is_a_one_line_error(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[device]\ndata_dir = "{tmp_path / "nowhere"}"\n'
                   f'runtime_dir = "{tmp_path / "run"}"\n')
    proc = subprocess.run([sys.executable, "-m", "controller", "run", "--config", str(cfg)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "edgewarden init" in lines[0]


def test_admin_exports_evidence_through_the_socket(service: RunningService) -> None:
    service.wait_notify("READY=1")
    stick = service.root / "stick"
    stick.mkdir()
    with ControlClient(service.socket_path) as client:
        _wait(lambda: client.call("status")["store"]["records"] > 20, what="records")
        result = client.call("export", {"dest": str(stick), "days": 1})
        assert result["verified"] and result["selected"] > 0
        refused = None
        try:
            client.call("export", {"dest": str(stick), "redact": True})
        except Exception as exc:  # the service never holds the identity
            refused = str(exc)
        assert refused and "identity" in refused
    bundle = Path(result["bundle"])
    assert bundle.parent == stick and bundle.is_dir()
    check = subprocess.run(
        [sys.executable, "-m", "controller", "verify-bundle", str(bundle),
         "--verification-key", service.verification_key],
        capture_output=True, text=True, timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert service.stop() == 0
