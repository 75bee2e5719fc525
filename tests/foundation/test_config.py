"""The config loader: defaults, types, and errors that name file, line and key."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from controller.config import (
    Config,
    ConfigError,
    DetectConfig,
    StoreConfig,
    config_to_dict,
    load_config,
    parse_config,
)
from controller.config.schema import Bound, FieldProblem, bound_of


def test_no_file_gives_the_defaults() -> None:
    cfg = load_config(None)
    assert cfg == Config()
    assert cfg.store.epoch_seconds == 3600


def test_a_full_file_is_typed(tmp_path: Path) -> None:
    (tmp_path / "labels.txt").write_text("sedan\ntruck\n")
    f = tmp_path / "c.toml"
    f.write_text(
        f"""
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
labels = "{tmp_path / 'labels.txt'}"
threshold = 0.3
label_thresholds = {{ sedan = 0.25 }}
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
        ("[store]\nepoch_seconds = -5\n", 2, "store.epoch_seconds", "must be at least 1"),
        ("[store]\nepoch_seconds = 0\n", 2, "store.epoch_seconds", "must be at least 1"),
        ("[detect]\nthreshold = 1.5\n", 2, "detect.threshold", "must be in 0..1, got 1.5"),
        ("[health]\n\ninterval_s = -1\n", 3, "health.interval_s", "must be greater than 0"),
        (
            "[detect]\nlabel_thresholds = { person = 0.4 }\n",
            2,
            "detect.label_thresholds.person",
            "unknown label",
        ),
        (
            "[[cameras]]\nname = 'c'\nsource = 'c.mp4'\nzones = { gate = [[0, 0], [1, 1]] }\n",
            4,
            "cameras[0].zones.gate",
            "a polygon needs at least 3 points, got 2",
        ),
        (
            "[[cameras]]\nname = 'c'\nsource = 'c.mp4'\n"
            "privacy_masks = [[[0, 0], [1, 0], [0, 1]], [[0, 0], [1.5, 0], [0, 1]]]\n",
            4,
            "cameras[0].privacy_masks[1]",
            "point 1 [1.5, 0.0] is outside 0..1",
        ),
        (
            "[anomaly.channels.'n/t']\nhigh_warning = 50\nhigh_critical = 40\n",
            3,
            "anomaly.channels.n/t.high_critical",
            "must not be below high_warning",
        ),
        ("[[serial.nodes]]\nname = 'a'\n", 1, "serial.nodes[0]", "missing required key 'port'"),
        (
            "[anomaly.channels.'n/t']\nadaptive = 'lstm'\n",
            2,
            "anomaly.channels.n/t.adaptive",
            "expected one of",
        ),
        (
            "[store.retention_days]\nplate = 30\nplate_unlisted = 60\n",
            3,
            "store.retention_days.plate_unlisted",
            "must not be longer than retention_days.plate (30), got 60",
        ),
        (
            "[store.retention_days]\nplate = 30\nplate_unlisted = 0\n",
            3,
            "store.retention_days.plate_unlisted",
            "got 0 (0 = forever)",
        ),
        ("[store]\nretention_days = { plates = 7 }\n", 2, "store.retention_days.plates",
         "not a record kind (known: reading"),
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


@pytest.mark.parametrize("table,changed", [
    # a site that keeps its readings longer keeps every other default, plate reads too
    ("reading = 60", {"reading": 60.0}),
    # hits kept 3 days: reads of vehicles on no list no longer than that
    ("plate = 3", {"plate": 3.0, "plate_unlisted": 3.0}),
    # hits kept 14 days: the others keep their shorter default
    ("plate = 14", {"plate": 14.0}),
    ("plate = 0", {"plate": 0.0}),  # hits forever: the others still 7 days
    ("audit = 0\nplate_unlisted = 2", {"audit": 0.0, "plate_unlisted": 2.0}),
])
def test_a_retention_table_sets_what_it_names_over_the_defaults(
        table: str, changed: dict[str, float]) -> None:
    days = parse_config(f"[store.retention_days]\n{table}\n").store.retention_days
    assert days == {**StoreConfig().retention_days, **changed}


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


def test_label_thresholds_name_labels_of_the_label_file(tmp_path: Path) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text("sedan\ntruck\n")
    base = f'[detect]\nlabels = "{labels}"\n'
    assert parse_config(base + "label_thresholds = { truck = 0.7 }\n").detect.label_thresholds
    with pytest.raises(ConfigError) as info:
        parse_config(base + "label_thresholds = { truck = 0.7, bus = 0.2 }\n", "site.toml")
    assert str(info.value).startswith("site.toml:3: detect.label_thresholds.bus: not a label")
    assert "sedan, truck" in str(info.value)
    # without a label file, classes are "class N"
    assert parse_config("[detect]\nlabel_thresholds = { 'class 2' = 0.7 }\n")


# ------------------------------------------------------------------ every declared range
def _sections(tp: type, path: str) -> list[tuple[type, str]]:
    """Every section of the schema with the TOML path that reaches one instance of it."""
    out = [(tp, path)]
    hints = typing.get_type_hints(tp)
    for f in dataclasses.fields(tp):
        hint, sub = hints[f.name], f"{path}.{f.name}" if path else f.name
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if dataclasses.is_dataclass(hint):
            out += _sections(typing.cast(type, hint), sub)
        elif origin is list and dataclasses.is_dataclass(args[0]):
            out += _sections(args[0], f"{sub}[0]")
        elif origin is dict and dataclasses.is_dataclass(args[1]):
            out += _sections(args[1], f"{sub}.'x/y'")
    return out


def _numeric(hint: object) -> bool:
    args = typing.get_args(hint)
    if typing.get_origin(hint) is dict:
        return args[1] in (int, float)
    return hint in (int, float) or (bool(args) and set(args) - {type(None)} <= {int, float})


# levels that may be any number; their order is declared (not_below) on the other level
ANY_NUMBER = {"ChannelRulesConfig.high_warning", "ChannelRulesConfig.low_critical",
              "HealthConfig.cpu_temp_warning_c"}


def _out_of_range(bound: Bound, is_int: bool) -> list[float]:
    step = 1 if is_int else 0.5
    values: list[float] = []
    if bound.ge is not None:
        values.append(bound.ge - step)
    if bound.gt is not None:
        values.append(bound.gt)
    if bound.le is not None:
        values.append(bound.le + step)
    return values


def _toml(path: str, name: str, value: str, extra: str = "") -> tuple[str, int]:
    """A file setting `name = value` in the table at `path` (line of the key returned)."""
    required = {"cameras": 'name = "c"\nsource = "c.mp4"\n',
                "serial.nodes": 'name = "n"\nport = "/dev/null"\n'}
    table = path.replace("[0]", "")
    if path.endswith("[0]"):
        header = f"[[{table}]]\n{required.get(table, '')}"
    elif "[0]." in path:  # a table inside an array entry: the entry comes first
        parent = path.split("[0].")[0]
        header = f"[[{parent}]]\n{required.get(parent, '')}[{table}]\n"
    else:
        header = f"[{table}]\n"
    text = f"# site\n{header}{extra}{name} = {value}\n"
    return text, text.count("\n")


def _cases() -> list[tuple[str, int, str, str]]:
    cases: list[tuple[str, int, str, str]] = []
    for tp, path in _sections(Config, ""):
        hints = typing.get_type_hints(tp)
        for f in dataclasses.fields(tp):
            hint = hints[f.name]
            if not _numeric(hint):
                continue
            bound = bound_of(f)
            if bound is None:
                assert f"{tp.__name__}.{f.name}" in ANY_NUMBER, f"{tp.__name__}.{f.name}: no range"
                continue
            key = f"{path}.{f.name}".replace("'", "")
            is_int = int in (typing.get_args(hint) or (hint,))
            for bad in _out_of_range(bound, is_int):
                literal = str(int(bad)) if is_int else repr(float(bad))
                if typing.get_origin(hint) is dict:
                    text, line = _toml(path, f.name, f"{{ k = {literal} }}")
                    cases.append((text, line, f"{key}.k", "must "))
                else:
                    text, line = _toml(path, f.name, literal)
                    cases.append((text, line, key, "must "))
            if bound.not_below is not None:
                floor = f"{bound.not_below} = 10\n"
                text, line = _toml(path, f.name, "5", extra=floor)
                cases.append((text, line, key, f"must not be below {bound.not_below}"))
    return cases


CASES = _cases()


def test_the_walk_covers_every_section_and_the_named_examples() -> None:
    keys = {key for _, _, key, _ in CASES}
    assert {"detect.threshold", "store.epoch_seconds", "health.interval_s",
            "detect.label_thresholds.k", "cameras[0].fps", "serial.nodes[0].baudrate",
            "anomaly.channels.x/y.adaptive_alpha", "control.max_clients"} <= keys
    assert len(CASES) > 60


@pytest.mark.parametrize(("text", "line", "key", "problem"), CASES,
                         ids=[f"{c[2]}:{c[0].splitlines()[-1]}" for c in CASES])
def test_every_declared_range_is_refused_with_file_line_and_key(
        text: str, line: int, key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "site.toml")
    assert str(info.value).startswith(f"site.toml:{line}: {key}: {problem}"), str(info.value)
    assert "\n" not in str(info.value)


def test_defaults_and_a_section_built_in_code_obey_the_same_ranges() -> None:
    assert parse_config("# defaults\n") == Config()
    with pytest.raises(FieldProblem, match=r"^threshold: must be in 0\.\.1, got 1\.5$"):
        DetectConfig(threshold=1.5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[detect]\nthreshold = 1.5\n", ":2: detect.threshold: must be in 0..1, got 1.5"),
        ("[store]\nepoch_seconds = 0\n", ":2: store.epoch_seconds: must be at least 1, got 0"),
    ],
)
def test_cli_refuses_an_out_of_range_value_with_exit_2(
        tmp_path: Path, text: str, expected: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "controller", "doctor", "--config", str(f)],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{f}{expected}" in lines[0]


# ------------------------------------------------------------------ plate formats
CAMERA = '[[cameras]]\nname = "gate"\nsource = "gate.mp4"\n'


def test_a_camera_reads_ng_then_generic_unless_it_names_its_formats() -> None:
    cfg = parse_config(CAMERA)
    assert cfg.cameras[0].plate_formats == ["ng", "generic"] and cfg.plate_formats == {}
    cfg = parse_config(CAMERA + 'plate_formats = ["gh", "us"]\n'
                       '[plate_formats]\ngh = "LL-DDDD/DD"\nke = ["LLL DDDL", "LLL.DDD"]\n')
    assert cfg.cameras[0].plate_formats == ["gh", "us"]
    assert cfg.plate_formats == {"gh": "LL-DDDD/DD", "ke": ["LLL DDDL", "LLL.DDD"]}
    assert parse_config(config_to_toml(cfg)) == cfg


def config_to_toml(cfg: Config) -> str:
    """The camera and the site's formats of `cfg` written back as TOML (a round trip)."""
    cam = cfg.cameras[0]
    names = ", ".join(f'"{n}"' for n in cam.plate_formats)
    lines = [f'[[cameras]]\nname = "{cam.name}"\nsource = "{cam.source}"',
             f"plate_formats = [{names}]", "[plate_formats]"]
    for name, value in cfg.plate_formats.items():
        shown = f'"{value}"' if isinstance(value, str) else \
            "[" + ", ".join(f'"{v}"' for v in value) + "]"
        lines.append(f"{name} = {shown}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "line", "key", "problem"),
    [
        (CAMERA + "plate_formats = []\n", 4, "cameras[0].plate_formats",
         "must name at least one format (default: ng, generic)"),
        (CAMERA + 'plate_formats = ["ng", "br", "ng"]\n', 4, "cameras[0].plate_formats[2]",
         "'ng' is listed twice"),
        (CAMERA + 'plate_formats = ["ng", "gh"]\n', 4, "cameras[0].plate_formats[1]",
         "unknown plate format 'gh' (known: ng, br, us, generic; a site's own go in "
         "[plate_formats])"),
        (CAMERA + 'plate_formats = "ng"\n', 4, "cameras[0].plate_formats",
         "expected a list of a string"),
        # the second camera's line, not the first's
        (CAMERA + 'plate_formats = ["ng"]\n' + CAMERA.replace("gate", "yard")
         + 'plate_formats = ["ke"]\n', 8, "cameras[1].plate_formats[0]",
         "unknown plate format 'ke'"),
        ('# site\n[plate_formats]\nng = "LLL-DDDLL"\n', 3, "plate_formats.ng",
         "'ng' is a built-in format (ng, br, us, generic); give the site's own another name"),
        ('[plate_formats]\ngh = "LL-0000-00"\n', 2, "plate_formats.gh",
         "pattern 'LL-0000-00': '0' is not L (letter), D (digit), A (either)"),
        ('[plate_formats]\ngh = "LL/DD/DD"\n', 2, "plate_formats.gh",
         "at most one / (a plate of two lines)"),
        ('[plate_formats]\ngh = "LL-DDDD/"\n', 2, "plate_formats.gh",
         "each line needs at least one L, D or A"),
        ('[plate_formats]\ngh = "L-D"\n', 2, "plate_formats.gh",
         "must hold 3..12 characters, got 2"),
        ('[plate_formats]\ngh = "AAAAAAADDDDDD"\n', 2, "plate_formats.gh",
         "must hold 3..12 characters, got 13"),
        ('[plate_formats]\ngh = []\n', 2, "plate_formats.gh", "needs at least one pattern"),
        ('[plate_formats]\ngh = ["LLDDDD", "LLX"]\n', 2, "plate_formats.gh", "pattern 'LLX'"),
        ('[plate_formats]\ngh = 7\n', 2, "plate_formats.gh", "expected a string or a list"),
        ('[plate_formats]\nGH = "LLDDDD"\n', 2, "plate_formats.GH",
         "a format name is a lower-case letter"),
        (CAMERA + '[plate_formats]\ngh = "LLDDDD"\n[[cameras]]\nname = "b"\nsource = "b"\n'
         'plate_formats = ["gh", "zz"]\n', 9, "cameras[1].plate_formats[1]",
         "(known: ng, br, us, generic, gh;"),
    ],
)
def test_bad_plate_formats_are_one_line_naming_file_line_and_key(
        tmp_path: Path, text: str, line: int, key: str, problem: str) -> None:
    path = tmp_path / "site.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}:{line}: {key}: "), str(info.value)
    assert problem in str(info.value) and "\n" not in str(info.value)


def test_a_config_built_in_code_obeys_the_same_plate_format_rules() -> None:
    from controller.config import CameraConfig

    with pytest.raises(FieldProblem, match=r"^plate_formats: must name at least one"):
        CameraConfig("gate", "gate.mp4", plate_formats=[])
    with pytest.raises(FieldProblem, match=r"^cameras\[0\]\.plate_formats\[0\]: unknown"):
        Config(cameras=[CameraConfig("gate", "gate.mp4", plate_formats=["gh"])])
    assert Config(cameras=[CameraConfig("gate", "gate.mp4", plate_formats=["gh"])],
                  plate_formats={"gh": "LLDDDD"}).cameras[0].plate_formats == ["gh"]


def test_the_cli_refuses_a_bad_plate_pattern_with_exit_2(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text('[plate_formats]\ngh = "LL?DD"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "controller", "doctor", "--config", str(f)],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{f}:2: plate_formats.gh: pattern 'LL?DD'" in lines[0]
