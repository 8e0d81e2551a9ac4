"""Personal data by role: plates and watchlist identities reach admins, commanders and
operators, never the map wall or planners — over the events API, camera timelines,
exports, incidents and the live socket (replayed and live)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
import pytest
from flask import Flask

from tests.webapp.test_realtime import walls  # noqa: F401  (fixture)
from tests.webapp.web_testing import WARD_A, seed_areas

PLATE, COMPACT = "51G-123.45", "51G12345"
PERSON, FACE = 987654321, 123456789
#: Every value in the seeded events that identifies someone.
MARKERS = (PLATE, COMPACT, str(PERSON), str(FACE), "trộm xe")
SEES = {"admin": True, "commander": True, "operator": True, "planner": False,
        "wall": False}


def _personal_events(conn) -> list[int]:
    """A plate read, a hotlist match and a watchlist face match in ward A, committed."""
    now = datetime.now(timezone.utc) - timedelta(minutes=1)
    plate = {"plate": PLATE, "plate_compact": COMPACT, "province": "TP. Hồ Chí Minh",
             "vehicle": "car", "confidence": 0.93}
    rows = [("plate_read", plate),
            ("plate_match", dict(plate, hotlist={"plate": PLATE, "reason": "trộm xe"})),
            ("face_match", {"person_id": PERSON, "face_id": FACE, "category": "wanted",
                            "score": 0.61})]
    ids = []
    with conn.transaction():
        for i, (kind, attributes) in enumerate(rows):
            ids.append(conn.execute(
                "INSERT INTO events (ts, camera_id, kind, severity, lon, lat, ward_id, "
                "attributes) VALUES (%s, 'cam-a', %s, 2, 103.96, 10.22, %s, %s::jsonb) "
                "RETURNING id", (now + timedelta(seconds=i), kind, WARD_A,
                                 json.dumps(attributes))).fetchone()[0])
        conn.execute("SELECT pg_notify('vigil_events', json_build_object('first_id', "
                     "%s::bigint, 'last_id', %s::bigint)::text)", (ids[0], ids[-1]))
    return ids


def _found(text: str) -> list[str]:
    return [m for m in MARKERS if m in text]


@pytest.mark.parametrize("role", sorted(SEES))
def test_api_and_exports_by_role(db_app: Flask, conn, login, role: str) -> None:
    seed_areas(conn)
    ids = _personal_events(conn)
    client = db_app.test_client()
    login(client, role)
    paths = ["/api/v1/events", "/api/v1/events?kind=plate_read,plate_match,face_match",
             *(f"/api/v1/events/{i}" for i in ids), "/api/v1/cameras/cam-a",
             "/api/v1/cameras/cam-a/timeline", "/api/v1/events/export?format=csv",
             "/api/v1/events/export?format=json", "/api/v1/recognition/incidents"]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        text = response.get_data(as_text=True)
        if SEES[role]:
            if "incidents" not in path:          # incidents carry no attributes at all
                assert _found(text), path
        else:
            assert _found(text) == [], (role, path)
    events = client.get("/api/v1/events").json["events"]
    face = next(e for e in events if e["kind"] == "face_match")
    if SEES[role]:
        assert face["attributes"]["person_id"] == PERSON and "redacted" not in face
    else:   # what is left still says what happened, without saying who
        assert face["attributes"] == {"category": "wanted", "score": 0.61}
        assert face["redacted"] == ["face_id", "person_id"]
        read = next(e for e in events if e["kind"] == "plate_read")
        assert read["attributes"]["province"] == "TP. Hồ Chí Minh"


def test_live_and_replayed_socket_events_by_role(live_server, conn, walls) -> None:  # noqa: F811
    seed_areas(conn)
    early = _personal_events(conn)
    server = live_server()
    clients = {role: walls(server.url, role, after_id=0) for role in SEES}
    later = _personal_events(conn)
    for role, client in clients.items():
        client.wait(lambda c=client: set(early + later) <= set(c.ids()), "every event")
        assert set(early) <= set(client.replayed), role
        text = json.dumps(client.events, ensure_ascii=False)
        if SEES[role]:
            assert PLATE in text and str(PERSON) in text, role
        else:
            assert _found(text) == [], role
            assert client.acks[0]["room"].startswith("redacted:")


def test_role_change_moves_a_live_socket_to_the_redacted_room(live_server, conn,
                                                               walls) -> None:  # noqa: F811
    from store.users import update_user
    seed_areas(conn)
    server = live_server(SESSION_RECHECK_S=0)       # no periodic re-check: only ours
    operator = walls(server.url, "operator")
    pump = server.app.extensions["vigil_pump"]
    assert pump.clients[operator.sio.get_sid()][1] == "wards:all"
    update_user(conn, "operator", role="planner")
    conn.commit()
    pump.recheck()
    assert pump.clients[operator.sio.get_sid()][1] == "redacted:wards:all"
    ids = _personal_events(conn)
    operator.wait(lambda: ids[-1] in operator.ids(), "the new events")
    assert _found(json.dumps(operator.events, ensure_ascii=False)) == []
