"""The plate reader: locate plate-shaped regions, find their text lines, read, format.

Per photo or vehicle crop: classical localisation proposes a few regions; the PP-OCR
text detector runs on each small crop (never on the whole frame) to find its lines,
which are rectified and read by the recogniser; a two-line plate is the lines joined top
to bottom; the formats correct look-alikes. The best read wins; it stops early once a
read fits a format with high confidence; within a region, rows are read tallest first.
When no classical region gives a plate-like read (one fitting a format more surely than a
word or a number can: the locator missed the plate), the text detector searches the whole
image downscaled (`SEARCH_SIDES`, a larger level only while nothing plate-like is found;
last, the larger with its contrast equalised, for a plate in shade) and each row shaped
like a plate's line is read again from the full-resolution image. A
line read without certainty (or with one unsure character) is read again in two variants
(more margin; padded to the training width) and the texts vote, the third only while it
could still change the vote (a line read as no character at all, like one of no plate's
length, is not read again).
A small image read whole first is localised only when that read is unsure. Text
touching the frame's border (a camera's on-screen time or name) ranks lower; a read that
is a calendar date is the camera's on-screen date, never a plate, and text beside it (its
time) is dropped too. A best
read still unsure at the end is read again at two larger scales of its region, and the
three reads vote (character by character when all three differ and are of one length);
the second scale is skipped once it could not change the vote. One still unsure then is
checked in each colour channel alone, as grey (where a coloured emblem or frame picture
is a grey lighter than the characters, no longer read as one of them), the regions that
gave a read searched again, and the channels' reads and the colour one vote.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from controller.plates.fields import stray_boxes
from controller.plates.finder import PlateFinder
from controller.plates.formats import (
    DEFAULT_FORMATS,
    UNMIXED_FACTOR,
    FormatFit,
    PlateFormat,
    fit_formats,
    formats_named,
    odd_one_out,
    relative_weights,
)
from controller.plates.locate import candidates
from controller.plates.ocr import (
    DET_MODEL,
    REC_MODEL,
    UNCLIP,
    LineRead,
    TextDetector,
    TextRecogniser,
    default_model_dir,
    model_path,
    rectify,
    return_freed_heap,
)
from controller.plates.voting import by_character

#: a box in image pixels: x0, y0, x1, y1
Box = tuple[int, int, int, int]
#: a region to read: a box and the detector's long side for it (0: at CROP_HEIGHT)
Region = tuple[int, int, int, int, int]
#: how each line is read: as rectified; with its edge pixels repeated for more margin;
#: padded to the recogniser's training width. Later ones only when the first is unsure.
VARIANTS = ("plain", "border", "padded")
#: the recogniser's training input width (short lines are padded to it in one variant)
REC_TRAIN_WIDTH = 320
#: boxes on one band further apart than this many line heights are separate rows
ROW_GAP = 1.5
#: confidence factor of text touching the frame's border (on-screen text, a cut plate)
EDGE_FACTOR = 0.5
#: a read at least this good (fitting a format) ends the search
GOOD_ENOUGH = 0.9
#: a line whose least sure character is below this is read in the other variants too,
#: however sure the rest (a mark between groups, a cut end read as a character)
SURE_CHAR = 0.6
#: detector input height for a candidate crop
CROP_HEIGHT = 96
#: the detector input heights an unsure read's region is read at again (4/3 and twice
#: CROP_HEIGHT; of 128, 128+160 and 128+192 tried on the shared photos, this did best)
RESCALE_HEIGHTS = (128, 192)
#: an image no larger than this (a vehicle crop, a gate camera's plate) is also searched whole
WHOLE_SIDE = 640
#: the detector's long side when it searches a whole small image
WHOLE_DET_SIDE = 320
#: the text detector's long sides when the classical regions gave no plate-like read: the
#: whole image downscaled to each in turn, the second only while nothing plate-like was
#: found (a smaller plate shows only at the larger: at 640 a gate camera's plate has
#: characters of about 10 px, which the detector misses; rapidocr's own pipeline scales
#: the short side up to 736), each line found re-read from the full-resolution image
#: (960 costs about 3x the 640 level and ~130 MB more peak memory while it runs; before
#: dates were dropped and rows judged by their own text it lost as many plates as it found)
SEARCH_SIDES = (640, 960)
#: the last search level, while still nothing plate-like was found: the detector sees the
#: whole image at the larger side with its contrast equalised (CLAHE on the lightness,
#: clip 2 on an 8x8 grid): a plate in shade or at dusk, its characters dark on dark grey,
#: gives the detector too weak a contrast to find a line in, and the locator none to see
#: (equalising the locator's image instead moved its boxes and lost more than it found;
#: an equalised 640 level as well found no more plates on the shared photos, at a cost)
EQUALISED_SEARCH_SIDE = 960
#: CLAHE's clip limit and grid for that level (a clip of 3 read the same photos as 2)
CLAHE_CLIP, CLAHE_GRID = 2.0, (8, 8)
#: text rows of that search re-read at most (most plate-like first)
SEARCH_ROWS = 6
#: a row of the search whose text (the detector's unclip margin taken off) is narrower
#: than this many heights is not a plate's line: fewer than three characters
MIN_LINE_RATIO = 1.5
#: the text shapes of a plate's line: 4 to 10 characters of about 0.6 height's width
PLATE_LINE_RATIO = (2.4, 10.0)
#: a line whose box comes this close (px) to its region's edge runs into it
GROW_TOUCH_PX = 2
#: a region is grown past the text running into its edge at most this many times: the
#: line may run on past the grown side too (the locator held one group of a plate split
#: by gaps), and a region grown taller shows the detector more of it; sideways growth
#: also stops once the region is as wide as the longest plate line
GROW_TIMES = 4


@dataclass(frozen=True)
class PlateRead:
    """One plate read in an image: normalised text, confidence, box in image pixels."""

    text: str
    confidence: float
    box: tuple[int, int, int, int]
    format_name: str | None

    def as_json(self) -> dict[str, object]:
        return {"text": self.text, "confidence": round(self.confidence, 3),
                "box": list(self.box)}


class PlateReader:
    """Reads plates in BGR images with the shipped PP-OCR models (loaded once)."""

    def __init__(self, formats: tuple[PlateFormat, ...] | None = None,
                 model_dir: Path | None = None, threads: int = 1,
                 max_candidates: int = 8, finder: PlateFinder | None = None,
                 whole_frames: bool = True, return_heap: bool = False) -> None:
        """`whole_frames`: images are whole camera frames, whose border may carry the
        camera's on-screen text; False for vehicle crops, where a plate may touch it.
        `return_heap`: after each read, the heap its inference freed goes back to the OS
        (a long-running service: without it glibc keeps the freed tensors of the largest
        reads, about 30 MB on the traffic video's crops; costs 2-10 ms a read)."""
        folder = model_dir if model_dir is not None else default_model_dir()
        det_path = model_path(folder, DET_MODEL)
        rec_path = model_path(folder, REC_MODEL)
        self.formats = relative_weights(
            formats if formats is not None else formats_named(DEFAULT_FORMATS))
        self._detector = TextDetector(det_path, threads)
        self._recogniser = TextRecogniser(rec_path, threads)
        return_freed_heap()
        self._max_candidates = max_candidates
        self._finder = finder
        self._whole_frames = whole_frames
        self._return_heap = return_heap
        #: the most one read can add to a vote (confidence <= 1 times a format's weight)
        self._max_vote = max([1.0, *(f.weight for f in self.formats)])

    def read(self, image: np.ndarray) -> list[PlateRead]:
        """The plate in `image` (the best read), or nothing when no text was found."""
        overlays: list[Box] = []  # the camera's on-screen dates found so far
        searched: list[Region] = []
        best = self._search(image, overlays, searched)
        if best is not None and not _good(best):
            best = self._rescale_vote(image, best)
        if best is not None and not _good(best):
            best = self._channel_vote(image, best, overlays, searched)
        if self._return_heap:
            return_freed_heap()
        return [best] if best is not None else []

    def _search(self, image: np.ndarray, overlays: list[Box], searched: list[Region]
                ) -> PlateRead | None:
        """The best read of the regions searched in turn until one is sure: the whole
        small image, the located regions, then the whole-image text search's rows; each
        region that gave a read goes to `searched` (with its detector side, 0 for
        CROP_HEIGHT)."""
        h, w = image.shape[:2]
        regions: list[Region] = []
        if self._finder is None and max(h, w) <= WHOLE_SIDE:
            regions.append((0, 0, w, h, WHOLE_DET_SIDE))  # a vehicle crop or a plate
        located = False
        reads: list[PlateRead] = []
        best: PlateRead | None = None
        index = 0
        while not _good(best):
            if index == len(regions):
                if located:
                    break
                # the plate-shaped regions only once they are needed: a small image whose
                # whole read is sure needs no localisation (its cost is then saved)
                located = True
                regions.extend(self._located(image))
                continue
            rx0, ry0, rx1, ry1, side = regions[index]
            index += 1
            read = self._read_region(image, (rx0, ry0, rx1, ry1), side, overlays=overlays)
            if read is not None:
                searched.append(regions[index - 1])
            best = self._take(reads, overlays, read)
        # (not located: the whole read was sure, so the search below is not run)
        tried = [(r[0], r[1], r[2], r[3]) for r in regions]
        levels = [(side, False) for side in SEARCH_SIDES]
        levels.append((EQUALISED_SEARCH_SIDE, True))
        for side, equalise in levels:
            # only for a plate the classical regions missed: a plate-like read of theirs
            # found the plate, and an unsure one is checked at larger scales below
            if _plate_like(best) or max(h, w) <= side:
                break
            for box in self._text_regions(image, side, equalise):
                if any(_box_iou(box, t) > 0.6 for t in tried):
                    continue
                tried.append(box)
                read = self._read_region(image, box, 0, overlays=overlays)
                if read is not None:
                    searched.append((*box, 0))
                best = self._take(reads, overlays, read)
                if _good(best):
                    break
        return best

    def _located(self, image: np.ndarray) -> list[Region]:
        """The plate model's or the classical locator's boxes, best first, with margins."""
        h, w = image.shape[:2]
        if self._finder is not None:  # a plate model: its boxes, best first
            found = self._finder.find(image)[:self._max_candidates]
        else:
            found = [(c.x0, c.y0, c.x1, c.y1)
                     for c in candidates(image, self._max_candidates)]
        regions = []
        for x0, y0, x1, y1 in found:
            mx, my = int((x1 - x0) * 0.25) + 4, int((y1 - y0) * 0.6) + 4
            regions.append((max(0, x0 - mx), max(0, y0 - my), min(w, x1 + mx),
                            min(h, y1 + my), 0))
        return regions

    @staticmethod
    def _take(reads: list[PlateRead], overlays: list[Box],
              read: PlateRead | None) -> PlateRead | None:
        """`read` added to `reads`; the best of them not beside a date in `overlays`
        (a camera's time and name are burnt in beside its date, in the same font)."""
        if read is not None:
            reads.append(read)
        kept = [r for r in reads if not any(_beside(r.box, d) for d in overlays)]
        return max(kept, key=lambda r: r.confidence, default=None)

    def _rescale_vote(self, image: np.ndarray, best: PlateRead) -> PlateRead:
        """An unsure best read checked at larger scales of its region; equal texts add up.

        The detector sees the region's characters larger, so its line boxes (and what
        the recogniser gets) differ: a character the first scale cut off or added is
        outvoted when two scales agree; three reads of one length that all differ vote
        character by character (`voting.by_character`; the read's confidence is the
        surest one's times the least share a position was won by).
        """
        h, w = image.shape[:2]
        x0, y0, x1, y1 = best.box
        bh = y1 - y0
        region = (int(max(0, x0 - 0.8 * bh)), int(max(0, y0 - 0.9 * bh)),
                  int(min(w, x1 + 0.8 * bh)), int(min(h, y1 + 0.9 * bh)))
        reads = [best]
        for done, height in enumerate(RESCALE_HEIGHTS):
            if _decided(_summed(reads), len(RESCALE_HEIGHTS) - done, self._max_vote):
                break  # the scales still to read could not outvote the leader
            read = self._read_region(image, region, 0, height)
            if read is not None:
                reads.append(read)
        winner = _winner(reads)
        # three reads of one length, no two alike, may each have a different character
        # wrong: they vote position by position, as a track's frames do
        voted = by_character([(r.text, r.confidence) for r in reads])
        if voted is None or voted[0] == winner.text:
            return winner
        fitted = fit_formats(voted[0], self.formats)
        if not fitted.matched:
            return winner
        surest = max(r.confidence for r in reads if len(r.text) == len(voted[0]))
        return PlateRead(fitted.text, surest * voted[1], winner.box, fitted.format_name)

    def _channel_vote(self, image: np.ndarray, best: PlateRead, overlays: list[Box],
                      searched: list[Region]) -> PlateRead:
        """A read still unsure after the rescale vote checked in each colour channel of
        the image alone (blue, green, red, each as grey); equal texts add up.

        A plate's emblem, sticker or frame picture is coloured, its characters dark on a
        light field: in one channel alone the mark is no longer a saturated blob but a
        grey lighter than the characters (in some channels near the field's: an orange one
        in the red), and the recogniser stops reading it as a character, while the
        characters, dark in every channel, read as before. Each channel reads again the
        regions of the colour image's search that gave a read, in its order, until a
        read is sure (then its own rescale vote); a channel is skipped once it could not
        change the vote. A plate read surely in colour is never read again.
        """
        reads = [best]
        for channel in range(3):
            if _decided(_summed(reads), 3 - channel, self._max_vote):
                break  # the channels still to read could not outvote the leader
            grey = cv2.cvtColor(np.ascontiguousarray(image[:, :, channel]),
                                cv2.COLOR_GRAY2BGR)
            found: list[PlateRead] = []
            read: PlateRead | None = None
            for x0, y0, x1, y1, side in searched:
                read = self._take(found, overlays, self._read_region(
                    grey, (x0, y0, x1, y1), side, overlays=overlays))
                if _good(read):
                    break
            if read is not None and not _good(read):
                read = self._rescale_vote(grey, read)
            if read is not None:
                reads.append(read)
        return _winner(reads)

    def _text_regions(self, image: np.ndarray, side: int, equalise: bool = False
                      ) -> list[tuple[int, int, int, int]]:
        """Regions around the text rows the detector finds in the downscaled whole image
        (`equalise`: its contrast equalised first, `_equalised`).

        The classical locator misses plates without a crisp outline or split by a gap;
        the text detector finds their lines, and each row is then read again from the
        full-resolution image. Rows shaped like a plate's line come first.
        """
        h, w = image.shape[:2]
        scale = side / max(h, w)
        small = cv2.resize(image, (max(32, round(w * scale)), max(32, round(h * scale))),
                           interpolation=cv2.INTER_AREA)
        if equalise:
            small = _equalised(small)
        sx, sy = w / small.shape[1], h / small.shape[0]
        scored: list[tuple[float, tuple[int, int, int, int]]] = []
        for row in _rows([b.corners for b in self._detector.detect(small)]):
            pts = np.concatenate(row)
            x0, y0 = float(pts[:, 0].min()) * sx, float(pts[:, 1].min()) * sy
            x1, y1 = float(pts[:, 0].max()) * sx, float(pts[:, 1].max()) * sy
            text_w, text_h = _row_text_size(row)
            ratio = text_w / max(text_h, 1e-6)
            if _row_height(row) * sy < 6 or ratio < MIN_LINE_RATIO:
                continue
            score = 1.0 if PLATE_LINE_RATIO[0] <= ratio <= PLATE_LINE_RATIO[1] else 0.5
            # margins from the text's own height: from the detector's box (which carries
            # the unclip margin, a slanted one more) they shrank the characters in the crop
            mx, my = text_h * sy * 0.8, text_h * sy * 0.9
            scored.append((score * text_h * sy, (
                int(max(0, x0 - mx)), int(max(0, y0 - my)),
                int(min(w, x1 + mx)), int(min(h, y1 + my)))))
        scored.sort(key=lambda item: item[0], reverse=True)
        return [box for _, box in scored[:SEARCH_ROWS]]

    def _read_region(self, image: np.ndarray, box: tuple[int, int, int, int],
                     det_side: int, crop_height: int = 0,
                     overlays: list[Box] | None = None, grow: int = GROW_TIMES
                     ) -> PlateRead | None:
        """The best read in `box`: detector at CROP_HEIGHT, or at `det_side` long side.

        A row read as a date is the camera's on-screen text: the region gives nothing,
        and the date's box goes to `overlays`. When the plate's characters run into the
        region's edge, the region is read again grown past them (at most `grow` times)."""
        cx0, cy0, cx1, cy1 = box
        crop = image[cy0:cy1, cx0:cx1]
        if crop.size == 0:
            return None
        if det_side:
            scale = min(1.0, det_side / max(crop.shape[:2]))
            width = max(32, int(crop.shape[1] * scale))
            height = max(32, int(crop.shape[0] * scale))
        else:
            height = crop_height or CROP_HEIGHT
            width = int(min(4 * height, max(32, crop.shape[1] * height
                                                 / crop.shape[0])))
        small = cv2.resize(crop, (width, height))
        sx, sy = crop.shape[1] / width, crop.shape[0] / height
        lines = []
        for text_box in self._detector.detect(small):
            corners = text_box.corners.copy()
            corners[:, 0] *= sx
            corners[:, 1] *= sy
            line_h = float(np.linalg.norm(corners[3] - corners[0]))
            if line_h < 8:
                continue
            lines.append((corners, line_h))
        if not lines:
            return None
        tallest = max(hgt for _, hgt in lines)
        # the plate's characters: the tallest lines (a state name or slogan is smaller)
        rows = _rows([c for c, hgt in lines if hgt >= 0.55 * tallest])
        grown = _grown_past(box, rows, image.shape[0], image.shape[1]) if grow else box
        if grown != box:
            return self._read_region(image, grown, det_side, crop_height, overlays, grow - 1)
        rows = [_on_plate_field(crop, row) for row in rows]
        best: PlateRead | None = None
        # the tallest rows first (most likely the plate's characters), so that a sure
        # read of them ends the region's search before a slogan or a frame is read
        options = sorted((list(r) for r in rows), key=_row_height, reverse=True)
        second = _below(rows[0], rows) if len(rows) >= 2 else None
        if second is not None:
            options.append([*rows[0], *second])  # a two-line plate, top line first
        for group in options:
            fitted, conf = self._read_group(crop, group)
            if not fitted.text:
                continue
            pts = np.concatenate(group)
            bx0 = int(max(0, pts[:, 0].min()) + cx0)
            by0 = int(max(0, pts[:, 1].min()) + cy0)
            bx1 = int(min(crop.shape[1], pts[:, 0].max()) + cx0)
            by1 = int(min(crop.shape[0], pts[:, 1].max()) + cy0)
            box = (bx0, by0, bx1, by1)
            if _is_date_stamp(fitted.text):
                # the camera's on-screen date: its block's other rows are its time and
                # name, none a plate, so the region gives nothing
                if overlays is not None:
                    overlays.append(box)
                return None
            factor = EDGE_FACTOR if self._whole_frames and _at_edge(
                box, image.shape[1], image.shape[0]) else 1.0
            read = PlateRead(fitted.text, conf * fitted.factor * factor, box,
                             fitted.format_name)
            if best is None or read.confidence > best.confidence:
                best = read
            if _good(best):
                break  # as between regions: a sure read ends the search
        return best

    def _read_group(self, crop: np.ndarray, group: list[np.ndarray]) -> tuple[FormatFit, float]:
        """The group's lines read in a few variants, the formatted text they vote for.

        Each variant (the rectified line; with the edge pixels repeated for more margin;
        padded to the recogniser's training width) gives a text and a score (confidence
        times format factor); equal texts add up, so a character the plate's frame adds or
        hides in one variant is outvoted. The confidence is the winner's best single one.
        A variant is not read once the ones still to read could not outvote the leader
        (`_decided`: the text is the same; the padded read costs the most, 320 columns).
        """
        lines = [_character_band(rectify(crop, _pad(c))) for c in group]
        votes: dict[str, float] = {}
        best: dict[str, tuple[float, FormatFit]] = {}
        plain: list[LineRead] = []
        for variant in VARIANTS:
            if variant == "padded" and plain:
                # a line already as wide as the training width reads the same padded: its
                # plain read is its padded one (the vote is the same, one inference less)
                reads = [read if TextRecogniser.input_width(line) >= REC_TRAIN_WIDTH
                         else self._read_variant(line, variant)
                         for line, read in zip(lines, plain, strict=True)]
            else:
                reads = [self._read_variant(line, variant) for line in lines]
            if variant == "plain":
                plain = reads
            if not any(r.text for r in reads):
                if variant == VARIANTS[0]:
                    break  # no character at all: of no plate's length, as below
                continue
            fitted, conf = _fit_read(reads, self.formats)
            votes[fitted.text] = votes.get(fitted.text, 0.0) + conf * fitted.factor
            if fitted.text not in best or conf > best[fitted.text][0]:
                best[fitted.text] = (conf, fitted)
            if variant == VARIANTS[0] and (
                    (fitted.matched and conf * fitted.factor >= GOOD_ENOUGH
                     and min(c for r in reads for c in r.char_conf) >= SURE_CHAR)
                    or not self._near_length(fitted.text)):
                break  # a sure read needs no second opinion, nor does one of no plate's length
            left = len(VARIANTS) - 1 - VARIANTS.index(variant)
            if left and _decided(votes, left, self._max_vote):
                break  # the variants still to read could not outvote the leader
        if not votes:
            return FormatFit("", None, 0.0), 0.0
        text = max(votes, key=lambda t: votes[t])
        conf, fitted = best[text]
        return fitted, conf

    def _near_length(self, text: str) -> bool:
        """Whether `text` is within one character of a format's length (a character the
        plate's frame added or hid is what a second opinion can fix)."""
        return any(abs(len(text) - len(t)) <= 1 for f in self.formats for t in f.templates)

    def _read_variant(self, line: np.ndarray, variant: str) -> LineRead:
        if variant == "border":
            margin = max(1, line.shape[0] // 2)
            line = cv2.copyMakeBorder(line, 0, 0, margin, margin, cv2.BORDER_REPLICATE)
            return self._recogniser.read(line)
        if variant == "padded":
            return self._recogniser.read(line, min_width=REC_TRAIN_WIDTH)
        return self._recogniser.read(line)


def _fit_read(reads: list[LineRead], formats: tuple[PlateFormat, ...]
              ) -> tuple[FormatFit, float]:
    """The lines' text fitted to the formats, and its confidence (the characters' mean).

    Where a format fixes a position to a letter or a digit and the read has the other
    kind (or a letter the format never issues), the model's own most probable character
    of the due kind is taken at its probability, when that scores better than the
    look-alike table's swap (a model torn between O and 0 says so; the table knows only
    fixed pairs).
    """
    raw = "".join(r.text for r in reads)
    conf = [c for r in reads for c in r.char_conf]
    other = [o for r in reads for o in r.other_kind]
    groups = _line_groups(reads)
    fitted = fit_formats(raw, formats)
    if not fitted.matched and len(raw) > 1 and _stray_end(raw, conf, formats):
        # one character too many for every format, and an end one is the least sure and
        # below an even chance: the plate's frame, a bolt or a logo read as a character
        end = 0 if conf[0] <= conf[-1] else len(raw) - 1
        kept = [i for i in range(len(raw)) if i != end]
        raw = "".join(raw[i] for i in kept)
        conf = [conf[i] for i in kept]
        other = [other[i] for i in kept] if len(other) == len(kept) + 1 else []
        groups = [groups[i] for i in kept] if len(groups) == len(kept) + 1 else []
        fitted = fit_formats(raw, formats)
    layout = _group_layout(raw, groups, fitted, formats)
    if layout is not None:
        # no format fixes the positions, the plate's own groups do: fitted to them as to
        # a format (the table's swap, or the model's own twin below where it scores more)
        formats = (layout, *formats)
        fitted = fit_formats(raw, (layout,))
    mean = float(np.mean(conf))
    if len(other) != len(raw):
        return fitted, mean
    best = (fitted, mean)
    for fmt in formats:
        for template in fmt.templates:
            if len(template) != len(raw) or (set(template) == {"A"} and not fmt.never):
                continue
            chars, probs = list(raw), list(conf)
            for i, (ch, cls) in enumerate(zip(raw, template, strict=True)):
                if (cls == "L" and ch.isdigit()) or (cls == "D" and ch.isalpha()) \
                        or ch in fmt.never:
                    chars[i], probs[i] = other[i]
            refit = fit_formats("".join(chars), (fmt,))
            score = float(np.mean(probs))
            if refit.matched and score * refit.factor > best[1] * best[0].factor:
                best = (refit, score)
    return best


def _line_groups(reads: list[LineRead]) -> list[int]:
    """The group of each character of the lines joined (a new line starts a new group);
    empty when a read does not know its groups."""
    out: list[int] = []
    for read in reads:
        if len(read.groups) != len(read.text):
            return []
        base = out[-1] + 1 if out else 0
        out.extend(base + g for g in read.groups)  # a line's groups count from 0
    return out


def _group_layout(raw: str, groups: list[int], fitted: FormatFit,
                  formats: tuple[PlateFormat, ...]) -> PlateFormat | None:
    """The format of `raw`'s own groups (`formats.odd_one_out`: each all letters or all
    digits) where `fitted` fits a format fixing no position at its length (only `A`
    templates, as the catch-all) and issuing every letter; None where they fix nothing."""
    fmt = next((f for f in formats if f.name == fitted.format_name), None)
    if fmt is None or fmt.never or not all(
            set(t) == {"A"} for t in fmt.templates if len(t) == len(raw)):
        return None
    grouped, swaps = odd_one_out(raw, groups)
    if not swaps:
        return None
    return replace(fmt, templates=("".join("D" if ch.isdigit() else "L" for ch in grouped),))


def _stray_end(raw: str, conf: list[float], formats: tuple[PlateFormat, ...]) -> bool:
    """Whether `raw` is one character longer than a format's template, and its least sure
    character is at an end and below an even chance (what a frame's edge, a bolt or a
    state's logo read as a character looks like)."""
    lengths = {len(t) for f in formats for t in f.templates}
    weakest = min(conf)
    return (len(raw) - 1 in lengths and weakest < 0.5
            and weakest in (conf[0], conf[-1]))


def _on_plate_field(crop: np.ndarray, row: list[np.ndarray]) -> list[np.ndarray]:
    """The row without the boxes at its ends that stand on another field than its main
    run of characters (a country band, a sticker: `fields.stray_boxes`)."""
    if len(row) < 2:
        return row
    start, end = stray_boxes([rectify(crop, _pad(c)) for c in row])
    return row[start:len(row) - end]


def _grown_past(box: Box, rows: list[list[np.ndarray]], height: int, width: int) -> Box:
    """`box` grown where the text rows reach one of its edges (and the image goes on).

    The detector's box of a line carries a margin around the characters, so a line box
    that reaches the region's top or bottom holds characters whose heads or feet the
    region cut (an F then reads as an E, a B as a P): the region then takes in the line's
    padded box and a line height beyond it. A line that reaches a side runs on past it (a
    plate whose gaps split it for the locator, whose candidate then held only a part):
    the region grows there by the row's width (the rest is another group of characters)
    or two text heights at least (a character and its margin), while it is narrower than
    the longest plate line. Heights and widths are the text's own, without the detector's
    unclip margin. A band or a sticker the wider region takes in beside the plate is
    dropped by its field (`_on_plate_field`).
    """
    x0, y0, x1, y1 = box
    pts = np.concatenate([c for row in rows for c in row])
    sizes = [_row_text_size(row) for row in rows]  # without the unclip margin
    line_h = max(h for _, h in sizes)
    padded = np.concatenate([_pad(c) for row in rows for c in row])
    top = y0 > 0 and float(pts[:, 1].min()) <= GROW_TOUCH_PX
    bottom = y1 < height and float(pts[:, 1].max()) >= (y1 - y0) - 1 - GROW_TOUCH_PX
    new_y0 = int(max(0, float(padded[:, 1].min()) + y0 - line_h)) if top else y0
    new_y1 = int(min(height, float(padded[:, 1].max()) + y0 + line_h)) if bottom else y1
    # sideways only while the region is narrower than the longest plate line and the
    # margins a growth adds at both its sides
    sideways = x1 - x0 < (PLATE_LINE_RATIO[1] + 4) * line_h
    left = sideways and x0 > 0 and float(pts[:, 0].min()) <= GROW_TOUCH_PX
    right = sideways and x1 < width and float(pts[:, 0].max()) >= (x1 - x0) - 1 - GROW_TOUCH_PX
    step = max(2 * line_h, max(w for w, _ in sizes))
    new_x0 = int(max(0, x0 - step)) if left else x0
    new_x1 = int(min(width, x1 + step)) if right else x1
    return new_x0, new_y0, new_x1, new_y1


def _equalised(image: np.ndarray) -> np.ndarray:
    """`image` with its lightness's contrast equalised locally (CLAHE): dark text on a
    dark plate stands out as it would in daylight; colours are kept (BGR or grey in)."""
    clahe = cv2.createCLAHE(clipLimit=CLAHE_CLIP, tileGridSize=CLAHE_GRID)
    if image.ndim == 2:
        return clahe.apply(image)
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB)
    lab[:, :, 0] = clahe.apply(lab[:, :, 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)


def _at_edge(box: tuple[int, int, int, int], width: int, height: int) -> bool:
    """Whether a text box touches the frame's border: a camera's on-screen text (time,
    name) sits there, and a plate cut by the border cannot be read whole anyway."""
    margin_x, margin_y = max(2, width // 100), max(2, height // 100)
    return (box[0] <= margin_x or box[1] <= margin_y or box[2] >= width - margin_x
            or box[3] >= height - margin_y)


def _is_date_stamp(text: str) -> bool:
    """Whether a read is a calendar date: digits starting with a year (19xx or 20xx) and
    a month (and a day when there are 8 or more; time digits may follow), or 8 digits
    ending with a year after a day and a month in either order.

    A camera burns its date and time into the frame, and such a digit run fits a plate
    format of its length; a plate's digits seldom make a date, so it is not a plate
    (a time alone, HHMMSS, is not taken: too many six-digit plates make one)."""
    if len(text) < 6 or not text.isdigit():
        return False

    def month_day(month: str, day: str) -> bool:
        return 1 <= int(month) <= 12 and 1 <= int(day) <= 31

    if text[:2] in ("19", "20") and 1 <= int(text[4:6]) <= 12 and (
            len(text) < 8 or 1 <= int(text[6:8]) <= 31):
        return True
    return len(text) == 8 and text[4:6] in ("19", "20") and (
        month_day(text[2:4], text[:2]) or month_day(text[:2], text[2:4]))


def _beside(box: Box, date: Box) -> bool:
    """Whether text at `box` belongs to the on-screen block of the date at `date`: of
    about its height (half to twice), within one line height above or below it or two
    to its side (a camera stacks its time under the date, or prints it beside)."""
    height = max(1, date[3] - date[1])
    if not 0.5 <= (box[3] - box[1]) / height <= 2.0:
        return False
    return (box[0] < date[2] + 2 * height and box[2] > date[0] - 2 * height
            and box[1] < date[3] + height and box[3] > date[1] - height)


def _summed(reads: list[PlateRead]) -> dict[str, float]:
    """Each text's summed confidence over `reads`, in the order the texts first came."""
    votes: dict[str, float] = {}
    for read in reads:
        votes[read.text] = votes.get(read.text, 0.0) + read.confidence
    return votes


def _winner(reads: list[PlateRead]) -> PlateRead:
    """The surest read of the text with the most summed confidence (the first on a tie)."""
    votes = _summed(reads)
    text = max(votes, key=lambda t: votes[t])
    return max((r for r in reads if r.text == text), key=lambda r: r.confidence)


def _decided(votes: dict[str, float], left: int, most: float) -> bool:
    """Whether `left` more votes of at most `most` each can no longer change the text
    that leads `votes` (a later text wins only with strictly more), so they are skipped."""
    if not votes:
        return False
    ranked = sorted(votes.values(), reverse=True)
    runner_up = ranked[1] if len(ranked) > 1 else 0.0
    return ranked[0] > runner_up + left * most


def _plate_like(read: PlateRead | None) -> bool:
    """A read fitting a format more surely than any word or number can (those fit only
    at UNMIXED_FACTOR): the plate was found, no whole-image search is needed."""
    return read is not None and read.format_name is not None \
        and read.confidence > UNMIXED_FACTOR


def _good(read: PlateRead | None) -> bool:
    """A read fitting a format with high confidence: the search can stop."""
    return read is not None and read.format_name is not None and read.confidence >= GOOD_ENOUGH


def _box_iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def _rows(boxes: list[np.ndarray]) -> list[list[np.ndarray]]:
    """Text boxes grouped into rows, rows top to bottom, boxes left to right.

    A dash or a badge splits a plate's line into several boxes; a row joins them again.
    Boxes on one band but far apart (a model name beside the plate) are separate rows:
    a plate's line is compact, so a gap wider than `ROW_GAP` times the line height
    splits it.
    """
    bands: list[list[np.ndarray]] = []
    for box in sorted(boxes, key=lambda c: float(c[:, 1].mean())):
        cy = float(box[:, 1].mean())
        for band in bands:
            top = min(float(c[:, 1].min()) for c in band)
            bottom = max(float(c[:, 1].max()) for c in band)
            if top <= cy <= bottom:
                band.append(box)
                break
        else:
            bands.append([box])
    rows: list[list[np.ndarray]] = []
    for band in bands:
        ordered = sorted(band, key=lambda c: float(c[:, 0].min()))
        row = [ordered[0]]
        for box in ordered[1:]:
            height = max(float(c[:, 1].max() - c[:, 1].min()) for c in (*row, box))
            right = max(float(c[:, 0].max()) for c in row)
            if float(box[:, 0].min()) - right > ROW_GAP * height:
                rows.append(row)
                row = [box]
            else:
                row.append(box)
        rows.append(row)
    return rows


def _row_text_size(row: list[np.ndarray]) -> tuple[float, float]:
    """A row's text width and height, measured along its own slant and without the
    margin the detector's unclip added around each box.

    The DB detector grows a text's rectangle by area * UNCLIP / perimeter on every side,
    which makes a short line look almost square and a slanted one's upright box tall;
    a plate's line is judged by the text itself."""
    first = row[0]
    along = first[1] - first[0]
    along = along / max(float(np.linalg.norm(along)), 1e-6)
    down = np.array([-along[1], along[0]], np.float32)
    pts = np.concatenate(row)
    width = float((pts @ along).max() - (pts @ along).min())
    height = float((pts @ down).max() - (pts @ down).min())
    tallest = max(row, key=lambda c: float(np.linalg.norm(c[3] - c[0])))
    margin = _unclip_margin(float(np.linalg.norm(tallest[1] - tallest[0])),
                            float(np.linalg.norm(tallest[3] - tallest[0])))
    return max(0.0, width - 2 * margin), max(0.0, height - 2 * margin)


def _unclip_margin(width: float, height: float, unclip: float = UNCLIP) -> float:
    """The margin d the detector added on each side of a text of w x h to give
    `width` x `height`: d = unclip * w * h / (2 (w + h)) with w = width - 2d, h =
    height - 2d, i.e. the smaller root of 4(u+2)d^2 - 2(1+u)(W+H)d + uWH = 0."""
    a, b, c = 4 * (unclip + 2), -2 * (1 + unclip) * (width + height), unclip * width * height
    disc = max(0.0, b * b - 4 * a * c)
    return (-b - disc ** 0.5) / (2 * a)


def _row_height(row: list[np.ndarray]) -> float:
    """A row's height: that of its tallest box."""
    return max(float(c[:, 1].max() - c[:, 1].min()) for c in row)


def _below(upper: list[np.ndarray], rows: list[list[np.ndarray]]) -> list[np.ndarray] | None:
    """The row under `upper` sharing its columns (a two-line plate's second line): it
    starts below the middle of `upper` (short lines drawn tall give boxes that overlap)."""
    ux0 = min(float(c[:, 0].min()) for c in upper)
    ux1 = max(float(c[:, 0].max()) for c in upper)
    utop = min(float(c[:, 1].min()) for c in upper)
    ubottom = max(float(c[:, 1].max()) for c in upper)
    for row in rows:
        x0 = min(float(c[:, 0].min()) for c in row)
        x1 = max(float(c[:, 0].max()) for c in row)
        top = min(float(c[:, 1].min()) for c in row)
        if row is not upper and top >= ubottom - 0.5 * (ubottom - utop) \
                and min(x1, ux1) - max(x0, ux0) > 0.3 * min(x1 - x0, ux1 - ux0):
            return row
    return None


def _pad(corners: np.ndarray, side: float = 0.25, top: float = 0.08) -> np.ndarray:
    """A text box grown by a share of its height at each side (the recogniser wants margin)."""
    tl, tr, br, bl = corners
    along = (tr - tl) / max(float(np.linalg.norm(tr - tl)), 1e-6)
    down = (bl - tl) / max(float(np.linalg.norm(bl - tl)), 1e-6)
    height = float(np.linalg.norm(bl - tl))
    dx, dy = along * side * height, down * top * height
    return np.array([tl - dx - dy, tr + dx - dy, br + dx + dy, bl - dx + dy], np.float32)


#: a row belongs to the characters' band where the horizontal gradient is at least this
#: share of its peak (the band's half-maximum width)
BAND_LEVEL = 0.5
#: margin kept above and below the characters' band, a share of the band's height (the
#: characters then fill three quarters of the line, as in the recogniser's training lines)
BAND_MARGIN = 1 / 6


def _character_band(line: np.ndarray) -> np.ndarray:
    """The rectified line cut to the band of its tallest text, with a small margin.

    The detector's box of a plate's line holds the plate's whole face (frame, state name,
    slogan), so the characters fill about half its height, while the recogniser was
    trained on lines that its characters fill: read that small they lose strokes and
    merge, and a frame's edge or a bolt passes for a character.
    """
    top, bottom = _character_rows(line)
    margin = round(BAND_MARGIN * (bottom - top))
    return line[max(0, top - margin):min(line.shape[0], bottom + margin)]


def _character_rows(line: np.ndarray) -> tuple[int, int]:
    """The rows [top, bottom) of the line's tallest text (all rows when none stands out).

    Characters are vertical strokes, so the rows where the horizontal gradient is strong
    (at least `BAND_LEVEL` of its peak) hold text; of those runs of rows the longest is the
    tallest text, the plate's characters (a state name or a city line is smaller).
    """
    height = line.shape[0]
    if height < 12:
        return 0, height
    gray = cv2.cvtColor(line, cv2.COLOR_BGR2GRAY) if line.ndim == 3 else line
    strokes = np.abs(cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)).mean(axis=1)
    width = max(1, height // 16) * 2 + 1  # smoothed over about a sixteenth of the height
    profile = np.convolve(strokes, np.ones(width) / width, mode="same")
    inside = np.concatenate(([False], profile >= BAND_LEVEL * profile.max(), [False]))
    edges = np.flatnonzero(np.diff(inside.astype(np.int8)))
    starts, ends = edges[0::2], edges[1::2]  # runs of rows [start, end)
    longest = int(np.argmax(ends - starts))
    return int(starts[longest]), int(ends[longest])
