"""Abandoned objects and littering: a static new blob left behind by a person who has gone.

The COCO detector does not see most things people leave (a box, a sack of rubbish), so
this rule works on pixels: a background kept from frames where nothing moved, updated
slowly and never under people or candidate objects. Pixels that differ from it but not
from the previous frame are *static foreground*; their connected blobs (minus people)
are candidate objects, matched frame to frame by centre. A candidate is *attended* while
a person track stands within ``owner_radius`` object widths of it; it fires once when it
has stayed, unattended, for ``dwell_s`` — with the frame from before it appeared as the
"before" evidence.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import cv2
import numpy as np
import shapely
import supervision as sv

from analytics.rules import Firing
from analytics.violations.config import AbandonedRule

PERSON = 0


@dataclass
class _Candidate:
    cid: int
    box: np.ndarray              # x1, y1, x2, y2
    first_t: float
    attended_t: float            # last time a person was near it
    seen_t: float
    before: bytes | None         # JPEG of the frame before it appeared
    fired: bool = False
    owners: set[int] = field(default_factory=set)

    @property
    def centre(self) -> np.ndarray:
        return np.array([(self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2])


class AbandonedWatcher:
    """The abandoned_object / littering frame rule of one camera."""

    def __init__(self, rule: AbandonedRule, alpha: float = 0.05) -> None:
        self.rule = rule
        self.alpha = alpha
        self.polygon = shapely.Polygon(rule.polygon) if rule.polygon else None
        self.background: np.ndarray | None = None
        self.known: np.ndarray | None = None  # pixels whose background has been seen
        self._prev: np.ndarray | None = None
        # JPEGs of the last frames: an object is static one frame after it appeared, so
        # the frame two back is the scene "before"
        self._recent: collections.deque[bytes | None] = collections.deque(maxlen=2)
        self._candidates: list[_Candidate] = []
        self._next_id = 1

    def static_mask(self, grey: np.ndarray) -> np.ndarray:
        """Pixels unlike the background but like the previous frame (uint8 0/255)."""
        assert self.background is not None and self._prev is not None
        fg = cv2.absdiff(grey, self.background.astype(np.uint8)) > self.rule.diff
        still = cv2.absdiff(grey, self._prev) <= self.rule.diff
        mask = (fg & still).astype(np.uint8) * 255
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
        # parts of one object that look like the ground split it: join what is close
        return cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))

    def observe(self, image: np.ndarray, t: float, tracked: sv.Detections) -> list[Firing]:
        """Update the background and candidates; firings for objects left long enough."""
        grey = cv2.GaussianBlur(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (5, 5), 0)
        people = np.zeros((0, 4))
        person_ids = np.zeros(0, int)
        if len(tracked) and tracked.tracker_id is not None:
            sel = tracked[tracked.class_id == PERSON]
            people, person_ids = sel.xyxy, sel.tracker_id.astype(int)
        people_mask = np.zeros(grey.shape, np.uint8)
        for x1, y1, x2, y2 in people.astype(int):
            people_mask[max(0, y1):y2, max(0, x1):x2] = 255
        if self.background is None:
            # what is under a person is not background yet: learnt once uncovered
            self.background = grey.astype(np.float32)
            self.known = people_mask == 0
            self._prev = grey
            self._recent.append(_jpeg(image))
            return []
        learn = ~self.known & (people_mask == 0)
        self.background[learn] = grey[learn]
        self.known |= learn
        mask = self.static_mask(grey)
        mask[~self.known] = 0
        blobs = self._blobs(cv2.bitwise_and(mask, cv2.bitwise_not(people_mask)))
        self._match(blobs, t)
        out = []
        for cand in self._candidates:
            width = max(cand.box[2] - cand.box[0], cand.box[3] - cand.box[1])
            near = _near(cand, people, self.rule.owner_radius * width)
            if near.any():
                cand.attended_t = t
                cand.owners.update(int(p) for p in person_ids[near])
            if cand.fired or cand.seen_t < t:
                continue
            alone = t - cand.attended_t
            if alone >= self.rule.dwell_s:
                cand.fired = True
                attrs = {"static_s": round(t - cand.first_t, 1), "unattended_s": round(alone, 1),
                         "owner_tracks": sorted(cand.owners), "object": int(cand.cid)}
                if cand.before is not None:
                    attrs["_before"] = cand.before
                centre = cand.centre
                out.append(Firing(self.rule.kind, self.rule.id, None, round(alone, 1),
                                  cand.box.astype(np.float64), (float(centre[0]),
                                                                float(cand.box[3])),
                                  self.rule.zone_id, attrs))
        # slow background update, never under people or candidate objects
        frozen = cv2.bitwise_or(mask, people_mask)
        for cand in self._candidates:
            x1, y1, x2, y2 = cand.box.astype(int)
            frozen[y1:y2, x1:x2] = 255
        cv2.accumulateWeighted(grey, self.background, self.alpha,
                               mask=cv2.bitwise_not(frozen))
        self._prev = grey
        self._recent.append(_jpeg(image))
        return out

    def _blobs(self, mask: np.ndarray) -> list[np.ndarray]:
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        out = []
        for x, y, w, h, area in stats[1:n]:
            if not self.rule.min_area_px <= area <= self.rule.max_area_px:
                continue
            cx, cy = x + w / 2, y + h
            if self.polygon is not None and not self.polygon.contains(shapely.Point(cx, cy)):
                continue
            out.append(np.array([x, y, x + w, y + h], dtype=np.float64))
        return out

    def _match(self, blobs: list[np.ndarray], t: float) -> None:
        for box in blobs:
            centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
            dist = [np.hypot(*(c.centre - centre)) for c in self._candidates]
            if dist and min(dist) <= self.rule.still_px:
                cand = self._candidates[int(np.argmin(dist))]
                cand.box, cand.seen_t = box, t
                continue
            self._candidates.append(_Candidate(self._next_id, box, t, t, t, self._recent[0]))
            self._next_id += 1
        # an object gone for a few seconds is forgotten (it was taken away)
        self._candidates = [c for c in self._candidates if t - c.seen_t <= 5.0]


def _near(cand: _Candidate, people: np.ndarray, radius: float) -> np.ndarray:
    if not len(people):
        return np.zeros(0, bool)
    cx, cy = cand.centre
    dx = np.maximum.reduce([people[:, 0] - cx, np.zeros(len(people)), cx - people[:, 2]])
    dy = np.maximum.reduce([people[:, 1] - cy, np.zeros(len(people)), cy - people[:, 3]])
    return np.hypot(dx, dy) <= radius


def _jpeg(image: np.ndarray) -> bytes | None:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return buf.tobytes() if ok else None
