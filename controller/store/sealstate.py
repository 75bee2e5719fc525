"""The device's current sealing key K[i] on disk, and its erasure when it evolves.

File `keys/seal.key` (0600): b"EWSK1" | epoch (8 bytes) | K[i] (32) | sha256 check (8).
Evolving writes K[i+1] to `seal.key.new`, zeroes the old file in place, fsyncs, and
renames; a crash in between leaves a zeroed `seal.key` and a valid `.new`, which
`load` then takes. K[i] is never kept once K[i+1] is durable.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, field
from pathlib import Path

from controller.errors import EdgewardenError
from controller.store import keyschedule
from controller.store.layout import replace_secret, write_new_file

_MAGIC = b"EWSK1"
_STATE = struct.Struct(">5sQ32s")


@dataclass(frozen=True)
class SealState:
    epoch: int
    key: bytes = field(repr=False)

    def encode(self) -> bytes:
        body = _STATE.pack(_MAGIC, self.epoch, self.key)
        return body + hashlib.sha256(body).digest()[:8]

    def evolved(self) -> SealState:
        return SealState(self.epoch + 1, keyschedule.evolve(self.key))


def _decode(data: bytes) -> SealState | None:
    if len(data) != _STATE.size + 8:
        return None
    body, check = data[: _STATE.size], data[_STATE.size :]
    if not hmac.compare_digest(hashlib.sha256(body).digest()[:8], check):
        return None
    magic, epoch, key = _STATE.unpack(body)
    if magic != _MAGIC:
        return None
    return SealState(epoch, key)


def create(path: Path, seed: bytes) -> None:
    write_new_file(path, SealState(0, seed).encode())


def load(path: Path) -> SealState:
    """The current state; EdgewardenError naming the file (never the key) when unusable."""
    candidates = [path, path.with_name(path.name + ".new")]
    for candidate in candidates:
        try:
            state = _decode(candidate.read_bytes())
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise EdgewardenError(
                f"{candidate}: cannot read sealing key ({exc.strerror})"
            ) from None
        if state is not None:
            return state
    raise EdgewardenError(f"{path}: sealing key missing or damaged")


def store(path: Path, state: SealState) -> None:
    """Durably replace the state, erasing the previous key first."""
    replace_secret(path, state.encode())
