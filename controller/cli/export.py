"""`edgewarden export`: write an evidence bundle (BagIt) to a directory or a USB stick."""

from __future__ import annotations

import argparse
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from controller.config import Config, load_config
from controller.errors import EdgewardenError, UsageError
from controller.evidence.bundle import export_bundle
from controller.evidence.selection import Selection, parse_time
from controller.evidence.stick import run_stick
from controller.store import audit_inbox
from controller.store.identity import open_identity
from controller.store.lock import LockHolder, StoreLock, current_holder

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "export",
        help="write an evidence bundle (BagIt) to a directory",
        description="Write an evidence bundle (BagIt bag with the records still encrypted, "
        "age-encrypted epoch keys and media, the hash-chain segment with its seals, and an "
        "Ed25519-signed manifest) into OUT. No key is needed unless --redact is given. "
        "The bundle is written as OUT/.NAME.partial, fsynced, verified, then renamed.",
    )
    p.add_argument("--config", type=Path, help="config file (default: built-in defaults)")
    p.add_argument("--data-dir", type=Path, help="data directory (default: device.data_dir)")
    p.add_argument("--out", type=Path, metavar="DIR", help="directory to write the bundle in")
    p.add_argument("--name", help="bundle directory name (default edgewarden-<store>-<time>)")
    p.add_argument("--from", dest="since", metavar="T",
                   help="first record time: ISO 8601 (UTC if no zone) or epoch seconds")
    p.add_argument("--to", dest="until", metavar="T", help="last record time (same forms)")
    p.add_argument("--source", action="append", default=[], metavar="S",
                   help="only records of this source (repeatable)")
    p.add_argument("--kind", action="append", default=[], metavar="K",
                   help="only records of this kind (repeatable)")
    p.add_argument("--redact", action="store_true",
                   help="blur faces, plates and the detector's boxes in snapshots and clips "
                   "(OpenCV's Haar cascades); media that cannot be decoded are withheld. "
                   "Needs the identity (--identity and its passphrase): blurring needs the "
                   "plaintext")
    p.add_argument("--identity", type=Path, metavar="FILE",
                   help="age identity (plain or passphrase-protected); needed for --redact, "
                   "and also decrypts every record while verifying")
    p.add_argument("--passphrase-fd", type=int, metavar="N",
                   help="read the identity's passphrase from file descriptor N")
    p.add_argument("--stick", metavar="DEVICE",
                   help="headless USB mode: if DEVICE has the label export.stick_label, mount "
                   "it nosuid,nodev,noexec, export the last export.default_days, verify, sync, "
                   "unmount")
    p.add_argument("--mountpoint", type=Path, metavar="DIR",
                   help="with --stick: use this already-mounted directory (no mount/umount)")
    p.add_argument("--label", help="with --stick: the label udev saw (skips blkid)")
    p.set_defaults(handler=run)


def record_audit(cfg: Config, lock: StoreLock | None, body: dict[str, Any]) -> None:
    """Store the export's audit record: ourselves when we hold the writer lock, else
    through the inbox the running service drains (it is the one writer)."""
    if lock is None:
        audit_inbox.leave(cfg.device.data_dir, body)
        return
    from controller.store import RecordWriter

    try:
        with RecordWriter.open(lock.data_dir, cfg.store, lock=lock) as writer:
            ticket = writer.append("audit", "export", "info", body)
            ticket.wait_durable(10)
    except (EdgewardenError, OSError, sqlite3.Error) as exc:
        log.warning("export audit record not stored: %s", exc)


def _through_service(args: argparse.Namespace, holder: LockHolder, out: Console) -> int:
    """The service holds the store: it writes, verifies and audits the bundle itself."""
    from controller.control.client import ControlClient
    from controller.control.schema import Exported

    assert holder.control_socket is not None
    selection = _selection(args)
    request: dict[str, Any] = {"dest": str(args.out.resolve())}
    request["since"] = selection.since if selection.since is not None else 0.0
    request["until"] = selection.until if selection.until is not None else time.time()
    if selection.sources:
        request["sources"] = list(selection.sources)
    if selection.kinds:
        request["kinds"] = list(selection.kinds)
    if args.name:
        request["name"] = args.name
    with ControlClient(Path(holder.control_socket), timeout=3600.0) as client:
        result = client.ask("export", Exported, request)
    missing = [(seq, sha) for seq, sha in result.missing_media]
    warn_missing(missing)
    out.print(f"{result.bundle}: {result.selected} records selected of "
              f"{result.records} in the chain segment, {result.media_files} media files, "
              f"{result.bytes / 1e6:.1f} MB; "
              f"{'verified' if result.verified else 'NOT verified'}{_but(missing)} "
              f"(written and audited by the running service, pid {holder.pid})",
              markup=False, highlight=False)
    if args.identity is not None:
        out.print("note: the service checked the bundle without the identity; "
                  "`edgewarden verify-bundle DIR --identity F` also checks every AEAD tag",
                  markup=False, highlight=False)
    return 0 if result.verified else 1


def warn_missing(missing: list[tuple[int, str]]) -> None:
    """One warning line on stderr per medium the bundle declares missing at export."""
    console = Console(stderr=True, soft_wrap=True)
    for seq, sha in missing:
        console.print(f"warning: record {seq}: media {sha} is marked stored on the device but "
                      "its file is missing; the bundle declares it missing at export and "
                      "verify-bundle reports it", markup=False, highlight=False)


def _but(missing: list[tuple[int, str]]) -> str:
    return f" apart from {len(missing)} media missing at export" if missing else ""


def _selection(args: argparse.Namespace) -> Selection:
    try:
        since = parse_time(args.since) if args.since else None
        until = parse_time(args.until) if args.until else None
    except ValueError as exc:
        raise UsageError(f"--from/--to: {exc}") from None
    if since is not None and until is not None and until < since:
        raise UsageError("--to is before --from")
    return Selection(since, until, tuple(args.source), tuple(args.kind))


def _identity(args: argparse.Namespace) -> Any:
    if args.identity is None:
        return None
    return open_identity(args.identity, args.passphrase_fd)


class StageBars:
    """One rich bar per export stage, fed by the engine's progress callback."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self._tasks:
            self._tasks[stage] = self._progress.add_task(stage, total=total or None)
        self._progress.update(self._tasks[stage], completed=done, total=total or None)


def run(args: argparse.Namespace) -> int:
    logging.getLogger("bagit").setLevel(logging.WARNING)
    cfg = load_config(args.config)
    data_dir: Path = args.data_dir or cfg.device.data_dir
    if args.data_dir is not None:
        from dataclasses import replace
        cfg = replace(cfg, device=replace(cfg.device, data_dir=data_dir))
    console = Console(stderr=True)
    out = Console(soft_wrap=True)
    holder = current_holder(data_dir)
    if holder is not None and holder.control_socket and not (args.stick or args.redact):
        if args.out is None:
            raise UsageError("--out DIR (or --stick DEVICE) is required")
        return _through_service(args, holder, out)
    # no service: this export is the store's one writer (for its audit) while it runs;
    # beside a service (--redact, --stick) it only reads, and the service stores the audit
    lock = None if holder is not None else StoreLock.acquire(data_dir, "export")
    try:
        return _export_here(args, cfg, data_dir, lock, console, out)
    finally:
        if lock is not None:
            lock.release()


def _export_here(args: argparse.Namespace, cfg: Config, data_dir: Path,
                 lock: StoreLock | None, console: Console, out: Console) -> int:
    def audit(body: dict[str, Any]) -> None:
        record_audit(cfg, lock, body)

    if args.stick:
        with Progress(TextColumn("{task.description}"), BarColumn(), console=console,
                      transient=True) as progress:
            outcome = run_stick(args.stick, cfg, now=time.time(), mountpoint=args.mountpoint,
                                label=args.label, progress=StageBars(progress), on_audit=audit)
        out.print(f"stick {args.stick}: {outcome.status}: {outcome.detail}"
                  + (f" -> {outcome.bundle}" if outcome.bundle else ""),
                  markup=False, highlight=False)
        return 1 if outcome.status == "failed" else 0
    if args.out is None:
        raise UsageError("--out DIR (or --stick DEVICE) is required")
    if args.redact and args.identity is None:
        raise UsageError("--redact needs --identity FILE: blurring needs the plaintext media")
    selection = _selection(args)
    identity = _identity(args)
    with Progress(TextColumn("{task.description}"), BarColumn(), console=console,
                  transient=True) as progress:
        result = export_bundle(data_dir, args.out, selection, now=time.time(), name=args.name,
                               identity=identity, redact=args.redact,
                               progress=StageBars(progress), on_audit=audit)
    missing = list(result.missing_media)
    warn_missing(missing)
    out.print(f"{result.path}: {result.selected} records selected of {result.records} in the "
              f"chain segment, {result.media_files} media files, {result.redacted} redacted, "
              f"{result.withheld} withheld, {result.bytes_written / 1e6:.1f} MB; "
              f"verified{_but(missing)}", markup=False, highlight=False)
    for note in result.report.notes:
        out.print(f"note: {note}", markup=False, highlight=False)
    return 0
