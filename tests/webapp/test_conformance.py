"""The API says what it does: the OpenAPI document matches the routes' parameter checks
(schemathesis runs the whole document in tests/security/test_fuzz.py), 405s name the
allowed methods, and a body over the limit is refused in the client's terms: JSON under
``/api/``, a page in the browser's language elsewhere."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask

from tests.webapp.web_testing import seed_areas

STRONG = "Vigil-wall-2026!"


@pytest.fixture
def seeded(db_app: Flask, conn) -> Flask:
    seed_areas(conn)
    return db_app


def _doc(app: Flask, login) -> dict[str, Any]:
    client = app.test_client()
    login(client, "admin")
    return client.get("/api/v1/openapi.json").json


def _param(op: dict[str, Any], name: str) -> dict[str, Any]:
    (param,) = [p for p in op["parameters"] if p["name"] == name]
    return param


def test_405_names_the_allowed_methods(app: Flask, login) -> None:
    client = app.test_client()
    login(client, "admin")
    refused = client.put("/api/v1/cameras", json={})
    assert refused.status_code == 405
    assert refused.json["error"]["code"] == "method_not_allowed"
    assert set(refused.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    page = client.delete("/login")                        # a page: HTML, still with Allow
    assert page.status_code == 405 and page.mimetype == "text/html"
    assert "POST" in page.headers["Allow"]


@pytest.mark.parametrize("query, parameter", [
    ("/api/v1/events?since=", "since"),
    ("/api/v1/events?until=", "until"),
    ("/api/v1/events?hours=", "hours"),
    ("/api/v1/events?limit=", "limit"),
    ("/api/v1/events?alerts_only=", "alerts_only"),
    ("/api/v1/events?limit=5&limit=6", "limit"),
    ("/api/v1/events?since=2026-11-21T08:00:00", "since"),       # no offset: which zone?
    ("/api/v1/events?since=2026-11-21", "since"),
    ("/api/v1/events?hours=8785", "hours"),                     # 366 days + 1 hour
    ("/api/v1/events/export?format=", "format"),
    ("/api/v1/cameras?status=", "status"),
    (f"/api/v1/wards/ward-a/series?bucket=", "bucket"),
    ("/api/v1/recognition/plates?plate=51G&format=", "format"),
    ("/api/v1/recognition/incidents?format=", "format"),
    ("/api/v1/admin/audit?since=", "since"),
    ("/api/v1/events?kind=%0D", "kind"),                       # blank is not empty
    ("/api/v1/events?kind=fight,", "kind"),
    ("/api/v1/zones?kind=market,%20port", "kind"),
])
def test_empty_repeated_or_zoneless_values_are_refused_naming_the_parameter(
        seeded: Flask, login, query: str, parameter: str) -> None:
    client = seeded.test_client()
    login(client, "admin")
    response = client.get(query)
    assert response.status_code == 400, response.json
    assert response.json["error"]["details"] == {"parameter": parameter}
    assert parameter in response.json["error"]["message"]


def test_what_a_form_sends_for_all_and_offsets_are_accepted(seeded: Flask, login) -> None:
    client = seeded.test_client()
    login(client, "admin")
    for query in ("/api/v1/events?kind=&ward=&zone=&camera=&status=",
                  "/api/v1/zones?kind=", "/api/v1/zones?kind=market,port",
                  "/api/v1/events?since=2026-11-21T08:00:00%2B07:00"
                  "&until=2026-11-22T08:00:00Z",
                  "/api/v1/events?since=2026-11-21t08:00:00.123456789z",
                  "/api/v1/events?hours=8784"):
        response = client.get(query)
        assert response.status_code == 200, (query, response.json)


def test_the_document_states_the_checks_the_routes_make(app: Flask, login) -> None:
    from webapp.api.areas import ZONE_KINDS
    doc = _doc(app, login)
    paths = doc["paths"]
    events = paths["/events"]["get"]
    assert _param(events, "hours")["schema"]["maximum"] == 366 * 24
    assert _param(events, "before")["schema"]["minimum"] == 1
    assert "366 days" in _param(events, "since")["description"]
    assert set(_param(paths["/zones"]["get"], "kind")["schema"]["enum"]) \
        == {"", *ZONE_KINDS}
    for path in ("/heatmap/incidents", "/wards/{ward_id}/series"):
        assert "intrusion" in _param(paths[path]["get"], "kind")["schema"]["enum"]
    # bodies without required fields may be left out; the others may not
    assert paths["/admin/kiosk/{name}/rotate"]["post"]["requestBody"]["required"] is False
    assert paths["/alerts/{event_id}/acknowledge"]["post"]["requestBody"]["required"] is False
    assert paths["/alerts/{event_id}/assign"]["post"]["requestBody"]["required"] is True
    assert paths["/admin/users"]["post"]["requestBody"]["required"] is True
    plates = paths["/recognition/plates"]["get"]["responses"]["200"]["content"]
    assert set(plates) == {"application/json", "text/csv"}
    # every change (DELETE too) needs the session and its CSRF token; sign-in needs neither
    for path, methods in paths.items():
        for method, op in methods.items():
            if method in ("post", "patch", "delete") and path != "/session":
                assert op["security"] == [{"session": [], "csrf": []}], (method, path)
    assert paths["/session"]["post"]["security"] == []


def test_a_wall_user_can_be_created_with_a_strong_password(seeded: Flask, login) -> None:
    client = seeded.test_client()
    csrf = login(client, "admin")
    weak = client.post("/api/v1/admin/users", headers={"X-CSRF-Token": csrf},
                       json={"name": "wall-01", "role": "wall", "password": "0" * 12})
    assert weak.status_code == 400
    assert weak.json["error"]["details"] == {"field": "password"}
    made = client.post("/api/v1/admin/users", headers={"X-CSRF-Token": csrf},
                       json={"name": "wall-01", "role": "wall", "password": STRONG})
    assert made.status_code == 201, made.json
    assert made.json["role"] == "wall"
    doc = client.get("/api/v1/openapi.json").json
    password = doc["paths"]["/admin/users"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]["properties"]["password"]
    assert "3 kinds" in password["description"] and "400" in password["description"]


def _huge_upload(client, path: str, csrf: str):
    """A 100 MB multipart POST (the body is declared, not built: the server refuses it
    from its Content-Length)."""
    return client.post(path, input_stream=io.BytesIO(b""), headers={
        "Content-Type": "multipart/form-data; boundary=x", "X-CSRF-Token": csrf},
        environ_overrides={"CONTENT_LENGTH": str(100 * 1024 * 1024)})


def test_a_too_large_upload_gets_a_page_in_the_browsers_language(db_app: Flask, login) -> None:
    client = db_app.test_client()
    csrf = login(client, "admin")
    vi = _huge_upload(client, "/recognition/watchlist", csrf)
    assert vi.status_code == 413 and vi.mimetype == "text/html"
    page = vi.data.decode()
    assert "Dữ liệu gửi lên quá lớn" in page
    assert "80 MB" in page                                  # the enrolment's limit
    assert 'lang="vi"' in page and "Request Entity Too Large" not in page
    en = _huge_upload(client, "/recognition/watchlist?lang=en", csrf)
    assert en.status_code == 413
    assert "Upload too large" in en.data.decode() and 'lang="en"' in en.data.decode()
    other = _huge_upload(client, "/recognition/hotlist?lang=vi", csrf)
    assert other.status_code == 413 and "64 KB" in other.data.decode()


def test_a_too_large_api_body_gets_the_json_error(db_app: Flask, login) -> None:
    client = db_app.test_client()
    csrf = login(client, "admin")
    response = client.post("/api/v1/alerts/1/acknowledge", input_stream=io.BytesIO(b""),
                           headers={"Content-Type": "application/json",
                                    "X-CSRF-Token": csrf},
                           environ_overrides={"CONTENT_LENGTH": str(100 * 1024 * 1024)})
    assert response.status_code == 413
    error = response.json["error"]
    assert error["code"] == "too_large" and error["details"] == {"max_bytes": 64 * 1024}
    assert "65536 bytes" in error["message"]


def test_a_page_not_found_is_in_the_browsers_language(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/no-such-page")
    assert page.status_code == 404 and "Không tìm thấy trang" in page.data.decode()
    assert "Page not found" in client.get("/no-such-page?lang=en").data.decode()
    assert client.get("/api/v1/no-such-route").json["error"]["code"] == "not_found"


@pytest.mark.parametrize("text, ok", [
    ("2026-11-21T08:00:00+07:00", True), ("2026-11-21T01:00:00Z", True),
    ("2026-11-21t01:00:00.5z", True), ("2016-12-31T23:59:60Z", True),
    ("2026-11-21T08:00:00", False), ("2026-11-21", False), ("2026-11-21 08:00:00Z", False),
    ("2026-13-21T08:00:00Z", False), ("20261121T080000Z", False), ("", False),
])
def test_times_are_rfc_3339_with_an_offset(text: str, ok: bool) -> None:
    from webapp.api.params import rfc3339
    value = rfc3339(text)
    assert (value is not None) == ok
    if ok:
        assert value.tzinfo is not None


@pytest.mark.parametrize("query, status", [
    ("limit=1_0", 400), ("limit=%20 5", 400), ("limit=%D9%A5", 400),   # int() takes them
    ("limit=%2B5", 200), ("before=" + "9" * 5000, 400), ("before=" + "9" * 30, 200),
])
def test_integers_are_written_as_digits(seeded: Flask, login, query: str, status: int) -> None:
    client = seeded.test_client()
    login(client, "admin")
    response = client.get(f"/api/v1/events?{query}")
    assert response.status_code == status, response.json
