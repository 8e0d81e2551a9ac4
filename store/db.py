"""Connections: the database URL (external or embedded), plain connections and pools."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

import psycopg
from psycopg_pool import ConnectionPool

from store.embedded import EmbeddedPostgres
from store.settings import Settings

log = logging.getLogger(__name__)

APPLICATION_NAME = "vigil"


@contextmanager
def open_database(settings: Settings) -> Iterator[str]:
    """Yield the database URL: ``settings.database_url``, or the embedded server's.

    The embedded PostgreSQL (under ``settings.state_dir/pg``) is started on entry,
    restarted should it die meanwhile, and stopped on exit unless another vigil process
    still uses it.
    """
    if settings.database_url:
        yield settings.database_url
        return
    server = EmbeddedPostgres(settings.state_dir)
    url = server.start(supervise=True)
    try:
        yield url
    finally:
        server.stop()


def connect(url: str, autocommit: bool = False, **kwargs) -> psycopg.Connection:
    """A psycopg connection to ``url`` (UTC session time zone)."""
    kwargs.setdefault("application_name", APPLICATION_NAME)
    conn = psycopg.connect(url, autocommit=autocommit, **kwargs)
    conn.execute("SET TIME ZONE 'UTC'")
    if not autocommit:
        conn.commit()
    return conn


def _configure(conn: psycopg.Connection) -> None:
    conn.execute("SET TIME ZONE 'UTC'")
    conn.commit()


def make_pool(url: str, min_size: int = 1, max_size: int = 10, **kwargs) -> ConnectionPool:
    """An opened connection pool to ``url``; close it with ``pool.close()``.

    Each connection is checked as it is lent, so one broken by a database restart is
    replaced instead of failing the request that drew it.
    """
    kwargs.setdefault("kwargs", {"application_name": APPLICATION_NAME})
    kwargs.setdefault("check", ConnectionPool.check_connection)
    pool = ConnectionPool(url, min_size=min_size, max_size=max_size, configure=_configure,
                          open=False, **kwargs)
    pool.open()
    return pool


def has_timescaledb(conn: psycopg.Connection) -> bool:
    """Whether the events table is a TimescaleDB hypertable in this database."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')"
    ).fetchone()
    return bool(row and row[0])


def with_dbname(url: str, dbname: str) -> str:
    """``url`` pointing at database ``dbname`` instead (URL or key=value conninfo)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo
    if "://" in url:
        from urllib.parse import quote, urlsplit, urlunsplit
        parts = urlsplit(url)
        return urlunsplit(parts._replace(path="/" + quote(dbname, safe="")))
    return make_conninfo(**{**conninfo_to_dict(url), "dbname": dbname})
