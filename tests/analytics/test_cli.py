"""``vigil workers`` refuses bad camera files and missing models before starting anything."""

from __future__ import annotations

import json

from click.testing import CliRunner

from webapp.cli import main


def test_bad_camera_file_names_file_camera_field_and_value(tmp_path):
    path = tmp_path / "cams.json"
    path.write_text(json.dumps([{"id": "cam-9", "stream_url": "rtsp://127.0.0.1/x",
                                 "lon": 105.8, "lat": 19.8,
                                 "rules": [{"id": "r", "kind": "loitering",
                                            "dwell_s": "long"}]}]))
    result = CliRunner().invoke(main, ["workers", "--camera", str(path)],
                                env={"VIGIL_STATE_DIR": str(tmp_path)})
    assert result.exit_code != 0
    assert str(path) in result.output and "camera cam-9" in result.output
    assert "rules.0.dwell_s='long'" in result.output


def test_missing_model_is_one_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["workers"], env={
        "VIGIL_STATE_DIR": str(tmp_path), "VIGIL_DETECTOR_MODEL": str(tmp_path / "m.onnx")})
    assert result.exit_code != 0
    assert f"detector model {tmp_path / 'm.onnx'} not found" in result.output


def test_vigil_workers_registers_cli_cameras_and_stores_events(db_url, conn, tmp_path, vtest,
                                                               region_models):
    """The real command in a subprocess: camera file in, events in the store, SIGTERM out."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.analytics.conftest import REPO, seed_models, vtest_camera

    path = tmp_path / "cams.json"
    path.write_text(json.dumps([vtest_camera(vtest, "cam-cli")]))
    state = seed_models(tmp_path / "st", region_models)
    env = dict(os.environ, VIGIL_DATABASE_URL=db_url, VIGIL_STATE_DIR=str(state))
    proc = subprocess.Popen([sys.executable, "-m", "webapp.cli", "workers", "--camera",
                             str(path)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        n = 0
        while time.monotonic() < deadline and n == 0 and proc.poll() is None:
            time.sleep(1)
            conn.commit()
            n = conn.execute("SELECT count(*) FROM events WHERE camera_id = 'cam-cli' "
                             "AND kind = 'intrusion'").fetchone()[0]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert n > 0, out
    assert proc.returncode == 0, out
    row = conn.execute("SELECT name, config->'rules'->0->>'kind' FROM cameras "
                       "WHERE id = 'cam-cli'").fetchone()
    assert row == ("Quảng trường (vtest)", "intrusion")


def test_bench_analytics_stream_prints_opencv_and_pyav_cores(tmp_path, vtest):
    result = CliRunner().invoke(main, ["bench", "analytics", "--video", str(vtest),
                                       "--stream", "1080p", "--stream-seconds", "2"],
                                env={"VIGIL_STATE_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert "avx2" in result.output or "no avx2" in result.output
    assert "1 fps, best of two: OpenCV" in result.output
    assert "pyav    keyframes   read   50 decoded    2 analysed   2" in result.output
    assert "5 fps pyav    all frames  read   50 decoded   50 analysed  10" in result.output
