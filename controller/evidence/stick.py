"""The headless USB trigger: a stick with the configured label gets the last days' bundle.

systemd runs `edgewarden export --stick /dev/sdX1` when udev sees a stick. Only a stick
whose filesystem label is `export.stick_label` is used; it is mounted nosuid,nodev,noexec
on a private temporary directory, the bundle is written and verified there, everything is
synced and the stick unmounted, and the outcome goes to `on_audit`. `mountpoint` is the
test seam (an already-mounted directory: nothing is mounted or unmounted).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.config import Config
from controller.errors import EdgewardenError
from controller.evidence.bundle import AuditFn, ProgressFn, export_bundle
from controller.evidence.selection import Selection

MOUNT_OPTIONS = "nosuid,nodev,noexec"
Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]
_DAY = 86400.0


@dataclass(frozen=True)
class StickOutcome:
    status: str  # "exported", "ignored" or "failed"
    detail: str
    bundle: Path | None = None


def _run(cmd: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=60, check=False)


def read_label(device: str, runner: Runner = _run) -> str | None:
    """The filesystem label as blkid reports it (None when it has none or blkid fails)."""
    done = runner(["blkid", "-o", "value", "-s", "LABEL", device])
    label = done.stdout.strip()
    return label if done.returncode == 0 and label else None


def run_stick(
    device: str,
    cfg: Config,
    *,
    now: float,
    mountpoint: Path | None = None,
    label: str | None = None,
    runner: Runner = _run,
    progress: ProgressFn | None = None,
    on_audit: AuditFn | None = None,
) -> StickOutcome:
    """Export what the config says to the stick; never raises for a bad stick."""
    seen = label if label is not None else read_label(device, runner)
    audit: dict[str, Any] = {"action": "export-stick", "device": device, "label": seen}
    if seen != cfg.export.stick_label:
        outcome = StickOutcome("ignored", f"{device}: label {seen!r} is not "
                                          f"{cfg.export.stick_label!r}")
        audit.update(outcome="ignored")
        if on_audit is not None:
            on_audit(audit)
        return outcome
    if cfg.export.redact:
        outcome = StickOutcome("failed", "export.redact needs the identity, which a headless "
                                         "export does not have; use `edgewarden export "
                                         "--redact --identity`")
        audit.update(outcome="failed", reason=outcome.detail)
        if on_audit is not None:
            on_audit(audit)
        return outcome
    selection = Selection(since=now - cfg.export.default_days * _DAY)
    own_mount = mountpoint is None
    target = Path(tempfile.mkdtemp(prefix="edgewarden-stick-")) if own_mount else mountpoint
    assert target is not None
    try:
        if own_mount:
            done = runner(["mount", "-o", MOUNT_OPTIONS, device, str(target)])
            if done.returncode != 0:
                raise EdgewardenError(f"{device}: mount failed ({done.stderr.strip()})")
        try:
            result = export_bundle(cfg.device.data_dir, target, selection, now=now,
                                   progress=progress, on_audit=on_audit)
            os.sync()
        finally:
            if own_mount:
                done = runner(["umount", str(target)])
                if done.returncode != 0:
                    raise EdgewardenError(f"{device}: unmount failed ({done.stderr.strip()}); "
                                          "do not pull the stick yet")
        missing = (f", {len(result.missing_media)} media missing at export (declared in the "
                   "bundle)" if result.missing_media else "")
        return StickOutcome("exported", f"{result.selected} records, {result.media_files} "
                                        f"media files{missing}", result.path)
    except EdgewardenError as exc:
        if on_audit is not None and "mount failed" in str(exc):
            audit.update(outcome="failed", reason=str(exc))
            on_audit(audit)  # export_bundle reports its own failures
        return StickOutcome("failed", str(exc))
    finally:
        if own_mount:
            with contextlib.suppress(OSError):
                target.rmdir()
