"""Licence plates read inside vehicle crops with rapidocr (PP-OCR ONNX, Apache-2.0).

:class:`PlateReader` finds text lines in a vehicle crop (rapidocr's detector and
recogniser, models from the rapidocr wheel, never downloaded), tries each line and each
pair of stacked lines (two-row plates) against :func:`parse_plate`, and keeps the best
valid plate. :class:`PlateWatcher` is the frame rule: it reads tracked vehicles, votes
per track (:class:`PlateVoter`) and fires ``plate_read`` once per track, plus
``plate_match`` when the plate is on the hotlist.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import cv2
import numpy as np
import supervision as sv

from store.plate_format import Plate, PlateVote, PlateVoter, parse_plate, plate_attributes
from analytics.rules import Firing
from analytics.violations.config import PlateRule

log = logging.getLogger(__name__)


class OcrMissing(ImportError):
    """rapidocr (the ``recognition`` extra) is not installed."""


@dataclass(frozen=True)
class PlateRead:
    """One plate found in one crop: the plate, OCR confidence, box in crop pixels."""

    plate: Plate
    confidence: float
    box: tuple[float, float, float, float]
    raw: tuple[str, ...]


def _model_dir() -> Path:
    try:
        import rapidocr
    except ImportError:
        raise OcrMissing("plate reading needs rapidocr: pip install 'vigil[recognition]'"
                         ) from None
    return Path(rapidocr.__file__).resolve().parent / "models"


class PlateReader:
    """rapidocr over vehicle crops, with the models shipped in its wheel (no downloads)."""

    def __init__(self, min_width: int = 320, det_side: int = 480, threads: int = 1) -> None:
        models = _model_dir()
        from rapidocr import RapidOCR

        paths = {"Det": models / "PP-OCRv6_det_small.onnx",
                 "Rec": models / "PP-OCRv6_rec_small.onnx",
                 "Cls": models / "ch_ppocr_mobile_v2.0_cls_mobile.onnx"}
        for path in paths.values():
            if not path.is_file():
                raise OcrMissing(f"rapidocr model {path} missing: reinstall rapidocr 3.x")
        params = {"Global.log_level": "error", "Global.use_cls": False,
                  "Det.limit_side_len": det_side,
                  "EngineConfig.onnxruntime.intra_op_num_threads": threads,
                  "EngineConfig.onnxruntime.inter_op_num_threads": 1}
        params.update({f"{k}.model_path": str(v) for k, v in paths.items()})
        self.engine = RapidOCR(params=params)
        self.min_width = min_width
        self.calls = 0
        self.seconds = 0.0

    def lines(self, crop: np.ndarray) -> list[tuple[np.ndarray, str, float]]:
        """Text lines in ``crop``: (4×2 box in crop pixels, text, score)."""
        h, w = crop.shape[:2]
        scale = max(1.0, self.min_width / max(1, w))
        image = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC) \
            if scale > 1 else crop
        t0 = time.perf_counter()
        out = self.engine(image, use_cls=False)
        self.seconds += time.perf_counter() - t0
        self.calls += 1
        if out.boxes is None or out.txts is None:
            return []
        return [(np.asarray(b, dtype=np.float64) / scale, str(t), float(s))
                for b, t, s in zip(out.boxes, out.txts, out.scores)]

    def read(self, crop: np.ndarray) -> PlateRead | None:
        """The best valid plate in ``crop`` (fewest repairs, then highest confidence)."""
        return best_plate(self.lines(crop))


def _stacked(top: np.ndarray, bottom: np.ndarray) -> bool:
    tx1, ty1, tx2, ty2 = top[:, 0].min(), top[:, 1].min(), top[:, 0].max(), top[:, 1].max()
    bx1, by1, bx2, by2 = (bottom[:, 0].min(), bottom[:, 1].min(), bottom[:, 0].max(),
                          bottom[:, 1].max())
    if (ty1 + ty2) / 2 >= (by1 + by2) / 2:
        return False
    overlap = min(tx2, bx2) - max(tx1, bx1)
    height = max(ty2 - ty1, by2 - by1)
    return overlap >= 0.4 * min(tx2 - tx1, bx2 - bx1) and by1 - ty2 < 0.8 * height


def best_plate(lines: list[tuple[np.ndarray, str, float]]) -> PlateRead | None:
    """The best plate spelled by one line or two stacked lines of an OCR result."""
    found: list[PlateRead] = []
    for i, (box, text, score) in enumerate(lines):
        candidates = [((box,), (text,), score)]
        for j, (box2, text2, score2) in enumerate(lines):
            if j != i and _stacked(box, box2):
                candidates.append(((box, box2), (text, text2), min(score, score2)))
        for boxes, texts, conf in candidates:
            plate = parse_plate(list(texts))
            if plate is None:
                continue
            pts = np.vstack(boxes)
            found.append(PlateRead(plate, conf, (float(pts[:, 0].min()),
                                                 float(pts[:, 1].min()),
                                                 float(pts[:, 0].max()),
                                                 float(pts[:, 1].max())), texts))
    if not found:
        return None
    # two-row reads beat their own top line read alone; then fewer repairs, then score
    return min(found, key=lambda r: (r.plate.fixes, -len(r.raw), -r.confidence))


class PlateWatcher:
    """The ``plate_read`` frame rule of one camera (see the module docstring)."""

    def __init__(self, rule: PlateRule, reader: PlateReader,
                 hotlist: Callable[[], Mapping[str, Mapping[str, object]]]) -> None:
        self.rule = rule
        self.reader = reader
        self.hotlist = hotlist
        self.voter = PlateVoter(rule.min_reads, rule.min_share)
        self._seen: dict[int, int] = {}
        self._boxes: dict[int, np.ndarray] = {}
        self._tries: dict[int, int] = {}
        self._last_t: dict[int, float] = {}
        self._crops: dict[int, dict[str, tuple[float, bytes]]] = {}

    def observe(self, image: np.ndarray, t: float, tracked: sv.Detections) -> list[Firing]:
        """Read this frame's vehicles; firings for tracks decided now or just ended."""
        out: list[Firing] = []
        if len(tracked) and tracked.tracker_id is not None:
            sel = tracked[np.isin(tracked.class_id, self.rule.classes)]
            h, w = image.shape[:2]
            for box, tid in zip(sel.xyxy, sel.tracker_id.astype(int)):
                tid = int(tid)
                n = self._seen[tid] = self._seen.get(tid, -1) + 1
                self._boxes[tid] = box
                self._last_t[tid] = t
                x1, y1, x2, y2 = (int(round(v)) for v in box)
                x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
                if self.voter.decided(tid) or n % self.rule.every_n or \
                        x2 - x1 < self.rule.min_box_px or y2 <= y1 or \
                        self._tries.get(tid, 0) >= self.rule.max_attempts:
                    continue
                self._tries[tid] = self._tries.get(tid, 0) + 1
                read = self.reader.read(image[y1:y2, x1:x2])
                if read is None:
                    continue
                self._keep_crop(tid, read, image[y1:y2, x1:x2])
                vote = self.voter.add(tid, read.plate, read.confidence, t)
                if vote is not None:
                    out.extend(self._fire(vote))
        ended = set(self.voter.stale(t, self.rule.forget_s))
        ended.update(tid for tid, last in self._last_t.items()
                     if t - last > self.rule.forget_s)
        for vote in self.voter.finish(sorted(ended)):
            out.extend(self._fire(vote))
        for tid in ended:  # unreadable tracks too: nothing is kept for a gone track
            for memory in (self._seen, self._boxes, self._tries, self._last_t, self._crops):
                memory.pop(tid, None)
        return out

    def _keep_crop(self, tid: int, read: PlateRead, vehicle: np.ndarray) -> None:
        """Keep the JPEG of the plate region of the most confident read of each plate."""
        crops = self._crops.setdefault(tid, {})
        best = crops.get(read.plate.compact)
        if best is not None and best[0] >= read.confidence:
            return
        x1, y1, x2, y2 = read.box
        px, py = (x2 - x1) * 0.2 + 4, (y2 - y1) * 0.3 + 4
        h, w = vehicle.shape[:2]
        region = vehicle[max(0, int(y1 - py)):min(h, int(y2 + py)),
                         max(0, int(x1 - px)):min(w, int(x2 + px))]
        ok, buf = cv2.imencode(".jpg", region, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if ok and region.size:
            crops[read.plate.compact] = (read.confidence, buf.tobytes())

    def _fire(self, vote: PlateVote) -> list[Firing]:
        p = vote.plate
        attrs = dict(plate_attributes(p), votes_share=round(vote.share, 3),
                     reads=vote.reads, confidence=round(vote.confidence, 3))
        box = self._boxes.get(vote.track_id)
        pixel = None if box is None else (float(box[0] + box[2]) / 2, float(box[3]))
        crop = self._crops.get(vote.track_id, {}).get(p.compact)
        if crop is not None:  # the stage stores it: the thumbnail of the read
            attrs["_crop"] = crop[1]
        out = [Firing("plate_read", self.rule.id, vote.track_id, round(vote.confidence, 3),
                      box, pixel, self.rule.zone_id, attrs)]
        entry = self.hotlist().get(p.compact)
        if entry is not None:
            out.append(Firing("plate_match", self.rule.id, vote.track_id,
                              round(vote.confidence, 3), box, pixel, self.rule.zone_id,
                              dict(attrs, hotlist=dict(entry))))
        return out
