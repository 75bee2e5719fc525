"""The bundle manifest (bundle.json) and its Ed25519 signature (pure but for key parsing).

The manifest names every payload file with its SHA-256, the store, the selection and the
segment; the device signs its exact bytes with keys/signing.key. BagIt's own manifests
catch accidental damage; the signature ties the bundle to the device (a holder of the bag
cannot rewrite both files and manifest without the device's key).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

# 2: the selection and contents are signed apart (contents.json) and absences carry
# tombstones. 1 is refused, not verified with fewer checks: whoever holds the card's key
# could otherwise relabel a bundle as 1 to skip them (a downgrade).
BUNDLE_FORMAT = "edgewarden-bundle/2"
LEGACY_FORMATS = ("edgewarden-bundle/1",)
MANIFEST_NAME = "bundle.json"
SIGNATURE_NAME = "bundle.json.sig"
PUBLIC_KEY_NAME = "signing-key.pub"


def encode_manifest(doc: dict[str, Any]) -> bytes:
    """Canonical bytes: sorted keys, no floats lost (json repr round-trips)."""
    return json.dumps(doc, indent=1, sort_keys=True, allow_nan=False).encode("utf-8") + b"\n"


def load_signing_key(pem: bytes) -> Ed25519PrivateKey:
    """The device key from keys/signing.key (PKCS#8 PEM); ValueError names no bytes."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise ValueError("not a PKCS#8 PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 key")
    return key


def public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def sign(key: Ed25519PrivateKey, manifest: bytes) -> bytes:
    """The signature file's content: base64 of the 64-byte signature, one line."""
    return base64.b64encode(key.sign(manifest)) + b"\n"


def signature_is_valid(public_key_hex: str, manifest: bytes, signature_file: bytes) -> bool:
    try:
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex.strip()))
        public.verify(base64.b64decode(signature_file.strip(), validate=True), manifest)
    except (ValueError, InvalidSignature):
        return False
    return True
