"""The recognition page: roles, forms with CSRF, Vietnamese, escaping, audit."""

from __future__ import annotations

import re

import numpy as np

from store import watchlist as wl

from tests.recognition.recognition_testing import client_for


def test_page_by_role(app, conn):
    pid = wl.add_person(conn, "<script>alert(1)</script> Lê Văn C", "seed")
    wl.add_face(conn, pid, np.ones(512), b"\xff\xd8photo", "m", "seed")
    conn.commit()
    admin = client_for(app, "admin").get("/recognition?lang=vi")
    assert admin.status_code == 200
    html = admin.data.decode()
    assert "Biển số truy tìm" in html and "Danh sách khuôn mặt truy tìm" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert re.search(r'src="/api/v1/recognition/faces/\d+/photo"', html)
    found = client_for(app, "admin").get("/recognition?person=văn").data.decode()
    assert len(re.findall(r'<tr data-person=', found)) == 1
    none = client_for(app, "admin").get("/recognition?person=Bình").data.decode()
    assert "<tr data-person=" not in none and 'value="Bình"' in none
    assert [a["target"] for a in wl.audit_log(conn) if a["action"] == "watchlist.list"][:2] \
        == ["Bình", "văn"]                                  # name searches are audited
    operator = client_for(app, "operator").get("/recognition?lang=en").data.decode()
    assert "Plate hotlist" in operator and "Plate search" in operator
    assert "Face watchlist" not in operator and "Lê Văn C" not in operator
    assert client_for(app, "planner").get("/recognition").status_code == 403
    assert app.test_client().get("/recognition").status_code == 302  # to the sign-in page


def test_hotlist_forms_and_plate_search(app, conn):
    op = client_for(app, "operator")
    no_csrf = op.post("/recognition/hotlist", data={"plate": "51G-123.45"})
    assert no_csrf.status_code == 403
    ok = op.post("/recognition/hotlist", data={"plate": "51g 123.45", "reason": "trộm xe",
                                               "csrf_token": op.csrf})
    assert ok.status_code == 302
    assert wl.active_hotlist(conn) == {"51G12345": {"plate": "51G-123.45",
                                                    "reason": "trộm xe"}}
    bad = op.post("/recognition/hotlist", data={"plate": "ABC", "csrf_token": op.csrf})
    assert bad.status_code == 422
    assert "Không phải biển số Việt Nam" in bad.data.decode()  # Vietnamese by default
    page = op.get("/recognition?plate=51G").data.decode()
    assert "51G-123.45" in page and "Không có biển số nào khớp." in page
    assert op.post("/recognition/hotlist/remove", data={"plate": "51G12345",
                                                        "csrf_token": op.csrf}).status_code == 302
    assert wl.active_hotlist(conn) == {}
    actions = [a["action"] for a in reversed(wl.audit_log(conn))]
    assert actions == ["hotlist.add", "hotlist.list", "hotlist.list", "plates.search",
                       "hotlist.remove"]


def test_admin_removes_a_person(app, conn):
    pid = wl.add_person(conn, "Trần D", "seed")
    conn.commit()
    admin = client_for(app, "admin")
    assert client_for(app, "operator").post(
        f"/recognition/watchlist/{pid}/remove").status_code == 403
    res = admin.post(f"/recognition/watchlist/{pid}/remove", data={"csrf_token": admin.csrf})
    assert res.status_code == 302
    assert wl.list_persons(conn, "t") == []


def test_plate_search_shows_thumbnails(app, db_url, conn, tmp_path):
    from datetime import datetime, timedelta, timezone

    from store.model import Evidence, GeoEvent
    from store.registry import Camera, upsert_cameras
    from store.settings import load_settings
    from store.writer import EventWriter

    upsert_cameras(conn, [Camera(id="cam-a", name="A", lon=103.96, lat=10.22)])
    conn.commit()
    writer = EventWriter(db_url, load_settings({"state_dir": tmp_path / "w"}, environ={}))
    writer.submit(GeoEvent(ts=datetime.now(timezone.utc) - timedelta(minutes=1),
                           camera_id="cam-a", kind="plate_read", lon=103.96, lat=10.22,
                           attributes={"plate": "68-B1 234.56", "plate_compact": "68B123456",
                                       "province": "Kiên Giang"},
                           evidence=Evidence("cam-a/t.jpg", "0" * 64)))
    writer.flush(timeout=30)
    writer.close()
    html = client_for(app, "operator").get("/recognition?plate=b1%20234").data.decode()
    assert "68-B1 234.56" in html and "Kiên Giang" in html
    assert re.search(r'<img class="recognition-thumb" src="/api/v1/events/\d+/evidence"', html)
    assert 'format=csv' in html


def _photo(face_samples, name):
    return (face_samples / f"{name}.jpg").read_bytes()


def _blank_png() -> bytes:
    import cv2
    ok, buf = cv2.imencode(".png", np.full((200, 200, 3), 128, np.uint8))
    assert ok
    return buf.tobytes()


def test_admin_enrols_from_photos_with_checks_and_audit(app, conn, face_samples):
    import io

    from store.audit import recent
    admin = client_for(app, "admin")

    def enrol(files, csrf=admin.csrf, client=admin, **fields):
        data = {"name": "Diêu Minh", "category": "wanted", "reason": "QĐ 12/2026",
                **fields, "photos": [(io.BytesIO(b), n) for n, b in files]}
        if csrf:
            data["csrf_token"] = csrf
        return client.post("/recognition/watchlist?lang=vi", data=data,
                           content_type="multipart/form-data")

    yao = ("yao.jpg", _photo(face_samples, "yaoming"))
    assert enrol([yao], csrf=None).status_code == 403                       # CSRF
    op = client_for(app, "operator")
    assert enrol([yao], csrf=op.csrf, client=op).status_code == 403         # admins only
    refusals = [([("đội.jpg", _photo(face_samples, "players"))],
                 r"đội.jpg: có \d+ khuôn mặt; hãy dùng ảnh chỉ có một người"),
                ([yao, ("trống.png", _blank_png())],
                 "trống.png: không tìm thấy khuôn mặt"),
                ([("ghi-chú.jpg", b"just text, not a photo")],
                 "ghi-chú.jpg: không phải ảnh JPEG hoặc PNG"),
                ([], "Hãy chọn từ 1 đến 10 ảnh")]
    for files, message in refusals:
        res = enrol(files)
        html = res.data.decode()
        found = re.search(r"id=\"enrol-error\">[^<]*", html)
        assert res.status_code == 422 and re.search(message, html), (message, found)
        assert 'value="Diêu Minh"' in html                  # the form keeps what was typed
    assert enrol([yao], name="").status_code == 422
    assert wl.list_persons(conn, "t") == []                 # nothing written on refusal
    ok = enrol([yao, ("yao2.jpg", _photo(face_samples, "yaoming"))])
    assert ok.status_code == 302 and "enrolled=" in ok.headers["Location"]
    (person,) = wl.list_persons(conn, "t")
    assert person.name == "Diêu Minh" and len(person.faces) == 2
    assert person.reason == "QĐ 12/2026" and person.created_by == "admin"
    page = admin.get(ok.headers["Location"]).data.decode()
    assert "Đã thêm người vào danh sách truy tìm." in page and "Truy nã" in page
    rows = [(r["actor"], r["action"], r["outcome"]) for r in reversed(recent(conn))
            if r["action"] in ("watchlist.add", "watchlist.enrol")]
    assert rows == [("admin", "watchlist.enrol", "failed")] * 5 + [
        ("admin", "watchlist.add", "ok"), ("admin", "watchlist.enrol", "ok"),
        ("admin", "watchlist.enrol", "ok")]
    assert "watchlist.list" in [r["action"] for r in recent(conn, limit=1)]  # page views
    failed = [r for r in recent(conn) if r["outcome"] == "failed"]
    assert {r["detail"].get("file") for r in failed} >= {"đội.jpg", "trống.png"}
    assert all(r["remote"] == "127.0.0.1" for r in failed)


def test_enrolment_upload_limit_is_only_on_its_route(app, face_samples):
    admin = client_for(app, "admin")
    big = admin.post("/recognition/hotlist", data={"plate": "x" * 100_000,
                                                   "csrf_token": admin.csrf})
    assert big.status_code == 413                          # the app's 64 KiB elsewhere


def test_a_photo_too_large_is_refused_before_decoding():
    import pytest

    from webapp import watchlist_enrol as enrolment
    big = b"\xff\xd8\xff" + bytes(enrolment.MAX_PHOTO_BYTES)
    with pytest.raises(enrolment.PhotoRejected, match="big.jpg: larger than 8 MB") as exc:
        enrolment.decode_photo("big.jpg", big)
    assert exc.value.code == "too_large"


def test_a_photo_declaring_too_many_pixels_is_refused_before_decoding(app, face_samples):
    import struct
    import zlib

    import cv2
    import pytest

    from webapp import watchlist_enrol as enrolment
    photo = cv2.imread(str(face_samples / "yaoming.jpg"))
    h, w = photo.shape[:2]
    for flags in ([], [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]):
        jpeg = cv2.imencode(".jpg", photo, flags)[1].tobytes()
        assert enrolment.declared_size(jpeg) == (w, h)
    png = cv2.imencode(".png", photo)[1].tobytes()
    assert enrolment.declared_size(png) == (w, h)
    # A 200-byte PNG that declares 100,000 x 100,000 pixels (a decompression bomb).
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    bomb = (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr
            + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + bytes(160))
    with pytest.raises(enrolment.PhotoRejected, match="bomb.png: more than 40 megapixels"):
        enrolment.decode_photo("bomb.png", bomb)
    admin = client_for(app, "admin")
    page = admin.post("/recognition/watchlist?lang=vi", data={
        "name": "Trần Văn B", "category": "wanted", "reason": "", "csrf_token": admin.csrf,
        "photos": [(__import__("io").BytesIO(bomb), "bomb.png")]},
        content_type="multipart/form-data")
    assert page.status_code == 422
    assert "bomb.png: ảnh lớn hơn 40 megapixel." in page.data.decode()


def test_event_search_by_kind_ward_and_time_with_thumbnails_and_export(app, conn):
    import json
    from datetime import datetime, timedelta, timezone

    from store.audit import recent
    now = datetime.now(timezone.utc)
    with conn.transaction():
        for cam, ward, kind, attrs, evidence, age in (
                ("cam-a", "ward-a", "plate_read", {"plate": "51G-123.45"}, "cam-a/p.jpg", 5),
                ("cam-a", "ward-a", "fight", {}, None, 60),
                ("cam-b", "ward-b", "plate_read", {"plate": "59-X3 123.45"}, None, 5),
                ("cam-a", "ward-a", "intrusion", {}, None, 60 * 30)):
            conn.execute("INSERT INTO events (ts, camera_id, kind, severity, lon, lat, "
                         "ward_id, attributes, evidence_path, evidence_sha256) VALUES "
                         "(%s, %s, %s, 2, 103.96, 10.22, %s, %s::jsonb, %s, %s)",
                         (now - timedelta(minutes=age), cam, kind, ward, json.dumps(attrs),
                          evidence, evidence and "0" * 64))
    commander = client_for(app, "commander")                    # ward-a only
    start = commander.get("/recognition?lang=vi").data.decode()
    assert "Tìm sự kiện theo loại" in start and 'id="event-form"' not in start
    html = commander.get("/recognition?search=events&hours=24&lang=vi").data.decode()
    rows = re.findall(r'<tr data-event="(\d+)">', html)
    assert len(rows) == 2                                       # not ward B, not 30 h ago
    assert "51G-123.45" in html and "59-X3" not in html
    assert re.search(r'<img class="recognition-thumb" src="/api/v1/events/\d+/evidence"', html)
    assert "Ẩu đả" in html                                      # kind labels in Vietnamese
    fights = commander.get("/recognition?search=events&kind=fight&hours=24").data.decode()
    assert len(re.findall(r'<tr data-event=', fights)) == 1
    link = re.search(r'id="event-export-csv" href="([^"]+)"', fights).group(1)
    assert "format=csv" in link and "kind=fight" in link
    export = commander.get(link.replace("&amp;", "&"))
    assert export.status_code == 200 and export.data.decode("utf-8-sig").count("\n") == 2
    bad = commander.get("/recognition?search=events&hours=0").data.decode()
    assert 'role="alert"' in bad and "hours" in bad
    searches = [r for r in recent(conn) if r["action"] == "events.search"]
    assert [r["detail"]["rows"] for r in searches] == [1, 2]
    assert searches[0]["detail"]["filters"] == {"kind": "fight", "hours": "24"}
    assert [r["detail"]["rows"] for r in recent(conn) if r["action"] == "events.export"] == [1]
