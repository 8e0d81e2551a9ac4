"""Fixtures for the map application, flaskr-style: ``make_app``, ``app``, ``client``,
``login`` (one user per role), ``db_app`` with a real migrated database, and
``live_server``: the app really serving Socket.IO on a free 127.0.0.1 port.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from store.settings import load_settings
from webapp import create_app, db, realtime
from webapp.server import WebServer

from tests.webapp.web_testing import PASSWORD, USERS, WALL_TOKEN  # noqa: E402


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Build apps with test users; pools and pumps are closed afterwards."""
    apps: list[Flask] = []

    def build(database_url: str | None = None, **config: Any) -> Flask:
        settings = load_settings({"state_dir": tmp_path / "state",
                                  "evidence_dir": tmp_path / "evidence",
                                  "database_url": database_url}, environ={})
        app = create_app({"SETTINGS": settings, "TESTING": True, "USERS": USERS,
                          "WALL_TOKENS": {WALL_TOKEN: {"name": "wall"}},
                          "REALTIME": False, **config})
        apps.append(app)
        return app

    yield build
    for app in apps:
        realtime.shutdown(app)
        db.close_pool(app)


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """An app without a database."""
    return make_app()


@pytest.fixture
def db_app(make_app: Callable[..., Flask], db_url: str) -> Flask:
    """An app on this test's fresh database (no live pump)."""
    return make_app(db_url)


def sign_in(client: FlaskClient, role: str) -> str:
    """Sign ``client`` in as the test user of ``role``; its CSRF token."""
    if role == "wall":
        response = client.get(f"/wall?token={WALL_TOKEN}")
        assert response.status_code == 302, response.data
        return client.get("/api/v1/session").json["csrf_token"]
    response = client.post("/api/v1/session", json={"username": role, "password": PASSWORD})
    assert response.status_code == 200, response.json
    return response.json["csrf_token"]


@pytest.fixture
def login() -> Callable[[FlaskClient, str], str]:
    """``login(client, role)`` signs in; returns the CSRF token."""
    return sign_in


@pytest.fixture
def live_server(make_app: Callable[..., Flask], db_url: str) -> Iterator[Callable[..., WebServer]]:
    """``live_server(port=0)`` serves the app with its event pump on ``db_url`` in a
    thread on 127.0.0.1, exactly as ``vigil serve`` does."""
    servers: list[WebServer] = []

    def start(port: int = 0, **config: Any) -> WebServer:
        server = WebServer(make_app(db_url, REALTIME=True, **config), "127.0.0.1", port)
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()
