"""``vigil watchlist`` and ``vigil hotlist`` against a real database (click's runner)."""

from __future__ import annotations

import shutil

from click.testing import CliRunner

from store import watchlist as wl
from webapp.recognition_cli import hotlist_group, watchlist_group


def test_watchlist_add_list_remove(settings, conn, face_samples, tmp_path):
    runner = CliRunner()
    models = runner.invoke(watchlist_group, ["models"], obj=settings)
    assert models.exit_code == 0, models.output
    assert "non-commercial" in models.output
    photo = tmp_path / "yao.jpg"
    shutil.copyfile(face_samples / "yaoming.jpg", photo)
    res = runner.invoke(watchlist_group, ["add", "Diêu Minh", str(photo), "--reason",
                                          "QĐ 12/2026"], obj=settings)
    assert res.exit_code == 0, res.output
    assert "face enrolled" in res.output
    (person,) = wl.list_persons(conn, "test")
    assert person.name == "Diêu Minh" and len(person.faces) == 1
    team = runner.invoke(watchlist_group, ["add", "X", str(face_samples / "players.jpg")],
                         obj=settings)
    assert team.exit_code != 0 and "faces; use a photo of the person alone" in team.output
    listed = runner.invoke(watchlist_group, ["list"], obj=settings)
    assert "Diêu Minh" in listed.output and "1 person(s)" in listed.output
    gone = runner.invoke(watchlist_group, ["remove", str(person.id)], obj=settings)
    assert gone.exit_code == 0
    again = runner.invoke(watchlist_group, ["remove", str(person.id)], obj=settings)
    assert again.exit_code != 0 and "not found" in again.output
    actions = [r["action"] for r in reversed(wl.audit_log(conn))]
    assert actions[:4] == ["watchlist.add", "watchlist.enrol", "watchlist.list",
                           "watchlist.list"]
    assert "watchlist.remove" in actions
    assert all(r["actor"].startswith(("cli:", "test")) for r in wl.audit_log(conn))


def test_hotlist_add_list_remove(settings, conn):
    runner = CliRunner()
    res = runner.invoke(hotlist_group, ["add", "59-x3 123.45", "--reason", "trộm"],
                        obj=settings)
    assert res.exit_code == 0, res.output
    assert "59-X3 123.45 (motorbike, TP. Hồ Chí Minh)" in res.output
    bad = runner.invoke(hotlist_group, ["add", "13A-123.45"], obj=settings)
    assert bad.exit_code != 0 and "not a Vietnamese plate" in bad.output
    listed = runner.invoke(hotlist_group, ["list"], obj=settings)
    assert "59-X3 123.45\tactive" in listed.output
    assert runner.invoke(hotlist_group, ["remove", "59X312345"], obj=settings).exit_code == 0
    assert wl.active_hotlist(conn) == {}


def test_hotlist_expiry_is_read_and_shown_in_local_time(settings, conn):
    """--expires 2031-01-01T08:00 is 08:00 in Asia/Ho_Chi_Minh (01:00 UTC), and the list
    shows it so."""
    from datetime import datetime, timezone
    runner = CliRunner()
    res = runner.invoke(hotlist_group, ["add", "51G-123.45", "--expires", "2031-01-01T08:00"],
                        obj=settings)
    assert res.exit_code == 0, res.output
    stored = conn.execute("SELECT expires_at FROM plate_hotlist").fetchone()[0]
    assert stored == datetime(2031, 1, 1, 1, 0, tzinfo=timezone.utc)
    listed = runner.invoke(hotlist_group, ["list"], obj=settings).output
    assert "51G-123.45\tactive\t2031-01-01 08:00:00 +07:00" in listed


def test_watchlist_add_on_an_unusable_database_is_one_line_before_the_models(tmp_path):
    """The database is checked before the face models load: one clear line, no traceback,
    no password shown (the real command in a subprocess)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"not looked at")
    no_models = tmp_path / "no-models"
    no_models.mkdir()
    env = dict(os.environ, VIGIL_STATE_DIR=str(tmp_path / "state"),
               VIGIL_DATABASE_URL="postgresql://vigil:bi-mat@127.0.0.1:1/vigil")
    for args in (["watchlist", "add", "Diêu Minh", str(photo), "--models", str(no_models)],
                 ["watchlist", "list"], ["hotlist", "add", "51G-123.45"]):
        proc = subprocess.run([sys.executable, "-m", "webapp.cli", *args], cwd=repo, env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode != 0
        assert "Traceback" not in proc.stderr, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert lines[0].startswith("Error: cannot use the database vigil on 127.0.0.1:1: ")
        assert "bi-mat" not in proc.stderr


def test_watchlist_on_a_never_migrated_database_migrates_it(pg_admin_url, tmp_path):
    """A fresh, empty database is migrated first (as vigil users does) instead of failing
    with UndefinedTable after the models have loaded."""
    import uuid

    from psycopg import sql

    from store.db import connect, with_dbname
    from store.migrate import drop_database
    from store.settings import load_settings

    name = f"vigil_empty_{uuid.uuid4().hex[:8]}"
    with connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        settings = load_settings({"database_url": with_dbname(pg_admin_url, name),
                                  "state_dir": str(tmp_path)}, environ={})
        res = CliRunner().invoke(watchlist_group, ["list"], obj=settings)
        assert res.exit_code == 0, res.output
        assert "0 person(s)" in res.output
    finally:
        drop_database(pg_admin_url, name)
