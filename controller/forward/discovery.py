"""Home Assistant MQTT discovery: one device, its entities, and removal of the gone ones.

Topics follow HA's documented layout ``<discovery_prefix>/<component>/<node_id>/
<object_id>/config`` (node_id: the device, object_id: the entity), each config retained,
with `unique_id`, `default_entity_id` (``<component>.<slug>``: HA 2025.10 deprecated
`object_id` for it, and 2026.4 stopped reading `object_id`), `device` (identifiers, name,
sw_version) and the forwarder's availability topic. Units are given the way HA's device
classes require them (``C`` is announced as ``°C``), or HA rejects the unit.
Entities: each sensor channel a `sensor` (unit, device_class), each
alarm point a `binary_sensor` (problem; state and priority as attributes), each camera's
detections a `binary_sensor` (occupancy, off after `OCCUPANCY_OFF_S`). An entity that
was announced before but is not in the site any more gets an empty retained config,
which is how HA removes it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from controller.config import Config
from controller.forward.topics import Topics, level
from controller.forward.translate import Outgoing, mappings

OCCUPANCY_OFF_S = 30

#: unit -> HA sensor device_class
DEVICE_CLASS_OF_UNIT = {
    "°C": "temperature", "C": "temperature", "degC": "temperature", "°F": "temperature",
    "%": "humidity", "%RH": "humidity", "hPa": "pressure", "Pa": "pressure",
    "kPa": "pressure", "V": "voltage", "mV": "voltage", "A": "current", "mA": "current",
    "W": "power", "kW": "power", "lx": "illuminance", "ppm": "carbon_dioxide",
    "dB": "sound_pressure", "Hz": "frequency",
}


#: units the nodes send -> the spelling HA's device classes accept
HA_UNIT = {"C": "°C", "degC": "°C", "F": "°F", "degF": "°F", "%RH": "%"}


class DiscoveryMemory(Protocol):
    """Where the forwarder remembers what it announced (the outbox's database)."""

    def announced(self) -> set[str]: ...
    def set_announced(self, topics: set[str]) -> None: ...


def _config_topic(cfg: Config, component: str, object_id: str) -> str:
    return (f"{cfg.forward.discovery_prefix}/{component}/{level(cfg.device.name)}/"
            f"{object_id}/config")


def entity_configs(cfg: Config, topics: Topics, status: Mapping[str, Any],
                   version: str) -> dict[str, dict[str, Any]]:
    """Config topic -> config payload for every entity of the site now (pure)."""
    dev = level(cfg.device.name)
    device = {"identifiers": [f"edgewarden_{dev}"], "name": cfg.device.name,
              "manufacturer": "edgewarden", "model": "edgewarden site guard",
              "sw_version": version}
    common = {"device": device, "availability_topic": topics.availability,
              "payload_available": "online", "payload_not_available": "offline"}
    out: dict[str, dict[str, Any]] = {}
    for ch in mappings(status.get("channels")):
        key = str(ch.get("key") or f"{ch.get('node')}/{ch.get('channel')}")
        object_id = f"sensor_{level(key)}"
        unit = ch.get("unit") or None
        conf = {**common, "name": key, "unique_id": f"edgewarden_{dev}_{object_id}",
                "default_entity_id": f"sensor.edgewarden_{dev}_{object_id}",
                "state_topic": topics.sensor(key), "value_template": "{{ value_json.value }}",
                "state_class": "measurement"}
        if unit:
            conf["unit_of_measurement"] = HA_UNIT.get(unit, unit)
            if unit in DEVICE_CLASS_OF_UNIT:
                conf["device_class"] = DEVICE_CLASS_OF_UNIT[unit]
        out[_config_topic(cfg, "sensor", object_id)] = conf
    for alarm in mappings(status.get("alarms")):
        alarm_id = str(alarm.get("id"))
        object_id = f"alarm_{level(alarm_id)}"
        state = topics.alarm_state(alarm_id)
        out[_config_topic(cfg, "binary_sensor", object_id)] = {
            **common, "name": f"alarm {alarm_id}", "unique_id": f"edgewarden_{dev}_{object_id}",
            "default_entity_id": f"binary_sensor.edgewarden_{dev}_{object_id}",
            "device_class": "problem",
            "state_topic": state, "json_attributes_topic": state,
            "value_template": "{{ 'ON' if value_json.active else 'OFF' }}",
            "payload_on": "ON", "payload_off": "OFF",
        }
    for camera in cfg.cameras:
        object_id = f"camera_{level(camera.name)}_occupancy"
        det = topics.detection(camera.name)
        out[_config_topic(cfg, "binary_sensor", object_id)] = {
            **common, "name": f"{camera.name} occupancy",
            "unique_id": f"edgewarden_{dev}_{object_id}",
            "default_entity_id": f"binary_sensor.edgewarden_{dev}_{object_id}",
            "device_class": "occupancy",
            "state_topic": det, "json_attributes_topic": det, "value_template": "ON",
            "payload_on": "ON", "off_delay": OCCUPANCY_OFF_S,
        }
    return out


def messages(cfg: Config, topics: Topics, status: Mapping[str, Any], version: str,
             memory: DiscoveryMemory) -> list[Outgoing]:
    """Configs of every entity now, and an empty config for each one announced before
    that is gone (a node or camera removed from the config)."""
    configs = entity_configs(cfg, topics, status, version)
    out = [Outgoing(t, json.dumps(c, separators=(",", ":")).encode(), True, "state",
                    "discovery") for t, c in sorted(configs.items())]
    gone = memory.announced() - set(configs)
    out += [Outgoing(t, b"", True, "state", "discovery") for t in sorted(gone)]
    memory.set_announced(set(configs))
    return out
