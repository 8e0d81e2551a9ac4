"""Wrong way / wrong lane on scripted tracks, and through the real pipeline's tracker."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.config import CameraConfigError, parse_camera
from analytics.evidence import EvidenceStore
from analytics.pipeline import CameraPipeline
from analytics.violations.config import LaneRule
from analytics.violations.lanes import LaneWatcher
from analytics.violations.stage import Lists, build_stage
from tests.recognition.scene import frame, tracks
from store.settings import load_settings

LANE = dict(id="lane1", kind="wrong_lane", polygon=[(300, 200), (500, 200), (520, 560),
                                                     (280, 560)],
            direction=(0, -1), min_px=40, cooldown_s=60)


def _run(path, rule=LANE, class_id=2):
    watcher = LaneWatcher(LaneRule(**rule))
    out = []
    for i, (x, y) in enumerate(path):
        out += watcher.observe(None, float(i), tracks({9: (x - 30, y - 50, x + 30, y)},
                                                      class_id))
    return out


@pytest.mark.parametrize("path, kinds", [
    ([(400, 300), (400, 320), (400, 345), (400, 370)], ["wrong_way"]),   # down: against
    ([(400, 500), (400, 450), (400, 400), (400, 350)], []),              # up: allowed
    ([(400, 400), (400, 410), (400, 395), (400, 412), (400, 398)], []),  # jitter
    ([(400, 300), (400, 330), (600, 380), (400, 390)], []),              # left the lane
    ([(400, 250), (400, 350), (400, 450), (400, 540)], ["wrong_way"]),   # fires once
    ([(150, 300), (150, 350), (150, 400)], []),                          # other lane
])
def test_wrong_way_on_scripted_tracks(path, kinds):
    assert [f.kind for f in _run(path)] == kinds


def test_against_distance_is_measured_from_the_furthest_point_reached():
    (f,) = _run([(400, 400), (400, 360), (400, 380), (400, 402)])
    assert f.value == 42.0 and f.attributes["against_px"] == 42.0


def test_bus_lane_refuses_other_classes():
    bus_lane = dict(LANE, allowed_classes=(5,))
    path = [(400, 500), (400, 470), (400, 440)]
    assert [f.kind for f in _run(path, bus_lane, class_id=2)] == ["wrong_lane"]
    assert _run(path, bus_lane, class_id=5) == []


def test_bad_lane_config_is_refused_naming_the_field():
    with pytest.raises(CameraConfigError, match=r"rules\.0\.direction"):
        parse_camera({"id": "c", "stream_url": "x", "lon": 1, "lat": 1,
                      "rules": [dict(LANE, direction=(0, 0))]})
    with pytest.raises(CameraConfigError, match=r"rules\.0\.polygon"):
        parse_camera({"id": "c", "stream_url": "x", "lon": 1, "lat": 1,
                      "rules": [dict(LANE, polygon=[(0, 0), (10, 10), (10, 0), (0, 10)])]})


def test_wrong_way_through_the_real_tracker_on_a_real_frame(street_frame, tmp_path: Path):
    cam = parse_camera({"id": "cam-lane", "stream_url": "x.avi", "lon": 105.776,
                        "lat": 19.807, "motion_gating": False, "rules": [LANE]})
    evidence = EvidenceStore(tmp_path)
    pipe = CameraPipeline(cam, evidence)
    stage = build_stage(cam, load_settings({"state_dir": tmp_path}, environ={}), evidence,
                        Lists(None))
    events = []
    for i, y in enumerate([260, 290, 320, 350, 380]):
        image = street_frame.copy()
        image[y - 70:y, 350:450] = street_frame[100:170, 40:140]
        f = frame(image, float(i), i)
        pipe.plan(f)
        det = tracks({0: (350, y - 70, 450, y)})
        det.tracker_id = None
        events += pipe.complete(f, "full", det)
        events += stage.observe(f, pipe)
    (ev,) = [e for e in events if e.kind == "wrong_way"]
    assert ev.attributes["rule"] == "lane1" and ev.value >= 40
    assert ev.track_id is not None and ev.evidence is not None
    assert (tmp_path / ev.evidence.path).is_file()
