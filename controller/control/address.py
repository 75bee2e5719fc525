"""Where the control socket lives: ``device.runtime_dir`` / ``control.socket_name``."""

from __future__ import annotations

from pathlib import Path

from controller.config import Config

#: sun_path is 108 bytes on Linux, including the terminating NUL.
MAX_SOCKET_PATH_BYTES = 107


def socket_path(cfg: Config) -> Path:
    return cfg.device.runtime_dir / cfg.control.socket_name
