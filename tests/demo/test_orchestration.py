"""Pieces of the demo's orchestration that need no running demo."""

import gzip
import os
import shutil
import socket
import subprocess
import sys
import tempfile

import pytest

from store.settings import REPO_ROOT, load_settings
from webapp.demo.media import (SAMPLE_CLIP_PATHS, SampleClipMissing, sample_clip,
                               sample_clips)
from webapp.demo.orchestration import replace_settings


def test_sample_clip_prefers_the_plain_file(tmp_path):
    plain = tmp_path / "vtest.avi"
    plain.write_bytes(b"RIFF")
    assert sample_clip(tmp_path / "media", [plain, tmp_path / "vtest.avi.gz"]) == plain


def test_sample_clip_unpacks_a_gzipped_copy_once(tmp_path):
    packed = tmp_path / "vtest.avi.gz"
    packed.write_bytes(gzip.compress(b"RIFF-clip-bytes"))
    media = tmp_path / "media"
    out = sample_clip(media, [tmp_path / "missing.avi", packed])
    assert out == media / "vtest.avi"
    assert out.read_bytes() == b"RIFF-clip-bytes"
    stamp = out.stat().st_mtime_ns
    assert sample_clip(media, [packed]).stat().st_mtime_ns == stamp   # not unpacked again


def test_missing_sample_clip_says_how_to_get_it(tmp_path):
    with pytest.raises(SampleClipMissing, match="opencv-doc.*--no-workers"):
        sample_clip(tmp_path, [tmp_path / "nope.avi"])


@pytest.mark.skipif(not SAMPLE_CLIP_PATHS[0].exists(), reason="opencv-doc is not installed")
def test_each_calibrated_camera_gets_the_clip_from_a_different_moment(tmp_path):
    import cv2
    import numpy as np
    clips = sample_clips(tmp_path, 3)
    assert clips[0] == SAMPLE_CLIP_PATHS[0] and len(set(clips)) == 3
    firsts = []
    for clip in clips:
        cap = cv2.VideoCapture(str(clip))
        assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 795
        ok, frame = cap.read()
        cap.release()
        assert ok and frame.shape == (576, 768, 3)
        firsts.append(frame.astype(np.int16))
    # different moments: people have moved (beyond re-encoding noise)
    assert np.abs(firsts[0] - firsts[1]).mean() > 2
    assert np.abs(firsts[1] - firsts[2]).mean() > 2
    assert sample_clips(tmp_path, 3) == clips                # cached


def test_replace_settings_validates_again(tmp_path):
    settings = load_settings(environ={})
    assert replace_settings(settings, state_dir=tmp_path).state_dir == tmp_path
    with pytest.raises(ValueError, match="web_port"):
        replace_settings(settings, web_port=0)


@pytest.mark.slow
def test_a_busy_port_is_a_clear_error_and_leaves_nothing_running():
    state = tempfile.mkdtemp(prefix="vigil-demo-", dir="/tmp")
    os.chmod(state, 0o711)   # the database's user (when root runs) must enter it
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
        proc = subprocess.run(
            [sys.executable, "-m", "webapp.cli", "demo", "--no-workers", "--history-hours",
             "0", "--port", str(port), "--state-dir", f"{state}/s"],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert "--port" in proc.stderr
    assert "database stopped" in proc.stdout
    leftover = subprocess.run(["pgrep", "-f", state], capture_output=True, text=True).stdout
    shutil.rmtree(state, ignore_errors=True)
    assert leftover.strip() == ""
    assert "listener reconnecting" not in proc.stderr    # the event pump stopped first


def test_the_demo_refuses_an_external_database_unless_told():
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env["VIGIL_DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/prod"
    proc = subprocess.run([sys.executable, "-m", "webapp.cli", "demo", "--no-workers"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "--allow-external-database" in proc.stderr
    assert "starting the database" not in proc.stdout
