"""Workers under the supervisor, end to end into PostgreSQL: file and RTSP cameras,
health events when the RTSP server is cut, crash and restart, registry changes."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from analytics.supervisor import Supervisor, SupervisorOptions
from tests.analytics.conftest import CAMERA_LONLAT, register, vtest_camera
from tests.polling import poll_until

pytestmark = pytest.mark.slow


def _wait(predicate, timeout: float, what: str):
    return poll_until(predicate, what, timeout, every_s=0.3)


def _events(conn, camera_id=None, kind=None):
    conn.commit()  # a fresh snapshot
    return conn.execute(
        "SELECT camera_id, kind, lon, lat, track_id, evidence_path, ward_id FROM events"
        " WHERE (%s::text IS NULL OR camera_id = %s) AND (%s::text IS NULL OR kind = %s)"
        " ORDER BY id", (camera_id, camera_id, kind, kind)).fetchall()


def test_file_and_rtsp_cameras_store_geotagged_events(conn, db_url, settings, vtest,
                                                      rtsp_server):
    register(conn, [vtest_camera(vtest, "cam-file"),
                    vtest_camera(rtsp_server.url, "cam-rtsp", rtsp_transport="tcp")])
    sup = Supervisor(settings, db_url,
                     options=SupervisorOptions(worker={"max_frames": 24, "heartbeat_s": 1}))
    sup.start()
    try:
        assert sup.wait_finished(150), sup.status()
    finally:
        sup.stop()
    for cam in ("cam-file", "cam-rtsp"):
        rows = _events(conn, cam)
        kinds = {r[1] for r in rows}
        assert {"person_count", "crowd_sample"} <= kinds, (cam, kinds)
        people = [r for r in rows if r[1] == "intrusion"]
        assert people, (cam, kinds)
        for _, _, lon, lat, track, evidence, _ in people:
            dx = (lon - CAMERA_LONLAT[0]) * 104_600
            dy = (lat - CAMERA_LONLAT[1]) * 110_700
            assert 3 < np.hypot(dx, dy) < 80, (lon, lat)
            assert track is not None and (settings.evidence_root / evidence).is_file()
    beats = conn.execute("SELECT camera_id, status, frames_read FROM camera_heartbeats"
                         " ORDER BY ts").fetchall()
    assert {b[0] for b in beats} == {"cam-file", "cam-rtsp"}
    assert all(b[2] > 0 for b in beats if b[0] == "cam-file")
    status = dict(conn.execute("SELECT id, status FROM cameras").fetchall())
    assert status == {"cam-file": "online", "cam-rtsp": "online"}


def test_cutting_the_rtsp_server_gives_offline_then_online(conn, db_url, settings,
                                                           rtsp_server):
    cam = vtest_camera(rtsp_server.url, "cam-udp", rtsp_transport="udp", rules=[],
                       health={"offline_after_s": 3})
    register(conn, [cam])
    with Supervisor(settings, db_url, [cam],
                    options=SupervisorOptions(worker={"heartbeat_s": 1})) as sup:
        _wait(lambda: conn.execute("SELECT count(*) FROM camera_heartbeats WHERE "
                                   "status = 'online' AND frames_read > 0").fetchone()[0]
              or conn.commit(), 60, "frames over RTSP/UDP")
        rtsp_server.stop()
        _wait(lambda: _events(conn, kind="camera_offline"), 40, "camera_offline")
        assert sup.status()["cam-udp"]["restarts"] == 0  # the worker itself kept running
        rtsp_server.start()
        _wait(lambda: _events(conn, kind="camera_online"), 60, "camera_online")
    kinds = [r[1] for r in _events(conn)]
    assert kinds.index("camera_offline") < kinds.index("camera_online")
    assert kinds.count("camera_offline") == 1


def test_crash_restart_and_registry_changes(conn, db_url, settings, vtest):
    looping = dict(loop=True, realtime=True, rules=[])
    register(conn, [vtest_camera(vtest, "cam-a", **looping)])
    opts = SupervisorOptions(poll_s=0.5, backoff_min_s=0.5)
    with Supervisor(settings, db_url, options=opts) as sup:
        pid = _wait(lambda: sup.status()["cam-a"]["pid"], 30, "worker a")
        time.sleep(3)
        os.kill(pid, signal.SIGKILL)  # a real crash
        _wait(lambda: sup.status()["cam-a"]["restarts"] == 1
              and sup.status()["cam-a"]["alive"], 30, "restart after crash")
        pid_a = sup.status()["cam-a"]["pid"]
        assert pid_a != pid
        # a camera added to the registry starts without touching cam-a
        register(conn, [vtest_camera(vtest, "cam-b", **looping)])
        _wait(lambda: "cam-b" in sup.status() and sup.status()["cam-b"]["alive"], 30,
              "cam-b started")
        # a changed camera restarts alone
        pid_b = sup.status()["cam-b"]["pid"]
        register(conn, [vtest_camera(vtest, "cam-b", sample_fps=3, **looping)])
        _wait(lambda: sup.status()["cam-b"]["pid"] not in (None, pid_b)
              and sup.status()["cam-b"]["alive"], 30, "cam-b restarted with its new config")
        assert sup.status()["cam-a"]["pid"] == pid_a
        # a bad configuration is refused with a clear error; the others keep running
        register(conn, [vtest_camera(vtest, "cam-bad", sample_fps=-1)])
        _wait(lambda: "cam-bad" in sup.config_errors, 10, "cam-bad refused")
        assert "sample_fps=-1" in sup.config_errors["cam-bad"]
        # disabling cam-b stops it; cam-a is still the same process
        conn.execute("UPDATE cameras SET enabled = false WHERE id = 'cam-b'")
        conn.commit()
        _wait(lambda: "cam-b" not in sup.status(), 30, "cam-b stopped")
        assert sup.status()["cam-a"]["pid"] == pid_a and sup.status()["cam-a"]["alive"]
