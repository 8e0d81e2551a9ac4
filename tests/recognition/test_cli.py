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
