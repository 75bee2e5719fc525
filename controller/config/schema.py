"""The TOML configuration: a typed schema with every default in this one file.

Loading validates the whole file against the dataclasses below. A mistake becomes a
:class:`ConfigError` whose message names the file, the line and the dotted key, so the
CLI can print one line and exit with status 2. Each subsystem owns one section
(dataclass) here; code elsewhere receives the typed objects, never raw dicts.

Every constraint is declared on its field: the type (and ``Literal`` for allowed sets),
and for numbers a :class:`Bound` (``bounded(...)``) that every section checks when it is
constructed, so a section built in code obeys the same ranges as one loaded from a file.
A rule across a table's entries is declared on the table (``"table"`` metadata, e.g.
``retention_days``) and names the entry it refuses.
No other module re-checks a config value.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

from controller.config.labels import load_labels
from controller.config.plate_patterns import (
    BUILTIN_PLATE_FORMATS,
    DEFAULT_PLATE_FORMATS,
    camera_formats_problem,
    site_formats_problem,
)
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


class FieldProblem(UsageError):
    """A section field out of its declared range; the loader adds file, line and section."""

    def __init__(self, field_name: str, problem: str) -> None:
        self.field = field_name  # relative to the section, e.g. "label_thresholds.sedan"
        self.problem = problem
        super().__init__(f"{field_name}: {problem}")


@dataclass(frozen=True)
class Bound:
    """The allowed range of a number (or of each value of a table of numbers).

    `ge`/`gt`/`le` are the limits; `not_below` names another field of the same section
    that this one must not be below (a critical level beyond its warning level).
    """

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    not_below: str | None = None

    def problem(self, value: float) -> str | None:
        """Why `value` is out of range, or None when it is in range."""
        low_ok = (self.ge is None or value >= self.ge) and (self.gt is None or value > self.gt)
        if low_ok and (self.le is None or value <= self.le):
            return None
        return f"must {self.describe()}, got {_number(value)}"

    def describe(self) -> str:
        if self.le is not None and self.ge is not None:
            return f"be in {_number(self.ge)}..{_number(self.le)}"
        if self.le is not None and self.gt is not None:
            return f"be in ({_number(self.gt)}, {_number(self.le)}]"
        if self.ge == 0:
            return "not be negative"
        if self.ge is not None:
            return f"be at least {_number(self.ge)}"
        if self.gt is not None:
            return f"be greater than {_number(self.gt)}"
        if self.le is not None:
            return f"be at most {_number(self.le)}"
        return "be a number"


_T = TypeVar("_T")
NON_NEGATIVE = Bound(ge=0)
POSITIVE = Bound(gt=0)
AT_LEAST_ONE = Bound(ge=1)
FRACTION = Bound(ge=0, le=1)  # 0..1: scores, ratios, IoUs
RATE = Bound(gt=0, le=1)  # (0, 1]: smoothing factors


def bounded(default: _T, bound: Bound) -> _T:
    """A field with a default and a declared range."""
    return field(default=default, metadata={"bound": bound})


def each_value(bound: Bound) -> dict[str, Bound]:
    """Field metadata: every value of the table field has the declared range."""
    return {"bound": bound}


def polygon_problem(points: typing.Sequence[typing.Sequence[float]]) -> str | None:
    """Why `points` is not a polygon in normalised frame coordinates, or None.

    At least 3 [x, y] points, each within 0..1. Declared on camera zones and privacy
    masks (``POLYGONS``); the camera's mask code uses it for polygons built in code.
    """
    if len(points) < 3:
        return f"a polygon needs at least 3 points, got {len(points)}"
    for i, p in enumerate(points):
        if len(p) != 2:
            return f"point {i} must be [x, y], got {list(p)!r}"
        x, y = float(p[0]), float(p[1])
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            return f"point {i} {[x, y]} is outside 0..1 (normalised)"
    return None


# field metadata: each value (or item) of the field is a polygon
POLYGONS = {"shape": polygon_problem}


def bound_of(f: dataclasses.Field[Any]) -> Bound | None:
    """The range declared on a field, if any."""
    bound = f.metadata.get("bound")
    return bound if isinstance(bound, Bound) else None


class _Checked:
    """Sections check their declared ranges on construction (from a file or from code)."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(typing.cast(Any, self)):
            bound = bound_of(f)
            value = getattr(self, f.name)
            shape = f.metadata.get("shape")
            if shape is not None:
                entries = value.items() if isinstance(value, dict) else enumerate(value)
                for name, item in entries:
                    problem = shape(item)
                    if problem is not None:
                        where = f"{f.name}[{name}]" if isinstance(name, int) else \
                            f"{f.name}.{name}"
                        raise FieldProblem(where, problem)
            if bound is None or value is None:
                self._check_table(f, value)
                continue
            items = value.items() if isinstance(value, dict) else [("", value)]
            for name, item in items:
                problem = bound.problem(item)
                where = f"{f.name}.{name}" if name else f.name
                if problem is not None:
                    raise FieldProblem(where, problem)
            if bound.not_below is not None:
                floor = getattr(self, bound.not_below)
                if floor is not None and value < floor:
                    raise FieldProblem(f.name, f"must not be below {bound.not_below} "
                                               f"({_number(floor)}), got {_number(value)}")
            self._check_table(f, value)

    @staticmethod
    def _check_table(f: dataclasses.Field[Any], value: Any) -> None:
        """A rule across a table's entries (`"table"` metadata), once each value is in range."""
        table = f.metadata.get("table")
        if table is not None and value is not None and (found := table(value)) is not None:
            key = found[0]  # an entry's name, a list item's index, or "" (the whole value)
            where = f.name if key == "" else f"{f.name}[{key}]" if isinstance(key, int) \
                else f"{f.name}.{key}"
            raise FieldProblem(where, found[1])


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# --------------------------------------------------------------------------- device
@dataclass(frozen=True)
class DeviceConfig(_Checked):
    """Where the service keeps its state and serves its control socket."""

    name: str = "edgewarden"
    data_dir: Path = Path("/var/lib/edgewarden")
    runtime_dir: Path = Path("/run/edgewarden")


# --------------------------------------------------------------------------- serial
@dataclass(frozen=True)
class NodeConfig(_Checked):
    """One serial-attached sensor node."""

    name: str
    port: str  # stable udev name, e.g. /dev/edgewarden/node-E661...
    baudrate: int = bounded(921_600, POSITIVE)
    max_frames_per_second: float = bounded(200.0, POSITIVE)


@dataclass(frozen=True)
class SerialConfig(_Checked):
    """The serial link: node keys live in `keys_dir` (0700, one 0600 file per node)."""

    keys_dir: Path = Path("/var/lib/edgewarden/node-keys")
    queue_size: int = bounded(4096, AT_LEAST_ONE)
    reopen_backoff_max_s: float = bounded(10.0, POSITIVE)
    heartbeat_timeout_s: float = bounded(10.0, POSITIVE)
    # a configured node that sends nothing (no reading, no heartbeat) for this long raises
    # one node-level `missing` alarm (0 = never); `[anomaly.channels."<node>"]` overrides it
    missing_s: float = bounded(20.0, NON_NEGATIVE)
    # a `link` alarm when more frames than this go missing (counter gaps) in the window
    max_lost_frames: int = bounded(2, NON_NEGATIVE)
    lost_frames_window_s: float = bounded(60.0, POSITIVE)
    # ... or when every frame of the lag window arrives later than this after the node
    # stamped it (a relay holding frames back)
    max_lag_ms: float = bounded(2000.0, POSITIVE)
    lag_window_s: float = bounded(10.0, POSITIVE)
    # refused frames are summarised into one `link` record per port and interval
    reject_summary_s: float = bounded(60.0, POSITIVE)
    nodes: list[NodeConfig] = field(default_factory=list)


# --------------------------------------------------------------------------- store
#: what `store.retention_days` may name: the record kinds (controller/store/records.py)
#: and the split classes (controller/store/retention_class.py); a test keeps them equal
RETENTION_CLASSES = ("reading", "alarm", "event", "health", "audit", "link", "recording",
                     "plate", "plate_unlisted")


def retention_merged(defaults: dict[str, float], given: dict[str, float]
                     ) -> dict[str, float]:
    """A config file's retention table over the defaults: the kinds it names take its
    days, the others keep theirs (a site that sets `reading` alone must not keep plate
    reads forever). Reads of vehicles on no list it leaves out are kept no longer than
    its hits: the default `plate_unlisted`, or `plate` where that is shorter."""
    out = {**defaults, **given}
    if "plate" in given and "plate_unlisted" not in given:
        hits, unlisted = given["plate"], defaults.get("plate_unlisted", 0.0)
        out["plate_unlisted"] = unlisted if not hits or (unlisted and unlisted < hits) \
            else hits
    return out


def retention_problem(days: typing.Mapping[str, float]) -> tuple[str, str] | None:
    """(key, problem) of a retention table naming no record class, or keeping plate reads
    of vehicles on no list longer than hits (0 = forever is the longest); else None."""
    for key in days:
        if key not in RETENTION_CLASSES:
            return key, f"not a record kind (known: {', '.join(RETENTION_CLASSES)})"
    if "plate_unlisted" in days:
        unlisted = float(days["plate_unlisted"])
        hits = float(days.get("plate", 0.0))
        forever = float("inf")
        if (unlisted or forever) > (hits or forever):
            return "plate_unlisted", (f"must not be longer than retention_days.plate "
                                      f"({_number(hits)}), got {_number(unlisted)}"
                                      + (" (0 = forever)" if not unlisted else ""))
    return None


@dataclass(frozen=True)
class StoreConfig(_Checked):
    """The encrypted, sealed record store."""

    epoch_seconds: int = bounded(3600, AT_LEAST_ONE)
    seal_every_records: int = bounded(1000, AT_LEAST_ONE)
    commit_interval_ms: int = bounded(200, NON_NEGATIVE)
    batch_max_records: int = bounded(1000, AT_LEAST_ONE)
    # disk space kept for alarm and audit records when the disk is nearly full
    reserved_space_mb: int = bounded(64, NON_NEGATIVE)
    # below reserve + margin the store sheds media first, then the oldest readings
    shed_margin_mb: int = bounded(64, NON_NEGATIVE)
    # media (segments, snapshots) kept at most; the oldest are shed first; 0 = no budget
    # (the disk's reserve still applies)
    media_budget_mb: float = bounded(0.0, NON_NEGATIVE)
    # records queued for the writer; beyond it readings/health/events are dropped (counted)
    max_pending_records: int = bounded(100_000, AT_LEAST_ONE)
    # days to keep each record kind; 0 is forever. A config file's table sets the kinds it
    # names, the others keep these defaults (`retention_merged`). Plate reads (text, crop,
    # snapshot) are personal data: hits (`plate`) are kept 30 days, reads of vehicles on
    # no list (`plate_unlisted`) 7 and never longer than hits. (Built in code, the table
    # is taken as given, and a kind it leaves out is kept forever.)
    retention_days: dict[str, float] = field(
        default_factory=lambda: {
            "reading": 30.0,
            "health": 30.0,
            "event": 90.0,
            "recording": 90.0,
            "alarm": 365.0,
            "audit": 365.0,
            "link": 365.0,
            "plate": 30.0,
            "plate_unlisted": 7.0,
        },
        metadata={**each_value(NON_NEGATIVE), "table": retention_problem,
                  "merge": retention_merged},
    )
    # minimum seconds between stored readings per channel ("node/channel" or "*"); 0 = all
    downsample_s: dict[str, float] = field(default_factory=dict,
                                           metadata=each_value(NON_NEGATIVE))


# --------------------------------------------------------------------------- anomaly
@dataclass(frozen=True)
class ChannelRulesConfig(_Checked):
    """Anomaly rules of one channel; a rule whose values are unset is off.

    Limits alarm at or beyond the level and clear `deadband` inside it. Every rule's
    alarm waits for `debounce_samples` consecutive samples and `debounce_s` seconds of
    its condition before it is raised, and for `clear_delay_s` without it before clearing.
    """

    # static limits with hysteresis
    high_warning: float | None = None
    high_critical: float | None = bounded(None, Bound(not_below="high_warning"))
    low_warning: float | None = bounded(None, Bound(not_below="low_critical"))
    low_critical: float | None = None
    deadband: float = bounded(0.0, NON_NEGATIVE)
    # debounce of every rule's alarm (on-delay by count and time, off-delay by time)
    debounce_samples: int = bounded(1, NON_NEGATIVE)
    debounce_s: float = bounded(0.0, NON_NEGATIVE)
    clear_delay_s: float = bounded(0.0, NON_NEGATIVE)
    # rate of change: alarm above these
    max_rate_per_s: float | None = bounded(None, POSITIVE)
    max_step: float | None = bounded(None, POSITIVE)
    # flatline (stuck sensor): within tolerance of the run's first value for this long
    flatline_s: float | None = bounded(None, POSITIVE)
    flatline_tolerance: float = bounded(0.0, NON_NEGATIVE)
    # missing data: no reading or heartbeat for this long
    missing_s: float | None = bounded(None, POSITIVE)
    # adaptive rule: "onset" (default) scores how unlikely the recent prediction errors
    # are (controller/anomaly/onset.py) and raises once per episode; "ewma"/"mad" are the
    # older baselines that score the short-term mean residual in spreads (adaptive_* keys)
    adaptive: Literal["off", "onset", "ewma", "mad"] = "onset"
    onset_threshold: float = bounded(0.5, RATE)  # score (0..1) that raises the alarm
    onset_level_s: float = bounded(21_600.0, POSITIVE)  # horizon of the level predictor
    # horizons of each predictor's usual error and of the recent-error distribution
    onset_spread_s: float = bounded(259_200.0, POSITIVE)
    onset_history_s: float = bounded(1_209_600.0, POSITIVE)
    onset_short_readings: int = bounded(10, AT_LEAST_ONE)  # recent errors in the judged mean
    onset_refractory_s: float = bounded(43_200.0, NON_NEGATIVE)  # no new raise this long
    # no score until this long or this many readings, whichever comes first
    onset_warmup_s: float = bounded(172_800.0, NON_NEGATIVE)
    onset_warmup_readings: int = bounded(300, NON_NEGATIVE)
    # a reading beyond the range ever seen by this share of it scores 1
    onset_range_margin: float = bounded(0.01, NON_NEGATIVE)
    # a time-of-day profile in this many bins of this period (0 = none) is a third
    # predictor, with its own likelihood, judged only on streams it predicts well
    onset_season_s: float = bounded(604_800.0, NON_NEGATIVE)
    onset_season_bins: int = bounded(672, AT_LEAST_ONE)
    # "ewma"/"mad": robust EWMA level and spreads with a learned daily profile, or a
    # rolling median/MAD over adaptive_window samples; they score the short-term mean
    # residual (fast_alpha) in spreads
    adaptive_threshold: float = bounded(2.5, POSITIVE)
    adaptive_warmup_samples: int = bounded(1440, NON_NEGATIVE)  # keep it >= 1/adaptive_spread_alpha
    adaptive_alpha: float = bounded(0.003, RATE)
    # "ewma" only; slower than the level on purpose
    adaptive_spread_alpha: float = bounded(0.00075, RATE)
    adaptive_fast_alpha: float = bounded(0.015, RATE)
    # "mad" only; keep it well above 3 / adaptive_fast_alpha
    adaptive_window: int = bounded(2016, AT_LEAST_ONE)
    adaptive_clear_ratio: float = bounded(0.5, FRACTION)
    adaptive_critical_factor: float = bounded(2.0, AT_LEAST_ONE)
    # period of the learned profile; 0 = none
    adaptive_season_s: float = bounded(86_400.0, NON_NEGATIVE)
    adaptive_season_bins: int = bounded(24, AT_LEAST_ONE)
    adaptive_season_alpha: float = bounded(0.1, RATE)
    priority: Literal["low", "medium", "high", "urgent"] = "medium"


@dataclass(frozen=True)
class AnomalyConfig(_Checked):
    """Rules per channel, keyed "node/channel" (or "*" as the default for all).

    An alarm raised `chatter_per_hour` times or more within an hour is shown as chattering.
    """

    channels: dict[str, ChannelRulesConfig] = field(default_factory=dict)
    chatter_per_hour: int = bounded(6, AT_LEAST_ONE)


# --------------------------------------------------------------------------- cameras
Priority = Literal["low", "medium", "high", "urgent"]


@dataclass(frozen=True)
class TamperConfig(_Checked):
    """Camera tamper and health checks against a learned reference of the scene."""

    enabled: bool = True
    learn_s: float = bounded(5.0, POSITIVE)  # the first reference is learned over this long
    # then it follows slow changes (dusk) with this time constant
    adapt_s: float = bounded(600.0, POSITIVE)
    delay_s: float = bounded(3.0, NON_NEGATIVE)  # a fault must hold this long to raise its alarm
    clear_s: float = bounded(5.0, NON_NEGATIVE)  # and be gone this long to clear it
    # grey-level spread below which the lens is covered
    covered_contrast: float = bounded(6.0, NON_NEGATIVE)
    # or this much darker with the detail gone
    covered_brightness_ratio: float = bounded(0.35, FRACTION)
    # detail left (vs reference) below which: blurred
    blurred_detail_ratio: float = bounded(0.35, FRACTION)
    # the median tile's edges correlate less than this with the reference: moved
    moved_similarity: float = bounded(0.5, FRACTION)
    # mean grey-level change between frames below which ... for frozen_s: frozen
    frozen_change: float = bounded(0.3, NON_NEGATIVE)
    frozen_s: float = bounded(10.0, POSITIVE)
    priority_covered: Priority = "high"
    priority_blurred: Priority = "medium"
    priority_moved: Priority = "high"
    priority_frozen: Priority = "medium"


#: vehicle labels of the traffic model and of COCO models whose tracks get a plate read
PLATE_LABELS = ("sedan", "pickup_suv_van", "large_veh_bus", "car", "truck", "bus",
                "motorcycle")


@dataclass(frozen=True)
class CameraConfig(_Checked):
    """One camera: `source` is "picamera2:N", a V4L2 device, an RTSP URL or a file."""

    name: str
    source: str
    width: int = bounded(1280, AT_LEAST_ONE)
    height: int = bounded(720, AT_LEAST_ONE)
    lores_width: int = bounded(320, AT_LEAST_ONE)
    lores_height: int = bounded(240, AT_LEAST_ONE)
    fps: float = bounded(15.0, POSITIVE)
    rotation: Literal[0, 90, 180, 270] = 0
    exposure_mode: Literal["normal", "short", "long"] = "normal"
    loop: bool = False
    motion_sensitivity: float = bounded(0.5, FRACTION)
    pre_roll_s: float = bounded(3.0, NON_NEGATIVE)
    post_roll_s: float = bounded(3.0, NON_NEGATIVE)
    # an object still in view after this long is recorded and goes on in a new event with
    # a new clip (0 = never: a busy scene would keep its events and clip open forever)
    max_event_s: float = bounded(60.0, NON_NEGATIVE)
    # H.264 rate: picamera2's hardware encoder runs at it; the software encoder (libx264)
    # keeps constant quality h264_crf (lower = better, bigger) and stays below it
    h264_bitrate: int = bounded(4_000_000, AT_LEAST_ONE)
    h264_crf: int = bounded(28, Bound(ge=0, le=51))
    # what is recorded: "events" keeps segments around events (pre/post-roll), "continuous"
    # keeps every segment, "off" records nothing (detection still runs)
    recording: Literal["events", "continuous", "off"] = "events"
    segment_s: float = bounded(4.0, Bound(ge=1))  # length of one encoded segment
    # this camera's share of the media on the card; 0 = only store.media_budget_mb applies
    media_budget_mb: float = bounded(0.0, NON_NEGATIVE)
    tamper: TamperConfig = field(default_factory=TamperConfig)
    reopen_backoff_initial_s: float = bounded(0.5, POSITIVE)
    reopen_backoff_max_s: float = bounded(30.0, Bound(gt=0, not_below="reopen_backoff_initial_s"))
    # a stream (rtsp://, http://) that gives no frame for this long is down (a hung server)
    read_timeout_s: float = bounded(5.0, POSITIVE)
    # zone name -> polygon of [x, y] points normalised 0..1; none = the whole frame
    zones: dict[str, list[list[float]]] = field(default_factory=dict, metadata=POLYGONS)
    # polygons blacked out before analysis and storage
    privacy_masks: list[list[list[float]]] = field(default_factory=list, metadata=POLYGONS)
    # number plates: read one plate per vehicle track ("tracks"), or treat the whole frame
    # as the vehicle and load no object detector ("gate": a camera the vehicle fills)
    plates: bool = False
    plates_mode: Literal["tracks", "gate"] = "tracks"
    plate_labels: list[str] = field(default_factory=lambda: list(PLATE_LABELS))
    # the plate formats a read is fitted to, in order: built-in (ng, br, us, generic) or
    # the site's own from the top-level [plate_formats] table
    plate_formats: list[str] = field(default_factory=lambda: list(DEFAULT_PLATE_FORMATS),
                                     metadata={"table": camera_formats_problem})
    # reads of a track's best frames at most, and how many must agree to settle it early
    plate_agree: int = bounded(2, AT_LEAST_ONE)
    plate_attempts: int = bounded(4, Bound(ge=1, le=16, not_below="plate_agree"))
    plate_queue: int = bounded(8, Bound(ge=1, le=256))  # crops waiting for OCR; full = dropped
    # a vehicle box smaller than this (pixels, either side) is too far away to read
    plate_min_box_px: int = bounded(48, AT_LEAST_ONE)
    # an optional plate-detector model (YOLO-style .tflite or .onnx, one class: plate)
    # that finds plates in each crop; unset = the text detector finds them
    plate_model: Path | None = None
    plate_model_threshold: float = bounded(0.4, FRACTION)
    # register matching: look-alike-weighted edit distance of a fuzzy hit
    plate_match_distance: float = bounded(1.0, Bound(ge=0, le=3))
    # an alarm for a vehicle on no list (gates that admit only the allow list)
    plate_unknown_alarm: bool = False
    plate_unknown_priority: Literal["low", "medium", "high", "urgent"] = "low"


@dataclass(frozen=True)
class DetectConfig(_Checked):
    """The on-device detector; thresholds per model default and per label."""

    model: Path | None = None
    labels: Path | None = None
    threads: int = bounded(2, AT_LEAST_ONE)
    threshold: float = bounded(0.5, FRACTION)
    # label -> threshold; each label must be one of the `labels` file (or "class N")
    label_thresholds: dict[str, float] = field(default_factory=dict,
                                               metadata=each_value(FRACTION))
    iou_match: float = bounded(0.3, FRACTION)
    max_missed_frames: int = bounded(10, NON_NEGATIVE)
    # detections before a track counts (and can make an event)
    min_hits: int = bounded(3, AT_LEAST_ONE)
    nms_iou: float = bounded(0.45, FRACTION)  # YOLO-style outputs
    float_input_range: Literal["0..1", "-1..1"] = "0..1"  # float (unquantised) models only
    motion_gate: bool = True
    # keep detecting this long after the last motion
    motion_hold_s: float = bounded(1.0, NON_NEGATIVE)


# --------------------------------------------------------------------------- health
@dataclass(frozen=True)
class HealthConfig(_Checked):
    """Device health sampling; the limits become the default rules of the health/* channels."""

    interval_s: float = bounded(10.0, POSITIVE)
    # node_exporter textfile collector output (*.prom); unset = not written. The unit's
    # ProtectSystem=strict needs a ReadWritePaths= entry for a path outside /var/lib/edgewarden.
    textfile_path: Path | None = None
    cpu_temp_warning_c: float = 75.0
    cpu_temp_critical_c: float = bounded(82.0, Bound(not_below="cpu_temp_warning_c"))
    disk_free_warning_mb: float = bounded(512.0, Bound(ge=0, not_below="disk_free_critical_mb"))
    disk_free_critical_mb: float = bounded(128.0, NON_NEGATIVE)
    memory_available_warning_mb: float = bounded(64.0, NON_NEGATIVE)


# --------------------------------------------------------------------------- control
@dataclass(frozen=True)
class ControlConfig(_Checked):
    """The local control socket (`device.runtime_dir`/`socket_name`) and who may use it.

    The socket is 0660 and owned by `socket_group`, so only its members can connect at
    all; the caller's role then comes from the three role groups (root is admin).
    """

    socket_name: str = "control.sock"
    socket_group: str = "edgewarden"
    view_group: str = "edgewarden-view"
    ops_group: str = "edgewarden-ops"
    admin_group: str = "edgewarden-admin"
    max_clients: int = bounded(16, AT_LEAST_ONE)
    # of max_clients, slots only ops and admin callers may take (view and no-role get fewer)
    reserved_clients: int = bounded(4, NON_NEGATIVE)
    # a connection whose caller has no role is closed after this long without a request
    no_role_idle_s: float = bounded(1.0, POSITIVE)
    subscriber_queue_size: int = bounded(256, AT_LEAST_ONE)
    # recent events kept so a subscriber (the forwarder) can resume after a reconnect
    backlog_size: int = bounded(4096, NON_NEGATIVE)
    max_request_bytes: int = bounded(1_048_576, Bound(ge=1024))  # a request line fits
    # refusals audited one by one per caller and interval; the rest go into one summary
    refusals_audited_per_interval: int = bounded(10, NON_NEGATIVE)
    refusal_audit_interval_s: float = bounded(10.0, POSITIVE)


# --------------------------------------------------------------------------- export
@dataclass(frozen=True)
class ExportConfig(_Checked):
    """Evidence export; a USB stick whose filesystem label is `stick_label` starts one."""

    stick_label: str = "EDGEWARDEN"
    default_days: float = bounded(7.0, POSITIVE)
    redact: bool = False


# --------------------------------------------------------------------------- forward
FORWARD_URL = re.compile(r"^(mqtts?)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::(\d{1,5}))?$")


@dataclass(frozen=True)
class ForwardConfig(_Checked):
    """`edgewarden forward`: the MQTT forwarder, a separate process (issue 18).

    Empty `url` means no forwarder is configured. Secrets never sit in this file: the
    password is read from `password_file` (mode 0600), the client key from `client_key`.
    """

    url: str = ""  # mqtt://host[:1883] or mqtts://host[:8883]
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    username: str = ""
    password_file: Path | None = None
    client_id: str = ""  # empty: edgewarden-forward-<device>
    topic_prefix: str = "edgewarden"
    discovery_prefix: str = "homeassistant"
    discovery: bool = True
    publish_snapshots: bool = False
    inbound_commands: bool = False
    state_dir: Path = Path("/var/lib/edgewarden-forward")
    outbox_max_messages: int = bounded(100_000, AT_LEAST_ONE)
    reading_min_interval_s: float = bounded(5.0, NON_NEGATIVE)
    keepalive_s: int = bounded(30, Bound(ge=5, le=3600))
    reconnect_min_s: float = bounded(0.5, POSITIVE)
    reconnect_max_s: float = bounded(30.0, Bound(not_below="reconnect_min_s"))

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.url:
            m = FORWARD_URL.match(self.url)
            if m is None:
                raise FieldProblem("url", f"must be mqtt://host:port or mqtts://host:port, "
                                          f"got {self.url!r}")
            if m.group(3) is not None and not 1 <= int(m.group(3)) <= 65535:
                raise FieldProblem("url", f"port must be in 1..65535, got {m.group(3)}")
        if (self.client_cert is None) != (self.client_key is None):
            raise FieldProblem("client_cert", "client_cert and client_key go together")
        for name in ("topic_prefix", "discovery_prefix"):
            value = getattr(self, name)
            if not value or any(c in value for c in "+#") or value.startswith("/") \
                    or value.endswith("/"):
                raise FieldProblem(name, f"must be a topic level without + # or a leading "
                                         f"or trailing /, got {value!r}")


# --------------------------------------------------------------------------- top
@dataclass(frozen=True)
class Config(_Checked):
    """The whole file; `plate_formats` is the site's own plate formats, name -> pattern(s)
    (`controller/config/plate_patterns.py`), which cameras name beside the built-in ones."""

    device: DeviceConfig = field(default_factory=DeviceConfig)
    serial: SerialConfig = field(default_factory=SerialConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    anomaly: AnomalyConfig = field(default_factory=AnomalyConfig)
    cameras: list[CameraConfig] = field(default_factory=list)
    detect: DetectConfig = field(default_factory=DetectConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    control: ControlConfig = field(default_factory=ControlConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    forward: ForwardConfig = field(default_factory=ForwardConfig)
    plate_formats: dict[str, str | list[str]] = field(
        default_factory=dict, metadata={
            "table": site_formats_problem,
            # for the config skeleton `install` writes
            "doc": "the site's own plate formats: L letter, D digit, A either, - . space, "
                   "/ two lines",
            "example": 'gh = "LL-DDDD-DD"'})

    def __post_init__(self) -> None:
        super().__post_init__()
        for i, cam in enumerate(self.cameras):
            for j, name in enumerate(cam.plate_formats):
                if name not in BUILTIN_PLATE_FORMATS and name not in self.plate_formats:
                    known = [*BUILTIN_PLATE_FORMATS, *self.plate_formats]
                    raise FieldProblem(f"cameras[{i}].plate_formats[{j}]",
                                       f"unknown plate format {name!r} (known: "
                                       f"{', '.join(known)}; a site's own go in "
                                       "[plate_formats])")


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
    """Validate TOML text against the schema; errors name `source`, line and key.

    An empty file is refused: it is almost always a truncated or half-written one, and
    taken as all defaults it would drop every node and camera (a file of only comments,
    like the skeleton `install` writes, is a deliberate choice of the defaults).
    """
    if not text.strip():
        raise ConfigError(source, None, "", "the file is empty: a config with no settings "
                          "would drop every node and camera (for the defaults, give no "
                          "config file, or one of comments only)")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _decode_error_line(str(exc))
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError(source, line, "", f"invalid TOML: {msg}") from None
    locator = _KeyLocator(text)
    cfg = typing.cast(Config, _build(Config, raw, "", source, locator))
    _check_labels(cfg.detect, source, locator)
    return cfg


def _check_labels(detect: DetectConfig, source: str, loc: _KeyLocator) -> None:
    """Each `label_thresholds` key must be a label the detector can report.

    The labels come from the `labels` file (``labels.py`` reads it, for the detector too);
    without one, classes are named "class N". A label file that cannot be read here is left to the
    detector, which reports it when it opens (the TUI checks drafts without access to it).
    """
    if not detect.label_thresholds:
        return
    if detect.labels is None:
        known = None
    else:
        try:
            known = set(load_labels(detect.labels).names.values())
        except UsageError:
            return
    for label in detect.label_thresholds:
        if known is None and re.fullmatch(r"class \d+", label):
            continue
        if known is not None and label in known:
            continue
        key = f"detect.label_thresholds.{label}"
        where = (f"not a label of {detect.labels} (known: {', '.join(sorted(known))})"
                 if known is not None else
                 'unknown label: without detect.labels, classes are named "class N"')
        raise ConfigError(source, loc.find(key), key, where)


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
        entry = re.match(r"^([A-Za-z0-9_.\-]+)\[(\d+)\]\.", dotted)
        if entry is not None:  # `cameras[1].x`: look in the second [[cameras]] only
            found = self._in_entry(entry.group(1), int(entry.group(2)),
                                   entry.group(1) + dotted[entry.end() - 1:])
            if found is not None:
                return found
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

    def _in_entry(self, table: str, index: int, dotted: str) -> int | None:
        """The line of `dotted` within the `index`th `[[table]]` entry, if it has one."""
        starts = [n for n, line in enumerate(self.lines)
                  if line.lstrip().startswith("[[") and (m := self._table.match(line))
                  and m.group(1).replace(" ", "") == table]
        if index >= len(starts):
            return None
        end = starts[index + 1] if index + 1 < len(starts) else len(self.lines)
        window = _KeyLocator("\n".join(self.lines[starts[index]:end]))
        line = window.find(dotted)
        return None if line is None else line + starts[index]


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
                merge = f.metadata.get("merge")
                if merge is not None and f.default_factory is not dataclasses.MISSING:
                    # a table over a default table: what it names, on top of the defaults
                    kwargs[name] = merge(f.default_factory(), kwargs[name])
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise fail(f"missing required key {name!r}")
        try:
            return typing.cast(Any, tp)(**kwargs)
        except FieldProblem as exc:
            sub = f"{key}.{exc.field}" if key else exc.field
            raise ConfigError(source, loc.find(sub), sub, exc.problem) from None
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
