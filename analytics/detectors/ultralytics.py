"""Optional backend: the ultralytics package for user-trained ``.pt``/``.onnx`` models.

Install with the ``ultralytics`` extra. It runs offline (``YOLO_OFFLINE=1`` is set before
the import) and never fetches weights: a missing file is :class:`ModelMissing`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import supervision as sv

from analytics.detectors import Detector, check_model


class UltralyticsYolo(Detector):
    """Detector over ``ultralytics.YOLO``; frames are passed as one batch."""

    key = "ultralytics"

    def __init__(self, model: Path | str, *, confidence: float = 0.3, iou: float = 0.45,
                 classes: tuple[int, ...] | None = None, imgsz: int = 640) -> None:
        path = check_model(model)
        os.environ.setdefault("YOLO_OFFLINE", "1")
        try:
            from ultralytics import YOLO
        except ImportError as exc:
            raise ImportError("detector 'ultralytics' needs the optional extra: "
                              "pip install 'vigil[ultralytics]' (with torch)") from exc
        self.model = YOLO(str(path), task="detect")
        self.class_names = {int(k): str(v) for k, v in (self.model.names or {}).items()}
        self.options = {"conf": confidence, "iou": iou, "imgsz": imgsz, "verbose": False,
                        "classes": list(classes) if classes is not None else None}

    def detect(self, frames: list[np.ndarray]) -> list[sv.Detections]:
        """One Detections per frame."""
        if not frames:
            return []
        results = self.model.predict(list(frames), **self.options)
        return [sv.Detections.from_ultralytics(r) for r in results]
