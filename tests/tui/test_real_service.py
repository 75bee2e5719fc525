"""The TUI against the real service (`edgewarden run`) on a simulated site: no scripted state.

The service runs as a subprocess on a demo site (paired nodes on ptys with an injected
temperature spike, a camera playing a video); the app runs under Textual's Pilot here, and
a view-role user runs it in a child process with its own uid and groups.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Label

from controller.control.client import ControlClient
from controller.simulation.site import DEMO_PASSPHRASE, DemoSite, build_site, write_synthetic_video
from tests.service.control_harness import free_groups, run_as, unused_uid
from tests.tui.conftest import run_async
from tests.tui.test_flows import plain, table_text, text_of, until
from tui.app import EdgewardenApp
from tui.screens.events import EventDetailScreen


@dataclass
class RealService:
    site: DemoSite
    proc: subprocess.Popen[bytes]
    socket_path: Path
    view_group: int

    def status(self) -> dict:  # type: ignore[type-arg]
        with ControlClient(self.socket_path) as c:
            return c.call("status")  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def real_service() -> Iterator[RealService]:
    groups = free_groups(3)
    if len(groups) < 3:
        pytest.skip("needs three unused groups for the roles")
    view, ops, access = groups
    root = Path(tempfile.mkdtemp(prefix="ewreal-", dir="/tmp"))
    root.chmod(0o755)  # the view-role child must reach the socket's directory
    extra = textwrap.dedent(f"""
        [control]
        socket_group = "{access.gr_name}"
        view_group = "{view.gr_name}"
        ops_group = "{ops.gr_name}"
        admin_group = "{ops.gr_name}-admin-none"
        """)
    video = write_synthetic_video(root / "yard.mp4")  # the same scene with or without ../shared
    # the spike lasts the whole module: a service slow to start on a loaded machine
    # cannot miss it (a 5 s spike once ended before the service read the node)
    # the yard camera only (no gate camera): these tests are about its events
    site = build_site(root / "site", rate_hz=4.0, runtime_dir=root / "run", video=video,
                      faults={0: ["spike@2:600"]}, extra_config=extra, plates=False)
    log = open(root / "service.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "controller", "run", "--config",
                             str(site.config_path)], stderr=log)
    svc = RealService(site, proc, root / "run" / "control.sock", view.gr_gid)
    try:
        deadline = time.monotonic() + 30
        while not svc.socket_path.exists():
            assert proc.poll() is None, (root / "service.log").read_text()
            assert time.monotonic() < deadline, "service did not start"
            time.sleep(0.1)
        yield svc
    finally:
        proc.terminate()
        stopped = True
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            stopped = False
            proc.kill()
            proc.wait(10)
        log.close()
        tail = (root / "service.log").read_text(errors="replace")[-3000:]
        site.stop()
        shutil.rmtree(root, ignore_errors=True)
        assert stopped, f"the service did not stop within 60 s of SIGTERM; its log:\n{tail}"


@run_async
async def test_a_live_reading_changes_on_the_dashboard(real_service: RealService) -> None:
    app = EdgewardenApp(real_service.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.connected, tries=200)
        await until(pilot, lambda: "north-door" in text_of(app, "#sensors"), tries=200)
        first = text_of(app, "#sensors")
        await until(pilot, lambda: text_of(app, "#sensors") != first, tries=200)


@run_async
async def test_the_dashboard_shows_the_latest_signed_checkpoint(
        real_service: RealService) -> None:
    # the head a technician copies off the device to catch a later rollback (issue 14)
    with ControlClient(str(real_service.socket_path)) as c:
        cp = c.call("status")["store"]["checkpoint"]
    app = EdgewardenApp(real_service.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: "checkpoint seal" in text_of(app, "#health"), tries=200)
        m = re.search(r"checkpoint seal ([\d,]+) @ record ([\d,]+) ([0-9a-f]{8})",
                      text_of(app, "#health"))
        assert m, text_of(app, "#health")
        assert int(m.group(1).replace(",", "")) >= cp["seal"]  # heads only move on
        assert int(m.group(2).replace(",", "")) >= cp["record"]


@run_async
async def test_acknowledge_the_alarm_of_an_injected_spike(real_service: RealService) -> None:
    app = EdgewardenApp(real_service.socket_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: app.connected, tries=200)
        await pilot.press("2")
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: "north-door/temperature" in table_text(table), tries=400)
        table.move_cursor(row=table.get_row_index("north-door/temperature:limits"))
        table.focus()
        await pilot.pause(0.2)
        await pilot.press("a")
        await until(pilot, lambda: any("Acknowledged" in n.message
                                       for n in app._notifications), tries=200)
    # the service recorded the operator's acknowledgement as an alarm transition
    with ControlClient(real_service.socket_path) as c:
        history = c.call("history.fetch", {"kinds": ["alarm"]})
    from controller.store.handout import HandoutReader, unlock_handed_identity

    records = HandoutReader(history, unlock_handed_identity(history, DEMO_PASSPHRASE))
    acks = [r for r in records.records() if r.body["event"] == "ack"]
    assert acks and acks[-1].body["alarm_id"] == "north-door/temperature:limits"
    assert acks[-1].body["user"].startswith("root")
    # and the audit record of the request says which alarm (it said only `alarms.ack`)
    with ControlClient(real_service.socket_path) as c:
        handout = c.call("history.fetch", {"kinds": ["audit"]})
    audits = HandoutReader(handout, unlock_handed_identity(handout, DEMO_PASSPHRASE))
    asked = [r.body for r in audits.records() if r.body.get("cmd") == "alarms.ack"]
    assert asked and asked[-1]["about"]["alarm"] == "north-door/temperature:limits"
    assert asked[-1]["about"]["channel"] == "north-door/temperature"
    assert "alarm north-door/temperature:limits" in asked[-1]["detail"]


@run_async
async def test_unlock_and_open_a_camera_event(real_service: RealService) -> None:
    # the demo camera's video has something crossing the yard: wait for its event record
    deadline = time.monotonic() + 90
    with ControlClient(real_service.socket_path) as c:
        while not c.call("events.list", {"kind": "event", "limit": 1}):
            assert time.monotonic() < deadline, (
                f"the camera made no event: {c.call('status')['cameras']}")
            time.sleep(1)
    app = EdgewardenApp(real_service.socket_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.connected, tries=200)
        await pilot.press("3")
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: "yard" in table_text(table), tries=200)
        row = next(i for i in range(table.row_count)
                   if "yard" in " ".join(str(c) for c in table.get_row_at(i)))
        table.move_cursor(row=row)
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.query("#passphrase"), tries=100)
        app.screen.query_one("#passphrase", Input).value = DEMO_PASSPHRASE
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, EventDetailScreen)
                    and bool(app.screen.query("#event-body")), tries=400)
        await until(pilot, lambda: "yard" in text_of(app, "#event-body"), tries=200)


async def _view_role_session(socket_path: str) -> dict[str, object]:
    app = EdgewardenApp(socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.connected, tries=200)
        await pilot.press("2")
        await pilot.pause(0.5)
        note = plain(app.screen.query_one("#alarm-role", Label))
        disabled = app.screen.check_action("acknowledge", ()) is None
        refused = await app.call_or_notify(
            "alarms.ack", {"alarm": "north-door/temperature:limits"})
        return {"note": note, "disabled": disabled, "refused": refused is None}


def _preload_for_child() -> None:
    """The child drops to an unprivileged uid that cannot read this interpreter's files
    (they live under /root): import now what the app will import lazily."""
    import textual.widgets

    for name in textual.widgets.__all__:
        getattr(textual.widgets, name)
    for module in ("alarms", "events", "nodes", "export", "config", "audit", "keys", "help",
                   "dialogs"):
        importlib.import_module(f"tui.screens.{module}")


def test_a_view_role_user_cannot_acknowledge(real_service: RealService) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to run the TUI as another uid")
    _preload_for_child()
    # the same session once as root imports everything the child will need
    asyncio.run(_view_role_session(str(real_service.socket_path)))
    access = os.stat(real_service.socket_path).st_gid
    view = real_service.view_group
    out = run_as(unused_uid(), view, [view, access],
                 lambda: asyncio.run(_view_role_session(str(real_service.socket_path))))
    assert "result" in out, out
    result = out["result"]
    assert result["disabled"], result
    assert result["refused"], result
    assert "needs the ops role; you are view" in result["note"], result


@run_async
async def test_admin_exports_evidence_from_the_export_screen(real_service: RealService) -> None:
    stick = real_service.socket_path.parent.parent / "stick"
    stick.mkdir(exist_ok=True)
    app = EdgewardenApp(real_service.socket_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.connected, tries=200)
        await pilot.press("5")
        await until(pilot, lambda: app.screen.query("#export-dest"), tries=100)
        app.screen.query_one("#export-days", Input).value = "1"
        app.screen.query_one("#export-dest", Input).value = str(stick)
        await pilot.click("#export-estimate")
        await until(pilot, lambda: "records, about" in text_of(app, "#export-estimate-text"),
                    tries=200)
        assert "fits" in text_of(app, "#export-estimate-text")
        await pilot.click("#export-run")
        await until(pilot, lambda: "verified" in text_of(app, "#export-result"), tries=600)
        assert "NOT verified" not in text_of(app, "#export-result")
    bundles = [p for p in stick.iterdir() if not p.name.startswith(".")]
    assert len(bundles) == 1
    check = subprocess.run(
        [sys.executable, "-m", "controller", "verify-bundle", str(bundles[0])],
        capture_output=True, text=True, timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr


@run_async
async def test_audit_rows_of_the_real_service_name_the_alarm_and_who(
    real_service: RealService,
) -> None:
    alarm = "north-door/temperature:limits"
    deadline = time.monotonic() + 60
    while not any(a.get("id") == alarm for a in real_service.status().get("alarms", [])):
        assert time.monotonic() < deadline, "the spike raised no alarm"
        time.sleep(0.5)
    with ControlClient(real_service.socket_path) as c:
        c.call("alarms.shelve", {"alarm": alarm, "minutes": 30,
                                 "reason": "probe out of its well for a service visit"})
    from tui.screens.audit import AuditEntryDialog

    app = EdgewardenApp(real_service.socket_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.connected, tries=200)
        await pilot.press("8")
        field = app.screen.query_one("#keys-passphrase", Input)
        field.value = DEMO_PASSPHRASE
        field.focus()
        await pilot.press("enter")
        await until(pilot, lambda: app.session_key.unlocked, tries=400)
        await pilot.press("escape", "7")
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: "alarms.shelve" in table_text(table), tries=400)
        text = table_text(table)
        assert "service ?" not in text
        row = next(i for i in range(table.row_count)
                   if "alarms.shelve" in " ".join(str(c) for c in table.get_row_at(i)))
        cells = [str(c) for c in table.get_row_at(row)]
        assert cells[1].startswith("root(") and f"alarm {alarm}" in cells[5]
        assert "service.start" in text  # the service's own records name what they were
        table.move_cursor(row=row)
        table.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, AuditEntryDialog), tries=100)
        body = " ".join(text_of(app, "#audit-entry-body").split())
        assert "probe out of its well for a service visit" in body
        assert "north-door/temperature" in body and "shelved" in body


@run_async
async def test_camera_events_are_one_row_each_with_a_thumbnail(
    real_service: RealService,
) -> None:
    """The real service stores a start and an end record per event: the list joins them."""
    deadline = time.monotonic() + 120
    with ControlClient(real_service.socket_path) as c:  # an event that has ended
        while len(c.call("events.list", {"kind": "event", "limit": 50})) < 2:
            assert time.monotonic() < deadline, "the camera made no start and end records"
            time.sleep(1)
    app = EdgewardenApp(real_service.socket_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.connected, tries=200)
        await pilot.press("3")
        screen = app.screen
        table = screen.query_one(DataTable)
        await until(pilot, lambda: "yard" in table_text(table), tries=200)
        await pilot.press("u")
        await until(pilot, lambda: app.screen.query("#passphrase"), tries=100)
        app.screen.query_one("#passphrase", Input).value = DEMO_PASSPHRASE
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is screen
                    and "locked" not in table_text(table), tries=400)

        def joined() -> list[object]:
            return [r for r in screen.rows.values()  # type: ignore[attr-defined]
                    if r.opened is not None and r.opened.body.get("phase") == "end"
                    and r.meta.id != r.opened.meta.id]

        while not joined():  # the end record comes a post-roll after the start
            assert time.monotonic() < deadline + 60, "no start and end joined in the list"
            await pilot.press("r")
            await pilot.pause(1.0)
        ids = [r.opened.body.get("event_id") for r in screen.rows.values()  # type: ignore[attr-defined]
               if r.opened is not None and r.opened.meta.kind == "event"]
        assert len(ids) == len(set(ids))  # every event once
        first = joined()[0]
        table.move_cursor(row=table.get_row_index(str(first.meta.id)))  # type: ignore[attr-defined]
        pane = screen.query_one("#event-thumb")
        await until(pilot, lambda: pane.display and "▀" in str(pane.render()), tries=200)
        await pilot.press("ctrl+l")
        await until(pilot, lambda: not pane.display, tries=100)
