"""The API on a real database: every route × role, ward scope, paging, alert actions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from flask import Flask

from tests.webapp.web_testing import CAMERAS, ROLES, WARD_A, WARD_B, insert_event, seed_areas

# route → roles allowed (others get 403); anonymous always 401
READS = {
    "/api/v1/cameras": set(ROLES),
    "/api/v1/cameras/health": set(ROLES),
    "/api/v1/cameras/cam-a": set(ROLES),
    "/api/v1/cameras/cam-a/timeline": set(ROLES),
    "/api/v1/events": set(ROLES),
    "/api/v1/wards": set(ROLES),
    "/api/v1/zones": set(ROLES),
    "/api/v1/heatmap/incidents": set(ROLES),
    "/api/v1/heatmap/crowd": set(ROLES),
    "/api/v1/wards/counts": {"admin", "commander", "planner"},
    f"/api/v1/wards/{WARD_A}/series": {"admin", "commander", "planner"},
    "/api/v1/openapi.json": set(ROLES),
}


@pytest.fixture
def seeded(db_app: Flask, conn) -> Flask:
    seed_areas(conn)
    return db_app


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", sorted(READS))
def test_read_routes_by_role(seeded: Flask, login, path: str, role: str) -> None:
    client = seeded.test_client()
    assert client.get(path).status_code == 401
    login(client, role)
    response = client.get(path)
    expected = 200 if role in READS[path] else 403
    assert response.status_code == expected, response.json
    assert response.is_json


def test_cameras_geojson_and_ward_scope(seeded: Flask, login) -> None:
    client = seeded.test_client()
    login(client, "admin")
    doc = client.get("/api/v1/cameras").json
    assert doc["type"] == "FeatureCollection"
    assert [f["id"] for f in doc["features"]] == sorted(c[0] for c in CAMERAS)
    cam_a = doc["features"][0]
    assert cam_a["geometry"] == {"type": "Point", "coordinates": [103.96, 10.22]}
    assert cam_a["properties"]["name"] == CAMERAS[0][1]      # JSON, escaping is the page's
    assert "stream_url" not in cam_a["properties"]           # credentials stay on the server
    assert [f["id"] for f in client.get("/api/v1/cameras?status=offline").json["features"]] \
        == ["cam-b"]
    assert client.get("/api/v1/cameras?status=broken").status_code == 400

    commander = seeded.test_client()
    login(commander, "commander")
    assert [f["id"] for f in commander.get("/api/v1/cameras").json["features"]] == ["cam-a"]
    assert commander.get("/api/v1/cameras/cam-b").status_code == 404
    health = commander.get("/api/v1/cameras/health").json["cameras"]
    assert [h["camera_id"] for h in health] == ["cam-a"]


def test_events_filters_paging_and_scope(seeded: Flask, conn, login) -> None:
    now = datetime.now(timezone.utc)
    ids = [insert_event(conn, "cam-a", "intrusion", WARD_A, ts=now - timedelta(minutes=i))
           for i in range(5)]
    other = insert_event(conn, "cam-b", "fight", WARD_B)
    count = insert_event(conn, "cam-a", "person_count", WARD_A, value=3)
    client = seeded.test_client()
    login(client, "admin")
    page = client.get("/api/v1/events?limit=3").json
    assert [e["id"] for e in page["events"]] == [count, other, ids[4]]
    rest = client.get(f"/api/v1/events?limit=3&before={page['next_before']}").json
    assert [e["id"] for e in rest["events"]] == [ids[3], ids[2], ids[1]]
    alerts = client.get("/api/v1/events?alerts_only=true&ward=ward-b").json["events"]
    assert [e["id"] for e in alerts] == [other]
    assert alerts[0]["alert"]["status"] == "new" and alerts[0]["is_alert"]
    assert client.get("/api/v1/events?kind=fight,intrusion&severity_min=3").json["events"][0][
        "id"] == other
    assert client.get("/api/v1/events?kind=party").status_code == 400
    bad = client.get("/api/v1/events?since=yesterday")
    assert bad.status_code == 400 and bad.json["error"]["details"]["parameter"] == "since"
    assert client.get("/api/v1/events?limit=0").status_code == 400

    commander = seeded.test_client()
    login(commander, "commander")
    seen = {e["id"] for e in commander.get("/api/v1/events").json["events"]}
    assert other not in seen and ids[0] in seen
    assert commander.get(f"/api/v1/events/{other}").status_code == 404
    assert commander.get(f"/api/v1/events/{ids[0]}").json["alert"]["status"] == "new"


def test_alert_actions_and_history(seeded: Flask, conn, login) -> None:
    alert = insert_event(conn, "cam-a", "fight", WARD_A)
    sample = insert_event(conn, "cam-a", "person_count", WARD_A, value=2)
    out_of_scope = insert_event(conn, "cam-b", "fight", WARD_B)
    client = seeded.test_client()
    token = login(client, "commander")
    headers = {"X-CSRF-Token": token}

    def act(event_id: int, action: str, **body):
        return client.post(f"/api/v1/alerts/{event_id}/{action}", json=body, headers=headers)

    ack = act(alert, "acknowledge", note="đang xem")
    assert ack.status_code == 200 and ack.json["status"] == "acknowledged"
    assert ack.json["updated_by"] == "commander"
    assert act(alert, "acknowledge").status_code == 409
    assert act(alert, "assign").status_code == 400                    # assignee required
    assert act(alert, "assign", assignee="Tổ tuần tra 2", extra=1).status_code == 400
    assigned = act(alert, "assign", assignee="Tổ tuần tra 2")
    assert assigned.json["status"] == "assigned" and assigned.json["assignee"] == "Tổ tuần tra 2"
    assert act(alert, "resolve", note="xong").json["status"] == "resolved"
    assert act(alert, "resolve").status_code == 409
    assert act(sample, "acknowledge").status_code == 404              # not an alert
    assert act(out_of_scope, "acknowledge").status_code == 404        # outside the scope
    assert act(999999, "acknowledge").status_code == 404
    detail = client.get(f"/api/v1/events/{alert}").json
    assert [h["action"] for h in detail["history"]] == \
        ["acknowledge", "assign:Tổ tuần tra 2", "resolve"]
    assert detail["alert"]["status"] == "resolved"
    listed = client.get("/api/v1/events?status=resolved").json["events"]
    assert [e["id"] for e in listed] == [alert]


def test_evidence_by_event_is_confined(seeded: Flask, conn, login, tmp_path) -> None:
    root = tmp_path / "evidence"
    (root / "2026").mkdir(parents=True)
    (root / "2026" / "a.jpg").write_bytes(b"\xff\xd8\xff\xe0jpeg")
    (tmp_path / "secret.jpg").write_bytes(b"secret")
    good = insert_event(conn, "cam-a", "fight", WARD_A, evidence_path="2026/a.jpg")
    evil = insert_event(conn, "cam-a", "fight", WARD_A, evidence_path="../secret.jpg")
    client = seeded.test_client()
    login(client, "operator")
    response = client.get(f"/api/v1/events/{good}/evidence")
    assert response.status_code == 200 and response.data.startswith(b"\xff\xd8")
    assert response.headers["Cache-Control"] == "private, no-store"
    assert client.get(f"/api/v1/events/{evil}/evidence").status_code == 404
    assert client.get("/evidence/2026/a.jpg").status_code == 200
    for bad in ("../secret.jpg", "%2e%2e/secret.jpg", "2026/../../secret.jpg"):
        assert client.get(f"/evidence/{bad}").status_code == 404, bad
    detail = client.get("/api/v1/cameras/cam-a").json
    assert detail["latest_evidence"]["event_id"] == evil
    assert len(detail["timeline"]) == 2
    planner = seeded.test_client()
    login(planner, "planner")
    assert planner.get(f"/api/v1/events/{good}/evidence").status_code == 403
    assert planner.get("/api/v1/cameras/cam-a").json["latest_evidence"] is None
    commander = seeded.test_client()
    login(commander, "commander")
    assert commander.get("/evidence/2026/a.jpg").status_code == 403   # by event id only


def test_heatmaps_series_and_counts(seeded: Flask, conn, login) -> None:
    from gis.grid import cell_id
    now = datetime.now(timezone.utc)
    bucket = now.replace(minute=(now.minute // 15) * 15, second=0, microsecond=0)
    cell = cell_id(103.96, 10.22)
    with conn.transaction():
        for ward, kind, n in ((WARD_A, "fight", 3), (WARD_A, "intrusion", 2),
                              (WARD_B, "fight", 7), (WARD_A, "person_count", 40)):
            conn.execute("INSERT INTO heatmap_rollup (bucket, ward_id, cell_id, kind, n) "
                         "VALUES (%s, %s, %s, %s, %s)", (bucket, ward, cell, kind, n))
            for span in ("15 minutes", "1 hour", "1 day"):   # the ward series' rollup
                conn.execute("INSERT INTO ward_kind_span (span, bucket, ward_id, kind, n) "
                             "VALUES (%s, date_bin(%s, %s, '2000-01-01'), %s, %s, %s)",
                             (span, span, bucket, ward, kind, n))
    insert_event(conn, "cam-a", "crowd_sample", WARD_A, value=0.4)
    latest = insert_event(conn, "cam-a", "crowd_sample", WARD_A, value=0.9)
    client = seeded.test_client()
    login(client, "commander")
    cells = client.get("/api/v1/heatmap/incidents?hours=2").json
    assert cells["cell_size_m"] == 250
    assert [(c["cell_id"], c["n"]) for c in cells["cells"]] == [(cell, 5)]   # alerts, ward A
    assert abs(cells["cells"][0]["lon"] - 103.96) < 0.003
    crowd = client.get("/api/v1/heatmap/crowd").json["samples"]
    assert [(s["camera_id"], s["value"]) for s in crowd] == [("cam-a", 0.9)] and latest
    counts = client.get("/api/v1/wards/counts?hours=2").json["counts"]
    assert {(c["ward_id"], c["kind"], c["n"]) for c in counts} == {
        (WARD_A, "fight", 3), (WARD_A, "intrusion", 2), (WARD_A, "person_count", 40)}
    series = client.get(f"/api/v1/wards/{WARD_A}/series?hours=2&bucket=hour&kind=fight").json
    assert [s["n"] for s in series["series"]] == [3]
    assert client.get(f"/api/v1/wards/{WARD_B}/series").status_code == 404
    assert client.get(f"/api/v1/wards/{WARD_A}/series?bucket=week").status_code == 400
    wards = client.get("/api/v1/wards").json["features"]
    assert {(f["id"], f["properties"]["in_scope"]) for f in wards} == {(WARD_A, True)}
    zones = client.get("/api/v1/zones?kind=market").json["features"]
    assert zones[0]["properties"]["kind"] == "market" and zones[0]["geometry"]["type"] == "Polygon"


def test_events_from_a_camera_clock_running_ahead_are_listed(seeded: Flask, conn, login) -> None:
    ahead = insert_event(conn, "cam-a", "fight", WARD_A,
                         ts=datetime.now(timezone.utc) + timedelta(minutes=2))
    client = seeded.test_client()
    login(client, "operator")
    assert [e["id"] for e in client.get("/api/v1/events").json["events"]] == [ahead]


def _event_with(conn, camera_id: str, kind: str, ward_id: str | None, attributes: dict,
                zone_id: str | None = None, minutes_ago: int = 1) -> int:
    """An event with attributes (a plate read, a watchlist match …), committed."""
    import json

    from store.model import EVENT_KINDS
    with conn.transaction():
        return conn.execute(
            "INSERT INTO events (ts, camera_id, kind, severity, lon, lat, ward_id, zone_id, "
            "attributes) VALUES (%s, %s, %s, %s, 103.96, 10.22, %s, %s, %s::jsonb) "
            "RETURNING id", (datetime.now(timezone.utc) - timedelta(minutes=minutes_ago),
                             camera_id, kind, int(EVENT_KINDS[kind].severity), ward_id,
                             zone_id, json.dumps(attributes))).fetchone()[0]


def _audit_rows(conn, action: str) -> list[dict]:
    from store.audit import recent
    return [r for r in recent(conn, limit=100) if r["action"] == action]


def test_event_export_csv_json_scope_and_audit(seeded: Flask, conn, login) -> None:
    import csv
    import io
    plate = _event_with(conn, "cam-a", "plate_read", WARD_A,
                        {"plate": "51G-123.45", "plate_compact": "51G12345",
                         "province": "TP. Hồ Chí Minh", "note": "=HYPERLINK(\"x\")"},
                        zone_id="night-market")
    fight = _event_with(conn, "cam-a", "fight", WARD_A, {"rule": "@cmd"}, minutes_ago=2)
    other = _event_with(conn, "cam-b", "plate_read", WARD_B, {"plate": "59-X3 123.45"})
    commander = seeded.test_client()
    login(commander, "commander")                                   # ward A only
    r = commander.get("/api/v1/events/export?format=csv&hours=1")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.headers["Content-Disposition"].startswith("attachment; filename=events-")
    assert r.data.startswith("\ufeff".encode())                     # Excel reads UTF-8
    rows = list(csv.DictReader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert [int(row["event_id"]) for row in rows] == [fight, plate]  # id order; not B's
    assert rows[1]["plate"] == "51G-123.45" and rows[1]["zone_id"] == "night-market"
    assert "TP. Hồ Chí Minh" in rows[1]["attributes"]
    assert rows[1]["alert_status"] == "" and rows[0]["alert_status"] == "new"
    only = commander.get("/api/v1/events/export?kind=fight&zone=&ward=ward-a").data
    assert only.decode("utf-8-sig").count("\n") == 2               # header + the fight
    js = commander.get("/api/v1/events/export?format=json&kind=plate_read")
    assert js.status_code == 200 and js.mimetype == "application/json"
    assert [e["id"] for e in js.json["events"]] == [plate] and js.json["count"] == 1
    assert js.json["events"][0]["attributes"]["plate"] == "51G-123.45"
    assert js.json["filters"]["kinds"] == ["plate_read"]
    admin = seeded.test_client()
    login(admin, "admin")
    everything = admin.get("/api/v1/events/export?format=json").json
    assert {e["id"] for e in everything["events"]} == {plate, fight, other}
    assert commander.get("/api/v1/events/export?format=xlsx").status_code == 400
    assert commander.get("/api/v1/events/export?kind=party").status_code == 400
    audited = _audit_rows(conn, "events.export")
    assert [(a["actor"], a["detail"]["format"], a["detail"]["rows"]) for a in audited] == [
        ("admin", "json", 3), ("commander", "json", 1), ("commander", "csv", 1),
        ("commander", "csv", 2)]
    assert audited[-1]["detail"]["filters"]["scope"] == [WARD_A]
    assert audited[1]["detail"]["filters"]["kinds"] == ["plate_read"]
    assert audited[-1]["remote"] == "127.0.0.1" and audited[-1]["outcome"] == "ok"


def test_event_export_cells_cannot_be_formulas(seeded: Flask, conn, login) -> None:
    import csv
    import io
    for camera_name in ("=1+2", "+SUM(A1)", "-2+3", "@cmd", "\t=x"):
        _event_with(conn, "cam-a", "fight", WARD_A, {"rule": camera_name})
    client = seeded.test_client()
    login(client, "admin")
    text = client.get("/api/v1/events/export").data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))[1:]
    cells = [cell for row in rows for cell in row]
    assert len(rows) == 5
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], cells
    assert all(row[-1].startswith("'{") or row[-1].startswith("{") for row in rows)


def test_event_export_refuses_above_the_row_cap(make_app, db_url, conn, login) -> None:
    seed_areas(conn)
    app = make_app(db_url, EXPORT_MAX_ROWS=2)
    for i in range(3):
        insert_event(conn, "cam-a", "fight", WARD_A)
    client = app.test_client()
    login(client, "operator")
    refused = client.get("/api/v1/events/export?format=csv")
    assert refused.status_code == 400
    assert "more than 2 events" in refused.json["error"]["message"]
    assert refused.json["error"]["details"]["max_rows"] == 2
    assert client.get("/api/v1/events/export?format=csv&severity_min=4").status_code == 400
    narrowed = client.get("/api/v1/events/export?format=json&camera=cam-b")
    assert narrowed.status_code == 200 and narrowed.json["count"] == 0
    audited = _audit_rows(conn, "events.export")
    assert [(a["outcome"], a["detail"]["rows"]) for a in audited] == [("ok", 0),
                                                                     ("failed", None)]
    assert audited[1]["detail"]["reason"] == "more than 2 rows"
