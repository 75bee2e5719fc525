"""The topic layout under ``<topic_prefix>/<device>/`` (pure).

=====================================  =========  ====================================
topic                                  retained   payload
=====================================  =========  ====================================
availability                           yes        ``online`` / ``offline`` (last will)
alarm/events                           no         AlarmTransition, in order
alarm/<point>/state                    yes        AlarmPointState
detection/<camera>                     no         Detection
sensor/<node>/<channel>                yes        SensorValue
health                                 yes        Health
node/<node>/link                       yes        NodeLink
gap                                    no         Gap
checkpoint                             yes        the store's latest signed checkpoint, verbatim
command                                no         inbound: {"command": "ack", ...}
command/result                         no         CommandResult
=====================================  =========  ====================================

Names from the site (channels, cameras, alarm ids) become one topic level each: ``/``,
``+``, ``#`` and whitespace turn into ``_``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNSAFE = re.compile(r"[/+#\s\x00]")


def level(name: str) -> str:
    """`name` as one topic level (also usable in Home Assistant object ids)."""
    safe = _UNSAFE.sub("_", name.replace(":", "_"))
    return safe or "_"


@dataclass(frozen=True)
class Topics:
    prefix: str
    device: str

    @property
    def base(self) -> str:
        return f"{self.prefix}/{level(self.device)}"

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    @property
    def alarm_events(self) -> str:
        return f"{self.base}/alarm/events"

    def alarm_state(self, alarm_id: str) -> str:
        return f"{self.base}/alarm/{level(alarm_id)}/state"

    def detection(self, camera: str) -> str:
        return f"{self.base}/detection/{level(camera)}"

    def plate(self, camera: str) -> str:
        return f"{self.base}/plate/{level(camera)}"

    def sensor(self, channel_key: str) -> str:
        node, _, channel = channel_key.partition("/")
        return f"{self.base}/sensor/{level(node)}/{level(channel or node)}"

    @property
    def health(self) -> str:
        return f"{self.base}/health"

    def node_link(self, node: str) -> str:
        return f"{self.base}/node/{level(node)}/link"

    @property
    def gap(self) -> str:
        return f"{self.base}/gap"

    @property
    def checkpoint(self) -> str:
        return f"{self.base}/checkpoint"

    @property
    def command(self) -> str:
        return f"{self.base}/command"

    @property
    def command_result(self) -> str:
        return f"{self.base}/command/result"
