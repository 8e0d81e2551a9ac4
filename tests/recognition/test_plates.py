"""Plate OCR on a real photo and on rendered Vietnamese plates; the plate frame rule."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import supervision as sv

from analytics.recognition.plates import PlateWatcher, best_plate
from analytics.violations.config import PlateRule
from plate_images import DATA, photograph, render_plate


def test_ocr_reads_text_on_a_real_photo(plate_reader):
    texts = [t.lower() for _, t, _ in plate_reader.lines(cv2.imread(str(DATA / "bus.jpg")))]
    assert "emisiones" in texts and "cero" in texts
    assert plate_reader.read(cv2.imread(str(DATA / "bus.jpg"))) is None  # no plate there


@pytest.mark.parametrize("rows, width, expected, vehicle", [
    (["51G-123.45"], 150, "51G-123.45", "car"),
    (["36A-567.89"], 110, "36A-567.89", "car"),
    (["59-X3", "123.45"], 90, "59-X3 123.45", "motorbike"),
    (["68-B1", "234.56"], 70, "68-B1 234.56", "motorbike"),
])
def test_rendered_plates_are_read_through_perspective_and_noise(plate_reader, rows, width,
                                                                expected, vehicle):
    crop = photograph(render_plate(rows), width=width, seed=len(expected))
    read = plate_reader.read(crop)
    assert read is not None, plate_reader.lines(crop)
    assert (read.plate.text, read.plate.vehicle) == (expected, vehicle)
    x1, y1, x2, y2 = read.box
    assert 100 < (x1 + x2) / 2 < 260 and y1 > 150  # where the plate was pasted


def test_two_rows_are_joined_only_when_stacked():
    top = np.array([[10, 10], [60, 10], [60, 30], [10, 30]], float)
    below = top + [0, 28]
    beside = top + [300, 0]
    read = best_plate([(top, "59-X3", 0.9), (below, "123.45", 0.95)])
    assert read is not None and read.plate.text == "59-X3 123.45"
    assert read.confidence == 0.9
    assert best_plate([(top, "59-X3", 0.9), (beside, "123.45", 0.95)]) is None


class _Reader:
    """Reads one of the prepared crops: the real OCR on real pixels, fewer calls."""

    def __init__(self, reader):
        self.reader = reader
        self.calls = 0

    def read(self, crop):
        self.calls += 1
        return self.reader.read(crop)


def _frame(crop: np.ndarray) -> tuple[np.ndarray, sv.Detections]:
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[100:400, 200:560] = crop
    det = sv.Detections(xyxy=np.array([[200.0, 100, 560, 400]]), confidence=np.array([0.9]),
                        class_id=np.array([2]), tracker_id=np.array([5]))
    return frame, det


def test_plate_watcher_votes_per_track_and_matches_the_hotlist(plate_reader):
    rule = PlateRule(id="plates", kind="plate_read", min_reads=2, forget_s=2.0)
    reader = _Reader(plate_reader)
    watcher = PlateWatcher(rule, reader, lambda: {"51G12345": {"reason": "stolen"}})
    frame, det = _frame(photograph(render_plate(["51G-123.45"]), width=150))
    assert watcher.observe(frame, 0.0, det) == []
    firings = watcher.observe(frame, 0.5, det)
    assert [f.kind for f in firings] == ["plate_read", "plate_match"]
    read, match = firings
    assert read.track_id == 5 and read.attributes["plate"] == "51G-123.45"
    assert read.attributes["plate_compact"] == "51G12345" and read.attributes["reads"] == 2
    assert match.attributes["hotlist"] == {"reason": "stolen"}
    assert read.pixel == (380.0, 400.0)
    # decided: the track is not read again, and ending it fires nothing more
    assert watcher.observe(frame, 1.0, det) == [] and reader.calls == 2
    assert watcher.observe(frame, 9.0, sv.Detections.empty()) == []


def test_plate_watcher_decides_an_ended_track_on_what_it_has(plate_reader):
    rule = PlateRule(id="plates", kind="plate_read", min_reads=3, forget_s=2.0)
    watcher = PlateWatcher(rule, _Reader(plate_reader), lambda: {})
    frame, det = _frame(photograph(render_plate(["59-X3", "123.45"]), width=90))
    assert watcher.observe(frame, 0.0, det) == []
    (read,) = watcher.observe(frame, 5.0, sv.Detections.empty())  # track gone
    assert read.kind == "plate_read" and read.attributes["plate"] == "59-X3 123.45"
    assert read.attributes["reads"] == 1


def test_small_vehicles_and_other_classes_are_not_read(plate_reader):
    rule = PlateRule(id="plates", kind="plate_read", min_box_px=400)
    reader = _Reader(plate_reader)
    watcher = PlateWatcher(rule, reader, lambda: {})
    frame, det = _frame(photograph(render_plate(["51G-123.45"]), width=150))
    watcher.observe(frame, 0.0, det)
    det.class_id[:] = 0  # a person
    det.xyxy[:] = [0, 0, 600, 470]
    watcher.observe(frame, 0.5, det)
    assert reader.calls == 0
