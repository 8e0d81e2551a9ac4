"""The one detections object of the pipeline is :class:`supervision.Detections`.

This module holds the few operations on it that the pipeline needs and supervision
does not have: non-maximum suppression per class, moving boxes between a crop and its
frame, and the ground point (bottom centre) of each box.
"""

from __future__ import annotations

import numpy as np
import supervision as sv


def empty() -> sv.Detections:
    """Detections with no boxes."""
    return sv.Detections.empty()


def nms(xyxy: np.ndarray, scores: np.ndarray, class_id: np.ndarray,
        iou: float = 0.45) -> np.ndarray:
    """Indices kept by class-aware greedy NMS, highest score first."""
    if len(xyxy) == 0:
        return np.zeros(0, dtype=np.int64)
    # offset boxes by class so different classes never suppress each other
    boxes = xyxy + (class_id.astype(np.float64) * 8192.0)[:, None]
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    order = scores.argsort()[::-1]
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = (np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest])).clip(0)
        h = (np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest])).clip(0)
        inter = w * h
        ious = inter / (areas[i] + areas[rest] - inter + 1e-9)
        order = rest[ious <= iou]
    return np.asarray(keep, dtype=np.int64)


def merge(parts: list[sv.Detections], iou: float = 0.5) -> sv.Detections:
    """Concatenate detections (e.g. from overlapping crops) and suppress duplicates."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty()
    merged = sv.Detections.merge(parts)
    keep = nms(merged.xyxy, merged.confidence, merged.class_id, iou)
    return merged[np.sort(keep)]


def ground_points(det: sv.Detections) -> np.ndarray:
    """Bottom-centre point of each box (where a person or vehicle touches the ground)."""
    if len(det) == 0:
        return np.zeros((0, 2))
    return np.column_stack([(det.xyxy[:, 0] + det.xyxy[:, 2]) / 2, det.xyxy[:, 3]])


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU between two arrays of xyxy boxes."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    area_a = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]))[:, None]
    area_b = ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))[None, :]
    return inter / (area_a + area_b - inter + 1e-9)
