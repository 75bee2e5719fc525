"""Would payload encryption fit the node's budget? The firmware's frame build (COBS, HMAC
via hashlib, CRC) against a pure-Python ChaCha20-Poly1305 seal of the same 4-reading
payload, both under CPython. MicroPython on an RP2040 has hashlib.sha256 in C but no
ChaCha20 or Poly1305, so an AEAD there would be pure Python like this one (checked
against the `cryptography` package for correctness).

Run: uv run python bench/node_aead_cost.py
"""

from __future__ import annotations

import os
import struct
import time

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from firmware_bridge.node import wire
from firmware_bridge.node.hmac_sha256 import HmacKey

MASK = 0xFFFFFFFF
SIGMA = (0x61707865, 0x3320646E, 0x79622D32, 0x6B206574)
ROUNDS = ((0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15),
          (0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14))


def _rotl(v: int, n: int) -> int:
    return ((v << n) & MASK) | (v >> (32 - n))


def _quarter(s: list[int], a: int, b: int, c: int, d: int) -> None:
    s[a] = (s[a] + s[b]) & MASK
    s[d] = _rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & MASK
    s[b] = _rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & MASK
    s[d] = _rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & MASK
    s[b] = _rotl(s[b] ^ s[c], 7)


def chacha_block(key: bytes, counter: int, nonce: bytes) -> bytes:
    state = [*SIGMA, *struct.unpack("<8I", key), counter, *struct.unpack("<3I", nonce)]
    w = state[:]
    for _ in range(10):
        for q in ROUNDS:
            _quarter(w, *q)
    return struct.pack("<16I", *[(a + b) & MASK for a, b in zip(w, state, strict=True)])


def poly1305(key: bytes, msg: bytes) -> bytes:
    r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    s = int.from_bytes(key[16:], "little")
    p = (1 << 130) - 5
    acc = 0
    for i in range(0, len(msg), 16):
        acc = (acc + int.from_bytes(msg[i:i + 16] + b"\x01", "little")) * r % p
    return ((acc + s) & ((1 << 128) - 1)).to_bytes(16, "little")


def _pad16(b: bytes) -> bytes:
    return b + bytes(-len(b) % 16)


def seal(key: bytes, nonce: bytes, plain: bytes, aad: bytes) -> bytes:
    """RFC 8439 ChaCha20-Poly1305 encryption."""
    one_time = chacha_block(key, 0, nonce)[:32]
    stream = b"".join(chacha_block(key, 1 + i, nonce) for i in range((len(plain) + 63) // 64))
    ct = bytes(a ^ b for a, b in zip(plain, stream, strict=False))
    tag = poly1305(one_time, _pad16(aad) + _pad16(ct) + struct.pack("<QQ", len(aad), len(ct)))
    return ct + tag


def main(n: int = 3000) -> None:
    key = HmacKey(os.urandom(32))
    uid = os.urandom(8)
    payload = wire.batch_payload([wire.reading_entry(i, 1_700_000_000_000, 20.0 + i)
                                  for i in range(4)])
    t = time.perf_counter()
    for c in range(n):
        wire.build(uid, c, wire.READING_BATCH, payload, key)
    build_us = (time.perf_counter() - t) / n * 1e6
    k, nonce, aad = os.urandom(32), os.urandom(12), os.urandom(17)
    assert seal(k, nonce, payload, aad) == ChaCha20Poly1305(k).encrypt(nonce, payload, aad)
    t = time.perf_counter()
    for _ in range(n):
        seal(k, nonce, payload, aad)
    seal_us = (time.perf_counter() - t) / n * 1e6
    print(f"payload {len(payload)} bytes (4-reading batch), CPython:")
    print(f"  baseline: firmware frame build (COBS + HMAC + CRC): {build_us:.0f} us")
    print(f"  pure-Python ChaCha20-Poly1305 seal: {seal_us:.0f} us "
          f"({seal_us / build_us:.1f}x the baseline)")


if __name__ == "__main__":
    main()
