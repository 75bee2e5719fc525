"""`edgewarden doctor`: check that this device is set up to run the service.

Each check returns PASS, WARN or FAIL with a one-line detail that says what to do. The
checks only read (files, the user database, /dev, the clock state); none changes anything.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import grp
import importlib.util
import os
import pwd
import shutil
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from controller.config import Config
from controller.control.address import socket_path
from controller.system.install import SERVICE_USER, role_groups

Status = Literal["PASS", "WARN", "FAIL"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


def check_accounts(cfg: Config) -> Check:
    missing = []
    for name in role_groups(cfg):
        try:
            grp.getgrnam(name)
        except KeyError:
            missing.append(f"group {name}")
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        missing.append(f"user {SERVICE_USER}")
    if missing:
        return Check("users and groups", "FAIL",
                     f"missing {', '.join(missing)}: run `sudo edgewarden install`")
    return Check("users and groups", "PASS", f"{SERVICE_USER} and {len(role_groups(cfg))} groups")


def check_permissions(cfg: Config, config_path: Path | None) -> Check:
    problems = []
    data = cfg.device.data_dir
    if data.exists():
        st = data.stat()
        if st.st_mode & 0o077:
            problems.append(f"{data} is {stat.S_IMODE(st.st_mode):o} (want 700)")
        owner = _user_of(st.st_uid)
        if owner not in (SERVICE_USER, "root"):
            problems.append(f"{data} is owned by {owner}")
    if config_path is not None and config_path.exists():
        mode = stat.S_IMODE(config_path.stat().st_mode)
        if mode & 0o007:
            problems.append(f"{config_path} is world-accessible ({mode:o}; want 640)")
    sock = socket_path(cfg)
    if sock.exists():
        mode = stat.S_IMODE(sock.stat().st_mode)
        if mode & 0o007:
            problems.append(f"{sock} is world-accessible ({mode:o}; want 660)")
    if problems:
        return Check("permissions", "FAIL", "; ".join(problems))
    return Check("permissions", "PASS", "data dir, config and socket not world-accessible")


def check_serial_ports(cfg: Config, dev_glob: str = "/dev/edgewarden/node-*") -> Check:
    found = sorted(glob.glob(dev_glob))
    nodes = cfg.serial.nodes
    if not nodes:
        detail = f"no nodes configured; present: {', '.join(found) or 'none'}"
        return Check("serial ports", "WARN", detail)
    missing = [f"{n.name} ({n.port})" for n in nodes if not os.path.exists(n.port)]
    if missing:
        return Check("serial ports", "FAIL", f"missing: {', '.join(missing)}")
    denied = [n.port for n in nodes if not os.access(n.port, os.R_OK | os.W_OK)]
    if denied and os.geteuid() != 0:
        return Check("serial ports", "WARN", f"this user cannot open {', '.join(denied)}")
    return Check("serial ports", "PASS", f"{len(nodes)} node port(s) present")


def check_camera_stack(cfg: Config, video_glob: str = "/dev/video*") -> Check:
    libs = [m for m in ("picamera2", "libcamera") if importlib.util.find_spec(m) is not None]
    videos = sorted(glob.glob(video_glob))
    have = ", ".join([*libs, *videos[:4]]) or "nothing"
    wants_pi = any(c.source.startswith("picamera2") for c in cfg.cameras)
    if wants_pi and "picamera2" not in libs:
        return Check("camera stack", "FAIL",
                     "a picamera2 camera is configured but picamera2 is not importable "
                     "(apt install python3-picamera2, then use a venv with "
                     "--system-site-packages)")
    if cfg.cameras and not libs and not videos:
        return Check("camera stack", "FAIL", "cameras configured but no camera stack found")
    if not libs and not videos:
        return Check("camera stack", "WARN", "no picamera2/libcamera and no /dev/video*")
    return Check("camera stack", "PASS", have)


def check_keys(cfg: Config) -> Check:
    data = cfg.device.data_dir
    keys = data / "keys"
    if not data.exists():
        return Check("keys", "FAIL", f"{data} does not exist: run `edgewarden init`")
    if not keys.is_dir():
        return Check("keys", "FAIL", f"{keys} missing: run `edgewarden init`")
    mode = stat.S_IMODE(keys.stat().st_mode)
    if mode & 0o077:
        return Check("keys", "FAIL", f"{keys} is {mode:o} (want 700)")
    return Check("keys", "PASS", f"{keys} initialised")


def check_free_space(cfg: Config) -> Check:
    probe = cfg.device.data_dir
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free_mb = shutil.disk_usage(probe).free / (1024 * 1024)
    h = cfg.health
    detail = f"{free_mb:,.0f} MB free for {cfg.device.data_dir}"
    if free_mb < h.disk_free_critical_mb:
        return Check("free space", "FAIL", detail)
    if free_mb < h.disk_free_warning_mb:
        return Check("free space", "WARN", detail)
    return Check("free space", "PASS", detail)


def check_clock(
    timedatectl: Callable[[], str | None] | None = None,
    adjtimex: Callable[[], int | None] | None = None,
) -> Check:
    """NTP sync from `timedatectl show`, else the kernel's adjtimex state."""
    answer = (timedatectl or _timedatectl_synced)()
    if answer == "yes":
        return Check("clock sync", "PASS", "NTP synchronised (timedatectl)")
    if answer == "no":
        return Check("clock sync", "WARN",
                     "clock not NTP-synchronised: record times may be wrong (timedatectl)")
    state = (adjtimex or _adjtimex_state)()
    if state is None:
        return Check("clock sync", "WARN", "cannot tell whether the clock is synchronised")
    if state == 5:  # TIME_ERROR: the kernel says the clock is unsynchronised
        return Check("clock sync", "WARN", "clock not synchronised (adjtimex TIME_ERROR)")
    return Check("clock sync", "PASS", f"kernel clock synchronised (adjtimex state {state})")


def _timedatectl_synced() -> str | None:
    if not shutil.which("timedatectl"):
        return None
    try:
        out = subprocess.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    value = out.stdout.strip()
    return value if out.returncode == 0 and value in ("yes", "no") else None


def _adjtimex_state() -> int | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        buf = ctypes.create_string_buffer(512)  # struct timex, modes = 0: read only
        state = int(libc.adjtimex(buf))
    except (OSError, AttributeError):
        return None
    return None if state < 0 else state


def check_service(cfg: Config) -> Check:
    sock = socket_path(cfg)
    if sock.exists():
        return Check("service", "PASS", f"control socket at {sock}")
    return Check("service", "WARN", f"not running (no {sock})")


def _user_of(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def run_checks(cfg: Config, config_path: Path | None) -> list[Check]:
    return [
        check_accounts(cfg),
        check_permissions(cfg, config_path),
        check_serial_ports(cfg),
        check_camera_stack(cfg),
        check_keys(cfg),
        check_free_space(cfg),
        check_clock(),
        check_service(cfg),
    ]
