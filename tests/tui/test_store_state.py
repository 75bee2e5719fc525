"""The dashboard shows a failing record store at once (the real service, Pilot)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.service_run.store_faults import service_on_small_fs, wait_up
from tests.tui.conftest import run_async
from tests.tui.test_flows import text_of, until
from tui.app import EdgewardenApp


@run_async
async def test_a_failing_store_shows_on_the_dashboard_with_its_alarm(tmp_path: Path) -> None:
    with service_on_small_fs(tmp_path, 64, "reserved_space_mb = 2\nshed_margin_mb = 2") as svc:
        wait_up(svc)
        app = EdgewardenApp(svc.socket_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.connected, tries=200)
            await until(pilot, lambda: "records" in text_of(app, "#health"), tries=400)
            assert "store: failing" not in text_of(app, "#health")
            with sqlite3.connect(svc.root / "data" / "records.db", timeout=10) as c:
                seal_no = c.execute("SELECT MAX(seal_no) FROM seals").fetchone()[0] + 1
                c.execute("INSERT INTO seals VALUES (?, 0, 'batch', 0, x'00', 0, x'00', "
                          "x'00')", (seal_no,))
            await until(pilot, lambda: "store: failing" in text_of(app, "#health"), tries=400)
            health = text_of(app, "#health")
            assert "UNIQUE constraint failed" in health and "not stored" in health
            await until(pilot, lambda: "store/fault" in text_of(app, "#alarm-banner"),
                        tries=400)
            with sqlite3.connect(svc.root / "data" / "records.db", timeout=10) as c:
                c.execute("DELETE FROM seals WHERE seal_no = ?", (seal_no,))
            await until(pilot, lambda: "store: failing" not in text_of(app, "#health"),
                        tries=400)
        assert svc.stop() == 0
