"""HMAC-SHA256 (RFC 2104) on top of `hashlib.sha256`: MicroPython ships no `hmac` module."""

try:
    import hashlib
except ImportError:  # pragma: no cover - very old MicroPython ports
    import uhashlib as hashlib  # type: ignore[no-redef]

_BLOCK = 64


class HmacKey:
    """A key with its padded inner/outer blocks precomputed (the node tags every frame)."""

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key + b"\x00" * (_BLOCK - len(key))
        self._ipad = bytes([b ^ 0x36 for b in key])
        self._opad = bytes([b ^ 0x5C for b in key])

    def digest(self, msg: bytes) -> bytes:
        inner = hashlib.sha256(self._ipad)
        inner.update(msg)
        outer = hashlib.sha256(self._opad)
        outer.update(inner.digest())
        return outer.digest()


def hmac_sha256(key: bytes, msg: bytes) -> bytes:
    return HmacKey(key).digest(msg)


def equal(a: bytes, b: bytes) -> bool:
    """Compare tags without an early exit on the first differing byte."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0
