"""Plates through a real `edgewarden run`: a gate camera plays an image folder of a
synthetic Nigerian plate on the watch list; the plate read is stored (its text nowhere in
the database files) and the watch hit raises its alarm on the ISA-18.2 desk with the
entry's priority."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import msgspec
import pyrage

from controller.config import CameraConfig
from controller.control import schema
from controller.control.client import ControlClient
from controller.plates import register_file
from controller.plates.register import Register, make_entry
from controller.store import initialise
from tests.plates.gate_site import write_drive_through, write_gate_config
from tests.service_run.service_process import running_service

PLATE = "KJA-407XY"


def _gate_site(tmp_path: Path, plate: str, camera_keys: str = "", tables: str = "") -> Path:
    """A store, a register with `plate` on the watch list (high), an image folder of a
    vehicle with that plate driving through the gate, and the config (returned)."""
    custodian = pyrage.x25519.Identity.generate()
    data = tmp_path / "data"
    initialise(data, passphrase=None, identity_on_device=False,
               extra_recipients=[str(custodian.to_public())])
    register_file.save(data / register_file.FILE_NAME, Register([
        make_entry(plate, "watch", label="stolen van", priority="high")]))
    frames = write_drive_through(tmp_path / "frames", plate)
    return write_gate_config(tmp_path / "config.toml", name="plate-test", data=data,
                             runtime=tmp_path / "run", frames=frames,
                             camera_keys=camera_keys, tables=tables)


def _watch_alarms(client: ControlClient, channel: str) -> list:
    deadline = time.monotonic() + 120
    alarms: list = []
    while time.monotonic() < deadline and not alarms:
        alarms = [a for a in client.call("status")["alarms"] if a["channel"] == channel]
        time.sleep(0.3)
    return alarms


def test_a_watch_listed_plate_at_the_gate_raises_its_alarm(tmp_path: Path) -> None:
    cfg = _gate_site(tmp_path, PLATE)
    data = tmp_path / "data"
    channel = "camera/gate/plates/watch/high"
    with running_service(cfg, tmp_path) as sock, ControlClient(sock) as client:
        alarms = _watch_alarms(client, channel)
        assert alarms, (tmp_path / "service.log").read_text()[-3000:]
        assert alarms[0]["priority"] == "high"
        # its line says which list and where the read is, not the plate
        assert alarms[0]["message"].startswith("vehicle on the watch list")
        assert PLATE.replace("-", "") not in json.dumps(alarms)
        others = [a for a in client.call("status")["alarms"] if "plates" in a["channel"]
                  and a["channel"] != channel]
        assert others == []
        # subscribers hear the read and its verdict, never the plate text
        with ControlClient(sock) as listener:
            listener.subscribe_from(0, None, ["plate"])
            heard = list(listener.events(timeout=3))
        notices = [e.data for e in heard if e.event == "plate"]
        assert notices and notices[0]["list"] == "watch", heard
        assert PLATE.replace("-", "") not in json.dumps(notices)
        # strictly the schema's notice, named by its durable `plate` record
        typed = [msgspec.convert(n, schema.PlateNotice, strict=True) for n in notices]
        listed = {e["id"] for e in client.call("events.list", {"kind": "plate"})}
        assert {n.seq for n in typed} <= listed and None not in {n.seq for n in typed}
        # a plate camera's status is what the shared schema (and so the TUI) expects
        msgspec.convert(client.call("status"), schema.Status, strict=True)
        plates = client.call("status")["cameras"][0]["plates"]
        assert plates["mode"] == "gate" and plates["plates"] == 1
        assert plates["read"] <= CameraConfig(name="g", source="x").plate_attempts
    databases = [p for p in data.rglob("*") if p.is_file() and ".db" in p.name]
    assert databases
    with sqlite3.connect(databases[0]) as db:
        ((count,),) = db.execute("SELECT count(*) FROM records WHERE kind = 'plate'")
    assert count >= 1
    text = PLATE.replace("-", "").encode()
    for path in databases:
        assert text not in path.read_bytes() and PLATE.encode() not in path.read_bytes()


def test_a_gate_reading_its_sites_own_format_matches_the_register_exactly(
        tmp_path: Path) -> None:
    """The camera's `plate_formats` reach the service's reader: under the default ng the
    Ghanaian GR-1234-20 reads GRI234ZO and would miss an exact-only register."""
    cfg = _gate_site(tmp_path, "GR-1234-20",
                     'plate_formats = ["gh"]\nplate_match_distance = 0.0\n',
                     '[plate_formats]\ngh = "LL-DDDD-DD"\n')
    with running_service(cfg, tmp_path) as sock, ControlClient(sock) as client:
        alarms = _watch_alarms(client, "camera/gate/plates/watch/high")
        assert alarms, (tmp_path / "service.log").read_text()[-3000:]
