"""The forward-secure sealing key schedule (pure; no I/O).

K[0] is a random 32-byte seed, shown once to the admin as the verification key.
K[i+1] = HMAC-SHA256(K[i], "edgewarden/evolve/v1"); the device keeps only the current
K[i] and erases the previous one, so a thief of the device cannot forge seals of past
epochs. Seals are HMACs under seal_key(K[i]) = HMAC-SHA256(K[i], "edgewarden/seal/v1"),
a separate derivation so the evolving state itself is never used as a MAC key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

KEY_BYTES = 32
_EVOLVE = b"edgewarden/evolve/v1"
_SEAL = b"edgewarden/seal/v1"
_FINGERPRINT = b"edgewarden/verification-key-fingerprint/v1"
VERIFICATION_KEY_PREFIX = "ewvk1-"


def evolve(key: bytes) -> bytes:
    """K[i] -> K[i+1]: one-way, so K[i+1] reveals nothing about K[i]."""
    return hmac.new(key, _EVOLVE, hashlib.sha256).digest()


def seal_key(key: bytes) -> bytes:
    """The MAC key of an epoch, derived from its evolving state K[i]."""
    return hmac.new(key, _SEAL, hashlib.sha256).digest()


def key_at(seed: bytes, epoch: int) -> bytes:
    """K[epoch] recomputed from the verification key K[0]."""
    if epoch < 0:
        raise ValueError("epoch must not be negative")
    key = seed
    for _ in range(epoch):
        key = evolve(key)
    return key


class KeySchedule:
    """Walks K[0], K[1], ... forward with a cache of the last position (for verifiers)."""

    def __init__(self, seed: bytes) -> None:
        self._epoch = 0
        self._key = seed
        self._seed = seed

    def seal_key_for(self, epoch: int) -> bytes:
        if epoch < self._epoch:
            self._epoch, self._key = 0, self._seed
        while self._epoch < epoch:
            self._key = evolve(self._key)
            self._epoch += 1
        return seal_key(self._key)

    def __repr__(self) -> str:
        return f"KeySchedule(epoch={self._epoch})"


def fingerprint(seed: bytes) -> str:
    """A short public name of the verification key (safe to store and print)."""
    digest = hashlib.sha256(_FINGERPRINT + seed).hexdigest()[:16]
    return ":".join(digest[i : i + 4] for i in range(0, 16, 4))


def encode_verification_key(seed: bytes) -> str:
    """`ewvk1-` + base32 in groups of 4 with a 2-byte checksum, easy to copy by hand."""
    check = hashlib.sha256(seed).digest()[:2]
    text = base64.b32encode(seed + check).decode("ascii").rstrip("=").lower()
    return VERIFICATION_KEY_PREFIX + "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def decode_verification_key(text: str) -> bytes:
    """Parse what `encode_verification_key` printed; ValueError (naming no bytes) if bad."""
    t = text.strip().lower()
    if not t.startswith(VERIFICATION_KEY_PREFIX):
        raise ValueError(f"a verification key starts with {VERIFICATION_KEY_PREFIX!r}")
    body = t[len(VERIFICATION_KEY_PREFIX) :].replace("-", "").replace(" ", "").upper()
    body += "=" * (-len(body) % 8)
    try:
        raw = base64.b32decode(body)
    except ValueError:
        raise ValueError("the verification key has characters outside base32") from None
    if len(raw) != KEY_BYTES + 2:
        raise ValueError("the verification key has the wrong length")
    seed, check = raw[:KEY_BYTES], raw[KEY_BYTES:]
    canonical = encode_verification_key(seed)[len(VERIFICATION_KEY_PREFIX) :].replace("-", "")
    if not hmac.compare_digest(hashlib.sha256(seed).digest()[:2], check) or (
        canonical.upper() != body.rstrip("=")
    ):
        raise ValueError("the verification key has a typo (checksum mismatch)")
    return seed
