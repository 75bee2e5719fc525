"""The plate reader on synthetic Nigerian plates (rendered, warped, blurred, noisy)."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from controller.config import CameraConfig
from controller.errors import EdgewardenError
from controller.plates.formats import formats_named
from controller.plates.ocr import DET_MODEL, REC_MODEL, default_model_dir
from controller.plates.reader import EDGE_FACTOR, GOOD_ENOUGH, PlateReader
from controller.plates.stage import ReadFn
from controller.service.plate_records import shipped_reader
from controller.simulation.plates import scene, two_line_plate

PLATES = ["ABC-123DE", "KJA-407XY", "LND-908BG", "SMK-651QA", "EKY-300OL", "BDG-512ZS"]


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader()


@pytest.mark.parametrize("seed,plate", list(enumerate(PLATES)))
def test_a_nigerian_plate_in_a_whole_frame_is_read_exactly(
        reader: PlateReader, seed: int, plate: str) -> None:
    frame, (x0, y0, x1, y1) = scene(plate, seed=seed, tilt=0.03 * (seed % 3),
                                    blur=3 + 2 * (seed % 2), noise=4.0 + seed)
    reads = reader.read(frame)
    assert [r.text for r in reads] == [plate.replace("-", "")]
    bx0, by0, bx1, by1 = reads[0].box
    assert x0 - 10 <= bx0 < bx1 <= x1 + 10 and y0 - 20 <= by0 < by1 <= y1 + 20
    assert reads[0].format_name == "ng" and reads[0].confidence > 0.8


def test_a_two_line_plate_is_read_top_line_first(reader: PlateReader) -> None:
    reads = reader.read(two_line_plate("KJA", "407XY"))
    assert [r.text for r in reads] == ["KJA407XY"]


def test_a_frame_without_text_gives_no_read(reader: PlateReader) -> None:
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 30, (480, 640, 3), dtype=np.uint8)
    assert reader.read(frame) == []


def test_a_read_fitting_no_format_is_kept_with_low_confidence() -> None:
    ng_only = PlateReader(formats_named(["ng"]))
    frame, _ = scene("KJA-4070", seed=3)
    reads = ng_only.read(frame)
    assert [r.text for r in reads] == ["KJA4070"]
    assert reads[0].format_name is None and reads[0].confidence <= 0.3


def test_the_models_come_from_the_installed_wheel() -> None:
    folder = default_model_dir()
    assert (folder / DET_MODEL).is_file() and (folder / REC_MODEL).is_file()


def test_a_missing_model_file_is_one_line_naming_it(tmp_path: Path) -> None:
    shutil.copy(default_model_dir() / DET_MODEL, tmp_path / DET_MODEL)
    with pytest.raises(EdgewardenError) as err:
        PlateReader(model_dir=tmp_path)
    assert str(err.value) == f"OCR model file missing: {tmp_path / REC_MODEL}"


def test_a_corrupt_model_file_is_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / DET_MODEL).write_bytes(b"not an onnx model")
    shutil.copy(default_model_dir() / REC_MODEL, tmp_path / REC_MODEL)
    with pytest.raises(EdgewardenError) as err:
        PlateReader(model_dir=tmp_path)
    assert str(err.value).startswith(f"cannot load OCR model {tmp_path / DET_MODEL}")
    assert "\n" not in str(err.value)


def test_reading_never_loads_rapidocr_or_an_http_client() -> None:
    """The models are opened by path: rapidocr's downloader (and requests) stay unloaded."""
    import subprocess
    import sys

    code = ("import sys; from controller.simulation.plates import scene; "
            "from controller.plates.reader import PlateReader; "
            "r = PlateReader().read(scene('ABC-123DE')[0]); "
            "print(r[0].text, sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('rapidocr', 'requests', 'urllib3')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.split() == ["ABC123DE", "[]"]


def test_a_plate_the_classical_locator_misses_is_found_by_the_text_search(
        reader: PlateReader, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no classical region at all, the downscaled text detector still finds the plate
    and its line is re-read from the full-resolution frame."""
    monkeypatch.setattr("controller.plates.reader.candidates", lambda image, limit: [])
    frame, (x0, y0, x1, y1) = scene("KJA-407XY", seed=2, size=(1600, 900), plate_width=220)
    reads = reader.read(frame)
    assert [r.text for r in reads] == ["KJA407XY"]
    bx0, by0, bx1, by1 = reads[0].box
    assert x0 - 10 <= bx0 < bx1 <= x1 + 10 and y0 - 20 <= by0 < by1 <= y1 + 20


def _box(x0: float, x1: float, y0: float = 10.0, y1: float = 30.0) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)


def test_boxes_split_by_a_dash_join_but_text_far_beside_the_plate_is_its_own_row() -> None:
    from controller.plates.reader import _rows

    model, left, right, badge = _box(0, 80), _box(200, 250), _box(260, 330), _box(480, 520)
    rows = _rows([right, badge, model, left])
    assert [[float(b[0, 0]) for b in row] for row in rows] == [[0.0], [200.0, 260.0], [480.0]]


class _FakeRecogniser:
    """Says a different text per read variant, and counts the reads."""

    def __init__(self, plain: str, plain_conf: float | tuple[float, ...]) -> None:
        self.plain, self.calls = plain, 0
        self.plain_conf = plain_conf if isinstance(plain_conf, tuple) \
            else (plain_conf,) * len(plain)

    def read(self, line: np.ndarray, max_ratio: float = 12.0, min_width: int = 0) -> object:
        from controller.plates.ocr import LineRead

        self.calls += 1
        if min_width:
            return LineRead("KJA407XY", (0.7,) * 8)
        if self.calls == 1:  # the plain variant comes first, then the bordered one
            return LineRead(self.plain, self.plain_conf)
        return LineRead("KJA407XY", (0.6,) * 8)


@pytest.mark.parametrize("plain,plain_conf,text,conf,calls", [
    # an unsure read of one character too many: outvoted by the other two variants
    ("XKJA407XY", 0.8, "KJA407XY", 0.7, 3),
    # a sure read needs no second opinion
    ("LND908BG", 0.98, "LND908BG", 0.98, 1),
    # sure on the whole but for one character (a mark, a cut end): asked again
    ("KJA407XY", (0.99,) * 7 + (0.3,), "KJA407XY", 0.9037, 2),
    # plain 0.7 and bordered 0.6 agree: 1.3 leads by more than one more read can add
    ("KJA407XY", 0.7, "KJA407XY", 0.7, 2),
    # a line read as no character at all, like one of no plate's length: not asked again
    ("", 0.9, "", 0.0, 1),
])
def test_a_line_is_read_again_only_while_another_variant_could_change_its_text(
        reader: PlateReader, monkeypatch: pytest.MonkeyPatch, plain: str,
        plain_conf: float | tuple[float, ...], text: str, conf: float, calls: int) -> None:
    fake = _FakeRecogniser(plain, plain_conf)
    monkeypatch.setattr(reader, "_recogniser", fake)
    line = np.full((40, 60, 3), 200, np.uint8)
    fitted, got = reader._read_group(line, [_box(5, 55, 5, 35)])
    assert (fitted.text, fake.calls) == (text, calls) and got == pytest.approx(conf, abs=1e-3)
    assert fitted.format_name == ("ng" if text else None)


@pytest.mark.parametrize("whole_conf,located", [(0.95, False), (0.7, True)])
def test_a_small_image_is_localised_only_when_its_whole_read_is_unsure(
        reader: PlateReader, monkeypatch: pytest.MonkeyPatch, whole_conf: float,
        located: bool) -> None:
    import controller.plates.reader as reader_module
    from controller.plates.locate import Candidate
    from controller.plates.reader import WHOLE_DET_SIDE, PlateRead

    calls: list[str] = []
    monkeypatch.setattr(reader_module, "candidates", lambda image, limit: calls.append(
        "locate") or [Candidate(100, 100, 200, 130, 1.0)])

    def region(image: np.ndarray, box: tuple[int, int, int, int], side: int,
               **_: object) -> PlateRead:
        calls.append("whole" if side == WHOLE_DET_SIDE else "region")
        return PlateRead("KJA407XY", whole_conf if side else 0.95, box, "ng")

    monkeypatch.setattr(reader, "_read_region", region)
    reads = reader.read(np.zeros((400, 600, 3), np.uint8))
    assert [r.text for r in reads] == ["KJA407XY"]
    assert calls == (["whole", "locate", "region"] if located else ["whole"])


def test_a_cameras_on_screen_text_at_the_frame_border_loses_to_the_plate() -> None:
    """A camera name burnt into the corner fits the format as well as the plate does;
    text touching the frame's border is taken for on-screen text and ranks lower."""
    import cv2

    frame, (x0, y0, x1, y1) = scene("KJA-407XY", seed=1, blur=5, noise=10)
    cv2.rectangle(frame, (0, 0), (330, 40), (0, 0, 0), -1)
    cv2.putText(frame, "GTE-501KD", (6, 32), cv2.FONT_HERSHEY_DUPLEX, 1.1,
                (255, 255, 255), 2)
    reads = PlateReader(formats_named(["ng"])).read(frame)
    assert [r.text for r in reads] == ["KJA407XY"]
    assert x0 <= reads[0].box[0] and reads[0].box[2] <= x1 and y0 <= reads[0].box[1] <= y1
    # a vehicle crop is cut at the vehicle's box, so there the border says nothing: the
    # same text alone is read as surely as a plate in a crop, at half that in a frame
    alone = np.full_like(frame, 100)
    alone[:41, :331] = frame[:41, :331]
    crops = PlateReader(formats_named(["ng"]), whole_frames=False)
    [in_crop] = crops.read(alone)
    [in_frame] = PlateReader(formats_named(["ng"])).read(alone)
    assert in_crop.text == in_frame.text == "GTE501KD"
    assert in_crop.confidence >= GOOD_ENOUGH
    assert in_frame.confidence == pytest.approx(EDGE_FACTOR * in_crop.confidence)


def test_text_touching_the_frame_border_is_at_the_edge() -> None:
    from controller.plates.reader import _at_edge

    assert _at_edge((0, 100, 80, 120), 1280, 720)
    assert _at_edge((1200, 700, 1279, 719), 1280, 720)
    assert not _at_edge((500, 300, 600, 340), 1280, 720)


def test_an_unsure_best_read_is_outvoted_by_two_larger_scales_that_agree(
        reader: PlateReader, monkeypatch: pytest.MonkeyPatch) -> None:
    from controller.plates.reader import RESCALE_HEIGHTS, PlateRead

    heights: list[int] = []

    def at_scale(image: np.ndarray, box: tuple[int, int, int, int], det_side: int,
                 crop_height: int = 0) -> PlateRead:
        heights.append(crop_height)
        return PlateRead("KJA407XY", 0.45, (100, 100, 200, 130), "ng")

    monkeypatch.setattr(reader, "_read_region", at_scale)
    unsure = PlateRead("XKJA407XY", 0.5, (98, 100, 200, 130), "generic")
    voted = reader._rescale_vote(np.zeros((300, 400, 3), np.uint8), unsure)
    assert voted.text == "KJA407XY" and heights == list(RESCALE_HEIGHTS)


def test_three_scales_each_wrong_in_a_different_place_vote_character_by_character(
        reader: PlateReader, monkeypatch: pytest.MonkeyPatch) -> None:
    from controller.plates.reader import PlateRead

    at_height = {128: PlateRead("KJA4O7XY", 0.7, (101, 100, 200, 130), "ng"),
                 192: PlateRead("KJA407YY", 0.6, (99, 100, 200, 130), "ng")}

    def at_scale(image: np.ndarray, box: tuple[int, int, int, int], det_side: int,
                 crop_height: int = 0) -> PlateRead:
        return at_height[crop_height]

    monkeypatch.setattr(reader, "_read_region", at_scale)
    unsure = PlateRead("KXA407XY", 0.8, (100, 100, 200, 130), "ng")
    voted = reader._rescale_vote(np.zeros((300, 400, 3), np.uint8), unsure)
    # no two reads agree; each position's majority gives the plate, in the surest's box,
    # as sure as the surest read times the least share a position was won by
    assert voted.text == "KJA407XY" and voted.format_name == "ng"
    assert voted.box == unsure.box
    assert voted.confidence == pytest.approx(0.8 * 1.3 / 2.1)


# ------------------------------------------------------------------ a camera's formats
SITE = {"gh": "LL-DDDD-DD", "moto": "LLL/DDDDL", "short": "LLL/DDDD"}


def _gate(**kw: object) -> ReadFn:
    cam = CameraConfig("gate", "x", plates=True, plates_mode="gate", **kw)  # type: ignore[arg-type]
    return shipped_reader(cam, SITE)


def test_a_camera_with_only_its_sites_format_reads_a_plate_of_that_format() -> None:
    """GR-1234-20 under the default ng turns into GRI234ZO; the camera naming only the
    site's `gh` reads it right, fitted and at full confidence."""
    frame, _ = scene("GR-1234-20", seed=1)
    default = [(r.text, r.format_name) for r in _gate()(frame)]
    assert default == [("GRI234ZO", "ng")]
    reads = _gate(plate_formats=["gh"])(frame)
    assert [(r.text, r.format_name) for r in reads] == [("GR123420", "gh")]
    assert reads[0].confidence > 0.8


def test_a_two_line_site_format_reads_the_lines_joined_top_first() -> None:
    plate = two_line_plate("GHA", "4071K")
    assert [(r.text, r.format_name) for r in _gate()(plate)] == [("GHA407IK", "ng")]
    reads = _gate(plate_formats=["moto", "generic"])(plate)
    assert [(r.text, r.format_name) for r in reads] == [("GHA4071K", "moto")]


@pytest.mark.parametrize(("top", "bottom"), [("KJA", "4071"), ("ABJ", "2150")])
def test_a_two_line_plate_of_short_lines_is_joined_though_their_boxes_overlap(
        top: str, bottom: str) -> None:
    """Short lines are drawn tall, so the detector's boxes of the two lines overlap a
    little; the lower one is still the second line (it starts below the upper's middle)."""
    read = _gate(plate_formats=["short"])
    plate = two_line_plate(top, bottom)
    assert [(r.text, r.format_name) for r in read(plate)] == [(top + bottom, "short")]


def test_a_camera_naming_no_formats_reads_ng_then_generic() -> None:
    """The default: a Nigerian plate fits ng, a plate no country format fits is generic."""
    assert CameraConfig("gate", "x").plate_formats == ["ng", "generic"]
    read = _gate()
    assert [(r.text, r.format_name) for r in read(scene("KJA-407XY", seed=2)[0])] == \
        [("KJA407XY", "ng")]
    assert [(r.text, r.format_name) for r in read(scene("AS-5081-19", seed=2)[0])] == \
        [("AS508119", "generic")]


def test_a_service_reader_hands_each_reads_freed_heap_back(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import controller.plates.reader as reader_module

    service, offline = PlateReader(return_heap=True), PlateReader()
    trims: list[int] = []
    monkeypatch.setattr(reader_module, "return_freed_heap", lambda: trims.append(1))
    frame, _ = scene("ABC-123DE", seed=0)
    offline.read(frame)
    assert trims == []
    assert [r.text for r in service.read(frame)] == ["ABC123DE"]
    assert trims == [1]


def test_the_locator_joins_a_row_split_by_gaps_but_not_a_blob_far_to_the_right() -> None:
    from controller.plates.locate import Candidate, _join_neighbours

    # three parts of one plate's line (out of order), and text of the same height far right
    parts = [Candidate(130, 10, 180, 30, 2.0), Candidate(0, 10, 60, 30, 1.0),
             Candidate(70, 12, 120, 31, 3.0), Candidate(400, 10, 450, 30, 5.0)]
    joined = _join_neighbours(parts)
    assert [(c.x0, c.y0, c.x1, c.y1, c.score) for c in joined] == [
        (0, 10, 180, 31, 3.0), (400, 10, 450, 30, 5.0)]
    # a blob of another height on the row, or on another row, stays alone
    assert len(_join_neighbours([Candidate(0, 10, 60, 30, 1.0),
                                 Candidate(65, 0, 120, 60, 1.0),
                                 Candidate(0, 80, 60, 100, 1.0)])) == 3


def test_the_second_scale_is_not_read_once_the_vote_is_decided(
        reader: PlateReader, monkeypatch: pytest.MonkeyPatch) -> None:
    from controller.plates.reader import RESCALE_HEIGHTS, PlateRead

    heights: list[int] = []

    def at_scale(image: np.ndarray, box: tuple[int, int, int, int], det_side: int,
                 crop_height: int = 0) -> PlateRead:
        heights.append(crop_height)
        return PlateRead("KJA407XY", 0.8, (100, 100, 200, 130), "ng")

    monkeypatch.setattr(reader, "_read_region", at_scale)
    unsure = PlateRead("KJA407XY", 0.7, (98, 100, 200, 130), "ng")
    voted = reader._rescale_vote(np.zeros((300, 400, 3), np.uint8), unsure)
    # 0.7 + 0.8 leads by more than one more read could add: the last scale is not read
    assert voted.text == "KJA407XY" and voted.confidence == 0.8
    assert heights == list(RESCALE_HEIGHTS[:-1])


@pytest.mark.parametrize("format_name,confidence,sides", [
    ("ng", 0.7, []),  # a plate-like read: the locator found the plate
    # no surer than a word or a number can be: still searched, the equalised level last
    ("ng", 0.6, [(640, False), (960, False), (960, True)]),
    (None, 0.6, [(640, False), (960, False), (960, True)]),  # nothing fits: every level
])
def test_the_whole_image_is_searched_only_when_no_region_read_is_plate_like(
        reader: PlateReader, monkeypatch: pytest.MonkeyPatch, format_name: str | None,
        confidence: float, sides: list[tuple[int, bool]]) -> None:
    import controller.plates.reader as reader_module
    from controller.plates.locate import Candidate
    from controller.plates.reader import PlateRead

    searches: list[tuple[int, bool]] = []
    monkeypatch.setattr(reader_module, "candidates",
                        lambda image, limit: [Candidate(100, 100, 200, 130, 1.0)])
    monkeypatch.setattr(reader, "_read_region", lambda *a, **k: PlateRead(
        "KJA407XY", confidence, (100, 100, 200, 130), format_name))
    monkeypatch.setattr(reader, "_text_regions", lambda image, side, equalise=False:
                        searches.append((side, equalise)) or [])
    monkeypatch.setattr(reader, "_rescale_vote", lambda image, best: best)
    reads = reader.read(np.zeros((1080, 1920, 3), np.uint8))
    assert [r.text for r in reads] == ["KJA407XY"]
    assert searches == sides


def test_the_second_search_level_is_skipped_once_the_first_finds_a_plate(
        reader: PlateReader, monkeypatch: pytest.MonkeyPatch) -> None:
    import controller.plates.reader as reader_module
    from controller.plates.reader import PlateRead

    searches: list[int] = []
    monkeypatch.setattr(reader_module, "candidates", lambda image, limit: [])
    monkeypatch.setattr(reader, "_read_region", lambda *a, **k: PlateRead(
        "KJA407XY", 0.8, (300, 300, 400, 330), "ng"))
    monkeypatch.setattr(reader, "_text_regions", lambda image, side, equalise=False:
                        searches.append(side) or [(290, 290, 410, 340)])
    monkeypatch.setattr(reader, "_rescale_vote", lambda image, best: best)
    assert [r.text for r in reader.read(np.zeros((1080, 1920, 3), np.uint8))] == ["KJA407XY"]
    assert searches == [640]


def test_the_equalised_search_reads_its_rows_from_the_original_image(
        reader: PlateReader, monkeypatch: pytest.MonkeyPatch) -> None:
    """The equalised copy only shows the detector where the text is: the recogniser reads
    the camera's own pixels, so a plate's read does not hang on the equalisation."""
    import controller.plates.reader as reader_module
    from controller.plates.reader import PlateRead

    image = np.full((1080, 1920, 3), 40, np.uint8)
    seen: list[bool] = []
    monkeypatch.setattr(reader_module, "candidates", lambda image, limit: [])
    monkeypatch.setattr(reader, "_text_regions", lambda image, side, equalise=False:
                        [(300, 300, 420, 340)] if equalise else [])

    def read_region(source: np.ndarray, box: object, side: int, **_: object) -> PlateRead:
        seen.append(source is image)
        return PlateRead("KJA407XY", 0.95, (310, 305, 410, 335), "ng")

    monkeypatch.setattr(reader, "_read_region", read_region)
    assert [r.text for r in reader.read(image)] == ["KJA407XY"]
    assert seen == [True]


def test_equalising_brings_out_dark_text_and_keeps_the_image_shape() -> None:
    from controller.plates.reader import _equalised

    rng = np.random.default_rng(3)
    dark = np.full((240, 320, 3), 30, np.uint8)
    dark[100:140, 60:260] = 42  # a dim plate
    dark[110:130, 80:240:12] = 34  # its dark strokes, 8 levels below the plate
    dark = np.clip(dark + rng.normal(0, 1, dark.shape), 0, 255).astype(np.uint8)
    out = _equalised(dark)
    assert out.shape == dark.shape and out.dtype == np.uint8
    plate, stroke = (slice(112, 128), slice(81, 90)), (slice(112, 128), slice(80, 81))
    before = float(dark[plate].mean()) - float(dark[stroke].mean())
    after = float(out[plate].mean()) - float(out[stroke].mean())
    assert after > 1.5 * before  # (1.0: unchanged)
    assert _equalised(dark[:, :, 0]).shape == dark.shape[:2]  # grey in, grey out


# ------------------------------------------------------------------ on-screen date and time
@pytest.mark.parametrize("text", ["20140514", "201406", "20140522072817", "2014051407",
                                  "14052014", "05142014", "19991231"])
def test_a_cameras_date_is_a_date_stamp(text: str) -> None:
    from controller.plates.reader import _is_date_stamp

    assert _is_date_stamp(text)


@pytest.mark.parametrize("text", ["1049338", "4639520", "123456", "201300", "20141305",
                                  "32132014", "2014AB", "20140", "KJA407XY"])
def test_a_plates_digits_are_not_a_date_stamp(text: str) -> None:
    from controller.plates.reader import _is_date_stamp

    assert not _is_date_stamp(text)


def _osd_frame() -> np.ndarray:
    """A frame whose only text is a camera's date over its time, bottom right."""
    import cv2

    rng = np.random.default_rng(1)
    frame = cv2.GaussianBlur(rng.integers(60, 120, (720, 1280, 3), dtype=np.uint8),
                             (0, 0), 8)
    for text, x, y in (("2014-05-14", 1100, 680), ("07:02:17", 1115, 702)):
        cv2.putText(frame, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return frame


def test_a_frame_whose_only_text_is_the_cameras_date_and_time_gives_no_read() -> None:
    """The date and the time both fit a US plate's format (digits); neither is a plate."""
    assert PlateReader(formats_named(["us"])).read(_osd_frame()) == []


def test_a_date_overlay_never_wins_over_a_plate() -> None:
    import cv2

    frame, (x0, _, x1, _) = scene("KJA-407XY", seed=1, blur=5, noise=10)
    cv2.putText(frame, "2014-05-14 07:02:17", (400, 80), cv2.FONT_HERSHEY_DUPLEX, 1.6,
                (255, 255, 255), 3, cv2.LINE_AA)
    reads = PlateReader(formats_named(["us"])).read(frame)
    assert [r.text for r in reads] == ["KJA407XY"]
    assert x0 - 10 <= reads[0].box[0] and reads[0].box[2] <= x1 + 10


def test_text_beside_a_date_is_the_overlay_and_loses_to_a_weaker_plate() -> None:
    from controller.plates.reader import PlateRead, _beside

    date = (1100, 665, 1210, 682)
    time_below = PlateRead("070217", 0.59, (1115, 688, 1195, 704), "us")
    plate = PlateRead("CJ8P4V", 0.5, (443, 383, 546, 434), "us")
    assert _beside(time_below.box, date) and not _beside(plate.box, date)
    reads: list[PlateRead] = []
    assert PlateReader._take(reads, [], time_below) is time_below
    assert PlateReader._take(reads, [date], plate) is plate
    # a line far larger than the date's font is no part of its block
    assert not _beside((1000, 600, 1200, 700), date)


# ------------------------------------------------------------------ the text search's rows
def test_the_detectors_unclip_margin_is_taken_off_a_rows_text() -> None:
    from controller.plates.reader import _row_text_size, _unclip_margin

    # a 3 x 1 text is grown by 1.6 * 3 / 8 = 0.6 on each side to 4.2 x 2.2
    assert _unclip_margin(4.2, 2.2) == pytest.approx(0.6)
    # a slanted line (grown to 120 x 40) is measured along its slant, not upright
    angle = np.deg2rad(20)
    along, down = np.array([np.cos(angle), np.sin(angle)]), np.array([-np.sin(angle),
                                                                      np.cos(angle)])
    origin = np.array([100.0, 100.0])
    corners = np.array([origin, origin + 120 * along, origin + 120 * along + 40 * down,
                        origin + 40 * down], np.float32)
    margin = _unclip_margin(120, 40)
    width, height = _row_text_size([corners])
    assert width == pytest.approx(120 - 2 * margin, abs=0.01)
    assert height == pytest.approx(40 - 2 * margin, abs=0.01)
    assert width / height > 4  # a plate's line, though its grown upright box is 1.1:1


def test_a_slanted_plate_the_locator_misses_is_found_by_the_text_search(
        reader: PlateReader, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tilted line's upright box is nearly square; its own shape is a plate line's."""
    monkeypatch.setattr("controller.plates.reader.candidates", lambda image, limit: [])
    frame, _ = scene("KJA-407XY", seed=2, size=(1600, 900), plate_width=220, tilt=0.5)
    assert [r.text for r in reader.read(frame)] == ["KJA407XY"]


# ------------------------------------------------------------------ the locator
def test_a_row_of_characters_is_counted_and_bars_a_lamp_or_a_blank_are_not() -> None:
    from controller.plates.locate import Candidate, character_marks
    from controller.simulation.plates import plate_image

    def marks(gray: np.ndarray) -> int:
        return character_marks(gray, Candidate(0, 0, gray.shape[1], gray.shape[0], 1.0))

    plate = cv2.cvtColor(plate_image("ABC-123DE", 360), cv2.COLOR_BGR2GRAY)
    assert marks(plate) == 8  # the dash is no character; the frame is no character
    assert marks(cv2.bitwise_not(plate)) == 8  # light characters on a dark plate
    bars = np.full((40, 260), 60, np.uint8)
    for x in range(0, 260, 6):  # a grille's bars, most of the region's height
        bars[2:38, x:x + 2] = 230
    lamp = np.full((40, 260), 60, np.uint8)
    lamp[5:35, 20:240] = 220
    assert marks(bars) > 12
    assert marks(lamp) == 0
    assert marks(np.full((40, 200), 128, np.uint8)) == 0


def test_the_region_with_a_row_of_characters_is_read_before_a_denser_grille(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The OCR reads the regions in order and stops at the first sure read: a grille
    whose strokes outweigh the plate's must not cost the first detector pass."""
    from controller.plates import locate

    frame, plate = scene("KJA-407XY", seed=3, plate_width=200)
    for x in range(120, 380, 6):
        cv2.rectangle(frame, (x, 420), (x + 2, 460), (230, 230, 230), -1)

    def first(found: list[locate.Candidate]) -> tuple[int, int, int, int]:
        return found[0].x0, found[0].y0, found[0].x1, found[0].y1

    def overlaps_plate(box: tuple[int, int, int, int]) -> bool:
        return min(box[2], plate[2]) > max(box[0], plate[0]) \
            and min(box[3], plate[3]) > max(box[1], plate[1])

    with monkeypatch.context() as m:  # by stroke density alone, the grille comes first
        m.setattr(locate, "PLATE_MARKS", (0, 10 ** 6))
        assert not overlaps_plate(first(locate.candidates(frame, 8)))
    assert overlaps_plate(first(locate.candidates(frame, 8)))


def test_strokes_that_carry_on_past_a_band_are_not_the_bands_own() -> None:
    """Bars of a gate crossing a band have as many strokes above and below it; a plate's
    characters end at its band."""
    from controller.plates.locate import BoxMeans, _strokes_around

    grad = np.zeros((200, 400), np.uint8)
    for x in range(10, 190, 12):  # bars from top to bottom
        grad[:, x:x + 3] = 255
    for x in range(210, 390, 12):  # strokes only in the band y 80..120
        grad[80:120, x:x + 3] = 255
    bars = _strokes_around(BoxMeans(grad), 10, 80, 180, 40)
    band = float(grad[80:120, 10:190].mean())
    assert bars == pytest.approx(band, rel=0.05)
    assert _strokes_around(BoxMeans(grad), 210, 80, 180, 40) == 0.0


def test_a_region_that_cuts_the_characters_feet_is_read_grown_past_them(
        reader: PlateReader) -> None:
    frame, (x0, y0, x1, y1) = scene("KJA-407XY", seed=2, tilt=0.0)
    cut = int(y0 + 0.55 * (y1 - y0))  # through the characters' lower half
    read = reader._read_region(frame, (x0 - 20, y0 - (y1 - y0), x1 + 20, cut), 0)
    assert read is not None and read.text == "KJA407XY"
    assert read.box[3] > cut + 5  # the characters were read whole, below the cut


def test_a_reader_told_only_the_catch_all_format_ends_its_search_on_a_clear_plate(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A region with no built-in format reads with `generic` alone: its clear plate is a
    sure read (weights rank formats, they do not cap one alone), so the whole image is
    not searched after it (searching every photo made such a site's reads 7x slower)."""
    generic = PlateReader(formats_named(["generic"]))
    searched: list[int] = []
    monkeypatch.setattr(generic, "_text_regions",
                        lambda image, side: searched.append(side) or [])
    reads = generic.read(scene("AS-5081-19", seed=2)[0])
    assert [(r.text, r.format_name) for r in reads] == [("AS508119", "generic")]
    assert reads[0].confidence >= GOOD_ENOUGH and searched == []


@pytest.mark.parametrize("seed,plate,band", [(0, "B MW 1234", "D"), (1, "AB 123 CD", "F"),
                                             (2, "GV 381 X", "NL"), (4, "KA 7721 N", "PL")])
def test_an_eu_plates_country_band_is_not_read_into_the_plate(
        seed: int, plate: str, band: str) -> None:
    """The EU's blue band (stars over `D`, `NL`) stands left of the characters, and the
    detector finds its code as a line of its own in the plate's row: it is no part of
    the registration (read with `generic` alone, a region with no built-in format)."""
    generic = PlateReader(formats_named(["generic"]))
    frame, _ = scene(plate, seed=seed, band=band, plate_width=220 + 10 * seed)
    assert [r.text for r in generic.read(frame)] == [plate.replace(" ", "")]


def test_a_region_that_cuts_the_plate_at_its_side_is_read_grown_past_it(
        reader: PlateReader) -> None:
    frame, (x0, y0, x1, y1) = scene("KJA-407XY", seed=2, tilt=0.0)
    cut = int(x0 + 0.8 * (x1 - x0))  # through the last characters
    read = reader._read_region(frame, (x0 - 20, y0 - 20, cut, y1 + 20), 0)
    assert read is not None and read.text == "KJA407XY" and read.box[2] > cut


def test_a_region_grows_past_its_side_by_its_texts_size_not_its_boxs() -> None:
    """The detector's box carries an unclip margin: measured by it, a row filling a tight
    region would grow it past the plate's size, where the plate shrinks out of reach. A
    side grows by what the region's text shows: two text heights, or the row's width
    (the rest of a plate cut at a gap is another group of its characters)."""
    from controller.plates.reader import _grown_past, _row_text_size

    row = [_box(0, 120, 0, 40)]  # fills a 120 x 40 region, all four edges
    text_w, text_h = _row_text_size(row)
    assert 0 < text_h < 40 and 2 * text_h < text_w < 120
    x0, y0, x1, y1 = _grown_past((500, 300, 620, 340), [row], 720, 1280)
    assert x0 == int(500 - text_w) and x1 == int(620 + text_w)
    assert y0 < 300 and y1 > 340  # its heads and feet too
    assert _grown_past((0, 0, 120, 40), [row], 40, 120) == (0, 0, 120, 40)  # image's edge
    wide = _grown_past((100, 300, 1100, 340), [[_box(0, 1000, 0, 40)]], 720, 1280)
    assert wide[0] == 100 and wide[2] == 1100  # wider than any plate line: not sideways


@pytest.mark.parametrize("photo,plate", [("wts-lg-000018.jpg", "CG2H2U"),
                                         ("wts-lg-000113.jpg", "AG4V3U")])
def test_a_plate_in_the_shade_is_read_through_the_equalised_search(
        shared_data: Path, photo: str, plate: str) -> None:
    """Real photos of dark plates at dusk: neither the locator nor the plain searches
    find their lines (they read other text); the equalised level finds them."""
    image = cv2.imread(str(shared_data / "plates" / "us" / photo))
    assert image is not None
    reads = PlateReader(formats_named(["us"])).read(image)
    assert [r.text for r in reads] == [plate]


# ------------------------------------------------------------------ the colour channels
def _channel_of(image: np.ndarray, source: np.ndarray) -> int | None:
    """Which of `source`'s channels `image` is (as grey: all three alike), or None."""
    if image.shape != source.shape or not (
            (image[:, :, 0] == image[:, :, 1]).all() and (image[:, :, 1] == image[:, :, 2]).all()):
        return None
    return next((c for c in range(3) if (image[:, :, 0] == source[:, :, c]).all()), None)


def _coloured() -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)


def test_an_unsure_read_is_outvoted_by_the_colour_channels_read_alone(
        reader: PlateReader, monkeypatch: pytest.MonkeyPatch) -> None:
    """An emblem between the groups read as a 0 in colour; in a channel alone it is a
    grey the recogniser does not take for a character."""
    import controller.plates.reader as reader_module
    from controller.plates.locate import Candidate
    from controller.plates.reader import PlateRead

    image = _coloured()
    seen: list[int | None] = []

    def read_region(img: np.ndarray, box: tuple[int, int, int, int], det_side: int,
                    crop_height: int = 0, overlays: object = None) -> PlateRead:
        channel = _channel_of(img, image)
        if img is not image:
            seen.append(channel)
            assert channel is not None  # each channel of the photo itself, as grey
            return PlateRead("FB8R4T", 0.95, (101, 100, 200, 130), "generic")
        return PlateRead("FB80R4T", 0.8, (100, 100, 200, 130), "generic")

    monkeypatch.setattr(reader_module, "candidates",
                        lambda image, limit: [Candidate(100, 100, 200, 130, 1.0)])
    monkeypatch.setattr(reader, "_read_region", read_region)
    monkeypatch.setattr(reader, "_text_regions", lambda image, side, equalise=False: [])
    monkeypatch.setattr(reader, "_rescale_vote", lambda image, best: best)
    (voted,) = reader.read(image)
    assert (voted.text, voted.confidence, voted.box) == ("FB8R4T", 0.95, (101, 100, 200, 130))
    # blue and green agree (0.95 + 0.95 against 0.8): red could no longer change the vote
    assert seen == [0, 1]


@pytest.mark.parametrize("colour_conf,grey_reads", [
    (0.95, 0),  # a sure read in colour: no channel is read
    (0.8, 3),   # unsure, and the channels read no better: all three are read, it stays
])
def test_the_channels_are_read_only_for_an_unsure_read_and_never_outvote_it_alone(
        reader: PlateReader, monkeypatch: pytest.MonkeyPatch, colour_conf: float,
        grey_reads: int) -> None:
    import controller.plates.reader as reader_module
    from controller.plates.locate import Candidate
    from controller.plates.reader import PlateRead

    image = _coloured()
    grey: list[tuple[int, int, int, int]] = []
    texts = iter(["KJA4O7XY", "KJA407YY", "XJA407XY"])

    def read_region(img: np.ndarray, box: tuple[int, int, int, int], det_side: int,
                    crop_height: int = 0, overlays: object = None) -> PlateRead | None:
        if box == (0, 0, 10, 10):
            return None  # a region without text: not searched again in the channels
        if img is image:
            return PlateRead("KJA407XY", colour_conf, (100, 100, 200, 130), "ng")
        grey.append(box)
        return PlateRead(next(texts), 0.5, (100, 100, 200, 130), "ng")

    monkeypatch.setattr(reader_module, "candidates", lambda image, limit: [
        Candidate(0, 0, 10, 10, 1.0), Candidate(100, 100, 200, 130, 0.5)])
    monkeypatch.setattr(reader, "_located", lambda image: [
        (0, 0, 10, 10, 0), (100, 100, 200, 130, 0)])
    monkeypatch.setattr(reader, "_read_region", read_region)
    monkeypatch.setattr(reader, "_text_regions", lambda image, side, equalise=False: [])
    monkeypatch.setattr(reader, "_rescale_vote", lambda image, best: best)
    (read,) = reader.read(image)
    assert (read.text, read.confidence) == ("KJA407XY", colour_conf)
    assert grey == [(100, 100, 200, 130)] * grey_reads
