"""Child process of the crash test: writes records and prints the ids it was told are
durable (one line per durable batch), until it is killed."""

from __future__ import annotations

import sys

from controller.config import StoreConfig
from controller.store import RecordWriter


def main() -> None:
    cfg = StoreConfig(commit_interval_ms=2, seal_every_records=7, epoch_seconds=1)
    writer = RecordWriter.open(sys.argv[1], cfg)
    n = 0
    while True:
        tickets = [
            writer.append("alarm" if (n + i) % 5 == 0 else "reading", "node/temp", "info",
                          {"n": n + i})
            for i in range(13)
        ]
        n += 13
        tickets[-1].wait_durable()
        print(" ".join(str(t.seq) for t in tickets), flush=True)


if __name__ == "__main__":
    main()
