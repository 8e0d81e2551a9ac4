"""Migrations against the real server: schema, record table, repeatable files, layout."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from store import migrate
from store.db import connect, has_timescaledb
from store.model import EVENT_KINDS


def test_schema_has_contract_tables(conn):
    names = {r[0] for r in conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
    for table in ("wards", "zones", "cameras", "event_kinds", "events", "alert_state",
                  "alert_actions", "camera_heartbeats", "heatmap_rollup",
                  "schema_migrations", "repeatable_migrations"):
        assert table in names


def test_event_kinds_seeded(conn):
    rows = dict(conn.execute("SELECT code, label_vi FROM event_kinds"))
    assert rows == {k: spec.label_vi for k, spec in EVENT_KINDS.items()}


def test_events_layout_matches_server(conn):
    available = migrate.timescaledb_available(conn)
    assert has_timescaledb(conn) == available
    if available:
        row = conn.execute("SELECT d.time_interval FROM timescaledb_information.dimensions d"
                           " WHERE hypertable_name = 'events'").fetchone()
        assert row is not None and row[0].days == 1
    else:
        parts = conn.execute("SELECT count(*) FROM pg_inherits"
                             " WHERE inhparent = 'events'::regclass").fetchone()[0]
        assert parts >= 8  # yesterday, today and 7 days ahead


def test_upgrade_twice_is_a_no_op(db_url):
    assert migrate.upgrade(db_url) == []
    st = migrate.status(db_url)
    assert not st.pending and not st.changed and not st.repeatable_pending
    assert [v for v, _, _ in st.applied][0] == "0001"


def test_new_and_changed_files(db_url, tmp_path: Path):
    folder = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, folder)
    (folder / "0009_extra.sql").write_text("CREATE TABLE extra_t (x int);")
    view = folder / "repeatable" / "zz_view.sql"
    view.write_text("CREATE OR REPLACE VIEW extra_v AS SELECT 1 AS one;")
    assert migrate.status(db_url, folder).pending == ["0009_extra.sql"]
    assert migrate.upgrade(db_url, folder) == ["0009_extra.sql", "repeatable/zz_view.sql"]
    view.write_text("CREATE OR REPLACE VIEW extra_v AS SELECT 1 AS one, 2 AS two;")
    assert migrate.upgrade(db_url, folder) == ["repeatable/zz_view.sql"]
    with connect(db_url) as c:
        assert c.execute("SELECT two FROM extra_v").fetchone()[0] == 2
    (folder / "0009_extra.sql").write_text("CREATE TABLE extra_t (x int, y int);")
    assert migrate.status(db_url, folder).changed == ["0009_extra.sql"]


def test_bad_migration_is_rolled_back_and_named(db_url, tmp_path: Path):
    folder = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, folder)
    (folder / "0008_broken.sql").write_text("CREATE TABLE half_t (x int); SELEC 1;")
    with pytest.raises(migrate.MigrationError, match="0008_broken.sql"):
        migrate.upgrade(db_url, folder)
    with connect(db_url) as c:
        assert c.execute("SELECT to_regclass('half_t')").fetchone()[0] is None


def test_misnamed_file_is_refused(tmp_path: Path):
    (tmp_path / "repeatable").mkdir()
    (tmp_path / "1_x.sql").write_text("")
    with pytest.raises(migrate.MigrationError, match="1_x.sql"):
        migrate.discover(tmp_path)
