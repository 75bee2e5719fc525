"""Replay the labelled NAB sensor files with the default rules and print detection figures.

Per file: the delay from each labelled window's start to the first alarm raised inside it
(an alarm raised before the window and still active in it does not count), how many
windows were caught before their labelled point (NAB centres each window on it), and the
false alarms (raises outside every window) per day. Same defaults for every file.
Baselines (same run): the default rule with its spreads learning as fast as its level, to
show what the slower spreads buy; the rolling median/MAD variant of the adaptive rule;
and a plain point z-score on the same baseline (fast_alpha=1, i.e. no short-term
averaging), to show what the averaging buys.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

from controller.anomaly.replay import parse_timestamp as ts
from controller.anomaly.replay import read_samples, replay, window_report
from controller.config import ChannelRulesConfig


def data_dir() -> Path:
    env = os.environ.get("EDGEWARDEN_SHARED_DATA")
    root = Path(env) if env else Path(__file__).resolve().parent.parent.parent / "shared/data"
    return root / "sensors"


def figures(rules: ChannelRulesConfig, label: str, base: Path) -> None:
    windows = json.loads((base / "anomaly_windows.json").read_text())
    print(f"== {label}")
    for name, wins in windows.items():
        samples = list(read_samples(base / name))
        spans = [(ts(a), ts(b)) for a, b in wins]
        rep = window_report(replay(samples, rules), spans, samples[0].t, samples[-1].t)
        delays = ", ".join(
            ("missed" if d is None else f"{d / 3600:.1f} h") + (" (already in alarm)" if a else "")
            for d, a in zip(rep.delays_s, rep.active_at_start, strict=True)
        )
        halves = sorted({f"{(b - a) / 7200:.1f} h" for a, b in spans})
        early = sum(d is not None and d < (b - a) / 2
                    for d, (a, b) in zip(rep.delays_s, spans, strict=True))
        print(f"{name}: {len(samples)} readings over {rep.days:.0f} days")
        print(f"  delay window start -> first alarm raised in it: {delays}")
        print(f"  before the labelled point (+{', +'.join(halves)}): {early} of {len(spans)}")
        print(f"  false alarms outside windows: {rep.false_alarms} "
              f"({rep.false_per_day:.3f} per day)")


def main() -> int:
    base = data_dir()
    if not base.is_dir():
        print(f"real data not present at {base} (set EDGEWARDEN_SHARED_DATA)")
        return 1
    rules = ChannelRulesConfig()
    figures(rules, "default rules (adaptive: robust EWMA baseline, short-term mean scored)",
            base)
    figures(dataclasses.replace(rules, adaptive_spread_alpha=rules.adaptive_alpha),
            "baseline: the same with spreads as fast as the level "
            f"(adaptive_spread_alpha = {rules.adaptive_alpha})", base)
    figures(dataclasses.replace(rules, adaptive="mad"),
            'baseline: adaptive = "mad" (rolling median/MAD, same scoring)', base)
    figures(dataclasses.replace(rules, adaptive_fast_alpha=1.0, adaptive_threshold=5.0),
            "baseline: point z-score >= 5 on the same baseline (fast_alpha = 1)", base)
    return 0


if __name__ == "__main__":
    sys.exit(main())
