"""`edgewarden install`: lay out units, udev rules, a config skeleton, users and groups.

The plan (which files with which content and mode) is computed purely from the shipped
templates and the config; applying it compares with what is on disk and only writes what
differs, so a second run changes nothing and says so. Files are replaced atomically. An
existing config file is never overwritten. Users and groups are only created on the real
root (never under ``--destdir``).
"""

from __future__ import annotations

import dataclasses
import grp
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from controller.atomic_file import write_atomic
from controller.config import DEFAULT_CONFIG_PATH, Config, ConfigError, load_config
from controller.errors import EdgewardenError, UsageError

SERVICE_USER = "edgewarden"
SERVICE_GROUP = "edgewarden"
FORWARD_USER = "edgewarden-forward"  # the MQTT forwarder's own user (view role)
DEFAULT_EXEC = "/usr/bin/edgewarden"

UNIT_DIR = Path("/etc/systemd/system")
RULES_DIR = Path("/etc/udev/rules.d")

# FAT labels are at most 11 characters, ext4 16; only characters that need no escaping
# in a udev rule and in a unit instance name.
_LABEL_RE = re.compile(r"^[A-Za-z0-9_-]{1,16}$")


@dataclass(frozen=True)
class PlannedFile:
    path: Path  # absolute path on the target system
    content: bytes
    mode: int
    keep_existing: bool = False  # config: never overwrite what the admin wrote


Action = Literal["created", "updated", "unchanged", "kept", "skipped"]


@dataclass(frozen=True)
class Change:
    what: str
    action: Action
    note: str = ""


def validate_label(label: str) -> str:
    if not _LABEL_RE.match(label):
        raise UsageError(f"export stick label {label!r}: use 1-16 letters, digits, '_' or '-'")
    return label


def template_dir() -> Path:
    """Where the unit and rule templates are: packaged data, else the source checkout."""
    here = Path(__file__).resolve().parent.parent  # controller/
    for candidate in (here / "_data", here.parent):
        if (candidate / "systemd" / "edgewarden.service").is_file():
            return candidate
    raise EdgewardenError(
        f"unit templates not found (looked in {here / '_data'} and {here.parent})")


def render_unit(text: str, exec_path: str) -> str:
    """The unit with ExecStart pointing at the edgewarden that will really run."""
    if not os.path.isabs(exec_path) or any(c.isspace() for c in exec_path):
        raise UsageError(f"--exec {exec_path!r}: must be an absolute path without spaces")
    return text.replace(DEFAULT_EXEC, exec_path)


def forward_groups(cfg: Config) -> list[str]:
    """The forwarder's groups: the socket's and the view role; ops only for inbound commands.

    The service reads the role from the user database, so the account's membership is what
    grants it; the unit's SupplementaryGroups= is rendered from the same list to match.
    """
    c = cfg.control
    wanted = [c.socket_group, c.view_group]
    if cfg.forward.inbound_commands:
        wanted.append(c.ops_group)
    return list(dict.fromkeys(g for g in wanted if g))


def render_forward_unit(text: str, exec_path: str, groups: list[str]) -> str:
    """The forwarder's unit with its supplementary groups taken from the config."""
    line = "SupplementaryGroups=" + " ".join(groups)
    return re.sub(r"^SupplementaryGroups=.*$", line, render_unit(text, exec_path),
                  count=1, flags=re.MULTILINE)


def membership_commands(user: str, current: set[str], wanted: list[str],
                        role_groups: list[str]) -> list[list[str]]:
    """Commands that bring `user`'s role-group membership to `wanted` (pure).

    Only groups edgewarden manages (`role_groups`) are ever removed, so an admin's own
    additions to the forwarder's account stay.
    """
    commands = [["usermod", "--append", "--groups", g, user]
                for g in wanted if g not in current]
    commands += [["gpasswd", "--delete", user, g]
                 for g in role_groups if g in current and g not in wanted]
    return commands


def render_export_rule(text: str, label: str) -> str:
    return text.replace("@LABEL@", validate_label(label))


def plan_files(templates: Path, exec_path: str, label: str,
               skeleton: str, cfg: Config | None = None) -> list[PlannedFile]:
    def read(rel: str) -> str:
        return (templates / rel).read_text(encoding="utf-8")

    groups = forward_groups(cfg or Config())
    return [
        PlannedFile(UNIT_DIR / "edgewarden.service",
                    render_unit(read("systemd/edgewarden.service"), exec_path).encode(), 0o644),
        PlannedFile(UNIT_DIR / "edgewarden-forward.service",
                    render_forward_unit(read("systemd/edgewarden-forward.service"), exec_path,
                                        groups).encode(), 0o644),
        PlannedFile(UNIT_DIR / "edgewarden-export@.service",
                    render_unit(read("systemd/edgewarden-export@.service"), exec_path).encode(),
                    0o644),
        PlannedFile(RULES_DIR / "90-edgewarden-nodes.rules",
                    read("udev/90-edgewarden-nodes.rules").encode(), 0o644),
        PlannedFile(RULES_DIR / "91-edgewarden-export.rules",
                    render_export_rule(read("udev/91-edgewarden-export.rules"), label).encode(),
                    0o644),
        PlannedFile(DEFAULT_CONFIG_PATH, skeleton.encode(), 0o640, keep_existing=True),
    ]


# --------------------------------------------------------------------------- skeleton
def _toml_key(key: str) -> str:
    return key if re.match(r"^[A-Za-z0-9_-]+$", key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value))
    if isinstance(value, dict):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _is_list_of_tables(tp: Any) -> bool:
    return typing.get_origin(tp) is list and dataclasses.is_dataclass(typing.get_args(tp)[0])


def config_skeleton(label: str | None = None) -> str:
    """A config file with every default, commented out, generated from the schema.

    Section headers stay live (empty tables are valid), so uncommenting one line is enough
    to change a setting. `label` (from --config-label) is written uncommented.
    """
    out = [
        "# edgewarden configuration. Every setting below shows its default; uncomment to",
        "# change it. Check a change with `edgewarden doctor --config FILE`.",
        "",
    ]
    for section in dataclasses.fields(Config):
        tp = typing.get_type_hints(Config)[section.name]
        default = getattr(Config(), section.name)
        if _is_list_of_tables(tp):
            item = typing.get_args(tp)[0]
            out.append(f"# [[{section.name}]]  (one table per {item.__name__})")
            out.extend(_commented_fields(item, section.name))
            out.append("")
            continue
        if not dataclasses.is_dataclass(default):  # a table of values ([plate_formats])
            out.append(f"# {section.metadata['doc']}")
            out.append(f"# (none by default), e.g. {section.metadata['example']}")
            out.append(f"[{section.name}]")
            out.append("")
            continue
        doc = (type(default).__doc__ or "").strip().splitlines()
        if doc:
            out.append(f"# {doc[0]}")
        out.append(f"[{section.name}]")
        hints = typing.get_type_hints(type(default))
        for f in dataclasses.fields(default):
            value = getattr(default, f.name)
            if section.name == "export" and f.name == "stick_label" and label is not None:
                out.append(f"stick_label = {_toml_value(label)}")
            elif _is_list_of_tables(hints[f.name]):
                item = typing.get_args(hints[f.name])[0]
                out.append(f"# [[{section.name}.{f.name}]]  (one table per {item.__name__})")
                out.extend(_commented_fields(item, None))
            elif value is None:
                out.append(f"# {f.name} =   ({_type_name(hints[f.name])}, unset by default)")
            elif isinstance(value, dict) and not value:
                out.append(f"# {f.name} = {{}}")
            else:
                out.append(f"# {f.name} = {_toml_value(value)}")
        out.append("")
    return "\n".join(out)


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp) if a is not type(None))
    return getattr(tp, "__name__", str(tp))


def _commented_fields(tp: Any, parent: str | None) -> list[str]:
    lines = []
    nested: list[str] = []
    hints = typing.get_type_hints(tp)
    for f in dataclasses.fields(tp):
        if f.default is not dataclasses.MISSING and f.default is not None:
            lines.append(f"#   {f.name} = {_toml_value(f.default)}")
        elif f.default_factory is not dataclasses.MISSING and dataclasses.is_dataclass(
                hints[f.name]):
            # a sub-table (e.g. [cameras.tamper]): after the plain keys, as TOML needs
            nested.append(f"# [{parent}.{f.name}]" if parent else f"# [{f.name}]")
            nested.extend(_commented_fields(hints[f.name], None))
        elif f.default_factory is not dataclasses.MISSING:
            lines.append(f"#   {f.name} = {_toml_value(f.default_factory())}")
        else:
            required = f.default is dataclasses.MISSING
            lines.append(f"#   {f.name} =   ({_type_name(hints[f.name])}"
                         f"{', required' if required else ', optional'})")
    return lines + nested


# --------------------------------------------------------------------------- apply
def target_path(destdir: Path | None, path: Path) -> Path:
    return destdir / path.relative_to("/") if destdir else path


def apply_file(destdir: Path | None, planned: PlannedFile) -> Change:
    path = target_path(destdir, planned.path)
    if not path.parent.exists():
        path.parent.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        path.parent.mkdir(mode=0o750 if planned.keep_existing else 0o755)
    if path.exists():
        if planned.keep_existing:
            return Change(str(planned.path), "kept", "exists; not overwritten")
        same = path.read_bytes() == planned.content
        same_mode = (path.stat().st_mode & 0o7777) == planned.mode
        if same and same_mode:
            return Change(str(planned.path), "unchanged")
        if same:
            os.chmod(path, planned.mode)
        else:
            write_atomic(path, planned.content, planned.mode)
        return Change(str(planned.path), "updated")
    write_atomic(path, planned.content, planned.mode)
    return Change(str(planned.path), "created")


def role_groups(cfg: Config) -> list[str]:
    c = cfg.control
    return list(dict.fromkeys([SERVICE_GROUP, c.socket_group, c.view_group, c.ops_group,
                               c.admin_group]))


def ensure_accounts(cfg: Config) -> list[Change]:
    """Create the service user and the groups (system accounts) when missing."""
    changes = []
    for name in role_groups(cfg):
        if not name:
            continue
        try:
            grp.getgrnam(name)
            changes.append(Change(f"group {name}", "unchanged"))
        except KeyError:
            _run(["groupadd", "--system", name])
            changes.append(Change(f"group {name}", "created"))
    try:
        pwd.getpwnam(SERVICE_USER)
        changes.append(Change(f"user {SERVICE_USER}", "unchanged"))
    except KeyError:
        _run(["useradd", "--system", "--gid", SERVICE_GROUP, "--home-dir",
              str(cfg.device.data_dir), "--no-create-home", "--shell", "/usr/sbin/nologin",
              "--comment", "edgewarden service", SERVICE_USER])
        changes.append(Change(f"user {SERVICE_USER}", "created"))
    wanted = forward_groups(cfg)
    try:
        pwd.getpwnam(FORWARD_USER)
    except KeyError:
        _run(["useradd", "--system", "--user-group", "--groups", ",".join(wanted),
              "--home-dir", "/var/lib/edgewarden-forward", "--no-create-home", "--shell",
              "/usr/sbin/nologin", "--comment", "edgewarden MQTT forwarder", FORWARD_USER])
        changes.append(Change(f"user {FORWARD_USER}", "created", ", ".join(wanted)))
        return changes
    current = {g.gr_name for g in grp.getgrall() if FORWARD_USER in g.gr_mem}
    commands = membership_commands(FORWARD_USER, current, wanted, role_groups(cfg))
    for argv in commands:
        _run(argv)
    changes.append(Change(f"user {FORWARD_USER}", "updated" if commands else "unchanged",
                          ", ".join(wanted)))
    return changes


def _run(argv: list[str]) -> None:
    try:
        subprocess.run(argv, check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise EdgewardenError(f"{argv[0]} not found: cannot create system accounts") from None
    except subprocess.CalledProcessError as exc:
        reason = (exc.stderr or "").strip().splitlines()
        raise EdgewardenError(
            f"{' '.join(argv[:3])} failed: {reason[-1] if reason else exc.returncode}"
        ) from None


def reload_daemons(changes: list[Change]) -> list[Change]:
    """Tell systemd and udev about changed files (real root only, when the tools exist)."""
    out = []
    touched = {c.what for c in changes if c.action in ("created", "updated")}
    if any(w.startswith(str(UNIT_DIR)) for w in touched) and shutil.which("systemctl"):
        ok = subprocess.run(["systemctl", "daemon-reload"], capture_output=True).returncode == 0
        out.append(Change("systemctl daemon-reload", "updated" if ok else "skipped",
                          "" if ok else "systemd not running"))
    if any(w.startswith(str(RULES_DIR)) for w in touched) and shutil.which("udevadm"):
        ok = subprocess.run(["udevadm", "control", "--reload"],
                            capture_output=True).returncode == 0
        out.append(Change("udevadm control --reload", "updated" if ok else "skipped",
                          "" if ok else "udevd not running"))
    return out


def default_exec_path() -> str:
    """The edgewarden entry point that is running now (so the unit runs the same one).

    `.venv/bin/edgewarden install` gives that script's absolute path; `python -m
    controller install` the `edgewarden` script beside that interpreter. When neither
    exists, refuse rather than write a unit that runs a program that is not there.
    """
    argv0 = Path(sys.argv[0])
    if argv0.name == "edgewarden" and argv0.is_file():
        return str(argv0.absolute())
    beside = Path(sys.executable).parent / "edgewarden"
    if beside.is_file():
        return str(beside.absolute())
    found = shutil.which("edgewarden")
    if found:
        return str(Path(found).absolute())
    raise UsageError("cannot tell which edgewarden executable the units should run "
                     "(none beside this Python, none on PATH): give --exec PATH")


def install(destdir: Path | None, label: str | None, exec_path: str,
            create_accounts: bool = True) -> list[Change]:
    """Lay everything out; returns what changed. Idempotent."""
    if label is not None:
        validate_label(label)
    existing_cfg = target_path(destdir, DEFAULT_CONFIG_PATH)
    effective_label = label
    if effective_label is None:
        try:
            cfg = load_config(existing_cfg) if existing_cfg.exists() else Config()
        except ConfigError as exc:
            raise UsageError(f"existing config is invalid: {exc}") from None
        effective_label = cfg.export.stick_label
    else:
        cfg = load_config(existing_cfg) if existing_cfg.exists() else Config()
    plan = plan_files(template_dir(), exec_path, effective_label, config_skeleton(label), cfg)
    changes: list[Change] = []
    if destdir is None and create_accounts:
        changes.extend(ensure_accounts(cfg))
    elif destdir is not None:
        changes.append(Change("users and groups", "skipped", "not created under --destdir"))
    changes.extend(apply_file(destdir, f) for f in plan)
    if destdir is None:
        changes.extend(reload_daemons(changes))
    return changes
