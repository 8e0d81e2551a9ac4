"""Rendered Vietnamese plates (DejaVu Sans Bold) warped like a photograph, on a real photo."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"),)
DATA = Path(__file__).resolve().parent.parent / "data"


def font(size: int):  # noqa: ANN201 - PIL.ImageFont.FreeTypeFont
    """DejaVu Sans Bold (Debian fonts-dejavu-core)."""
    import pytest

    ImageFont = pytest.importorskip("PIL.ImageFont", reason="Pillow (comes with the "
                                    "'recognition' extra) is not installed")
    for folder in FONT_DIRS:
        path = folder / "DejaVuSans-Bold.ttf"
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    pytest.skip("DejaVuSans-Bold.ttf missing: apt-get install fonts-dejavu-core")


def render_plate(rows: list[str]) -> np.ndarray:
    """A white plate with a black border and ``rows`` of text, BGR."""
    from PIL import Image, ImageDraw

    f = font(64)
    widths = [f.getbbox(r)[2] for r in rows]
    w = max(widths) + 60
    h = 90 * len(rows) + 20
    img = Image.new("RGB", (w, h), (236, 236, 232))
    d = ImageDraw.Draw(img)
    d.rectangle([3, 3, w - 4, h - 4], outline=(20, 20, 20), width=5)
    for i, (row, rw) in enumerate(zip(rows, widths)):
        d.text(((w - rw) / 2, 12 + 90 * i), row, font=f, fill=(15, 15, 15))
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)


def photograph(plate: np.ndarray, width: int = 150, skew: float = 0.12,
               seed: int = 0) -> np.ndarray:
    """The plate perspective-warped onto the lower part of a real photo (bus.jpg), blurred
    and noisy as a camera would see it; returns a vehicle-sized crop."""
    rng = np.random.default_rng(seed)
    scene = cv2.imread(str(DATA / "bus.jpg"))
    crop = cv2.resize(scene[300:800, 50:600], (360, 300))
    ph, pw = plate.shape[:2]
    h = width * ph / pw
    x0, y0 = 180 - width / 2, 190
    dst = np.float32([[x0 + skew * width, y0], [x0 + width, y0 + skew * h],
                      [x0 + width - skew * width * 0.5, y0 + h], [x0, y0 + h * (1 - skew)]])
    src = np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]])
    m = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(plate, m, (crop.shape[1], crop.shape[0]))
    mask = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), m,
                               (crop.shape[1], crop.shape[0]))
    out = crop.copy()
    out[mask > 0] = warped[mask > 0]
    out = cv2.GaussianBlur(out, (3, 3), 0.8)
    noise = rng.normal(0, 4, out.shape)
    return np.clip(out.astype(np.float64) + noise, 0, 255).astype(np.uint8)
