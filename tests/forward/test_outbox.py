"""The outbox: durable, ordered, bounded with readings shed first and alarms never."""

from __future__ import annotations

from pathlib import Path

from controller.forward.outbox import Outbox
from controller.forward.translate import MessageClass, Outgoing


def msg(klass: MessageClass, i: int, topic: str | None = None) -> Outgoing:
    return Outgoing(topic or f"t/{klass}/{i}", f"{klass}{i}".encode(), klass != "event",
                    klass, f"s:{i}")


def test_messages_and_cursor_survive_reopening_in_order(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "state" / "outbox.sqlite", 100)
    box.put([msg("alarm", 1), msg("event", 2)], "s", 2)
    box.put([msg("alarm", 3)], "s", 3)
    box.close()
    assert oct((tmp_path / "state").stat().st_mode & 0o777) == "0o700"
    assert oct((tmp_path / "state" / "outbox.sqlite").stat().st_mode & 0o777) == "0o600"
    box = Outbox(tmp_path / "state" / "outbox.sqlite", 100)
    assert box.cursor() == ("s", 3)
    stored = box.peek(10)
    assert [s.message.payload for s in stored] == [b"alarm1", b"event2", b"alarm3"]
    box.delivered(stored[1].n)
    assert [s.message.payload for s in box.peek(10)] == [b"alarm3"] and len(box) == 1


def test_full_outbox_sheds_readings_first_and_never_alarms(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.sqlite", 4)
    box.put([msg("reading", 1), msg("event", 2), msg("reading", 3), msg("alarm", 4)], "s", 4)
    box.put([msg("alarm", 5)], "s", 5)  # sheds reading 1
    box.put([msg("event", 6)], "s", 6)  # sheds reading 3
    box.put([msg("reading", 7)], "s", 7)  # nothing below a reading: refused
    box.put([msg("alarm", 8)], "s", 8)  # sheds event 2
    box.put([msg("alarm", 9), msg("alarm", 10)], "s", 10)  # sheds event 6, then over
    assert [s.message.payload for s in box.peek(10)] == [
        b"alarm4", b"alarm5", b"alarm8", b"alarm9", b"alarm10"]
    assert (box.stats.shed, box.stats.refused, box.stats.over_bound) == (4, 1, 1)
    assert box.cursor() == ("s", 10)


def test_a_newer_reading_replaces_the_undelivered_one_of_its_channel(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.sqlite", 10)
    box.put([msg("reading", 1, "sensor/a"), msg("alarm", 2), msg("reading", 3, "sensor/a")],
            "s", 3)
    assert [s.message.payload for s in box.peek(10)] == [b"alarm2", b"reading3"]


def test_the_newest_record_taken_survives_reopening_and_old_outboxes_gain_it(
        tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    import sqlite3

    with sqlite3.connect(path) as db:  # an outbox of the release before record ids
        db.execute("CREATE TABLE cursor (one INTEGER PRIMARY KEY CHECK (one = 1), "
                   "stream TEXT, seq INTEGER NOT NULL)")
        db.execute("INSERT INTO cursor VALUES (1, 's', 9)")
    box = Outbox(path, 100)
    assert box.cursor() == ("s", 9) and box.last_record() == 0
    box.put([msg("alarm", 10)], "s", 10, 4321)
    box.close()
    box = Outbox(path, 100)
    assert (box.cursor(), box.last_record()) == (("s", 10), 4321)
