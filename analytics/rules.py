"""Rules: tracked objects in, decisions to raise events out.

Each rule sees the tracked detections of one camera-frame (a :class:`Scene`) and returns
:class:`Firing` records; the pipeline turns them into GeoEvents (geotag, evidence).
Rules work in image pixels on each object's ground point (bottom centre of its box) and
in media seconds ``t``. A track that fired waits ``cooldown_s`` before it may fire that
rule again. Alerts are then deduplicated per rule (its zone, on this camera): a rule that
keeps firing — the same track again, the next track in the same zone, a crowd that stays
dense — is one ongoing alert whose repeats are counted (:mod:`store.ongoing`; the rule's
``alert_cooldown_s`` and ``clear_s``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np
import shapely
import supervision as sv

from analytics.config import (CountRule, CrowdRule, IntrusionRule, LineCrossingRule,
                              LoiteringRule, Rule)
from analytics.detections import ground_points
from store.model import EVENT_KINDS
from store.ongoing import HOLD_RATIO, OngoingAlerts, default_clear_s, default_cooldown_s

log = logging.getLogger(__name__)

#: Tracks unseen this long (media seconds) are forgotten by stateful rules.
FORGET_S = 120.0


@dataclass(frozen=True)
class Scene:
    """What a rule sees: one camera-frame's tracked detections."""

    t: float
    detections: sv.Detections  # with tracker_id
    shape: tuple[int, int]      # frame height, width


@dataclass(frozen=True)
class Firing:
    """A rule's decision to raise one event."""

    kind: str
    rule_id: str
    track_id: int | None = None
    value: float | None = None
    box: np.ndarray | None = None     # xyxy of the object, pixels
    pixel: tuple[float, float] | None = None  # ground point to geotag; None: the view
    zone_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


class _Cooldown:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.last: dict[Any, float] = {}

    def ready(self, key: Any, t: float) -> bool:
        last = self.last.get(key)
        if last is not None and t - last < self.seconds:
            return False
        self.last[key] = t
        return True

    def forget(self, t: float) -> None:
        horizon = max(self.seconds, FORGET_S)
        self.last = {k: v for k, v in self.last.items() if t - v < horizon}


_ALERT_KIND = {"line_crossing": "wrong_way"}


def ongoing_alerts(rule: Rule) -> OngoingAlerts:
    """The ongoing alerts of ``rule``: its ``alert_cooldown_s``/``clear_s`` or its kind's."""
    kind = _ALERT_KIND.get(rule.kind, rule.kind)
    cooldown = getattr(rule, "alert_cooldown_s", None)
    clear = getattr(rule, "clear_s", None)
    return OngoingAlerts(default_cooldown_s(kind) if cooldown is None else cooldown,
                         default_clear_s(kind) if clear is None else clear)


class RuleEngine:
    """Evaluates one camera's rules; ``to_image`` turns geofences into image polygons."""

    def __init__(self, rules: tuple[Rule, ...],
                 to_image: Callable[[list[tuple[float, float]]], list[tuple[float, float]]]
                 | None = None,
                 area_of: Callable[[list[tuple[float, float]] | None], float | None]
                 | None = None, camera_id: str = "") -> None:
        self.rules = rules
        self.camera_id = camera_id
        self._to_image = to_image
        self._area_of = area_of
        self._cool = {r.id: _Cooldown(r.cooldown_s) for r in rules}
        self.ongoing = {r.id: ongoing_alerts(r) for r in rules}
        self.folded = 0  # firings counted into an ongoing alert instead of raised
        self._polygons: dict[str, shapely.Polygon | None] = {}
        self._inside_since: dict[tuple[str, int], float] = {}
        self._last_point: dict[tuple[str, int], tuple[float, float, float]] = {}
        self._counts: dict[str, dict[str, int]] = {r.id: {"in": 0, "out": 0} for r in rules
                                                   if isinstance(r, LineCrossingRule)}
        self._next_sample: dict[str, float] = {}
        self._areas: dict[str, float | None] = {}

    # -- geometry ---------------------------------------------------------------------------

    def polygon(self, rule: Rule) -> shapely.Polygon | None:
        """The rule's image polygon (a geofence converted once), or None for the whole frame."""
        if rule.id not in self._polygons:
            pts = getattr(rule, "polygon", None)
            fence = getattr(rule, "geofence", None)
            if fence and self._to_image is not None:
                pts = self._to_image(fence)
                if len(pts) < 3:
                    pts = [(-1.0, -1.0), (-1.0, -2.0), (-2.0, -1.0)]  # fence out of view
            self._polygons[rule.id] = shapely.Polygon(pts) if pts else None
        return self._polygons[rule.id]

    def _inside(self, rule: Rule, pts: np.ndarray) -> np.ndarray:
        poly = self.polygon(rule)
        if poly is None or len(pts) == 0:
            return np.ones(len(pts), dtype=bool)
        return shapely.contains_xy(poly, pts[:, 0], pts[:, 1])

    # -- evaluation -------------------------------------------------------------------------

    def evaluate(self, scene: Scene) -> list[Firing]:
        """All firings for this camera-frame."""
        det = scene.detections
        tracked = det[det.tracker_id >= 0] if det.tracker_id is not None and len(det) \
            else sv.Detections.empty()
        out: list[Firing] = []
        for rule in self.rules:
            if getattr(rule, "frame_rule", False):
                continue  # pixels needed: analytics.violations.stage runs these
            sel = tracked[np.isin(tracked.class_id, rule.classes)] if len(tracked) \
                else tracked
            pts = ground_points(sel)
            self._expire(rule, scene.t)
            handler = getattr(self, "_" + type(rule).__name__)
            out.extend(self._admit(rule, scene.t, handler(rule, scene, sel, pts)))
            self._cool[rule.id].forget(scene.t)
        self._forget(scene.t)
        return out

    def _admit(self, rule: Rule, t: float, firings: list[Firing]) -> list[Firing]:
        """The firings that raise an alert (with ``repeats``, ``ongoing_s``) or are no
        alert; the rest are counted into their rule's ongoing alert."""
        ongoing = self.ongoing[rule.id]
        out = []
        for f in firings:
            if not EVENT_KINDS[f.kind].is_alert:
                out.append(f)
                continue
            attrs = ongoing.admit(f.kind, t, f.track_id)
            if attrs is None:
                self.folded += 1
            else:
                out.append(replace(f, attributes=dict(f.attributes, **attrs)))
        return out

    def _expire(self, rule: Rule, t: float) -> None:
        for kind, alert in self.ongoing[rule.id].expire(t):
            log.info("camera %s rule %s: ongoing %s ended after %.0f s, %d alert(s), "
                     "%d repeat(s) counted (%d since its last alert)", self.camera_id,
                     rule.id, kind, alert.active - alert.started, alert.alerts,
                     alert.folded, alert.repeats)

    def _holds(self, rule: Rule, kind: str, t: float) -> None:
        """The rule's condition holds now: its ongoing alert goes on."""
        self.ongoing[rule.id].holds(kind, t)

    def _forget(self, t: float) -> None:
        self._last_point = {k: v for k, v in self._last_point.items() if t - v[2] < FORGET_S}
        self._inside_since = {k: v for k, v in self._inside_since.items()
                              if (k in self._last_point or t - v < FORGET_S)}

    def _IntrusionRule(self, rule: IntrusionRule, scene: Scene, sel: sv.Detections,
                       pts: np.ndarray) -> list[Firing]:
        out = []
        inside = np.flatnonzero(self._inside(rule, pts))
        if len(inside):
            self._holds(rule, "intrusion", scene.t)
        for i in inside:
            tid = int(sel.tracker_id[i])
            if self._cool[rule.id].ready(tid, scene.t):
                out.append(Firing("intrusion", rule.id, tid, None, sel.xyxy[i],
                                  tuple(pts[i]), rule.zone_id,
                                  {"class_id": int(sel.class_id[i])}))
        return out

    def _LoiteringRule(self, rule: LoiteringRule, scene: Scene, sel: sv.Detections,
                       pts: np.ndarray) -> list[Firing]:
        out = []
        inside = self._inside(rule, pts)
        seen = set()
        for i, tid in enumerate(sel.tracker_id.astype(int) if len(sel) else []):
            key = (rule.id, int(tid))
            self._last_point[key] = (float(pts[i, 0]), float(pts[i, 1]), scene.t)
            if not inside[i]:
                self._inside_since.pop(key, None)
                continue
            seen.add(key)
            start = self._inside_since.setdefault(key, scene.t)
            dwell = scene.t - start
            if dwell > rule.dwell_s:
                self._holds(rule, "loitering", scene.t)
            if dwell > rule.dwell_s and self._cool[rule.id].ready(int(tid), scene.t):
                out.append(Firing("loitering", rule.id, int(tid), dwell, sel.xyxy[i],
                                  tuple(pts[i]), rule.zone_id, {"dwell_s": round(dwell, 1)}))
        return out

    def _LineCrossingRule(self, rule: LineCrossingRule, scene: Scene, sel: sv.Detections,
                          pts: np.ndarray) -> list[Firing]:
        (ax, ay), (bx, by) = rule.line
        line = shapely.LineString(rule.line)
        out = []
        for i, tid in enumerate(sel.tracker_id.astype(int) if len(sel) else []):
            key = (rule.id, int(tid))
            x, y = float(pts[i, 0]), float(pts[i, 1])
            prev = self._last_point.get(key)
            self._last_point[key] = (x, y, scene.t)
            if prev is None or not line.intersects(shapely.LineString([prev[:2], (x, y)])):
                continue
            side_before = (bx - ax) * (prev[1] - ay) - (by - ay) * (prev[0] - ax)
            side_now = (bx - ax) * (y - ay) - (by - ay) * (x - ax)
            if side_before == side_now or side_before * side_now > 0:
                continue
            direction = "in" if side_now > 0 else "out"
            if not self._cool[rule.id].ready((int(tid), direction), scene.t):
                continue
            counts = self._counts[rule.id]
            counts[direction] += 1
            attrs = {"direction": direction, "count_in": counts["in"],
                     "count_out": counts["out"], "class_id": int(sel.class_id[i])}
            out.append(Firing("line_crossing", rule.id, int(tid), float(counts[direction]),
                              sel.xyxy[i], (x, y), rule.zone_id, attrs))
            if rule.allowed != "both" and direction != rule.allowed:
                out.append(Firing("wrong_way", rule.id, int(tid), None, sel.xyxy[i], (x, y),
                                  rule.zone_id, dict(attrs, allowed=rule.allowed)))
        return out

    def _area(self, rule: CrowdRule) -> float | None:
        if rule.id not in self._areas:
            area = None
            if self._area_of is not None:
                area = self._area_of(rule.polygon)
            self._areas[rule.id] = area if area else rule.area_m2
        return self._areas[rule.id]

    def _CrowdRule(self, rule: CrowdRule, scene: Scene, sel: sv.Detections,
                   pts: np.ndarray) -> list[Firing]:
        area = self._area(rule)
        if not area:
            return []
        count = int(self._inside(rule, pts).sum())
        density = count / area
        attrs = {"count": count, "area_m2": round(area, 1)}
        out = []
        if density > HOLD_RATIO * rule.threshold_per_m2:  # hysteresis: see store.ongoing
            self._holds(rule, "crowd_density", scene.t)
        if density > rule.threshold_per_m2 and self._cool[rule.id].ready(None, scene.t):
            out.append(Firing("crowd_density", rule.id, None, density, None, None,
                              rule.zone_id, dict(attrs, threshold=rule.threshold_per_m2)))
        if scene.t >= self._next_sample.get(rule.id, scene.t):
            self._next_sample[rule.id] = scene.t + rule.sample_every_s
            out.append(Firing("crowd_sample", rule.id, None, density, None, None,
                              rule.zone_id, attrs))
        return out

    def _CountRule(self, rule: CountRule, scene: Scene, sel: sv.Detections,
                   pts: np.ndarray) -> list[Firing]:
        if scene.t < self._next_sample.get(rule.id, scene.t):
            return []
        self._next_sample[rule.id] = scene.t + rule.every_s
        return [Firing(rule.kind, rule.id, None, float(len(sel)), None, None, rule.zone_id,
                       {"classes": list(rule.classes)})]
