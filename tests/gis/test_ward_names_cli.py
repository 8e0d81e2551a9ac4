"""Every command taking a ward refuses an unknown one, naming close matches (a typo would
otherwise give the user an empty map and no hint)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from gis.boundaries import load_shipped
from store import areas
from store import users as store_users
from webapp.cli import main

STRONG = "Ba-con-meo-7-tren-mai"


def _vigil(settings, *args, stdin=None):
    return CliRunner().invoke(main, list(args), input=stdin, obj=settings,
                              env={"VIGIL_DATABASE_URL": settings.database_url,
                                   "VIGIL_STATE_DIR": str(settings.state_dir)})


@pytest.fixture()
def phu_quoc(conn):
    wards, _ = load_shipped("phu-quoc")
    areas.replace_wards(conn, wards, "phu-quoc")
    conn.commit()


def test_no_wards_loaded_says_so(settings, conn):
    res = _vigil(settings, "users", "add", "chi.huy", "--role", "commander", "--ward",
                 "pq-duong-dong", "--password-stdin", stdin=STRONG + "\n")
    assert res.exit_code != 0 and "no wards are loaded yet" in res.output
    assert "vigil gis load-shipped" in res.output and "Traceback" not in res.output
    assert store_users.get_user(conn, "chi.huy") is None


@pytest.mark.parametrize("typo,suggested", [
    ("pq-duong-dnog", "pq-duong-dong (Phường Dương Đông)"),
    ("duong-dong", "pq-duong-dong (Phường Dương Đông)"),
    ("Dương Đông", "pq-duong-dong (Phường Dương Đông)"),
    ("an-thoi", "pq-an-thoi (Phường An Thới)"),
])
def test_typo_names_close_matches(settings, conn, phu_quoc, typo, suggested):
    res = _vigil(settings, "users", "add", "chi.huy", "--role", "commander", "--ward", typo,
                 "--password-stdin", stdin=STRONG + "\n")
    assert res.exit_code != 0
    assert f"unknown ward {typo!r} (did you mean {suggested}" in res.output, res.output
    assert store_users.get_user(conn, "chi.huy") is None


def test_no_close_match_lists_known_wards(settings, conn, phu_quoc):
    res = _vigil(settings, "users", "add", "chi.huy", "--role", "commander", "--ward", "xyz",
                 "--password-stdin", stdin=STRONG + "\n")
    assert res.exit_code != 0 and "unknown ward 'xyz'; known wards: " in res.output
    assert "pq-tho-chau (Xã Thổ Châu)" in res.output


def test_every_ward_command_checks(settings, conn, phu_quoc):
    ok = _vigil(settings, "users", "add", "chi.huy", "--role", "commander", "--ward",
                "pq-duong-dong", "--password-stdin", stdin=STRONG + "\n")
    assert ok.exit_code == 0, ok.output
    for args in (["users", "set", "chi.huy", "--ward", "pq-an-thoi", "--ward", "pq-anthoi"],
                 ["tokens", "add", "so", "--scope", "view", "--ward", "pq-anthoi"],
                 ["tokens", "kiosk-rotate", "--ward", "pq-anthoi"],
                 ["report", "hotspots", "--from", "2026-01-01", "--to", "2026-01-02",
                  "--ward", "pq-anthoi", "--out", str(settings.state_dir / "r.html")]):
        res = _vigil(settings, *args)
        assert res.exit_code != 0, args
        assert "unknown ward 'pq-anthoi' (did you mean pq-an-thoi" in res.output, res.output
    assert store_users.get_user(conn, "chi.huy").wards == ("pq-duong-dong",)
    assert store_users.list_api_tokens(conn) == []
    assert store_users.list_kiosk_tokens(conn) == []
