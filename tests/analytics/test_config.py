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
