"""Default alarm rules of the camera tamper channels (``camera/<name>/tamper/<fault>``).

The tamper core already applies the delay and clear times, so a rule only turns the 0/1
channel into an ISA-18.2 alarm with the fault's own priority (``[cameras.tamper]
priority_<fault>``). A user's own ``[anomaly.channels."camera/..."]`` entry wins.
"""

from __future__ import annotations

from collections.abc import Sequence

from controller.camera.tamper import FAULTS
from controller.config import CameraConfig, ChannelRulesConfig


def tamper_rules(cameras: Sequence[CameraConfig]) -> dict[str, ChannelRulesConfig]:
    rules: dict[str, ChannelRulesConfig] = {}
    for cam in cameras:
        if not cam.tamper.enabled:
            continue
        for fault in FAULTS:
            priority = getattr(cam.tamper, f"priority_{fault}")
            rules[f"camera/{cam.name}/tamper/{fault}"] = ChannelRulesConfig(
                high_warning=0.5, priority=priority)
    return rules
