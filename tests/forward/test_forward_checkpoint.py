"""The forwarder publishes the store's latest signed checkpoint, retained, verbatim."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.control.client import ControlClient
from controller.store.checkpoint import parse

from .harness import ForwardProcess, Subscriber, forward_section, start_service, wait_until
from .mosquitto import Mosquitto, need_mosquitto


@pytest.fixture
def short_root() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="ewc-", dir="/tmp") as d:  # AF_UNIX paths
        yield Path(d)


def test_checkpoint_is_published_retained_and_verifies(short_root: Path) -> None:
    need_mosquitto()
    with Mosquitto(short_root / "broker") as broker:
        fwd = ForwardProcess(short_root / "svc" / "config.toml", short_root / "fwd.log")
        sub = Subscriber(broker.port).start()
        try:
            with start_service(short_root / "svc",
                               forward_section(broker.url, short_root / "fwd")) as svc:
                fwd.start()
                got = wait_until(lambda: sub.on("/checkpoint"), 90, "a checkpoint over MQTT")
                manifest = json.loads((short_root / "svc" / "data" / "store.json").read_text())
                cp = parse(got[-1].payload.decode(), manifest["signing_public_key"])
                assert cp.seal_no >= 1 and cp.seq >= 1
                with ControlClient(svc.socket_path) as c:
                    status = c.call("status", {})
                assert status["store"]["checkpoint"]["seal"] >= cp.seal_no
                # a subscriber arriving later still gets it: retained on the broker
                late = Subscriber(broker.port).start()
                try:
                    kept = wait_until(lambda: late.on("/checkpoint"), 20, "retained checkpoint")
                    assert kept[-1].retain
                    assert parse(kept[-1].payload.decode(),
                                 manifest["signing_public_key"]).seal_no >= cp.seal_no
                finally:
                    late.stop()
        finally:
            assert fwd.stop() == 0
            sub.stop()
    assert not [line for line in fwd.lines() if "Traceback" in line]
