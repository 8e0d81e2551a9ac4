"""store.watchlist on a real database: watchlist, hotlist, audit rows, plate search."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from store import watchlist as wl
from store.registry import Camera, upsert_cameras
from store.writer import EventWriter


def _audit(conn):
    return [(r["actor"], r["action"], r["target"]) for r in reversed(wl.audit_log(conn))]


def test_enrol_list_gallery_remove_with_audit(conn):
    pid = wl.add_person(conn, "Nguyễn Văn A", "admin1", reason="lệnh truy nã 12/2026",
                        remote="10.0.0.5")
    vec = np.arange(1, 513, dtype=np.float64)
    fid = wl.add_face(conn, pid, vec, b"\xff\xd8jpeg", "w600k_mbf", "admin1", det_score=0.8)
    (person,) = wl.list_persons(conn, "op1")
    assert person.name == "Nguyễn Văn A" and person.faces == (fid,)
    assert "embedding" not in person.to_json()
    gallery = wl.face_gallery(conn, "w600k_mbf")
    assert gallery.names == ("Nguyễn Văn A",) and gallery.embeddings.shape == (1, 512)
    assert np.linalg.norm(gallery.embeddings[0]) == pytest.approx(1.0, abs=1e-5)
    assert len(wl.face_gallery(conn, "other-model")) == 0
    assert wl.face_photo(conn, fid, "op1") == (pid, b"\xff\xd8jpeg")
    wl.remove_person(conn, pid, "admin1")
    assert wl.list_persons(conn, "op1") == []
    assert conn.execute("SELECT count(*) FROM watchlist_faces").fetchone()[0] == 0
    assert _audit(conn) == [
        ("admin1", "watchlist.add", f"person:{pid}"),
        ("admin1", "watchlist.enrol", f"person:{pid}"),
        ("op1", "watchlist.list", None),
        ("op1", "watchlist.photo", f"person:{pid}"),
        ("admin1", "watchlist.remove", f"person:{pid}"),
        ("op1", "watchlist.list", None),
    ]
    assert wl.audit_log(conn)[-1]["remote"] == "10.0.0.5"


def test_refusals_write_nothing(conn):
    with pytest.raises(ValueError, match="category"):
        wl.add_person(conn, "X", "a", category="vip")
    with pytest.raises(wl.NotFound):
        wl.add_face(conn, 999, np.ones(512), b"x", "m", "a")
    pid = wl.add_person(conn, "Y", "a")
    with pytest.raises(ValueError, match="non-zero"):
        wl.add_face(conn, pid, np.zeros(512), b"x", "m", "a")
    with pytest.raises(wl.NotFound):
        wl.remove_person(conn, 999, "a")
    assert [r["action"] for r in wl.audit_log(conn)] == ["watchlist.add"]


def test_hotlist_normalises_and_expires(conn):
    plate = wl.add_plate(conn, "51g-123.45", "op1", reason="xe trộm cắp")
    assert plate.text == "51G-123.45"
    wl.add_plate(conn, "59-X3 123.45", "op1")
    wl.add_plate(conn, "36A-567.89", "op1",
                 expires_at=datetime.now(timezone.utc) - timedelta(days=1))
    with pytest.raises(ValueError, match="not a Vietnamese plate"):
        wl.add_plate(conn, "ABC-123", "op1")
    with pytest.raises(ValueError):
        wl.add_plate(conn, "5IG-I23.45", "op1")  # repaired reads are not accepted as input
    assert wl.active_hotlist(conn) == {
        "51G12345": {"plate": "51G-123.45", "reason": "xe trộm cắp"},
        "59X312345": {"plate": "59-X3 123.45", "reason": None}}
    assert {e["plate"] for e in wl.list_plates(conn, "op1")} == {
        "51G-123.45", "59-X3 123.45", "36A-567.89"}
    wl.remove_plate(conn, "51G 123.45", "op1")
    with pytest.raises(wl.NotFound):
        wl.remove_plate(conn, "51G-123.45", "op1")
    assert "51G12345" not in wl.active_hotlist(conn)
    assert [r["action"] for r in reversed(wl.audit_log(conn))] == [
        "hotlist.add", "hotlist.add", "hotlist.add", "hotlist.list", "hotlist.remove"]


def test_plate_events_are_searchable_by_partial_plate(db_url, conn, settings):
    from store.model import GeoEvent

    upsert_cameras(conn, [Camera(id="cam-p", name="Cổng", lon=105.776, lat=19.807)])
    conn.commit()
    now = datetime.now(timezone.utc) - timedelta(minutes=5)
    plates = ["51G-123.45", "59-X3 123.45", "36A-567.89"]
    writer = EventWriter(db_url, settings)
    for i, text in enumerate(plates):
        p = wl.normalise_plate(text)
        writer.submit(GeoEvent(ts=now + timedelta(seconds=i), camera_id="cam-p",
                               kind="plate_read", lon=105.776, lat=19.807, track_id=i,
                               attributes={"plate": p.text, "plate_compact": p.compact}))
    writer.submit(GeoEvent(ts=now, camera_id="cam-p", kind="person_count", lon=105.776,
                           lat=19.807, attributes={"plate_compact": "51G12345"}))
    writer.flush(timeout=30)
    writer.close()
    found = wl.find_plate_events(conn, "123.45")
    assert [e.attributes["plate"] for e in found] == ["59-X3 123.45", "51G-123.45"]
    assert [e.attributes["plate"] for e in wl.find_plate_events(conn, "51g")] == \
        ["51G-123.45"]
    assert wl.find_plate_events(conn, "x3 1")[0].attributes["plate"] == "59-X3 123.45"
    assert wl.find_plate_events(conn, "123.45", start=now + timedelta(seconds=1),
                                end=now + timedelta(seconds=2))[0].track_id == 1
    assert wl.find_plate_events(conn, "99Z") == []
    with pytest.raises(ValueError):
        wl.find_plate_events(conn, "--")


def test_persons_are_searchable_by_part_of_the_name(conn):
    for name in ("Nguyễn Văn An", "Trần Thị Bình", "Lê 100% _x"):
        wl.add_person(conn, name, "admin1")
    assert [p.name for p in wl.list_persons(conn, "op", name="nguyễn")] == ["Nguyễn Văn An"]
    assert [p.name for p in wl.list_persons(conn, "op", name="%")] == ["Lê 100% _x"]
    assert [p.name for p in wl.list_persons(conn, "op", name="_")] == ["Lê 100% _x"]
    assert wl.list_persons(conn, "op", name="Phạm") == []
    assert wl.audit_log(conn)[0]["target"] == "Phạm"
