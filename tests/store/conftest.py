"""Fixtures of the record store tests: a fresh store with a custodian identity."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyrage
import pytest

from controller.config import StoreConfig
from controller.store import RecordWriter, initialise
from controller.store.keyschedule import decode_verification_key


@dataclass
class Store:
    data_dir: Path
    identity: pyrage.x25519.Identity
    seed: bytes
    verification_key: str


def make_store(tmp_path: Path) -> Store:
    """A store whose only reader is a custodian identity (no slow scrypt step)."""
    identity = pyrage.x25519.Identity.generate()
    data_dir = tmp_path / "data"
    result = initialise(
        data_dir, passphrase=None, identity_on_device=False,
        extra_recipients=[str(identity.to_public())],
    )
    return Store(data_dir, identity, decode_verification_key(result.verification_key),
                 result.verification_key)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return make_store(tmp_path)


@pytest.fixture
def cfg() -> StoreConfig:
    return StoreConfig(commit_interval_ms=5, seal_every_records=50, reserved_space_mb=1,
                       shed_margin_mb=1)


@pytest.fixture
def writer(store: Store, cfg: StoreConfig) -> Iterator[RecordWriter]:
    w = RecordWriter.open(store.data_dir, cfg)
    yield w
    w.close()


def fill(store: Store, cfg: StoreConfig, epochs: int = 3, per_epoch: int = 120) -> None:
    """Write several epochs (each restart starts one) of readings and alarms."""
    for e in range(epochs):
        with RecordWriter.open(store.data_dir, cfg) as w:
            tickets = [
                w.append("alarm" if i % 10 == 0 else "reading", f"node{e}/temp", "info",
                         {"value": i, "epoch": e})
                for i in range(per_epoch)
            ]
            assert tickets[-1].wait_durable(10)
