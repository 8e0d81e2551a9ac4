"""The default detector on real photos, batching, and the missing-model error."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from analytics.detectors import ModelMissing, detector_keys, make_detector
from analytics.mosaic import detect_plans

DATA = Path(__file__).resolve().parent.parent / "data"


def _names(det, detector) -> list[str]:
    return sorted(detector.class_names[int(c)] for c in det.class_id)


def test_bus_has_four_people_and_a_bus(detector):
    det = detector.detect([cv2.imread(str(DATA / "bus.jpg"))])[0]
    names = _names(det, detector)
    assert names.count("person") == 4
    assert names.count("bus") == 1
    bus = det.xyxy[det.class_id == 5][0]
    assert bus[2] - bus[0] > 600  # the bus spans most of the 810-px-wide photo


def test_batch_matches_single_frames(detector):
    bus = cv2.imread(str(DATA / "bus.jpg"))
    zidane = cv2.imread(str(DATA / "zidane.jpg"))
    both = detector.detect([bus, zidane])
    assert _names(both[1], detector).count("person") == 2
    alone = detector.detect([zidane])[0]
    np.testing.assert_allclose(both[1].xyxy, alone.xyxy, atol=1.0)
    assert detector.detect([]) == []


def test_mosaic_regions_map_back_to_their_frames(detector):
    bus = cv2.imread(str(DATA / "bus.jpg"))
    zidane = cv2.imread(str(DATA / "zidane.jpg"))
    # two cameras' regions share one canvas: the right-hand man in zidane, a bus passenger
    plans = [[(700, 0, 1180, 720)], [(200, 380, 370, 880)], None]
    dets = detect_plans(detector, [zidane, bus, bus], plans, scale=0.7)
    assert dets[2] is None
    people = dets[0][dets[0].class_id == 0]
    assert len(people) == 1 and people.xyxy[0][0] >= 700  # in zidane's pixels
    assert (dets[1].class_id == 0).sum() >= 1
    x1, y1, x2, y2 = dets[1].xyxy[dets[1].class_id == 0][0]
    assert 200 <= x1 < x2 <= 370 and 380 <= y1 < y2 <= 880


def test_missing_weights_name_the_path(tmp_path):
    missing = tmp_path / "helmet.onnx"
    with pytest.raises(ModelMissing, match=str(missing)) as err:
        make_detector("onnx_yolo", model=missing)
    assert "never" in str(err.value) and "download" in str(err.value)


def test_unknown_backend_lists_known():
    with pytest.raises(ValueError, match="onnx_yolo"):
        make_detector("tensorrt")
    assert "ultralytics" in detector_keys()


def test_ultralytics_backend(tmp_path):
    pytest.importorskip("ultralytics", reason="ultralytics needs torch + torchvision, "
                        "which this CPU-only environment cannot install (optional extra)")
    from analytics.detectors import default_model_path

    det = make_detector("ultralytics", model=default_model_path())
    out = det.detect([cv2.imread(str(DATA / "bus.jpg"))])[0]
    assert (out.class_id == 0).sum() >= 3


def test_resized_model_has_a_dynamic_batch_and_smaller_input(tmp_path):
    """The 320-px rewrite of the shipped model still finds the bus and its passengers."""
    small = make_detector("onnx_yolo", imgsz=320, cache_dir=tmp_path)
    assert small.size == (320, 320) and small.fixed_batch is None
    assert small.model_path.parent == tmp_path
    bus = cv2.imread(str(DATA / "bus.jpg"))
    a, b = small.detect([bus, bus])
    names = _names(a, small)
    assert names.count("bus") == 1 and names.count("person") >= 3
    np.testing.assert_allclose(a.xyxy, b.xyxy, atol=0.5)
    with pytest.raises(ValueError, match="multiple of 32"):
        make_detector("onnx_yolo", imgsz=300, cache_dir=tmp_path)


@pytest.fixture(scope="module")
def int8_detector(region_models):
    """The region detector as workers build it by default: 320 px, INT8, made locally."""
    return make_detector("onnx_yolo", imgsz=320, int8=True, cache_dir=region_models)


def test_int8_region_model_is_made_locally_and_cached(int8_detector):
    path = int8_detector.model_path
    assert int8_detector.int8 and path.name.endswith("-int8q1.onnx")
    assert (path.parent / path.name.replace("-int8q1", "")).is_file()  # the float 320 copy
    assert path.stat().st_size < 0.5 * (path.parent / path.name.replace("-int8q1", "")
                                        ).stat().st_size
    before = path.stat().st_mtime_ns
    again = make_detector("onnx_yolo", imgsz=320, int8=True, cache_dir=path.parent)
    assert again.model_path == path and path.stat().st_mtime_ns == before


def test_int8_region_model_finds_what_float_finds(int8_detector, tmp_path):
    """Calibrated on other photos, the INT8 copy still sees the bus and its passengers."""
    from analytics.detections import box_iou

    float_ = make_detector("onnx_yolo", imgsz=320, cache_dir=int8_detector.model_path.parent)
    bus = cv2.imread(str(DATA / "bus.jpg"))
    zidane = cv2.imread(str(DATA / "zidane.jpg"))
    for image in (bus, zidane):
        a = float_.detect([image])[0]
        b = int8_detector.detect([image])[0]
        assert _names(a, float_) == _names(b, int8_detector)
        assert box_iou(a.xyxy, b.xyxy).max(axis=1).min() > 0.8
    names = _names(int8_detector.detect([bus])[0], int8_detector)
    assert names.count("bus") == 1 and names.count("person") >= 3


def test_calibration_set_is_not_the_benchmark_clip():
    from analytics.detectors.onnx_quant import calibration_images

    images = calibration_images()
    assert len(images) >= 10
    assert all(cv2.imread(str(p)) is not None for p in images)
    assert not any("vtest" in p.name for p in images)


def test_int8_copy_is_the_same_bytes_every_time(region_models, tmp_path):
    """Made again from the same float model and photos, the INT8 copy is identical."""
    from analytics.detectors.onnx_quant import quantize_model

    again = quantize_model(region_models / "yolov8n-320-b.onnx", tmp_path / "again.onnx")
    assert again.read_bytes() == (region_models / "yolov8n-320-b-int8q1.onnx").read_bytes()
