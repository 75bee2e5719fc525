"""The config loader: defaults, types, and errors that name file, line and key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from controller.config import Config, ConfigError, config_to_dict, load_config, parse_config


def test_no_file_gives_the_defaults() -> None:
    cfg = load_config(None)
    assert cfg == Config()
    assert cfg.store.epoch_seconds == 3600


def test_a_full_file_is_typed(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text(
        """
[device]
name = "gate-1"
data_dir = "/srv/ew"

[[serial.nodes]]
name = "north"
port = "/dev/edgewarden/node-E661"

[anomaly.channels."north/temperature"]
high_warning = 40
deadband = 0.5
adaptive = "mad"

[detect]
threshold = 0.3
label_thresholds = { sedan = 0.25 }
"""
    )
    cfg = load_config(f)
    assert cfg.device.data_dir == Path("/srv/ew")
    assert cfg.serial.nodes[0].port == "/dev/edgewarden/node-E661"
    rules = cfg.anomaly.channels["north/temperature"]
    assert rules.high_warning == 40.0 and isinstance(rules.high_warning, float)
    assert rules.adaptive == "mad"
    assert cfg.detect.label_thresholds == {"sedan": 0.25}


@pytest.mark.parametrize(
    ("text", "line", "key", "problem"),
    [
        ("[device]\nname = 'x'\nnmae = 1\n", 3, "device.nmae", "unknown key"),
        ("[store]\n\nepoch_seconds = 'hour'\n", 3, "store.epoch_seconds", "expected an integer"),
        ("[store]\nepoch_seconds = -5\n", 2, "store.epoch_seconds", "must not be negative"),
        ("[[serial.nodes]]\nname = 'a'\n", 1, "serial.nodes[0]", "missing required key 'port'"),
        (
            "[anomaly.channels.'n/t']\nadaptive = 'lstm'\n",
            2,
            "anomaly.channels.n/t.adaptive",
            "expected one of",
        ),
        ("[device]\nname = \n", 2, "", "invalid TOML"),
        ("[cameras]\nname = 'x'\n", 1, "cameras", "expected a list"),
    ],
)
def test_errors_name_file_line_and_key(text: str, line: int, key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "site.toml")
    err = info.value
    assert err.path == "site.toml"
    assert err.line == line
    if key:
        assert err.key == key
    assert problem in str(err)
    assert str(err).startswith(f"site.toml:{line}: ")
    assert "\n" not in str(err)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.toml")


def test_round_trip_through_plain_data() -> None:
    import tomllib

    data = config_to_dict(Config())
    # everything the defaults hold can be written back as TOML-able data
    assert data["store"]["retention_days"]["alarm"] == 365.0
    assert isinstance(data["device"]["data_dir"], str)
    assert tomllib.loads('x = 1')["x"] == 1


def test_cli_bad_config_exits_2_with_one_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text("[store]\nepoch_seconds = 'hour'\n")
    proc = subprocess.run(
        [sys.executable, "-m", "controller", "doctor", "--config", str(f)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"{f}:2: store.epoch_seconds: expected an integer" in lines[0]


def test_a_negative_max_event_names_the_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[[cameras]]\nname = "yard"\nsource = "x.mp4"\nmax_event_s = -5\n')
    with pytest.raises(ConfigError, match=r"config.toml:4: cameras\[0\].max_event_s: "
                                          r"must not be negative"):
        load_config(path)
