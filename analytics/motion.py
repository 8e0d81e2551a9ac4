"""Motion gating, as Frigate does it: a cheap background model decides whether the
detector runs on a frame, and on which regions of it.

A small grey copy of each frame is compared with a running average; changed pixels are
grouped into boxes. A static scene yields no boxes and the detector is skipped; moving
people yield a few regions (motion boxes plus the boxes of objects already tracked,
padded and merged) that are cropped and packed for the detector (see
:mod:`analytics.mosaic`). A full-frame pass still runs every ``refresh_s`` so that
objects that stopped moving are seen again. At high sampling rates a :class:`TrackPredictor`
lets steadily moving tracks skip every other detector pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # x1, y1, x2, y2 in full-frame pixels


@dataclass
class MotionGate:
    """Background-difference motion detector for one camera."""

    width: int = 256            # analysis width in pixels (height keeps the aspect)
    alpha: float = 0.1          # background learning rate per analysed frame
    threshold: int = 22         # grey-level change that counts as motion
    min_area: float = 0.0008    # smallest motion blob, share of the frame
    lighting_change: float = 0.45  # share of changed pixels treated as a lighting jump

    def __post_init__(self) -> None:
        self._avg: np.ndarray | None = None
        self._kernel = np.ones((3, 3), np.uint8)
        self._mask: np.ndarray | None = None  # the latest motion mask (analysis size)
        self._scale = 1.0

    def reset(self) -> None:
        """Forget the background (after a reconnect or a scene change)."""
        self._avg = None

    def update(self, frame: np.ndarray) -> list[Box] | None:
        """Motion boxes in full-frame pixels; ``None`` when every pixel must be assumed new."""
        h, w = frame.shape[:2]
        scale = self.width / w
        small = cv2.resize(frame, (self.width, max(1, round(h * scale))),
                           interpolation=cv2.INTER_AREA)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
        if self._avg is None:
            self._avg = grey.astype(np.float32)
            return None
        diff = cv2.absdiff(grey, cv2.convertScaleAbs(self._avg))
        cv2.accumulateWeighted(grey, self._avg, self.alpha)
        mask = cv2.threshold(diff, self.threshold, 255, cv2.THRESH_BINARY)[1]
        changed = cv2.countNonZero(mask) / mask.size
        if changed > self.lighting_change:
            self._avg = grey.astype(np.float32)
            return None
        self._mask = None
        if changed == 0:
            return []
        self._mask, self._scale = cv2.dilate(mask, self._kernel, iterations=2), scale
        return self._boxes(self._mask)

    def _boxes(self, mask: np.ndarray) -> list[Box]:
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        min_px = self.min_area * mask.size
        scale = self._scale
        boxes = []
        for c in contours:
            x, y, bw, bh = cv2.boundingRect(c)
            if bw * bh >= min_px:
                boxes.append((int(x / scale), int(y / scale),
                              int(np.ceil((x + bw) / scale)), int(np.ceil((y + bh) / scale))))
        return boxes

    def boxes_outside(self, areas: list[np.ndarray], share: float = 0.8) -> list[Box]:
        """The latest motion boxes, less those whose moving pixels lie (at least ``share``
        of them) inside ``areas`` (full-frame xyxy); a blob only partly inside keeps its
        whole box, so an object next to an explained one is still seen whole."""
        if self._mask is None:
            return []
        inside = np.zeros_like(self._mask)
        s = self._scale
        for x1, y1, x2, y2 in areas:
            inside[max(int(y1 * s), 0):max(int(np.ceil(y2 * s)), 0),
                   max(int(x1 * s), 0):max(int(np.ceil(x2 * s)), 0)] = 255
        n, labels, stats, _ = cv2.connectedComponentsWithStats(self._mask, connectivity=8)
        covered = np.bincount(labels[inside > 0], minlength=n)
        min_px = self.min_area * self._mask.size
        boxes = []
        for i in range(1, n):
            x, y, bw, bh, px = stats[i]
            if bw * bh < min_px or covered[i] >= share * px:
                continue
            boxes.append((int(x / s), int(y / s),
                          int(np.ceil((x + bw) / s)), int(np.ceil((y + bh) / s))))
        return boxes


def _area(r: list[int]) -> int:
    return (r[2] - r[0]) * (r[3] - r[1])


def regions(boxes: list[Box], shape: tuple[int, ...], *, margin: int = 16,
            min_size: int = 64) -> list[Box]:
    """Pad boxes, give them a minimum size, clip to the frame and merge overlaps."""
    h, w = shape[:2]
    out: list[list[int]] = []
    for x1, y1, x2, y2 in boxes:
        x1, y1, x2, y2 = x1 - margin, y1 - margin, x2 + margin, y2 + margin
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        half_w, half_h = max(x2 - x1, min_size) / 2, max(y2 - y1, min_size) / 2
        out.append([max(0, int(cx - half_w)), max(0, int(cy - half_h)),
                    min(w, int(cx + half_w)), min(h, int(cy + half_h))])
    merged = True
    while merged and len(out) > 1:
        merged = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                a, b = out[i], out[j]
                if not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]):
                    continue
                u = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                # merge only when the union adds little empty space; else keep both
                # (overlapping crops cost less than one big one; NMS removes duplicates)
                if _area(u) <= 1.15 * (_area(a) + _area(b)):
                    out[i] = u
                    del out[j]
                    merged = True
                    break
            if merged:
                break
    return [tuple(r) for r in out]  # type: ignore[misc]


@dataclass
class _Seen:
    """What a track's last detection said."""

    t: float
    box: np.ndarray            # xyxy
    confidence: float
    class_id: int
    detections: int = 1        # detections so far
    velocity: np.ndarray | None = None  # centre, pixels per second
    predicted: int = 0         # frames in a row that used a prediction since


@dataclass
class TrackPredictor:
    """Lets a steadily moving, confirmed track skip the detector every other frame.

    At high sampling rates (a detection at most ``max_gap_s`` ago) a track seen
    ``min_detections`` times with confidence, moving straight and slowly (less than
    ``max_shift`` of its height since), is expected where its last detection moved by
    its velocity. Motion blobs that lie inside the area such tracks swept (their trail
    in the background model and where they are now) are explained by them: those blobs
    and the tracks' own boxes are not sent to the detector, and the predicted box stands
    in for the detection under the same track id, so dwell times and counts go on. A
    track is never predicted twice in a row (``max_run``), so each is re-detected at
    least every second frame and an error cannot grow; tracks that are new, uncertain,
    turning, fast or at the frame edge, and blobs only partly explained, are detected.
    At 1 fps nothing is predicted (people move too far in a second).
    """

    min_detections: int = 3     # detections before a track may be predicted
    max_run: int = 1            # predicted frames in a row before it must be detected
    min_confidence: float = 0.5
    max_shift: float = 0.15     # predicted centre shift, share of the box height
    max_gap_s: float = 0.3      # only this soon after a detection (≥ 4 fps sampling)
    max_turn: float = 0.5       # change of velocity between detections, same units
    pad: float = 0.15           # explained area around a predicted box, share of its size
    trail_s: float = 0.3        # motion this far behind a track is its own trail
    edge: int = 8               # boxes this close to the frame edge are not predicted

    def __post_init__(self) -> None:
        self.seen: dict[int, _Seen] = {}
        self.swept: list[np.ndarray] = []  # where the expected tracks were and will be

    def reset(self) -> None:
        """Forget every track (scene change)."""
        self.seen.clear()

    def expected(self, t: float, shape: tuple[int, ...]) -> dict[int, np.ndarray]:
        """Track id → predicted xyxy at time ``t`` for the tracks that may skip detection."""
        h, w = shape[:2]
        out = {}
        self.swept = []
        for tid, s in self.seen.items():
            if s.predicted >= self.max_run or s.velocity is None \
                    or s.detections < self.min_detections or s.confidence < self.min_confidence:
                continue
            if t - s.t > self.max_gap_s:
                continue
            shift = s.velocity * (t - s.t)
            height = s.box[3] - s.box[1]
            if np.hypot(*shift) > self.max_shift * height:
                continue
            box = s.box + np.tile(shift, 2)
            if box[0] < self.edge or box[1] < self.edge or box[2] > w - self.edge \
                    or box[3] > h - self.edge:
                continue
            out[tid] = box
            # the background model still shows where it walked lately: that motion too
            trail = s.box - np.tile(s.velocity * self.trail_s, 2)
            self.swept.append(np.concatenate([np.minimum(box[:2], trail[:2]),
                                              np.maximum(box[2:], trail[2:])]))
        return out

    def swept_areas(self) -> list[np.ndarray]:
        """Padded areas swept by the tracks of the latest :meth:`expected` call: motion
        there is those tracks moving on (and their trail in the background model)."""
        out = []
        for box in self.swept:
            px, py = self.pad * (box[2] - box[0]), self.pad * (box[3] - box[1])
            out.append(box + np.array([-px, -py, px, py]))
        return out

    def observe(self, t: float, tracker_id: np.ndarray, xyxy: np.ndarray,
                confidence: np.ndarray, class_id: np.ndarray, predicted: np.ndarray,
                reused: bool = False) -> None:
        """Record the tracker's output for a frame; ``predicted`` marks stand-in boxes,
        ``reused`` a frame without motion whose boxes were carried over."""
        alive = set()
        for tid, box, conf, cls, pred in zip(tracker_id, xyxy, confidence, class_id,
                                             predicted):
            tid = int(tid)
            if tid < 0:
                continue
            alive.add(tid)
            s = self.seen.get(tid)
            if pred or reused:
                if s is not None:
                    s.predicted += 1
                continue
            box = np.asarray(box, dtype=np.float64)
            if s is None:
                self.seen[tid] = _Seen(t, box, float(conf), int(cls))
                continue
            dt = t - s.t
            velocity = None
            if dt > 0:
                velocity = ((box[:2] + box[2:]) - (s.box[:2] + s.box[2:])) / (2 * dt)
                if s.velocity is not None:
                    turn = np.hypot(*(velocity - s.velocity)) * dt
                    if turn > self.max_turn * (box[3] - box[1]):
                        velocity = None  # turning or jittering: no prediction next frame
            self.seen[tid] = _Seen(t, box, float(conf), int(cls), s.detections + 1,
                                   velocity)
        for tid in list(self.seen):
            if tid not in alive:
                del self.seen[tid]
