"""The optional plate-detector model: its boxes drive the reader; a bad file is one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from controller.config import load_config
from controller.detect.detection import Detection
from controller.errors import UsageError
from controller.plates.finder import PlateFinder
from controller.plates.reader import PlateReader
from controller.service.plate_models import open_plate_finder
from controller.simulation.plates import scene


class _FakeDetector:
    """A test double of the detect package's detector: fixed detections, calls counted."""

    def __init__(self, detections: list[Detection]) -> None:
        self.detections, self.calls = detections, 0

    def detect(self, frame_bgr: np.ndarray) -> list[Detection]:
        self.calls += 1
        return self.detections


def test_the_finder_gives_plate_boxes_in_pixels_best_first() -> None:
    finder = PlateFinder(_FakeDetector([
        Detection("plate", 0.5, (0.1, 0.2, 0.3, 0.3)),
        Detection("class 1", 0.9, (0.5, 0.5, 0.7, 0.6)),  # not the plate class
        Detection("plate", 0.8, (0.5, 0.5, 0.75, 0.6)),
        Detection("plate", 0.95, (0.5, 0.5, 0.502, 0.51)),  # a speck
    ]))
    assert finder.find(np.zeros((500, 1000, 3), np.uint8)) == [
        (500, 250, 750, 300), (100, 100, 300, 150)]


def test_with_a_plate_model_the_reader_reads_its_boxes_and_not_the_classical_ones(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def no_classical(image: np.ndarray, limit: int) -> list[object]:
        raise AssertionError("the classical locator ran although a plate model is given")

    monkeypatch.setattr("controller.plates.reader.candidates", no_classical)
    frame, (x0, y0, x1, y1) = scene("SMK-651QA", seed=4)
    h, w = frame.shape[:2]
    detector = _FakeDetector([Detection("plate", 0.9, (x0 / w, y0 / h, x1 / w, y1 / h))])
    reader = PlateReader(finder=PlateFinder(detector))
    assert [r.text for r in reader.read(frame)] == ["SMK651QA"]
    assert detector.calls == 1


def test_a_missing_plate_model_is_one_line_naming_it(tmp_path: Path) -> None:
    model = tmp_path / "plates.onnx"
    with pytest.raises(UsageError) as err:
        open_plate_finder(model)
    assert str(err.value) == f"{model}: no such model file"


@pytest.mark.parametrize("name", ["plates.onnx", "plates.tflite"])
def test_a_corrupt_plate_model_is_one_line_naming_it(tmp_path: Path, name: str) -> None:
    model = tmp_path / name
    model.write_bytes(b"this is not a model")
    with pytest.raises(UsageError) as err:
        open_plate_finder(model)
    assert str(err.value).startswith(f"{model}: not a usable ")
    assert "\n" not in str(err.value)


def test_a_camera_names_its_plate_model_in_the_config(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[[cameras]]\nname = "gate"\nsource = "x.mp4"\nplates = true\n'
                    'plate_model = "/opt/models/plates.onnx"\nplate_model_threshold = 0.3\n')
    cam = load_config(path).cameras[0]
    assert cam.plate_model == Path("/opt/models/plates.onnx")
    assert cam.plate_model_threshold == 0.3
