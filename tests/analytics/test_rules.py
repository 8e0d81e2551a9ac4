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
    # alert_cooldown_s 0: no ongoing alert, every firing raised (the per-track cool-down)
    eng = _engine({"id": "z", "kind": "intrusion", "polygon": SQUARE, "cooldown_s": 30,
                   "alert_cooldown_s": 0})
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


# -- ongoing alerts: one alert per ongoing condition, repeats counted (issue 10) ---------------

def _run(eng, scenes):
    fired = []
    for t, tracks in scenes:
        fired += eng.evaluate(_scene(t, tracks))
    return fired


def test_a_track_in_the_zone_for_ten_minutes_is_one_alert_with_repeats_counted(caplog):
    eng = _engine({"id": "z", "kind": "intrusion", "polygon": SQUARE}, camera_id="cam-z")
    # one person inside for 10 minutes at 2 frames/s, then gone for 2 minutes
    scenes = [(t / 2, {1: (200, 200)}) for t in range(0, 1200)]
    scenes += [(600 + t / 2, {}) for t in range(0, 240)]
    with caplog.at_level("INFO", logger="analytics.rules"):
        fired = _run(eng, scenes)
    assert [(f.kind, f.track_id) for f in fired] == [("intrusion", 1)]
    assert fired[0].attributes["repeats"] == 0 and fired[0].attributes["ongoing_s"] == 0
    # the per-track cool-down (60 s) fired nine more times: counted, not raised
    assert eng.folded == 9
    ended = [r.getMessage() for r in caplog.records if "ongoing intrusion ended" in r.getMessage()]
    assert ended == ["camera cam-z rule z: ongoing intrusion ended after 600 s, 1 alert(s), "
                     "9 repeat(s) counted (9 since its last alert)"]


def test_a_second_track_raises_a_new_alert_only_after_the_cooldown():
    eng = _engine({"id": "z", "kind": "intrusion", "polygon": SQUARE,
                   "alert_cooldown_s": 300})
    scenes = [(t, {1: (200, 200)}) for t in range(0, 100)]                 # track 1
    scenes += [(t, {1: (200, 200), 2: (150, 150)}) for t in range(100, 200)]  # 2 joins: folded
    scenes += [(t, {2: (150, 150)}) for t in range(200, 320)]              # 2 stays: same track
    scenes += [(t, {2: (150, 150), 3: (250, 250)}) for t in range(320, 400)]  # 3 after 300 s
    fired = _run(eng, scenes)
    assert [f.track_id for f in fired] == [1, 3]
    assert fired[1].attributes["ongoing_s"] == 320
    # folded before the reminder: track 2 entering (t=100), per-track re-fires at 60 s
    # (track 1: 60, 120, 180; track 2: 160, 220, 280)
    assert fired[1].attributes["repeats"] == 7


def test_after_the_zone_clears_the_next_intruder_is_a_new_alert():
    eng = _engine({"id": "z", "kind": "intrusion", "polygon": SQUARE, "clear_s": 30})
    scenes = [(t, {1: (200, 200)}) for t in range(0, 20)]
    scenes += [(t, {1: (500, 500)}) for t in range(20, 60)]   # out of the zone for 40 s
    scenes += [(t, {4: (200, 200)}) for t in range(60, 70)]
    fired = _run(eng, scenes)
    assert [(f.track_id, f.attributes["repeats"]) for f in fired] == [(1, 0), (4, 0)]


def test_loitering_and_crowd_are_ongoing_alerts_too():
    loiter = _engine({"id": "l", "kind": "loitering", "polygon": SQUARE, "dwell_s": 60})
    fired = _run(loiter, [(t, {1: (200, 200), 2: (150, 150)}) for t in range(0, 600)])
    assert len(fired) == 1 and fired[0].kind == "loitering"
    crowd = _engine({"id": "c", "kind": "crowd_density", "threshold_per_m2": 0.05,
                     "area_m2": 100, "sample_every_s": 60})
    people = {i: (50 + 30 * i, 400) for i in range(8)}
    fired = _run(crowd, [(t, people) for t in range(0, 1800, 2)])
    dens = [f for f in fired if f.kind == "crowd_density"]
    assert len(dens) == 1                                     # 30 minutes of one dense crowd
    assert len([f for f in fired if f.kind == "crowd_sample"]) == 30   # samples untouched
    fired = _run(crowd, [(t, people) for t in range(1800, 1830, 2)])
    reminder = [f for f in fired if f.kind == "crowd_density"]
    assert len(reminder) == 1 and reminder[0].attributes["ongoing_s"] == 1800
    assert reminder[0].attributes["repeats"] == 29           # the 60-s re-fires meanwhile


def test_counts_and_line_crossings_are_never_folded():
    eng = _engine({"id": "gate", "kind": "line_crossing", "line": [[0, 300], [768, 300]],
                   "cooldown_s": 0}, {"id": "p", "kind": "person_count", "every_s": 1})
    fired = []
    for k in range(6):  # six people cross one after another
        fired += _run(eng, [(10 * k + t, {k: (100, y)}) for t, y in enumerate([250, 350])])
    assert len([f for f in fired if f.kind == "line_crossing"]) == 6
    assert len([f for f in fired if f.kind == "person_count"]) == 12
