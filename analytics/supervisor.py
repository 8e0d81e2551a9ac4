"""The supervisor: runs one analytics worker process per camera (or small camera group).

Typical use (the demo and ``vigil workers`` do exactly this)::

    from analytics.supervisor import Supervisor
    from store.db import open_database
    from store.settings import load_settings

    settings = load_settings()
    with open_database(settings) as db_url:
        sup = Supervisor(settings, db_url)          # cameras from the registry
        sup.start()                                 # ordered start, returns at once
        ...                                         # web app, demo, etc.
        sup.stop()                                  # reverse order, drains writers

``Supervisor(settings, db_url, cameras=[...])`` runs a fixed list instead of the registry
(each item a :class:`~analytics.config.CameraConfig` or a mapping that
:func:`~analytics.config.parse_camera` accepts). With ``cameras=None`` the registry's
enabled cameras that have a ``stream_url`` are run, and the table is re-read every
``poll_s`` seconds: added cameras start, removed or disabled ones stop, and a camera
whose row changed is restarted, without touching the other workers. A worker that dies
is restarted with exponential backoff (1 s doubling to 60 s, reset after a minute of
running). Worker heartbeats arrive through a bounded queue and are written to
``camera_heartbeats`` (and ``cameras.status``) by the supervisor's monitor thread.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from analytics.config import CameraConfig, CameraConfigError, camera_from_row, parse_camera
from analytics.worker import Worker, WorkerConfig
from store.settings import Settings

log = logging.getLogger(__name__)

_CTX = mp.get_context("spawn")


@dataclass
class _Slot:
    """One worker process and its restart bookkeeping."""

    key: str
    config: WorkerConfig
    fingerprint: str
    process: Worker | None = None
    stop: Any = None
    started_at: float = 0.0
    restarts: int = 0
    backoff: float = 1.0
    restart_at: float | None = None
    finished: bool = False


@dataclass
class SupervisorOptions:
    """How workers are grouped, restarted and fed."""

    group_size: int = 1          # cameras per worker process
    poll_s: float = 10.0         # registry re-read interval
    backoff_min_s: float = 1.0
    backoff_max_s: float = 60.0
    stable_s: float = 60.0       # running this long resets the backoff
    restart_finished: bool = False  # restart workers whose files ended (demo loops instead)
    kinds: tuple[str, ...] = ("ai", "traffic")  # registry camera kinds that get a worker
    worker: dict[str, Any] = field(default_factory=dict)  # extra WorkerConfig fields


def _fingerprint(cams: Iterable[CameraConfig]) -> str:
    return json.dumps([c.model_dump(mode="json") for c in cams], sort_keys=True)


class Supervisor:
    """Starts, watches, restarts and stops analytics workers for a set of cameras."""

    def __init__(self, settings: Settings, db_url: str | None,
                 cameras: Iterable[CameraConfig | Mapping[str, Any]] | None = None,
                 options: SupervisorOptions | None = None) -> None:
        self.settings = settings
        self.db_url = db_url
        self.options = options or SupervisorOptions()
        self.fixed = None if cameras is None else [
            c if isinstance(c, CameraConfig) else parse_camera(c) for c in cameras]
        self.slots: dict[str, _Slot] = {}
        self.beats: Any = _CTX.Queue(maxsize=256)
        self.config_errors: dict[str, str] = {}
        self._stopping = threading.Event()
        self._monitor: threading.Thread | None = None
        self._lock = threading.Lock()
        self._next_poll = 0.0

    # -- cameras ----------------------------------------------------------------------------

    def load_cameras(self) -> list[CameraConfig]:
        """The fixed camera list, or the registry's enabled cameras with a stream."""
        if self.fixed is not None:
            return list(self.fixed)
        from dataclasses import asdict

        from store.db import connect
        from store.registry import list_cameras

        with connect(self.db_url) as conn:
            rows = [asdict(c) for c in list_cameras(conn, enabled_only=True)
                    if c.stream_url and c.kind in self.options.kinds]
        cams, errors = [], {}
        for row in rows:
            try:
                cams.append(camera_from_row(row))
            except CameraConfigError as exc:
                errors[row["id"]] = str(exc)
        for cid, msg in errors.items():
            if self.config_errors.get(cid) != msg:
                log.error("%s (camera not started)", msg)
        self.config_errors = errors
        return cams

    def _groups(self, cams: list[CameraConfig]) -> dict[str, list[CameraConfig]]:
        size = max(1, self.options.group_size)
        groups = {}
        for i in range(0, len(cams), size):
            part = cams[i:i + size]
            groups["+".join(c.id for c in part)] = part
        return groups

    def _worker_config(self, key: str, cams: list[CameraConfig]) -> WorkerConfig:
        return WorkerConfig(name=key, cameras=tuple(cams), settings=self.settings,
                            db_url=self.db_url, log_level=logging.getLogger().level
                            or logging.WARNING, **self.options.worker)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the workers (in camera order) and the monitor thread; returns at once."""
        self._stopping.clear()
        self.sync()
        self._monitor = threading.Thread(target=self._watch, name="vigil-supervisor",
                                         daemon=True)
        self._monitor.start()

    def sync(self) -> None:
        """Match running workers to the current camera list (start, stop, restart)."""
        groups = self._groups(self.load_cameras())
        with self._lock:
            for key in [k for k in self.slots if k not in groups]:
                log.info("worker %s: camera removed; stopping", key)
                self._stop_slot(self.slots.pop(key))
            for key, cams in groups.items():
                fp = _fingerprint(cams)
                slot = self.slots.get(key)
                if slot is not None and slot.fingerprint == fp:
                    continue
                if slot is not None:
                    log.info("worker %s: configuration changed; restarting", key)
                    self._stop_slot(slot)
                slot = _Slot(key, self._worker_config(key, cams), fp)
                self.slots[key] = slot
                self._start_slot(slot)

    def _start_slot(self, slot: _Slot) -> None:
        slot.stop = _CTX.Event()
        slot.process = Worker(slot.config, slot.stop, self.beats)
        slot.process.start()
        slot.started_at = time.monotonic()
        slot.restart_at = None
        log.info("worker %s: started (pid %s)", slot.key, slot.process.pid)

    @staticmethod
    def _stop_slot(slot: _Slot, timeout: float = 30.0) -> None:
        if slot.process is None:
            return
        slot.stop.set()
        slot.process.join(timeout)
        if slot.process.is_alive():
            log.warning("worker %s: did not stop in %.0fs; terminating", slot.key, timeout)
            slot.process.terminate()
            slot.process.join(5)
        slot.process.close()
        slot.process = None

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the monitor, then the workers in reverse start order, then flush heartbeats."""
        self._stopping.set()
        if self._monitor is not None:
            self._monitor.join(timeout)
        with self._lock:
            slots = list(reversed(self.slots.values()))
            for slot in slots:   # all at once: each finishes its frame meanwhile
                if slot.stop is not None:
                    slot.stop.set()
            for slot in slots:
                self._stop_slot(slot, timeout)
        self._drain_beats()

    def __enter__(self) -> "Supervisor":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- monitoring -------------------------------------------------------------------------

    def _watch(self) -> None:
        while not self._stopping.wait(0.5):
            try:
                self._check()
                self._drain_beats()
                if self.fixed is None and time.monotonic() >= self._next_poll:
                    self._next_poll = time.monotonic() + self.options.poll_s
                    self.sync()
            except Exception:  # keep supervising whatever one round hit
                log.exception("supervisor round failed")

    def _check(self) -> None:
        now = time.monotonic()
        with self._lock:
            for slot in self.slots.values():
                proc = slot.process
                if proc is not None and not proc.is_alive():
                    code = proc.exitcode
                    proc.close()
                    slot.process = None
                    if code == 0 and not self.options.restart_finished:
                        slot.finished = True
                        log.info("worker %s: finished", slot.key)
                        continue
                    if now - slot.started_at >= self.options.stable_s:
                        slot.backoff = self.options.backoff_min_s
                    slot.restart_at = now + slot.backoff
                    log.warning("worker %s: exited with %s; restart in %.0fs", slot.key,
                                code, slot.backoff)
                    slot.backoff = min(slot.backoff * 2, self.options.backoff_max_s)
                elif proc is None and slot.restart_at is not None and now >= slot.restart_at:
                    slot.restarts += 1
                    self._start_slot(slot)

    def _drain_beats(self) -> None:
        rows: list[dict[str, Any]] = []
        while True:
            try:
                rows.extend(self.beats.get_nowait())
            except queue.Empty:
                break
        if rows and self.db_url:
            write_heartbeats(self.db_url, rows)

    def status(self) -> dict[str, dict[str, Any]]:
        """Per worker: pid, alive, restarts, finished."""
        with self._lock:
            return {k: {"pid": s.process.pid if s.process else None,
                        "alive": bool(s.process and s.process.is_alive()),
                        "restarts": s.restarts, "finished": s.finished}
                    for k, s in self.slots.items()}

    def wait_finished(self, timeout: float) -> bool:
        """Block until every worker has finished (files ended / max_frames); True if so."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.slots and all(s.finished for s in self.slots.values()):
                self._drain_beats()
                return True
            time.sleep(0.2)
        return False


def write_heartbeats(db_url: str, rows: list[dict[str, Any]]) -> None:
    """Store heartbeat rows; the registry carries each status to its camera."""
    from store.db import connect
    from store.registry import Heartbeat, record_heartbeat

    with connect(db_url) as conn:
        for r in rows:
            try:
                record_heartbeat(conn, Heartbeat(**r))
            except Exception as exc:  # a camera removed meanwhile must not stop the rest
                log.warning("heartbeat for %s not stored: %s", r.get("camera_id"), exc)
        conn.commit()


__all__ = ["Supervisor", "SupervisorOptions", "write_heartbeats"]
