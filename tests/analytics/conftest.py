"""Analytics fixtures: real sample media (vtest.avi from Debian opencv-doc, test photos)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent.parent / "data"
VTEST_DIRS = [Path("/usr/share/doc/opencv-doc/examples/data"),
              Path("/usr/share/opencv4/samples/data")]


@pytest.fixture(scope="session")
def vtest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """vtest.avi (768×576, 10 fps, 80 s pedestrians), decompressed if Debian gzipped it."""
    for folder in VTEST_DIRS:
        if (folder / "vtest.avi").is_file():
            return folder / "vtest.avi"
        packed = folder / "vtest.avi.gz"
        if packed.is_file():
            out = tmp_path_factory.mktemp("media") / "vtest.avi"
            with gzip.open(packed) as src, out.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            return out
    pytest.skip("vtest.avi not found: apt-get install opencv-doc (scripts/apt-packages.txt)")


@pytest.fixture(scope="session")
def region_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 320-px and INT8 models, made once per session (as a worker makes them)."""
    from analytics.detectors import make_detector

    folder = tmp_path_factory.mktemp("models")
    make_detector("onnx_yolo", imgsz=320, int8=True, cache_dir=folder)
    make_detector("onnx_yolo", int8=True, cache_dir=folder)  # full-frame passes
    return folder


def seed_models(state_dir: Path, models: Path) -> Path:
    """Copy the session's region models into ``state_dir/models`` (mtimes kept, so the
    worker's cache check accepts them instead of quantising again); returns state_dir."""
    shutil.copytree(models, Path(state_dir) / "models", dirs_exist_ok=True)
    return Path(state_dir)


@pytest.fixture
def settings(settings, region_models):  # noqa: ANN001, ANN201 - the root fixture, seeded
    """The root ``settings`` with the region models already in its state directory."""
    seed_models(settings.state_dir, region_models)
    return settings


@pytest.fixture(scope="session")
def detector():
    """The default ONNX YOLOv8n detector (one per test session: loading costs ~0.3 s)."""
    from analytics.detectors import make_detector

    return make_detector("onnx_yolo")


#: A made-up but plausible georeference for vtest.avi: the camera stands at a square in
#: Thanh Hóa city looking north; the bottom edge of the frame is 8 m away and 16 m wide,
#: the line y=150 px is 45 m away and 40 m wide.
CAMERA_LONLAT = (105.7760, 19.8070)


def vtest_homography() -> dict:
    """``cameras.homography`` JSON for vtest.avi (see CAMERA_LONLAT)."""
    import numpy as np

    from gis.grid import to_lonlat, to_utm
    from gis.homography import Homography

    cx, cy = to_utm(np.array([CAMERA_LONLAT[0]]), np.array([CAMERA_LONLAT[1]]))
    image = [(0, 576), (768, 576), (668, 150), (100, 150)]
    ground_m = [(-8, 8), (8, 8), (20, 45), (-20, 45)]
    lon, lat = to_lonlat(np.array([cx[0] + e for e, _ in ground_m]),
                         np.array([cy[0] + n for _, n in ground_m]))
    return Homography.fit(image, list(zip(lon, lat))).to_json()


def vtest_camera(url: str, cam_id: str = "cam-vtest", **extra) -> dict:
    """A camera mapping for vtest.avi (file or stream) with intrusion and crowd rules."""
    cam = {"id": cam_id, "name": "Quảng trường (vtest)", "stream_url": str(url),
           "lon": CAMERA_LONLAT[0], "lat": CAMERA_LONLAT[1], "sample_fps": 2,
           "homography": vtest_homography(), "range_m": 80,
           "rules": [
               {"id": "lawn", "kind": "intrusion", "cooldown_s": 30,
                "polygon": [[0, 250], [768, 250], [768, 576], [0, 576]]},
               {"id": "crowd", "kind": "crowd_density", "threshold_per_m2": 0.002,
                "sample_every_s": 5, "cooldown_s": 20},
               {"id": "people", "kind": "person_count", "every_s": 5},
           ]}
    cam.update(extra)
    return cam


REPO = Path(__file__).resolve().parent.parent.parent


class RtspServer:
    """scripts/rtsp_server.py under the system Python, serving one file on 127.0.0.1."""

    def __init__(self, video: Path, port: int) -> None:
        self.video, self.port = video, port
        self.url = f"rtsp://127.0.0.1:{port}/cam"
        self.proc = None

    def start(self) -> None:
        import subprocess
        import time

        self.proc = subprocess.Popen(
            ["/usr/bin/python3", str(REPO / "scripts" / "rtsp_server.py"), str(self.video),
             "--port", str(self.port), "--loop"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            self.proc.kill()
            raise RuntimeError(f"RTSP server did not start: {line}{self.proc.stdout.read()}")
        time.sleep(0.3)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc.stdout.close()
            self.proc = None


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def rtsp_server(vtest):
    """A real RTSP server looping vtest.avi; the test may stop() and start() it again."""
    import subprocess

    probe = subprocess.run(["/usr/bin/python3", "-c", "import gi; gi.require_version("
                            "'GstRtspServer', '1.0'); from gi.repository import "
                            "GstRtspServer"], capture_output=True)
    if probe.returncode:
        pytest.skip("GStreamer RTSP server missing: apt-get install gir1.2-gst-rtsp-server-1.0"
                    " python3-gst-1.0 (scripts/apt-packages.txt)")
    server = RtspServer(vtest, _free_port())
    server.start()
    yield server
    server.stop()


def register(conn, cams: list[dict]) -> None:
    """Put camera mappings (vtest_camera style) into the registry."""
    from store.registry import Camera, upsert_cameras

    keys = {"id", "name", "lon", "lat", "stream_url", "homography", "range_m"}
    rows = [Camera(**{k: v for k, v in c.items() if k in keys},
                   config={k: v for k, v in c.items() if k not in keys}) for c in cams]
    upsert_cameras(conn, rows)
    conn.commit()


#: The H.264 clip made from vtest.avi: like a camera's stream (no B-frames).
CLIP_FPS, CLIP_GOP, CLIP_FRAMES = 25, 25, 150


@pytest.fixture(scope="session")
def h264_clip(vtest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 s of vtest.avi as 640×360 H.264 at 25 fps with a keyframe every 25 frames (1 s),
    encoded once per session with PyAV's libx264."""
    from fractions import Fraction

    import av

    out = tmp_path_factory.mktemp("media") / "vtest-h264-gop25.mp4"
    with av.open(str(vtest)) as src, av.open(str(out), "w") as dst:
        stream = dst.add_stream("libx264", rate=CLIP_FPS, options={
            "g": str(CLIP_GOP), "keyint_min": str(CLIP_GOP), "sc_threshold": "0",
            "bf": "0", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for n, frame in enumerate(src.decode(video=0)):
            if n == CLIP_FRAMES:
                break
            image = frame.reformat(640, 360, "yuv420p")
            image.pts, image.time_base = n, Fraction(1, CLIP_FPS)
            dst.mux(stream.encode(image))
        dst.mux(stream.encode(None))
    return out
