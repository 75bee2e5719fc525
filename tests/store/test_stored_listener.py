"""A record's `on_stored` listener hears its sequence number once it is durable, or None.

The service sends an alarm's or event's live notice from this listener, so the notice's
`seq` is the record's id in the store and no notice names a record that is then lost.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from controller.config import StoreConfig
from controller.store import HistoryReader, RecordWriter
from tests.store.conftest import Store


def test_the_listener_hears_the_durable_seq_in_order(store: Store, cfg: StoreConfig) -> None:
    heard: list[tuple[int | None, bool]] = []
    done = threading.Event()
    slow = replace(cfg, commit_interval_ms=60_000)  # only the listener's record commits early
    with RecordWriter.open(store.data_dir, slow) as w:
        tickets = []
        for i in range(3):
            def told(seq: int | None, i: int = i) -> None:
                heard.append((seq, tickets[i].durable))
                if len(heard) == 3:
                    done.set()
            w.append("reading", "n/t", "info", {"v": 0})
            tickets.append(w.append("alarm", "n/t", "warning", {"n": i}, on_stored=told))
        assert done.wait(10), "no listener called without waiting for the batch interval"
    assert [s for s, _ in heard] == [t.seq for t in tickets]
    assert all(durable for _, durable in heard), "told before the record was durable"
    assert heard == sorted(heard, key=lambda h: h[0] or 0)
    reader = HistoryReader(store.data_dir, store.identity)
    kinds = {r.seq: r.kind for r in reader.records()}
    assert all(kinds[s] == "alarm" for s, _ in heard if s is not None)


def test_a_record_not_stored_is_told_none(store: Store, cfg: StoreConfig) -> None:
    heard: list[int | None] = []
    full = replace(cfg, max_pending_records=1, commit_interval_ms=60_000)
    with RecordWriter.open(store.data_dir, full) as w:
        w.append("reading", "n/t", "info", {"v": 0})
        ticket = w.append("event", "cam", "warning", {"x": 1}, on_stored=heard.append)
        assert ticket.error == "record queue full"
    assert heard == [None]
