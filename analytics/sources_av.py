"""PyAV decoding that decodes only what is analysed.

A camera sampled at or below its keyframe rate (``sample_fps`` ≤ 1 / keyframe interval)
runs in *keyframes* mode: non-key packets never reach the decoder (which also has
``skip_frame = "NONKEY"``), and a keyframe is decoded only when a sample is due. Above the
keyframe rate it runs in *all frames* mode: every packet is decoded (P-frames need their
references) but only the sampled frames are converted to BGR. The keyframe interval is
learnt from the packets' ``is_keyframe`` and ``pts`` (files probe it before the first
frame; live streams learn it from their first two keyframes) and the mode follows it.
Sampling runs on media time (``pts``), so a one-second GOP sampled at 1 fps hands out
every keyframe.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

import av
import numpy as np

log = logging.getLogger(__name__)

KEYFRAMES = "keyframes"
ALL_FRAMES = "all frames"

#: Exceptions PyAV raises for a source it cannot open or read.
AV_ERRORS: tuple[type[BaseException], ...] = (av.FFmpegError, OSError)
#: Of those, the ones that say PyAV cannot read this source at all (an unknown protocol,
#: container or codec, data it does not understand), as opposed to a camera that is not
#: reachable just now (refused, timed out, reset), which is worth another try.
CANNOT_READ: tuple[type[BaseException], ...] = (
    av.error.ProtocolNotFoundError, av.error.DemuxerNotFoundError,
    av.error.DecoderNotFoundError, av.error.InvalidDataError, av.error.PatchWelcomeError,
    av.error.OptionNotFoundError, NotImplementedError)


class Sampler:
    """Decides on media time which frames are analysed: one per ``1 / sample_fps``
    seconds, with ``slack`` (half a frame) so a frame on the grid is never missed."""

    def __init__(self, sample_fps: float, slack: float) -> None:
        self.period = 1.0 / sample_fps
        self.slack = slack
        self.next_t: float | None = None

    def due(self, t: float) -> bool:
        """True when a frame at media time ``t`` should be analysed."""
        return self.next_t is None or t >= self.next_t - self.slack

    def take(self, t: float) -> None:
        """A frame at ``t`` was analysed: the next one is due a period later."""
        self.next_t = t + self.period


#: Keyframes-only decoding is kept while the keyframe interval is at most this many sample
#: periods: live streams jitter (a camera dropping frames in low light or under load
#: stretches its GOP in seconds), and analysing at 0.8× the asked rate costs far less
#: than decoding every frame again.
KEYFRAME_TOLERANCE = 1.25


def wants_keyframes(interval: float | None, sample_fps: float) -> bool:
    """Keyframes-only decoding is enough when the camera samples at or below its
    keyframe rate (within :data:`KEYFRAME_TOLERANCE`)."""
    return interval is not None and interval <= KEYFRAME_TOLERANCE / sample_fps + 1e-3


class AvDecoder:
    """One opened container: yields ``(media seconds, BGR image)`` for sampled frames and
    keeps the source's counters (``stats``: frames_read/decoded, decode_cpu_s, mode)."""

    def __init__(self, url: str, stats: Any, sample_fps: float, *, threads: int = 1,
                 options: dict[str, str] | None = None,
                 timeout: tuple[float, float] | None = None,
                 keyframe_interval: float | None = None) -> None:
        self.container = av.open(url, options=options or {}, timeout=timeout)
        try:
            self.stream = self.container.streams.video[0]
        except IndexError:
            self.container.close()
            raise av.InvalidDataError(0, "no video stream") from None
        self.stream.codec_context.thread_count = threads
        self.stream.codec_context.thread_type = "AUTO"
        rate = self.stream.average_rate or self.stream.guessed_rate
        self.fps = float(rate) if rate else 25.0
        self.stats = stats
        self.sampler = Sampler(sample_fps, 0.5 / self.fps)
        self._base = float(self.stream.start_time * self.stream.time_base) \
            if self.stream.start_time is not None else None
        self._intervals: deque[float] = deque(maxlen=8)
        if keyframe_interval is not None:
            self._intervals.append(keyframe_interval)
        self._last_key: float | None = None
        self._need_key = True      # the decoder starts (and restarts) at a keyframe
        self._count = 0
        self.last_t = 0.0          # media seconds of the latest packet
        self.mode = ""
        self.stop: Any = None      # a threading.Event that ends samples() early
        self._set_mode(KEYFRAMES if wants_keyframes(keyframe_interval, sample_fps)
                       else ALL_FRAMES)

    @property
    def keyframe_interval(self) -> float | None:
        """The longest of the recent keyframe intervals, seconds (None: not seen yet)."""
        return max(self._intervals) if self._intervals else None

    def _set_mode(self, mode: str) -> None:
        if mode == self.mode:
            return
        if self.mode:
            log.info("decoder: keyframe interval %.2fs, sample period %.2fs: %s",
                     self.keyframe_interval, self.sampler.period, mode)
        self.mode = mode
        self.stream.codec_context.skip_frame = "NONKEY" if mode == KEYFRAMES else "DEFAULT"
        self._need_key = True
        self.stats.decode_mode = mode

    def _time(self, pts: int | None, time_base: Any) -> float:
        if pts is None or time_base is None:
            return self._count / self.fps
        t = float(pts * time_base)
        if self._base is None:
            self._base = t
        return t - self._base

    def _learn(self, t: float) -> None:
        """A keyframe packet at media time ``t``: update the interval and the mode."""
        if self._last_key is not None and t > self._last_key:
            self._intervals.append(t - self._last_key)
            self.stats.keyframe_interval_s = round(self.keyframe_interval, 3)
            self._set_mode(KEYFRAMES if wants_keyframes(self.keyframe_interval,
                                                        1.0 / self.sampler.period)
                           else ALL_FRAMES)
        self._last_key = t

    def samples(self) -> Iterator[tuple[float, np.ndarray]]:
        """The sampled frames to the end of the stream (raises AV_ERRORS on a read error)."""
        for packet in self.container.demux(self.stream):
            if self.stop is not None and self.stop.is_set():
                return
            if packet.size == 0:          # end of stream: flush what the decoder holds
                yield from self._decode(packet)
                continue
            t = self._time(packet.pts, packet.time_base)
            self._count += 1
            self.last_t = max(self.last_t, t)
            self.stats.frames_read += 1
            self.stats.last_frame_at = time.monotonic()
            if packet.is_keyframe:
                self._learn(t)
            if self.mode == KEYFRAMES and not (packet.is_keyframe and self.sampler.due(t)):
                continue
            if self._need_key and not packet.is_keyframe:
                continue
            self._need_key = False
            yield from self._decode(packet)

    def _decode(self, packet: av.Packet) -> Iterator[tuple[float, np.ndarray]]:
        start = time.thread_time()
        try:
            frames = self.stream.codec_context.decode(packet)
        except av.InvalidDataError:       # a corrupt packet: skip it, as ffmpeg does
            log.debug("decoder: corrupt packet skipped")
            frames = []
        cpu = time.thread_time() - start
        for frame in frames:
            self.stats.frames_decoded += 1
            t = self._time(frame.pts, frame.time_base)
            if not self.sampler.due(t):
                continue
            self.sampler.take(t)
            start = time.thread_time()
            image = frame.to_ndarray(format="bgr24")
            self.stats.frames_converted += 1
            cpu += time.thread_time() - start
            self.stats.decode_cpu_s += cpu
            cpu = 0.0
            yield t, image
        self.stats.decode_cpu_s += cpu

    def close(self) -> None:
        """Close the container (and its network connection)."""
        self.container.close()


def probe_keyframe_interval(url: str, max_packets: int = 500) -> float | None:
    """The longest interval between the first three keyframes of a file, seconds, read
    from packets only (nothing decoded); None when fewer than two keyframes come."""
    keys: list[float] = []
    with av.open(url) as container:
        if not container.streams.video:
            return None
        stream = container.streams.video[0]
        for n, packet in enumerate(container.demux(stream)):
            if n >= max_packets or len(keys) >= 3:
                break
            if packet.is_keyframe and packet.pts is not None:
                keys.append(float(packet.pts * packet.time_base))
    gaps = [b - a for a, b in zip(keys, keys[1:]) if b > a]
    return max(gaps) if gaps else None
