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


def camera_source_kind(source: str) -> str:
    """``picamera2``, ``device``, ``stream``, ``dir`` or ``file`` (as the camera opens it)."""
    if source.startswith("picamera2"):
        return "picamera2"
    if source.isdigit() or source.startswith(("/dev/video", "/dev/v4l")):
        return "device"
    if "://" in source:
        return "stream"
    return "dir" if Path(source).is_dir() else "file"


def check_cameras(cfg: Config, have_module: Callable[[str], bool] | None = None,
                  video_glob: str = "/dev/video*") -> Check:
    """Each configured camera can be opened by the stack its source needs.

    A recording or an image folder needs only OpenCV and the file; a V4L2 device needs
    the device node; `picamera2:N` needs the OS's picamera2.
    """
    have = have_module or (lambda name: importlib.util.find_spec(name) is not None)
    videos = sorted(glob.glob(video_glob))
    if not cfg.cameras:
        found = ", ".join([m for m in ("picamera2", "libcamera") if have(m)] + videos[:4])
        return Check("cameras", "PASS", f"none configured (present: {found or 'nothing'})")
    problems, fine = [], []
    for cam in cfg.cameras:
        kind = camera_source_kind(cam.source)
        where = f"{cam.name} ({cam.source})"
        if kind == "picamera2":
            if not have("picamera2"):
                problems.append(f"{where}: picamera2 is not importable (apt install "
                                "python3-picamera2, then use a venv with "
                                "--system-site-packages)")
                continue
        elif not have("cv2"):
            problems.append(f"{where}: OpenCV (cv2) is not importable")
            continue
        elif kind == "device":
            node = f"/dev/video{cam.source}" if cam.source.isdigit() else cam.source
            if not os.path.exists(node):
                problems.append(f"{where}: no such device (present: "
                                f"{', '.join(videos) or 'no /dev/video*'})")
                continue
        elif kind == "file" and not Path(cam.source).is_file():
            problems.append(f"{where}: no such video file or image folder")
            continue
        elif kind in ("file", "dir") and not os.access(cam.source, os.R_OK):
            problems.append(f"{where}: not readable")
            continue
        fine.append(f"{cam.name} ({kind})")
    if problems:
        return Check("cameras", "FAIL", "; ".join(problems))
    return Check("cameras", "PASS", ", ".join(fine))


def check_detector(cfg: Config, have_module: Callable[[str], bool] | None = None) -> Check:
    """The configured model and labels exist, and a TFLite runtime can load them."""
    have = have_module or (lambda name: importlib.util.find_spec(name) is not None)
    d = cfg.detect
    if d.model is None:
        detail = "no model configured: cameras make motion-only events"
        return Check("detector", "PASS", detail)
    problems = [f"{what} {path}: no such file" for what, path in
                (("detect.model", d.model), ("detect.labels", d.labels))
                if path is not None and not Path(path).is_file()]
    if not any(have(m) for m in ("ai_edge_litert", "tflite_runtime")):
        problems.append("no TFLite runtime importable (install ai-edge-litert)")
    if problems:
        return Check("detector", "FAIL", "; ".join(problems))
    size_mb = Path(d.model).stat().st_size / 1e6
    return Check("detector", "PASS", f"{d.model} ({size_mb:.1f} MB)"
                 + (f", labels {d.labels}" if d.labels else ", no labels file"))


def service_account() -> tuple[str, int, set[int]]:
    """Who the service will run as: the installed `edgewarden` user, else whoever runs
    it by hand (this user): name, uid and every gid it holds."""
    try:
        pw = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        uid = os.geteuid()
        return _user_of(uid), uid, {os.getegid(), *os.getgroups()}
    gids = set(os.getgrouplist(pw.pw_name, pw.pw_gid))
    return pw.pw_name, pw.pw_uid, gids


def may_write(st: os.stat_result, uid: int, gids: set[int]) -> bool:
    """Whether `uid` (in `gids`) may write a file or directory with this stat (pure)."""
    if uid == 0:
        return True
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IWUSR)
    if st.st_gid in gids:
        return bool(st.st_mode & stat.S_IWGRP)
    return bool(st.st_mode & stat.S_IWOTH)


def check_data_writable(cfg: Config,
                        account: tuple[str, int, set[int]] | None = None) -> Check:
    """The service can write its data directory and what is in it (and the disk is not
    mounted read-only): otherwise it stores nothing."""
    data = cfg.device.data_dir
    name, uid, gids = account or service_account()
    if not data.is_dir():
        return Check("data dir writable", "FAIL",
                     f"{data} does not exist: run `edgewarden init`")
    if os.statvfs(data).f_flag & os.ST_RDONLY:
        return Check("data dir writable", "FAIL", f"{data} is on a read-only filesystem")
    denied = []
    for path in [data, *sorted(data.iterdir())]:
        try:
            st = path.lstat()
        except OSError:
            continue
        if stat.S_ISLNK(st.st_mode):
            continue
        if not may_write(st, uid, gids):
            denied.append(f"{path} ({_user_of(st.st_uid)}, {stat.S_IMODE(st.st_mode):o})")
    if denied:
        shown = ", ".join(denied[:3]) + (f" and {len(denied) - 3} more" if len(denied) > 3
                                        else "")
        return Check("data dir writable", "FAIL",
                     f"{name} cannot write {shown}: chown -R {name} {data}")
    return Check("data dir writable", "PASS", f"{name} can write {data}")


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
        check_cameras(cfg),
        check_detector(cfg),
        check_keys(cfg),
        check_data_writable(cfg),
        check_free_space(cfg),
        check_clock(),
        check_service(cfg),
    ]
