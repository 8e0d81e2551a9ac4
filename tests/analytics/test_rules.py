"""Each rule on scripted tracks: one event per track per rule, cooldowns, directions."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv

from analytics.config import parse_camera
from analytics.rules import RuleEngine, Scene

SHAPE = (576, 768)


def _scene(t: float, tracks: dict[int, tuple[float, float]], class_id: int = 0) -> Scene:
    """Tracks as {id: (foot x, foot y)} with 20×60 px boxes."""
    if not tracks:
        return Scene(t, sv.Detections.empty(), SHAPE)
    ids = np.array(list(tracks), dtype=int)
    feet = np.array(list(tracks.values()), dtype=float)
    xyxy = np.column_stack([feet[:, 0] - 10, feet[:, 1] - 60, feet[:, 0] + 10, feet[:, 1]])
    return Scene(t, sv.Detections(xyxy=xyxy, confidence=np.full(len(ids), 0.9),
                                  class_id=np.full(len(ids), class_id), tracker_id=ids),
                 SHAPE)


def _engine(*rules: dict, **kw) -> RuleEngine:
    cam = parse_camera({"id": "c", "stream_url": "x.mp4", "lon": 105.8, "lat": 19.8,
                        "rules": list(rules)})
    return RuleEngine(cam.rules, **kw)


SQUARE = [[100, 100], [300, 100], [300, 300], [100, 300]]


def test_intrusion_fires_once_per_track_with_cooldown():
    eng = _engine({"id": "z", "kind": "intrusion", "polygon": SQUARE, "cooldown_s": 30})
    fired = []
    for t in range(0, 40):
        fired += eng.evaluate(_scene(t, {1: (200, 200), 2: (500, 500)}))
    # track 1 inside from t=0: fires at 0 and again at 30; track 2 never
    assert [(f.kind, f.track_id) for f in fired] == [("intrusion", 1), ("intrusion", 1)]
    assert fired[0].pixel == (200.0, 200.0)


def test_intrusion_ignores_other_classes():
    eng = _engine({"id": "z", "kind": "intrusion", "polygon": SQUARE})
    assert eng.evaluate(_scene(0, {1: (200, 200)}, class_id=2)) == []


def test_loitering_after_dwell_and_reset_on_leaving():
    eng = _engine({"id": "l", "kind": "loitering", "polygon": SQUARE, "dwell_s": 10,
                   "cooldown_s": 1000})
    fired = []
    for t in range(0, 8):
        fired += eng.evaluate(_scene(t, {7: (200, 200)}))
    fired += eng.evaluate(_scene(8, {7: (500, 500)}))  # steps out: dwell resets
    for t in range(9, 25):
        fired += eng.evaluate(_scene(t, {7: (150, 150)}))
    assert len(fired) == 1
    assert fired[0].kind == "loitering" and fired[0].track_id == 7
    assert fired[0].value == pytest.approx(11.0)  # 9 → 20 is the first dwell > 10


def test_line_crossing_counts_and_wrong_way():
    eng = _engine({"id": "gate", "kind": "line_crossing", "line": [[0, 300], [768, 300]],
                   "allowed": "in", "cooldown_s": 0})
    fired = []
    # track 1 walks down (y grows) across the line, track 2 walks up
    for t, y in enumerate([250, 290, 310, 350]):
        fired += eng.evaluate(_scene(t, {1: (100, y), 2: (400, 600 - y)}))
    crossings = [f for f in fired if f.kind == "line_crossing"]
    wrong = [f for f in fired if f.kind == "wrong_way"]
    assert len(crossings) == 2
    dirs = {f.track_id: f.attributes["direction"] for f in crossings}
    assert dirs[1] != dirs[2]
    assert len(wrong) == 1 and dirs[wrong[0].track_id] == "out"
    assert crossings[-1].attributes["count_in"] == 1
    assert crossings[-1].attributes["count_out"] == 1


def test_crowd_density_threshold_and_samples():
    eng = _engine({"id": "crowd", "kind": "crowd_density", "threshold_per_m2": 0.05,
                   "area_m2": 100, "sample_every_s": 10, "cooldown_s": 100})
    people = {i: (50 + 30 * i, 400) for i in range(8)}  # 8 people / 100 m² = 0.08
    fired = []
    for t in range(0, 25):
        fired += eng.evaluate(_scene(t, people if t >= 5 else {1: (100, 400)}))
    dens = [f for f in fired if f.kind == "crowd_density"]
    samples = [f for f in fired if f.kind == "crowd_sample"]
    assert len(dens) == 1 and dens[0].value == pytest.approx(0.08)
    assert [s.value for s in samples] == pytest.approx([0.01, 0.08, 0.08])


def test_counts_every_interval():
    eng = _engine({"id": "p", "kind": "person_count", "every_s": 5},
                  {"id": "v", "kind": "vehicle_count", "every_s": 5})
    fired = []
    for t in range(0, 12):
        fired += eng.evaluate(_scene(t, {1: (10, 10), 2: (50, 50)}))
    persons = [f.value for f in fired if f.kind == "person_count"]
    vehicles = [f.value for f in fired if f.kind == "vehicle_count"]
    assert persons == [2.0, 2.0, 2.0] and vehicles == [0.0, 0.0, 0.0]


def test_geofence_is_converted_to_an_image_polygon():
    calls = []

    def to_image(fence):
        calls.append(fence)
        return [(100.0, 100.0), (300.0, 100.0), (300.0, 300.0), (100.0, 300.0)]

    cam_rules = [{"id": "g", "kind": "intrusion",
                  "geofence": [[105.8, 19.8], [105.801, 19.8], [105.801, 19.801]]}]
    with pytest.raises(ValueError, match="homography"):
        _engine(*cam_rules)
    from analytics.config import IntrusionRule
    eng = RuleEngine((IntrusionRule.model_validate(cam_rules[0]),), to_image=to_image)
    fired = eng.evaluate(_scene(0, {3: (200, 200)})) + eng.evaluate(_scene(1, {4: (5, 5)}))
    assert [f.track_id for f in fired] == [3] and len(calls) == 1
