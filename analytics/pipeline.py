"""One camera's analysis, split around the (shared, batched) detector call.

``plan(frame)`` runs health checks and motion gating and says what the detector should
look at (nothing, the whole frame, or regions); the worker batches the plans of all its
cameras through :func:`analytics.mosaic.detect_plans`; ``complete(frame, detections)``
tracks (ByteTrack), applies the rules and returns finished GeoEvents with position and
evidence.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker

from analytics.config import PERSON_CLASSES, CameraConfig
from analytics.evidence import EvidenceStore
from analytics.geotag import Geotagger
from analytics.health import CameraHealth, HealthChange
from analytics.mosaic import Plan
from analytics.motion import MotionGate, TrackPredictor, regions
from analytics.rules import Firing, RuleEngine, Scene
from analytics.sources import Frame
from store.model import EVENT_KINDS, GeoEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineOptions:
    """Tuning shared by the cameras of a worker."""

    refresh_s: float = 30.0       # full-frame pass at least this often while objects move
    idle_refresh_s: float = 60.0  # … and this often in a static, empty scene
    full_frame_share: float = 0.6  # regions covering more than this: detect the full frame
    track_memory_s: float = 5.0   # a track survives this long without a detection
    predict_tracks: bool = True   # steady tracks skip the detector every other frame
    evidence: bool = True


@dataclass
class PipelineStats:
    """Counters for heartbeats and benchmarks."""

    frames: int = 0
    skipped: int = 0
    full: int = 0
    regional: int = 0
    predicted: int = 0            # track boxes predicted instead of detected
    events: int = 0
    detect_s: float = field(default=0.0)


class CameraPipeline:
    """Motion gate, tracker, rules, health and geotagging for one camera."""

    def __init__(self, cam: CameraConfig, evidence: EvidenceStore | None = None,
                 options: PipelineOptions = PipelineOptions()) -> None:
        self.cam = cam
        self.options = options
        self.evidence = evidence if options.evidence else None
        self.motion = MotionGate()
        self.health = CameraHealth(cam.health)
        self.tracker = ByteTrackTracker(
            lost_track_buffer=int(30 * options.track_memory_s), frame_rate=cam.sample_fps,
            track_activation_threshold=max(cam.min_confidence, 0.35),
            high_conf_det_threshold=0.5, minimum_consecutive_frames=1,
            minimum_iou_threshold=0.05)
        self.stats = PipelineStats()
        self.tracked: sv.Detections = sv.Detections.empty()
        self.geotag: Geotagger | None = None
        self.rules: RuleEngine | None = None
        self._last_full = -1e18
        self._known = np.zeros((0, 4))  # boxes of the latest detections and tracks
        self._known_ids = np.zeros(0, dtype=int)  # their track ids (-1: untracked)
        self.predictor = TrackPredictor() if options.predict_tracks else None
        self._expected: dict[int, np.ndarray] = {}  # this frame's stand-in boxes
        self._pending_health: list[HealthChange] = []

    def _setup(self, image: np.ndarray) -> None:
        h, w = image.shape[:2]
        self.geotag = Geotagger(self.cam, w, h)
        geo = self.geotag

        def area_of(polygon: list[tuple[float, float]] | None) -> float | None:
            if geo.homography is None:
                return None
            if polygon is None:
                view = geo.view_ground
                return view[1] if view else None
            return geo.polygon_area_m2(polygon)

        self.rules = RuleEngine(self.cam.rules, geo.geofence_to_image, area_of,
                                camera_id=self.cam.id)

    # -- before the detector ----------------------------------------------------------------

    def plan(self, frame: Frame) -> Plan:
        """Health checks and motion gating for one sampled frame."""
        if self.geotag is None:
            self._setup(frame.image)
        self.stats.frames += 1
        self._pending_health = self.health.frame(frame.image, frame.t, time.monotonic())
        self._expected = {}
        if any(c.kind == "camera_scene_change" for c in self._pending_health):
            self.motion.reset()
            if self.predictor is not None:
                self.predictor.reset()
        if not self.cam.motion_gating:
            return "full"
        boxes = self.motion.update(frame.image)
        since_full = frame.t - self._last_full
        moving = boxes is None or bool(boxes)
        if boxes is None or since_full >= self.options.idle_refresh_s or \
                (moving and since_full >= self.options.refresh_s):
            return "full"
        if not boxes:
            return None
        shape = frame.image.shape
        if self.predictor is not None:
            # steady tracks skip the detector this frame; so does the motion they explain
            self._expected = self.predictor.expected(frame.t, shape)
            if self._expected:
                boxes = self.motion.boxes_outside(self.predictor.swept_areas())
        known = []
        for tid, (x1, y1, x2, y2) in zip(self._known_ids, self._known):
            if tid in self._expected:
                continue
            # where a tracked object may have gone since: a quarter of its size around it
            dx, dy = (x2 - x1) / 4, (y2 - y1) / 4
            known.append((int(x1 - dx), int(y1 - dy), int(x2 + dx), int(y2 + dy)))
        plan = regions(list(boxes) + known, shape)
        if not plan:
            return []  # every moving thing is a predicted track: no detector call
        h, w = frame.image.shape[:2]
        mask = np.zeros((h // 8 + 1, w // 8 + 1), dtype=bool)
        for x1, y1, x2, y2 in plan:
            mask[y1 // 8:y2 // 8 + 1, x1 // 8:x2 // 8 + 1] = True
        return "full" if mask.mean() > self.options.full_frame_share else plan

    # -- after the detector -----------------------------------------------------------------

    def complete(self, frame: Frame, plan: Plan, det: sv.Detections | None) -> list[GeoEvent]:
        """Track, apply rules, build events (health events first)."""
        events = [self._health_event(frame, c) for c in self._pending_health]
        self._pending_health = []
        if plan == "full":
            self._last_full = frame.t
            self.stats.full += 1
        elif plan is None or plan == []:
            self.stats.skipped += 1
        else:
            self.stats.regional += 1
        reused = det is None
        if det is None:
            # nothing moved: objects stayed where they were
            det = self.tracked if len(self.tracked) else sv.Detections.empty()
            det = sv.Detections(xyxy=det.xyxy, confidence=det.confidence,
                                class_id=det.class_id) if len(det) else det
        elif len(det):
            keep = np.isin(det.class_id, self.cam.detect_classes) & \
                (det.confidence >= self.cam.min_confidence)
            det = det[keep]
        if plan != "full" and self._expected:
            det = self._with_predictions(det)
        raw = self.tracker.update(det, timestamp=frame.t)
        ids = raw.tracker_id if len(raw) and raw.tracker_id is not None \
            else np.zeros(len(raw), dtype=int)
        predicted = raw.data.get("predicted", np.zeros(len(raw), dtype=bool)) if len(raw) \
            else np.zeros(0, dtype=bool)
        if self.predictor is not None and len(raw):
            self.predictor.observe(frame.t, ids, raw.xyxy, raw.confidence, raw.class_id,
                                   predicted, reused)
        elif self.predictor is not None:
            self.predictor.observe(frame.t, ids, raw.xyxy, [], [], [], reused)
        self.stats.predicted += int(np.count_nonzero(predicted & (ids >= 0)))
        tracked = raw[ids >= 0] if len(raw) else raw
        self.tracked = tracked
        self._known = raw.xyxy.reshape(-1, 4).astype(np.float64) if len(raw) \
            else np.zeros((0, 4))
        self._known_ids = np.asarray(ids, dtype=int)
        assert self.rules is not None
        for firing in self.rules.evaluate(Scene(frame.t, tracked, frame.image.shape[:2])):
            events.append(self._rule_event(frame, firing))
        self.stats.events += len(events)
        return events

    def _with_predictions(self, det: sv.Detections) -> sv.Detections:
        """The detections plus the stand-in boxes of predicted tracks that no detection
        already covers (a neighbouring region may have caught the same object)."""
        seen = self.predictor.seen if self.predictor is not None else {}
        boxes = [(tid, box) for tid, box in self._expected.items() if tid in seen]
        if len(det) and boxes:
            from analytics.detections import box_iou

            iou = box_iou(np.array([b for _, b in boxes]), det.xyxy.astype(np.float64))
            boxes = [b for b, best in zip(boxes, iou.max(axis=1)) if best < 0.3]
        flags = np.zeros(len(det), dtype=bool)
        if not boxes:
            det.data["predicted"] = flags
            return det
        stand_in = sv.Detections(
            xyxy=np.array([b for _, b in boxes], dtype=np.float32),
            confidence=np.array([seen[t].confidence for t, _ in boxes], dtype=np.float32),
            class_id=np.array([seen[t].class_id for t, _ in boxes], dtype=int),
            data={"predicted": np.ones(len(boxes), dtype=bool)})
        if not len(det):
            return stand_in
        plain = sv.Detections(xyxy=det.xyxy, confidence=det.confidence,
                              class_id=det.class_id, data={"predicted": flags})
        return sv.Detections.merge([plain, stand_in])

    def tick(self, now: float) -> list[GeoEvent]:
        """Offline detection between frames; ``now`` is time.monotonic()."""
        return [self._health_event(None, c) for c in self.health.tick(now)]

    def lost(self) -> list[GeoEvent]:
        """The source could not be opened at all."""
        return [self._health_event(None, c) for c in self.health.lost()]

    # -- events -----------------------------------------------------------------------------

    def _view_point(self) -> tuple[float, float, str]:
        if self.geotag is not None and self.geotag.view_ground is not None:
            (lon, lat), _ = self.geotag.view_ground
            return lon, lat, "view"
        return self.cam.lon, self.cam.lat, "camera"

    def _people(self) -> np.ndarray | None:
        """This frame's tracked person boxes, for the evidence redactor's fallback without
        a face model (None when this camera does not detect people: it looks itself)."""
        if not set(PERSON_CLASSES) <= set(self.cam.detect_classes):
            return None
        tracked = self.tracked
        if not len(tracked):
            return np.zeros((0, 4))
        return tracked.xyxy[np.isin(tracked.class_id, PERSON_CLASSES)].astype(np.float64)

    def _health_event(self, frame: Frame | None, change: HealthChange) -> GeoEvent:
        ts = frame.ts if frame is not None else datetime.now(timezone.utc)
        evidence = None
        if frame is not None and self.evidence is not None and EVENT_KINDS[change.kind].is_alert:
            evidence, _ = self.evidence.save(self.cam.id, ts, change.kind, frame.image)
        return GeoEvent(ts=ts, camera_id=self.cam.id, kind=change.kind,
                        lon=self.cam.lon, lat=self.cam.lat,
                        severity=EVENT_KINDS[change.kind].severity,
                        ward_id=self.cam.ward_id, value=change.value,
                        attributes={"detail": change.detail, "located": "camera"},
                        evidence=evidence)

    def _rule_event(self, frame: Frame, f: Firing) -> GeoEvent:
        assert self.geotag is not None
        if f.pixel is not None:
            lonlat, placed = self.geotag.locate(np.array([f.pixel]))
            lon, lat = float(lonlat[0, 0]), float(lonlat[0, 1])
            located = "homography" if placed[0] else "camera"
        else:
            lon, lat, located = self._view_point()
        attrs = dict(f.attributes, rule=f.rule_id, located=located)
        if f.box is not None:
            attrs["box"] = [round(float(v), 1) for v in f.box]
        evidence = None
        spec = EVENT_KINDS[f.kind]
        if spec.is_alert and self.evidence is not None:
            evidence, crop = self.evidence.save(self.cam.id, frame.ts, f.kind, frame.image,
                                                f.box, people=self._people())
            if crop is not None:
                attrs["crop"] = {"path": crop.path, "sha256": crop.sha256}
        return GeoEvent(ts=frame.ts, camera_id=self.cam.id, kind=f.kind, lon=lon, lat=lat,
                        severity=spec.severity, zone_id=f.zone_id, track_id=f.track_id,
                        value=f.value, attributes=attrs, evidence=evidence)
