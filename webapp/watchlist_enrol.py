"""Enrolling a watchlist person from photos: shared by ``vigil watchlist add`` and the
admin form of the recognition page.

Each photo is checked before anything is written: a JPEG or PNG (by its first bytes, not
its name), at most :data:`MAX_PHOTO_BYTES`, and exactly one face of at least
:data:`MIN_FACE_PX` pixels (the CLI's ``--largest`` takes the largest of several). A
refusal names the file (:class:`PhotoRejected`, with a code the page translates), and the
person with all faces is written in one transaction, audited by :mod:`store.watchlist`.

This module runs the face models (``analytics.recognition.faces``, imported when a photo
is checked): besides the CLI, the only web-side use of analytics/. The web process loads
the two buffalo_s files on the first enrolment by an admin, once, never for matching.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import psycopg

from store import watchlist as wl

log = logging.getLogger(__name__)

MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_PHOTOS = 10
MIN_FACE_PX = 40
_MAGIC = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG"}
_engines: dict[str, Any] = {}
_engines_lock = threading.Lock()


class ModelsMissing(RuntimeError):
    """The face models are neither in the model folder nor installed to copy from."""


class PhotoRejected(ValueError):
    """A photo that cannot be enrolled: ``code`` says why (``not_image``, ``too_large``,
    ``no_face``, ``many_faces``), ``filename`` which one, ``faces`` how many were seen."""

    def __init__(self, filename: str, code: str, faces: int = 0) -> None:
        reasons = {"not_image": "not a JPEG or PNG image",
                   "too_large": f"larger than {MAX_PHOTO_BYTES // (1024 * 1024)} MB",
                   "no_face": f"no face of at least {MIN_FACE_PX} px found",
                   "many_faces": f"{faces} faces; use a photo of the person alone"}
        super().__init__(f"{filename}: {reasons[code]}")
        self.filename, self.code, self.faces = filename, code, faces


@dataclass(frozen=True)
class EnrolFace:
    """One photo's face, ready to store: embedding, the JPEG kept, detector score."""

    filename: str
    embedding: np.ndarray
    jpeg: bytes
    score: float


def face_engine(model_dir: Path) -> Any:
    """The face models of ``model_dir`` (copied there from the wheel when missing),
    loaded once per process. ModelsMissing when neither has them."""
    from analytics.recognition.faces import FaceEngine, FaceModelsMissing, install_models

    key = str(model_dir)
    with _engines_lock:
        if key not in _engines:
            try:
                _engines[key] = FaceEngine(install_models(model_dir))
            except FaceModelsMissing as exc:
                raise ModelsMissing(str(exc)) from None
            log.info("face models loaded from %s for enrolment", model_dir)
        return _engines[key]


def decode_photo(filename: str, data: bytes) -> np.ndarray:
    """The BGR image in ``data``, or PhotoRejected naming ``filename``."""
    import cv2

    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoRejected(filename, "too_large")
    if not any(data.startswith(magic) for magic in _MAGIC):
        raise PhotoRejected(filename, "not_image")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise PhotoRejected(filename, "not_image")
    return image


def faces_from_photos(engine: Any, photos: Sequence[tuple[str, bytes]], *,
                      largest: bool = False) -> list[EnrolFace]:
    """One face per photo ``(filename, bytes)``; PhotoRejected at the first bad one."""
    from analytics.recognition.faces import encode_photo

    out = []
    for filename, data in photos:
        image = decode_photo(filename, data)
        found = [f for f in engine.detect(image) if f.size >= MIN_FACE_PX]
        if not found:
            raise PhotoRejected(filename, "no_face")
        if len(found) > 1 and not largest:
            raise PhotoRejected(filename, "many_faces", len(found))
        face = max(found, key=lambda f: f.size)
        out.append(EnrolFace(filename, engine.embed(image, face), encode_photo(image, face),
                             float(face.score)))
    return out


def enrol(conn: psycopg.Connection, model: str, name: str, faces: Sequence[EnrolFace],
          actor: str, *, reason: str | None = None, category: str = "wanted",
          remote: str | None = None) -> int:
    """Store a person with their faces in one transaction (all or nothing); the id.
    ValueError for a bad name or category."""
    if not faces:
        raise ValueError("at least one photo with a face is needed")
    with conn.transaction():
        pid = wl.add_person(conn, name, actor, reason=reason, category=category,
                            remote=remote)
        for face in faces:
            wl.add_face(conn, pid, face.embedding, face.jpeg, model, actor,
                        det_score=face.score, remote=remote)
    return pid
