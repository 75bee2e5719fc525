"""`edgewarden init` without the terminal: create every key and the empty store."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyrage
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controller.errors import EdgewardenError, UsageError
from controller.store import database, keyschedule, sealstate
from controller.store.layout import (
    StoreLayout,
    fsync_dir,
    make_private_dir,
    write_manifest,
    write_new_file,
)
from controller.store.lock import StoreLock
from controller.store.passphrase import passphrase_bytes, weakness


@dataclass(frozen=True)
class InitResult:
    """What the admin is shown once; the verification key is never stored anywhere."""

    data_dir: Path
    record_recipient: str
    recipients: tuple[str, ...]
    signing_public_key: str
    verification_key: str = field(repr=False)
    verification_fingerprint: str
    identity_on_device: bool
    identity_out: Path | None


def parse_recipients(texts: Sequence[str]) -> list[pyrage.x25519.Recipient]:
    out = []
    for text in texts:
        try:
            out.append(pyrage.x25519.Recipient.from_str(text.strip()))
        except (pyrage.RecipientError, ValueError):
            raise UsageError(f"--recipient {text!r}: not an age X25519 recipient (age1...)") \
                from None
    return out


def initialise(
    data_dir: Path,
    *,
    passphrase: str | None,
    identity_on_device: bool = True,
    identity_out: Path | None = None,
    extra_recipients: Sequence[str] = (),
) -> InitResult:
    """Create keys/, records.db, media/ and store.json (last, marking success)."""
    layout = StoreLayout(data_dir)
    extras = parse_recipients(extra_recipients)
    keeps_identity = identity_on_device or identity_out is not None
    if not keeps_identity and not extras:
        raise UsageError(
            "--no-identity-on-device without --identity-out or --recipient: nobody could "
            "ever read the records"
        )
    if keeps_identity:
        if passphrase is None:
            raise UsageError("a passphrase is needed to protect the identity")
        passphrase_bytes(passphrase)  # the stated limit, before anything is made
        reason = weakness(passphrase)
        if reason:
            raise UsageError(f"passphrase refused: {reason}")
    _refuse_existing(layout)
    if identity_out is not None and identity_out.exists():
        raise UsageError(f"--identity-out {identity_out}: file exists; refusing to overwrite")
    try:
        make_private_dir(data_dir)
        # the one-writer lock: a second init (or a service) at the same time is refused
        with StoreLock.acquire(data_dir, "init"):
            _refuse_existing(layout)
            return _create(layout, passphrase, keeps_identity, identity_on_device,
                           identity_out, extras)
    except OSError as exc:
        where = exc.filename or data_dir
        raise EdgewardenError(f"{where}: cannot create the data directory's files "
                              f"({exc.strerror or exc})") from None


def _refuse_existing(layout: StoreLayout) -> None:
    data_dir = layout.data_dir
    if layout.manifest.exists():
        raise EdgewardenError(f"{data_dir}: already initialised (store.json exists); refusing")
    if layout.keys_dir.exists() or layout.database.exists():
        raise EdgewardenError(
            f"{data_dir}: holds keys/ or records.db from an unfinished init; move them away"
        )


def _create(layout: StoreLayout, passphrase: str | None, keeps_identity: bool,
            identity_on_device: bool, identity_out: Path | None,
            extras: list[pyrage.x25519.Recipient]) -> InitResult:
    data_dir = layout.data_dir
    make_private_dir(layout.keys_dir)
    make_private_dir(layout.media_dir)

    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    if keeps_identity:
        assert passphrase is not None
        secret_doc = (
            f"# edgewarden record identity\n# public key: {recipient}\n{identity}\n"
        ).encode("ascii")
        sealed = pyrage.passphrase.encrypt(secret_doc, passphrase, armored=True)
        if identity_on_device:
            write_new_file(layout.identity, sealed)
        if identity_out is not None:
            write_new_file(identity_out, sealed)
    del identity

    signing = Ed25519PrivateKey.generate()
    write_new_file(
        layout.signing_key,
        signing.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    signing_public = signing.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    ).hex()

    seed = secrets.token_bytes(keyschedule.KEY_BYTES)
    sealstate.create(layout.seal_state, seed)
    database.create(layout.database)

    # an identity nobody keeps would make its recipient useless: only the custodians then
    own = (recipient,) if keeps_identity else ()
    recipients = (*own, *(str(r) for r in extras))
    fp = keyschedule.fingerprint(seed)
    write_manifest(layout, {
        "format": 1,
        "store_id": os.urandom(16).hex(),
        "created": time.time(),
        "record_recipient": recipients[0],
        "recipients": list(recipients),
        "signing_public_key": signing_public,
        "verification_key_fingerprint": fp,
        "identity_on_device": identity_on_device,
    })
    fsync_dir(data_dir)
    return InitResult(
        data_dir=data_dir,
        record_recipient=recipients[0],
        recipients=recipients,
        signing_public_key=signing_public,
        verification_key=keyschedule.encode_verification_key(seed),
        verification_fingerprint=fp,
        identity_on_device=identity_on_device,
        identity_out=identity_out,
    )
