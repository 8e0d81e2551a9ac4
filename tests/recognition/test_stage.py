"""The frame stage's lists from the database and its pending evidence."""

from __future__ import annotations

import numpy as np

from analytics.violations.stage import Lists
from store import watchlist as wl


def test_lists_follow_the_database_and_survive_its_absence(db_url, conn, caplog):
    wl.add_plate(conn, "51G-123.45", "op1")
    conn.commit()
    lists = Lists(db_url, refresh_s=0.0)
    assert list(lists.hotlist()) == ["51G12345"]
    wl.add_plate(conn, "36A-567.89", "op1")
    conn.commit()
    assert sorted(lists.hotlist()) == ["36A56789", "51G12345"]
    pid = wl.add_person(conn, "A", "op1")
    wl.add_face(conn, pid, np.ones(512), b"x", "m", "op1")
    conn.commit()
    assert lists.gallery("m").names == ("A",)
    lists.db_url = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"
    with caplog.at_level("WARNING"):
        assert sorted(lists.hotlist()) == ["36A56789", "51G12345"]  # the last good copy
        assert lists.gallery("m").names == ("A",)
    assert "not refreshed" in caplog.text
    assert len(Lists(None).gallery("m")) == 0 and Lists(None).hotlist() == {}


def test_red_light_waiting_for_its_after_frame_is_flushed_at_the_end(street_frame, tmp_path):
    from analytics.config import parse_camera
    from analytics.evidence import EvidenceStore
    from analytics.pipeline import CameraPipeline
    from analytics.violations.stage import build_stage
    from tests.recognition.scene import draw_signal, frame, tracks
    from store.settings import load_settings

    cam = parse_camera({"id": "c", "stream_url": "x", "lon": 105.7, "lat": 19.8,
                        "motion_gating": False,
                        "rules": [{"id": "rl", "kind": "red_light",
                                   "signal": [700, 40, 740, 160],
                                   "stop_line": [[100, 400], [700, 400]], "after_s": 5}]})
    evidence = EvidenceStore(tmp_path)
    pipe = CameraPipeline(cam, evidence)
    stage = build_stage(cam, load_settings({"state_dir": tmp_path}, environ={}), evidence,
                        Lists(None))
    out = []
    for i, y in enumerate([470, 420, 370]):
        image = street_frame.copy()
        draw_signal(image, (700, 40, 740, 160), "red")
        f = frame(image, float(i), i)
        pipe.plan(f)
        det = tracks({0: (360, y - 70, 460, y)})
        det.tracker_id = None
        pipe.complete(f, "full", det)
        out += stage.observe(f, pipe)
    assert out == []  # waiting 5 s for the "after" frame
    (ev,) = stage.flush()
    assert ev.kind == "red_light" and "after" not in ev.attributes and "before" in ev.attributes
    assert stage.flush() == []
