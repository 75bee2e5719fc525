"""Pressing Estimate on the TUI's export screen (real service): audited as an estimate."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Input

from controller.control.client import ControlClient
from controller.simulation.site import DEMO_PASSPHRASE, build_site
from controller.store.handout import HandoutReader, unlock_handed_identity
from tests.tui.conftest import run_async
from tests.tui.test_flows import text_of, until
from tui.app import EdgewardenApp


@pytest.fixture
def service() -> Iterator[Path]:
    """`edgewarden run` on a camera-less demo site; yields its control socket."""
    root = Path(tempfile.mkdtemp(prefix="ewest-", dir="/tmp"))  # AF_UNIX paths are short
    site = build_site(root / "site", camera=False, runtime_dir=root / "run")
    with open(root / "service.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "controller", "run", "--config",
                                 str(site.config_path)], stderr=log)
    sock = root / "run" / "control.sock"
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            assert proc.poll() is None, (root / "service.log").read_text()
            assert time.monotonic() < deadline, "service did not start"
            time.sleep(0.1)
        yield sock
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        site.stop()
        subprocess.run(["rm", "-rf", str(root)], check=False)


def audited(sock: Path) -> list[str]:
    with ControlClient(sock) as client:
        history = client.call("history.fetch", {"kinds": ["audit"]})
    identity = unlock_handed_identity(history, DEMO_PASSPHRASE)
    return [str(r.body.get("action")) for r in HandoutReader(history, identity).records()]


@run_async
async def test_estimate_button_is_audited_as_an_estimate(service: Path) -> None:
    app = EdgewardenApp(service)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.connected, tries=200)
        await pilot.press("5")
        await until(pilot, lambda: app.screen.query("#export-dest"), tries=100)
        app.screen.query_one("#export-days", Input).value = "1"
        await pilot.click("#export-estimate")
        await until(pilot, lambda: "records, about" in text_of(app, "#export-estimate-text"),
                    tries=200)
    deadline = time.monotonic() + 10
    while "export.estimate" not in (actions := audited(service)):
        assert time.monotonic() < deadline, actions
        time.sleep(0.2)
    assert "export" not in actions  # nothing was exported
