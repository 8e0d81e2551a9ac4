"""Idle sessions: background polls and live sockets do not keep a session alive, what the
user does does; an idle session ends for the API, the socket and the page alike (real
database, real Socket.IO server and client). The map wall's kiosk session is exempt."""

from __future__ import annotations

import threading
import time
import urllib.request
from typing import Any

import socketio
from flask import Flask

from tests.webapp.test_realtime import session_cookie
from tests.webapp.web_testing import PASSWORD, WALL_TOKEN, WARD_A, insert_event, seed_areas

BACKGROUND = {"X-Vigil-Background": "1"}
DEADLINE_S = 60.0          # generous: CI machines are slow


def _sign_in(client: Any, name: str) -> str:
    answer = client.post("/api/v1/session", json={"username": name, "password": PASSWORD})
    assert answer.status_code == 200, answer.json
    return answer.json["csrf_token"]


def _active_at(conn, name: str) -> Any:  # noqa: ANN001
    return conn.execute("SELECT active_at FROM web_sessions WHERE user_name = %s",
                        (name,)).fetchone()[0]


def _poll_until_refused(client: Any, path: str, headers: dict[str, str]) -> float:
    """Poll ``path`` every 0.2 s until it answers 401; seconds it took (fails after the
    deadline)."""
    started = time.monotonic()
    while time.monotonic() - started < DEADLINE_S:
        status = client.get(path, headers=headers).status_code
        if status == 401:
            return time.monotonic() - started
        assert status == 200, status
        time.sleep(0.2)
    raise AssertionError(f"{path} still answered after {DEADLINE_S} s of polling")


def test_background_polls_do_not_keep_a_session_alive(make_app, db_url: str, conn) -> None:
    conn.autocommit = True
    app = make_app(db_url, SESSION_IDLE_S=2)
    client = app.test_client()
    _sign_in(client, "operator")
    assert client.get("/api/v1/session", headers=BACKGROUND).json["idle_s"] == 2
    took = _poll_until_refused(client, "/api/v1/wards", BACKGROUND)
    assert took >= 0.9        # the limit ended it (the cookie keeps whole seconds)
    expired = client.get("/api/v1/wards", headers=BACKGROUND)
    assert "expired" in expired.json["error"]["message"]
    assert client.get("/api/v1/session").json["user"] is None
    page = client.get("/login?next=/")          # the sign-in page says why, in Vietnamese
    assert page.status_code == 200
    assert "Phiên đã hết hạn do không hoạt động" in page.get_data(as_text=True)
    english = client.get("/login?lang=en")
    assert "expired after a period of inactivity" in english.get_data(as_text=True)
    assert client.get("/", headers=BACKGROUND).status_code == 302   # pages: to /login too


def test_user_activity_keeps_a_session_alive(make_app, db_url: str, conn) -> None:
    conn.autocommit = True
    seed_areas(conn)
    event_id = insert_event(conn, "cam-a", "intrusion", WARD_A)
    app = make_app(db_url, SESSION_IDLE_S=600)       # touches written after 15 s at most
    client = app.test_client()
    csrf = _sign_in(client, "operator")
    conn.execute("UPDATE web_sessions SET active_at = now() - interval '5 minutes'")
    before = _active_at(conn, "operator")
    for path in ("/api/v1/wards", "/api/v1/session", "/"):      # background: no change
        assert client.get(path, headers=BACKGROUND).status_code == 200
    assert _active_at(conn, "operator") == before
    assert client.get("/api/v1/session").status_code == 200        # the page's report
    reported = _active_at(conn, "operator")
    assert reported > before
    conn.execute("UPDATE web_sessions SET active_at = now() - interval '5 minutes'")
    acted = client.post(f"/api/v1/alerts/{event_id}/acknowledge", json={},
                        headers={**BACKGROUND, "X-CSRF-Token": csrf})   # a POST always counts
    assert acted.status_code == 200
    assert _active_at(conn, "operator") > before
    conn.execute("UPDATE web_sessions SET active_at = now() - interval '11 minutes'")
    assert client.get("/api/v1/wards").status_code == 401          # past the 10 min limit
    assert client.get("/api/v1/session").json["user"] is None      # activity cannot revive it


def test_refused_requests_do_not_count_as_activity(make_app, db_url: str, conn) -> None:
    conn.autocommit = True
    app = make_app(db_url, SESSION_IDLE_S=600)
    client = app.test_client()
    _sign_in(client, "planner")
    conn.execute("UPDATE web_sessions SET active_at = now() - interval '5 minutes'")
    before = _active_at(conn, "planner")
    assert client.get("/admin").status_code == 403                  # not theirs
    assert _active_at(conn, "planner") == before


def test_kiosk_wall_is_exempt_from_idle_expiry(make_app, db_url: str, conn) -> None:
    app = make_app(db_url, SESSION_IDLE_S=1)
    wall = app.test_client()
    assert wall.get(f"/wall?token={WALL_TOKEN}").status_code == 302
    assert wall.get("/api/v1/session", headers=BACKGROUND).json["idle_s"] is None
    started = time.monotonic()
    while time.monotonic() - started < 3.0:                         # three idle limits
        assert wall.get("/api/v1/wards", headers=BACKGROUND).status_code == 200
        time.sleep(0.2)
    assert wall.get("/api/v1/session").json["user"]["role"] == "wall"


def test_sign_out_ends_the_session_on_the_server(db_app: Flask, conn) -> None:
    client = db_app.test_client()
    csrf = _sign_in(client, "commander")
    stolen = client.get_cookie("session").value
    assert client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    replay = db_app.test_client()
    replay.set_cookie("session", stolen)
    assert replay.get("/api/v1/wards").status_code == 401           # the old cookie is dead
    assert conn.execute("SELECT count(*) FROM web_sessions").fetchone()[0] == 0


def test_idle_socket_is_disconnected_by_the_server(live_server, conn) -> None:
    conn.autocommit = True
    seed_areas(conn)
    server = live_server(SESSION_IDLE_S=3, SESSION_RECHECK_S=0.5)
    cookie, _csrf = session_cookie(server.url, "operator")
    signed_in = time.monotonic()
    dropped = threading.Event()
    user = socketio.Client(reconnection=False)
    user.on("disconnect", lambda *args: dropped.set())
    user.connect(server.url, headers={"Cookie": cookie}, transports=["websocket"],
                 wait_timeout=10)
    wall = socketio.Client(reconnection=False)
    wall.connect(server.url, auth={"token": WALL_TOKEN}, transports=["websocket"],
                 wait_timeout=10)
    try:
        assert user.call("subscribe", {"after_id": None}, timeout=10)["room"] == "wards:all"
        assert "room" in wall.call("subscribe", {"after_id": None}, timeout=10)
        assert dropped.wait(DEADLINE_S), "the idle user's socket was not disconnected"
        assert time.monotonic() - signed_in >= 2.5
        assert wall.connected                      # the kiosk wall stays
        again = socketio.Client(reconnection=False)
        try:                                       # and the idle cookie cannot reconnect
            again.connect(server.url, headers={"Cookie": cookie},
                          transports=["websocket"], wait_timeout=10)
        except socketio.exceptions.ConnectionError:
            pass
        else:
            again.disconnect()
            raise AssertionError("an idle session opened a socket")
    finally:
        user.disconnect()
        wall.disconnect()


def test_sessions_without_a_database_expire_the_same_way(make_app) -> None:
    app = make_app(SESSION_IDLE_S=2)
    client = app.test_client()
    _sign_in(client, "operator")
    started = time.monotonic()
    while client.get("/api/v1/session", headers=BACKGROUND).json["user"] is not None:
        assert time.monotonic() - started < DEADLINE_S, "background checks kept it alive"
        time.sleep(0.2)
    assert time.monotonic() - started >= 0.9
    assert "Phiên đã hết hạn" in client.get("/login").get_data(as_text=True)


def test_signing_out_closes_that_sessions_socket(live_server, conn) -> None:
    server = live_server(SESSION_RECHECK_S=0.5)
    cookie, csrf = session_cookie(server.url, "operator")
    other_cookie, _ = session_cookie(server.url, "operator")      # a second browser
    dropped, kept = threading.Event(), socketio.Client(reconnection=False)
    signed_out = socketio.Client(reconnection=False)
    signed_out.on("disconnect", lambda *args: dropped.set())
    signed_out.connect(server.url, headers={"Cookie": cookie}, transports=["websocket"],
                       wait_timeout=10)
    kept.connect(server.url, headers={"Cookie": other_cookie}, transports=["websocket"],
                 wait_timeout=10)
    try:
        request = urllib.request.Request(f"{server.url}/api/v1/session", method="DELETE",
                                         headers={"Cookie": cookie, "X-CSRF-Token": csrf})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 204
        assert dropped.wait(DEADLINE_S), "the signed-out session's socket stayed open"
        assert kept.connected                      # the same user's other browser stays
    finally:
        signed_out.disconnect()
        kept.disconnect()
