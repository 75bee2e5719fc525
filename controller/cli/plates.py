"""`edgewarden plates read PATH...`: read number plates in images, folders or videos."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from controller.errors import UsageError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".avi", ".mov", ".webm", ".mjpeg", ".h264"})
#: inputs with more items than this get a progress bar (on a terminal)
PROGRESS_FROM = 5


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("plates", help="read number plates offline (images, folders, video)",
                       description="Number plates without the service.")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    r = actions.add_parser(
        "read", help="read the plates in images, image folders or videos",
        description="Print a table of the plates read in each image (or video frame); "
        "with --jsonl, one JSON object per image or frame.")
    r.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                   help="an image, a folder of images or a video")
    r.add_argument("--jsonl", type=Path, metavar="FILE", help="write one object per image")
    r.add_argument("--format", action="append", dest="formats", metavar="NAME",
                   help="plate format to expect (repeatable; default: ng, generic; "
                   "known: ng br us generic, and those of --config's [plate_formats])")
    r.add_argument("--config", type=Path, metavar="FILE",
                   help="a config file whose [plate_formats] (the site's own formats) "
                        "--format may name")
    r.add_argument("--every", type=int, default=1, metavar="N",
                   help="in a video, read every Nth frame (default %(default)s)")
    r.add_argument("--threads", type=int, default=1, help="OCR threads (default 1)")
    r.add_argument("--plate-model", type=Path, metavar="FILE",
                   help="a plate-detector model (.tflite or .onnx, one class: plate) "
                        "that finds the plates; default: the text detector does")
    r.add_argument("--models", type=Path, metavar="DIR",
                   help="folder of the PP-OCR .onnx files (default: the rapidocr wheel's)")
    r.set_defaults(handler=run_read)


def expand(paths: list[Path]) -> list[tuple[Path, bool]]:
    """(file, is_video) for every input: folders give their images in name order."""
    out: list[tuple[Path, bool]] = []
    for path in paths:
        if path.is_dir():
            out.extend((p, False) for p in sorted(path.iterdir())
                       if p.suffix.lower() in IMAGE_SUFFIXES)
        elif not path.exists():
            raise UsageError(f"{path}: no such file or folder")
        elif path.suffix.lower() in VIDEO_SUFFIXES:
            out.append((path, True))
        else:
            out.append((path, False))
    return out


def frames(path: Path, is_video: bool, every: int) -> Iterator[tuple[int, np.ndarray]]:
    """(frame number, BGR image) of an image (frame 0) or every `every`th video frame."""
    if not is_video:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise UsageError(f"{path}: not a readable image")
        yield 0, image
        return
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise UsageError(f"{path}: not a readable video")
    try:
        index = 0
        while True:
            ok, image = capture.read()
            if not ok:
                if index == 0:
                    raise UsageError(f"{path}: not a readable video")
                return
            if index % every == 0:
                yield index, image
            index += 1
    finally:
        capture.release()


def common_folder(paths: list[Path]) -> Path | None:
    """The deepest folder holding every input (resolved), or None for inputs in no
    common folder but the root (their full paths say more there)."""
    if not paths:
        return None
    folder = Path(os.path.commonpath([str(p.resolve().parent) for p in paths]))
    return None if folder == Path(folder.anchor) else folder


def run_read(args: argparse.Namespace) -> int:
    if args.every < 1:
        raise UsageError(f"--every {args.every}: must be at least 1")
    if args.threads < 1:
        raise UsageError(f"--threads {args.threads}: must be at least 1")
    from controller.config import load_config
    from controller.plates.formats import DEFAULT_FORMATS, formats_named
    from controller.plates.reader import PlateReader

    site = load_config(args.config).plate_formats if args.config is not None else {}
    try:
        formats = formats_named(args.formats or list(DEFAULT_FORMATS), site)
    except ValueError as exc:
        raise UsageError(f"--format: {exc}") from None
    inputs = expand(args.paths)
    if not inputs:
        raise UsageError("no images found in " + ", ".join(map(str, args.paths)))
    finder = None
    if args.plate_model is not None:
        from controller.service.plate_models import open_plate_finder

        finder = open_plate_finder(args.plate_model, threads=args.threads)
    reader = PlateReader(formats, model_dir=args.models, threads=args.threads, finder=finder)
    rows: list[tuple[str, int, str, float, list[int]]] = []
    unreadable: list[str] = []  # one line for each input that could not be read
    console = Console(stderr=True)
    with ExitStack() as stack:
        sink = stack.enter_context(args.jsonl.open("w", encoding="utf-8")) \
            if args.jsonl else None
        progress = stack.enter_context(Progress(
            TextColumn("plates"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=True,
            disable=len(inputs) < PROGRESS_FROM and not any(v for _, v in inputs)))
        task = progress.add_task("images", total=len(inputs))
        for path, is_video in inputs:
            try:
                for index, image in frames(path, is_video, args.every):
                    reads = reader.read(image)
                    if sink is not None:
                        sink.write(json.dumps({"file": str(path), "frame": index,
                                               "plates": [r.as_json() for r in reads]})
                                   + "\n")
                    for r in reads:
                        rows.append((str(path), index, r.text, r.confidence, list(r.box)))
                    if not reads:
                        rows.append((str(path), index, "", 0.0, []))
            except UsageError as exc:
                # one bad file among many: named, skipped, and the run goes on (a corrupt
                # photo in a folder of a thousand must not cost the other reads)
                if len(inputs) == 1:
                    raise
                unreadable.append(str(exc))
                progress.console.print(f"edgewarden plates: {exc}, skipped",
                                       markup=False, highlight=False, soft_wrap=True)
            progress.advance(task)
    base = common_folder([path for path, _ in inputs])
    where = f" in {base}" if base is not None else ""
    # each input's name in the table, worked out once (a video has a row per frame read)
    names = {str(path): str(path.resolve().relative_to(base)) if base is not None
             else str(path) for path, _ in inputs}
    table = Table(title=f"plates read in {len(inputs)} input(s){where}")
    # a narrow terminal (or a pipe: 80 columns) must not cut the part of a path that
    # tells the files apart, nor a plate: the file is named under the inputs' common
    # folder (in the title) and wraps rather than ends in an ellipsis
    table.add_column("file", overflow="fold")
    table.add_column("frame", no_wrap=True)
    table.add_column("plate", no_wrap=True)
    table.add_column("confidence", no_wrap=True)
    table.add_column("box")
    for file, index, text, conf, box in rows:
        table.add_row(names[file], str(index), text or "-", f"{conf:.2f}" if text else "-",
                      " ".join(map(str, box)) if box else "-")
    Console().print(table)
    if unreadable:
        raise UsageError(f"{len(unreadable)} of {len(inputs)} inputs could not be read "
                         "(named above); the table has the others")
    return 0
