"""Shared fixtures: a real PostgreSQL and fresh migrated databases (flaskr style).

``pg_admin_url`` (session): the embedded PostgreSQL started in a private temporary state
directory, or ``VIGIL_TEST_DATABASE_URL`` (an external server, e.g. PostgreSQL 15 with
TimescaleDB from scripts/timescaledb). ``db_url`` (per test): a fresh database cloned
from a migrated template. ``conn``: a psycopg connection to it. ``settings``: vigil
settings pointing at ``db_url`` with a private state directory.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import psycopg
import pytest
from psycopg import sql

from store.db import connect, with_dbname
from store.embedded import EmbeddedPostgres
from store.migrate import ensure_partitions, upgrade
from store.settings import Settings, load_settings

#: Faster, unsafe settings for throwaway test servers.
TEST_SERVER_CONF = {"fsync": "off", "synchronous_commit": "off",
                    "full_page_writes": "off", "max_connections": "200"}


#: Days of event partitions the template database has before today (native layout).
TEMPLATE_HISTORY_DAYS = 35


def _admin(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True)


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """Superuser URL of the test server (embedded, or ``VIGIL_TEST_DATABASE_URL``)."""
    external = os.environ.get("VIGIL_TEST_DATABASE_URL")
    if external:
        yield external
        return
    state = Path(tempfile.mkdtemp(prefix="vigil-test-", dir="/tmp"))
    state.chmod(0o711)  # our own state dir: the server's user (root runs) must enter it
    server = EmbeddedPostgres(state, conf=TEST_SERVER_CONF)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def template_db(pg_admin_url: str) -> Iterator[str]:
    """Name of a migrated template database (made once per session)."""
    name = f"vigil_template_{os.getpid()}"
    with _admin(pg_admin_url) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_dbname(pg_admin_url, name)
    upgrade(url)
    with connect(url) as conn:
        # A store that has been running for a while: daily partitions (native layout)
        # for the past TEMPLATE_HISTORY_DAYS, so a test that inserts rows by plain SQL
        # some hours or days back works at any hour of the day (the writer makes its
        # partitions on demand; plain INSERTs cannot).
        today = datetime.now(timezone.utc).date()
        ensure_partitions(conn, today - timedelta(days=TEMPLATE_HISTORY_DAYS), today)
        conn.commit()
    with _admin(pg_admin_url) as admin:
        # No connections (TimescaleDB's scheduler skips it), so it can be cloned.
        admin.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(
            sql.Identifier(name)))
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      " WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
    yield name
    with _admin(pg_admin_url) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))


_counter = itertools.count()


@pytest.fixture
def db_url(pg_admin_url: str, template_db: str) -> Iterator[str]:
    """URL of a fresh, migrated database for this test; dropped afterwards."""
    name = f"vigil_t{os.getpid()}_{next(_counter)}"
    with _admin(pg_admin_url) as admin:
        for attempt in range(20):
            try:
                admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template_db)))
                break
            except psycopg.errors.ObjectInUse:
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                              " WHERE datname = %s", (template_db,))
                if attempt == 19:
                    raise
    yield with_dbname(pg_admin_url, name)
    with _admin(pg_admin_url) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    """A psycopg connection (UTC, not autocommit) to this test's database."""
    with connect(db_url) as c:
        yield c


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """vigil settings for this test: its database and a private state directory."""
    return load_settings({"database_url": db_url, "state_dir": tmp_path / "state"},
                         environ={})


#: Debian's Chromium, driven by Playwright for every real-browser test (no download).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                 "--disable-component-update", "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Debian Chromium per session, shared by every browser test.

    Playwright's sync API allows one driver per thread at a time, so the suites share
    this fixture instead of each starting their own.
    """
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium "
                    "(listed in scripts/apt-packages.txt)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
