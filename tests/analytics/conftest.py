"""Analytics fixtures: real sample media (vtest.avi from Debian opencv-doc, test photos)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent.parent / "data"
VTEST_DIRS = [Path("/usr/share/doc/opencv-doc/examples/data"),
              Path("/usr/share/opencv4/samples/data")]


@pytest.fixture(scope="session")
def vtest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """vtest.avi (768×576, 10 fps, 80 s pedestrians), decompressed if Debian gzipped it."""
    for folder in VTEST_DIRS:
        if (folder / "vtest.avi").is_file():
            return folder / "vtest.avi"
        packed = folder / "vtest.avi.gz"
        if packed.is_file():
            out = tmp_path_factory.mktemp("media") / "vtest.avi"
            with gzip.open(packed) as src, out.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            return out
    pytest.skip("vtest.avi not found: apt-get install opencv-doc (scripts/apt-packages.txt)")


@pytest.fixture(scope="session")
def detector():
    """The default ONNX YOLOv8n detector (one per test session: loading costs ~0.3 s)."""
    from analytics.detectors import make_detector

    return make_detector("onnx_yolo")
