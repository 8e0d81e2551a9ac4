"""Camera sources: OpenCV readers for video files, RTSP (TCP or UDP) and HTTP MJPEG.

A source hands out *sampled* frames at the camera's ``sample_fps`` with two clocks:
``t`` (media seconds, monotonic, what rules measure dwell and cooldown in) and ``ts``
(wall-clock UTC, the event time). Files are read synchronously (every sampled frame is
analysed, none dropped: deterministic for tests and benchmarks), optionally looping.
Live streams are read by a thread that keeps only the newest frame: frames the analysis
has no time for are dropped and counted. A lost stream is reopened with backoff.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

from analytics.config import CameraConfig

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

    frames_read: int = 0
    frames_sampled: int = 0
    frames_dropped: int = 0
    reconnects: int = 0
    connected: bool = False
    last_frame_at: float | None = field(default=None)  # time.monotonic()


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


class FileSource:
    """A video file read frame by frame; every ``step``-th frame is handed out."""

    def __init__(self, cam: CameraConfig) -> None:
        self.cam = cam
        self.path = cam.stream_url.removeprefix("file://")
        if not Path(self.path).is_file():
            raise SourceError(f"camera {cam.id}: stream_url={cam.stream_url!r}: no such file")
        self.stats = SourceStats()
        self.cap = open_capture(self.path)
        if not self.cap.isOpened():
            raise SourceError(f"camera {cam.id}: stream_url={cam.stream_url!r}: "
                              "OpenCV cannot read this file")
        self.fps = self.cap.get(cv2.CAP_PROP_FPS) or 25.0
        self.step = max(1, round(self.fps / cam.sample_fps))
        self.stats.connected = True
        self._pos = 0          # frames read in the current pass
        self._offset = 0.0     # media seconds of earlier passes (looping)
        self._index = 0
        self._started = time.monotonic()
        self.ended = False

    def read(self, timeout: float = 0.0) -> Frame | None:
        """The next sampled frame, or None at the end of a non-looping file."""
        while not self.ended:
            if self._pos % self.step:
                ok = self.cap.grab()
                image = None
            else:
                ok, image = self.cap.read()
            if not ok:
                if not self.cam.loop or self._pos == 0:
                    self.ended = True
                    self.stats.connected = False
                    return None
                self._offset += self._pos / self.fps
                self._pos = 0
                self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                continue
            self._pos += 1
            self._index += 1
            self.stats.frames_read += 1
            if image is None:
                continue
            t = self._offset + (self._pos - 1) / self.fps
            if self.cam.realtime:
                delay = self._started + t - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            self.stats.frames_sampled += 1
            self.stats.last_frame_at = time.monotonic()
            return Frame(image, t, datetime.now(timezone.utc), self._index)
        return None

    def close(self) -> None:
        """Release the file."""
        self.cap.release()


class StreamSource:
    """A live stream read by a thread that keeps the newest frame; reconnects with backoff."""

    def __init__(self, cam: CameraConfig, backoff: tuple[float, float] = (0.5, 10.0)) -> None:
        self.cam = cam
        self.stats = SourceStats()
        self.backoff = backoff
        self.ended = False
        self._latest: Frame | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._next_sample = 0.0
        self._thread = threading.Thread(target=self._run, name=f"source-{cam.id}",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        delay = self.backoff[0]
        index = 0
        while not self._stop.is_set():
            cap = open_capture(self.cam.stream_url, self.cam.rtsp_transport)
            if not cap.isOpened():
                cap.release()
                log.info("camera %s: cannot open %s; retry in %.1fs", self.cam.id,
                         self.cam.stream_url, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self.backoff[1])
                self.stats.reconnects += 1
                continue
            self.stats.connected = True
            delay = self.backoff[0]
            log.info("camera %s: connected to %s", self.cam.id, self.cam.stream_url)
            while not self._stop.is_set():
                ok = cap.grab()
                if not ok:
                    break
                index += 1
                self.stats.frames_read += 1
                now = time.monotonic()
                self.stats.last_frame_at = now
                if now < self._next_sample:
                    continue
                ok, image = cap.retrieve()
                if not ok:
                    break
                self._next_sample = now + 1.0 / self.cam.sample_fps
                with self._cond:
                    if self._latest is not None:
                        self.stats.frames_dropped += 1
                    self._latest = Frame(image, now, datetime.now(timezone.utc), index)
                    self._cond.notify_all()
            cap.release()
            self.stats.connected = False
            if not self._stop.is_set():
                log.warning("camera %s: stream lost; reconnecting", self.cam.id)
                self.stats.reconnects += 1
                self._stop.wait(delay)

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
    """The right reader for the camera's ``stream_url``."""
    return StreamSource(cam) if is_stream(cam.stream_url) else FileSource(cam)
