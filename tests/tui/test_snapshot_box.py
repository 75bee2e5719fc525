"""The event detail's snapshot shows the detection box, drawn on a copy: the stored
snapshot bytes stay as they were."""

from __future__ import annotations

import io

from PIL import Image

from controller.detect.events import DetectionEvent
from controller.detect.tracker import TrackPoint
from tui.widgets.image_support import decode_image, with_box


def jpeg(width: int = 160, height: int = 120) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 120, 20)).save(out, format="JPEG")
    return out.getvalue()


def test_box_drawn_on_a_copy_original_untouched() -> None:
    data = jpeg()
    before = bytes(data)
    image = decode_image(data)
    assert image is not None
    boxed = with_box(image, [0.25, 0.25, 0.75, 0.75])
    assert boxed is not image
    r, g, _b = boxed.getpixel((40, 60))  # the left edge of the box
    assert r > 200 and g < 80
    assert image.convert("RGB").getpixel((40, 60))[1] > 100  # the decoded original: green
    assert boxed.getpixel((80, 60))[1] > 100  # inside the box: the picture
    assert data == before
    assert with_box(image, None) is image and with_box(image, ["x", 1, 2, 3]) is image


def test_event_names_the_box_of_its_snapshot_frame() -> None:
    track = (TrackPoint(1.0, (0.1, 0.1, 0.2, 0.2), 0.5),
             TrackPoint(2.0, (0.3, 0.3, 0.5, 0.6), 0.9),
             TrackPoint(3.0, (0.6, 0.6, 0.7, 0.7), 0.6))
    event = DetectionEvent("gate", "all", "car", 1, 1.0, 3.0, 0.9, 2.0, track)
    assert event.best_box() == [0.3, 0.3, 0.5, 0.6]
    assert event.summary()["best_box"] == [0.3, 0.3, 0.5, 0.6]
