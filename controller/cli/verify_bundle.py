"""`edgewarden verify-bundle`: check an evidence bundle, on any machine, without the device."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from controller.cli.export import StageBars
from controller.errors import UsageError
from controller.evidence.verify_bundle import verify_bundle
from controller.store.identity import open_identity
from controller.store.keyschedule import decode_verification_key


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "verify-bundle", help="check an evidence bundle",
        description="Check an evidence bundle. Without keys: bag checksums, the manifest's "
        "Ed25519 signature and the hash-chain segment. With --identity: decrypt every record "
        "and media file and check every tag. With --verification-key: check every seal with "
        "the key of its own epoch. Exit status 0 only when everything holds.",
    )
    p.add_argument("bundle", type=Path, metavar="DIR", help="the bundle directory")
    p.add_argument("--identity", type=Path, metavar="FILE",
                   help="age identity (plain or passphrase-protected)")
    p.add_argument("--passphrase-fd", type=int, metavar="N",
                   help="read the identity's passphrase from file descriptor N")
    p.add_argument("--verification-key", metavar="KEY", help="the key init printed (ewvk1-...)")
    p.add_argument("--signing-key", metavar="HEX",
                   help="the device's Ed25519 public key you expect (hex, from store.json)")
    p.add_argument("--checkpoint", type=Path, action="append", default=[], metavar="FILE",
                   help="a checkpoint of the device kept by you (repeatable); the bundle must "
                   "not be older than it or forked from it")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    logging.getLogger("bagit").setLevel(logging.WARNING)
    seed = None
    if args.verification_key is not None:
        try:
            seed = decode_verification_key(args.verification_key)
        except ValueError as exc:
            raise UsageError(f"--verification-key: {exc}") from None
    identity = None
    if args.identity is not None:
        identity = open_identity(args.identity, args.passphrase_fd)
    with Progress(TextColumn("{task.description}"), BarColumn(), console=Console(stderr=True),
                  transient=True) as progress:
        report = verify_bundle(args.bundle, identity=identity, seed=seed,
                               expected_signing_key=args.signing_key, progress=StageBars(progress),
                               checkpoints=args.checkpoint)
    out = Console(soft_wrap=True)
    out.print(f"{args.bundle}: {report.records} records in the chain segment "
              f"({report.selected} selected), {report.seals} seals "
              f"({report.seals_authenticated} authenticated), {report.media_files} media files, "
              f"{report.aead_checked} AEAD tags checked, {report.media_decrypted} media "
              f"decrypted; signed by {report.signing_key or '?'}",
              markup=False, highlight=False)
    if report.head_checkpoint is not None:
        out.print("the store's head at export (checkpoint carried in the bundle):",
                  markup=False, highlight=False)
        out.print(report.head_checkpoint.rstrip("\n"), markup=False, highlight=False)
    for note in report.notes:
        out.print(f"note: {note}", markup=False, highlight=False)
    for problem in report.problems:
        out.print(f"PROBLEM: {problem}", markup=False, highlight=False)
    if report.ok:
        out.print("bundle OK", markup=False, highlight=False)
        return 0
    out.print(f"bundle NOT OK: {len(report.problems)} problem(s)", markup=False, highlight=False)
    return 1
