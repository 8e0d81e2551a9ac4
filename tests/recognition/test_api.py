"""Recognition API on a real database: roles, ward scope, audit rows, refusals."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from store import watchlist as wl
from store.model import Evidence, GeoEvent
from store.registry import Camera, upsert_cameras
from store.settings import load_settings
from store.writer import EventWriter

from tests.recognition.recognition_testing import client_for


@pytest.fixture
def seeded(db_url: str, conn, tmp_path: Path):
    """Two plate reads in two wards, a hotlist entry, an enrolled person."""
    upsert_cameras(conn, [Camera(id="cam-a", name="A", lon=103.96, lat=10.22,
                                 ward_id="ward-a"),
                          Camera(id="cam-b", name="B", lon=104.04, lat=10.15,
                                 ward_id="ward-b")])
    pid = wl.add_person(conn, "Nguyễn Văn A", "seed")
    fid = wl.add_face(conn, pid, np.ones(512), b"\xff\xd8\xff\xe0photo", "m", "seed")
    conn.commit()
    writer = EventWriter(db_url, load_settings({"state_dir": tmp_path / "w"}, environ={}))
    now = datetime.now(timezone.utc) - timedelta(minutes=5)
    for cam, ward, plate in (("cam-a", "ward-a", "51G-123.45"),
                             ("cam-b", "ward-b", "51G-123.46")):
        p = wl.normalise_plate(plate)
        writer.submit(GeoEvent(ts=now, camera_id=cam, kind="plate_read", lon=103.96,
                               lat=10.22, ward_id=ward, attributes={
                                   "plate": p.text, "plate_compact": p.compact},
                               evidence=Evidence(f"{cam}/thumb.jpg", "0" * 64)))
    writer.flush(timeout=30)
    writer.close()
    return {"person": pid, "face": fid}


@pytest.mark.parametrize("role, path, status", [
    ("planner", "/api/v1/recognition/plates?plate=51G", 403),
    ("planner", "/api/v1/recognition/hotlist", 403),
    ("operator", "/api/v1/recognition/watchlist", 403),
    ("commander", "/api/v1/recognition/audit", 403),
    ("operator", "/api/v1/recognition/plates?plate=51G", 200),
    ("operator", "/api/v1/recognition/hotlist", 200),
    ("admin", "/api/v1/recognition/watchlist", 200),
    ("admin", "/api/v1/recognition/audit", 200),
])
def test_roles(app, seeded, role, path, status):
    assert client_for(app, role).get(path).status_code == status


def test_anonymous_is_refused(app):
    assert app.test_client().get("/api/v1/recognition/plates?plate=5").status_code == 401


def test_plate_search_is_partial_scoped_and_audited(app, seeded, conn):
    op = client_for(app, "operator")
    r = op.get("/api/v1/recognition/plates?plate=51g-123.4")
    assert r.status_code == 200 and r.json["plate"] == "51G1234"
    assert sorted(e["attributes"]["plate"] for e in r.json["events"]) == [
        "51G-123.45", "51G-123.46"]
    assert all(e["evidence_url"] == f"/api/v1/events/{e['id']}/evidence"
               for e in r.json["events"])
    r = client_for(app, "commander").get("/api/v1/recognition/plates?plate=51G")
    assert [e["ward_id"] for e in r.json["events"]] == ["ward-a"]  # ward scope
    bad = op.get("/api/v1/recognition/plates?plate=--")
    assert bad.status_code == 400 and bad.json["error"]["details"]["parameter"] == "plate"
    csv = op.get("/api/v1/recognition/plates?plate=123.46&format=csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.data.startswith("\ufeff".encode())         # UTF-8 with BOM for Excel
    lines = csv.data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("event_id,ts,kind,kind_name,plate") and len(lines) == 2
    assert ",plate_read,Đọc biển số,51G-123.46,," in lines[1]       # names beside the ids
    assert ",cam-b," in lines[1] and ",ward-b," in lines[1]
    assert re.search(r",\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00,", lines[1])  # Vietnam time
    assert op.get("/api/v1/recognition/plates?plate=1&format=xml").status_code == 400
    searches = [(a["actor"], a["action"], a["target"]) for a in wl.audit_log(conn)
                if a["action"].startswith("plates.")]
    assert searches == [("operator", "plates.export", "123.46"),
                        ("commander", "plates.search", "51G"),
                        ("operator", "plates.search", "51g-123.4")]


def test_hotlist_add_remove_with_csrf_and_validation(app, seeded, conn):
    op = client_for(app, "operator")
    no_csrf = op.post("/api/v1/recognition/hotlist", json={"plate": "59-X3 123.45"})
    assert no_csrf.status_code == 403
    headers = {"X-CSRF-Token": op.csrf}
    r = op.post("/api/v1/recognition/hotlist", json={"plate": "59-x3 123.45",
                                                     "reason": "trộm"}, headers=headers)
    assert r.status_code == 201 and r.json["plate"] == "59-X3 123.45"
    for body, status in (({"plate": "13A-123.45"}, 422), ({"plate": 5}, 400),
                         ({"plate": "51G-123.45", "colour": "red"}, 400),
                         ({"plate": "51G-123.45", "expires_at": "tomorrow"}, 400), ({}, 400)):
        res = op.post("/api/v1/recognition/hotlist", json=body, headers=headers)
        assert res.status_code == status, (body, res.json)
    assert list(wl.active_hotlist(conn)) == ["59X312345"]
    assert op.delete("/api/v1/recognition/hotlist/59X312345", headers=headers).status_code == 200
    assert op.delete("/api/v1/recognition/hotlist/59X312345", headers=headers).status_code == 404
    assert wl.active_hotlist(conn) == {}


def test_watchlist_admin_views_photo_and_remove_are_audited(app, seeded, conn):
    admin = client_for(app, "admin")
    (person,) = admin.get("/api/v1/recognition/watchlist").json["persons"]
    assert admin.get("/api/v1/recognition/watchlist?name=văn").json["persons"] == [person]
    assert admin.get("/api/v1/recognition/watchlist?name=Bình").json["persons"] == []
    assert person["name"] == "Nguyễn Văn A" and "embedding" not in str(person)
    photo = client_for(app, "operator").get(
        f"/api/v1/recognition/faces/{seeded['face']}/photo")
    assert photo.status_code == 200 and photo.data.startswith(b"\xff\xd8")
    assert photo.headers["Cache-Control"] == "private, no-store"
    assert client_for(app, "planner").get(
        f"/api/v1/recognition/faces/{seeded['face']}/photo").status_code == 403
    gone = admin.delete(f"/api/v1/recognition/watchlist/{seeded['person']}",
                        headers={"X-CSRF-Token": admin.csrf})
    assert gone.status_code == 200
    assert admin.get(f"/api/v1/recognition/watchlist/{seeded['person']}").status_code == 404
    audit = admin.get("/api/v1/recognition/audit").json["audit"]
    assert [(a["actor"], a["action"]) for a in reversed(audit)][2:] == [
        ("admin", "watchlist.list"), ("admin", "watchlist.list"), ("admin", "watchlist.list"),
        ("operator", "watchlist.photo"),
        ("admin", "watchlist.remove")]
    assert audit[0]["remote"] == "127.0.0.1"


def test_incidents_verdicts_and_precision(app, db_url, conn, tmp_path):
    upsert_cameras(conn, [Camera(id=c, name=c, lon=103.96, lat=10.22, ward_id=w)
                          for c, w in (("c1", "ward-a"), ("c2", "ward-a"), ("c3", "ward-b"))])
    conn.commit()
    writer = EventWriter(db_url, load_settings({"state_dir": tmp_path / "w"}, environ={}))
    now = datetime.now(timezone.utc) - timedelta(minutes=30)
    for cam, ward, lat, dt in (("c1", "ward-a", 10.2200, 0), ("c2", "ward-a", 10.2205, 30),
                               ("c3", "ward-b", 10.3000, 10)):
        writer.submit(GeoEvent(ts=now + timedelta(seconds=dt), camera_id=cam,
                               kind="intrusion", lon=103.96, lat=lat, ward_id=ward,
                               attributes={"rule": "gate"}))
    writer.flush(timeout=30)
    writer.close()
    op = client_for(app, "operator")
    found = op.get("/api/v1/recognition/incidents").json["incidents"]
    assert sorted((i["n"], tuple(i["cameras"])) for i in found) == [(1, ("c3",)),
                                                                    (2, ("c1", "c2"))]
    geo = op.get("/api/v1/recognition/incidents?format=geojson").json
    assert geo["type"] == "FeatureCollection"
    assert sorted(f["properties"]["n"] for f in geo["features"]) == [1, 2]
    assert all(f["geometry"]["type"] == "Point" for f in geo["features"])
    commander = client_for(app, "commander")  # ward-a only
    mine = commander.get("/api/v1/recognition/incidents").json["incidents"]
    assert [i["cameras"] for i in mine] == [["c1", "c2"]]
    other = next(i for i in found if i["cameras"] == ["c3"])
    refused = commander.post(f"/api/v1/recognition/incidents/{other['id']}/verdict",
                             json={"verdict": "false_alarm"},
                             headers={"X-CSRF-Token": commander.csrf})
    assert refused.status_code in (403, 404)
    ok = commander.post(f"/api/v1/recognition/incidents/{mine[0]['id']}/verdict",
                        json={"verdict": "true_alarm", "note": "đúng"},
                        headers={"X-CSRF-Token": commander.csrf})
    assert ok.status_code == 200
    bad = op.post(f"/api/v1/recognition/incidents/{other['id']}/verdict",
                  json={"verdict": "maybe"}, headers={"X-CSRF-Token": op.csrf})
    assert bad.status_code == 400
    assert op.post(f"/api/v1/recognition/incidents/{other['id']}/verdict",
                   json={"verdict": "false_alarm"},
                   headers={"X-CSRF-Token": op.csrf}).status_code == 200
    assert op.get("/api/v1/recognition/precision").status_code == 403
    rules = client_for(app, "admin").get("/api/v1/recognition/precision").json["rules"]
    assert [(r["camera_id"], r["precision"]) for r in rules] == [
        ("c1", 1.0), ("c2", 1.0), ("c3", 0.0)]
