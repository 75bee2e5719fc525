"""The epoch phase table, every pair, and the one-writer lock between two openers."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from controller.config import StoreConfig
from controller.store import RecordWriter
from controller.store.epoch_phase import NEXT_STEP, IllegalStep, Phase, Step, after
from controller.store.lock import StoreLock, StoreLocked, current_holder

from .conftest import Store


def test_every_phase_and_step() -> None:
    legal = {(Phase.OPEN, Step.END_SEALED): Phase.ENDED,
             (Phase.ENDED, Step.KEY_EVOLVED): Phase.EVOLVED,
             (Phase.EVOLVED, Step.EPOCH_OPENED): Phase.OPEN}
    for phase, step in itertools.product(Phase, Step):
        if (phase, step) in legal:
            assert after(phase, step) is legal[(phase, step)]
        else:
            with pytest.raises(IllegalStep):
                after(phase, step)
    # the rollover order goes round once
    phase = Phase.OPEN
    for _ in Phase:
        phase = after(phase, NEXT_STEP[phase])
    assert phase is Phase.OPEN


def test_a_second_writer_is_refused_before_it_touches_the_store(
    store: Store, cfg: StoreConfig, tmp_path: Path
) -> None:
    with RecordWriter.open(store.data_dir, cfg, command="test") as w:
        assert w.append("alarm", "n", "warning", {"i": 1}).wait_durable(5)
        db = store.data_dir / "records.db"
        before = (db.stat().st_mtime_ns, (store.data_dir / "keys" / "seal.key").read_bytes())
        with pytest.raises(StoreLocked, match=r"in use by pid \d+ \(`edgewarden test`\)"):
            RecordWriter.open(store.data_dir, cfg)
        with pytest.raises(StoreLocked):
            StoreLock.acquire(store.data_dir, "run", runtime_dir=tmp_path / "run")
        assert (db.stat().st_mtime_ns, (store.data_dir / "keys" / "seal.key").read_bytes()) \
            == before
        holder = current_holder(store.data_dir)
        assert holder is not None and holder.command == "test"
        assert w.append("alarm", "n", "warning", {"i": 2}).wait_durable(5)
    assert current_holder(store.data_dir) is None
    assert (store.data_dir / "writer.lock").stat().st_mode & 0o777 == 0o600
    with RecordWriter.open(store.data_dir, cfg):
        pass
