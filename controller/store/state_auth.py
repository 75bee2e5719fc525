"""Saved state files the service trusts only when the record chain vouches for them.

Each save of `anomaly-state.json` is preceded by an audit record whose header source is
`state/anomaly/<sha256 of the file's bytes>`: the header is in clear and in the hash
chain, so the digest is authenticated like any record. At start the file is used only
when it matches the last such record; `verify` checks the same. `judge` is pure.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from controller.store.reader import StoreReader

ANOMALY_PREFIX = "state/anomaly/"


def source_for(data: bytes) -> str:
    return ANOMALY_PREFIX + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Verdict:
    trusted: bool
    problem: str | None  # one line naming the file and what is wrong, when there is one


def judge(path: Path, data: bytes | None, last: tuple[int, str] | None) -> Verdict:
    """Whether `data` (None: no file) is the state last recorded (seq, source) in the chain."""
    if data is None:
        if last is None:
            return Verdict(False, None)  # never saved: a fresh start
        return Verdict(False, f"{path}: missing, but record {last[0]} says it was saved "
                              "(deleted while the service was stopped?)")
    if last is None:
        return Verdict(False, f"{path}: no record of the chain vouches for it (planted or "
                              "edited, or saved by a version before this check)")
    if last[1] != source_for(data):
        return Verdict(False, f"{path}: does not match the digest recorded at record "
                              f"{last[0]} (edited while the service was stopped?)")
    return Verdict(True, None)


def last_recorded(reader: StoreReader, prefix: str = ANOMALY_PREFIX) -> tuple[int, str] | None:
    return reader.last_source_starting(prefix)


def judge_file(db_path: Path, path: Path) -> Verdict:
    """The I/O around `judge`: read the file and the store's last state record."""
    try:
        data: bytes | None = path.read_bytes()
    except FileNotFoundError:
        data = None
    with StoreReader(db_path) as reader:
        last = last_recorded(reader)
    return judge(path, data, last)
