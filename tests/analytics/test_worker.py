"""The worker loop on the real clip, in-process (no database) and as a process."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.config import parse_camera
from analytics.worker import WorkerConfig, run_cameras
from store.settings import load_settings
from tests.analytics.conftest import CAMERA_LONLAT, seed_models, vtest_camera


@pytest.fixture
def state(tmp_path, region_models):
    """A state directory that already holds the region models (no quantising per test)."""
    return seed_models(tmp_path / "state", region_models)


def _settings(state):
    return load_settings({"state_dir": state}, environ={})


def test_worker_on_vtest_emits_geotagged_events_with_evidence(vtest, state):
    settings = _settings(state)
    cam = parse_camera(vtest_camera(vtest))
    events = []
    stats = run_cameras(WorkerConfig("t", (cam,), settings, max_frames=40),
                        lambda: False, events.append)
    assert stats["frames"] == {"cam-vtest": 40}
    kinds = {e.kind for e in events}
    assert {"intrusion", "crowd_sample", "person_count"} <= kinds
    for e in events:
        e.check()
    intrusions = [e for e in events if e.kind == "intrusion"]
    assert len({e.track_id for e in intrusions}) == len(intrusions)  # one per track
    # placed by the homography within the camera's view (≤ 80 m), not on the camera
    for e in intrusions:
        assert e.attributes["located"] == "homography"
        dx = (e.lon - CAMERA_LONLAT[0]) * 104_600
        dy = (e.lat - CAMERA_LONLAT[1]) * 110_700
        assert 3 < np.hypot(dx, dy) < 80 and dy > 0
        path = settings.evidence_root / e.evidence.path
        import hashlib
        assert hashlib.sha256(path.read_bytes()).hexdigest() == e.evidence.sha256
        assert (settings.evidence_root / e.attributes["crop"]["path"]).is_file()
    counts = [e.value for e in events if e.kind == "person_count"]
    assert max(counts) >= 3  # vtest has several pedestrians at a time


def test_gated_and_naive_find_the_same_people(vtest, state):
    settings = _settings(state)
    found = {}
    for gating in (True, False):
        cam = parse_camera(vtest_camera(vtest, motion_gating=gating, rules=[
            {"id": "p", "kind": "person_count", "every_s": 1}]))
        events = []
        run_cameras(WorkerConfig("t", (cam,), settings, max_frames=30), lambda: False,
                    events.append)
        found[gating] = np.array([e.value for e in events if e.kind == "person_count"])
    assert len(found[True]) == len(found[False]) >= 10
    assert abs(found[True].mean() - found[False].mean()) <= 0.5


def test_missing_file_is_reported_offline(tmp_path, state):
    cam = parse_camera(vtest_camera(tmp_path / "nope.avi"))
    events = []
    run_cameras(WorkerConfig("t", (cam,), _settings(state)), lambda: False,
                events.append)
    assert [e.kind for e in events] == ["camera_offline"]


def test_unreachable_stream_is_reported_offline_once(state):
    import socket
    import time

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cam = parse_camera(vtest_camera(f"rtsp://127.0.0.1:{port}/cam",
                                    health={"offline_after_s": 1.5}))
    events = []
    started: list[float] = []

    def stopped() -> bool:  # 4 s of the loop, counted from its first round
        started.append(time.monotonic())
        return started[-1] > started[0] + 4

    run_cameras(WorkerConfig("t", (cam,), _settings(state)), stopped, events.append)
    assert [e.kind for e in events] == ["camera_offline"]
    assert events[0].attributes["located"] == "camera"


def test_worker_process_does_not_import_the_clis_web_app(tmp_path):
    """A worker spawned by the CLI (a main module that imports flask, geopandas …) does
    not re-run that module: the web app's libraries stay out of every worker's memory."""
    import subprocess
    import sys

    from tests.analytics.conftest import REPO

    out = tmp_path / "modules.txt"
    done = subprocess.run([sys.executable, "-m", "tests.analytics.spawn_probe", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    modules = set(out.read_text().split())
    assert "analytics" in modules and "numpy" in modules
    assert not modules & {"flask", "werkzeug", "geopandas", "pandas"}, modules


def test_worker_detectors_are_int8_unless_switched_off(state):
    from analytics.worker import build_detectors

    cam = parse_camera(vtest_camera("unused.avi"))
    full, regional = build_detectors(WorkerConfig("t", (cam,), _settings(state)))
    assert full.int8 and full.size == (640, 640)
    assert regional.int8 and regional.size == (320, 320)
    full, regional = build_detectors(WorkerConfig("t", (cam,), _settings(state), detection={
        "int8": False, "int8_full": False}))
    assert not full.int8 and not regional.int8 and regional.size == (320, 320)


def test_heartbeat_says_how_the_camera_decodes(h264_clip, state):
    cam = parse_camera(vtest_camera(h264_clip, sample_fps=1, rules=[]))
    beats = []
    run_cameras(WorkerConfig("t", (cam,), _settings(state), max_frames=5), lambda: False,
                None, beats.extend)
    detail = beats[-1]["detail"]
    assert detail["decoder"] == "pyav" and detail["decode_mode"] == "keyframes"
    assert detail["keyframe_interval_s"] == 1.0
    assert detail["frames_analysed"] == 5
    assert detail["frames_decoded"] == 5 < beats[-1]["frames_read"]
    assert detail["decode_cpu_s"] > 0
