"""Camera health from the frames themselves: offline, frozen, black, blurred, moved.

Each condition must hold for ``hold_s`` (offline: ``offline_after_s`` without a frame)
before it fires once; it fires again only after it has cleared. A camera that comes back
after being offline yields ``camera_online``. The checks run on a small grey copy of the
frame, so they cost well under a millisecond.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from analytics.config import HealthConfig


@dataclass(frozen=True)
class HealthChange:
    """A health event to emit: its kind and the measured value."""

    kind: str
    value: float | None
    detail: str


class CameraHealth:
    """Health state of one camera."""

    def __init__(self, config: HealthConfig, started: float | None = None) -> None:
        self.config = config
        self.offline = False
        self.last_frame_t: float | None = None  # monotonic wall clock
        self.started = time.monotonic() if started is None else started
        self._since: dict[str, float] = {}        # condition → media time it began
        self._active: set[str] = set()
        self._prev: np.ndarray | None = None
        self._reference: np.ndarray | None = None

    @property
    def status(self) -> str:
        """Registry status: offline, tampered (any image problem) or online."""
        if self.offline:
            return "offline"
        return "tampered" if self._active else "online"

    def tick(self, now: float) -> list[HealthChange]:
        """Check for a silent camera; ``now`` is time.monotonic()."""
        if self.offline:
            return []
        silent = now - (self.last_frame_t if self.last_frame_t is not None else self.started)
        if silent >= self.config.offline_after_s:
            self.offline = True
            detail = f"no frame for {silent:.0f}s" if self.last_frame_t is not None \
                else f"no frame since start ({silent:.0f}s)"
            return [HealthChange("camera_offline", silent, detail)]
        return []

    def lost(self) -> list[HealthChange]:
        """The source reports it lost the stream before any frame came (never connected)."""
        if self.offline:
            return []
        self.offline = True
        return [HealthChange("camera_offline", None, "stream cannot be opened")]

    def frame(self, image: np.ndarray, t: float, now: float) -> list[HealthChange]:
        """Check one sampled frame at media time ``t``; ``now`` is time.monotonic()."""
        changes: list[HealthChange] = []
        if self.offline:
            self.offline = False
            changes.append(HealthChange("camera_online", None, "frames again"))
            self._prev = None
        self.last_frame_t = now
        small = cv2.resize(image, (160, 120), interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        luma = float(grey.mean())
        sharp = float(cv2.Laplacian(grey, cv2.CV_64F).var())
        still = (self._prev is not None
                 and float(cv2.absdiff(grey, self._prev).mean()) < 0.25)
        self._prev = grey
        cfg = self.config
        black = luma < cfg.black_luma
        checks = {
            "camera_blackout": (black, luma, f"mean luma {luma:.1f}"),
            "camera_frozen": (still and not black, None, "identical frames"),
            "camera_blur": (not black and sharp < cfg.blur_var, sharp,
                            f"laplacian variance {sharp:.1f}"),
        }
        moved, distance = self._scene_distance(grey, black)
        checks["camera_scene_change"] = (moved, distance, f"scene distance {distance:.2f}")
        for kind, (bad, value, detail) in checks.items():
            hold = cfg.frozen_after_s if kind == "camera_frozen" else cfg.hold_s
            if not bad:
                self._since.pop(kind, None)
                self._active.discard(kind)
                continue
            start = self._since.setdefault(kind, t)
            if kind not in self._active and t - start >= hold:
                self._active.add(kind)
                changes.append(HealthChange(kind, value, detail))
                if kind == "camera_scene_change":
                    self._reference = self._small(grey)
                    self._since.pop(kind, None)
                    self._active.discard(kind)
        return changes

    @staticmethod
    def _small(grey: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(cv2.resize(grey, (40, 30), interpolation=cv2.INTER_AREA),
                                (5, 5), 0).astype(np.float32)

    def _scene_distance(self, grey: np.ndarray, black: bool) -> tuple[bool, float]:
        """1 − correlation between this frame and a slowly updated reference of the scene."""
        cur = self._small(grey)
        if self._reference is None or black:
            if self._reference is None:
                self._reference = cur
            return False, 0.0
        a = cur - cur.mean()
        b = self._reference - self._reference.mean()
        denom = float(np.sqrt((a * a).sum() * (b * b).sum())) or 1.0
        distance = 1.0 - float((a * b).sum()) / denom
        moved = distance > self.config.scene_change
        if not moved:
            cv2.accumulateWeighted(cur, self._reference, 0.05)
        return moved, distance
