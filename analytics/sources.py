"""Camera sources: video files, RTSP (TCP or UDP) and HTTP MJPEG streams.

A source hands out *sampled* frames at the camera's ``sample_fps`` with two clocks:
``t`` (media seconds, monotonic, what rules measure dwell and cooldown in) and ``ts``
(wall-clock UTC, the event time). Files are read synchronously (every sampled frame is
analysed, none dropped: deterministic for tests and benchmarks), optionally looping.
Live streams are read by a thread that keeps only the newest frame: frames the analysis
has no time for are dropped and counted. A lost stream is reopened with backoff.

Decoding goes through PyAV (analytics/sources_av.py: keyframes only when the camera
samples at or below its keyframe rate, colour conversion only for sampled frames); a URL
PyAV cannot open is read with OpenCV's FFmpeg backend, which decodes every frame. The
camera's ``analysis_url`` (its sub-stream), when set, is read instead of ``stream_url``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

from analytics.config import CameraConfig
from analytics.sources_av import (ALL_FRAMES, AV_ERRORS, CANNOT_READ, AvDecoder, Sampler,
                                  probe_keyframe_interval)

log = logging.getLogger(__name__)

_OPEN_LOCK = threading.Lock()  # OPENCV_FFMPEG_CAPTURE_OPTIONS is read at open time


@dataclass(frozen=True)
class Frame:
    """One sampled frame."""

    image: np.ndarray
    t: float            # media seconds (file position, or monotonic clock for streams)
    ts: datetime        # wall-clock time, UTC
    index: int          # frame number in the source (since the source was opened)


@dataclass
class SourceStats:
    """Counters a worker reports in its heartbeat."""

    frames_read: int = 0          # frames received (packets of the video stream)
    frames_decoded: int = 0       # frames the decoder produced
    frames_converted: int = 0     # frames converted to BGR (only sampled ones)
    frames_sampled: int = 0       # frames handed to the analysis
    frames_dropped: int = 0
    reconnects: int = 0
    connected: bool = False
    last_frame_at: float | None = field(default=None)  # time.monotonic()
    decode_mode: str = ""         # "keyframes" or "all frames"
    keyframe_interval_s: float | None = None
    decode_cpu_s: float = 0.0     # reader thread CPU in decode and colour conversion
    decoder: str = ""             # "pyav" or "opencv"


class SourceError(RuntimeError):
    """A source that cannot be opened at all (a missing file)."""


def open_capture(url: str, transport: str = "tcp", timeout_ms: int = 5000) -> cv2.VideoCapture:
    """An OpenCV FFmpeg capture for a file, rtsp:// or http(s):// URL (may be unopened)."""
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC,
              timeout_ms]
    with _OPEN_LOCK:
        old = os.environ.get("OPENCV_FFMPEG_CAPTURE_OPTIONS")
        if url.startswith("rtsp"):
            os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = f"rtsp_transport;{transport}"
        try:
            return cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
        finally:
            if old is None:
                os.environ.pop("OPENCV_FFMPEG_CAPTURE_OPTIONS", None)
            else:
                os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = old


def is_stream(url: str) -> bool:
    """True for network streams (read live), False for files."""
    return url.split("://", 1)[0].lower() in ("rtsp", "rtsps", "http", "https", "rtmp", "udp")


def analysis_url(cam: CameraConfig) -> str:
    """The URL the analysis reads: the sub-stream when the camera names one."""
    return cam.analysis_url or cam.stream_url


class CvDecoder:
    """OpenCV's reader behind the same interface as :class:`AvDecoder`: it grabs (and so
    decodes) every frame and converts the sampled ones."""

    mode = ALL_FRAMES
    keyframe_interval = None

    def __init__(self, url: str, stats: SourceStats, sample_fps: float, *,
                 transport: str = "tcp", live: bool = False) -> None:
        self.cap = open_capture(url, transport)
        if not self.cap.isOpened():
            self.cap.release()
            raise SourceError(f"{url!r}: OpenCV cannot open it")
        self.fps = self.cap.get(cv2.CAP_PROP_FPS) or 25.0
        self.stats, self.live = stats, live
        self.sampler = Sampler(sample_fps, 0.5 / self.fps)
        self.last_t = 0.0
        self.stop: threading.Event | None = None   # ends samples() early
        stats.decode_mode = ALL_FRAMES

    def samples(self) -> Iterator[tuple[float, np.ndarray]]:
        """The sampled frames to the end of the stream (wall clock for live streams)."""
        n = 0
        while self.stop is None or not self.stop.is_set():
            start = time.thread_time()
            ok = self.cap.grab()
            self.stats.decode_cpu_s += time.thread_time() - start
            if not ok:
                return
            t = time.monotonic() if self.live else n / self.fps
            n += 1
            self.last_t = t
            self.stats.frames_read += 1
            self.stats.frames_decoded += 1
            self.stats.last_frame_at = time.monotonic()
            if not self.sampler.due(t):
                continue
            start = time.thread_time()
            ok, image = self.cap.retrieve()
            self.stats.decode_cpu_s += time.thread_time() - start
            if not ok:
                return
            self.stats.frames_converted += 1
            self.sampler.take(t)
            yield t, image

    def close(self) -> None:
        """Release the capture."""
        self.cap.release()


def open_decoder(cam: CameraConfig, stats: SourceStats, *, live: bool,
                 keyframe_interval: float | None = None) -> AvDecoder | CvDecoder:
    """PyAV for the camera's analysis URL, OpenCV where PyAV cannot open it (or where the
    camera's ``decoder`` says so). Raises SourceError when neither can."""
    url = analysis_url(cam).removeprefix("file://")
    if cam.decoder != "opencv":
        options = {"rtsp_transport": cam.rtsp_transport} if url.startswith("rtsp") else {}
        try:
            if not live and keyframe_interval is None:
                keyframe_interval = probe_keyframe_interval(url)
            decoder = AvDecoder(url, stats, cam.sample_fps, threads=cam.decoder_threads,
                                options=options, timeout=(5.0, 5.0) if live else None,
                                keyframe_interval=keyframe_interval)
            stats.decoder = "pyav"
            if decoder.keyframe_interval is not None:
                stats.keyframe_interval_s = round(decoder.keyframe_interval, 3)
            return decoder
        except AV_ERRORS as exc:
            if cam.decoder == "pyav":
                raise SourceError(f"{url!r}: PyAV cannot open it ({exc})") from None
            if live and not isinstance(exc, CANNOT_READ):
                # Refused, timed out, reset: the camera is not reachable now. Retry (the
                # caller backs off) rather than settle for OpenCV for good.
                raise SourceError(f"{url!r}: not reachable now ({exc})") from None
            log.info("camera %s: PyAV cannot open %s (%s); trying OpenCV", cam.id, url, exc)
    decoder = CvDecoder(url, stats, cam.sample_fps, transport=cam.rtsp_transport, live=live)
    stats.decoder = "opencv"
    return decoder


class FileSource:
    """A video file read synchronously; the frames due at ``sample_fps`` are handed out."""

    def __init__(self, cam: CameraConfig) -> None:
        self.cam = cam
        field_name = "analysis_url" if cam.analysis_url else "stream_url"
        url = analysis_url(cam)
        self.path = url.removeprefix("file://")
        if not Path(self.path).is_file():
            raise SourceError(f"camera {cam.id}: {field_name}={url!r}: no such file")
        self.stats = SourceStats()
        try:
            self._decoder = open_decoder(cam, self.stats, live=False)
        except SourceError:
            raise SourceError(f"camera {cam.id}: {field_name}={url!r}: "
                              "neither PyAV nor OpenCV can read this file") from None
        self.fps = self._decoder.fps
        self.step = max(1, round(self.fps / cam.sample_fps))  # frames per sample
        self._samples = self._decoder.samples()
        self.stats.connected = True
        self._pass_frames = 0  # frames handed out in the current pass
        self._offset = 0.0     # media seconds of earlier passes (looping)
        self._started = time.monotonic()
        self.ended = False

    def _next(self) -> tuple[float, np.ndarray] | None:
        try:
            return next(self._samples, None)
        except AV_ERRORS as exc:
            log.warning("camera %s: %s: read error (%s)", self.cam.id, self.path, exc)
            return None

    def read(self, timeout: float = 0.0) -> Frame | None:
        """The next sampled frame, or None at the end of a non-looping file."""
        while not self.ended:
            item = self._next()
            if item is None:
                if not self.cam.loop or self._pass_frames == 0:
                    self.ended = True
                    self.stats.connected = False
                    return None
                self._offset += self._decoder.last_t + 1.0 / self.fps
                self._pass_frames = 0
                interval = self._decoder.keyframe_interval
                self._decoder.close()
                self._decoder = open_decoder(self.cam, self.stats, live=False,
                                             keyframe_interval=interval)
                self._samples = self._decoder.samples()
                continue
            self._pass_frames += 1
            t = self._offset + item[0]
            if self.cam.realtime:
                delay = self._started + t - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            self.stats.frames_sampled += 1
            self.stats.last_frame_at = time.monotonic()
            return Frame(item[1], t, datetime.now(timezone.utc), self.stats.frames_read)
        return None

    def close(self) -> None:
        """Release the file."""
        self._decoder.close()


class StreamSource:
    """A live stream read by a thread that keeps the newest frame; reconnects with backoff."""

    def __init__(self, cam: CameraConfig, backoff: tuple[float, float] = (0.5, 10.0)) -> None:
        self.cam = cam
        self.url = analysis_url(cam)
        self.stats = SourceStats()
        self.backoff = backoff
        self.ended = False
        self._latest: Frame | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"source-{cam.id}",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        delay = self.backoff[0]
        while not self._stop.is_set():
            try:
                decoder = open_decoder(self.cam, self.stats, live=True)
            except SourceError:
                log.info("camera %s: cannot open %s; retry in %.1fs", self.cam.id,
                         self.url, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self.backoff[1])
                self.stats.reconnects += 1
                continue
            self.stats.connected = True
            delay = self.backoff[0]
            log.info("camera %s: connected to %s (%s)", self.cam.id, self.url,
                     self.stats.decoder)
            try:
                self._pump(decoder)
            except AV_ERRORS as exc:
                log.info("camera %s: read error: %s", self.cam.id, exc)
            finally:
                decoder.close()
            self.stats.connected = False
            if not self._stop.is_set():
                log.warning("camera %s: stream lost; reconnecting", self.cam.id)
                self.stats.reconnects += 1
                self._stop.wait(delay)

    def _pump(self, decoder: AvDecoder | CvDecoder) -> None:
        """Hand out the decoder's sampled frames until the stream ends or the source stops."""
        decoder.stop = self._stop
        for _, image in decoder.samples():
            now = time.monotonic()
            with self._cond:
                if self._latest is not None:
                    self.stats.frames_dropped += 1
                self._latest = Frame(image, now, datetime.now(timezone.utc),
                                     self.stats.frames_read)
                self._cond.notify_all()

    def read(self, timeout: float = 1.0) -> Frame | None:
        """The newest sampled frame not yet handed out, waiting up to ``timeout`` seconds."""
        with self._cond:
            if self._latest is None:
                self._cond.wait(timeout)
            frame, self._latest = self._latest, None
        if frame is not None:
            self.stats.frames_sampled += 1
        return frame

    def close(self) -> None:
        """Stop the reader thread."""
        self._stop.set()
        self._thread.join(timeout=10)


def open_source(cam: CameraConfig) -> FileSource | StreamSource:
    """The right reader for the camera's analysis URL (``analysis_url`` or ``stream_url``)."""
    return StreamSource(cam) if is_stream(analysis_url(cam)) else FileSource(cam)
