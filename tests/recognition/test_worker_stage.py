"""The frame stage inside the real analytics worker loop on real video (vtest.avi)."""

from __future__ import annotations

from analytics.config import parse_camera
from analytics.worker import WorkerConfig, run_cameras
from tests.recognition.recognition_testing import opencv_sample
from store.settings import load_settings


def test_worker_runs_frame_rules_on_real_video(tmp_path):
    """People walking leftwards in a 'rightwards only' lane (the whole road) fire
    wrong_way through detector → tracker → stage, with evidence written."""
    cam = parse_camera({
        "id": "cam-vtest", "stream_url": str(opencv_sample("vtest.avi")), "lon": 105.776,
        "lat": 19.807, "sample_fps": 2,
        "rules": [{"id": "lane-w", "kind": "wrong_lane", "classes": [0],
                   "polygon": [[0, 150], [768, 150], [768, 576], [0, 576]],
                   "direction": [1, 0], "min_px": 60},
                  {"id": "helmets", "kind": "no_helmet"}]})
    settings = load_settings({"state_dir": tmp_path / "state"}, environ={})
    events = []
    stats = run_cameras(WorkerConfig("t", (cam,), settings, max_frames=60), lambda: False,
                        events.append)
    assert stats["frames"] == {"cam-vtest": 60}
    wrong = [e for e in events if e.kind == "wrong_way"]
    assert wrong, sorted({e.kind for e in events})
    for e in wrong:
        e.check()
        assert e.attributes["rule"] == "lane-w" and e.attributes["against_px"] >= 60
        assert (settings.evidence_root / e.evidence.path).is_file()
    assert len({e.track_id for e in wrong}) == len(wrong)  # once per track
    assert not any(e.kind == "no_helmet" for e in events)  # off: no model
