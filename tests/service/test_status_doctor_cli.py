"""`edgewarden status` and `edgewarden doctor` as a user runs them."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.cli import main
from controller.config import Config, ControlConfig, DeviceConfig, HealthConfig
from controller.system.doctor import check_clock, check_free_space, check_keys, check_serial_ports

from .control_harness import ServerThread


@pytest.fixture
def sock_path() -> Iterator[Path]:
    top = Path(tempfile.mkdtemp(prefix="ew-", dir="/tmp"))
    yield top / "run" / "control.sock"
    for p in sorted(top.rglob("*"), reverse=True):
        p.unlink() if not p.is_dir() else p.rmdir()
    top.rmdir()


def test_status_prints_service_state(sock_path: Path, capsys: pytest.CaptureFixture[str]
                                     ) -> None:
    with ServerThread(sock_path, ControlConfig(socket_group="")):
        assert main(["status", "--socket", str(sock_path), "--json"]) == 0
        state = json.loads(capsys.readouterr().out)
        assert state["state"] == "running" and state["nodes"][0]["name"] == "shed"
        assert main(["status", "--socket", str(sock_path)]) == 0
        out = capsys.readouterr().out
        assert "running" in out and "shed" in out and "/dev/edgewarden/node-E6614103" in out


def test_status_uses_the_socket_of_the_config(sock_path: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[device]\nruntime_dir = "{sock_path.parent}"\n')
    with ServerThread(sock_path, ControlConfig(socket_group="")):
        assert main(["status", "--config", str(cfg), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "running"


def test_status_when_service_is_not_running(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--socket", str(tmp_path / "control.sock")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("edgewarden status: service not running")
    assert str(tmp_path / "control.sock") in err
    assert len(err.splitlines()) == 1


def test_status_with_a_broken_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[control]\nsocket_name = 5\n")
    assert main(["status", "--config", str(cfg)]) == 2
    assert f"{cfg}:2: control.socket_name" in capsys.readouterr().err


def test_doctor_fails_without_keys_and_passes_the_check_with_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    cfg_file = tmp_path / "config.toml"
    cfg_file.write_text(f'[device]\ndata_dir = "{data}"\nruntime_dir = "{tmp_path}/run"\n')
    cfg_file.chmod(0o640)
    assert main(["doctor", "--config", str(cfg_file)]) == 1
    out = capsys.readouterr().out
    assert "keys" in out and "FAIL" in out and "edgewarden init" in out

    (data / "keys").mkdir(parents=True, mode=0o700)
    data.chmod(0o700)
    cfg = Config(device=DeviceConfig(data_dir=data))
    assert check_keys(cfg).status == "PASS"
    (data / "keys").chmod(0o755)
    assert check_keys(cfg).status == "FAIL"


def test_doctor_checks(tmp_path: Path) -> None:
    from controller.config import NodeConfig, SerialConfig

    port = tmp_path / "node-ABC"
    port.write_text("")
    cfg = Config(serial=SerialConfig(nodes=[NodeConfig("a", str(port)),
                                            NodeConfig("b", str(tmp_path / "node-gone"))]))
    result = check_serial_ports(cfg, dev_glob=str(tmp_path / "node-*"))
    assert result.status == "FAIL" and "node-gone" in result.detail
    assert check_serial_ports(Config()).status == "WARN"

    huge = Config(device=DeviceConfig(data_dir=tmp_path),
                  health=HealthConfig(disk_free_warning_mb=1e12, disk_free_critical_mb=1e12))
    assert check_free_space(huge).status == "FAIL"
    assert check_free_space(Config(device=DeviceConfig(data_dir=tmp_path))).status == "PASS"

    assert check_clock(lambda: "yes").status == "PASS"
    assert check_clock(lambda: "no").status == "WARN"
    assert check_clock(lambda: None, lambda: 5).status == "WARN"
    assert check_clock(lambda: None, lambda: 0).status == "PASS"
    assert check_clock(lambda: None, lambda: None).status == "WARN"
