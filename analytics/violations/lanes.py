"""Wrong way and wrong lane: lane polygons with an allowed travel direction.

A vehicle track whose ground point, inside the lane, runs against the lane's direction
for ``min_px`` (measured from the furthest point it reached along the direction, so
jitter does not add up) fires ``wrong_way`` (or the configured kind). A lane with
``allowed_classes`` (a bus lane, a motorbike lane) fires ``wrong_lane`` for any other
class that travels ``min_px`` inside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
import supervision as sv

from analytics.detections import ground_points
from analytics.rules import Firing
from analytics.violations.config import LaneRule


@dataclass
class _Run:
    start: float      # projection on the direction where the track entered the lane
    best: float       # furthest projection along the direction so far
    travelled: float  # path length inside the lane
    last: tuple[float, float]
    seen: float


class LaneWatcher:
    """The lane frame rule of one camera."""

    def __init__(self, rule: LaneRule) -> None:
        self.rule = rule
        self.polygon = shapely.Polygon(rule.polygon)
        d = np.asarray(rule.direction, dtype=np.float64)
        self.unit = d / np.linalg.norm(d)
        self._runs: dict[int, _Run] = {}
        self._fired: dict[tuple[int, str], float] = {}

    def observe(self, image: np.ndarray, t: float, tracked: sv.Detections) -> list[Firing]:
        """Firings for tracks going against the lane or using a lane not theirs."""
        rule = self.rule
        out: list[Firing] = []
        if len(tracked) and tracked.tracker_id is not None:
            sel = tracked[np.isin(tracked.class_id, rule.classes)]
            pts = ground_points(sel)
            inside = shapely.contains_xy(self.polygon, pts[:, 0], pts[:, 1]) if len(pts) \
                else np.zeros(0, bool)
            for i, tid in enumerate(sel.tracker_id.astype(int)):
                tid = int(tid)
                x, y = float(pts[i, 0]), float(pts[i, 1])
                if not inside[i]:
                    self._runs.pop(tid, None)
                    continue
                proj = float(np.dot((x, y), self.unit))
                run = self._runs.get(tid)
                if run is None:
                    self._runs[tid] = _Run(proj, proj, 0.0, (x, y), t)
                    continue
                run.travelled += float(np.hypot(x - run.last[0], y - run.last[1]))
                run.best = max(run.best, proj)
                run.last, run.seen = (x, y), t
                against = run.best - proj
                cls = int(sel.class_id[i])
                attrs = {"class_id": cls, "against_px": round(against, 1),
                         "direction": list(rule.direction)}
                if against >= rule.min_px and self._ready(tid, rule.event, t):
                    out.append(Firing(rule.event, rule.id, tid, round(against, 1),
                                      sel.xyxy[i], (x, y), rule.zone_id, attrs))
                if rule.allowed_classes is not None and cls not in rule.allowed_classes \
                        and run.travelled >= rule.min_px and self._ready(tid, "wrong_lane", t):
                    out.append(Firing("wrong_lane", rule.id, tid, round(run.travelled, 1),
                                      sel.xyxy[i], (x, y), rule.zone_id,
                                      dict(attrs, allowed_classes=list(rule.allowed_classes))))
        self._runs = {k: r for k, r in self._runs.items() if t - r.seen < 30}
        return out

    def _ready(self, tid: int, kind: str, t: float) -> bool:
        last = self._fired.get((tid, kind))
        if last is not None and t - last < self.rule.cooldown_s:
            return False
        self._fired[(tid, kind)] = t
        return True
