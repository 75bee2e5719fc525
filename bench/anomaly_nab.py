"""The shipped anomaly defaults on the Numenta Anomaly Benchmark, scored by NAB's own scorer.

Every file of ../shared/data/nab/data is replayed through `edgewarden anomaly replay`'s
code path with the built-in defaults (the service's defaults; nothing per file, labels
never seen). Two detectors are written into a temporary COPY of the NAB folder:
``edgewarden`` (the score column) and ``edgewardenalarm`` (1 on each reading where an
alarm is raised, else 0). NAB's scorer (``run.py --optimize --score --normalize``) then
runs in its own virtual environment (Python 3.11, pandas<2, numpy<2, simplejson), made
with uv if missing. Printed: the three profile scores beside NAB's published detectors
rescored on the same files (reference_scores.json, the baseline), per-family scores,
replay samples per second and the mean alarm duration in readings.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from controller.anomaly.replay import Sample, read_samples, replay
from controller.config import ChannelRulesConfig

DETECTORS = ("edgewarden", "edgewardenalarm")
PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
GOALS = {"standard": 70.0, "reward_low_FP_rate": 60.0, "reward_low_FN_rate": 75.0}


def nab_dir() -> Path:
    env = os.environ.get("EDGEWARDEN_SHARED_DATA")
    root = Path(env) if env else Path(__file__).resolve().parent.parent.parent / "shared/data"
    return root / "nab"


def venv_python() -> Path:
    """NAB's own environment: $EDGEWARDEN_NAB_VENV or ~/.cache/edgewarden/nab-venv."""
    env = os.environ.get("EDGEWARDEN_NAB_VENV")
    venv = Path(env) if env else Path.home() / ".cache/edgewarden/nab-venv"
    python = venv / "bin/python"
    ok = python.exists() and subprocess.run(
        [str(python), "-c", "import pandas, numpy, simplejson"], capture_output=True
    ).returncode == 0
    if ok:
        print(f"NAB scorer environment: {venv} (present)")
        return python
    start = time.perf_counter()
    subprocess.run(["uv", "venv", "-q", "--python", "3.11", str(venv)], check=True)
    subprocess.run(["uv", "pip", "install", "-q", "--python", str(python), "pandas<2",
                    "numpy<2", "simplejson"], check=True)
    print(f"NAB scorer environment: {venv} created in {time.perf_counter() - start:.1f} s")
    return python


def write_results(work: Path) -> tuple[int, float, float]:
    """Replay every data file; write both detectors' result files. -> rows, s, mean alarm."""
    labels = json.loads((work / "labels/combined_labels.json").read_text())
    rules = ChannelRulesConfig()
    rows_total, seconds, alarm_rows, raises = 0, 0.0, 0, 0
    for path in sorted((work / "data").glob("*/*.csv")):
        family = path.parent.name
        labelled = set(labels.get(f"{family}/{path.name}", []))
        samples = list(read_samples(path))
        out: list[tuple[Sample, float, bool]] = []
        start = time.perf_counter()
        result = replay(samples, rules, on_row=lambda s, score, alarm, keep=out.append: keep(
            (s, score, alarm)))
        seconds += time.perf_counter() - start
        raised = {ep.start_t for ep in result.episodes}
        rows_total += len(samples)
        raises += len(result.episodes)
        alarm_rows += sum(1 for _, _, alarm in out if alarm)
        for det in DETECTORS:
            target = work / "results" / det / family
            target.mkdir(parents=True, exist_ok=True)
            with (target / f"{det}_{path.name}").open("w", newline="") as f:
                w = csv.writer(f, lineterminator="\n")
                w.writerow(("timestamp", "value", "anomaly_score", "label"))
                for s, score, _ in out:
                    value = score if det == "edgewarden" else float(s.t in raised)
                    w.writerow((s.stamp, s.value_text, f"{value:.6f}",
                                1 if s.stamp in labelled else 0))
    return rows_total, seconds, alarm_rows / raises if raises else 0.0


def file_totals(path: Path) -> dict[str, tuple[float, int]]:
    """Per data file of a NAB scores CSV: (score, false positives)."""
    with path.open(newline="") as f:
        return {r["File"]: (float(r["Score"]), int(r["FP"])) for r in csv.DictReader(f)
                if r["File"]}


def family_scores(work: Path, det: str, profile: str) -> dict[str, str]:
    """NAB's normalisation applied per family: 100 (S - null) / (perfect - null)."""
    profiles = json.loads((work / "config/profiles.json").read_text())
    tp_weight = profiles[profile]["CostMatrix"]["tpWeight"]
    windows = json.loads((work / "labels/combined_windows.json").read_text())
    ours = file_totals(work / f"results/{det}/{det}_{profile}_scores.csv")
    null = file_totals(work / f"results/null/null_{profile}_scores.csv")
    out: dict[str, str] = {}
    for family in sorted({f.split("/")[0] for f in ours}):
        files = [f for f in ours if f.startswith(family + "/")]
        score = sum(ours[f][0] for f in files)
        base = sum(null[f][0] for f in files)
        perfect = tp_weight * sum(len(windows.get(f, [])) for f in files)
        fps = sum(ours[f][1] for f in files)
        if perfect - base > 0:
            out[family] = f"{100 * (score - base) / (perfect - base):6.1f}"
        else:
            out[family] = f"  n/a (no windows; {fps} false positives)"
    return out


def main() -> int:
    src = nab_dir()
    if not (src / "run.py").is_file():
        print(f"NAB not present at {src} (set EDGEWARDEN_SHARED_DATA)")
        return 1
    python = venv_python()
    with tempfile.TemporaryDirectory(prefix="edgewarden-nab-") as tmp:
        work = Path(tmp) / "nab"
        shutil.copytree(src, work)
        rows, seconds, mean_alarm = write_results(work)
        start = time.perf_counter()
        subprocess.run([str(python), "run.py", "-d", ",".join(DETECTORS), "--optimize",
                        "--score", "--normalize", "--skipConfirmation"], cwd=work,
                       check=True, stdout=subprocess.DEVNULL)
        scored_s = time.perf_counter() - start
        final = json.loads((work / "results/final_results.json").read_text())
        reference = json.loads((src / "reference_scores.json").read_text())["scores"]
        families = {(d, p): family_scores(work, d, p) for d in DETECTORS for p in PROFILES}
    print(f"{len(list((src / 'data').glob('*/*.csv')))} files, {rows:,} readings; "
          f"NAB scorer took {scored_s:.0f} s")
    table = {name: scores for name, scores in reference.items()}
    table.update({d: final[d] for d in DETECTORS})
    print(f"\n{'detector':<22}{'standard':>10}{'low FP':>10}{'low FN':>10}")
    for name, sc in sorted(table.items(), key=lambda kv: -kv[1]["standard"]):
        mark = "  <- shipped defaults" if name in DETECTORS else ""
        print(f"{name:<22}" + "".join(f"{sc[p]:10.2f}" for p in PROFILES) + mark)
    print("goal".ljust(22) + "".join(f"{GOALS[p]:10.2f}" for p in PROFILES))
    for det in DETECTORS:
        print(f"\nper family, {det}:")
        for family in families[(det, "standard")]:
            cells = "  ".join(families[(det, p)][family] for p in PROFILES)
            print(f"  {family:<24} {cells}")
    print(f"\nreplay: {rows / seconds:,.0f} samples/s (engine.observe + tick, every file)")
    print(f"mean alarm duration: {mean_alarm:.1f} readings per raise")
    best = max((n for n in reference if n != "null"), key=lambda n: reference[n]["standard"])
    ratio = final["edgewarden"]["standard"] / reference[best]["standard"]
    print(f"ratio to the best published detector ({best}), standard: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
