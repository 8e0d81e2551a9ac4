"""Role × route table: every HTTP route and socket event, every role, allow or deny.

The table below is written out by hand: a route whose permission changes, or a new
route, fails :func:`test_table_covers_every_route` until the table says what it should.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import socketio
from flask import Flask

from tests.webapp.web_testing import PASSWORD, WALL_TOKEN, WARD_A, insert_event, seed_areas
from tests.webapp.test_realtime import session_cookie

ROLES = ("anonymous", "admin", "commander", "operator", "planner", "wall")
#: Which roles hold each permission (independent of webapp.access on purpose).
HOLDERS = {
    "public": set(ROLES),
    "view": {"admin", "commander", "operator", "planner", "wall"},
    "act": {"admin", "commander", "operator"},
    "evidence": {"admin", "commander", "operator"},
    "plan": {"admin", "commander", "planner"},
    "admin": {"admin"},
}
#: (method, rule) → permission, for every route the app serves.
TABLE = {
    ("GET", "/i18n/<lang>.json"): "public",
    ("GET", "/i18n/switch"): "public",
    ("GET", "/login"): "public",
    ("POST", "/login"): "public",
    ("POST", "/logout"): "view",
    ("GET", "/api/v1/session"): "public",
    ("POST", "/api/v1/session"): "public",
    ("DELETE", "/api/v1/session"): "view",
    ("GET", "/api/v1/openapi.json"): "view",
    ("GET", "/api/v1/alerts/count"): "view",
    ("POST", "/api/v1/alerts/<int:event_id>/<any(acknowledge, assign, resolve):action>"): "act",
    ("GET", "/api/v1/wards"): "view",
    ("GET", "/api/v1/zones"): "view",
    ("GET", "/api/v1/wards/counts"): "plan",
    ("GET", "/api/v1/wards/<ward_id>/series"): "plan",
    ("GET", "/api/v1/heatmap/incidents"): "view",
    ("GET", "/api/v1/heatmap/crowd"): "view",
    ("GET", "/api/v1/events"): "view",
    ("GET", "/api/v1/events/export"): "view",
    ("GET", "/api/v1/events/<int:event_id>"): "view",
    ("GET", "/api/v1/events/<int:event_id>/evidence"): "evidence",
    ("GET", "/api/v1/cameras"): "view",
    ("GET", "/api/v1/cameras/health"): "view",
    ("GET", "/api/v1/cameras/<camera_id>"): "view",
    ("GET", "/api/v1/cameras/<camera_id>/timeline"): "view",
    ("GET", "/api/v1/recognition/plates"): "evidence",
    ("GET", "/api/v1/recognition/hotlist"): "act",
    ("POST", "/api/v1/recognition/hotlist"): "act",
    ("DELETE", "/api/v1/recognition/hotlist/<plate>"): "act",
    ("GET", "/api/v1/recognition/watchlist"): "admin",
    ("GET", "/api/v1/recognition/watchlist/<int:person_id>"): "admin",
    ("DELETE", "/api/v1/recognition/watchlist/<int:person_id>"): "admin",
    ("GET", "/api/v1/recognition/faces/<int:face_id>/photo"): "evidence",
    ("GET", "/api/v1/recognition/audit"): "admin",
    ("GET", "/api/v1/recognition/incidents"): "view",
    ("POST", "/api/v1/recognition/incidents/<int:incident_id>/verdict"): "act",
    ("GET", "/api/v1/recognition/precision"): "admin",
    ("GET", "/recognition"): "act",
    ("POST", "/recognition/hotlist"): "act",
    ("POST", "/recognition/hotlist/remove"): "act",
    ("POST", "/recognition/watchlist"): "admin",
    ("POST", "/recognition/watchlist/<int:person_id>/remove"): "admin",
    ("GET", "/tiles/config.json"): "view",
    ("GET", "/tiles/<int:z>/<int:x>/<int:y>.<ext>"): "view",
    ("GET", "/evidence/<path:relative>"): "evidence",
    ("GET", "/"): "view",
    ("GET", "/wall"): "view",
    ("GET", "/planner"): "plan",
    ("GET", "/planner/coverage.json"): "plan",
    ("GET", "/planner/hotspots.html"): "plan",
    ("GET", "/api/v1/admin/users"): "admin",
    ("POST", "/api/v1/admin/users"): "admin",
    ("PATCH", "/api/v1/admin/users/<name>"): "admin",
    ("GET", "/api/v1/admin/tokens"): "admin",
    ("POST", "/api/v1/admin/tokens"): "admin",
    ("DELETE", "/api/v1/admin/tokens/<int:token_id>"): "admin",
    ("POST", "/api/v1/admin/kiosk/<name>/rotate"): "admin",
    ("DELETE", "/api/v1/admin/kiosk/<name>"): "admin",
    ("GET", "/api/v1/admin/audit"): "admin",
    ("PATCH", "/api/v1/admin/cameras/<camera_id>"): "admin",
    ("GET", "/admin"): "admin",
    ("POST", "/admin/users/<name>/disabled"): "admin",
}
#: Refusals beyond the role: ward-scoped users open evidence files through the API only.
EXTRA_DENY = {(("GET", "/evidence/<path:relative>"), "commander")}
#: Values for the path parameters (objects that exist where it matters).
PARAMS = {"lang": "vi", "ward_id": WARD_A, "camera_id": "cam-a", "plate": "51G12345",
          "person_id": "999", "face_id": "999", "incident_id": "999", "token_id": "999",
          "name": "nobody-here", "z": "3", "x": "6", "y": "5", "ext": "png",
          "relative": "none.jpg", "action": "acknowledge"}


def _served(app: Flask) -> set[tuple[str, str]]:
    return {(m, r.rule) for r in app.url_map.iter_rules() if r.endpoint != "static"
            for m in r.methods - {"HEAD", "OPTIONS"}}


def test_table_covers_every_route(app: Flask) -> None:
    assert _served(app) == set(TABLE)


def _path(rule: str, event_id: int) -> str:
    rule = re.sub(r"<any\([^)]*\):action>", PARAMS["action"], rule)
    return re.sub(r"<(?:\w+:)?(\w+)>",
                  lambda m: str(event_id) if m.group(1) == "event_id" else PARAMS[m.group(1)],
                  rule)


def _sign_in(client: Any, role: str) -> str:
    if role == "anonymous":
        return client.get("/api/v1/session").json["csrf_token"]
    if role == "wall":
        assert client.get(f"/wall?token={WALL_TOKEN}").status_code == 302
        return client.get("/api/v1/session").json["csrf_token"]
    answer = client.post("/api/v1/session", json={"username": role, "password": PASSWORD})
    assert answer.status_code == 200, answer.json
    return answer.json["csrf_token"]


def test_every_route_for_every_role(db_app: Flask, conn) -> None:
    seed_areas(conn)
    event_id = insert_event(conn, "cam-a", "intrusion", WARD_A)
    wrong: list[str] = []
    for (method, rule), permission in sorted(TABLE.items()):
        path = _path(rule, event_id)
        for role in ROLES:
            client = db_app.test_client()
            csrf = _sign_in(client, role)
            kwargs: dict[str, Any] = {"headers": {"X-CSRF-Token": csrf}}
            if method != "GET":
                kwargs["json"] = {}
            status = client.open(path, method=method, **kwargs).status_code
            allowed = role in HOLDERS[permission] and ((method, rule), role) not in EXTRA_DENY
            if status >= 500:
                wrong.append(f"{method} {path} as {role}: {status}")
            elif permission == "public":     # sign-in answers 401 to a wrong password
                continue
            elif allowed and status in (401, 403):
                wrong.append(f"{method} {path} as {role}: refused ({status})")
            elif not allowed and (status not in (401, 403) and not
                                  (role == "anonymous" and status == 302)):
                wrong.append(f"{method} {path} as {role}: allowed ({status})")
    assert wrong == [], "\n".join(wrong)


@pytest.mark.parametrize("role", ROLES)
def test_socket_connect_and_subscribe_by_role(live_server, conn, role: str) -> None:
    seed_areas(conn)
    server = live_server()
    client = socketio.Client(reconnection=False)
    headers, auth = {}, None
    if role == "wall":
        auth = {"token": WALL_TOKEN}
    elif role != "anonymous":
        headers = {"Cookie": session_cookie(server.url, role)[0]}
    if role == "anonymous":
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect(server.url, headers=headers, auth=auth, transports=["websocket"],
                           wait_timeout=10)
        return
    client.connect(server.url, headers=headers, auth=auth, transports=["websocket"],
                   wait_timeout=10)
    try:
        ack = client.call("subscribe", {"after_id": None}, timeout=10)
        expected = {"commander": f"ward:{WARD_A}", "planner": "redacted:wards:all",
                    "wall": "redacted:wards:all"}.get(role, "wards:all")
        assert ack["room"] == expected
    finally:
        client.disconnect()


@pytest.mark.parametrize("auth", [{"token": "not-a-token"}, {"token": ""}, {"token": 5},
                                  "garbage", {"token": "x" * 100_000}])
def test_socket_refuses_bad_tokens(live_server, conn, auth: Any) -> None:
    server = live_server()
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(server.url, auth=auth, transports=["websocket"], wait_timeout=10)
