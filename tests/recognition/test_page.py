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
