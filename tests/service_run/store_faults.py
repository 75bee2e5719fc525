"""A real `edgewarden run` whose data directory is a small tmpfs the test can fill or
remount read-only: the faults a user meets when storing fails."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from controller.control.client import ControlClient
from controller.simulation.fleet import start_paired_nodes
from tests.prepared_store import initialised_copy
from tests.store.small_fs import mounted_tmpfs

from .conftest import PASSPHRASE, RunningService, write_config


def wait_for(pred, timeout: float = 30.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def start_service(root: Path, cfg: Path) -> subprocess.Popen[bytes]:
    with open(root / "service.log", "ab") as log:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-m", "controller", "run", "--config", str(cfg)], stderr=log)


@contextlib.contextmanager
def service_on_small_fs(tmp_path: Path, size_mb: int, store: str) -> Iterator[RunningService]:
    """The service with `data_dir` on its own `size_mb` tmpfs; `store` adds [store] keys."""
    with mounted_tmpfs(tmp_path / "data", size_mb):
        init = initialised_copy(tmp_path / "data", PASSPHRASE)
        fleet = start_paired_nodes(2, tmp_path / "nodes", rate_hz=10.0)
        cfg = write_config(tmp_path, fleet)
        text = cfg.read_text().replace("[store]\n", f"[store]\n{store}\n", 1)
        cfg.write_text(text)
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(tmp_path / "notify.sock"))
        proc = start_service(tmp_path, cfg)
        running = RunningService(tmp_path, cfg, proc, notify, fleet, init.verification_key)
        try:
            yield running
        finally:
            if running.proc.poll() is None:
                running.proc.kill()
                running.proc.wait()
            fleet.stop()
            notify.close()
            subprocess.run(["mount", "-o", "remount,rw", str(tmp_path / "data")],
                           capture_output=True)


def status(service: RunningService) -> dict[str, Any]:
    with ControlClient(service.socket_path) as c:
        return c.call("status")  # type: ignore[no-any-return]


def wait_up(service: RunningService) -> None:
    wait_for(lambda: service.socket_path.exists() and status(service)["store"]["records"] > 20,
             what="the service to store records")


def store_alarm(st: dict[str, Any]) -> dict[str, Any] | None:
    return next((a for a in st["alarms"] if a["channel"] == "store/fault"), None)


def verify(service: RunningService) -> subprocess.CompletedProcess[str]:
    passfile = service.root / "pass"
    passfile.write_text(PASSPHRASE)
    with open(passfile) as fh:
        return subprocess.run(
            [sys.executable, "-m", "controller", "verify", "--data-dir",
             str(service.root / "data"), "--identity", "--passphrase-fd", str(fh.fileno()),
             "--verification-key", service.verification_key],
            pass_fds=(fh.fileno(),), capture_output=True, text=True, timeout=180, input="",
        )


def remount(path: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], check=True,
                   capture_output=True)
    os.sync()
