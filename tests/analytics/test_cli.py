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
