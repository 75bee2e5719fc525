"""The service's live notices and alarm answers, built as the shared schema's Structs.

The stages hand over typed values (a `Reading`, an `AlarmTransition`, an `AlarmView`) or
the detector's and plate stage's notices; this module is the one place that turns them
into `controller.control.schema` payloads, field by field, so what subscribers receive is
exactly what the schema (and the strict wire test) names. `seq` is the record's sequence
number in the store once durable (None: not stored).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from controller.anomaly.alarm import AlarmTransition, AlarmView
from controller.anomaly.desk import node_alarm_message
from controller.control import schema
from controller.service.plate_channels import plate_alarm_message
from firmware_bridge.reading import Reading


def reading_notice(r: Reading) -> schema.ReadingNotice:
    return schema.ReadingNotice(
        node_uid=r.node_uid, node=r.node_name, channel=r.channel, value=r.value,
        unit=r.unit, node_time_ms=r.node_time_ms, received_wall=r.received_wall,
        received_mono=r.received_mono, counter=r.counter)


def _detail(detail: Mapping[str, Any] | None) -> schema.AlarmDetail | None:
    return None if detail is None else msgspec.convert(detail, schema.AlarmDetail)


def _message(channel: str, detail: Mapping[str, Any] | None) -> str | None:
    """The alarm's one line: a node's silent channels and port, or a plate alarm's."""
    return node_alarm_message(dict(detail)) if detail else plate_alarm_message(channel)


def alarm_notice(tr: AlarmTransition, detail: Mapping[str, Any] | None,
                 seq: int | None) -> schema.AlarmNotice:
    return schema.AlarmNotice(
        seq=seq, t=tr.t, alarm_id=tr.alarm_id, channel=tr.channel, rule=tr.rule,
        event=tr.event, from_state=str(tr.from_state), to_state=str(tr.to_state),
        severity=tr.severity, priority=tr.priority, value=tr.value, score=tr.score,
        user=tr.user, comment=tr.comment, chatter_per_hour=tr.chatter_per_hour,
        detail=_detail(detail), message=_message(tr.channel, detail))


def alarm_of(v: AlarmView, detail: Mapping[str, Any] | None) -> schema.Alarm:
    """One alarm point as `status` lists it and `alarms.ack`/`alarms.shelve` answer."""
    return schema.Alarm(
        id=v.alarm_id, channel=v.channel, rule=v.rule, state=str(v.state),
        condition=v.condition, severity=v.severity, priority=v.priority,
        value=v.trigger_value, since=v.trigger_t, peak=v.peak_value,
        acked_by=v.acked_by or None, acked_at=v.acked_t, comment=v.ack_comment or None,
        shelved_by=v.shelved_by or None, shelved_until=v.shelved_until,
        shelve_reason=v.shelve_reason or None, suppressed=v.suppress_reason or None,
        chatter_per_hour=v.chatter_per_hour, chattering=v.chattering,
        detail=_detail(detail), message=_message(v.channel, detail))


def detection_notice(n: Mapping[str, Any], seq: int | None) -> schema.DetectionNotice:
    """The detector's live notice (controller.detect.events.live_notice / notice())."""
    return schema.DetectionNotice(
        seq=seq, camera=str(n["camera"]), zone=str(n["zone"]), label=str(n["label"]),
        track_id=int(n["track_id"]), score=float(n["score"]), time=float(n["time"]),
        start=float(n["start"]), continues=bool(n["continues"]), phase=str(n["phase"]),
        event_id=str(n["event_id"]))


def plate_notice(body: Mapping[str, Any], seq: int | None) -> schema.PlateNotice:
    """What subscribers hear of a plate read (its record's body): the verdict, never the
    plate text, which stays inside the encrypted record."""
    match = body.get("match") or {}
    return schema.PlateNotice(
        seq=seq, camera=body["camera"], track_id=body["track_id"], label=body["label"],
        time=body["time"], first_seen=body["first_seen"], confidence=body["confidence"],
        agreeing=body["agreeing"], list=body["list"], entry=match.get("label"),
        priority=match.get("priority"))
