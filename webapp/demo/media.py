"""The demo's real video: OpenCV's sample clip ``vtest.avi`` from Debian's ``opencv-doc``.

The calibrated demo cameras all watch the same 80 s clip; so that they do not show the
same people at the same instant, camera *k* of *n* plays a copy that starts *k/n* of the
way in (made once with OpenCV, kept under ``<state_dir>/media``).
"""

from __future__ import annotations

import gzip
import logging
import shutil
from pathlib import Path
from typing import Sequence

log = logging.getLogger(__name__)

#: Where Debian's opencv-doc puts the sample clip (older releases gzip it).
SAMPLE_CLIP_PATHS = (Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi"),
                     Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi.gz"))


class SampleClipMissing(FileNotFoundError):
    """vtest.avi is not installed; the message says how to get it."""


def sample_clip(media_dir: Path, candidates: Sequence[Path] = SAMPLE_CLIP_PATHS) -> Path:
    """The sample clip as a plain file, unpacking a .gz copy into ``media_dir``."""
    for path in candidates:
        if not path.exists():
            continue
        if path.suffix != ".gz":
            return path
        target = media_dir / path.stem
        if not target.exists() or target.stat().st_mtime < path.stat().st_mtime:
            media_dir.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".part")
            with gzip.open(path, "rb") as src, tmp.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            tmp.replace(target)
        return target
    raise SampleClipMissing(
        "the sample clip vtest.avi is missing (looked for "
        + ", ".join(str(p) for p in candidates)
        + "); install Debian's opencv-doc (apt-get install opencv-doc) or run with --no-workers")


def rotated_copy(clip: Path, target: Path, start_frame: int) -> Path:
    """``clip`` re-encoded to start at ``start_frame`` and wrap round (same size and rate)."""
    import cv2
    if target.exists() and target.stat().st_mtime >= clip.stat().st_mtime:
        return target
    cap = cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    tmp = target.with_name(target.stem + ".part.avi")
    out = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not out.isOpened():
        cap.release()
        raise OSError(f"OpenCV cannot write {tmp} (no mp4v encoder)")
    written = 0
    try:
        # the tail from start_frame, then the head up to it: two sequential passes,
        # no frames held in memory
        for first, last in ((start_frame, None), (0, start_frame)):
            cap.set(cv2.CAP_PROP_POS_FRAMES, first)
            index = first
            while last is None or index < last:
                ok, frame = cap.read()
                if not ok:
                    break
                out.write(frame)
                written += 1
                index += 1
    finally:
        out.release()
        cap.release()
    if written == 0:
        tmp.unlink(missing_ok=True)
        raise OSError(f"no frames could be read from {clip}")
    tmp.replace(target)
    return target


def sample_clips(media_dir: Path, n: int,
                 candidates: Sequence[Path] = SAMPLE_CLIP_PATHS) -> list[Path]:
    """``n`` clips for ``n`` cameras: the sample clip and copies starting later in it.

    If a copy cannot be made (no encoder), that camera plays the original instead.
    """
    import cv2
    clip = sample_clip(media_dir, candidates)
    if n <= 1:
        return [clip] * max(n, 0)
    cap = cv2.VideoCapture(str(clip))
    frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    cap.release()
    clips = [clip]
    for k in range(1, n):
        start = frames * k // n
        try:
            media_dir.mkdir(parents=True, exist_ok=True)
            clips.append(rotated_copy(clip, media_dir / f"{clip.stem}-from-{start}.avi", start))
        except OSError as exc:
            log.warning("camera %d plays the original sample clip: %s", k + 1, exc)
            clips.append(clip)
    return clips
