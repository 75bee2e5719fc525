"""The real service as a user meets it: an emptied config on SIGHUP, the export estimate's
audit row, and `edgewarden status` as a person and as a script reads it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from typing import Any

from controller.control.client import ControlClient
from controller.store.handout import HandoutReader, unlock_handed_identity

from .conftest import PASSPHRASE, RunningService


def _wait(pred: Any, timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _frames(client: ControlClient) -> dict[str, int]:
    return {n["name"]: n["frames_ok"] for n in client.call("status")["nodes"]}


def test_sighup_with_an_emptied_config_keeps_every_node(service: RunningService) -> None:
    service.wait_notify("READY=1")
    with ControlClient(service.socket_path) as client:
        _wait(lambda: len(_frames(client)) == 2, what="both nodes")
        service.config.write_text("")  # truncated by a failed editor save, `> config.toml`
        os.kill(service.proc.pid, signal.SIGHUP)
        log_path = service.root / "service.log"
        _wait(lambda: "reload refused" in log_path.read_text(), what="the refusal")
        refusal = [line for line in log_path.read_text().splitlines()
                   if "reload refused" in line]
        assert f"{service.config}: the file is empty" in refusal[-1]
        status = client.call("status")
        assert "the file is empty" in status["config"]["last_error"]
        assert status["config"]["reloads"] == 0
        before = _frames(client)
        assert sorted(before) == ["node-1", "node-2"]
        _wait(lambda: all(_frames(client)[n] > before[n] for n in before),
              what="both nodes still read after the refused reload")
    assert service.stop() == 0


def _audited_actions(client: ControlClient) -> list[str]:
    history = client.call("history.fetch", {"kinds": ["audit"]})
    identity = unlock_handed_identity(history, PASSPHRASE)
    return [str(r.body.get("action")) for r in HandoutReader(history, identity).records()]


def test_an_export_estimate_is_audited_as_an_estimate(service: RunningService) -> None:
    """What the TUI's Estimate button sends: `export` with `estimate`."""
    service.wait_notify("READY=1")
    with ControlClient(service.socket_path) as client:
        _wait(lambda: client.call("status")["store"]["records"] > 5, what="records")
        estimate = client.call("export", {"days": 1, "estimate": True})
        assert estimate["records"] > 0
        actions = _wait(lambda: (a := _audited_actions(client)).count("export.estimate") and a,
                        what="the estimate's audit row")
    assert "export" not in actions  # nothing was exported
    assert service.stop() == 0


EPOCH_FLOAT = re.compile(r"\b1[6-9]\d{8}\.\d+")  # a Unix time printed raw
LONG_FLOAT = re.compile(r"\d+\.\d{6,}")


def test_status_is_a_readable_table_and_json_for_scripts(service: RunningService) -> None:
    service.wait_notify("READY=1")
    with ControlClient(service.socket_path) as client:
        _wait(lambda: len(client.call("status")["channels"]) >= 8, what="readings")
    cmd = [sys.executable, "-m", "controller", "status", "--config", str(service.config)]
    env = dict(os.environ, COLUMNS="120")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert not EPOCH_FLOAT.search(text), text
    assert not LONG_FLOAT.search(text), text
    for python_repr in ("{}", "[]", "None", "True", "False", "{'", "role=3", "[0."):
        assert python_repr not in text, (python_repr, text)
    assert "running" in text and "admin" in text and "test-site" in text
    assert re.search(r"node-1 .*online", text) and re.search(r"node-2 .*online", text)
    assert re.search(r"temperature\W+[\d.]+ C\b", text), text  # value with its unit
    assert re.search(r"\d+(\.\d)?\s?s ago|just now", text)  # times as ages
    assert re.search(r"\d+(\.\d+)? (GB|MB) free", text)  # sizes with units
    assert re.search(r"store state\s+ok, storing", text), text  # the store's state in words
    assert re.search(r"node-1 .*online\s+.*\bok\b", text), text  # and the link's
    # --json: the service's status verbatim, as scripts read it
    raw = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=60)
    assert raw.returncode == 0, raw.stderr
    state = json.loads(raw.stdout)
    assert state["state"] == "running" and isinstance(state["time"], float)
    assert {n["name"] for n in state["nodes"]} == {"node-1", "node-2"}
    assert {"store", "health", "channels", "alarms", "cameras", "config"} <= set(state)
