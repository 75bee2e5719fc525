"""Record store throughput: encrypted + chained + sealed records/s with durable batches,
against a plain sqlite-utils insert of the same rows (same WAL/FULL durability, same
batch size) measured in the same run; then decrypting read throughput.

Run: uv run python bench/store_write.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import pyrage
import sqlite_utils

from controller.config import StoreConfig
from controller.store import HistoryReader, RecordWriter, initialise

BATCH = 1000


def rows(n: int) -> list[dict[str, object]]:
    return [
        {"t_wall": 1.7e9 + i * 0.01, "kind": "reading", "source": f"node{i % 4}/temp",
         "severity": "info", "body": {"value": 20.0 + (i % 100) / 10, "unit": "C", "seq": i}}
        for i in range(n)
    ]


def plain_insert(path: Path, data: list[dict[str, object]]) -> float:
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    table = db.table("records")
    start = time.perf_counter()
    for i in range(0, len(data), BATCH):
        with db.conn:  # one durable commit per batch
            # the same dict rows the store gets: sqlite-utils stores the body as JSON text
            table.insert_all(data[i : i + BATCH], batch_size=BATCH)
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


def store_insert(data_dir: Path, data: list[dict[str, object]]) -> float:
    # the writer commits one transaction per BATCH records while the caller keeps appending
    cfg = StoreConfig(commit_interval_ms=20, batch_max_records=BATCH, seal_every_records=BATCH)
    writer = RecordWriter.open(data_dir, cfg)
    start = time.perf_counter()
    last = None
    for r in data:
        last = writer.append(str(r["kind"]), str(r["source"]), str(r["severity"]),
                             r["body"], t_wall=float(r["t_wall"]))  # type: ignore[arg-type]
    assert last is not None and last.wait_durable(60)
    elapsed = time.perf_counter() - start
    writer.close()
    return elapsed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    data = rows(n)
    plain_times: list[float] = []
    store_times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        identity = pyrage.x25519.Identity.generate()
        # alternate the two, each into a fresh file, and keep the best of each (as timeit
        # does): the machine's noise only ever adds time
        for r in range(rounds):
            plain_times.append(plain_insert(base / f"plain{r}.db", data))
            initialise(base / f"store{r}", passphrase=None, identity_on_device=False,
                       extra_recipients=[str(identity.to_public())])
            store_times.append(store_insert(base / f"store{r}", data))
        start = time.perf_counter()
        with HistoryReader(base / "store0", identity) as reader:
            count = sum(1 for _ in reader.records())
        t_read = time.perf_counter() - start
    assert count == n
    t_plain, t_store = min(plain_times), min(store_times)
    plain_rate, store_rate, read_rate = n / t_plain, n / t_store, n / t_read
    print(f"records: {n}, durable batches of {BATCH} (WAL, synchronous=FULL), "
          f"best of {rounds} alternating rounds")
    print(f"plain sqlite-utils insert:        {plain_rate:10,.0f} records/s "
          f"(rounds: {', '.join(f'{n / t:,.0f}' for t in plain_times)})")
    print(f"encrypted+chained+sealed store:   {store_rate:10,.0f} records/s "
          f"(target >= 20,000; rounds: {', '.join(f'{n / t:,.0f}' for t in store_times)})")
    print(f"ratio store/plain:                {store_rate / plain_rate:10.2f} (target >= 0.5)")
    print(f"decrypting read (HistoryReader):  {read_rate:10,.0f} records/s")


if __name__ == "__main__":
    main()
