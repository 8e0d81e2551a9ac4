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
MAX_PHOTO_PIXELS = 40_000_000  # a small file can declare a huge image: checked before decoding
_MAGIC = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG"}
_engines: dict[str, Any] = {}
_engines_lock = threading.Lock()


class ModelsMissing(RuntimeError):
    """The face models are neither in the model folder nor installed to copy from."""


class PhotoRejected(ValueError):
    """A photo that cannot be enrolled: ``code`` says why (``not_image``, ``too_large``,
    ``too_many_pixels``, ``no_face``, ``many_faces``), ``filename`` which one, ``faces`` how many were seen."""

    def __init__(self, filename: str, code: str, faces: int = 0) -> None:
        reasons = {"not_image": "not a JPEG or PNG image",
                   "too_large": f"larger than {MAX_PHOTO_BYTES // (1024 * 1024)} MB",
                   "too_many_pixels": f"more than {MAX_PHOTO_PIXELS // 1_000_000} megapixels",
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
    size = declared_size(data)
    if size is None:
        raise PhotoRejected(filename, "not_image")
    if size[0] * size[1] > MAX_PHOTO_PIXELS:
        raise PhotoRejected(filename, "too_many_pixels")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise PhotoRejected(filename, "not_image")
    return image


def declared_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR or a JPEG's frame header, read without decoding
    the pixels; None when the header is not found."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        if len(data) < 24 or data[12:16] != b"IHDR":
            return None
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            i += 2
            continue
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
            height = int.from_bytes(data[i + 5:i + 7], "big")
            width = int.from_bytes(data[i + 7:i + 9], "big")
            return width, height
        i += 2 + length
    return None


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
