"""SIGKILL a writer at random instants: the store stays intact and nothing durable is lost."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from controller.store import verify_store
from tests.conftest import REPO_ROOT
from tests.store.conftest import Store

KILLS = 50


def _collect(stream: object, lines: list[str], first: threading.Event) -> None:
    for raw in stream:  # type: ignore[attr-defined]
        lines.append(raw.decode())
        first.set()


@pytest.mark.slow
def test_sigkill_at_random_instants_loses_nothing_durable(store: Store) -> None:
    rng = random.Random(3)
    durable: set[int] = set()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    for round_no in range(KILLS):
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.store.crash_writer", str(store.data_dir)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO_ROOT,
        )
        lines: list[str] = []
        first = threading.Event()
        reader = threading.Thread(target=_collect, args=(child.stdout, lines, first))
        reader.start()
        if round_no % 5 == 4:
            # anywhere from start-up through crash recovery to the first commits
            time.sleep(rng.uniform(0.05, 0.8))
        else:
            # while writing: after the first durable batch, at a random instant
            assert first.wait(60), child.stderr.read().decode() if child.stderr else ""
            time.sleep(rng.uniform(0.0, 0.25))
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        reader.join(30)
        err = child.stderr.read().decode() if child.stderr else ""
        assert child.returncode == -signal.SIGKILL, err
        # each line is one write(2) below PIPE_BUF, so a line is either whole or absent
        for line in lines:
            durable.update(int(x) for x in line.split())
        with sqlite3.connect(store.data_dir / "records.db") as c:
            assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            present = {r[0] for r in c.execute("SELECT seq FROM records")}
        missing = durable - present
        assert not missing, f"round {round_no}: durable records lost: {sorted(missing)[:10]}"
        report = verify_store(store.data_dir, store.seed)
        assert report.ok, f"round {round_no}: {report.problems}"
    assert len(durable) > KILLS  # the writer really wrote between kills
    final = verify_store(store.data_dir, store.seed, store.identity)
    assert final.ok and final.aead_checked >= len(durable)
