"""vigil's map application: the Flask app factory and its extensions.

``create_app(config=None)`` builds the app in three layers, flaskr-style: built-in
defaults, then :func:`store.settings.load_settings` (``vigil.toml`` and ``VIGIL_*``
variables), then the ``config`` mapping (tests, ``vigil serve``). Extensions are created
here at module level and bound to the app in ``init_app``.

Config keys (besides Flask's own):

``SETTINGS``            a :class:`store.settings.Settings`; default ``load_settings()``
``DATABASE_URL``        PostgreSQL URL (``vigil serve`` passes the embedded server's)
``USERS``               ``{username: {"password": ..., "role": ..., "wards": [...]|None}}``
``WALL_TOKENS``         ``{token: {"name": ..., "wards": [...]|None}}`` kiosk tokens
``LOGIN_FILE``          JSON file of hashed logins (see :mod:`webapp.access`)
``REALTIME``            start the LISTEN → Socket.IO pump (default True when a DB is set)
``CROWD_THROTTLE_S``    at most one crowd_sample per camera per this many seconds
``TILE_URL``            raster tile URL template for the basemap
``MBTILES_PATH``        MBTiles file served at /tiles/{z}/{x}/{y}.png
``TILE_ATTRIBUTION``    attribution HTML shown on the map
``EVIDENCE_ROOT``       directory evidence images are served from
``SOCKETIO_ASYNC_MODE`` Flask-SocketIO async mode (see :mod:`webapp.realtime`)
``SESSION_IDLE_S``      sessions end after this many idle seconds (settings
                        ``session_idle_minutes``); ``LOGIN_MAX_FAILURES`` /
                        ``LOGIN_WINDOW_S`` throttle sign-ins (see :mod:`webapp.access`)
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any, Mapping

from flask import Flask
from flask_socketio import SocketIO

from store.settings import REPO_ROOT, Settings, load_settings

log = logging.getLogger(__name__)

#: The one Socket.IO server; bound to the app in :func:`create_app`.
socketio = SocketIO()


def _secret_key(settings: Settings) -> str:
    """settings.secret_key, else a random key kept in state_dir/secret_key across restarts."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.state_dir / "secret_key"
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(key, encoding="utf-8")
    return key


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the map application: defaults, then settings, then ``config``."""
    config = dict(config or {})
    app = Flask(__name__, static_folder=str(REPO_ROOT / "static"),
                static_url_path="/static", instance_relative_config=False)
    # 1. defaults
    app.config.from_mapping(
        JSON_AS_ASCII=False,
        MAX_CONTENT_LENGTH=64 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        USERS={},
        WALL_TOKENS={},
        LOGIN_FILE=None,
        REALTIME=None,
        CROWD_THROTTLE_S=2.0,
        REPLAY_LIMIT=20_000,
        SOCKETIO_ASYNC_MODE="threading",
        TILE_ATTRIBUTION='&copy; <a href="https://www.openstreetmap.org/copyright">'
                         'OpenStreetMap</a> contributors (ODbL)',
    )
    # 2. settings: vigil.toml and VIGIL_* variables
    settings = config.pop("SETTINGS", None) or load_settings()
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=_secret_key(settings),
        DATABASE_URL=settings.database_url,
        EVIDENCE_ROOT=settings.evidence_root,
        MBTILES_PATH=settings.mbtiles_path,
        TILE_URL=settings.tile_url or "/tiles/{z}/{x}/{y}.png",
        LOGIN_FILE=settings.state_dir / "web_login.json",
        BABEL_DEFAULT_LOCALE=settings.locale,
        BABEL_DEFAULT_TIMEZONE=settings.timezone,
        SESSION_IDLE_S=settings.session_idle_minutes * 60,
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=12 * 3600,
    )
    # 3. the caller's mapping (tests, vigil serve)
    app.config.update(config)
    if app.config["REALTIME"] is None:
        app.config["REALTIME"] = bool(app.config["DATABASE_URL"])
    app.config["EVIDENCE_ROOT"] = Path(app.config["EVIDENCE_ROOT"]).resolve()

    from webapp import access, db, evidence, i18n, realtime, tiles
    from webapp.api import bp as api_bp
    from webapp.errors import init_app as init_errors

    db.init_app(app)
    i18n.init_app(app)
    access.init_app(app)
    init_errors(app)
    app.register_blueprint(api_bp)
    from webapp.api.recognition import bp as recognition_bp
    from webapp.recognition_views import bp as recognition_pages_bp
    app.register_blueprint(recognition_bp), app.register_blueprint(recognition_pages_bp)
    app.register_blueprint(tiles.bp)
    app.register_blueprint(evidence.bp)
    _register_views(app)
    socketio.init_app(app, async_mode=app.config["SOCKETIO_ASYNC_MODE"],
                      manage_session=False,
                      max_http_buffer_size=64 * 1024)
    realtime.init_app(app)
    return app


def _register_views(app: Flask) -> None:
    """Register the pages blueprint (``webapp.views.bp``) once it exists."""
    try:
        from webapp.views import bp as views_bp
    except ModuleNotFoundError as exc:
        if exc.name != "webapp.views":
            raise
        log.warning("webapp.views is missing: serving the API only")
        return
    app.register_blueprint(views_bp)
