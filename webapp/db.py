"""The web process's database connections, flaskr-style: ``get_db()`` for a request.

One ``psycopg_pool.ConnectionPool`` per app (created on first use, closed with
:func:`close_pool`); ``get_db()`` borrows a connection for the request or socket handler
and the app-context teardown gives it back. Connections are in autocommit mode: readers
run single statements; a write opens ``with conn.transaction():``.
"""

from __future__ import annotations

import logging
import threading

import psycopg
from flask import Flask, current_app, g
from psycopg_pool import ConnectionPool

from store.db import make_pool
from webapp.errors import ApiError

log = logging.getLogger(__name__)
_lock = threading.Lock()


def get_pool(app: Flask | None = None) -> ConnectionPool:
    """The app's connection pool, opened on first use."""
    app = app or current_app
    pool = app.extensions.get("vigil_pool")
    if pool is not None:
        return pool
    with _lock:
        pool = app.extensions.get("vigil_pool")
        if pool is None:
            url = app.config.get("DATABASE_URL")
            if not url:
                raise ApiError(503, "no database is configured (DATABASE_URL)")
            pool = make_pool(url, min_size=1, max_size=app.config.get("DB_POOL_SIZE", 8),
                             kwargs={"application_name": "vigil-web", "autocommit": True},
                             name="vigil-web",
                             timeout=float(app.config.get("DB_TIMEOUT_S", 10.0)))
            app.extensions["vigil_pool"] = pool
    return pool


def get_db() -> psycopg.Connection:
    """A pooled connection for this request, returned at teardown."""
    if "db" not in g:
        try:
            g.db = get_pool().getconn()
        except psycopg.OperationalError as exc:
            log.warning("database unavailable: %s", exc)
            raise ApiError(503, "the database is unavailable") from exc
    return g.db


def _return_db(exc: BaseException | None = None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        get_pool().putconn(conn)


def close_pool(app: Flask) -> None:
    """Close the app's pool (tests, shutdown)."""
    pool = app.extensions.pop("vigil_pool", None)
    if pool is not None:
        pool.close()


def init_app(app: Flask) -> None:
    """Register the teardown that returns the request's connection."""
    app.teardown_appcontext(_return_db)
