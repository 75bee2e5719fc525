"""Device health: CPU, temperature, Pi throttling, memory and free space.

Three layers, so each can be tested on its own:

* :class:`HealthReader` (thin adapter) reads psutil, the thermal zones in sysfs and the Pi
  firmware's throttle flags (sysfs ``get_throttled``, else ``vcgencmd get_throttled``);
  every path is injectable so tests feed it fake sysfs trees.
* The sample's type is the control schema's `Health` (named `HealthSample` here): one
  definition for the record, `status` and the health notices.
* Pure steps turn a :class:`HealthSample` into a health record (:func:`sample_to_record`),
  into numeric channels ``health/<name>`` that the anomaly engine treats like sensor
  channels (:func:`sample_to_channels`, default rules from :func:`suggested_rules`), and
  into Prometheus text (:func:`health_metrics`, :func:`render_metrics`).
* :func:`write_textfile` writes the node_exporter textfile atomically (temp file in the
  same directory, fsync, rename, 0644), so the collector never reads half a file.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import psutil

from controller.atomic_file import write_atomic
from controller.config import ChannelRulesConfig, HealthConfig
from controller.control.schema import Filesystem, Throttling, to_wire
from controller.control.schema import Health as HealthSample

# --------------------------------------------------------------------------- throttling
#: Bits of the Pi firmware's get_throttled word (raspberrypi.com, "vcgencmd" docs).
THROTTLE_BITS: Mapping[int, str] = {
    0: "under_voltage_now",
    1: "freq_capped_now",
    2: "throttled_now",
    3: "soft_temp_limit_now",
    16: "under_voltage_occurred",
    17: "freq_capped_occurred",
    18: "throttled_occurred",
    19: "soft_temp_limit_occurred",
}

DEFAULT_THROTTLED_PATH = Path("/sys/devices/platform/soc/soc:firmware/get_throttled")
DEFAULT_THERMAL_ROOT = Path("/sys/class/thermal")

# Thermal zone types that measure the SoC/CPU, best first.
_CPU_ZONE_TYPES = ("cpu-thermal", "cpu_thermal", "soc_thermal", "x86_pkg_temp", "cpu")


def throttling_from_raw(raw: int) -> Throttling:
    """The throttle word decoded into its flags (bits other than `THROTTLE_BITS` ignored)."""
    if raw < 0:
        raise ValueError(f"throttle word must not be negative: {raw}")
    flags = {name: bool(raw >> bit & 1) for bit, name in THROTTLE_BITS.items()}
    return Throttling(raw=raw, **flags)


_THROTTLED_RE = re.compile(r"^\s*(?:throttled\s*=\s*)?(0x)?([0-9a-fA-F]+)\s*$")


def parse_throttled(text: str) -> int:
    """The throttle word from ``vcgencmd get_throttled`` ("throttled=0x50005") or the
    sysfs file (bare hex, "50005"). Raises ValueError on anything else."""
    m = _THROTTLED_RE.match(text)
    if not m:
        raise ValueError(f"not a throttle word: {text.strip()[:40]!r}")
    return int(m.group(2), 16)


# --------------------------------------------------------------------------- sample
def filesystem_usage(path: str, device: str | None, total_bytes: int,
                     free_bytes: int) -> Filesystem:
    """Free space of the filesystem holding `path`; an `mmcblk` device is the SD card."""
    return Filesystem(path=path, device=device, total_bytes=total_bytes,
                      free_bytes=free_bytes, on_sd_card="mmcblk" in (device or ""))


def sample_to_record(sample: HealthSample) -> dict[str, Any]:
    """The sample as JSON-able data for a health record (the schema's shape)."""
    return to_wire(sample)


_MB = 1024 * 1024


def sample_to_channels(sample: HealthSample) -> dict[str, float]:
    """Numeric channels ``health/<name>`` for the anomaly engine; absent when unknown.

    Flags are 0.0/1.0, so a rule ``high_warning = 0.5`` alarms while a flag is set.
    """
    ch: dict[str, float] = {
        "health/load_1m": sample.load_1m,
        "health/load_per_cpu": sample.load_1m / max(1, sample.cpu_count),
        "health/memory_available_mb": sample.memory_available_bytes / _MB,
        "health/swap_used_mb": sample.swap_used_bytes / _MB,
    }
    if sample.cpu_percent is not None:
        ch["health/cpu_percent"] = sample.cpu_percent
    if sample.cpu_temp_c is not None:
        ch["health/cpu_temp_c"] = sample.cpu_temp_c
    if sample.filesystems:
        data = sample.filesystems[0]
        ch["health/disk_free_mb"] = data.free_bytes / _MB
        if data.total_bytes:
            ch["health/disk_used_percent"] = 100.0 * (1 - data.free_bytes / data.total_bytes)
        for fs in sample.filesystems[1:]:
            if fs.path == "/":
                ch["health/root_free_mb"] = fs.free_bytes / _MB
    if sample.throttling is not None:
        for name in THROTTLE_BITS.values():
            ch[f"health/{name}"] = 1.0 if getattr(sample.throttling, name) else 0.0
    return ch


STORE_FAULT_CHANNEL = "store/fault"
STORE_FAULT_LEVEL = {"ok": 0.0, "full": 1.0, "failing": 2.0}


def suggested_rules(
    cfg: HealthConfig, cameras: list[str] | tuple[str, ...] = ()
) -> dict[str, ChannelRulesConfig]:
    """Default anomaly rules for the health channels, from the [health] limits, and a
    `camera/<name>/down` alarm for each camera (1 while it is down).

    A user's own ``[anomaly.channels."health/..."]`` entry should win over these. The 0/1
    flags alarm on their limits only: a learned rule scores their first reading after a
    restart's gap 1 (an alarm at every start).
    """
    camera_down = ChannelRulesConfig(high_warning=0.5, adaptive="off", priority="high")
    return {
        **{f"camera/{name}/down": camera_down for name in cameras},
        "health/cpu_temp_c": ChannelRulesConfig(
            high_warning=cfg.cpu_temp_warning_c,
            high_critical=cfg.cpu_temp_critical_c,
            deadband=3.0,
            debounce_samples=3,
            priority="high",
        ),
        "health/disk_free_mb": ChannelRulesConfig(
            low_warning=cfg.disk_free_warning_mb,
            low_critical=cfg.disk_free_critical_mb,
            deadband=16.0,
            priority="high",
        ),
        "health/memory_available_mb": ChannelRulesConfig(
            low_warning=cfg.memory_available_warning_mb,
            deadband=8.0,
            debounce_samples=3,
            priority="medium",
        ),
        "health/under_voltage_now": ChannelRulesConfig(
            high_warning=0.5, debounce_samples=2, adaptive="off", priority="high"
        ),
        "health/throttled_now": ChannelRulesConfig(
            high_warning=0.5, debounce_samples=2, adaptive="off", priority="medium"
        ),
        "health/soft_temp_limit_now": ChannelRulesConfig(
            high_warning=0.5, debounce_samples=2, adaptive="off", priority="medium"
        ),
    }


def store_fault_rules() -> dict[str, ChannelRulesConfig]:
    """The record store's own alarm, fed by the service every second (not a sampled
    health channel): 1 = disk full (only alarms and audit stored), 2 = failing."""
    return {
        STORE_FAULT_CHANNEL: ChannelRulesConfig(
            high_warning=0.5, high_critical=1.5, adaptive="off", priority="urgent"
        ),
    }


# --------------------------------------------------------------------------- prometheus
MetricType = Literal["gauge", "counter"]


@dataclass(frozen=True)
class Metric:
    """One Prometheus metric family: name, help, type and (labels, value) samples."""

    name: str
    help: str
    type: MetricType
    samples: Sequence[tuple[Mapping[str, str], float]] = field(default_factory=tuple)


_METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
METRIC_PREFIX = "edgewarden_"


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def render_metrics(metrics: Iterable[Metric]) -> str:
    """The Prometheus text exposition format (what the textfile collector reads)."""
    lines: list[str] = []
    seen: set[str] = set()
    for m in metrics:
        if not m.name.startswith(METRIC_PREFIX) or not _METRIC_NAME_RE.match(m.name):
            raise ValueError(f"bad metric name {m.name!r} (must start with {METRIC_PREFIX})")
        if m.name in seen:
            raise ValueError(f"metric {m.name!r} given twice")
        seen.add(m.name)
        if not m.samples:
            continue
        lines.append(f"# HELP {m.name} {_escape_help(m.help)}")
        lines.append(f"# TYPE {m.name} {m.type}")
        for labels, value in m.samples:
            for key in labels:
                if not _LABEL_NAME_RE.match(key) or key.startswith("__"):
                    raise ValueError(f"bad label name {key!r} on {m.name}")
            label_text = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels.items())
            where = f"{{{label_text}}}" if label_text else ""
            lines.append(f"{m.name}{where} {_format_value(value)}")
    return "\n".join(lines) + "\n" if lines else ""


def health_metrics(sample: HealthSample) -> list[Metric]:
    """The sample as Prometheus metric families named ``edgewarden_*``."""
    none: dict[str, str] = {}
    metrics = [
        Metric("edgewarden_health_sample_timestamp_seconds",
               "Unix time of the last health sample.", "gauge", [(none, sample.time)]),
        Metric("edgewarden_load_average", "System load average.", "gauge", [
            ({"period": "1m"}, sample.load_1m),
            ({"period": "5m"}, sample.load_5m),
            ({"period": "15m"}, sample.load_15m),
        ]),
        Metric("edgewarden_cpu_count", "Logical CPUs.", "gauge", [(none, sample.cpu_count)]),
        Metric("edgewarden_cpu_usage_ratio", "CPU busy share since the previous sample.",
               "gauge",
               [] if sample.cpu_percent is None else [(none, sample.cpu_percent / 100.0)]),
        Metric("edgewarden_cpu_temperature_celsius", "SoC temperature.", "gauge",
               [] if sample.cpu_temp_c is None else [(none, sample.cpu_temp_c)]),
        Metric("edgewarden_memory_total_bytes", "Physical memory.", "gauge",
               [(none, sample.memory_total_bytes)]),
        Metric("edgewarden_memory_available_bytes", "Memory available without swapping.",
               "gauge", [(none, sample.memory_available_bytes)]),
        Metric("edgewarden_swap_used_bytes", "Swap in use.", "gauge",
               [(none, sample.swap_used_bytes)]),
        Metric("edgewarden_uptime_seconds", "Seconds since boot.", "gauge",
               [(none, sample.uptime_s)]),
        Metric("edgewarden_filesystem_size_bytes", "Size of the filesystem holding path.",
               "gauge", [(_fs_labels(fs), fs.total_bytes) for fs in sample.filesystems]),
        Metric("edgewarden_filesystem_free_bytes", "Free bytes on the filesystem holding path.",
               "gauge", [(_fs_labels(fs), fs.free_bytes) for fs in sample.filesystems]),
    ]
    if sample.throttling is not None:
        t = sample.throttling
        metrics.append(Metric("edgewarden_throttled_word",
                              "Raw Pi firmware get_throttled word.", "gauge", [(none, t.raw)]))
        flags = []
        for name in THROTTLE_BITS.values():
            condition, _, when = name.rpartition("_")
            flags.append(({"condition": condition, "when": when}, 1.0 if getattr(t, name) else 0.0))
        metrics.append(Metric("edgewarden_throttle_flag",
                              "Pi firmware throttle flags (when=now|occurred since boot).",
                              "gauge", flags))
    return metrics


def _fs_labels(fs: Filesystem) -> dict[str, str]:
    labels = {"path": fs.path}
    if fs.device:
        labels["device"] = fs.device
    return labels


def write_textfile(path: Path, text: str) -> None:
    """Replace `path` atomically with `text`, mode 0644, durable once this returns.

    The temp name does not end in ``.prom``, so the collector ignores it while written.
    """
    write_atomic(path, text.encode("utf-8"), 0o644)


# --------------------------------------------------------------------------- reader
class HealthReader:
    """Reads a :class:`HealthSample` from this machine; paths are injectable for tests."""

    def __init__(
        self,
        data_dir: Path,
        *,
        thermal_root: Path = DEFAULT_THERMAL_ROOT,
        throttled_path: Path = DEFAULT_THROTTLED_PATH,
        vcgencmd: str | None = "vcgencmd",
        extra_paths: Sequence[Path] = (Path("/"),),
        use_psutil_sensors: bool = True,
    ) -> None:
        self.data_dir = data_dir
        self.thermal_root = thermal_root
        self.throttled_path = throttled_path
        self.vcgencmd = shutil.which(vcgencmd) if vcgencmd else None
        self.extra_paths = tuple(extra_paths)
        self.use_psutil_sensors = use_psutil_sensors
        psutil.cpu_percent(interval=None)  # the first call only sets the baseline

    def read(self, now: float) -> HealthSample:
        load1, load5, load15 = os.getloadavg()
        mem = psutil.virtual_memory()
        swap = psutil.swap_memory()
        cpu_percent = psutil.cpu_percent(interval=None)
        return HealthSample(
            time=now,
            load_1m=load1,
            load_5m=load5,
            load_15m=load15,
            cpu_count=psutil.cpu_count() or 1,
            cpu_percent=cpu_percent,
            cpu_temp_c=self.read_cpu_temp(),
            memory_total_bytes=int(mem.total),
            memory_available_bytes=int(mem.available),
            swap_used_bytes=int(swap.used),
            uptime_s=max(0.0, time.time() - psutil.boot_time()),
            filesystems=tuple(self.read_filesystems()),
            throttling=self.read_throttling(),
        )

    def read_cpu_temp(self) -> float | None:
        """Degrees Celsius from the CPU thermal zone (sysfs millidegrees), else psutil."""
        zones: list[tuple[str, Path]] = []
        with contextlib.suppress(OSError):
            for zone in sorted(self.thermal_root.glob("thermal_zone*")):
                try:
                    kind = (zone / "type").read_text().strip()
                except OSError:
                    kind = ""
                zones.append((kind, zone))
        ranked = sorted(
            zones,
            key=lambda kz: _CPU_ZONE_TYPES.index(kz[0]) if kz[0] in _CPU_ZONE_TYPES else 99,
        )
        for _, zone in ranked:
            try:
                return int((zone / "temp").read_text().strip()) / 1000.0
            except (OSError, ValueError):
                continue
        if self.use_psutil_sensors and hasattr(psutil, "sensors_temperatures"):
            try:
                temps = psutil.sensors_temperatures()
            except (OSError, RuntimeError):
                return None
            for name in ("cpu_thermal", "cpu-thermal", "coretemp", "k10temp"):
                if temps.get(name):
                    return float(temps[name][0].current)
        return None

    def read_throttling(self) -> Throttling | None:
        """The firmware throttle flags: sysfs first, then vcgencmd, else None (not a Pi)."""
        try:
            return throttling_from_raw(parse_throttled(self.throttled_path.read_text()))
        except (OSError, ValueError):
            pass
        if self.vcgencmd:
            try:
                out = subprocess.run(
                    [self.vcgencmd, "get_throttled"],
                    capture_output=True, text=True, timeout=2, check=True,
                ).stdout
                return throttling_from_raw(parse_throttled(out))
            except (OSError, ValueError, subprocess.SubprocessError):
                return None
        return None

    def read_filesystems(self) -> list[Filesystem]:
        """The data dir's filesystem first, then each extra path on another filesystem."""
        out: list[Filesystem] = []
        seen: set[int] = set()
        for path in (self.data_dir, *self.extra_paths):
            probe = _existing_ancestor(path)
            try:
                dev = os.stat(probe).st_dev
                usage = shutil.disk_usage(probe)
            except OSError:
                continue
            if dev in seen:
                continue
            seen.add(dev)
            out.append(filesystem_usage(str(path), _device_of(probe), int(usage.total),
                                        int(usage.free)))
        return out


def _existing_ancestor(path: Path) -> Path:
    """`path` or its nearest existing parent (the data dir may not exist yet)."""
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _device_of(path: Path) -> str | None:
    """The block device of the mount holding `path` (longest matching mountpoint)."""
    try:
        resolved = str(path.resolve())
        best: tuple[int, str] | None = None
        for part in psutil.disk_partitions(all=True):
            mp = part.mountpoint
            inside = resolved == mp or resolved.startswith(mp.rstrip("/") + "/")
            if inside and (best is None or len(mp) > best[0]):
                best = (len(mp), part.device)
        return best[1] if best else None
    except (OSError, RuntimeError):
        return None
