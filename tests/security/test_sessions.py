"""Sign-in, sessions, CSRF, throttling, tokens and the audit log (Flask test client on
a real database)."""

from __future__ import annotations

import re

import time
from typing import Any

import pytest
from flask import Flask

from store import users as store_users
from tests.webapp.web_testing import PASSWORD, WALL_TOKEN, WARD_A, WARD_B, insert_event, seed_areas

STRONG = "Ba-con-meo-7-tren-mai"


def _audit(conn, action: str) -> list[tuple]:
    return conn.execute("SELECT actor, action, target, outcome, remote FROM audit_log "
                        "WHERE action = %s ORDER BY id", (action,)).fetchall()


def _sign_in(client: Any, name: str, password: str = PASSWORD) -> Any:
    return client.post("/api/v1/session", json={"username": name, "password": password})


def test_login_success_and_failure_are_audited(db_app: Flask, conn) -> None:
    client = db_app.test_client()
    assert _sign_in(client, "operator", "wrong password").status_code == 401
    assert _sign_in(client, "nobody", "whatever").status_code == 401
    assert _sign_in(client, "operator").status_code == 200
    rows = _audit(conn, "login")
    assert [(r[0], r[3]) for r in rows] == [("operator", "failed"), ("nobody", "failed"),
                                            ("operator", "ok")]
    assert all(r[4] == "127.0.0.1" for r in rows)
    assert conn.execute("SELECT last_login_at IS NOT NULL FROM users WHERE name = 'operator'"
                        ).fetchone()[0]


def test_login_is_throttled(make_app, db_url: str, conn) -> None:
    app = make_app(db_url, LOGIN_MAX_FAILURES=3, LOGIN_WINDOW_S=60)
    client = app.test_client()
    for _ in range(3):
        assert _sign_in(client, "admin", "wrong").status_code == 401
    refused = _sign_in(client, "admin")          # even the right password now waits
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "too many" in refused.json["error"]["message"]
    assert _sign_in(client, "operator").status_code == 200      # another user name
    form = client.get("/login")
    csrf = client.get("/api/v1/session").json["csrf_token"]
    page = client.post("/login", data={"username": "admin", "password": PASSWORD,
                                       "csrf_token": csrf})
    assert page.status_code == 429 and form.status_code == 200
    assert _audit(conn, "login")[-1][3] == "denied"


def test_csrf_is_required_for_state_changes(db_app: Flask, conn) -> None:
    seed_areas(conn)
    event_id = insert_event(conn, "cam-a", "intrusion", WARD_A)
    client = db_app.test_client()
    csrf = _sign_in(client, "operator").json["csrf_token"]
    url = f"/api/v1/alerts/{event_id}/acknowledge"
    for headers in ({}, {"X-CSRF-Token": "forged"}, {"X-CSRF-Token": ""}):
        refused = client.post(url, json={}, headers=headers)
        assert refused.status_code == 403 and "CSRF" in refused.json["error"]["message"]
    assert conn.execute("SELECT count(*) FROM alert_actions").fetchone()[0] == 0
    not_json = client.post(url, data="note=x", headers={"X-CSRF-Token": csrf,
                           "Content-Type": "application/x-www-form-urlencoded"})
    assert not_json.status_code == 415
    assert client.post(url, json={}, headers={"X-CSRF-Token": csrf}).status_code == 200
    # forms: the login form and the admin page's forms
    assert client.post("/login", data={"username": "operator",
                                       "password": PASSWORD}).status_code == 401
    admin = db_app.test_client()
    _sign_in(admin, "admin")
    assert admin.post("/admin/users/operator/disabled",
                      data={"disabled": "1"}).status_code == 403
    assert not store_users.get_user(conn, "operator").disabled


def test_idle_sessions_expire(make_app, db_url: str) -> None:
    app = make_app(db_url, SESSION_IDLE_S=1)
    client = app.test_client()
    _sign_in(client, "planner")
    assert client.get("/api/v1/wards").status_code == 200
    time.sleep(2.1)
    expired = client.get("/api/v1/wards")
    assert expired.status_code == 401 and "expired" in expired.json["error"]["message"]
    wall = app.test_client()                     # the kiosk wall does not expire
    wall.get(f"/wall?token={WALL_TOKEN}")
    time.sleep(2.1)
    assert wall.get("/api/v1/wards").status_code == 200


def test_cookie_flags_and_headers(make_app, db_url: str) -> None:
    app = make_app(db_url, SESSION_COOKIE_SECURE=True)
    client = app.test_client()
    answer = _sign_in(client, "admin")
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    page = client.get("/login")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")


def test_disabled_user_and_new_password_end_sessions(db_app: Flask, conn) -> None:
    admin, user = db_app.test_client(), db_app.test_client()
    csrf = _sign_in(admin, "admin").json["csrf_token"]
    _sign_in(user, "operator")
    assert user.get("/api/v1/wards").status_code == 200
    weak = admin.patch("/api/v1/admin/users/operator", json={"password": "short"},
                       headers={"X-CSRF-Token": csrf})
    assert weak.status_code == 400 and "weak" in weak.json["error"]["message"]
    changed = admin.patch("/api/v1/admin/users/operator", json={"password": STRONG},
                          headers={"X-CSRF-Token": csrf})
    assert changed.status_code == 200
    assert user.get("/api/v1/wards").status_code == 401         # old session ended
    assert _sign_in(user, "operator", STRONG).status_code == 200
    assert admin.patch("/api/v1/admin/users/operator", json={"disabled": True},
                       headers={"X-CSRF-Token": csrf}).status_code == 200
    assert user.get("/api/v1/wards").status_code == 401
    assert _sign_in(user, "operator", STRONG).status_code == 401
    # the last admin cannot lock everyone out
    last = admin.patch("/api/v1/admin/users/admin", json={"disabled": True},
                       headers={"X-CSRF-Token": csrf})
    assert last.status_code == 409 and not store_users.get_user(conn, "admin").disabled
    actions = [r[1] for r in conn.execute("SELECT actor, action FROM audit_log WHERE "
                                          "action LIKE 'user.%' ORDER BY id")]
    assert actions == ["user.password", "user.disable"]


def test_role_and_scope_changes_apply_at_once(db_app: Flask, conn) -> None:
    seed_areas(conn)
    admin, commander = db_app.test_client(), db_app.test_client()
    csrf = _sign_in(admin, "admin").json["csrf_token"]
    _sign_in(commander, "commander")
    assert commander.get("/api/v1/cameras/cam-b").status_code == 404     # ward B: not theirs
    admin.patch("/api/v1/admin/users/commander", json={"wards": [WARD_B]},
                headers={"X-CSRF-Token": csrf})
    assert commander.get("/api/v1/cameras/cam-b").status_code == 200
    assert commander.get("/api/v1/cameras/cam-a").status_code == 404
    admin.patch("/api/v1/admin/users/commander", json={"role": "planner"},
                headers={"X-CSRF-Token": csrf})
    me = commander.get("/api/v1/session").json["user"]
    assert me["role"] == "planner" and "act" not in me["permissions"]


def test_unknown_wards_are_refused_naming_the_close_match(db_app: Flask, conn) -> None:
    """A ward id with a typo would give the user (token, wall) an empty map and no hint:
    every admin route that takes wards refuses it and writes nothing."""
    seed_areas(conn)
    admin = db_app.test_client()
    csrf = _sign_in(admin, "admin").json["csrf_token"]
    headers = {"X-CSRF-Token": csrf}
    for method, path, body in (
            ("post", "/api/v1/admin/users", {"name": "chi.huy.b", "role": "commander",
                                             "wards": ["ward-bb"], "password": STRONG}),
            ("patch", "/api/v1/admin/users/commander", {"wards": [WARD_A, "ward-bb"]}),
            ("post", "/api/v1/admin/tokens", {"name": "gis", "scopes": ["view"],
                                              "wards": ["ward-bb"]}),
            ("post", "/api/v1/admin/kiosk/wall-b/rotate", {"wards": ["ward-bb"]})):
        answer = getattr(admin, method)(path, json=body, headers=headers)
        assert answer.status_code == 400, (path, answer.json)
        error = answer.json["error"]
        assert "'ward-bb'" in error["message"] and "ward-b" in error["message"], error
        assert error["details"]["field"] == "wards"
    assert store_users.get_user(conn, "chi.huy.b") is None
    assert store_users.get_user(conn, "commander").wards == (WARD_A,)
    assert store_users.list_api_tokens(conn) == []
    assert "wall-b" not in {t["name"] for t in store_users.list_kiosk_tokens(conn)}
    ok = admin.patch("/api/v1/admin/users/commander", json={"wards": [WARD_B]}, headers=headers)
    assert ok.status_code == 200 and ok.json["wards"] == [WARD_B]


def test_api_tokens_are_read_only_scoped_and_revocable(db_app: Flask, conn) -> None:
    seed_areas(conn)
    event_id = insert_event(conn, "cam-b", "intrusion", WARD_B)
    admin = db_app.test_client()
    csrf = _sign_in(admin, "admin").json["csrf_token"]
    made = admin.post("/api/v1/admin/tokens", json={"name": "gis export", "scopes": ["view"],
                                                     "wards": [WARD_A]},
                      headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201
    token, ident = made.json["token"], made.json["id"]
    listed = admin.get("/api/v1/admin/tokens").json
    assert token not in str(listed) and listed["api_tokens"][0]["id"] == ident
    machine = db_app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    cameras = machine.get("/api/v1/cameras", headers=bearer)
    assert cameras.status_code == 200
    assert {f["id"] for f in cameras.json["features"]} == {"cam-a"}      # its wards only
    assert machine.get(f"/api/v1/events/{event_id}", headers=bearer).status_code == 404
    assert machine.get("/api/v1/wards/counts", headers=bearer).status_code == 403  # no plan
    assert machine.post(f"/api/v1/alerts/{event_id}/acknowledge", json={},
                        headers=bearer).status_code == 403
    assert admin.delete(f"/api/v1/admin/tokens/{ident}",
                        headers={"X-CSRF-Token": csrf}).status_code == 204
    assert machine.get("/api/v1/cameras", headers=bearer).status_code == 401
    assert [r[1] for r in conn.execute("SELECT actor, action FROM audit_log WHERE action "
                                       "LIKE 'token.%' ORDER BY id")] == ["token.add",
                                                                           "token.revoke"]


def test_kiosk_token_rotation(db_app: Flask, conn) -> None:
    wall, admin = db_app.test_client(), db_app.test_client()
    assert wall.get(f"/wall?token={WALL_TOKEN}").status_code == 302
    csrf = _sign_in(admin, "admin").json["csrf_token"]
    rotated = admin.post("/api/v1/admin/kiosk/wall/rotate", headers={"X-CSRF-Token": csrf})
    assert rotated.status_code == 200
    assert wall.get("/api/v1/wards").status_code == 401              # the old wall is out
    assert db_app.test_client().get(f"/wall?token={WALL_TOKEN}").status_code == 401
    fresh = db_app.test_client()
    assert fresh.get(rotated.json["wall_url"]).status_code == 302
    assert fresh.get("/api/v1/wards").status_code == 200
    assert admin.delete("/api/v1/admin/kiosk/wall",
                        headers={"X-CSRF-Token": csrf}).status_code == 204
    assert fresh.get("/api/v1/wards").status_code == 401
    assert [r[1] for r in _audit(conn, "kiosk.rotate")] == ["kiosk.rotate"]


def test_audited_actions(db_app: Flask, conn, tmp_path) -> None:
    seed_areas(conn)
    evidence_root = db_app.config["EVIDENCE_ROOT"]
    (evidence_root / "cam-a").mkdir(parents=True, exist_ok=True)
    (evidence_root / "cam-a" / "e.jpg").write_bytes(b"\xff\xd8\xff\xe0fakejpeg")
    event_id = insert_event(conn, "cam-a", "intrusion", WARD_A, evidence_path="cam-a/e.jpg")
    client = db_app.test_client()
    csrf = _sign_in(client, "admin").json["csrf_token"]
    h = {"X-CSRF-Token": csrf}
    assert client.post(f"/api/v1/alerts/{event_id}/acknowledge", json={"note": "đã xem"},
                       headers=h).status_code == 200
    assert client.post(f"/api/v1/alerts/{event_id}/assign", json={"assignee": "tổ 2"},
                       headers=h).status_code == 200
    assert client.post(f"/api/v1/alerts/{event_id}/resolve", json={},
                       headers=h).status_code == 200
    assert client.get(f"/api/v1/events/{event_id}/evidence").status_code == 200
    assert client.get("/evidence/cam-a/e.jpg").status_code == 200
    assert client.get("/planner/hotspots.html").status_code == 200
    assert client.post("/api/v1/admin/users", json={"name": "to.cong.tac", "role": "operator",
                                                     "password": STRONG},
                       headers=h).status_code == 201
    assert client.patch("/api/v1/admin/cameras/cam-a", json={"name": "Cổng mới"},
                        headers=h).status_code == 200
    assert client.delete("/api/v1/session", headers=h).status_code == 204
    rows = conn.execute("SELECT actor, action, target FROM audit_log ORDER BY id").fetchall()
    assert [(r[1], r[2]) for r in rows] == [
        ("login", "admin"), ("alert.acknowledge", str(event_id)),
        ("alert.assign", str(event_id)), ("alert.resolve", str(event_id)),
        ("evidence.view", str(event_id)), ("evidence.view", "cam-a/e.jpg"),
        ("export", "hotspot report"), ("user.add", "to.cong.tac"),
        ("camera.change", "cam-a"), ("logout", "admin")]
    assert {r[0] for r in rows} == {"admin"}
    # the admin's view of the log (page and API), with recognition's entries beside
    client2 = db_app.test_client()
    _sign_in(client2, "admin")
    entries = client2.get("/api/v1/admin/audit?action=alert.").json["entries"]
    assert [e["action"] for e in entries] == ["alert.resolve", "alert.assign",
                                              "alert.acknowledge"]
    page = client2.get("/admin")
    assert page.status_code == 200 and "camera.change" in page.text
    assert db_app.test_client().get("/api/v1/admin/audit").status_code == 401


@pytest.mark.parametrize("body", [
    None, [], "x", {"name": 5, "role": "operator", "password": STRONG},
    {"name": "ok.name", "role": "root", "password": STRONG},
    {"name": "Bad Name'; DROP TABLE users;--", "role": "operator", "password": STRONG},
    {"name": "ok.name", "role": "operator", "password": STRONG, "is_admin": True},
    {"name": "ok.name", "role": "operator", "password": "password1234"},
    {"name": "ok.name", "role": "operator", "password": STRONG, "wards": "all"},
    {"name": "ok.name", "role": "operator", "password": STRONG, "wards": [1, 2]},
    {"name": "ok.name", "role": "operator", "password": "x\u0000" + STRONG},
])
def test_bad_user_bodies_are_400_without_writes(db_app: Flask, conn, body: Any) -> None:
    client = db_app.test_client()
    csrf = _sign_in(client, "admin").json["csrf_token"]
    before = conn.execute("SELECT count(*) FROM users").fetchone()[0]
    answer = client.post("/api/v1/admin/users", json=body, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 400, answer.json
    assert answer.json["error"]["message"]
    assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == before


@pytest.mark.parametrize("body", [
    {"lon": 200}, {"lat": "10.2"}, {"lon": float("nan")}, {"name": ""}, {"name": "x" * 201},
    {"enabled": "yes"}, {"ward_id": "ward-b"}, {}, {"fov_deg": 0},
])
def test_bad_camera_changes_are_400_without_writes(db_app: Flask, conn, body: Any) -> None:
    seed_areas(conn)
    client = db_app.test_client()
    csrf = _sign_in(client, "admin").json["csrf_token"]
    before = conn.execute("SELECT name, lon, lat, enabled FROM cameras WHERE id = 'cam-a'"
                          ).fetchone()
    import json as _json
    answer = client.patch("/api/v1/admin/cameras/cam-a", data=_json.dumps(body),
                          headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"})
    assert answer.status_code == 400, answer.json
    assert conn.execute("SELECT name, lon, lat, enabled FROM cameras WHERE id = 'cam-a'"
                        ).fetchone() == before
    assert _audit(conn, "camera.change") == []


def test_oversized_and_injected_requests(db_app: Flask, conn) -> None:
    seed_areas(conn)
    client = db_app.test_client()
    csrf = _sign_in(client, "operator").json["csrf_token"]
    huge = client.post("/api/v1/session", json={"username": "a" * 100_000, "password": "x"})
    assert huge.status_code == 413
    for path in ("/api/v1/cameras/cam-a'%20OR%20'1'='1", "/api/v1/events?kind=fight'--",
                 "/api/v1/cameras/%00", "/api/v1/events?camera=%00",
                 "/api/v1/wards/x%27;DROP%20TABLE%20users;--/series"):
        status = client.get(path).status_code
        assert 400 <= status < 500, (path, status)
    assert conn.execute("SELECT count(*) FROM users").fetchone()[0] > 0


def test_time_window_edges_are_400(db_app: Flask) -> None:
    client = db_app.test_client()
    _sign_in(client, "admin")
    for path in ("/api/v1/recognition/incidents?until=0001-01-01T00:00:00Z",
                 "/api/v1/events?until=0001-01-01T00:00:00Z",
                 "/api/v1/heatmap/incidents?since=9999-12-31T23:59:59Z",
                 "/api/v1/admin/audit?since=not-a-time", "/api/v1/admin/audit?limit=0"):
        assert client.get(path).status_code == 400, path


def test_admin_page_and_throttle_message_in_vietnamese(make_app, db_url: str) -> None:
    app = make_app(db_url, LOGIN_MAX_FAILURES=1)
    client = app.test_client()
    _sign_in(client, "admin")
    page = client.get("/admin")
    assert "Nhật ký truy cập" in page.text and "Người dùng" in page.text
    other = app.test_client()
    other.get("/login")
    csrf = other.get("/api/v1/session").json["csrf_token"]
    for _ in range(2):
        answer = other.post("/login", data={"username": "planner", "password": "sai",
                                            "csrf_token": csrf})
    assert answer.status_code == 429 and "thử lại sau" in answer.text


def test_admin_audit_details_read_as_words_local_times_and_ward_names(db_app: Flask,
                                                                       conn) -> None:
    """The audit log's detail column: key: value pairs, times in Asia/Ho_Chi_Minh, wards
    by name, lists joined — not raw JSON with UTC timestamps."""
    seed_areas(conn)
    from store.audit import record
    record(conn, "chi.huy", "events.search", detail={
        "filters": {"since": "2026-12-01T20:00:00+00:00", "ward": WARD_A},
        "wards": [WARD_A, WARD_B], "rows": 3, "redacted": True})
    conn.commit()
    client = db_app.test_client()
    _sign_in(client, "admin")
    page = client.get("/admin?lang=vi").text
    row = next(r for r in page.split("<tr") if "events.search" in r)
    cell = re.search(r'<td class="detail">([^<]*)</td>', row).group(1)
    for part in ("rows: 3", "wards: Phường ward-a, Phường ward-b", "filters: (",
                 "since: 02/12/2026 03:00:00", "(ward: Phường ward-a", "redacted: có"):
        assert part in cell, (part, cell)
    assert not any(raw in cell for raw in ("{", '"', "T20:00", "+00:00", "true")), cell


def test_audit_log_is_append_only(db_app: Flask, conn) -> None:
    import psycopg
    _sign_in(db_app.test_client(), "admin")
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log",
                      "TRUNCATE audit_log"):
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute(statement)
        conn.rollback()
    assert _audit(conn, "login")[0][0] == "admin"
