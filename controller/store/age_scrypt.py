"""Opening an age file encrypted to a passphrase (age's scrypt recipient), sans-IO.

Why not `pyrage.passphrase.decrypt`: the age library refuses a file whose scrypt work
factor exceeds *this machine's speed right now* plus 4 (it times scrypt at each call),
and reports that exactly like a wrong passphrase. On a busy Pi (camera, detector, other
logins) the right passphrase was then "wrong" about one time in six. Here the limit is a
constant (`MAX_WORK_FACTOR`), the passphrase is bytes, and a wrong passphrase, a too
costly file and a damaged file are three different errors. The format is age v1
(https://age-encryption.org/v1): header, scrypt stanza, header HMAC, STREAM payload.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from controller.errors import EdgewardenError

MAX_WORK_FACTOR = 22  # log2(N): 4 GiB of scrypt memory at r=8; age picks ~1 s (15-18)
_INTRO = b"age-encryption.org/v1\n"
_SALT_LABEL = b"age-encryption.org/v1/scrypt"
_CHUNK = 64 * 1024
_TAG = 16


class AgeFormatError(ValueError):
    """Not a well-formed passphrase-encrypted age file."""


class WrongPassphrase(EdgewardenError):
    """The passphrase does not open the file (the message names no secret).

    The one wrong-passphrase error: `identity.decrypt_identity` raises it naming the
    file, and the TUI's unlock catches it."""


class WorkFactorTooHigh(ValueError):
    """The file asks for more scrypt work than MAX_WORK_FACTOR."""


def _b64(text: bytes) -> bytes:
    if b"=" in text or not text.isascii():
        raise AgeFormatError("bad base64 in the header")
    try:
        return base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except ValueError:
        raise AgeFormatError("bad base64 in the header") from None


def _hkdf(key: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt or None, info).derive(key)


_ARMOR_BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----"
_ARMOR_END = b"-----END AGE ENCRYPTED FILE-----"


def _dearmor(data: bytes) -> bytes:
    """The binary file inside age's ASCII armor (a strict PEM); binary input unchanged."""
    text = data.strip()
    if not text.startswith(_ARMOR_BEGIN):
        return data
    if not text.endswith(_ARMOR_END):
        raise AgeFormatError("armored file without its END line")
    inner = text[len(_ARMOR_BEGIN):-len(_ARMOR_END)].replace(b"\r\n", b"\n").split()
    try:
        return base64.b64decode(b"".join(inner), validate=True)
    except ValueError:
        raise AgeFormatError("bad base64 in the armor") from None


def work_factor(data: bytes) -> int:
    """The scrypt work factor (log2 N) the file's stanza names."""
    return _parse(data)[1]


def _parse(data: bytes) -> tuple[bytes, int, bytes, bytes, bytes, bytes]:
    """salt, work factor, wrapped key, header-for-MAC, MAC, payload."""
    data = _dearmor(data)
    if not data.startswith(_INTRO):
        raise AgeFormatError("not an age v1 file")
    end = data.find(b"\n---", len(_INTRO) - 1)
    if end < 0:
        raise AgeFormatError("no header MAC line")
    mac_line_end = data.find(b"\n", end + 1)
    if mac_line_end < 0:
        raise AgeFormatError("truncated header")
    header = data[:end + 4]  # through "---"
    mac_part = data[end + 4:mac_line_end]
    if not mac_part.startswith(b" "):
        raise AgeFormatError("bad header MAC line")
    mac = _b64(mac_part[1:])
    lines = data[len(_INTRO):end].split(b"\n")
    args = lines[0].split(b" ")
    if len(args) != 4 or args[0] != b"->" or args[1] != b"scrypt" or len(lines) < 2:
        raise AgeFormatError("the file is not encrypted to a passphrase (one scrypt stanza)")
    if not args[3].isdigit() or args[3].startswith(b"0") or len(args[3]) > 2:
        raise AgeFormatError("bad scrypt work factor")
    salt, wf = _b64(args[2]), int(args[3])
    body = _b64(b"".join(lines[1:]))
    if len(salt) != 16 or len(body) != 32 or any(len(x) > 64 for x in lines[1:]):
        raise AgeFormatError("bad scrypt stanza")
    return salt, wf, body, header, mac, data[mac_line_end + 1:]


def decrypt(data: bytes, passphrase: bytes) -> bytes:
    """The plaintext of `data`; raises WrongPassphrase, WorkFactorTooHigh or AgeFormatError."""
    salt, wf, body, header, mac, payload = _parse(data)
    if not 1 <= wf <= MAX_WORK_FACTOR:
        raise WorkFactorTooHigh(f"scrypt work factor {wf} is above the limit "
                                f"{MAX_WORK_FACTOR}")
    wrap_key = hashlib.scrypt(passphrase, salt=_SALT_LABEL + salt, n=1 << wf, r=8, p=1,
                              maxmem=129 * 8 * (1 << wf) + (1 << 20), dklen=32)
    try:
        file_key = ChaCha20Poly1305(wrap_key).decrypt(bytes(12), body, None)
    except InvalidTag:
        raise WrongPassphrase("wrong passphrase") from None
    expected = hmac.new(_hkdf(file_key, b"", b"header"), header, "sha256").digest()
    if not hmac.compare_digest(expected, mac):
        raise AgeFormatError("the header MAC does not match (damaged or altered file)")
    if len(payload) < 16 + _TAG:
        raise AgeFormatError("truncated payload")
    aead = ChaCha20Poly1305(_hkdf(file_key, payload[:16], b"payload"))
    stream = payload[16:]
    out = []
    counter = 0
    while True:
        chunk = stream[:_CHUNK + _TAG]
        stream = stream[_CHUNK + _TAG:]
        last = not stream
        nonce = counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")
        try:
            out.append(aead.decrypt(nonce, chunk, None))
        except InvalidTag:
            raise AgeFormatError("payload authentication failed (damaged file)") from None
        if last:
            return b"".join(out)
        counter += 1
