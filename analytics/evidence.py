"""Evidence images: a JPEG of the full frame and of the object's crop, with SHA-256.

Files go under ``settings.evidence_root/<camera>/<YYYYMMDD>/``; the event keeps the full
frame as :class:`store.model.Evidence` (path relative to the root, hash) and the crop in
``attributes["crop"]``. Frames are stored unaltered; the box is in ``attributes["box"]``.
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from store.model import Evidence

_seq = itertools.count()


class EvidenceStore:
    """Writes evidence JPEGs for one worker process."""

    def __init__(self, root: Path, quality: int = 85) -> None:
        self.root = Path(root)
        self.quality = quality

    def _write(self, rel: Path, image: np.ndarray) -> Evidence:
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise ValueError(f"cannot encode evidence image {rel}")
        data = buf.tobytes()
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
        return Evidence(rel.as_posix(), hashlib.sha256(data).hexdigest())

    def save(self, camera_id: str, ts: datetime, kind: str, frame: np.ndarray,
             box: np.ndarray | None = None) -> tuple[Evidence, Evidence | None]:
        """Write the full frame and (with ``box``) a padded crop; return both references."""
        stem = f"{ts.strftime('%H%M%S_%f')}_{kind}_{next(_seq)}"
        folder = Path(camera_id) / ts.strftime("%Y%m%d")
        full = self._write(folder / f"{stem}.jpg", frame)
        crop = None
        if box is not None:
            h, w = frame.shape[:2]
            x1, y1, x2, y2 = (float(v) for v in box)
            pad_x, pad_y = (x2 - x1) * 0.15 + 4, (y2 - y1) * 0.15 + 4
            x1, y1 = max(0, int(x1 - pad_x)), max(0, int(y1 - pad_y))
            x2, y2 = min(w, int(x2 + pad_x)), min(h, int(y2 + pad_y))
            if x2 > x1 and y2 > y1:
                crop = self._write(folder / f"{stem}_crop.jpg", frame[y1:y2, x1:x2])
        return full, crop
