"""`status` shows the checkpoint the writer last signed and where to copy it from."""

from __future__ import annotations

import io
from pathlib import Path

import msgspec
from rich.console import Console

from controller.cli.status_view import print_status
from controller.config import StoreConfig
from controller.control import schema
from controller.store import RecordWriter
from tests.service.status_sample import sample_status, sample_store

from .conftest import Store


def test_status_names_the_last_checkpoint_and_its_file(store: Store, cfg: StoreConfig) -> None:
    with RecordWriter.open(store.data_dir, cfg) as w:
        assert w.append("alarm", "gate/door", "critical", {"door": 1}).wait_durable(10)
        cp = w.checkpoints.status()
    assert cp is not None and cp["record"] == 1 and Path(cp["file"]).exists()
    out = io.StringIO()
    status = sample_status(time=cp["time"] + 5, store=sample_store(
        checkpoint=msgspec.convert(cp, schema.Checkpoint)))
    print_status(status, Console(file=out, width=200, color_system=None))
    text = out.getvalue()
    assert f"seal {cp['seal']}, record 1, epoch {cp['epoch']}" in text
    assert f"keep a copy of {cp['file']}" in text
