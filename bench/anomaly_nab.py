"""Replay the labelled NAB sensor files with the default rules and print detection figures.

Per file: the delay from each labelled window's start to the first alarm raised inside it,
and the false alarms (raises outside every window) per day. Same defaults for every file.
Baseline (same run): a plain point z-score on the same adaptive baseline (the rule with
fast_alpha=1, i.e. no short-term averaging), to show what the averaging buys; and the
rolling median/MAD variant of the adaptive rule.
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
        result = replay(samples, rules)
        rep = window_report(result, [(ts(a), ts(b)) for a, b in wins],
                            samples[0].t, samples[-1].t)
        delays = ", ".join(
            ("missed" if d is None else f"{d / 3600:.1f} h") + (" (already in alarm)" if a else "")
            for d, a in zip(rep.delays_s, rep.active_at_start, strict=True)
        )
        print(f"{name}: {len(samples)} readings over {rep.days:.0f} days")
        print(f"  delay window start -> first alarm: {delays}")
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
    figures(dataclasses.replace(rules, adaptive="mad"),
            'adaptive = "mad" (rolling median/MAD, same scoring)', base)
    figures(dataclasses.replace(rules, adaptive_fast_alpha=1.0, adaptive_threshold=5.0),
            "baseline: point z-score >= 5 on the same baseline (fast_alpha = 1)", base)
    return 0


if __name__ == "__main__":
    sys.exit(main())
