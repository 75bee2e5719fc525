"""The forwarder's unit as `edgewarden install` lays it out: sandboxed, its own user, no
data dir, network only as AF_INET/AF_INET6 (and AF_UNIX for the control socket)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from controller.config import parse_config
from controller.system.install import install

EXEC = str(Path(sys.executable).parent / "edgewarden")
UNIT = "etc/systemd/system/edgewarden-forward.service"

needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                   reason="systemd-analyze not installed (CI installs it)")


def test_unit_runs_forward_as_its_own_user_without_the_data(tmp_path: Path) -> None:
    install(tmp_path, None, EXEC)
    unit = (tmp_path / UNIT).read_text()
    for setting in (f"ExecStart={EXEC} forward --config /etc/edgewarden/config.toml",
                    "User=edgewarden-forward", "SupplementaryGroups=edgewarden edgewarden-view",
                    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                    "InaccessiblePaths=-/var/lib/edgewarden -/etc/edgewarden/nodes",
                    "StateDirectory=edgewarden-forward", "NoNewPrivileges=yes"):
        assert setting in unit.splitlines(), setting
    assert "User=edgewarden\n" not in unit


def test_config_skeleton_has_a_commented_forward_section(tmp_path: Path) -> None:
    install(tmp_path, None, EXEC)
    text = (tmp_path / "etc/edgewarden/config.toml").read_text()
    section = text.split("[forward]", 1)[1].split("\n[", 1)[0]
    assert '# topic_prefix = "edgewarden"' in section
    assert '# discovery_prefix = "homeassistant"' in section
    assert "# inbound_commands = false" in section and "# publish_snapshots = false" in section
    assert parse_config(text).forward.url == ""  # off until a url is set


@needs_analyze
def test_security_exposure_at_most_2(tmp_path: Path) -> None:
    install(tmp_path, None, EXEC)
    r = subprocess.run(["systemd-analyze", "security", "--offline=true", str(tmp_path / UNIT)],
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for edgewarden-forward\.service: ([0-9.]+)",
                  r.stdout)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 2.0


@needs_analyze
def test_systemd_analyze_verify_is_clean(tmp_path: Path) -> None:
    install(tmp_path, None, EXEC)
    r = subprocess.run(["systemd-analyze", "verify", str(tmp_path / UNIT)],
                       capture_output=True, text=True, timeout=60)
    complaints = [ln for ln in (r.stdout + r.stderr).splitlines() if "edgewarden" in ln]
    assert r.returncode == 0 and complaints == [], r.stdout + r.stderr
