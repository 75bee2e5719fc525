"""Plate reading on the shared photographs: edgewarden's reader vs rapidocr's full pipeline.

Per folder of ../shared/data/plates (us, br): exact-read rate, rate within one character
(edit distance <= 1), median and p95 time per photo, for edgewarden's reader on every
photo, and for the baseline (rapidocr's own full pipeline on the whole photo) on every
photo too, or with `--sample N` on N of each folder (every k-th photo in name order,
printed; the baseline takes about a second a photo, so all of them take some 6 minutes,
but a sample's median photo is not the folder's: a sample of 15 flattered the ratio).
edgewarden reads each of those photos again just before the baseline does,
and those figures are printed beside the baseline's, so the ratio compares like with like
on a machine whose load drifts. Both run on one core (one onnxruntime thread). RSS is the
process's peak, taken after edgewarden's runs and again after the baseline's. Tuning is
on general principles only: another region's photos are kept back for review.

    uv run python bench/plates.py [--sample N] [--folders us br] [--limit N] [--misses]
                                  [--formats generic]

A folder is read with the built-in format of its name (`folder_formats`: a region kept
back for review and named for one, e.g. `ng`, gets it; any other name, `generic`).
`--formats` reads every folder with the given formats instead of the folder's own: with
`generic` (any mix of 4 to 10), the figures of a region whose format the reader is not told.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from controller.plates.formats import (  # noqa: E402
    DEFAULT_FORMATS,
    FORMATS,
    fit_formats,
    formats_named,
    normalise,
)
from controller.plates.reader import PlateRead, PlateReader  # noqa: E402


def folder_formats(name: str) -> list[str]:
    """The formats a folder's photos are read with: a folder named after a built-in
    format is read with it (`ng` with the product's default, `ng` and `generic`, as a
    Nigerian site is set up), any other region with `generic` (a format not told)."""
    if name == DEFAULT_FORMATS[0]:
        return list(DEFAULT_FORMATS)
    return [name] if name in FORMATS else ["generic"]


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def photos(folder: Path) -> list[tuple[Path, str]]:
    out = []
    for txt in sorted(folder.glob("*.txt")):
        name, *_, plate = txt.read_text().strip().split("\t")
        out.append((folder / name, plate))
    return out


def truth_box(path: Path) -> tuple[int, int, int, int]:
    """The hand-drawn plate box of a photo, as x0, y0, x1, y1."""
    _, *middle, _ = path.with_suffix(".txt").read_text().strip().split("\t")
    x, y, w, h = (int(v) for v in " ".join(middle).split())
    return x, y, x + w, y + h


def load(path: Path) -> np.ndarray:
    """A photo as BGR pixels; one that cannot be decoded ends the run naming it."""
    image = cv2.imread(str(path))
    if image is None:
        raise SystemExit(f"cannot read image {path}")
    return image


def timed_read(reader: PlateReader, image: np.ndarray) -> tuple[PlateRead | None, float]:
    """edgewarden's read of a photo (None: nothing read) and the seconds it took."""
    start = time.perf_counter()
    reads = reader.read(image)
    return (reads[0] if reads else None), time.perf_counter() - start


def box_iou(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def miss_kind(want: str, got: str, iou: float) -> str:
    """Why a read missed: nothing read, other text read, or the plate misread."""
    if not got:
        return "no read"
    if iou < 0.2:
        return "other text"
    if edit_distance(got, want) <= 1:
        return "one char off"
    return "misread"


def baseline_read(engine: object, image: np.ndarray, formats: tuple) -> str:
    """rapidocr's full pipeline; the plate is its line that best fits the folder's format."""
    result = engine(image)  # type: ignore[operator]
    best, best_score = "", -1.0
    for text, score in zip(result.txts or (), result.scores or (), strict=False):
        fit = fit_formats(text, formats)
        value = float(score) * fit.factor
        if normalise(text) and value > best_score:
            best, best_score = fit.text, value
    return best


def figures(results: list[tuple[str, str, float]]) -> tuple[float, float, float, float]:
    n = len(results)
    exact = sum(got == want for want, got, _ in results) / n
    near = sum(edit_distance(got, want) <= 1 for want, got, _ in results) / n
    times = sorted(t for *_, t in results)
    return exact, near, statistics.median(times), times[min(n - 1, int(n * 0.95))]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get(
        "EDGEWARDEN_SHARED_DATA", REPO.parent / "shared" / "data")) / "plates")
    parser.add_argument("--folders", nargs="+", default=["us", "br"])
    parser.add_argument("--sample", type=int, default=None,
                        help="baseline photos per folder (default: all; 0: none)")
    parser.add_argument("--limit", type=int, default=0, help="photos per folder (0: all)")
    parser.add_argument("--formats", nargs="+", default=None,
                        help="plate formats for every folder (default: each folder's own)")
    parser.add_argument("--misses", action="store_true",
                        help="print each miss: expected, read, boxes, and why")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"no plate photos at {args.data} (set EDGEWARDEN_SHARED_DATA)")
        return 1
    cv2.setNumThreads(1)
    rows = []
    ours_by: dict[str, list[tuple[str, str, float]]] = {}
    items_by: dict[str, list[tuple[Path, str]]] = {}
    # edgewarden on every folder first, so its peak RSS is its own (the baseline's is larger)
    for name in args.folders:
        names = args.formats or folder_formats(name)
        print(f"{name}: read with formats {', '.join(names)}")
        formats = formats_named(names)
        reader = PlateReader(formats, threads=1)
        items = photos(args.data / name)
        if args.limit:
            items = items[:args.limit]
        ours: list[tuple[str, str, float]] = []
        for path, want in items:
            image = load(path)
            read, seconds = timed_read(reader, image)
            ours.append((want, read.text if read else "", seconds))
            if args.misses and ours[-1][1] != want:
                truth = truth_box(path)
                box = read.box if read else (0, 0, 0, 0)
                iou = box_iou(truth, box)
                print(f"miss {name}/{path.name}: want {want} read {ours[-1][1] or '-'} "
                      f"box {list(box)} truth {list(truth)} iou {iou:.2f}: "
                      f"{miss_kind(want, ours[-1][1], iou)}")
        ours_by[name], items_by[name] = ours, items
        rows.append((name, "edgewarden", len(items), *figures(ours), rss_mb()))
    baseline_engine = None
    for name in args.folders if args.sample != 0 else []:
        formats = formats_named(args.formats or folder_formats(name))
        items = items_by[name]
        wanted = len(items) if args.sample is None else min(args.sample, len(items))
        step = max(1, len(items) // max(1, wanted))
        sample = list(range(0, len(items), step))[:wanted]
        if step > 1:
            print(f"{name}: baseline sample (every {step}th photo): "
                  + " ".join(items[i][0].name for i in sample))
        if baseline_engine is None:
            from rapidocr import RapidOCR
            baseline_engine = RapidOCR(params={
                "Global.log_level": "critical",
                "EngineConfig.onnxruntime.intra_op_num_threads": 1,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1})
        # each sample photo read by edgewarden again right before the baseline reads it,
        # so that the machine's load, which drifts over a run of minutes, weighs on both
        # alike (a reader of its own: the first's memo of recent lines holds this photo's)
        again = PlateReader(formats, threads=1)
        theirs: list[tuple[str, str, float]] = []
        ours_again: list[tuple[str, str, float]] = []
        for i in sample:
            path, want = items[i]
            image = load(path)
            read, seconds = timed_read(again, image)
            ours_again.append((want, read.text if read else "", seconds))
            start = time.perf_counter()
            got = baseline_read(baseline_engine, image, formats)
            theirs.append((want, got, time.perf_counter() - start))
        rows.append((name, "edgewarden, same sample", len(sample), *figures(ours_again),
                     float("nan")))
        rows.append((name, "baseline: rapidocr full", len(sample), *figures(theirs),
                     rss_mb()))
    print()
    print(f"{'folder':6} {'reader':24} {'photos':>6} {'exact':>6} {'<=1 ch':>6} "
          f"{'median':>8} {'p95':>8} {'peak RSS':>9}")
    for folder, who, n, exact, near, med, p95, rss in rows:
        rss_text = "-" if rss != rss else f"{rss:.0f}MB"  # nan: same process as above
        print(f"{folder:6} {who:24} {n:6d} {exact:6.1%} {near:6.1%} {med * 1e3:6.0f}ms "
              f"{p95 * 1e3:6.0f}ms {rss_text:>9}")
    by = {(r[0], r[1]): r for r in rows}
    for folder in args.folders:
        ours_s = by.get((folder, "edgewarden, same sample"))
        base = by.get((folder, "baseline: rapidocr full"))
        if ours_s and base:
            print(f"{folder}: median speed-up vs baseline {base[5] / ours_s[5]:.1f}x; exact "
                  f"{ours_s[3]:.0%} vs {base[3]:.0%} on the same {base[2]} photos")
    print("goals: exact >= 95% per folder, >= 10x faster than the baseline at equal or "
          "better accuracy, <= 300 ms median")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
