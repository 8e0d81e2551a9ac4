"""Ward scope leakage: a commander of ward A (and an API token of ward A) sees nothing
of ward B or of unwarded objects, over the API and over the socket; live sockets lose
their rooms at once when the admin narrows, disables or revokes."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import socketio
from flask import Flask

from tests.webapp.test_realtime import Wall, session_cookie, wait_for_pump, walls  # noqa: F401
from tests.webapp.web_testing import PASSWORD, WARD_A, WARD_B, insert_event, seed_areas

B_MARKERS = ("cam-b", "cam-x", WARD_B, "Cảng Bãi Vòng", "Ngoài phường")


def _leaks(text: str) -> list[str]:
    return [m for m in B_MARKERS if m in text]


def test_api_never_shows_other_wards(db_app: Flask, conn) -> None:
    seed_areas(conn)
    a = insert_event(conn, "cam-a", "intrusion", WARD_A, evidence_path="cam-a/1.jpg")
    b = insert_event(conn, "cam-b", "intrusion", WARD_B, lon=104.04, lat=10.15,
                     evidence_path="cam-b/1.jpg")
    x = insert_event(conn, "cam-x", "loitering", None, lon=103.9, lat=10.4)
    client = db_app.test_client()
    csrf = client.post("/api/v1/session", json={"username": "commander",
                                                "password": PASSWORD}).json["csrf_token"]
    for path in ("/api/v1/cameras", "/api/v1/cameras/health", "/api/v1/events?hours=24",
                 "/api/v1/events?hours=24&ward=ward-b", "/api/v1/wards/counts?hours=24",
                 "/api/v1/heatmap/incidents?hours=24", "/api/v1/heatmap/crowd",
                 "/api/v1/recognition/incidents", f"/api/v1/events/{a}",
                 "/api/v1/cameras/cam-a/timeline", "/planner/coverage.json"):
        response = client.get(path)
        assert response.status_code in (200, 400), (path, response.status_code)
        assert _leaks(response.text) == [], path
    for path in (f"/api/v1/events/{b}", f"/api/v1/events/{x}", "/api/v1/cameras/cam-b",
                 "/api/v1/cameras/cam-x", "/api/v1/cameras/cam-b/timeline",
                 f"/api/v1/events/{b}/evidence", "/api/v1/wards/ward-b/series"):
        response = client.get(path)
        assert response.status_code == 404, (path, response.status_code)
        assert _leaks(response.json["error"]["message"]) in ([], ["cam-b"], ["cam-x"],
                                                             [WARD_B])
    acted = client.post(f"/api/v1/alerts/{b}/acknowledge", json={},
                        headers={"X-CSRF-Token": csrf})
    assert acted.status_code == 404
    assert conn.execute("SELECT count(*) FROM alert_actions").fetchone()[0] == 0


def _socket(url: str, *, cookie: str | None = None, token: str | None = None) -> tuple:
    got: list[dict[str, Any]] = []
    sio = socketio.Client(reconnection=False)
    sio.on("geo_events", lambda m: got.extend(m["events"]))
    sio.on("alert_state", lambda s: got.append({"state": s}))
    sio.connect(url, headers={"Cookie": cookie} if cookie else {},
                auth={"token": token} if token else None, transports=["websocket"],
                wait_timeout=10)
    return sio, got


def test_socket_replay_live_and_alert_states_stay_in_scope(live_server, conn) -> None:
    seed_areas(conn)
    early = [insert_event(conn, "cam-b", "fight", WARD_B),
             insert_event(conn, "cam-x", "fight", None),
             insert_event(conn, "cam-a", "fight", WARD_A)]
    server = live_server()
    cookie = session_cookie(server.url, "commander")[0]
    sio, got = _socket(server.url, cookie=cookie)
    try:
        ack = sio.call("subscribe", {"after_id": 0}, timeout=10)
        assert ack["room"] == f"ward:{WARD_A}"
        later = [insert_event(conn, "cam-b", "intrusion", WARD_B),
                 insert_event(conn, "cam-x", "intrusion", None),
                 insert_event(conn, "cam-a", "intrusion", WARD_A)]
        wait_for_pump(server, later[-1])
        admin_cookie, csrf = session_cookie(server.url, "admin")
        request = urllib.request.Request(
            f"{server.url}/api/v1/alerts/{later[0]}/acknowledge", method="POST",
            data=b"{}", headers={"Content-Type": "application/json", "Cookie": admin_cookie,
                                 "X-CSRF-Token": csrf})
        assert urllib.request.urlopen(request, timeout=10).status == 200
        deadline = time.monotonic() + 5
        while later[-1] not in [e.get("id") for e in got] and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        ids = [e["id"] for e in got if "id" in e]
        assert ids == [early[2], later[2]]
        assert not [e for e in got if "state" in e]          # ward B's alert state
        assert _leaks(json.dumps(got)) == []
    finally:
        sio.disconnect()


def _admin_patch(url: str, path: str, body: dict[str, Any]) -> int:
    cookie, csrf = session_cookie(url, "admin")
    request = urllib.request.Request(f"{url}{path}", method="PATCH",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json",
                                              "Cookie": cookie, "X-CSRF-Token": csrf})
    return urllib.request.urlopen(request, timeout=10).status


def test_admin_changes_reach_live_sockets_at_once(live_server, conn, walls) -> None:
    seed_areas(conn)
    server = live_server(SESSION_RECHECK_S=0)          # no periodic re-check: only the admin's
    commander, operator = walls(server.url, "commander"), walls(server.url, "operator")
    assert _admin_patch(server.url, "/api/v1/admin/users/commander", {"wards": [WARD_B]}) == 200
    pump = server.app.extensions["vigil_pump"]
    assert pump.clients[commander.sio.get_sid()][1] == f"ward:{WARD_B}"
    a = insert_event(conn, "cam-a", "fight", WARD_A)
    b = insert_event(conn, "cam-b", "fight", WARD_B)
    commander.wait(lambda: b in commander.ids(), "ward B's event")
    assert a not in commander.ids()
    assert _admin_patch(server.url, "/api/v1/admin/users/operator", {"disabled": True}) == 200
    operator.wait(lambda: not operator.sio.connected, "the disabled user's socket to close")


def test_api_token_socket_is_scoped_and_revocable(live_server, conn) -> None:
    seed_areas(conn)
    server = live_server(SESSION_RECHECK_S=0)
    cookie, csrf = session_cookie(server.url, "admin")
    request = urllib.request.Request(
        f"{server.url}/api/v1/admin/tokens", method="POST",
        data=json.dumps({"name": "sở GTVT", "scopes": ["view"], "wards": [WARD_A]}).encode(),
        headers={"Content-Type": "application/json", "Cookie": cookie, "X-CSRF-Token": csrf})
    made = json.load(urllib.request.urlopen(request, timeout=10))
    sio, got = _socket(server.url, token=made["token"])
    try:
        ack = sio.call("subscribe", {"after_id": None}, timeout=10)
        assert ack["room"] == f"redacted:ward:{WARD_A}"   # a "view" token: no personal data
        revoke = urllib.request.Request(
            f"{server.url}/api/v1/admin/tokens/{made['id']}", method="DELETE",
            headers={"Cookie": cookie, "X-CSRF-Token": csrf})
        assert urllib.request.urlopen(revoke, timeout=10).status == 204
        deadline = time.monotonic() + 5
        while sio.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not sio.connected
    finally:
        if sio.connected:
            sio.disconnect()


def test_cli_changes_reach_live_sockets_at_once(live_server, conn, walls) -> None:
    """A change made by another process (``vigil users disable``) arrives by NOTIFY."""
    from store.users import update_user
    seed_areas(conn)
    server = live_server(SESSION_RECHECK_S=0)          # no periodic re-check
    operator = walls(server.url, "operator")
    time.sleep(0.5)                                     # the access listener is up
    update_user(conn, "operator", disabled=True)
    conn.commit()
    operator.wait(lambda: not operator.sio.connected, "the disabled user's socket to close",
                  timeout=3)
