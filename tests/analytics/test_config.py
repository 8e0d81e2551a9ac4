"""Bad camera configurations fail with errors that name camera, field and value."""

from __future__ import annotations

import pytest

from analytics.config import CameraConfigError, camera_from_row, parse_camera

BASE = {"id": "cam-7", "stream_url": "rtsp://127.0.0.1/x", "lon": 105.8, "lat": 19.8}


@pytest.mark.parametrize("change, expected", [
    ({"lat": 190}, "camera cam-7: lat=190"),
    ({"sample_fps": 0}, "sample_fps=0"),
    ({"colour": "red"}, "colour='red': Extra inputs are not permitted"),
    ({"rules": [{"id": "a", "kind": "intrusion", "polygon": [[0, 0]]}]},
     "rules.0.polygon=[[0, 0]]"),
    ({"rules": [{"id": "a", "kind": "teleport"}]}, "rules.0"),
    ({"rules": [{"id": "a", "kind": "loitering", "dwell_s": -5}]}, "rules.0.dwell_s=-5"),
    ({"rules": [{"id": "a", "kind": "line_crossing", "line": [[1, 1], [1, 1]]}]},
     "end points must differ"),
    ({"rules": [{"id": "a", "kind": "person_count"}, {"id": "a", "kind": "person_count"}]},
     "duplicate rule ids ['a']"),
    ({"rules": [{"id": "a", "kind": "intrusion"}]}, "needs a polygon or a geofence"),
    ({"rules": [{"id": "d", "kind": "crowd_density", "threshold_per_m2": 1}]},
     "rules.d.area_m2=None"),
    ({"homography": {"matrix": [[1, 0], [0, 1]]}}, "homography="),
])
def test_bad_config_names_camera_field_and_value(change, expected):
    with pytest.raises(CameraConfigError) as err:
        parse_camera({**BASE, **change})
    assert "camera cam-7" in str(err.value)
    assert expected in str(err.value)


def test_registry_row_merges_config_json():
    cam = camera_from_row({**BASE, "name": "Chợ", "zone_ids": ["z1"], "homography": None,
                           "config": {"sample_fps": 2,
                                      "rules": [{"id": "v", "kind": "vehicle_count"}]}})
    assert cam.sample_fps == 2 and cam.zone_ids == ("z1",)
    assert cam.rules[0].classes == (1, 2, 3, 5, 7)


@pytest.mark.parametrize("change, expected", [
    ({"int8": "sometimes"}, "int8='sometimes'"),
    ({"region_imgsz": 300}, "region_imgsz=300: Input should be a multiple of 32"),
    ({"quantise": True}, "quantise=True: Extra inputs are not permitted"),
])
def test_bad_detector_settings_name_the_field(change, expected):
    from analytics.worker import WorkerConfig
    from store.settings import load_settings

    with pytest.raises(CameraConfigError, match="detection: ") as err:
        WorkerConfig("w", (), load_settings({}, environ={}), detection=change)
    assert expected in str(err.value)


def test_detectors_are_int8_unless_switched_off():
    from analytics.config import DetectorConfig, parse_detection

    d = DetectorConfig()
    assert d.int8 and d.int8_full and d.region_imgsz == 320
    assert parse_detection({"int8": False}) == DetectorConfig(int8=False)


def test_camera_files_report_every_bad_camera_and_json_syntax(tmp_path):
    """Every problem of every file at once: syntax as file:line:col, bad cameras by file,
    index, id, field and value; nothing is returned while any is bad."""
    import json

    from analytics.config import load_camera_files

    good = tmp_path / "good.json"
    good.write_text(json.dumps([BASE, {**BASE, "id": "cam-8", "lat": 91},
                                {**BASE, "id": "cam-9", "sample_fps": 0},
                                {**BASE, "id": "cam-10"}, "cam-11", BASE]))
    broken = tmp_path / "broken.json"
    broken.write_text('[\n  {"id": "cam-1",\n   "lon": 105.8\n   "lat": 19.8}\n]\n')
    single = tmp_path / "single.json"
    single.write_text(json.dumps({**BASE, "id": "cam-2", "colour": "red",
                                  "rules": [{"id": "a", "kind": "intrusion"},
                                            {"id": "d", "kind": "crowd_density",
                                             "threshold_per_m2": 1}]}))
    with pytest.raises(CameraConfigError) as err:
        load_camera_files([good, broken, single])
    lines = str(err.value).splitlines()
    assert lines == [
        f"{good}: [1] camera cam-8: lat=91: Input should be less than or equal to 90",
        f"{good}: [2] camera cam-9: sample_fps=0: Input should be greater than 0",
        f"{good}: [4] a camera is a JSON object, got 'cam-11'",
        f"{good}: [5] camera cam-7: id='cam-7': given twice (also {good}: [0])",
        f"{broken}:4:4: Expecting ',' delimiter",
        f"{single}: camera cam-2: colour='red': Extra inputs are not permitted",
    ], lines
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps([BASE, {**BASE, "id": "cam-8"}]))
    assert [c.id for c in load_camera_files([ok])] == ["cam-7", "cam-8"]


def test_every_rule_problem_of_a_camera_is_named():
    with pytest.raises(CameraConfigError) as err:
        parse_camera({**BASE, "rules": [{"id": "a", "kind": "intrusion"},
                                        {"id": "d", "kind": "crowd_density",
                                         "threshold_per_m2": 1}]})
    assert "rules.a.polygon=None" in str(err.value)
    assert "rules.d.area_m2=None" in str(err.value)
