"""`edgewarden init`: create the device's keys and data directory."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from rich.console import Console

from controller.config import load_config
from controller.errors import UsageError
from controller.store import passphrase as pw
from controller.store.initialise import initialise


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "init",
        help="create the device's keys and data directory",
        description="Create the device's keys and data directory. The verification key "
        "is printed once: write it down, it is stored nowhere.",
    )
    p.add_argument("--config", type=Path, help="config file (default: built-in defaults)")
    p.add_argument("--data-dir", type=Path, help="data directory (default: device.data_dir)")
    p.add_argument("--passphrase-fd", type=int, metavar="N",
                   help="read the admin passphrase (one line) from file descriptor N")
    p.add_argument("--identity-out", type=Path, metavar="FILE",
                   help="also write the passphrase-protected identity to FILE (off-device copy)")
    p.add_argument("--no-identity-on-device", action="store_true",
                   help="keep no identity on the device (only --identity-out / recipients)")
    p.add_argument("--recipient", action="append", default=[], metavar="age1...",
                   help="extra age recipient (custodian) for epoch keys and media; repeatable")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    data_dir: Path = args.data_dir or cfg.device.data_dir
    needs_passphrase = not args.no_identity_on_device or args.identity_out is not None
    passphrase = None
    if needs_passphrase:
        passphrase = (pw.read_from_fd(args.passphrase_fd) if args.passphrase_fd is not None
                      else pw.prompt_new())
    console = Console(soft_wrap=True)
    fresh = not data_dir.exists()
    try:
        with console.status("creating keys (scrypt takes a few seconds)"):
            result = initialise(
                data_dir,
                passphrase=passphrase,
                identity_on_device=not args.no_identity_on_device,
                identity_out=args.identity_out,
                extra_recipients=args.recipient,
            )
    except OSError as exc:  # a read-only or missing parent, a full disk, ...
        _remove_unfinished(data_dir, fresh)
        where = exc.filename or data_dir
        raise UsageError(f"cannot initialise {data_dir}: {where}: "
                         f"{exc.strerror or exc}") from None
    except KeyboardInterrupt:  # Ctrl-C while the keys are made: leave nothing half-made
        _remove_unfinished(data_dir, fresh)
        raise
    console.print(f"initialised {result.data_dir}")
    console.print(f"record recipient: {result.record_recipient}")
    for extra in result.recipients[1:]:
        console.print(f"extra recipient:  {extra}")
    console.print(f"signing key (Ed25519, public): {result.signing_public_key}")
    if result.identity_out is not None:
        console.print(f"identity copy written to {result.identity_out}")
    console.print(
        "\n[bold]Verification key[/bold] - shown only this once; write it down and keep it "
        "off the device. `edgewarden verify --verification-key KEY` needs it."
    )
    # printed without markup so the key is copied exactly
    sys.stdout.write(f"  {result.verification_key}\n")
    console.print(f"  fingerprint: {result.verification_fingerprint}")
    return 0


def _remove_unfinished(data_dir: Path, fresh: bool) -> None:
    """Remove a data directory this command created and did not finish (never an old one)."""
    if fresh:
        shutil.rmtree(data_dir, ignore_errors=True)
