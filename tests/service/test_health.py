"""Health: fake sysfs trees, throttle decoding, Prometheus textfile format and atomicity."""

from __future__ import annotations

import json
import os
import re
import stat
import threading
from pathlib import Path

import pytest

from controller.config import HealthConfig
from controller.service.health import (
    STORE_FAULT_CHANNEL,
    HealthReader,
    HealthSample,
    Metric,
    filesystem_usage,
    health_metrics,
    parse_throttled,
    render_metrics,
    sample_to_channels,
    sample_to_record,
    suggested_rules,
    throttling_from_raw,
    write_textfile,
)


def fake_sysfs(tmp_path: Path, zones: dict[str, str], throttled: str | None) -> tuple[Path, Path]:
    thermal = tmp_path / "thermal"
    for i, (kind, temp) in enumerate(zones.items()):
        z = thermal / f"thermal_zone{i}"
        z.mkdir(parents=True)
        (z / "type").write_text(kind + "\n")
        (z / "temp").write_text(temp + "\n")
    thermal.mkdir(exist_ok=True)
    throttled_path = tmp_path / "get_throttled"
    if throttled is not None:
        throttled_path.write_text(throttled)
    return thermal, throttled_path


def make_sample(**over: object) -> HealthSample:
    base: dict[str, object] = dict(
        time=1_700_000_000.5, load_1m=0.5, load_5m=0.25, load_15m=0.125, cpu_count=4,
        cpu_percent=12.5, cpu_temp_c=48.3, memory_total_bytes=1 << 30,
        memory_available_bytes=512 << 20, swap_used_bytes=0, uptime_s=3600.0,
        filesystems=(
            filesystem_usage("/var/lib/edgewarden", "/dev/mmcblk0p2", 32 << 30, 300 << 20),
            filesystem_usage("/", "/dev/mmcblk0p2x", 4 << 30, 1 << 30),
        ),
        throttling=throttling_from_raw(0x50005),
    )
    base.update(over)
    return HealthSample(**base)  # type: ignore[arg-type]


# ---------------------------------------------------------------- throttling
@pytest.mark.parametrize(
    ("text", "raw"),
    [("throttled=0x50005\n", 0x50005), ("throttled=0x0", 0), ("50005\n", 0x50005),
     ("0", 0), ("0x80008", 0x80008)],
)
def test_parse_throttled(text: str, raw: int) -> None:
    assert parse_throttled(text) == raw


@pytest.mark.parametrize("text", ["", "throttled=", "error=1 error_msg=...", "0xZZ"])
def test_parse_throttled_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError):
        parse_throttled(text)


def test_throttle_bits_decode() -> None:
    t = throttling_from_raw(0x50005)  # under-voltage now + throttled now, both since boot
    assert t.under_voltage_now and t.throttled_now
    assert not t.freq_capped_now and not t.soft_temp_limit_now
    assert t.under_voltage_occurred and t.throttled_occurred
    assert not t.freq_capped_occurred and not t.soft_temp_limit_occurred
    assert t.problems() == [
        "under_voltage_now", "throttled_now", "under_voltage_occurred", "throttled_occurred"
    ]
    assert throttling_from_raw(0).problems() == []
    all_set = throttling_from_raw(0xF000F)
    assert len(all_set.problems()) == 8
    assert throttling_from_raw(1 << 4).problems() == []  # undefined bits are ignored
    with pytest.raises(ValueError):
        throttling_from_raw(-1)


# ---------------------------------------------------------------- reader
def test_reader_uses_fake_sysfs(tmp_path: Path) -> None:
    thermal, throttled = fake_sysfs(
        tmp_path, {"gpu-thermal": "90000", "cpu-thermal": "51234"}, "50000\n"
    )
    data = tmp_path / "data"
    data.mkdir()
    reader = HealthReader(data, thermal_root=thermal, throttled_path=throttled,
                          vcgencmd=None, use_psutil_sensors=False)
    s = reader.read(now=123.0)
    assert s.time == 123.0
    assert s.cpu_temp_c == pytest.approx(51.234)  # the CPU zone, not the first zone
    assert s.throttling is not None
    assert s.throttling.under_voltage_occurred and not s.throttling.under_voltage_now
    assert s.filesystems[0].path == str(data)
    assert 0 < s.filesystems[0].free_bytes <= s.filesystems[0].total_bytes
    assert s.memory_total_bytes >= s.memory_available_bytes > 0
    assert s.cpu_count >= 1


def test_reader_without_pi_files(tmp_path: Path) -> None:
    thermal, throttled = fake_sysfs(tmp_path, {}, None)
    reader = HealthReader(tmp_path / "not-yet", thermal_root=thermal, throttled_path=throttled,
                          vcgencmd=None, use_psutil_sensors=False)
    s = reader.read(now=1.0)
    assert s.cpu_temp_c is None
    assert s.throttling is None
    assert s.filesystems[0].path == str(tmp_path / "not-yet")  # measured on its parent
    ch = sample_to_channels(s)
    assert "health/cpu_temp_c" not in ch
    assert "health/under_voltage_now" not in ch
    assert "health/disk_free_mb" in ch


def test_reader_skips_broken_zone(tmp_path: Path) -> None:
    thermal, throttled = fake_sysfs(tmp_path, {"cpu-thermal": "garbage", "acpitz": "40000"},
                                    "nonsense")
    reader = HealthReader(tmp_path, thermal_root=thermal, throttled_path=throttled,
                          vcgencmd=None, use_psutil_sensors=False)
    assert reader.read_cpu_temp() == 40.0
    assert reader.read_throttling() is None


def test_reader_falls_back_to_vcgencmd(tmp_path: Path) -> None:
    thermal, throttled = fake_sysfs(tmp_path, {}, None)
    tool = tmp_path / "vcgencmd"
    tool.write_text("#!/bin/sh\n[ \"$1\" = get_throttled ] && echo throttled=0x4\n")
    tool.chmod(0o755)
    reader = HealthReader(tmp_path, thermal_root=thermal, throttled_path=throttled,
                          vcgencmd=str(tool), use_psutil_sensors=False)
    t = reader.read_throttling()
    assert t is not None and t.throttled_now and t.raw == 4


# ---------------------------------------------------------------- pure steps
def test_channels_and_record() -> None:
    s = make_sample()
    ch = sample_to_channels(s)
    assert ch["health/cpu_temp_c"] == 48.3
    assert ch["health/disk_free_mb"] == 300.0
    assert ch["health/root_free_mb"] == 1024.0
    assert ch["health/memory_available_mb"] == 512.0
    assert ch["health/load_per_cpu"] == 0.125
    assert ch["health/under_voltage_now"] == 1.0
    assert ch["health/freq_capped_now"] == 0.0
    assert all(k.startswith("health/") for k in ch)
    rec = sample_to_record(s)
    assert rec["throttling"]["raw"] == 0x50005
    assert rec["filesystems"][0]["on_sd_card"] is True
    import json
    json.dumps(rec)  # storable as is


def test_suggested_rules_follow_config() -> None:
    rules = suggested_rules(HealthConfig(cpu_temp_warning_c=70, disk_free_critical_mb=50))
    assert rules["health/cpu_temp_c"].high_warning == 70
    assert rules["health/disk_free_mb"].low_critical == 50
    # every rule names a channel the sampler makes, or the store fault the service observes
    channels = set(sample_to_channels(make_sample())) | {STORE_FAULT_CHANNEL}
    assert set(rules) <= channels


# ---------------------------------------------------------------- prometheus text
_LINE = re.compile(
    r'^(# HELP [a-z_]+ .+|# TYPE [a-z_]+ (gauge|counter)|'
    r'edgewarden_[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [-+0-9.eNInfa]+)$'
)


def test_textfile_format() -> None:
    text = render_metrics(health_metrics(make_sample()))
    assert text.endswith("\n")
    lines = text.splitlines()
    for line in lines:
        assert _LINE.match(line), line
    assert "edgewarden_cpu_temperature_celsius 48.3" in lines
    assert 'edgewarden_load_average{period="1m"} 0.5' in lines
    assert 'edgewarden_throttle_flag{condition="under_voltage",when="now"} 1' in lines
    assert 'edgewarden_throttle_flag{condition="soft_temp_limit",when="occurred"} 0' in lines
    assert ('edgewarden_filesystem_free_bytes{path="/var/lib/edgewarden",'
            'device="/dev/mmcblk0p2"} 314572800') in lines
    # every family has HELP then TYPE before its samples
    names = [ln.split()[2] for ln in lines if ln.startswith("# TYPE")]
    assert len(names) == len(set(names))
    for name in names:
        i = lines.index(next(ln for ln in lines if ln.startswith(f"# TYPE {name} ")))
        assert lines[i - 1].startswith(f"# HELP {name} ")
        assert lines[i + 1].startswith(name)


def test_textfile_leaves_out_unknown_values() -> None:
    text = render_metrics(health_metrics(make_sample(cpu_temp_c=None, throttling=None)))
    assert "temperature" not in text
    assert "throttle" not in text


def test_label_escaping_and_name_checks() -> None:
    text = render_metrics([Metric("edgewarden_x", "a\nb", "counter",
                                  [({"path": 'a"b\\c\nd'}, 3.0)])])
    assert '# HELP edgewarden_x a\\nb' in text
    assert 'edgewarden_x{path="a\\"b\\\\c\\nd"} 3' in text
    with pytest.raises(ValueError, match="edgewarden_"):
        render_metrics([Metric("node_cpu", "x", "gauge", [({}, 1.0)])])
    with pytest.raises(ValueError, match="label"):
        render_metrics([Metric("edgewarden_y", "x", "gauge", [({"bad-name": "v"}, 1.0)])])
    with pytest.raises(ValueError, match="twice"):
        render_metrics([Metric("edgewarden_z", "x", "gauge", [({}, 1.0)])] * 2)
    assert render_metrics([]) == ""


def test_write_textfile_atomic_and_0644(tmp_path: Path) -> None:
    target = tmp_path / "edgewarden.prom"
    old_umask = os.umask(0o077)
    try:
        write_textfile(target, "edgewarden_a 1\n")
    finally:
        os.umask(old_umask)
    assert target.read_text() == "edgewarden_a 1\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["edgewarden.prom"]  # no temp left

    # a reader polling during many rewrites only ever sees a whole file
    bodies = [f"edgewarden_a {i}\n" * 2000 for i in range(30)]
    seen: set[str] = set()
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            seen.add(target.read_text())

    t = threading.Thread(target=poll)
    t.start()
    try:
        for body in bodies:
            write_textfile(target, body)
    finally:
        stop.set()
        t.join()
    assert seen <= {*bodies, "edgewarden_a 1\n"}


def test_write_textfile_failure_keeps_old_file(tmp_path: Path) -> None:
    target = tmp_path / "edgewarden.prom"
    write_textfile(target, "edgewarden_a 1\n")
    with pytest.raises(UnicodeEncodeError):
        write_textfile(target, "edgewarden_a \ud800\n")  # fails after the temp file exists
    assert target.read_text() == "edgewarden_a 1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["edgewarden.prom"]
    with pytest.raises(FileNotFoundError):
        write_textfile(tmp_path / "missing" / "x.prom", "x")


def test_the_store_fault_and_flag_alarms_do_not_fire_after_a_restart() -> None:
    """The second `demo --data-dir D` raised an urgent `store/fault` at start with the store
    ok: the rule had the learned (onset) default, and its first reading after the restart's
    gap scored 1. A level that says a state (0 ok, 1 full, 2 failing; a 0/1 flag) alarms on
    its limits only."""
    from controller.anomaly.desk import with_defaults
    from controller.anomaly.engine import AnomalyEngine
    from controller.config import AnomalyConfig
    from controller.service.health import STORE_FAULT_CHANNEL, store_fault_rules

    flags = ["health/under_voltage_now", "health/throttled_now", "health/soft_temp_limit_now"]
    rules = {**suggested_rules(HealthConfig()), **store_fault_rules()}
    config = with_defaults(AnomalyConfig(), rules)
    before = AnomalyEngine(config)
    t = 0.0
    for _ in range(600):  # ten minutes of the service: the learned rules are warm
        t += 1.0
        for ch in (STORE_FAULT_CHANNEL, *flags):
            assert before.observe(ch, t, 0.0) == [], ch
    after = AnomalyEngine(config)  # the service restarted a minute later
    after.load_state(json.loads(json.dumps(before.save_state())))
    for ch in (STORE_FAULT_CHANNEL, *flags):
        assert after.observe(ch, t + 60.0, 0.0) == [], ch
    # the limits still alarm: disk full is a warning, failing critical
    [raised] = after.observe(STORE_FAULT_CHANNEL, t + 61.0, 1.0)
    assert (raised.rule, raised.severity) == ("limits", "warning")
