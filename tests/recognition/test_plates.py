"""Plate OCR on a real photo and on rendered Vietnamese plates; the plate frame rule."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import supervision as sv

from analytics.recognition.plates import PlateWatcher, best_plate
from analytics.violations.config import PlateRule
from tests.recognition.plate_images import DATA, photograph, render_plate


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


def test_plates_through_pipeline_stage_and_store(db_url, conn, settings, plate_reader,
                                                 street_frame, tmp_path):
    """Real pipeline (tracker), stage, hotlist from the database, events stored by the
    writer, found again by partial plate; the match carries evidence."""
    from analytics.config import parse_camera
    from analytics.evidence import EvidenceStore
    from analytics.pipeline import CameraPipeline
    from analytics.violations.stage import Lists, build_stage
    from tests.recognition.scene import frame, tracks
    from store import watchlist as wl
    from store.registry import Camera, upsert_cameras
    from store.writer import EventWriter

    upsert_cameras(conn, [Camera(id="cam-lpr", name="Trạm", lon=105.776, lat=19.807)])
    wl.add_plate(conn, "36A-567.89", "op1", reason="truy tìm")
    conn.commit()
    cam = parse_camera({"id": "cam-lpr", "stream_url": "x", "lon": 105.776, "lat": 19.807,
                        "motion_gating": False,
                        "rules": [{"id": "lpr", "kind": "plate_read", "min_reads": 2}]})
    evidence = EvidenceStore(tmp_path / "ev")
    pipe = CameraPipeline(cam, evidence)
    stage = build_stage(cam, settings, evidence, Lists(db_url), plate_reader=plate_reader)
    vehicles = {"36A-567.89": (["36A-567.89"], 110, 120), "59-X3 123.45":
                (["59-X3", "123.45"], 90, 400)}
    events = []
    for i in range(3):
        image = street_frame.copy()
        boxes = {}
        for k, (rows, width, x) in enumerate(vehicles.values()):
            y = 200 + i * 20
            image[y:y + 300, x:x + 360] = photograph(render_plate(rows), width=width, seed=i)
            boxes[k] = (x, y, x + 360, y + 300)
        f = frame(image, float(i), i)
        pipe.plan(f)
        det = tracks(boxes)
        det.tracker_id = None
        events += pipe.complete(f, "full", det)
        events += stage.observe(f, pipe)
    kinds = sorted((e.kind, e.attributes["plate"]) for e in events)
    assert kinds == [("plate_match", "36A-567.89"), ("plate_read", "36A-567.89"),
                     ("plate_read", "59-X3 123.45")]
    (match,) = [e for e in events if e.kind == "plate_match"]
    assert match.attributes["hotlist"]["reason"] == "truy tìm"
    assert (tmp_path / "ev" / match.evidence.path).is_file()
    for read in (e for e in events if e.kind == "plate_read"):
        # every read keeps a thumbnail of its plate region, for the search results
        thumb = cv2.imread(str(tmp_path / "ev" / read.evidence.path))
        assert thumb is not None and thumb.shape[1] < 200 and thumb.shape[0] < 120
        assert read.attributes["detail_crop"]["path"] == read.evidence.path
        assert "_crop" not in read.attributes
    assert match.attributes["detail_crop"]["path"] != match.evidence.path  # frame stays
    writer = EventWriter(db_url, settings)
    for e in events:
        writer.submit(e)
    writer.flush(timeout=30)
    writer.close()
    found = wl.find_plate_events(conn, "567", kinds=("plate_read",))
    assert [e.attributes["plate"] for e in found] == ["36A-567.89"]
    assert found[0].attributes["province"] == "Thanh Hóa"
    assert found[0].attributes["reads"] == 2


def test_unreadable_vehicles_are_tried_a_bounded_number_of_times(plate_reader):
    rule = PlateRule(id="plates", kind="plate_read", max_attempts=3, forget_s=2.0)
    reader = _Reader(plate_reader)
    watcher = PlateWatcher(rule, reader, lambda: {})
    blank = np.full((300, 360, 3), 128, np.uint8)  # no plate on this "vehicle"
    frame, det = _frame(blank)
    for t in range(6):
        assert watcher.observe(frame, float(t), det) == []
    assert reader.calls == 3
    watcher.observe(frame, 10.0, sv.Detections.empty())  # gone: its memory is dropped
    assert watcher._last_t == {} and watcher._tries == {} and watcher._seen == {}
