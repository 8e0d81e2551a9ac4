"""Real-browser fixtures: the real app server on a loopback port and Debian's Chromium.

``site`` seeds a fresh database (two wards, two zones, six cameras, a few alerts and
crowd samples), builds the app with ``create_app`` and serves it with Werkzeug's threaded
server (Flask-SocketIO's ``threading`` mode, WebSocket through simple-websocket) on a
free 127.0.0.1 port. ``browser`` is one headless Chromium per session; ``open_page``
opens a page in a fresh context that aborts (and records) every request not addressed
to 127.0.0.1 and records console errors, which ``site.check_clean`` asserts are none.
Screenshots go to ``test-artifacts/browser/``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import psycopg
import pytest
from werkzeug.serving import BaseWSGIServer, make_server

from store.db import connect
from store.model import EVENT_KINDS, Evidence, GeoEvent
from store.readers import refresh_heatmap
from store.writer import EventWriter
from store.settings import REPO_ROOT, Settings

from tests.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402  (re-exported for bench_wall)
ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"
WALL_TOKEN = "wall-test-token"
USERS = {
    "chi.huy": {"password": "mat-khau-1", "role": "commander"},
    "truc.ban": {"password": "mat-khau-2", "role": "operator"},
    "ke.hoach": {"password": "mat-khau-3", "role": "planner"},
}


def _square(lon: float, lat: float, d: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[lon, lat], [lon + d, lat], [lon + d, lat + d],
                                                [lon, lat + d], [lon, lat]]]}


#: Two wards side by side in Phú Quốc, a port and a night market inside them.
WARDS = [("w-duong-dong", "Dương Đông", _square(103.95, 10.20, 0.03)),
         ("w-an-thoi", "An Thới", _square(103.98, 10.20, 0.03))]
ZONES = [("z-cho-dem", "Chợ đêm <Dinh Cậu>", "market", "w-duong-dong",
          _square(103.960, 10.210, 0.004)),
         ("z-cang", "Cảng An Thới", "port", "w-an-thoi", _square(103.990, 10.215, 0.006))]
#: id, name, lon, lat, status, ward
CAMERAS = [
    ("cam-01", "Chợ đêm cổng chính", 103.962, 10.212, "online", "w-duong-dong"),
    ("cam-02", "Chợ đêm <b>bến</b>", 103.963, 10.213, "online", "w-duong-dong"),
    ("cam-03", "Quảng trường", 103.970, 10.225, "offline", "w-duong-dong"),
    ("cam-04", "Cảng cổng A", 103.992, 10.217, "online", "w-an-thoi"),
    ("cam-05", "Cảng bãi xe", 103.994, 10.219, "tampered", "w-an-thoi"),
    ("cam-06", "Đường 30/4", 104.000, 10.230, "online", "w-an-thoi"),
]


def seed_areas_and_cameras(conn: psycopg.Connection) -> None:
    """Wards, zones and cameras of the browser tests."""
    with conn.transaction():
        for ident, name, geom in WARDS:
            conn.execute("INSERT INTO wards (id, name, province, geometry, approximate) "
                         "VALUES (%s, %s, 'Kiên Giang', %s, true)",
                         (ident, name, json.dumps(geom)))
        for ident, name, kind, ward, geom in ZONES:
            conn.execute("INSERT INTO zones (id, name, kind, ward_id, geometry, approximate) "
                         "VALUES (%s, %s, %s, %s, %s, true)",
                         (ident, name, kind, ward, json.dumps(geom)))
        for ident, name, lon, lat, status, ward in CAMERAS:
            conn.execute("INSERT INTO cameras (id, name, lon, lat, heading_deg, fov_deg, "
                         "range_m, status, ward_id) VALUES (%s, %s, %s, %s, 45, 90, 80, %s, %s)",
                         (ident, name, lon, lat, status, ward))


def make_event(conn: psycopg.Connection, camera_id: str, kind: str, *,
               ts: datetime | None = None, value: float | None = None,
               offset: tuple[float, float] = (0.0003, 0.0002),
               evidence: Evidence | None = None,
               attributes: dict[str, Any] | None = None) -> GeoEvent:
    """A GeoEvent near camera ``camera_id`` (ward, zone and grid cell come from the writer)."""
    cam = conn.execute("SELECT lon, lat FROM cameras WHERE id = %s", (camera_id,)).fetchone()
    assert cam is not None, camera_id
    return GeoEvent(ts=ts or datetime.now(timezone.utc), camera_id=camera_id, kind=kind,
                    lon=cam[0] + offset[0], lat=cam[1] + offset[1],
                    severity=EVENT_KINDS[kind].severity, value=value, evidence=evidence,
                    attributes=attributes or {})


def write_evidence(settings: Settings, name: str) -> Evidence:
    """A real JPEG under the evidence directory, as a worker writes one."""
    import cv2
    import numpy as np
    frame = np.zeros((120, 160, 3), np.uint8)
    cv2.rectangle(frame, (40, 30), (120, 100), (0, 200, 255), -1)
    ok, jpeg = cv2.imencode(".jpg", frame)
    assert ok
    path = settings.evidence_root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jpeg.tobytes())
    return Evidence(name, hashlib.sha256(jpeg.tobytes()).hexdigest())


def store_events(writer: EventWriter, conn: psycopg.Connection,
                 events: list[GeoEvent]) -> list[int]:
    """Store events through the real writer (COPY, commit, NOTIFY); their ids."""
    (before,) = conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()
    for event in events:
        assert writer.submit(event)
    assert writer.flush(timeout=10), "the writer did not flush within 10 s"
    rows = conn.execute("SELECT id FROM events WHERE id > %s ORDER BY id", (before,)).fetchall()
    assert len(rows) == len(events), (rows, writer.rejections)
    return [r[0] for r in rows]


#: The policy the pages must work under: nothing inline, nothing from elsewhere. A
#: violation is a console error, which every test asserts there is none of.
STRICT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' "
              "data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
              "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def _strict_csp(response: Any) -> Any:
    response.headers.setdefault("Content-Security-Policy", STRICT_CSP)
    return response


@dataclass
class Site:
    """The running app: its base URL, its database and what the browser did."""

    settings: Settings
    db_url: str
    conn: psycopg.Connection
    writer: EventWriter
    port: int = 0
    app: Any = None
    server: BaseWSGIServer | None = None
    thread: threading.Thread | None = None
    outside_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The app's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Build the app and serve it (on the same port again after a stop)."""
        from webapp import create_app
        self.app = create_app({"SETTINGS": self.settings, "DATABASE_URL": self.db_url,
                               "TESTING": True, "USERS": USERS,
                               "WALL_TOKENS": {WALL_TOKEN: {"name": "wall"}},
                               "LOGIN_FILE": None})
        self.app.after_request(_strict_csp)
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       name="vigil-test-http", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop like a killed server: every socket cut, listener and pool closed."""
        from webapp import realtime, socketio
        from webapp.db import close_pool
        eio = socketio.server.eio
        for client in list(eio.sockets.values()):   # no wait: closed pages never drain
            client.close(wait=False, reason=eio.reason.SERVER_DISCONNECT)
        eio.sockets = {}
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        realtime.shutdown(self.app)
        close_pool(self.app)

    def event(self, camera_id: str, kind: str, **kwargs: Any) -> int:
        """Store one event now through the writer; its id."""
        return store_events(self.writer, self.conn,
                            [make_event(self.conn, camera_id, kind, **kwargs)])[0]

    def check_clean(self) -> None:
        """Assert that no request left 127.0.0.1 and no console error was logged."""
        assert self.outside_requests == [], self.outside_requests
        assert self.console_errors == [], self.console_errors


@contextmanager
def served_site(settings: Settings, db_url: str,
                seed: Callable[[psycopg.Connection, EventWriter], None]) -> Iterator[Site]:
    """The app served on a free loopback port over a database ``seed`` filled first
    (an autocommit connection and the real event writer); stopped afterwards."""
    with connect(db_url) as conn, EventWriter(db_url, settings) as writer:
        conn.autocommit = True
        seed(conn, writer)
        running = Site(settings, db_url, conn, writer)
        running.start()
        try:
            yield running
        finally:
            running.stop()


@pytest.fixture
def site(settings: Settings, db_url: str) -> Iterator[Site]:
    """The seeded app served on a free loopback port."""
    def seed(conn: psycopg.Connection, writer: EventWriter) -> None:
        seed_areas_and_cameras(conn)
        now = datetime.now(timezone.utc)
        store_events(writer, conn, [
            make_event(conn, "cam-01", "intrusion", ts=now - timedelta(minutes=20)),
            make_event(conn, "cam-04", "abandoned_object", ts=now - timedelta(minutes=5),
                       evidence=write_evidence(settings, "cam-04/abandoned.jpg")),
            make_event(conn, "cam-05", "camera_scene_change", ts=now - timedelta(hours=2)),
            *(make_event(conn, cam, "crowd_sample", ts=now - timedelta(minutes=2),
                         value=2.0 + i) for i, cam in enumerate(("cam-01", "cam-02", "cam-04"))),
        ])
        refresh_heatmap(conn)

    with served_site(settings, db_url, seed) as running:
        yield running


@pytest.fixture
def open_page(browser: Any, site: Site) -> Iterator[Callable[..., Any]]:
    """``open_page(path, user=None, wall=False, size=(1600, 900))``: a page on ``site``."""
    contexts = []

    def guard(route: Any) -> None:
        host = urlsplit(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()
        else:
            site.outside_requests.append(route.request.url)
            route.abort()

    def on_console(msg: Any) -> None:
        if msg.type == "error":
            site.console_errors.append(f"{msg.text} @ {msg.location}")

    def open_(path: str, user: str | None = None, size: tuple[int, int] = (1600, 900),
              locale: str = "en-US") -> Any:
        # an English, UTC browser: the pages choose the language and the time zone
        context = browser.new_context(viewport={"width": size[0], "height": size[1]},
                                      locale=locale, timezone_id="UTC")
        contexts.append(context)
        context.route("**/*", guard)
        if user is not None:
            answer = context.request.post(f"{site.url}/api/v1/session", data={
                "username": user, "password": USERS[user]["password"]})
            assert answer.ok, answer.text()
        page = context.new_page()
        page.on("console", on_console)
        page.on("pageerror", lambda exc: site.console_errors.append(f"pageerror: {exc}"))
        page.goto(site.url + path)
        return page

    yield open_
    for context in contexts:
        context.close()


def sign_in_form(context: Any, url: str, username: str, password: str
                 ) -> tuple[Any, list[str]]:
    """A new page of ``context`` signed in through ``/login`` as a human would, and the
    list its console errors are collected in."""
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page, errors


def wait_until(page: Any, expression: str, timeout_s: float = 5.0) -> None:
    """Poll a JS expression until truthy (``wait_for_function`` needs eval, which the CSP
    of the pages forbids)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout_s} s: {expression}")
        page.wait_for_timeout(50)


def screenshot(page: Any, name: str) -> Path:
    """Save a screenshot under test-artifacts/browser/ (kept by CI as an artifact)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
