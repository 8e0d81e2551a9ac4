"""``vigil users`` / ``vigil tokens`` and the first-admin bootstrap on a real database."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from store import users as store_users
from store.settings import Settings
from webapp.access import ensure_login_file
from webapp.auth.bootstrap import ensure_first_admin
from webapp.cli import main

STRONG = "Ba-con-meo-7-tren-mai"


def _vigil(settings: Settings, *args: str, stdin: str | None = None):  # noqa: ANN202
    result = CliRunner().invoke(main, list(args), input=stdin, obj=settings,
                                env={"VIGIL_DATABASE_URL": settings.database_url,
                                     "VIGIL_STATE_DIR": str(settings.state_dir)})
    return result


def test_users_commands(settings: Settings, conn) -> None:
    conn.execute("INSERT INTO wards (id, name, geometry) VALUES ('w-1', 'Một', '{}'), "
                 "('w-2', 'Hai', '{}')")   # a ward scope names stored wards
    conn.commit()
    added = _vigil(settings, "users", "add", "chi.huy", "--role", "commander", "--ward",
                   "w-1", "--ward", "w-2", "--password-stdin", stdin=STRONG + "\n")
    assert added.exit_code == 0, added.output
    weak = _vigil(settings, "users", "add", "yeu", "--role", "operator", "--password-stdin",
                  stdin="matkhau\n")
    assert weak.exit_code != 0 and "too weak" in weak.output
    generated = _vigil(settings, "users", "add", "truc.ban", "--role", "operator",
                       "--generate")
    assert generated.exit_code == 0 and "shown once" in generated.output
    listed = _vigil(settings, "users", "list")
    assert "chi.huy" in listed.output and "wards=w-1,w-2" in listed.output
    conn.execute("UPDATE users SET last_login_at = '2026-12-01 20:00:01.5+00'"
                 " WHERE name = 'chi.huy'")
    conn.commit()
    listed = _vigil(settings, "users", "list")        # local time, to the second
    assert "last=2026-12-02 03:00:01 +07:00" in listed.output, listed.output
    user = store_users.get_user(conn, "chi.huy")
    assert user.role == "commander" and user.wards == ("w-1", "w-2")
    assert STRONG not in user.password_hash and user.password_hash.startswith("scrypt:")
    assert _vigil(settings, "users", "set", "chi.huy", "--all-wards").exit_code == 0
    assert store_users.get_user(conn, "chi.huy").wards is None
    version = store_users.get_user(conn, "chi.huy").session_version
    assert _vigil(settings, "users", "passwd", "chi.huy", "--generate").exit_code == 0
    assert store_users.get_user(conn, "chi.huy").session_version == version + 1
    assert _vigil(settings, "users", "disable", "chi.huy").exit_code == 0
    assert store_users.get_user(conn, "chi.huy").disabled
    missing = _vigil(settings, "users", "disable", "nobody")
    assert missing.exit_code != 0 and "no user" in missing.output
    actions = [r[0] for r in conn.execute("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["user.add", "user.add", "user.change", "user.password", "user.disable"]
    assert conn.execute("SELECT actor FROM audit_log LIMIT 1").fetchone()[0].startswith("cli")


def test_tokens_commands(settings: Settings, conn) -> None:
    made = _vigil(settings, "tokens", "add", "so-gtvt", "--scope", "view", "--scope", "plan")
    assert made.exit_code == 0, made.output
    token = made.output.split(": ", 1)[1].split()[0]
    assert token.startswith("vgt_")
    row = store_users.get_api_token(conn, store_users.token_key(token))
    assert row["scopes"] == ["plan", "view"]
    assert "so-gtvt" in _vigil(settings, "tokens", "list").output
    assert _vigil(settings, "tokens", "revoke", str(row["id"])).exit_code == 0
    assert store_users.get_api_token(conn, store_users.token_key(token)) is None
    rotated = _vigil(settings, "tokens", "kiosk-rotate")
    assert rotated.exit_code == 0 and "/wall?token=" in rotated.output
    wall = rotated.output.split("token=")[1].split()[0]
    assert store_users.get_kiosk_token(conn, store_users.token_key(wall)) is not None
    assert _vigil(settings, "tokens", "kiosk-revoke").exit_code == 0
    assert store_users.get_kiosk_token(conn, store_users.token_key(wall)) is None


def test_first_admin_once_and_legacy_login_file_imported(db_url: str, conn,
                                                         tmp_path: Path) -> None:
    legacy = tmp_path / "web_login.json"
    old = ensure_login_file(legacy)                  # the single login before issue 6
    login = ensure_first_admin(db_url, login_file=legacy)
    assert login is None                             # the imported admin is the first user
    assert not legacy.exists() and (tmp_path / "web_login.json.imported").exists()
    assert old.password not in json.dumps(
        [r for r in conn.execute("SELECT * FROM users").fetchall()], default=str)
    from webapp.auth.passwords import verify_password
    assert verify_password(store_users.get_user(conn, "admin").password_hash, old.password)
    assert store_users.get_kiosk_token(conn, store_users.token_key(old.wall_token))
    reset = ensure_first_admin(db_url, reset=True)
    assert reset is not None and reset.wall_token
    assert verify_password(store_users.get_user(conn, "admin").password_hash, reset.password)
    assert store_users.get_kiosk_token(conn, store_users.token_key(old.wall_token)) is None


def test_first_admin_on_an_empty_table(db_url: str, conn) -> None:
    login = ensure_first_admin(db_url)
    assert login is not None and len(login.password) >= 16
    assert ensure_first_admin(db_url) is None
    assert store_users.count_users(conn) == 1
