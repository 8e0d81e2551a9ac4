"""Red light: signal colour from pixels on a real frame, stop-line crossings on scripted
tracks, and the whole stage after the real pipeline with before/after evidence."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from analytics.config import parse_camera
from analytics.evidence import EvidenceStore
from analytics.pipeline import CameraPipeline
from analytics.violations.config import RedLightRule
from analytics.violations.red_light import RedLightWatcher, signal_state
from analytics.violations.stage import Lists, build_stage
from tests.recognition.scene import draw_signal, frame, tracks
from store.settings import load_settings

SIGNAL = (700, 40, 740, 160)
RULE = dict(id="rl", kind="red_light", signal=SIGNAL, stop_line=((100, 400), (700, 400)),
            direction=(0, -1), cooldown_s=30)


@pytest.mark.parametrize("lit", ["red", "amber", "green", None])
def test_signal_state_is_read_from_the_pixels_of_a_real_frame(street_frame, lit):
    image = street_frame.copy()
    draw_signal(image, SIGNAL, lit)
    image = cv2.GaussianBlur(image, (3, 3), 0)
    reading = signal_state(image, SIGNAL)
    assert reading.state == (lit or "dark"), reading.lit


def test_the_road_itself_is_no_signal(street_frame):
    assert signal_state(street_frame, (300, 300, 340, 420)).state == "dark"


def _run(states, path, rule=RULE):
    watcher = RedLightWatcher(RedLightRule(**rule))
    base = np.full((576, 768, 3), 120, np.uint8)
    out = []
    for i, (lit, (x, y)) in enumerate(zip(states, path)):
        image = base.copy()
        draw_signal(image, SIGNAL, lit)
        det = tracks({3: (x - 40, y - 60, x + 40, y)})
        out += watcher.observe(image, float(i), det)
    return out


def test_crossing_on_red_fires_once_with_the_frame_before():
    path = [(400, 480), (400, 430), (400, 390), (400, 340), (400, 300)]
    (f,) = _run(["red"] * 5, path)
    assert f.kind == "red_light" and f.track_id == 3
    assert f.attributes["signal"] == "red" and f.attributes["crossed_at"] == [400.0, 400.0]
    assert f.attributes["_before"][:2] == b"\xff\xd8"  # JPEG of the frame before


@pytest.mark.parametrize("states, path, why", [
    (["green"] * 4, [(400, 480), (400, 430), (400, 390), (400, 340)], "green"),
    (["red", "red", "green", "green"], [(400, 480), (400, 430), (400, 390), (400, 340)],
     "turned green before the crossing"),
    (["red"] * 4, [(400, 300), (400, 350), (400, 410), (400, 450)], "moving away"),
    (["red"] * 4, [(740, 480), (740, 430), (740, 390), (740, 340)], "beside the line"),
    (["red"] * 3, [(400, 480), (400, 450), (400, 420)], "stopped before the line"),
])
def test_no_violation(states, path, why):
    assert _run(states, path) == [], why


def test_amber_counts_only_when_configured():
    path = [(400, 480), (400, 430), (400, 390)]
    assert _run(["amber"] * 3, path) == []
    assert len(_run(["amber"] * 3, path, dict(RULE, amber_is_red=True))) == 1


def test_stage_after_the_real_pipeline_writes_before_and_after_evidence(street_frame,
                                                                        tmp_path: Path):
    cam = parse_camera({"id": "cam-rl", "stream_url": "x.avi", "lon": 105.776,
                        "lat": 19.807, "sample_fps": 1, "motion_gating": False,
                        "rules": [dict(RULE, after_s=1.0)]})
    evidence = EvidenceStore(tmp_path / "evidence")
    settings = load_settings({"state_dir": tmp_path / "state"}, environ={})
    pipe = CameraPipeline(cam, evidence)
    stage = build_stage(cam, settings, evidence, Lists(None))
    assert stage is not None and not stage.off
    events = []
    ys = [520, 470, 420, 370, 320, 270]
    for i, y in enumerate(ys):
        image = street_frame.copy()
        draw_signal(image, SIGNAL, "red")
        # a "vehicle": a real patch of the frame moved up the road, and its detection
        image[y - 70:y, 360:460] = street_frame[100:170, 40:140]
        f = frame(image, float(i), i)
        assert pipe.plan(f) == "full"
        det = tracks({0: (360, y - 70, 460, y)})
        det.tracker_id = None
        events += pipe.complete(f, "full", det)
        events += stage.observe(f, pipe)
    (ev,) = [e for e in events if e.kind == "red_light"]
    assert ev.ts == frame(None, 3.0).ts          # crossed between y=420 and y=370
    assert ev.attributes["signal"] == "red" and ev.attributes["rule"] == "rl"
    root = tmp_path / "evidence"
    for key in ("before", "after", "crop"):
        assert (root / ev.attributes[key]["path"]).is_file(), key
    assert (root / ev.evidence.path).is_file()
    after = cv2.imread(str(root / ev.attributes["after"]["path"]))
    before = cv2.imread(str(root / ev.attributes["before"]["path"]))
    # the vehicle patch sits higher up the road in the "after" frame than "before"
    col = slice(370, 450)
    assert np.abs(after[270:320, col].astype(int) - before[270:320, col]).mean() > 10
    assert stage.flush() == []


@pytest.mark.parametrize("lit", ["red", "amber", "green"])
def test_horizontal_signal_heads(street_frame, lit):
    head = np.zeros((120, 40, 3), np.uint8)
    draw_signal(head, (0, 0, 39, 119), lit)
    image = street_frame.copy()
    image[40:80, 600:720] = cv2.rotate(head, cv2.ROTATE_90_COUNTERCLOCKWISE)  # red left
    reading = signal_state(image, (600, 40, 720, 80), layout="horizontal")
    assert reading.state == lit
    assert all(v < 0.02 for k, v in reading.lit.items() if k != lit)
