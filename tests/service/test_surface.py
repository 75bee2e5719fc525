"""The handlers' narrow interface: the service satisfies it, and handlers work on a double."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any

import pytest

from controller.config import Config, SerialConfig
from controller.control.commands import Call, CommandError
from controller.control.roles import PeerCred, Role
from controller.service import Service
from controller.service.handlers import ServiceHandlers
from controller.service.surface import ControlledService
from firmware_bridge.link import NodeStats
from firmware_bridge.messages import ConfigSet
from tests.service.surface_double import SurfaceDouble


def _surface_members() -> list[str]:
    return [name for name in vars(ControlledService)
            if not name.startswith("_") and name not in {"register"}]


def _call() -> Call:
    return Call(PeerCred(pid=1, uid=1000, gid=1000), Role.ADMIN, 1)


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_service_satisfies_the_surface(tmp_path: Path) -> None:
    cfg = Config(serial=SerialConfig(keys_dir=tmp_path / "keys"))
    service = Service(cfg)
    surface: ControlledService = service  # the static check (mypy) of the same claim
    members = _surface_members()
    assert {"set_sample_rate", "ports_in_use", "paired_keys", "store_layout"} <= set(members)
    for name in members:
        assert hasattr(surface, name), name
        wanted = getattr(ControlledService, name)
        if callable(wanted):
            got = inspect.signature(getattr(service, name)).parameters
            assert list(got) == list(inspect.signature(wanted).parameters)[1:], name


def test_the_double_satisfies_the_surface(tmp_path: Path) -> None:
    double: ControlledService = SurfaceDouble(tmp_path)
    for name in _surface_members():
        assert hasattr(double, name), name


def test_the_service_answers_its_surface_before_start(tmp_path: Path) -> None:
    """No link and no store yet: the surface says so instead of failing."""
    cfg = Config(serial=SerialConfig(keys_dir=tmp_path / "keys"))
    service = Service(cfg)
    assert not service.link_running() and service.node_stats() == []
    assert service.store_layout() is None and service.flush_store(0.1) is False
    assert service.send_to_node("u1", ConfigSet("rate_hz", 1.0)) is False
    assert not service.lend_port("/dev/x")
    service.set_sample_rate("u1", 2.5)
    assert service.sensors.sample_rates == {"u1": 2.5}


def test_sample_rate_is_sent_remembered_and_audited(tmp_path: Path) -> None:
    double = SurfaceDouble(tmp_path, nodes=[NodeStats("u1", "shed", "/dev/n1", "online")])
    result = _run(ServiceHandlers(double).node_sample_rate(_call(), {"node": "shed", "hz": 4}))
    assert result == {"node": "shed", "sample_rate_hz": 4.0}
    assert double.sent == [("u1", ConfigSet("rate_hz", 4.0))]
    assert double.sample_rates == {"u1": 4.0}
    assert double.audits == [("node.sample_rate",
                              {"node": "shed", "uid": "u1", "hz": 4.0, "by": 1000})]


@pytest.mark.parametrize(("double_args", "args", "reason"), [
    ({"link_up": False}, {"node": "shed", "hz": 1}, "serial link is not running"),
    ({}, {"node": "barn", "hz": 1}, "no node 'barn'"),
    ({}, {"node": "shed", "hz": 0}, "hz must be between"),
    ({"accepts_sends": False}, {"node": "shed", "hz": 1}, "could not be sent"),
])
def test_sample_rate_refusals_change_nothing(tmp_path: Path, double_args: dict[str, Any],
                                             args: dict[str, Any], reason: str) -> None:
    double = SurfaceDouble(tmp_path, nodes=[NodeStats("u1", "shed", "/dev/n1", "online")],
                           **double_args)
    with pytest.raises(CommandError, match=reason):
        _run(ServiceHandlers(double).node_sample_rate(_call(), args))
    assert double.sample_rates == {} and double.audits == []


def test_store_commands_refuse_while_the_store_is_closed(tmp_path: Path) -> None:
    handlers = ServiceHandlers(SurfaceDouble(tmp_path))
    for command in (handlers.events_list, handlers.history_fetch):
        with pytest.raises(CommandError, match="record store is not open"):
            _run(command(_call(), {}))


def test_forwarder_report_is_kept(tmp_path: Path) -> None:
    double = SurfaceDouble(tmp_path)
    _run(ServiceHandlers(double).forward_report(_call(), {"connected": True, "outbox": 3}))
    assert double.forwarder is not None and double.forwarder.outbox == 3
    assert double.audits == []
