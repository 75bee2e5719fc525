"""One writer per data directory, as a user meets it: a second `run`, a CLI export."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from controller.control.client import ControlClient

from .conftest import RunningService


def _wait(pred, timeout: float = 20.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _second_config(service: RunningService) -> Path:
    """The same data directory under another runtime_dir (another control socket)."""
    text = service.config.read_text().replace(
        f'runtime_dir = "{service.root / "run"}"', f'runtime_dir = "{service.root / "run2"}"')
    assert "run2" in text
    path = service.root / "second.toml"
    path.write_text(text)
    return path


def _committed(client: ControlClient) -> int:
    return int(client.call("status")["store"]["committed_since_start"])


def test_second_run_on_the_same_data_dir_is_refused_and_the_first_keeps_storing(
    service: RunningService,
) -> None:
    service.wait_notify("READY=1")
    with ControlClient(service.socket_path) as client:
        _wait(lambda: _committed(client) > 5, what="records stored")
        for config in (_second_config(service), service.config):
            second = subprocess.run(
                [sys.executable, "-m", "controller", "run", "--config", str(config),
                 "--seconds", "5"], capture_output=True, text=True, timeout=60)
            assert second.returncode != 0
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1, second.stderr
            assert f"pid {service.proc.pid}" in lines[0]
            assert str(service.socket_path) in lines[0]
            assert "in use" in lines[0]
        # the first still stores, still fails nothing, still answers on its socket
        before = _committed(client)
        _wait(lambda: _committed(client) > before + 5, what="the first service to store")
        store = client.call("status")["store"]
        assert store["not_stored"] == 0 and store["state"] == "ok"
    assert not (service.root / "run2" / "control.sock").exists()
    assert service.stop() == 0
    log = (service.root / "service.log").read_text()
    assert "store commit failed" not in log and "Traceback" not in log
