"""`edgewarden detect`: run the camera detection pipeline on a recording."""

from __future__ import annotations

import argparse
import json
from contextlib import ExitStack
from pathlib import Path
from typing import IO

import cv2
import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from controller.camera.opencv import OpenCvSource
from controller.camera.source import CameraDown
from controller.config import CameraConfig, DetectConfig
from controller.detect.detection import Detection
from controller.detect.detector import Detector, DetectorOptions
from controller.detect.events import ListSink
from controller.detect.pipeline import DetectionPipeline
from controller.detect.thresholds import ScoreThresholds, parse_label_threshold
from controller.errors import UsageError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "detect",
        help="run the camera detection pipeline on a recording",
        description="Run the camera detection pipeline (motion gate, detector, tracker, "
        "events) on a video file, a folder of images or a camera device, without the "
        "service. Writes one JSON object per frame and prints the events found.",
    )
    p.add_argument("--model", required=True, type=Path, help="TFLite detector model")
    p.add_argument("--labels", type=Path, help="label file (.txt or .pbtxt)")
    p.add_argument("--source", required=True, help="video file, image folder or device")
    p.add_argument("--threshold", type=float, help="score threshold (default %(default)s)",
                   default=DetectConfig.threshold)
    p.add_argument("--label-threshold", action="append", default=[], metavar="LABEL=T",
                   help="score threshold for one label (repeatable)")
    p.add_argument("--threads", type=int, default=DetectConfig.threads,
                   help="interpreter threads (default %(default)s)")
    p.add_argument("--no-motion-gate", action="store_true",
                   help="run the detector on every frame")
    p.add_argument("--motion-sensitivity", type=float, default=0.5,
                   help="motion gate sensitivity 0..1 (default %(default)s)")
    p.add_argument("--jsonl", type=Path, help="write per-frame detections here")
    p.add_argument("--annotate", type=Path, metavar="OUT.mp4",
                   help="write the video with boxes drawn")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.threads < 1:
        raise UsageError(f"--threads {args.threads}: must be at least 1")
    per_label = dict(parse_label_threshold(t) for t in args.label_threshold)
    thresholds = ScoreThresholds(args.threshold, per_label)
    config = DetectConfig(model=args.model, labels=args.labels, threads=args.threads,
                          threshold=args.threshold, label_thresholds=per_label,
                          motion_gate=not args.no_motion_gate)
    detector = Detector.open(args.model, args.labels, thresholds,
                             DetectorOptions(threads=args.threads))
    camera = CameraConfig(name="detect", source=args.source,
                          motion_sensitivity=args.motion_sensitivity)
    source = OpenCvSource(camera, every_frame=True)
    try:
        source.open()
    except CameraDown as exc:
        raise UsageError(str(exc)) from None
    sink = ListSink()
    pipeline = DetectionPipeline(camera, config, detector, sink)
    console = Console(stderr=True)
    total = _frame_count(args.source) if source.kind == "file" else None
    with ExitStack() as stack:
        stack.callback(source.close)
        jsonl = _open_output(stack, args.jsonl, "--jsonl")
        annotate: cv2.VideoWriter | None = None
        progress = stack.enter_context(Progress(
            TextColumn("detect"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=True,
        ))
        task = progress.add_task("frames", total=total)
        while True:
            try:
                frame = source.read()
            except CameraDown as exc:
                raise UsageError(str(exc)) from None
            if frame is None:
                break
            result = pipeline.process(frame)
            if jsonl is not None:
                record = {"frame": frame.index,
                          "detections": [d.to_json() for d in result.detections]}
                jsonl.write(json.dumps(record) + "\n")
            if args.annotate is not None:
                if annotate is None:
                    annotate = _open_writer(args.annotate, frame.image, source.fps)
                    stack.callback(annotate.release)
                annotate.write(draw(pipeline.mask.apply(frame.image), result.detections))
            progress.advance(task)
        pipeline.finish()
    _print_summary(sink, pipeline, detector.family)
    return 0


def draw(image: npt.NDArray[np.uint8], detections: list[Detection]) -> npt.NDArray[np.uint8]:
    """A copy of the frame with labelled boxes."""
    out = image.copy()
    height, width = out.shape[:2]
    for d in detections:
        x0, y0 = int(d.box[0] * width), int(d.box[1] * height)
        x1, y1 = int(d.box[2] * width), int(d.box[3] * height)
        cv2.rectangle(out, (x0, y0), (x1, y1), (0, 255, 0), 2)
        cv2.putText(out, f"{d.label} {d.score:.2f}", (x0, max(12, y0 - 4)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 0), 1, cv2.LINE_AA)
    return out


def _frame_count(source: str) -> int | None:
    cap = cv2.VideoCapture(source)
    try:
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        cap.release()
    return count if count > 0 else None


def _open_output(stack: ExitStack, path: Path | None, option: str) -> IO[str] | None:
    if path is None:
        return None
    try:
        return stack.enter_context(path.open("w", encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot write ({exc.strerror})") from None


def _open_writer(path: Path, like: npt.NDArray[np.uint8], fps: float) -> cv2.VideoWriter:
    height, width = like.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps or 15.0,
                             (width, height))
    if not writer.isOpened():
        raise UsageError(f"--annotate {path}: cannot write a video there")
    return writer


def _print_summary(sink: ListSink, pipeline: DetectionPipeline, family: str) -> None:
    console = Console()
    stats = pipeline.stats
    console.print(
        f"{stats.frames} frames, detector ran on {stats.detector_runs} "
        f"(motion on {stats.motion_frames}), model family {family}: "
        f"{len(sink.events)} event(s)"
    )
    if not sink.events:
        return
    table = Table("label", "zone", "start s", "end s", "best score", "frames")
    for e in sink.events:
        table.add_row(e.label, e.zone, f"{e.start:.2f}", f"{e.end:.2f}",
                      f"{e.best_score:.2f}", str(len(e.track)))
    console.print(table)
