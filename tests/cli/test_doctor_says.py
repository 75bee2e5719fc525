"""`edgewarden doctor` on the setups issue 12 met: a video-file camera that works, a
missing video or model, a data directory the service cannot write."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from controller.config import Config, DeviceConfig
from controller.simulation.site import write_synthetic_video
from controller.store import initialise
from controller.system.doctor import check_data_writable
from tests.cli.terminal import CLI


def doctor(config: Path) -> dict[str, tuple[str, str]]:
    """check name -> (result, detail), read from the table a user sees."""
    out = subprocess.run([*CLI, "doctor", "--config", str(config)], capture_output=True,
                         text=True, timeout=60, env={**os.environ, "COLUMNS": "400"})
    assert "Traceback" not in out.stderr, out.stderr
    assert out.returncode in (0, 1), out.stderr
    return parse_rows(out.stdout)


def parse_rows(table: str) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 3 and cells[1] in ("PASS", "WARN", "FAIL"):
            rows[cells[0]] = (cells[1], cells[2])
    assert rows, table
    return rows


@pytest.fixture
def site(tmp_path: Path) -> Path:
    initialise(tmp_path / "data", passphrase="doctor test passphrase 1")
    return tmp_path


def write_config(site: Path, extra: str) -> Path:
    cfg = site / "config.toml"
    cfg.write_text(f'[device]\ndata_dir = "{site / "data"}"\nruntime_dir = "{site / "run"}"\n'
                   + extra)
    cfg.chmod(0o640)
    return cfg


def test_a_working_video_file_camera_passes(site: Path) -> None:
    video = write_synthetic_video(site / "yard.mp4", frames=10)
    rows = doctor(write_config(site, f'[[cameras]]\nname = "yard"\nsource = "{video}"\n'))
    assert rows["cameras"][0] == "PASS", rows
    assert "yard (file)" in rows["cameras"][1]
    assert "no camera stack" not in str(rows)


def test_a_missing_video_file_and_model_fail_by_name(site: Path) -> None:
    gone = site / "gone.mp4"
    model = site / "models" / "detector.tflite"
    rows = doctor(write_config(site, f'[detect]\nmodel = "{model}"\n\n'
                                     f'[[cameras]]\nname = "gate"\nsource = "{gone}"\n'))
    assert rows["cameras"][0] == "FAIL" and f"gate ({gone}): no such video file" in \
        rows["cameras"][1]
    assert rows["detector"][0] == "FAIL" and f"detect.model {model}: no such file" in \
        rows["detector"][1]


def test_no_model_says_motion_only(site: Path) -> None:
    rows = doctor(write_config(site, ""))
    assert rows["detector"] == ("PASS", "no model configured: cameras make motion-only events")


def test_a_data_dir_the_service_cannot_write_fails(site: Path) -> None:
    """The store on a read-only mount (a bind mount in a private mount namespace, gone
    when doctor exits): initialised, but the service could store nothing."""
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot make a private mount namespace here (needs root and unshare)")
    data = site / "data"
    cfg = write_config(site, "")
    script = (f'mount --bind "{data}" "{data}" && mount -o remount,bind,ro "{data}" && '
              f'exec "$@"')
    out = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script,
                          "sh", *CLI, "doctor", "--config", str(cfg)],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "COLUMNS": "400"})
    assert "Traceback" not in out.stderr and out.returncode == 1, out.stdout + out.stderr
    rows = parse_rows(out.stdout)
    assert rows["keys"][0] == "PASS"  # the store looks initialised...
    assert rows["data dir writable"][0] == "FAIL"  # ...but nothing could be stored
    assert f"{data} is on a read-only filesystem" in rows["data dir writable"][1]
    (data / "still-writable-here").write_text("")  # the real directory was never touched


def test_a_data_dir_owned_by_another_user_fails_for_the_service(site: Path) -> None:
    """The `edgewarden` service user may not write a store that root created and owns."""
    if os.geteuid() != 0:
        pytest.skip("needs root to hand files to another uid")
    data = site / "data"
    cfg = Config(device=DeviceConfig(data_dir=data))
    service = ("edgewarden", 4321, {4321})
    data.chmod(0o755)
    check = check_data_writable(cfg, service)
    assert check.status == "FAIL" and f"edgewarden cannot write {data} (" in check.detail
    assert f"chown -R edgewarden {data}" in check.detail
    os.chown(data, 4321, 4321)  # the directory handed over, what is inside not yet
    check = check_data_writable(cfg, service)
    assert check.status == "FAIL" and f"{data / 'keys'} (" in check.detail
    for path in [data, *data.rglob("*")]:
        os.chown(path, 4321, 4321)
    assert check_data_writable(cfg, service).status == "PASS"
