"""No helmet: off (and saying so) without a model; with a model, heads are looked for only
above and around each motorcycle and belong to that motorcycle's track."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from analytics.config import parse_camera
from analytics.detectors import ModelMissing
from analytics.violations.config import HelmetRule
from analytics.violations.helmet import HelmetWatcher, helmet_status, rider_region
from analytics.violations.stage import Lists, build_stage
from tests.recognition.plate_images import DATA
from tests.recognition.scene import tracks
from store.settings import load_settings


def _cam(rule: dict) -> object:
    return parse_camera({"id": "cam-h", "stream_url": "x", "lon": 105.7, "lat": 19.8,
                         "rules": [rule]})


def test_without_a_model_the_rule_is_off_and_says_so(tmp_path: Path, caplog):
    cam = _cam({"id": "helmets", "kind": "no_helmet"})
    settings = load_settings({"state_dir": tmp_path}, environ={})
    with caplog.at_level("WARNING"):
        stage = build_stage(cam, settings, None, Lists(None))
    assert stage is not None and stage.watchers == []
    assert "no helmet model configured" in stage.off["helmets"]
    assert "rule helmets (no_helmet) is off" in caplog.text
    assert helmet_status(HelmetRule(id="h", kind="no_helmet", model="m.onnx")) is None


def test_a_missing_model_file_is_one_clear_error(tmp_path: Path):
    cam = _cam({"id": "helmets", "kind": "no_helmet", "model": str(tmp_path / "helmet.onnx")})
    with pytest.raises(ModelMissing, match="helmet.onnx not found"):
        build_stage(cam, load_settings({"state_dir": tmp_path}, environ={}), None,
                    Lists(None))


def test_rider_region_is_above_and_around_the_motorcycle():
    assert rider_region(np.array([100, 200, 180, 260]), (480, 640)) == (80, 140, 200, 260)
    assert rider_region(np.array([0, 10, 80, 60]), (480, 640)) == (0, 0, 100, 60)


def test_with_a_model_heads_are_attributed_to_their_motorcycle():
    """Plumbing check with a real model: COCO yolov8n stands in for a helmet model, its
    class 0 (person) for the configured no-helmet class, on zidane.jpg (two people)."""
    from analytics.detectors import make_detector

    image = cv2.imread(str(DATA / "zidane.jpg"))  # 1280×720; people at x≈100–500, 740–1150
    rule = HelmetRule(id="h", kind="no_helmet", model="coco", no_helmet_class=0,
                      min_confidence=0.5)
    watcher = HelmetWatcher(rule, make_detector("onnx_yolo"))
    # "motorcycle" 1 below the right-hand person, 2 below an empty wall on the far left
    bikes = tracks({1: (820, 560, 1100, 719), 2: (0, 660, 60, 719)}, class_id=3)
    (f,) = watcher.observe(image, 0.0, bikes)
    assert f.kind == "no_helmet" and f.track_id == 1
    assert all(h[0] >= 750 and h[1] >= 400 for h in f.attributes["heads"])
    assert watcher.observe(image, 1.0, bikes) == []  # cooldown per track


def test_no_seatbelt_is_off_without_a_model_and_watches_cars(tmp_path: Path):
    cam = _cam({"id": "belts", "kind": "no_seatbelt"})
    (rule,) = cam.rules
    assert rule.classes == (2,)
    stage = build_stage(cam, load_settings({"state_dir": tmp_path}, environ={}), None,
                        Lists(None))
    assert "no seatbelt model configured" in stage.off["belts"]
    from analytics.violations.helmet import occupant_region
    assert occupant_region(np.array([100, 200, 300, 300]), (480, 640)) == (100, 200, 300, 260)
