"""``GET /api/v1/alerts/count`` (the commander's list header) and the ward and zone lists:
what a ward-scoped user gets stays within the scope."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import Flask

from store.alerts import apply_action
from tests.webapp.web_testing import WARD_A, WARD_B, insert_event, seed_areas

OPEN = "status=new&status=acknowledged&status=assigned"


def test_alert_count_counts_open_alerts_in_scope_beyond_any_page(db_app: Flask, conn,
                                                                  login) -> None:
    seed_areas(conn)
    now = datetime.now(timezone.utc)
    a = [insert_event(conn, "cam-a", "fight", WARD_A, ts=now - timedelta(minutes=i))
         for i in range(1, 8)]
    for i in range(1, 5):
        insert_event(conn, "cam-b", "intrusion", WARD_B, ts=now - timedelta(minutes=i))
    insert_event(conn, "cam-a", "person_count", WARD_A, value=3)       # not an alert
    insert_event(conn, "cam-a", "fight", WARD_A, ts=now - timedelta(hours=30))  # too old
    apply_action(conn, a[0], "resolve", "operator")
    apply_action(conn, a[1], "acknowledge", "operator")
    conn.commit()
    everyone, scoped = db_app.test_client(), db_app.test_client()
    login(everyone, "operator")
    login(scoped, "commander")                                           # ward A only
    assert everyone.get(f"/api/v1/alerts/count?{OPEN}").json["count"] == 6 + 4
    assert everyone.get("/api/v1/alerts/count").json["count"] == 7 + 4   # every status
    assert scoped.get(f"/api/v1/alerts/count?{OPEN}").json["count"] == 6
    assert scoped.get(f"/api/v1/alerts/count?{OPEN}&ward={WARD_B}").json["count"] == 0
    assert everyone.get(f"/api/v1/alerts/count?{OPEN}&ward={WARD_B}").json["count"] == 4
    assert scoped.get("/api/v1/alerts/count?status=acknowledged").json["count"] == 1
    # the list's page may be smaller than the count
    page = scoped.get(f"/api/v1/events?{OPEN}&alerts_only=true&limit=2").json["events"]
    assert len(page) == 2
    refused = scoped.get("/api/v1/alerts/count?status=gone")
    assert refused.status_code == 400 and "status" in refused.json["error"]["message"]
    assert db_app.test_client().get("/api/v1/alerts/count").status_code == 401


def test_ward_and_zone_lists_keep_to_the_scope(db_app: Flask, conn, login) -> None:
    seed_areas(conn)
    everyone, scoped = db_app.test_client(), db_app.test_client()
    login(everyone, "operator")
    login(scoped, "commander")
    assert sorted(f["id"] for f in everyone.get("/api/v1/wards").json["features"]) == \
        [WARD_A, WARD_B]
    assert [f["id"] for f in scoped.get("/api/v1/wards").json["features"]] == [WARD_A]
    conn.execute("INSERT INTO zones (id, name, kind, ward_id, geometry) VALUES ('port-b', "
                 "'Cảng', 'port', %s, (SELECT geometry FROM wards WHERE id = %s))",
                 (WARD_B, WARD_B))
    conn.commit()
    assert sorted(f["id"] for f in everyone.get("/api/v1/zones").json["features"]) == \
        ["night-market", "port-b"]
    assert [f["id"] for f in scoped.get("/api/v1/zones").json["features"]] == ["night-market"]
