"""`edgewarden demo --data-dir D`, run a second time, reuses the site (issue 12)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from controller.simulation.site import DEMO_PASSPHRASE
from controller.store import HistoryReader, unlock_identity
from tests.cli.terminal import CLI


def demo(site: Path) -> str:
    out = subprocess.run([*CLI, "demo", "--headless", "--no-camera", "--seconds", "8",
                          "--data-dir", str(site)],
                         capture_output=True, text=True, timeout=180,
                         env={**os.environ, "COLUMNS": "200"})
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    return out.stdout


def readings_by_node(site: Path) -> dict[str, int]:
    identity = unlock_identity(site / "data", DEMO_PASSPHRASE)
    found: dict[str, int] = {}
    with HistoryReader(site / "data", identity) as reader:
        for r in reader.records(kinds=["reading"]):
            node = r.source.split("/")[0]
            found[node] = found.get(node, 0) + 1
    return found


def test_a_second_demo_on_the_same_directory_reuses_the_site(tmp_path: Path) -> None:
    site = tmp_path / "site"
    first = demo(site)
    key = re.search(r"(ewvk1-[a-z0-9-]+)", first.replace("\n", ""))
    assert key, first
    uids = re.findall(r"paired node (\S+) \(([0-9A-F]{16})\)", first)
    assert len(uids) == 3
    before = readings_by_node(site)

    second = demo(site)
    assert "reused" in second and DEMO_PASSPHRASE in second
    assert "ewvk1-" not in second  # shown once, on the first run only
    assert re.findall(r"paired node (\S+) \(([0-9A-F]{16})\)", second) == uids  # same nodes
    after = readings_by_node(site)
    for name, _ in uids:  # every node still paired: its readings were stored again
        assert after.get(name, 0) > before.get(name, 0), (name, before, after)
    verify = subprocess.run([*CLI, "verify", "--data-dir", str(site / "data"),
                             "--verification-key", key.group(1)],
                            capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
