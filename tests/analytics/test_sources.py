"""Sources: file sampling and looping, and a real HTTP MJPEG stream."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import pytest

from analytics.config import parse_camera
from analytics.sources import FileSource, StreamSource, open_source


def _cam(url, **kw):
    return parse_camera({"id": "s", "stream_url": str(url), "lon": 105.8, "lat": 19.8, **kw})


def test_file_sampling_and_loop(vtest):
    src = open_source(_cam(vtest, sample_fps=2))
    assert isinstance(src, FileSource) and src.step == 5
    first = [src.read() for _ in range(3)]
    assert [f.t for f in first] == pytest.approx([0.0, 0.5, 1.0])
    assert first[0].image.shape == (576, 768, 3)
    src.close()
    looping = open_source(_cam(vtest, sample_fps=0.25, loop=True))
    times = [looping.read().t for _ in range(25)]  # 80 s clip, one frame every 4 s
    looping.close()
    assert times == sorted(times) and times[-1] > 90  # past the end: looped


@pytest.fixture
def mjpeg_server(vtest):
    """A real HTTP server sending vtest.avi as multipart JPEG (what many IP cameras do)."""
    cap = cv2.VideoCapture(str(vtest))
    jpegs = []
    for _ in range(30):
        ok, frame = cap.read()
        jpegs.append(cv2.imencode(".jpg", frame)[1].tobytes())
    cap.release()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            try:
                for i in range(300):
                    data = jpegs[i % len(jpegs)]
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n"
                                     + f"Content-Length: {len(data)}\r\n\r\n".encode()
                                     + data + b"\r\n")
                    time.sleep(0.05)
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/video.mjpg"
    server.shutdown()
    server.server_close()


def test_http_mjpeg_stream(mjpeg_server):
    src = open_source(_cam(mjpeg_server, sample_fps=5))
    assert isinstance(src, StreamSource)
    try:
        frames = []
        deadline = time.monotonic() + 20
        while len(frames) < 5 and time.monotonic() < deadline:
            f = src.read(timeout=1.0)
            if f is not None:
                frames.append(f)
    finally:
        src.close()
    assert len(frames) == 5
    assert frames[0].image.shape == (576, 768, 3)
    assert all(b.t > a.t for a, b in zip(frames, frames[1:]))
    assert src.stats.frames_read >= 5
