"""Ctrl-C in the terminal of ``vigil workers``: the whole process group gets SIGINT; the
workers ignore it (the parent stops them through their stop events) and nothing prints a
traceback. The real command in its own process group, as a terminal runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.analytics.conftest import REPO, seed_models, vtest_camera


@pytest.mark.slow
@pytest.mark.parametrize("when", ["starting", "running"])
def test_sigint_to_the_process_group_stops_quietly(db_url, conn, tmp_path, vtest,
                                                   region_models, when):
    path = tmp_path / "cams.json"
    path.write_text(json.dumps([vtest_camera(vtest, "cam-a")]))
    state = seed_models(tmp_path / "st", region_models)
    env = dict(os.environ, VIGIL_DATABASE_URL=db_url, VIGIL_STATE_DIR=str(state),
               PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "webapp.cli", "workers", "--camera",
                             str(path)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        # "starting": as soon as the workers are spawned (still importing, loading models);
        # "running": once the camera has stored events
        first = proc.stdout.readline()
        assert "analytics workers running" in first, first + proc.stderr.read()
        deadline = time.monotonic() + 120
        while when == "running" and time.monotonic() < deadline and proc.poll() is None:
            conn.commit()
            if conn.execute("SELECT count(DISTINCT camera_id) FROM events").fetchone()[0]:
                break
            time.sleep(0.5)
        else:
            assert when == "starting", "no events from the camera"
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert proc.returncode == 0, err
