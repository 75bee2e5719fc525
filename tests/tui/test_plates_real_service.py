"""The Plates screen on the real service (`edgewarden run`): a gate camera reads a synthetic
Nigerian plate on the watch list; the TUI lists the read with its verdict, and after
unlock the plate and its crop, found by a near search; the register shows the entry."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input

from controller.plates import register_file
from controller.plates.register import Register, make_entry
from controller.store import initialise
from tests.plates.gate_site import write_drive_through, write_gate_config
from tests.service_run.service_process import running_service
from tests.tui.conftest import run_async
from tests.tui.test_flows import table_text, text_of, until
from tui.app import EdgewardenApp
from tui.screens.plates import PlatesScreen

PLATE = "KJA-407XY"
PASSPHRASE = "plates screen passphrase"


def gate_site(root: Path) -> Path:
    """A store with its identity on the device, the plate on the watch list, and a gate
    camera whose image folder shows the vehicle drive in, stop and leave."""
    data = root / "data"
    initialise(data, passphrase=PASSPHRASE)
    register_file.save(data / register_file.FILE_NAME, Register([
        make_entry(PLATE, "watch", label="stolen van", priority="high")]))
    frames = write_drive_through(root / "frames", PLATE)
    return write_gate_config(root / "config.toml", name="plates-tui", data=data,
                             runtime=root / "run", frames=frames)


@run_async
async def test_the_plates_screen_reads_the_real_service(tmp_path: Path) -> None:
    cfg = gate_site(tmp_path)
    with running_service(cfg, tmp_path) as sock:
        app = EdgewardenApp(sock)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.connected, tries=400)
            await pilot.press("9")
            await until(pilot, lambda: isinstance(app.screen, PlatesScreen))
            table = app.screen.query_one("#plate-table", DataTable)
            # the read arrives live (or is listed from history when it came first)
            for _ in range(40):
                if "watch" in table_text(table) or "alarm" in table_text(table):
                    break
                await pilot.press("r")
                await pilot.pause(3.0)
            text = table_text(table)
            assert "gate" in text and ("watch" in text or "alarm" in text), (
                text + (tmp_path / "service.log").read_text()[-3000:])
            assert "KJA407XY" not in text  # locked: the text is not in what the service sent
            await pilot.press("u")
            await until(pilot, lambda: app.screen.query("#passphrase"))
            app.screen.query_one("#passphrase", Input).value = PASSPHRASE
            await pilot.press("enter")
            await until(pilot, lambda: "KJA407XY" in table_text(table), tries=600)
            table.move_cursor(row=0)
            await until(pilot, lambda: "stolen van" in text_of(app, "#plate-info"), tries=200)
            await until(pilot, lambda: "▀" in text_of(app, "#plate-crop"), tries=400)
            app.screen.query_one("#plate-search", Input).value = "kja4o7"
            await until(pilot, lambda: "KJA407XY ≈" in table_text(table), tries=100)
            await pilot.press("v")
            register = app.screen.query_one("#register-table", DataTable)
            await until(pilot, lambda: "KJA407XY" in table_text(register), tries=200)
            assert "stolen van" in table_text(register)
