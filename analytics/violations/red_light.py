"""Red light: the signal head's colour read from its pixels, a stop line, vehicle tracks.

:func:`signal_state` splits the configured signal-head box into three lamps (red on top,
amber, green below) and calls a lamp lit when enough of its pixels are bright and
saturated in the lamp's hue. :class:`RedLightWatcher` fires ``red_light`` when a vehicle
track's ground point crosses the stop line in the travel direction while the head shows
red (or amber, if configured), with the frame before the crossing as evidence; the stage
adds a frame ``after_s`` later.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import supervision as sv

from analytics.detections import ground_points
from analytics.rules import Firing
from analytics.violations.config import RedLightRule

#: OpenCV hue ranges (0–180) of each lamp.
_HUES = {"red": ((0, 10), (165, 180)), "amber": ((11, 34),), "green": ((35, 100),)}


@dataclass(frozen=True)
class SignalReading:
    """The lit share of each lamp and the state they add up to."""

    state: str  # "red" | "amber" | "green" | "dark"
    lit: dict[str, float]


def signal_state(image: np.ndarray, box: tuple[int, int, int, int],
                 min_lit: float = 0.15, layout: str = "vertical") -> SignalReading:
    """Which lamp of a three-lamp signal head is lit (``dark``: none); red is the top
    lamp (``vertical``) or the left one (``horizontal``)."""
    x1, y1, x2, y2 = box
    head = image[max(0, y1):y2, max(0, x1):x2]
    if head.size == 0:
        return SignalReading("dark", {})
    if layout == "horizontal":
        head = cv2.rotate(head, cv2.ROTATE_90_CLOCKWISE)  # left lamp → top
    hsv = cv2.cvtColor(head, cv2.COLOR_BGR2HSV)
    bright = (hsv[..., 2] >= 150) & (hsv[..., 1] >= 90)
    thirds = np.array_split(np.arange(hsv.shape[0]), 3)
    lit = {}
    for lamp, rows in zip(("red", "amber", "green"), thirds):
        hue = hsv[rows, :, 0]
        in_hue = np.zeros(hue.shape, bool)
        for lo, hi in _HUES[lamp]:
            in_hue |= (hue >= lo) & (hue <= hi)
        lit[lamp] = float((in_hue & bright[rows]).mean()) if len(rows) else 0.0
    lamp = max(lit, key=lit.__getitem__)
    return SignalReading(lamp if lit[lamp] >= min_lit else "dark", lit)


def _side(line: tuple[tuple[float, float], tuple[float, float]], x: float, y: float) -> float:
    (ax, ay), (bx, by) = line
    return (bx - ax) * (y - ay) - (by - ay) * (x - ax)


class RedLightWatcher:
    """The ``red_light`` frame rule of one camera."""

    def __init__(self, rule: RedLightRule) -> None:
        self.rule = rule
        self._last: dict[int, tuple[float, float, float]] = {}
        self._fired: dict[int, float] = {}
        self.state = "dark"
        self._prev_jpeg: bytes | None = None

    def observe(self, image: np.ndarray, t: float, tracked: sv.Detections) -> list[Firing]:
        """Signal state now, and a firing for each vehicle crossing the line on red."""
        rule = self.rule
        reading = signal_state(image, rule.signal, rule.min_lit, rule.layout)
        self.state = reading.state
        red = reading.state == "red" or (rule.amber_is_red and reading.state == "amber")
        out = []
        if len(tracked) and tracked.tracker_id is not None:
            sel = tracked[np.isin(tracked.class_id, rule.classes)]
            pts = ground_points(sel)
            (ax, ay), (bx, by) = rule.stop_line
            for i, tid in enumerate(sel.tracker_id.astype(int)):
                tid = int(tid)
                x, y = float(pts[i, 0]), float(pts[i, 1])
                prev = self._last.get(tid)
                self._last[tid] = (x, y, t)
                if prev is None or not red:
                    continue
                before, now = _side(rule.stop_line, prev[0], prev[1]), _side(rule.stop_line, x, y)
                if before == 0 or before * now > 0:
                    continue
                # the crossing point must lie on the segment, and the move go forward
                denom = before - now
                cx, cy = prev[0] + (x - prev[0]) * before / denom, \
                    prev[1] + (y - prev[1]) * before / denom
                lo_x, hi_x = sorted((ax, bx))
                lo_y, hi_y = sorted((ay, by))
                if not (lo_x - 2 <= cx <= hi_x + 2 and lo_y - 2 <= cy <= hi_y + 2):
                    continue
                dx, dy = rule.direction
                if (x - prev[0]) * dx + (y - prev[1]) * dy <= 0:
                    continue
                last = self._fired.get(tid)
                if last is not None and t - last < rule.cooldown_s:
                    continue
                self._fired[tid] = t
                attrs = {"signal": reading.state,
                         "lit": {k: round(v, 3) for k, v in reading.lit.items()},
                         "class_id": int(sel.class_id[i]), "crossed_at": [round(cx, 1),
                                                                          round(cy, 1)]}
                if self._prev_jpeg is not None:
                    attrs["_before"] = self._prev_jpeg
                out.append(Firing("red_light", rule.id, tid, None, sel.xyxy[i], (x, y),
                                  rule.zone_id, attrs))
        self._prev_jpeg = _jpeg(image)
        self._last = {k: v for k, v in self._last.items() if t - v[2] < 30}
        return out


def _jpeg(image: np.ndarray) -> bytes | None:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return buf.tobytes() if ok else None
