"""Migration 0042 folds recognition_audit into the one append-only audit_log."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from store import audit
from store import watchlist as wl
from store.db import connect, with_dbname
from store.migrate import MIGRATIONS_DIR, upgrade


@pytest.fixture
def blank_db(pg_admin_url: str):
    name = f"vigil_fold_{os.getpid()}"
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield with_dbname(pg_admin_url, name)
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))


def test_recognition_rows_move_into_the_append_only_log(blank_db: str, tmp_path: Path):
    before = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, before)
    (before / "0042_one_audit_log.sql").unlink()
    upgrade(blank_db, before, use_timescaledb=False)
    with connect(blank_db, autocommit=True) as conn:
        conn.execute("INSERT INTO audit_log (at, actor, role, action, target) VALUES "
                     "('2026-11-01T08:00Z', 'admin', 'admin', 'login', 'admin')")
        conn.execute("INSERT INTO recognition_audit (at, actor, action, target, remote, "
                     "detail) VALUES ('2026-11-01T07:00Z', 'cli:root', 'watchlist.add', "
                     "'person:1', NULL, '{\"name\": \"Nguyễn Văn A\"}'), "
                     "('2026-11-01T09:00Z', 'chi.huy', 'plates.search', '51G', "
                     "'10.0.0.5', '{\"results\": 2}')")
    assert upgrade(blank_db, MIGRATIONS_DIR, use_timescaledb=False) == [
        "0042_one_audit_log.sql"]
    with connect(blank_db, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('recognition_audit')").fetchone()[0] is None
        rows = audit.recent(conn)
        assert [(r["actor"], r["action"], r["outcome"]) for r in rows] == [
            ("chi.huy", "plates.search", "ok"), ("admin", "login", "ok"),
            ("cli:root", "watchlist.add", "ok")]           # one trail, in time order
        assert rows[0]["remote"] == "10.0.0.5" and rows[0]["detail"]["results"] == 2
        assert rows[2]["detail"]["name"] == "Nguyễn Văn A"
        assert "recognition_audit_id" in rows[2]["detail"]
        assert [r["action"] for r in wl.audit_log(conn)] == ["plates.search",
                                                             "watchlist.add"]
        wl.add_plate(conn, "51G-123.45", "chi.huy", remote="10.0.0.6")   # written through
        assert audit.recent(conn, limit=1)[0]["action"] == "hotlist.add"
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("DELETE FROM audit_log WHERE action = 'watchlist.add'")
