"""Migrations: numbered SQL files applied once, in order; repeatable files re-applied on change.

``migrations/NNNN_name.sql`` run once each in their own transaction and are recorded in
``schema_migrations`` with their checksum (an edited landed file is reported, never
re-run). ``migrations/repeatable/*.sql`` (functions, views) are re-applied, in name
order, whenever their checksum differs from the one in ``repeatable_migrations``.
After that the ``event_kinds`` table is synchronised with :data:`store.model.EVENT_KINDS`
and the daily partitions for the coming days are made (when TimescaleDB is absent).

Number ranges: store 0001–0009, GIS 0010–0019, analytics 0020–0029, web 0030–0039.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import psycopg
from psycopg import sql

from store.db import connect, with_dbname
from store.model import EVENT_KINDS
from store.settings import REPO_ROOT

log = logging.getLogger(__name__)

MIGRATIONS_DIR = REPO_ROOT / "migrations"
_NUMBERED = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK_KEY = 8_210_000  # pg_advisory_lock key serialising concurrent upgrades


class MigrationError(RuntimeError):
    """A migration file is malformed or failed to apply."""


@dataclass(frozen=True)
class Migration:
    """One SQL file: its version (None for repeatable ones), name and path."""

    version: str | None
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class MigrationStatus:
    """Where a database stands: applied, pending and edited-after-landing files."""

    applied: list[tuple[str, str, datetime]]
    pending: list[str]
    changed: list[str]
    repeatable_pending: list[str]
    timescaledb: bool


def discover(directory: Path = MIGRATIONS_DIR) -> tuple[list[Migration], list[Migration]]:
    """The numbered migrations (in order) and the repeatable ones under ``directory``."""
    numbered: dict[str, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NUMBERED.match(path.name)
        if not match:
            raise MigrationError(f"{path}: name must look like 0001_what_it_does.sql")
        version = match.group(1)
        if version in numbered:
            raise MigrationError(f"{path}: version {version} also used by "
                                 f"{numbered[version].path.name}")
        numbered[version] = Migration(version, path.stem, path)
    repeatable = [Migration(None, p.stem, p)
                  for p in sorted((directory / "repeatable").glob("*.sql"))]
    return [numbered[v] for v in sorted(numbered)], repeatable


_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS repeatable_migrations (
    name       text PRIMARY KEY,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
"""


def timescaledb_available(conn: psycopg.Connection) -> bool:
    """Whether the server has TimescaleDB installed and preloaded."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'),"
        " current_setting('shared_preload_libraries')").fetchone()
    return bool(row[0]) and "timescaledb" in row[1]


def _applied(conn: psycopg.Connection) -> dict[str, tuple[str, str, datetime]]:
    rows = conn.execute("SELECT version, name, checksum, applied_at FROM schema_migrations")
    return {v: (n, c, t) for v, n, c, t in rows}


def fresh_database(admin_url: str, name: str) -> str:
    """Drop database ``name`` if it exists, create it empty, migrate it; its URL (for
    benchmarks: the data of a previous run is gone)."""
    drop_database(admin_url, name)
    with connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_dbname(admin_url, name)
    upgrade(url)
    return url


def drop_database(admin_url: str, name: str) -> None:
    """Drop database ``name`` (if it exists), closing its connections."""
    with connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))


def upgrade(url: str, directory: Path = MIGRATIONS_DIR, use_timescaledb: bool = True,
            partitions_ahead_days: int = 7) -> list[str]:
    """Apply pending migrations to the database at ``url``; returns the files applied.

    On a fresh database TimescaleDB is enabled first when the server preloads it (and
    ``use_timescaledb``), which makes ``events`` a hypertable instead of partitions.
    """
    numbered, repeatable = discover(directory)
    done: list[str] = []
    with connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(_BOOKKEEPING)
            applied = _applied(conn)
            if not applied and use_timescaledb and timescaledb_available(conn):
                conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
                log.info("TimescaleDB extension enabled")
            for mig in numbered:
                if mig.version in applied:
                    if applied[mig.version][1] != mig.checksum:
                        log.warning("migration %s changed after it was applied; "
                                    "landed migrations must not be edited", mig.path.name)
                    continue
                _apply(conn, mig, "INSERT INTO schema_migrations (version, name, checksum)"
                       " VALUES (%s, %s, %s)", (mig.version, mig.name, mig.checksum))
                done.append(mig.path.name)
            known = dict(conn.execute("SELECT name, checksum FROM repeatable_migrations"))
            for mig in repeatable:
                if known.get(mig.name) == mig.checksum:
                    continue
                _apply(conn, mig, "INSERT INTO repeatable_migrations (name, checksum)"
                       " VALUES (%s, %s) ON CONFLICT (name) DO UPDATE"
                       " SET checksum = excluded.checksum, applied_at = now()",
                       (mig.name, mig.checksum))
                done.append("repeatable/" + mig.path.name)
            sync_event_kinds(conn)
            ensure_partitions(conn, ahead_days=partitions_ahead_days)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return done


def _apply(conn: psycopg.Connection, mig: Migration, record: str, params: tuple) -> None:
    log.info("applying %s", mig.path.name)
    try:
        with conn.transaction():
            conn.execute(mig.sql.encode())  # no parameters: several statements at once
            conn.execute(record, params)
    except psycopg.Error as exc:
        raise MigrationError(f"{mig.path}: {exc}") from exc


def sync_event_kinds(conn: psycopg.Connection) -> None:
    """Upsert the ``event_kinds`` rows from :data:`store.model.EVENT_KINDS`."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO event_kinds (code, is_alert, severity, label_vi, label_en)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (code) DO UPDATE SET"
            " is_alert = excluded.is_alert, severity = excluded.severity,"
            " label_vi = excluded.label_vi, label_en = excluded.label_en",
            [(k.code, k.is_alert, int(k.severity), k.label_vi, k.label_en)
             for k in EVENT_KINDS.values()])


def ensure_partitions(conn: psycopg.Connection, first_day: date | None = None,
                      last_day: date | None = None, ahead_days: int = 7) -> int:
    """Make the daily event partitions (native layout) from ``first_day`` to ``last_day``."""
    today = datetime.now(timezone.utc).date()
    first_day = first_day or today - timedelta(days=1)
    last_day = last_day or today + timedelta(days=ahead_days)
    row = conn.execute("SELECT vigil_ensure_event_partitions(%s, %s)",
                       (first_day, last_day)).fetchone()
    return int(row[0])


def status(url: str, directory: Path = MIGRATIONS_DIR) -> MigrationStatus:
    """What is applied, pending or changed in the database at ``url``."""
    numbered, repeatable = discover(directory)
    with connect(url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
        applied = _applied(conn) if exists else {}
        known = dict(conn.execute("SELECT name, checksum FROM repeatable_migrations")) \
            if exists else {}
        tsdb = bool(conn.execute("SELECT EXISTS (SELECT 1 FROM pg_extension"
                                 " WHERE extname = 'timescaledb')").fetchone()[0])
    return MigrationStatus(
        applied=[(v, n, t) for v, (n, _, t) in sorted(applied.items())],
        pending=[m.path.name for m in numbered if m.version not in applied],
        changed=[m.path.name for m in numbered
                 if m.version in applied and applied[m.version][1] != m.checksum],
        repeatable_pending=[m.path.name for m in repeatable
                            if known.get(m.name) != m.checksum],
        timescaledb=tsdb,
    )
