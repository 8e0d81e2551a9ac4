"""Sources: file sampling and looping, keyframes-only decoding of H.264, the sub-stream,
the OpenCV fallback, a real HTTP MJPEG stream and a real RTSP stream."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import pytest

from analytics.config import parse_camera
from analytics.sources import FileSource, StreamSource, open_source
from tests.analytics.conftest import CLIP_FRAMES, CLIP_GOP
from tests.polling import poll_until


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
    assert src.stats.decoder == "pyav"  # FFmpeg's mpjpeg demuxer; OpenCV is the fallback
    assert frames[0].image.shape == (576, 768, 3)
    assert all(b.t > a.t for a, b in zip(frames, frames[1:]))
    assert src.stats.frames_read >= 5


def _read_all(src, limit=1000):
    frames = []
    while len(frames) < limit:
        f = src.read()
        if f is None:
            break
        frames.append(f)
    src.close()
    return frames


def _keyframe_times(path):
    """Media times of the clip's keyframes, from its packets (nothing decoded)."""
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [float(p.pts * p.time_base) for p in c.demux(s)
                if p.is_keyframe and p.pts is not None]


def test_keyframes_only_at_or_below_the_keyframe_rate(h264_clip):
    keys = _keyframe_times(h264_clip)
    assert keys == pytest.approx([0, 1, 2, 3, 4, 5])  # GOP of 25 frames at 25 fps
    src = open_source(_cam(h264_clip, sample_fps=1))
    frames = _read_all(src)
    st = src.stats
    assert (st.decoder, st.decode_mode, st.keyframe_interval_s) == ("pyav", "keyframes", 1.0)
    assert [f.t for f in frames] == pytest.approx(keys)  # only keyframes handed out
    assert frames[0].image.shape == (360, 640, 3)
    assert st.frames_read == CLIP_FRAMES
    assert st.frames_decoded == st.frames_converted == len(keys)  # 6 of 150 decoded
    # half the keyframe rate: every other keyframe is decoded, the rest not even that
    src = open_source(_cam(h264_clip, sample_fps=0.5))
    frames = _read_all(src)
    assert [f.t for f in frames] == pytest.approx([0, 2, 4])
    assert src.stats.frames_decoded == 3


def test_all_frames_decoded_above_the_keyframe_rate_only_sampled_converted(h264_clip):
    src = open_source(_cam(h264_clip, sample_fps=5))
    frames = _read_all(src)
    st = src.stats
    assert st.decode_mode == "all frames"
    assert st.frames_decoded == CLIP_FRAMES
    assert [f.t for f in frames] == pytest.approx([i / 5 for i in range(30)])
    assert st.frames_converted == st.frames_sampled == 30
    assert st.decode_cpu_s > 0


def test_a_stream_learns_its_keyframe_interval_and_switches_to_keyframes(h264_clip):
    from analytics.sources import SourceStats
    from analytics.sources_av import AvDecoder

    stats = SourceStats()
    decoder = AvDecoder(str(h264_clip), stats, 1.0)  # as a live stream: nothing probed
    assert decoder.mode == "all frames"
    times = [t for t, _ in decoder.samples()]
    decoder.close()
    assert times == pytest.approx([0, 1, 2, 3, 4, 5])
    assert stats.decode_mode == "keyframes" and stats.keyframe_interval_s == 1.0
    assert stats.frames_decoded == CLIP_GOP + 5  # the first GOP whole, then keyframes


def test_looping_keyframe_file_keeps_media_time_monotonic(h264_clip):
    src = open_source(_cam(h264_clip, sample_fps=1, loop=True))
    times = [src.read().t for _ in range(14)]
    src.close()
    assert times == pytest.approx(list(range(14)))  # 6 s passes back to back
    assert src.stats.decode_mode == "keyframes"


def test_analysis_reads_the_sub_stream(h264_clip, vtest):
    from analytics.config import camera_from_row

    # the main stream is a camera nobody can reach; the analysis reads the sub-stream
    cam = camera_from_row({"id": "sub", "stream_url": "rtsp://127.0.0.1:9/main",
                           "lon": 105.8, "lat": 19.8,
                           "config": {"analysis_url": str(h264_clip), "sample_fps": 1}})
    assert cam.analysis_url == str(h264_clip)
    src = open_source(cam)
    assert isinstance(src, FileSource)
    frames = _read_all(src)
    assert len(frames) == 6 and frames[0].image.shape == (360, 640, 3)
    plain = open_source(_cam(vtest, sample_fps=1))
    assert plain.read().image.shape == (576, 768, 3)  # without one: stream_url
    plain.close()


def test_missing_sub_stream_file_names_the_field(tmp_path):
    from analytics.sources import SourceError

    with pytest.raises(SourceError, match="analysis_url="):
        open_source(_cam(tmp_path / "main.mp4", analysis_url=str(tmp_path / "sub.mp4")))


def test_opencv_decoder_decodes_every_frame(h264_clip):
    src = open_source(_cam(h264_clip, sample_fps=1, decoder="opencv"))
    frames = _read_all(src)
    st = src.stats
    assert (st.decoder, st.decode_mode) == ("opencv", "all frames")
    assert len(frames) == 6 and st.frames_decoded == CLIP_FRAMES


@pytest.mark.parametrize("interval, sample_fps, keyframes", [
    (1.0, 1.0, True), (1.1, 1.0, True),      # a jittery 1 s GOP stays keyframes-only
    (1.3, 1.0, False), (2.0, 1.0, False),    # too sparse: decode every frame
    (2.0, 0.5, True), (1.0, 5.0, False), (None, 1.0, False)])
def test_keyframes_mode_tolerates_a_jittery_keyframe_interval(interval, sample_fps,
                                                                keyframes):
    from analytics.sources_av import wants_keyframes
    assert wants_keyframes(interval, sample_fps) is keyframes


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_rtsp_stream_through_pyav(rtsp_server, transport):
    # the test server sends a keyframe every second (10 fps, key-int-max=10) when it keeps
    # up; its encoder drops frames on a busy machine, so sample every 2 s
    src = open_source(_cam(rtsp_server.url, sample_fps=0.5, rtsp_transport=transport))
    assert isinstance(src, StreamSource)
    try:
        frames = []
        deadline = time.monotonic() + 60
        while len(frames) < 3 and time.monotonic() < deadline:
            f = src.read(timeout=1.0)
            if f is not None:
                frames.append(f)
        poll_until(lambda: src.stats.decode_mode == "keyframes", "keyframes mode", 60)
    finally:
        src.close()
    assert len(frames) == 3 and frames[0].image.shape == (576, 768, 3)
    assert src.stats.decoder == "pyav"
    assert 0.9 <= src.stats.keyframe_interval_s <= 2.5
    assert src.stats.frames_decoded < src.stats.frames_read


@pytest.fixture
def gop_grows_clip(vtest, tmp_path):
    """8 s of 320×240 H.264 at 25 fps with keyframes at 0, 1, 2, 3 and 6 s."""
    from fractions import Fraction

    import av
    from av.video.frame import PictureType

    out = tmp_path / "gop-grows.mp4"
    with av.open(str(vtest)) as src, av.open(str(out), "w") as dst:
        stream = dst.add_stream("libx264", rate=25, options={
            "g": "250", "sc_threshold": "0", "bf": "0", "forced-idr": "1",
            "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for n, frame in enumerate(src.decode(video=0)):
            if n == 200:
                break
            image = frame.reformat(320, 240, "yuv420p")
            image.pts, image.time_base = n, Fraction(1, 25)
            if n in (0, 25, 50, 75, 150):
                image.pict_type = PictureType.I
            dst.mux(stream.encode(image))
        dst.mux(stream.encode(None))
    assert _keyframe_times(out) == pytest.approx([0, 1, 2, 3, 6])
    return out


def test_a_camera_not_reachable_now_is_retried_not_handed_to_opencv(caplog):
    """A refused (or timed-out) connection says nothing about whether PyAV can read the
    camera: the source retries with PyAV instead of settling for OpenCV, which decodes
    every frame, for good (under load a slow first answer did exactly that)."""
    import logging

    from analytics.sources import SourceError, SourceStats, open_decoder
    caplog.set_level(logging.INFO, logger="analytics.sources")
    stats = SourceStats()
    cam = _cam("rtsp://127.0.0.1:9/cam", sample_fps=1)   # nothing listens on port 9
    with pytest.raises(SourceError, match="not reachable now"):
        open_decoder(cam, stats, live=True)
    assert stats.decoder == "" and "trying OpenCV" not in caplog.text


def test_a_longer_keyframe_interval_switches_back_to_all_frames(gop_grows_clip):
    from analytics.sources import SourceStats
    from analytics.sources_av import AvDecoder

    stats = SourceStats()
    decoder = AvDecoder(str(gop_grows_clip), stats, 1.0)
    times = [t for t, _ in decoder.samples()]
    decoder.close()
    # 4 and 5 s fall inside the 3-s GOP that keyframes mode skipped: the mode follows
    # the interval once it is seen, from that keyframe on
    assert times == pytest.approx([0, 1, 2, 3, 6, 7])
    assert stats.decode_mode == "all frames" and stats.keyframe_interval_s == 3.0
    assert stats.frames_decoded == 25 + 3 + 50
