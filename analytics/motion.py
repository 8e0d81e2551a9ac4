"""Motion gating, as Frigate does it: a cheap background model decides whether the
detector runs on a frame, and on which regions of it.

A small grey copy of each frame is compared with a running average; changed pixels are
grouped into boxes. A static scene yields no boxes and the detector is skipped; moving
people yield a few regions (motion boxes plus the boxes of objects already tracked,
padded and merged) that are cropped and packed for the detector (see
:mod:`analytics.mosaic`). A full-frame pass still runs every ``refresh_s`` so that
objects that stopped moving are seen again.
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
        if changed == 0:
            return []
        mask = cv2.dilate(mask, self._kernel, iterations=2)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        min_px = self.min_area * mask.size
        boxes = []
        for c in contours:
            x, y, bw, bh = cv2.boundingRect(c)
            if bw * bh >= min_px:
                boxes.append((int(x / scale), int(y / scale),
                              int(np.ceil((x + bw) / scale)), int(np.ceil((y + bh) / scale))))
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
