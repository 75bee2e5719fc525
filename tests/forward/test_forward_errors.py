"""Bad broker settings give one line each, and the forwarder keeps running (retrying)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import ForwardProcess, wait_until
from .mosquitto import Mosquitto, make_ca, need_mosquitto

CLI = [sys.executable, "-m", "controller"]


@pytest.fixture
def root() -> Iterator[Path]:
    need_mosquitto()
    with tempfile.TemporaryDirectory(prefix="ewf-", dir="/tmp") as d:
        yield Path(d)


def write_config(root: Path, forward: str) -> Path:
    cfg = root / "config.toml"
    cfg.write_text(f'[device]\nname = "test-site"\ndata_dir = "{root / "data"}"\n'
                   f'runtime_dir = "{root / "run"}"\n\n[forward]\n'
                   f'state_dir = "{root / "fwd"}"\nreconnect_min_s = 0.1\n'
                   f"reconnect_max_s = 0.3\n{forward}\n")
    return cfg


def password_file(root: Path, text: str, mode: int = 0o600) -> Path:
    path = root / "mqtt.password"
    path.write_text(text + "\n")
    os.chmod(path, mode)
    return path


def run_until_line(root: Path, cfg: Path, needle: str) -> list[str]:
    """Start the forwarder, wait for `needle` in its log, see it retry, stop it cleanly."""
    fwd = ForwardProcess(cfg, root / "fwd.log").start()
    try:
        wait_until(lambda: any(needle in line for line in fwd.lines()), 20, needle)
        assert fwd.proc is not None and fwd.proc.poll() is None  # still running, retrying
    finally:
        assert fwd.stop() == 0
    lines = fwd.lines()
    assert not [line for line in lines if "Traceback" in line], lines
    assert len([line for line in lines if needle in line]) == 1, lines  # once, not per retry
    return lines


def test_refused_credentials_one_line(root: Path) -> None:
    with Mosquitto(root / "broker", users={"ew": "right"}) as broker:
        pw = password_file(root, "wrong")
        cfg = write_config(root, f'url = "{broker.url}"\nusername = "ew"\n'
                                 f'password_file = "{pw}"')
        lines = run_until_line(root, cfg, "refused the credentials of user 'ew'")
        assert not [line for line in lines if "wrong" in line]  # the password stays out


def test_right_credentials_and_tls_connect(root: Path) -> None:
    ca = make_ca(root / "ca")
    with Mosquitto(root / "broker", users={"ew": "right"}, tls=ca) as broker:
        pw = password_file(root, "right")
        cfg = write_config(root, f'url = "{broker.url}"\nusername = "ew"\n'
                                 f'password_file = "{pw}"\nca_file = "{ca.ca_file}"')
        run_until_line(root, cfg, f"broker {broker.url}: connected")


def test_certificate_that_does_not_verify_one_line(root: Path) -> None:
    ca, other = make_ca(root / "ca"), make_ca(root / "other")
    with Mosquitto(root / "broker", tls=ca) as broker:
        cfg = write_config(root, f'url = "{broker.url}"\nca_file = "{other.ca_file}"')
        run_until_line(root, cfg, "certificate does not verify against")


def test_unknown_host_one_line(root: Path) -> None:
    cfg = write_config(root, 'url = "mqtt://no-such-host.invalid:1883"')
    run_until_line(root, cfg, "cannot resolve host 'no-such-host.invalid'")


def test_loose_password_file_is_refused_before_anything(root: Path) -> None:
    pw = password_file(root, "secret", 0o644)
    cfg = write_config(root, f'url = "mqtt://127.0.0.1:1"\nusername = "ew"\n'
                             f'password_file = "{pw}"')
    out = subprocess.run([*CLI, "forward", "--config", str(cfg)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"edgewarden forward: forward.password_file {pw}: mode 0644 lets others read it; "
        f"chmod 600 {pw}"]


def test_no_url_is_one_line(root: Path) -> None:
    cfg = write_config(root, "")
    out = subprocess.run([*CLI, "forward", "--config", str(cfg)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "forward.url is not set" in out.stderr


def test_doctor_checks_the_broker_and_its_credentials(root: Path) -> None:
    with Mosquitto(root / "broker", users={"ew": "right"}) as broker:
        for password, verdict in (("right", f"{broker.url} accepts the forwarder as ew"),
                                  ("wrong", "refused the credentials of user 'ew'")):
            pw = password_file(root, password)
            cfg = write_config(root, f'url = "{broker.url}"\nusername = "ew"\n'
                                     f'password_file = "{pw}"')
            out = subprocess.run([*CLI, "doctor", "--config", str(cfg)], capture_output=True,
                                 text=True, timeout=120, env={**os.environ, "COLUMNS": "300"})
            row = next(line for line in out.stdout.splitlines() if "MQTT broker" in line)
            assert verdict in row, out.stdout
            assert ("PASS" if password == "right" else "FAIL") in row
