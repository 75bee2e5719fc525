"""Frame authentication in the spirit of MAVLink 2 signing, sans-IO.

* A 32-byte secret key per node (provisioned by pairing).
* Handshake frames (HELLO, WELCOME) are tagged under ``K_hs = HMAC(K, "edgewarden hs v1")``.
* Every other signed frame is tagged under a per-session key
  ``K_s = HMAC(K, "edgewarden session v1" || node_nonce || session_nonce)``, so a tag is bound
  to one session: frames recorded in an earlier session never verify in a later one.
* tag = HMAC-SHA256(key, header || payload)[:TAG_LEN]; the header carries the direction bit,
  so a controller frame reflected back to the controller does not verify as a node frame.
* A counter per (node, session, direction) must increase; :class:`ReplayWindow` accepts a
  counter once, tolerating reordering within a small window (as IPsec/DTLS do).
"""

from __future__ import annotations

import hashlib
import hmac

from firmware_bridge.frame import (
    FLAG_FROM_CONTROLLER,
    FLAG_SIGNED,
    TAG_LEN,
    Frame,
    encode_frame,
    header_bytes,
)
from firmware_bridge.reasons import RejectReason

KEY_LEN = 32
DEFAULT_REPLAY_WINDOW = 64


class SecretKey:
    """32 key bytes that never show up in a repr, str or traceback."""

    __slots__ = ("_raw",)

    def __init__(self, raw: bytes) -> None:
        if len(raw) != KEY_LEN:
            raise ValueError(f"a node key is {KEY_LEN} bytes, got {len(raw)}")
        self._raw = bytes(raw)

    def __repr__(self) -> str:
        return "SecretKey(<redacted>)"

    __str__ = __repr__

    def reveal(self) -> bytes:
        """The raw bytes, for HMAC and for writing the key file; never log them."""
        return self._raw

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretKey) and hmac.compare_digest(self._raw, other._raw)

    def __hash__(self) -> int:
        return hash(hashlib.sha256(self._raw).digest())


def handshake_key(key: SecretKey) -> bytes:
    return hmac.digest(key.reveal(), b"edgewarden hs v1", "sha256")


def session_key(key: SecretKey, node_nonce: bytes, session_nonce: bytes) -> bytes:
    return hmac.digest(key.reveal(), b"edgewarden session v1" + node_nonce + session_nonce,
                       "sha256")


def pair_confirmation(key: SecretKey, pair_nonce: bytes) -> bytes:
    """What a node sends back after pairing: proves it holds the key it was given."""
    return hmac.digest(key.reveal(), b"edgewarden pair v1" + pair_nonce, "sha256")[:16]


def compute_tag(tag_key: bytes, signed_part: bytes) -> bytes:
    return hmac.digest(tag_key, signed_part, "sha256")[:TAG_LEN]


def tag_matches(tag_key: bytes, frame: Frame) -> bool:
    """Constant-time check of a frame's tag; False for unsigned frames."""
    if frame.tag is None:
        return False
    return hmac.compare_digest(compute_tag(tag_key, frame.signed_part), frame.tag)


def build_signed_frame(
    tag_key: bytes,
    node_id: bytes,
    counter: int,
    msg_type: int,
    payload: bytes,
    from_controller: bool,
) -> bytes:
    """Wire bytes of a signed frame (COBS-encoded, delimiter included)."""
    flags = FLAG_SIGNED | (FLAG_FROM_CONTROLLER if from_controller else 0)
    part = header_bytes(flags, node_id, counter, msg_type, payload)
    return encode_frame(part, compute_tag(tag_key, part))


def build_unsigned_frame(
    node_id: bytes, counter: int, msg_type: int, payload: bytes, from_controller: bool
) -> bytes:
    flags = FLAG_FROM_CONTROLLER if from_controller else 0
    return encode_frame(header_bytes(flags, node_id, counter, msg_type, payload), None)


class ReplayWindow:
    """Sliding-window anti-replay (RFC 4303 style) over a 32-bit counter.

    `check` is side-effect free; call `commit` only after the tag verified, so forged
    frames cannot advance the window.
    """

    def __init__(self, size: int = DEFAULT_REPLAY_WINDOW) -> None:
        if size < 1:
            raise ValueError("replay window must be at least 1")
        self.size = size
        self.highest = -1
        self._seen = 0  # bit i set: counter highest - i was accepted

    def check(self, counter: int) -> RejectReason | None:
        if counter > self.highest:
            return None
        offset = self.highest - counter
        if offset >= self.size:
            return RejectReason.OUT_OF_WINDOW
        if self._seen >> offset & 1:
            return RejectReason.REPLAYED
        return None

    def commit(self, counter: int) -> None:
        if counter > self.highest:
            shift = counter - self.highest
            self._seen = ((self._seen << shift) | 1) & ((1 << self.size) - 1)
            self.highest = counter
        else:
            self._seen |= 1 << (self.highest - counter)
