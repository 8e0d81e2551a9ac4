"""Camera health conditions on real frames altered the way real faults look."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from analytics.config import HealthConfig
from analytics.health import CameraHealth

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def frames(vtest) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(vtest))
    out = []
    for i in range(60):
        ok, f = cap.read()
        if i % 3 == 0:
            out.append(f)
    cap.release()
    return out


def _run(health: CameraHealth, images, t0: float = 0.0, dt: float = 1.0) -> list[str]:
    kinds = []
    for i, img in enumerate(images):
        kinds += [c.kind for c in health.frame(img, t0 + i * dt, t0 + i * dt)]
    return kinds


def test_live_scene_is_healthy(frames):
    h = CameraHealth(HealthConfig())
    assert _run(h, frames) == [] and h.status == "online"


def test_covered_lens_fires_once_then_clears(frames):
    h = CameraHealth(HealthConfig(hold_s=3))
    dark = [(f * 0.03).astype(np.uint8) for f in frames[:10]]
    assert _run(h, frames[:5] + dark) == ["camera_blackout"]
    assert h.status == "tampered"
    _run(h, frames[:3], t0=100)
    assert h.status == "online"


def test_frozen_image(frames):
    h = CameraHealth(HealthConfig(frozen_after_s=5))
    assert _run(h, frames[:3] + [frames[3]] * 10) == ["camera_frozen"]


def test_defocus(frames):
    h = CameraHealth(HealthConfig(hold_s=2))
    blurred = [cv2.GaussianBlur(f, (0, 0), 12) for f in frames[:8]]
    assert _run(h, frames[:3] + blurred) == ["camera_blur"]


def test_camera_turned_to_another_scene(frames):
    h = CameraHealth(HealthConfig(hold_s=2))
    other = cv2.resize(cv2.imread(str(DATA / "bus.jpg")), (768, 576))
    kinds = _run(h, frames[:10] + [other] * 6)
    assert kinds == ["camera_scene_change"]


def test_offline_then_online(frames):
    h = CameraHealth(HealthConfig(offline_after_s=5))
    h.frame(frames[0], 0.0, 100.0)
    assert h.tick(103.0) == []
    assert [c.kind for c in h.tick(106.0)] == ["camera_offline"]
    assert h.tick(110.0) == [] and h.status == "offline"
    assert [c.kind for c in h.frame(frames[1], 1.0, 111.0)] == ["camera_online"]


def test_a_stream_that_never_connects_goes_offline(frames):
    h = CameraHealth(HealthConfig(offline_after_s=5), started=100.0)
    assert h.tick(104.0) == []
    changes = h.tick(105.5)
    assert [c.kind for c in changes] == ["camera_offline"]
    assert "since start" in changes[0].detail
    assert [c.kind for c in h.frame(frames[0], 0.0, 120.0)] == ["camera_online"]
