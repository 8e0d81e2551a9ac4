"""The app without a database: factory, access check, errors, tiles, i18n, OpenAPI."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from flask import Flask

from webapp.access import ensure_login_file
from webapp.tiles import default_mbtiles

from tests.webapp.web_testing import PASSWORD, WALL_TOKEN


def test_factory_layers_config(make_app) -> None:
    app = make_app(MAX_CONTENT_LENGTH=1234)
    assert app.config["MAX_CONTENT_LENGTH"] == 1234          # the test mapping wins
    assert app.config["BABEL_DEFAULT_TIMEZONE"] == "Asia/Ho_Chi_Minh"  # from settings
    assert app.config["BABEL_DEFAULT_LOCALE"] == "vi"
    assert app.config["SECRET_KEY"]
    # the generated secret is kept across restarts
    assert make_app().config["SECRET_KEY"] == app.config["SECRET_KEY"]


def test_every_endpoint_states_its_permission(app: Flask) -> None:
    missing = [rule.endpoint for rule in app.url_map.iter_rules()
               if rule.endpoint != "static"
               and not hasattr(app.view_functions[rule.endpoint], "vigil_permission")]
    assert missing == []


def test_api_refuses_anonymous_with_json(app: Flask) -> None:
    client = app.test_client()
    response = client.get("/api/v1/cameras")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert response.json["error"]["message"]


def test_pages_redirect_anonymous_to_login(app: Flask) -> None:
    response = app.test_client().get("/planner")
    assert response.status_code == 302
    assert "/login?next=/planner" in response.headers["Location"]


def test_unknown_api_route_is_json_404(app: Flask) -> None:
    response = app.test_client().get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_wrong_method_is_json_405(app: Flask) -> None:
    response = app.test_client().put("/api/v1/cameras")
    assert response.status_code == 405
    assert response.json["error"]["status"] == 405


def test_wrong_password_refused(app: Flask) -> None:
    client = app.test_client()
    response = client.post("/api/v1/session", json={"username": "admin", "password": "no"})
    assert response.status_code == 401
    assert client.get("/api/v1/session").json["user"] is None
    assert client.post("/api/v1/session", data="x").status_code == 400


def test_login_form_needs_csrf_and_signs_in(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/login")
    assert page.status_code == 200 and "Đăng nhập" in page.text   # Vietnamese by default
    refused = client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert refused.status_code == 401
    token = client.get("/api/v1/session").json["csrf_token"]
    done = client.post("/login", data={"username": "admin", "password": PASSWORD,
                                       "csrf_token": token, "next": "https://evil.example/"})
    assert done.status_code == 302 and done.headers["Location"] == "/"
    assert client.get("/api/v1/session").json["user"]["role"] == "admin"


def test_kiosk_token_signs_in_the_wall_once(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/wall?token=wrong").status_code == 401
    response = client.get(f"/wall?token={WALL_TOKEN}&x=1")
    assert response.status_code == 302 and response.headers["Location"] == "/wall?x=1"
    user = client.get("/api/v1/session").json["user"]
    assert user["role"] == "wall" and "act" not in user["permissions"]
    bearer = app.test_client().get("/api/v1/session",
                                   headers={"Authorization": f"Bearer {WALL_TOKEN}"})
    assert bearer.json["user"]["role"] == "wall"


def test_state_change_needs_csrf_token(app: Flask, login) -> None:
    client = app.test_client()
    token = login(client, "operator")
    no_token = client.post("/api/v1/alerts/1/acknowledge", json={})
    assert no_token.status_code == 403 and "CSRF" in no_token.json["error"]["message"]
    not_json = client.post("/api/v1/alerts/1/acknowledge", data="note=x",
                           headers={"X-CSRF-Token": token,
                                    "Content-Type": "application/x-www-form-urlencoded"})
    assert not_json.status_code == 415


@pytest.mark.parametrize("role", ["wall", "planner"])
def test_read_only_roles_cannot_act(app: Flask, login, role: str) -> None:
    client = app.test_client()
    token = login(client, role)
    response = client.post("/api/v1/alerts/1/acknowledge", json={},
                           headers={"X-CSRF-Token": token})
    assert response.status_code == 403


def test_logout_ends_the_session(app: Flask, login) -> None:
    client = app.test_client()
    token = login(client, "admin")
    assert client.delete("/api/v1/session", headers={"X-CSRF-Token": token}).status_code == 204
    assert client.get("/api/v1/cameras").status_code == 401


def test_login_file_created_once_and_accepted(make_app, tmp_path: Path) -> None:
    path = tmp_path / "state" / "web_login.json"
    login = ensure_login_file(path)
    assert login is not None and ensure_login_file(path) is None
    assert login.password not in path.read_text()
    app = make_app(LOGIN_FILE=path, USERS={})
    client = app.test_client()
    ok = client.post("/api/v1/session", json={"username": "admin", "password": login.password})
    assert ok.status_code == 200
    assert app.test_client().get(f"/wall?token={login.wall_token}").status_code == 302


def test_tiles_flip_rows_from_the_mbtiles(app: Flask, login) -> None:
    client = app.test_client()
    login(client, "wall")
    path = default_mbtiles()
    assert path is not None
    with sqlite3.connect(path) as db:
        expected = db.execute("SELECT tile_data FROM tiles WHERE zoom_level = 3 AND "
                              "tile_column = 6 AND tile_row = 2").fetchone()[0]
    response = client.get("/tiles/3/6/5.png")         # XYZ y=5 is TMS row 8-1-5 = 2
    assert response.status_code == 200 and response.content_type == "image/png"
    assert response.data == expected
    assert client.get("/tiles/7/0/0.png").status_code == 404
    assert client.get("/tiles/3/9/0.png").status_code == 404
    assert client.get("/tiles/3/1/1.jpg").status_code == 404
    config = client.get("/tiles/config.json").json
    assert "OpenStreetMap" in config["attribution"] and config["max_native_zoom"] == 6


def test_tiles_need_a_sign_in(app: Flask) -> None:
    assert app.test_client().get("/tiles/0/0/0.png").status_code == 401


@pytest.mark.parametrize("lang,word", [("vi", "Mật khẩu"), ("en", "Password")])
def test_json_catalogue(app: Flask, lang: str, word: str) -> None:
    doc = app.test_client().get(f"/i18n/{lang}.json").json
    assert doc["locale"] == lang and doc["timezone"] == "Asia/Ho_Chi_Minh"
    assert doc["messages"]["Password"] == word
    assert doc["kinds"]["fight"] == ("Ẩu đả" if lang == "vi" else "Fight")
    assert app.test_client().get("/i18n/fr.json").status_code == 404


def test_language_switch_is_remembered(app: Flask) -> None:
    client = app.test_client()
    response = client.get("/i18n/switch?lang=en&next=/login")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "Password" in client.get("/login").text
    assert client.get("/i18n/switch?lang=xx").status_code == 400


def test_language_choice_survives_a_request_already_under_way(app: Flask) -> None:
    """A poll sent before the switch answers with the session cookie as it was; the
    choice of language must not go back with it."""
    client = app.test_client()
    client.get("/login")                                        # a session, Vietnamese
    before = client.get_cookie("session")
    assert "Mật khẩu" in client.get("/login").text
    client.get("/login?lang=en")
    assert "Password" in client.get("/login").text
    # the reply of a request that left before the switch restores the old session cookie
    client.set_cookie("session", before.value, domain=before.domain, path=before.path)
    page = client.get("/login").text
    assert "Password" in page and "Mật khẩu" not in page
    client.get("/i18n/switch?lang=vi&next=/login")
    client.set_cookie("session", before.value, domain=before.domain, path=before.path)
    assert "Mật khẩu" in client.get("/login").text


def test_openapi_describes_every_api_route(app: Flask, login) -> None:
    client = app.test_client()
    login(client, "planner")
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    described = {(path, method.upper()) for path, item in doc["paths"].items()
                 for method in item}
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = rule.rule[len("/api/v1"):]
        path = re.sub(r"<(?:int:)?(\w+)>", r"{\1}", path)  # <int:event_id> → {event_id}
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if "<any(" in path:
                for action in ("acknowledge", "assign", "resolve"):
                    served.add((path.split("/<any")[0] + "/" + action, method))
            else:
                served.add((path, method))
    assert served == described
    from openapi_spec_validator import validate
    validate(doc)                                   # a valid OpenAPI 3.1 document
    # every $ref resolves
    import json
    text = json.dumps(doc)
    for ref in {part.split('"')[0] for part in text.split('"$ref": "#/')[1:]}:
        node = doc
        for key in ref.split("/"):
            node = node[key]


def test_unexpected_errors_are_json_500(make_app, login) -> None:
    app = make_app()

    from webapp.access import allow

    @app.get("/api/v1/boom")
    @allow("view")
    def boom():  # noqa: ANN202 - a route that fails
        raise RuntimeError("boom")

    client = app.test_client()
    login(client, "admin")
    response = client.get("/api/v1/boom")
    assert response.status_code == 500
    assert response.json["error"]["code"] == "server_error"
    assert "boom" not in response.text                 # no internals leak to the client


def test_database_down_is_json_503(make_app, login) -> None:
    import socket
    with socket.socket() as s:                      # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = make_app(f"postgresql://nobody@127.0.0.1:{port}/vigil", DB_TIMEOUT_S=1.0)
    client = app.test_client()
    # users live in the database (issue 6): signing in is a JSON 503 too
    refused = client.post("/api/v1/session", json={"username": "admin", "password": "x"})
    assert refused.status_code == 503 and "database" in refused.json["error"]["message"]
    assert client.get("/api/v1/cameras").status_code == 401


def test_security_headers(app: Flask, login) -> None:
    client = app.test_client()
    login(client, "admin")
    for path in ("/login", "/api/v1/session", "/i18n/vi.json"):
        response = client.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["X-Frame-Options"] == "DENY", path
    assert client.get("/api/v1/session").headers["Cache-Control"] == "no-store"
