"""``vigil workers --camera`` with bad files: one clear report of every problem, no
traceback, nothing started (the real command in a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.analytics.conftest import REPO


def test_json_syntax_error_and_bad_cameras_without_traceback(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"id": "cam-1", "lon": 105.8,, "lat": 19.8}\n')
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([
        {"id": "cam-2", "stream_url": "rtsp://127.0.0.1/x", "lon": 105.8, "lat": 99},
        {"id": "cam-3", "stream_url": "rtsp://127.0.0.1/x", "lon": 205.8, "lat": 19.8}]))
    env = dict(os.environ, VIGIL_STATE_DIR=str(tmp_path / "state"))
    env.pop("VIGIL_DATABASE_URL", None)
    proc = subprocess.run([sys.executable, "-m", "webapp.cli", "workers", "--camera",
                           str(broken), "--camera", str(bad)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    assert f"{broken}:1:30: Expecting property name enclosed in double quotes" in proc.stderr
    assert f"{bad}: [0] camera cam-2: lat=99" in proc.stderr
    assert f"{bad}: [1] camera cam-3: lon=205.8" in proc.stderr
    assert not (tmp_path / "state" / "pg").exists()   # nothing started
