"""The TOML configuration: a typed schema with every default in this one file.

Loading validates the whole file against the dataclasses below. A mistake becomes a
:class:`ConfigError` whose message names the file, the line and the dotted key, so the
CLI can print one line and exit with status 2. Each subsystem owns one section
(dataclass) here; code elsewhere receives the typed objects, never raw dicts.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from controller.errors import UsageError

DEFAULT_CONFIG_PATH = Path("/etc/edgewarden/config.toml")


class ConfigError(UsageError):
    """A config file that does not match the schema: `file:line: key: what is wrong`."""

    def __init__(self, path: str, line: int | None, key: str, problem: str) -> None:
        self.path = path
        self.line = line
        self.key = key
        self.problem = problem
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")


# --------------------------------------------------------------------------- device
@dataclass(frozen=True)
class DeviceConfig:
    """Where the service keeps its state and serves its control socket."""

    name: str = "edgewarden"
    data_dir: Path = Path("/var/lib/edgewarden")
    runtime_dir: Path = Path("/run/edgewarden")


# --------------------------------------------------------------------------- serial
@dataclass(frozen=True)
class NodeConfig:
    """One serial-attached sensor node."""

    name: str
    port: str  # stable udev name, e.g. /dev/edgewarden/node-E661...
    baudrate: int = 921_600
    max_frames_per_second: float = 200.0


@dataclass(frozen=True)
class SerialConfig:
    """The serial link: node keys live in `keys_dir` (0700, one 0600 file per node)."""

    keys_dir: Path = Path("/var/lib/edgewarden/node-keys")
    queue_size: int = 4096
    reopen_backoff_max_s: float = 10.0
    heartbeat_timeout_s: float = 10.0
    nodes: list[NodeConfig] = field(default_factory=list)


# --------------------------------------------------------------------------- store
@dataclass(frozen=True)
class StoreConfig:
    """The encrypted, sealed record store."""

    epoch_seconds: int = 3600
    seal_every_records: int = 1000
    commit_interval_ms: int = 200
    batch_max_records: int = 1000
    # disk space kept for alarm and audit records when the disk is nearly full
    reserved_space_mb: int = 64
    # below reserve + margin the store sheds media first, then the oldest readings
    shed_margin_mb: int = 64
    # media (segments, snapshots) kept at most; the oldest are shed first; 0 = no budget
    # (the disk's reserve still applies)
    media_budget_mb: float = 0.0
    # records queued for the writer; beyond it readings/health/events are dropped (counted)
    max_pending_records: int = 100_000
    # days to keep each record kind; a kind not listed (or 0) is kept forever
    retention_days: dict[str, float] = field(
        default_factory=lambda: {
            "reading": 30.0,
            "health": 30.0,
            "event": 90.0,
            "recording": 90.0,
            "alarm": 365.0,
            "audit": 365.0,
        }
    )
    # minimum seconds between stored readings per channel ("node/channel" or "*"); 0 = all
    downsample_s: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- anomaly
@dataclass(frozen=True)
class ChannelRulesConfig:
    """Anomaly rules of one channel; a rule whose values are unset is off.

    Limits alarm at or beyond the level and clear `deadband` inside it. Every rule's
    alarm waits for `debounce_samples` consecutive samples and `debounce_s` seconds of
    its condition before it is raised, and for `clear_delay_s` without it before clearing.
    """

    # static limits with hysteresis
    high_warning: float | None = None
    high_critical: float | None = None
    low_warning: float | None = None
    low_critical: float | None = None
    deadband: float = 0.0
    # debounce of every rule's alarm (on-delay by count and time, off-delay by time)
    debounce_samples: int = 1
    debounce_s: float = 0.0
    clear_delay_s: float = 0.0
    # rate of change: alarm above these
    max_rate_per_s: float | None = None
    max_step: float | None = None
    # flatline (stuck sensor): within tolerance of the run's first value for this long
    flatline_s: float | None = None
    flatline_tolerance: float = 0.0
    # missing data: no reading or heartbeat for this long
    missing_s: float | None = None
    # adaptive baseline (robust EWMA level and spreads, learned daily profile); scores the
    # short-term mean residual (fast_alpha) in spreads; defaults tuned on the NAB data
    # ("mad": rolling median/MAD over adaptive_window samples instead of the EWMAs)
    adaptive: Literal["off", "ewma", "mad"] = "ewma"
    adaptive_threshold: float = 2.5
    adaptive_warmup_samples: int = 1440  # keep it >= 1/adaptive_spread_alpha
    adaptive_alpha: float = 0.003
    adaptive_spread_alpha: float = 0.00075  # "ewma" only; slower than the level on purpose
    adaptive_fast_alpha: float = 0.015
    adaptive_window: int = 2016  # "mad" only; keep it well above 3 / adaptive_fast_alpha
    adaptive_clear_ratio: float = 0.5
    adaptive_critical_factor: float = 2.0
    adaptive_season_s: float = 86_400.0  # period of the learned profile; 0 = none
    adaptive_season_bins: int = 24
    adaptive_season_alpha: float = 0.1
    priority: Literal["low", "medium", "high", "urgent"] = "medium"


@dataclass(frozen=True)
class AnomalyConfig:
    """Rules per channel, keyed "node/channel" (or "*" as the default for all).

    An alarm raised `chatter_per_hour` times or more within an hour is shown as chattering.
    """

    channels: dict[str, ChannelRulesConfig] = field(default_factory=dict)
    chatter_per_hour: int = 6


# --------------------------------------------------------------------------- cameras
Priority = Literal["low", "medium", "high", "urgent"]


@dataclass(frozen=True)
class TamperConfig:
    """Camera tamper and health checks against a learned reference of the scene."""

    enabled: bool = True
    learn_s: float = 5.0  # the first reference is learned over this long
    adapt_s: float = 600.0  # then it follows slow changes (dusk) with this time constant
    delay_s: float = 3.0  # a fault must hold this long to raise its alarm
    clear_s: float = 5.0  # and be gone this long to clear it
    covered_contrast: float = 6.0  # grey-level spread below which the lens is covered
    covered_brightness_ratio: float = 0.35  # or this much darker with the detail gone
    blurred_detail_ratio: float = 0.35  # detail left (vs reference) below which: blurred
    # the median tile's edges correlate less than this with the reference: moved
    moved_similarity: float = 0.5
    frozen_change: float = 0.3  # mean grey-level change between frames below which ...
    frozen_s: float = 10.0  # ... for this long: frozen
    priority_covered: Priority = "high"
    priority_blurred: Priority = "medium"
    priority_moved: Priority = "high"
    priority_frozen: Priority = "medium"


@dataclass(frozen=True)
class CameraConfig:
    """One camera: `source` is "picamera2:N", a V4L2 device, an RTSP URL or a file."""

    name: str
    source: str
    width: int = 1280
    height: int = 720
    lores_width: int = 320
    lores_height: int = 240
    fps: float = 15.0
    rotation: Literal[0, 90, 180, 270] = 0
    exposure_mode: Literal["normal", "short", "long"] = "normal"
    loop: bool = False
    motion_sensitivity: float = 0.5
    pre_roll_s: float = 3.0
    post_roll_s: float = 3.0
    # an object still in view after this long is recorded and goes on in a new event with
    # a new clip (0 = never: a busy scene would keep its events and clip open forever)
    max_event_s: float = 60.0
    # H.264 rate: picamera2's hardware encoder runs at it; the software encoder (libx264)
    # keeps constant quality h264_crf (lower = better, bigger) and stays below it
    h264_bitrate: int = 4_000_000
    h264_crf: int = 28
    # what is recorded: "events" keeps segments around events (pre/post-roll), "continuous"
    # keeps every segment, "off" records nothing (detection still runs)
    recording: Literal["events", "continuous", "off"] = "events"
    segment_s: float = 4.0  # length of one encoded segment (at least 1 s)
    # this camera's share of the media on the card; 0 = only store.media_budget_mb applies
    media_budget_mb: float = 0.0
    tamper: TamperConfig = field(default_factory=TamperConfig)
    reopen_backoff_initial_s: float = 0.5
    reopen_backoff_max_s: float = 30.0
    # zone name -> polygon of [x, y] points normalised 0..1; none = the whole frame
    zones: dict[str, list[list[float]]] = field(default_factory=dict)
    # polygons blacked out before analysis and storage
    privacy_masks: list[list[list[float]]] = field(default_factory=list)


@dataclass(frozen=True)
class DetectConfig:
    """The on-device detector; thresholds per model default and per label."""

    model: Path | None = None
    labels: Path | None = None
    threads: int = 2
    threshold: float = 0.5
    label_thresholds: dict[str, float] = field(default_factory=dict)
    iou_match: float = 0.3
    max_missed_frames: int = 10
    min_hits: int = 3  # detections before a track counts (and can make an event)
    nms_iou: float = 0.45  # YOLO-style outputs
    float_input_range: Literal["0..1", "-1..1"] = "0..1"  # float (unquantised) models only
    motion_gate: bool = True
    motion_hold_s: float = 1.0  # keep detecting this long after the last motion


# --------------------------------------------------------------------------- health
@dataclass(frozen=True)
class HealthConfig:
    """Device health sampling; the limits become the default rules of the health/* channels."""

    interval_s: float = 10.0
    # node_exporter textfile collector output (*.prom); unset = not written. The unit's
    # ProtectSystem=strict needs a ReadWritePaths= entry for a path outside /var/lib/edgewarden.
    textfile_path: Path | None = None
    cpu_temp_warning_c: float = 75.0
    cpu_temp_critical_c: float = 82.0
    disk_free_warning_mb: float = 512.0
    disk_free_critical_mb: float = 128.0
    memory_available_warning_mb: float = 64.0


# --------------------------------------------------------------------------- control
@dataclass(frozen=True)
class ControlConfig:
    """The local control socket (`device.runtime_dir`/`socket_name`) and who may use it.

    The socket is 0660 and owned by `socket_group`, so only its members can connect at
    all; the caller's role then comes from the three role groups (root is admin).
    """

    socket_name: str = "control.sock"
    socket_group: str = "edgewarden"
    view_group: str = "edgewarden-view"
    ops_group: str = "edgewarden-ops"
    admin_group: str = "edgewarden-admin"
    max_clients: int = 16
    subscriber_queue_size: int = 256
    max_request_bytes: int = 1_048_576


# --------------------------------------------------------------------------- export
@dataclass(frozen=True)
class ExportConfig:
    """Evidence export; a USB stick whose filesystem label is `stick_label` starts one."""

    stick_label: str = "EDGEWARDEN"
    default_days: float = 7.0
    redact: bool = False


# --------------------------------------------------------------------------- top
@dataclass(frozen=True)
class Config:
    device: DeviceConfig = field(default_factory=DeviceConfig)
    serial: SerialConfig = field(default_factory=SerialConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    anomaly: AnomalyConfig = field(default_factory=AnomalyConfig)
    cameras: list[CameraConfig] = field(default_factory=list)
    detect: DetectConfig = field(default_factory=DetectConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    control: ControlConfig = field(default_factory=ControlConfig)
    export: ExportConfig = field(default_factory=ExportConfig)


# =========================================================================== loading
def load_config(path: Path | str | None = None) -> Config:
    """Read and validate a config file; `None` gives the defaults."""
    if path is None:
        return Config()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), None, "", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(p), None, "", f"cannot read: {exc}") from None
    return parse_config(text, str(p))


def parse_config(text: str, source: str = "<config>") -> Config:
    """Validate TOML text against the schema; errors name `source`, line and key."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _decode_error_line(str(exc))
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError(source, line, "", f"invalid TOML: {msg}") from None
    locator = _KeyLocator(text)
    return typing.cast(Config, _build(Config, raw, "", source, locator))


def config_to_dict(cfg: Any) -> Any:
    """The config as plain TOML-able data (Paths as strings, None left out)."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(cfg):
            value = config_to_dict(getattr(cfg, f.name))
            if value is not None:
                out[f.name] = value
        return out
    if isinstance(cfg, dict):
        return {k: config_to_dict(v) for k, v in cfg.items()}
    if isinstance(cfg, list | tuple):
        return [config_to_dict(v) for v in cfg]
    if isinstance(cfg, Path):
        return str(cfg)
    return cfg


def _decode_error_line(message: str) -> int | None:
    m = re.search(r"at line (\d+)", message)
    return int(m.group(1)) if m else None


class _KeyLocator:
    """Finds the line of a dotted key in TOML text (best effort, for error messages)."""

    _table = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _key = re.compile(r"""^\s*(["']?)([A-Za-z0-9_\-./*]+)\1\s*=""")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def find(self, dotted: str) -> int | None:
        parts = [p for p in re.split(r"\.(?![^\[]*\])", dotted) if p]
        parts = [re.sub(r"\[\d+\]$", "", p) for p in parts]
        if not parts:
            return None
        current_table: list[str] = []
        best: int | None = None
        for number, line in enumerate(self.lines, start=1):
            m = self._table.match(line)
            if m:
                current_table = [s.strip().strip("\"'") for s in m.group(1).split(".")]
                if current_table == parts:
                    return number
                continue
            k = self._key.match(line)
            if not k:
                continue
            full = current_table + [s.strip().strip("\"'") for s in k.group(2).split(".")]
            if full == parts:
                return number
            if best is None and full[: len(parts) - 1] == parts[:-1] and full[-1] == parts[-1]:
                best = number
        # fall back to the enclosing table
        if best is None and len(parts) > 1:
            return self.find(".".join(parts[:-1]))
        return best


def _describe(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in get_args(tp) if a is not type(None))
    if origin is list:
        return f"a list of {_describe(get_args(tp)[0])}"
    if origin is dict:
        return f"a table of {_describe(get_args(tp)[1])}"
    if dataclasses.is_dataclass(tp):
        return "a table"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false",
            Path: "a path string"}.get(tp, str(tp))


def _build(tp: Any, value: Any, key: str, source: str, loc: _KeyLocator) -> Any:
    def fail(problem: str) -> ConfigError:
        return ConfigError(source, loc.find(key) if key else None, key or "(top)", problem)

    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        errors: list[ConfigError] = []
        for option in options:
            try:
                return _build(option, value, key, source, loc)
            except ConfigError as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        raise fail(f"expected {_describe(tp)}, got {value!r}")
    if origin is Literal:
        if value not in get_args(tp) or isinstance(value, bool) != any(
            isinstance(a, bool) for a in get_args(tp) if a == value
        ):
            raise fail(f"expected {_describe(tp)}, got {value!r}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise fail(f"expected {_describe(tp)}, got {type(value).__name__}")
        (item,) = get_args(tp)
        return [_build(item, v, f"{key}[{i}]", source, loc) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise fail(f"expected {_describe(tp)}, got {type(value).__name__}")
        _, item = get_args(tp)
        return {str(k): _build(item, v, f"{key}.{k}", source, loc) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise fail(f"expected a table, got {type(value).__name__}")
        hints = typing.get_type_hints(tp)
        fields = {f.name: f for f in dataclasses.fields(tp)}
        for name in value:
            if name not in fields:
                known = ", ".join(sorted(fields))
                raise ConfigError(
                    source, loc.find(f"{key}.{name}" if key else name),
                    f"{key}.{name}" if key else name, f"unknown key (known: {known})",
                )
        kwargs: dict[str, Any] = {}
        for name, f in fields.items():
            sub = f"{key}.{name}" if key else name
            if name in value:
                kwargs[name] = _build(hints[name], value[name], sub, source, loc)
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise fail(f"missing required key {name!r}")
        obj = typing.cast(Any, tp)(**kwargs)
        _check_values(obj, key, source, loc)
        return obj
    if tp is bool:
        if not isinstance(value, bool):
            raise fail(f"expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(f"expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail(f"expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise fail(f"expected a string, got {value!r}")
        return value
    if tp is Path:
        if not isinstance(value, str) or not value:
            raise fail(f"expected a path string, got {value!r}")
        return Path(value)
    raise fail(f"unsupported type {tp!r}")  # pragma: no cover - schema bug


def _check_values(obj: Any, key: str, source: str, loc: _KeyLocator) -> None:
    """Range checks that types alone cannot express: durations, sizes and counts >= 0."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        counted = f.name.endswith(_NON_NEGATIVE_SUFFIXES) or f.name in _NON_NEGATIVE_NAMES
        if counted and value < 0:
            sub = f"{key}.{f.name}" if key else f.name
            raise ConfigError(source, loc.find(sub), sub, "must not be negative")


_NON_NEGATIVE_SUFFIXES = ("_s", "_ms", "_mb", "_seconds", "_records", "_size", "_samples")
_NON_NEGATIVE_NAMES = frozenset(
    {"threads", "queue_size", "fps", "baudrate", "max_frames_per_second", "deadband"}
)
