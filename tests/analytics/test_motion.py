"""Motion gating helpers: blobs explained by tracks, and which tracks may be predicted."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.motion import MotionGate, TrackPredictor


def _observe(pred: TrackPredictor, t: float, boxes: dict[int, list[float]],
             predicted: tuple[int, ...] = ()) -> None:
    ids = list(boxes)
    pred.observe(t, np.array(ids), np.array([boxes[i] for i in ids], dtype=float),
                 np.full(len(ids), 0.8), np.zeros(len(ids), dtype=int),
                 np.array([i in predicted for i in ids]))


def _walker(pred: TrackPredictor, fps: float = 10.0, frames: int = 3, speed: float = 40.0,
            tid: int = 7) -> float:
    """A 100-px-tall person walking right at ``speed`` px/s, detected ``frames`` times."""
    for k in range(frames):
        x = 200 + speed * k / fps
        _observe(pred, k / fps, {tid: [x, 100, x + 40, 200]})
    return (frames - 1) / fps


def test_steady_walker_is_expected_where_it_walks_to():
    pred = TrackPredictor()
    last = _walker(pred)
    expected = pred.expected(last + 0.1, (576, 768))
    np.testing.assert_allclose(expected[7], [212, 100, 252, 200], atol=1e-6)


@pytest.mark.parametrize("why, setup", [
    ("seen only twice", lambda p: _walker(p, frames=2)),
    ("1 fps sampling: too long since its detection", lambda p: _walker(p, fps=1.0)),
    ("too fast for its size", lambda p: _walker(p, speed=400.0)),
])
def test_uncertain_tracks_are_always_detected(why, setup):
    pred = TrackPredictor()
    last = setup(pred)
    gap = 1.0 if "1 fps" in why else 0.1
    assert pred.expected(last + gap, (576, 768)) == {}, why


def test_a_track_is_never_predicted_twice_in_a_row():
    pred = TrackPredictor()
    last = _walker(pred)
    box = pred.expected(last + 0.1, (576, 768))[7]
    _observe(pred, last + 0.1, {7: list(box)}, predicted=(7,))
    assert pred.expected(last + 0.2, (576, 768)) == {}
    _observe(pred, last + 0.2, {7: [224, 100, 264, 200]})  # detected again
    assert 7 in pred.expected(last + 0.3, (576, 768))


def test_turning_track_is_detected_and_lost_track_forgotten():
    pred = TrackPredictor()
    last = _walker(pred)
    _observe(pred, last + 0.1, {7: [212, 160, 252, 260]})  # suddenly 60 px down
    assert pred.expected(last + 0.2, (576, 768)) == {}
    _observe(pred, last + 0.2, {8: [10, 10, 50, 110]})
    assert set(pred.seen) == {8}


def test_blob_inside_a_swept_area_is_explained_but_a_neighbour_is_kept_whole():
    gate = MotionGate()
    base = np.full((576, 768, 3), 100, np.uint8)
    assert gate.update(base) is None
    moved = base.copy()
    moved[100:200, 300:340] = 220   # the tracked walker
    moved[100:200, 500:540] = 220   # someone else
    moved[300:400, 336:376] = 220   # a third person overlapping the walker's area a little
    boxes = gate.update(moved)
    assert len(boxes) == 3
    walker_area = [np.array([290.0, 90, 350, 330])]  # reaches into the third blob
    left = gate.boxes_outside(walker_area)
    assert len(left) == 2
    assert not any(b[1] < 250 and b[0] < 400 for b in left)  # the walker's blob went
    third, other = sorted(left)
    assert third[0] <= 336 and third[2] >= 376 and third[1] <= 300 and third[3] >= 400
    assert other[0] <= 500 and other[2] >= 540


def test_predicted_tracks_at_full_rate_keep_their_ids_and_places(vtest, detector,
                                                                 region_models):
    """vtest.avi at 10 fps: predictions save detector passes, and each stand-in box lies
    where the detector, run on that frame, finds the object."""
    import cv2

    from analytics.config import parse_camera
    from analytics.detections import box_iou
    from analytics.detectors import make_detector
    from analytics.mosaic import detect_plans
    from analytics.pipeline import CameraPipeline, PipelineOptions
    from analytics.sources import Frame

    regional = make_detector("onnx_yolo", imgsz=320, int8=True, cache_dir=region_models)
    cap = cv2.VideoCapture(str(vtest))
    frames = [cap.read()[1] for _ in range(60)]
    cap.release()
    cam = parse_camera({"id": "c", "stream_url": "x", "lon": 105.8, "lat": 19.8,
                        "sample_fps": 10})
    runs = {}
    for predict in (True, False):
        pipe = CameraPipeline(cam, None, PipelineOptions(evidence=False,
                                                         predict_tracks=predict))
        area, boxes, stand_ins = 0, [], []
        for k, image in enumerate(frames):
            frame = Frame(image, k / 10, None, k)
            plan = pipe.plan(frame)
            if isinstance(plan, list):  # pixels sent to the region detector
                area += sum((x2 - x1) * (y2 - y1) for x1, y1, x2, y2 in plan)
            pipe.complete(frame, plan, detect_plans(detector, [image], [plan], scale=0.85,
                                                    region_detector=regional)[0])
            t = pipe.tracked
            boxes.append(t.xyxy)
            if predict and len(t) and "predicted" in t.data:
                stand_ins += [(k, box) for box in t.xyxy[t.data["predicted"]]]
        runs[predict] = (area, boxes, stand_ins, pipe.stats)
    area, _, stand_ins, stats = runs[True]
    assert stats.predicted == len(stand_ins) >= 30
    assert area < 0.9 * runs[False][0]
    detected = runs[False][1]
    near = [len(detected[k]) and box_iou(box[None], detected[k]).max() >= 0.5
            for k, box in stand_ins]
    assert np.mean(near) >= 0.9
