"""No helmet / no seatbelt: tracked vehicles checked by a user-configured YOLO model.

There is no public helmet model vigil may ship, so the rule runs only with a ``model``
(a ``.pt`` through the ultralytics backend, or a YOLO ``.onnx`` through onnxruntime)
whose ``no_helmet_class`` marks a head without a helmet. Without one the rule is **off**:
:func:`helmet_status` says so and the watcher is never built. There is no fallback
detector.

Riders are associated to their motorcycle by looking only inside the region above and
around the motorcycle's box (where its riders' heads are); a head found there belongs to
that motorcycle track. For ``no_seatbelt`` the model looks at the upper part of each car
(the windscreen and front occupants).
"""

from __future__ import annotations

import logging

import numpy as np
import supervision as sv

from analytics.rules import Firing
from analytics.violations.config import HelmetRule

log = logging.getLogger(__name__)


def helmet_status(rule: HelmetRule) -> str | None:
    """Why the rule is off (a sentence), or None when it can run."""
    if rule.model is None:
        what = "helmet" if rule.kind == "no_helmet" else "seatbelt"
        return (f"rule {rule.id} ({rule.kind}) is off: no {what} model configured; set "
                f"'model' to a YOLO .pt/.onnx trained with a {rule.kind.replace('_', '-')} "
                "class")
    return None


def occupant_region(box: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """Where a car's front occupants are seen: the upper 60 % of its box."""
    x1, y1, x2, y2 = (float(v) for v in box)
    H, W = shape
    return (max(0, int(x1)), max(0, int(y1)), min(W, int(x2)),
            min(H, int(y1 + 0.6 * (y2 - y1))))


def rider_region(box: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """The image region where a motorcycle's riders' heads are: the box widened by a
    quarter each side and raised by its own height."""
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    H, W = shape
    return (max(0, int(x1 - w / 4)), max(0, int(y1 - h)), min(W, int(x2 + w / 4)),
            min(H, int(y2)))


class HelmetWatcher:
    """The ``no_helmet`` frame rule; ``detector`` is the configured model's backend."""

    def __init__(self, rule: HelmetRule, detector) -> None:  # noqa: ANN001 - Detector
        self.rule = rule
        self.detector = detector
        self._fired: dict[int, float] = {}

    def observe(self, image: np.ndarray, t: float, tracked: sv.Detections) -> list[Firing]:
        """One firing per motorcycle track with a no-helmet head among its riders."""
        if not len(tracked) or tracked.tracker_id is None:
            return []
        bikes = tracked[np.isin(tracked.class_id, self.rule.classes)]
        todo = [(i, int(tid)) for i, tid in enumerate(bikes.tracker_id.astype(int))
                if t - self._fired.get(int(tid), -1e18) >= self.rule.cooldown_s]
        if not todo:
            return []
        region = rider_region if self.rule.kind == "no_helmet" else occupant_region
        regions = [region(bikes.xyxy[i], image.shape[:2]) for i, _ in todo]
        crops = [image[y1:y2, x1:x2] for x1, y1, x2, y2 in regions]
        out = []
        for (i, tid), (x1, y1, _, _), det in zip(todo, regions, self.detector.detect(crops)):
            hit = (det.class_id == self.rule.no_helmet_class) & \
                (det.confidence >= self.rule.min_confidence) if len(det) else np.zeros(0, bool)
            if not hit.any():
                continue
            self._fired[tid] = t
            heads = det.xyxy[hit] + [x1, y1, x1, y1]
            box = bikes.xyxy[i]
            out.append(Firing(self.rule.kind, self.rule.id, tid, float(hit.sum()), box,
                              (float(box[0] + box[2]) / 2, float(box[3])), self.rule.zone_id,
                              {"heads": [[round(float(v), 1) for v in h] for h in heads],
                               "confidence": round(float(det.confidence[hit].max()), 3)}))
        return out
