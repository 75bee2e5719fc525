"""`edgewarden verify`: check the record store's hash chain, seals and tags."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from controller.config import load_config
from controller.errors import EdgewardenError, UsageError
from controller.store import passphrase as pw
from controller.store.identity import open_identity
from controller.store.keyschedule import decode_verification_key
from controller.store.layout import StoreLayout
from controller.store.verify import verify_store


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "verify",
        help="check the record store's hash chain, seals and tags",
        description="Check the record store's hash chain, seals (each against the key of "
        "its own epoch), gaps, order, truncation and media files; with --identity also "
        "every AEAD tag. Exit status 0 only when everything holds.",
    )
    p.add_argument("--config", type=Path, help="config file (default: built-in defaults)")
    p.add_argument("--data-dir", type=Path, help="data directory (default: device.data_dir)")
    p.add_argument("--verification-key", metavar="KEY",
                   help="the key init printed (ewvk1-...); asked for on a terminal if absent")
    p.add_argument("--identity", nargs="?", const="", metavar="FILE",
                   help="also check AEAD tags; FILE is an age identity (plain or "
                   "passphrase-protected), default: the device's keys/identity.age")
    p.add_argument("--passphrase-fd", type=int, metavar="N",
                   help="read the identity's passphrase from file descriptor N")
    p.add_argument("--checkpoint", type=Path, action="append", default=[], metavar="FILE",
                   help="a checkpoint kept off the device (a copy of checkpoint.txt); the "
                   "store must contain it, else it is older, cut or forked (repeatable)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    data_dir: Path = args.data_dir or cfg.device.data_dir
    key_text = args.verification_key
    if key_text is None:
        if not sys.stdin.isatty():
            raise UsageError("--verification-key is required when not on a terminal")
        key_text = pw.prompt_existing("Verification key", "--verification-key KEY")
    try:
        seed = decode_verification_key(key_text)
    except ValueError as exc:
        raise UsageError(f"--verification-key: {exc}") from None
    identity = None
    if args.identity is not None:
        path = Path(args.identity) if args.identity else StoreLayout(data_dir).identity
        identity = open_identity(path, args.passphrase_fd)
    console = Console(stderr=True)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("verifying records", total=None)

        def step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = verify_store(data_dir, seed, identity, step, args.checkpoint,
                              cfg.store.retention_days)
    out = Console(soft_wrap=True)
    out.print(
        f"{report.records} records ({report.tombstones} expired bodies), {report.seals} seals, "
        f"{report.epochs} epochs ({report.shredded_epochs} shredded), "
        f"{report.media_files} media files, {report.aead_checked} AEAD tags checked",
        markup=False, highlight=False,
    )
    if report.head_checkpoint is not None:
        out.print("checkpoint of the head (keep a copy off the device):", markup=False,
                  highlight=False)
        out.print(report.head_checkpoint.rstrip("\n"), markup=False, highlight=False)
    for path in args.checkpoint:
        if not any(str(path) in p for p in report.problems):
            out.print(f"checkpoint {path}: contained in the store", markup=False,
                      highlight=False)
    for note in report.notes:
        out.print(f"note: {note}", markup=False, highlight=False)
    for problem in report.problems:
        out.print(f"FAIL: {problem}", markup=False, highlight=False)
    if not report.ok:
        raise EdgewardenError(f"{data_dir}: verification failed ({len(report.problems)} problems)")
    out.print("ok: chain, seals and media verify", markup=False, highlight=False)
    return 0
