"""Scripted scenes on real frames: a signal head drawn into a frame, scripted tracks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import cv2
import numpy as np
import supervision as sv

from analytics.sources import Frame

T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=10)


def draw_signal(image: np.ndarray, box: tuple[int, int, int, int], lit: str | None) -> None:
    """A vertical three-lamp signal head (dark housing, the ``lit`` lamp glowing)."""
    x1, y1, x2, y2 = box
    cv2.rectangle(image, (x1, y1), (x2, y2), (25, 25, 25), -1)
    colours = {"red": (30, 30, 240), "amber": (0, 170, 255), "green": (90, 230, 40)}
    r = min(x2 - x1, (y2 - y1) // 3) // 2 - 2
    for i, lamp in enumerate(("red", "amber", "green")):
        c = (x1 + (x2 - x1) // 2, y1 + (y2 - y1) * (2 * i + 1) // 6)
        colour = colours[lamp] if lamp == lit else (45, 45, 40)
        cv2.circle(image, c, r, colour, -1, cv2.LINE_AA)
        if lamp == lit:
            cv2.circle(image, c, r // 2, tuple(min(255, v + 60) for v in colour), -1)


def frame(image: np.ndarray, t: float, index: int = 0) -> Frame:
    """A sampled frame at media time ``t``."""
    return Frame(image=image, t=t, ts=T0 + timedelta(seconds=t), index=index)


def tracks(boxes: dict[int, tuple[float, float, float, float]], class_id: int = 2
           ) -> sv.Detections:
    """Tracked detections: track id → xyxy."""
    if not boxes:
        return sv.Detections.empty()
    ids = sorted(boxes)
    return sv.Detections(xyxy=np.array([boxes[i] for i in ids], float),
                         confidence=np.full(len(ids), 0.9),
                         class_id=np.full(len(ids), class_id),
                         tracker_id=np.array(ids))
