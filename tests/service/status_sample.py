"""Whole `status` answers for the test doubles, built from the schema's Structs.

A double that answers `status` builds it here, so it sends exactly the fields the real
service sends (`controller.control.schema` forbids any other), and the CLI's and TUI's
tests render shapes the service can produce.
"""

from __future__ import annotations

from typing import Any

import msgspec

from controller.control import schema

T0 = 1_700_000_000.0


def sample_node(name: str, port: str, state: str = "online", **over: Any) -> schema.Node:
    """A node the link heard (`link` present) in `state`; `over` replaces any field."""
    node = schema.Node(
        id=name, name=name, uid=None, port=port, state=state,
        online=state in ("online", "under_attack"), paired=state != "unpaired",
        last_seen=T0 - 2, frames_ok=120, readings=120, rejected={}, firmware="1.0.0",
        sample_rate_hz=None, port_state="open", last_error=None,
        link=schema.NodeLink(lost_frames=0, lost_frames_window=0, lag_ms=None,
                             forged_frames_window=0, problems=[]))
    return msgspec.structs.replace(node, **over)


def sample_store(**over: Any) -> schema.Store:
    store = schema.Store(
        records=0, sealed=0, seals=0, verification_key_fingerprint=None,
        committed_since_start=0, batches=0, epoch=0, pending=0, dropped_no_space=0,
        dropped_queue_full=0, shed_media_files=0, shed_readings=0, not_stored=0,
        failed_commits=0, state="ok", failure=None, failing_since=None, reserve_bytes=0,
        checkpoint=None)
    return msgspec.structs.replace(store, **over)


def sample_status(**over: Any) -> schema.Status:
    """A running service with nothing configured; `over` replaces any field."""
    status = schema.Status(
        state="running", version="0.1.0", device="test-site", time=T0, uptime_s=12.0,
        nodes=[], ports=[], channels=[], alarms=[], cameras=[], health=None,
        store=sample_store(),
        queues=schema.Queues(readings_dropped=0, control=schema.ControlQueue(
            clients=1, subscribers=0, events_published=0, events_dropped=0,
            clients_refused=0, queue_size=256, backlog=0)),
        forwarder=None,
        config=schema.ConfigState(path=None, reloads=0, last_error=None),
        you=schema.You(uid=1000, role="view"))
    return msgspec.structs.replace(status, **over)
