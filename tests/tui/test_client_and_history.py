"""The socket client and hand-out decryption, against the scripted service's real socket."""

from __future__ import annotations

import asyncio
import base64
import copy
from collections.abc import Callable
from pathlib import Path

import pytest

from controller.control.roles import Role
from controller.control.schema import decode_event
from tests.tui.conftest import run_async
from tests.tui.scripted_service import (
    PASSPHRASE,
    T0,
    History,
    ScriptedService,
    scripted_reading,
)
from tui.history import HandoutError, Passphrase, WrongPassphrase, open_handout, unlock_identity
from tui.service_client import Event, ServiceClient, ServiceError, ServiceUnavailable

Starter = Callable[..., ScriptedService]


@run_async
async def test_call_refusal_events_and_loss(start_service: Starter) -> None:
    service = start_service("view")
    events: list[Event] = []
    client = ServiceClient(service.socket_path, on_event=events.append)
    await client.connect()
    status = await client.call("status")
    assert Role.parse(status["you"]["role"]) is Role.VIEW
    with pytest.raises(ServiceError, match="needs role ops"):
        await client.call("alarms.ack", {"alarm": "node-1/temp:limits"})
    await client.call("subscribe", {"events": ["reading"]})
    service.inject("reading", scripted_reading("n", "c", 1.0, T0))
    for _ in range(100):
        if events:
            break
        await asyncio.sleep(0.02)
    assert events[0].event == "reading" and events[0].seq == 1
    assert decode_event("reading", events[0].data) == scripted_reading("n", "c", 1.0, T0)
    service.stop()
    await asyncio.wait_for(client.wait_closed(), 5)
    with pytest.raises(ServiceUnavailable):
        await client.call("status")


@run_async
async def test_connect_to_a_missing_socket_names_it(short_dir: Path) -> None:
    client = ServiceClient(short_dir / "nope.sock")
    with pytest.raises(ServiceUnavailable, match=r"nope\.sock"):
        await client.connect()


@pytest.fixture(scope="module")
def history() -> History:
    return History()


def test_wrong_passphrase_is_refused_without_echoing_it(history: History) -> None:
    with pytest.raises(WrongPassphrase) as info:
        unlock_identity(history.identity_blob, Passphrase("guess-123"))
    assert "guess-123" not in str(info.value)


def test_handout_decrypts_and_detects_tampering(history: History) -> None:
    identity = unlock_identity(history.identity_blob, Passphrase(PASSPHRASE))
    records = open_handout(history.handout({"kinds": ["event", "audit"]}), identity)
    assert [r.meta.id for r in records] == [6, 5, 4, 3, 1]
    assert records[4].body["label"] == "sedan"
    image = records[4].first_image()
    assert image is not None and image.startswith(b"\x89PNG")
    assert records[3].body["cmd"] == "alarms.ack"
    handout = copy.deepcopy(history.handout({"kinds": ["alarm"]}))
    handout["records"][0]["source"] = "node-9/temp"  # header is authenticated
    with pytest.raises(HandoutError, match="record 2: ciphertext or header altered"):
        open_handout(handout, identity)
    handout = copy.deepcopy(history.handout({"kinds": ["alarm"]}))
    ct = bytearray(base64.b64decode(handout["records"][0]["ct"]))
    ct[0] ^= 1
    handout["records"][0]["ct"] = base64.b64encode(bytes(ct)).decode()
    with pytest.raises(HandoutError, match="record 2"):
        open_handout(handout, identity)
