"""`edgewarden plates read` through the real CLI: table, --jsonl, video frames, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2

from controller.simulation.plates import scene

CLI = [sys.executable, "-m", "controller"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "plates", "read", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def test_a_folder_of_images_gives_a_table_and_one_json_object_per_image(
        tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, plate in enumerate(["ABC-123DE", "KJA-407XY"]):
        frame, _ = scene(plate, seed=i)
        cv2.imwrite(str(folder / f"car{i}.jpg"), frame)
    (folder / "notes.txt").write_text("not an image")
    out = tmp_path / "reads.jsonl"
    done = run(str(folder), "--jsonl", str(out))
    assert done.returncode == 0, done.stderr
    assert "ABC123DE" in done.stdout and "KJA407XY" in done.stdout
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(Path(o["file"]).name, o["frame"], [p["text"] for p in o["plates"]])
            for o in lines] == [("car0.jpg", 0, ["ABC123DE"]), ("car1.jpg", 0, ["KJA407XY"])]
    plate = lines[0]["plates"][0]
    assert 0.0 < plate["confidence"] <= 1.0 and len(plate["box"]) == 4


def test_the_table_on_80_columns_names_every_file_and_cuts_no_plate(tmp_path: Path) -> None:
    # a pipe is 80 columns wide: a deep folder's paths cut at the end hid the files' names
    folder = tmp_path / ("gate-camera-photographs-of-the-north-entrance-" * 2) / "week-48"
    folder.mkdir(parents=True)
    for i, plate in enumerate(["ABC-123DE", "KJA-407XY"]):
        frame, _ = scene(plate, seed=i)
        cv2.imwrite(str(folder / f"car{i}.jpg"), frame)
    done = run(str(folder))
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if ".jpg" in line]
    assert any("car0.jpg" in r and "ABC123DE" in r for r in rows), done.stdout
    assert any("car1.jpg" in r and "KJA407XY" in r for r in rows), done.stdout
    assert "…" not in done.stdout and max(map(len, done.stdout.splitlines())) <= 80


def test_a_video_gives_one_json_object_per_frame_read(tmp_path: Path) -> None:
    video = tmp_path / "gate.mp4"
    frame, _ = scene("LND-908BG", seed=2, size=(640, 360), plate_width=160)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (640, 360))
    for _ in range(6):
        writer.write(frame)
    writer.release()
    out = tmp_path / "reads.jsonl"
    done = run(str(video), "--every", "2", "--jsonl", str(out))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [o["frame"] for o in lines] == [0, 2, 4]
    assert all([p["text"] for p in o["plates"]] == ["LND908BG"] for o in lines)


def test_a_corrupt_image_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    done = run(str(bad))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == \
        f"edgewarden plates: {bad}: not a readable image"
    assert "Traceback" not in done.stderr


def test_a_missing_path_and_a_missing_model_are_one_line_each(tmp_path: Path) -> None:
    done = run(str(tmp_path / "nowhere.jpg"))
    assert done.returncode == 2 and "nowhere.jpg: no such file or folder" in done.stderr
    image = tmp_path / "car.jpg"
    cv2.imwrite(str(image), scene("ABC-123DE")[0])
    done = run(str(image), "--models", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip() == \
        f"edgewarden plates: OCR model file missing: {tmp_path}/PP-OCRv6_det_small.onnx"
    assert "Traceback" not in done.stderr


def test_an_unknown_format_is_refused(tmp_path: Path) -> None:
    image = tmp_path / "car.jpg"
    cv2.imwrite(str(image), scene("ABC-123DE")[0])
    done = run(str(image), "--format", "mars")
    assert done.returncode == 2 and "unknown plate format 'mars'" in done.stderr


def test_a_format_of_the_config_file_can_be_named(tmp_path: Path) -> None:
    image = tmp_path / "gh.jpg"
    cv2.imwrite(str(image), scene("GR-1234-20", seed=1)[0])
    config = tmp_path / "site.toml"
    config.write_text('[plate_formats]\ngh = "LL-DDDD-DD"\n')
    done = run(str(image), "--format", "gh")
    assert done.returncode == 2 and "unknown plate format 'gh'" in done.stderr
    out = tmp_path / "reads.jsonl"
    done = run(str(image), "--config", str(config), "--format", "gh", "--jsonl", str(out))
    assert done.returncode == 0, done.stderr
    assert [p["text"] for p in json.loads(out.read_text())["plates"]] == ["GR123420"]
    config.write_text('[plate_formats]\ngh = "LL-0000-00"\n')
    done = run(str(image), "--config", str(config), "--format", "gh")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"edgewarden plates: {config}:2: plate_formats.gh: pattern 'LL-0000-00': '0' is not "
        "L (letter), D (digit), A (either), a separator (- . space) or / (line break)"]


def test_importing_the_service_loads_no_ocr_runtime() -> None:
    """A site without plates keeps today's memory and start-up: no onnxruntime, no OCR."""
    code = ("import sys, controller.service.lifecycle, controller.cli.run, controller.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('onnxruntime', 'rapidocr') or m in ('controller.plates.ocr', "
            "'controller.plates.reader', 'controller.plates.locate')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_a_corrupt_image_among_others_is_named_and_the_others_are_read(
        tmp_path: Path) -> None:
    """A folder with one broken photo: the rest is read (table and JSONL), the broken one
    is named on its own line, and the exit status still says the run was not clean."""
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "a_gate.png"), scene("ABC-123DE", seed=1)[0])
    (folder / "b_broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    cv2.imwrite(str(folder / "c_yard.png"), scene("LND-908BG", seed=2)[0])
    out = tmp_path / "reads.jsonl"
    done = run(str(folder), "--jsonl", str(out))
    assert done.returncode == 2
    assert f"edgewarden plates: {folder / 'b_broken.jpg'}: not a readable image, skipped" \
        in done.stderr.splitlines()
    assert done.stderr.strip().splitlines()[-1] == ("edgewarden plates: 1 of 3 inputs "
                                                    "could not be read (named above); "
                                                    "the table has the others")
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(Path(o["file"]).name, [p["text"] for p in o["plates"]]) for o in lines] == [
        ("a_gate.png", ["ABC123DE"]), ("c_yard.png", ["LND908BG"])]
    assert "ABC123DE" in done.stdout and "LND908BG" in done.stdout
    assert "Traceback" not in done.stderr
