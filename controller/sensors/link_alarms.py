"""`link` alarms: the serial link's integrity figures as anomaly channels with fixed limits.

For each node the link reports frames lost to counter gaps, how late its frames arrive
(the smallest lag in a window) and how many frames were forged under its uid. The service
feeds them to the alarm desk as channels ``link/<node>/lost_frames``, ``link/<node>/lag_ms``
and ``link/<node>/forged_frames``; the rules below give them the ISA-18.2 life cycle of
every other alarm (raise, acknowledge, shelve, clear) with limits from ``[serial]``.
"""

from __future__ import annotations

from collections.abc import Iterable

from controller.config import ChannelRulesConfig, SerialConfig
from firmware_bridge.integrity import IntegrityLimits
from firmware_bridge.link import ONLINE_STATES, NodeStats

CHANNELS = ("lost_frames", "lag_ms", "forged_frames")


def channel(node: str, what: str) -> str:
    return f"link/{node}/{what}"


def link_rules(cfg: SerialConfig, nodes: Iterable[str]) -> dict[str, ChannelRulesConfig]:
    """Rules for the link channels of every node name the service may see."""
    attack = IntegrityLimits().attack_min_forged
    limits = {
        "lost_frames": (cfg.max_lost_frames + 0.5, 0.5),  # integers: more than the max
        "lag_ms": (max(cfg.max_lag_ms, 1.0), min(250.0, cfg.max_lag_ms / 4)),
        "forged_frames": (attack - 0.5, 0.5),
    }
    out = {}
    for node in nodes:
        for what, (high, deadband) in limits.items():
            out[channel(node, what)] = ChannelRulesConfig(
                high_warning=high, deadband=deadband, adaptive="off", priority="high")
    return out


def link_samples(stats: Iterable[NodeStats]) -> list[tuple[str, float]]:
    """(channel, value) for every node in session now."""
    out: list[tuple[str, float]] = []
    for st in stats:
        if st.state not in ONLINE_STATES:
            continue
        out.append((channel(st.name, "lost_frames"), float(st.lost_frames_window)))
        out.append((channel(st.name, "forged_frames"), float(st.forged_frames_window)))
        if st.lag_ms is not None:
            out.append((channel(st.name, "lag_ms"), st.lag_ms))
    return out


def integrity_limits(cfg: SerialConfig) -> IntegrityLimits:
    """The `[serial]` keys that say when a link is suspect."""
    return IntegrityLimits(
        lost_frames_window_s=cfg.lost_frames_window_s,
        max_lost_frames=cfg.max_lost_frames,
        lag_window_s=cfg.lag_window_s,
        max_lag_ms=cfg.max_lag_ms,
    )
