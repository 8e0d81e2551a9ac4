"""Users, kiosk tokens and API tokens in the database (migration 0030).

The store keeps only hashes: callers hash passwords (``webapp.auth.passwords``) and
tokens (SHA-256 hex, :func:`token_key`) before they get here. A new password or
disabling bumps ``session_version``, which ends that user's older sessions; a role or
ward change takes effect in the live sessions (they re-read the user every request).
Functions take a psycopg connection; writes run in their own transaction.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

ROLES = ("admin", "commander", "operator", "planner", "wall")
TOKEN_SCOPES = ("view", "plan", "evidence")
USER_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
#: NOTIFY channel of every change to users and tokens (web processes re-check their
#: live sockets at once; the payload is empty).
ACCESS_CHANNEL = "vigil_access"


def _changed(conn: psycopg.Connection) -> None:
    conn.execute("SELECT pg_notify(%s, '')", (ACCESS_CHANNEL,))   # sent at commit


class UserError(ValueError):
    """A user or token change that cannot be made (the message says why)."""


@dataclass(frozen=True, slots=True)
class User:
    """A user row (without the hash unless asked for)."""

    name: str
    role: str
    wards: tuple[str, ...] | None
    disabled: bool
    session_version: int
    password_hash: str = ""
    created_at: datetime | None = None
    last_login_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The user as the admin API lists it (never the hash)."""
        return {"name": self.name, "role": self.role,
                "wards": None if self.wards is None else list(self.wards),
                "disabled": self.disabled,
                "created_at": self.created_at.isoformat() if self.created_at else None,
                "last_login_at": self.last_login_at.isoformat() if self.last_login_at
                else None}


def token_key(token: str) -> str:
    """The stored form of a token: its SHA-256 hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_user_fields(name: str, role: str, wards: Iterable[str] | None) -> tuple | None:
    """Validate a user name, role and ward list; the wards as a sorted tuple (or None)."""
    if not isinstance(name, str) or not USER_NAME.match(name):
        raise UserError(f"user name {name!r}: 2–63 characters a-z 0-9 . _ -, "
                        "starting with a letter or digit")
    if role not in ROLES:
        raise UserError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    if wards is None:
        return None
    wards = tuple(sorted(set(wards)))
    if not wards or any(not isinstance(w, str) or not 0 < len(w) <= 100 for w in wards):
        raise UserError("wards: a non-empty list of ward ids (or null for every ward)")
    return wards


def _user(row: dict[str, Any] | None) -> User | None:
    if row is None:
        return None
    return User(row["name"], row["role"], None if row["wards"] is None else tuple(row["wards"]),
                row["disabled"], row["session_version"], row.get("password_hash", ""),
                row.get("created_at"), row.get("last_login_at"))


def get_user(conn: psycopg.Connection, name: str) -> User | None:
    """The user ``name`` with its hash, or None."""
    with conn.cursor(row_factory=dict_row) as cur:
        return _user(cur.execute("SELECT * FROM users WHERE name = %s", (name,)).fetchone())


def list_users(conn: psycopg.Connection) -> list[User]:
    """Every user, by name (hashes left out)."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("SELECT name, role, wards, disabled, session_version, created_at, "
                           "last_login_at FROM users ORDER BY name").fetchall()
    return [_user(r) for r in rows]  # type: ignore[misc]


def count_users(conn: psycopg.Connection) -> int:
    """How many users exist (disabled ones included)."""
    return conn.execute("SELECT count(*) FROM users").fetchone()[0]


def add_user(conn: psycopg.Connection, name: str, role: str, wards: Iterable[str] | None,
             password_hash: str, *, created_by: str | None = None,
             if_absent: bool = False) -> bool:
    """Create a user; UserError if the name is taken (unless ``if_absent``: then False)."""
    wards = check_user_fields(name, role, wards)
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO users (name, role, wards, password_hash, created_by) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING RETURNING name",
            (name, role, None if wards is None else list(wards), password_hash,
             created_by)).fetchone()
    if row is None and not if_absent:
        raise UserError(f"user {name!r} exists already")
    return row is not None


def update_user(conn: psycopg.Connection, name: str, *, role: str | None = None,
                wards: Iterable[str] | None | str = "keep", disabled: bool | None = None,
                password_hash: str | None = None) -> User:
    """Change a user's role, wards (``None`` = every ward), disabled flag or password
    (a new password or disabling ends their sessions). UserError: no such user."""
    current = get_user(conn, name)
    if current is None:
        raise UserError(f"no user {name!r}")
    new_role = role or current.role
    new_wards = current.wards if wards == "keep" else check_user_fields(name, new_role, wards)
    check_user_fields(name, new_role, new_wards)
    with conn.transaction():
        conn.execute(
            "UPDATE users SET role = %s, wards = %s, disabled = %s, "
            "password_hash = coalesce(%s, password_hash), "
            "session_version = session_version + %s, updated_at = now() WHERE name = %s",
            (new_role, None if new_wards is None else list(new_wards),
             current.disabled if disabled is None else disabled, password_hash,
             int(password_hash is not None or bool(disabled)), name))
        _changed(conn)
    return get_user(conn, name)  # type: ignore[return-value]


def note_login(conn: psycopg.Connection, name: str) -> None:
    """Remember when ``name`` last signed in."""
    with conn.transaction():
        conn.execute("UPDATE users SET last_login_at = now() WHERE name = %s", (name,))


def active_admins(conn: psycopg.Connection) -> int:
    """How many enabled admins exist (the last one may not be disabled or demoted)."""
    return conn.execute("SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled"
                        ).fetchone()[0]



# -- browser sessions (migration 0032) ----------------------------------------------------

def open_session(conn: psycopg.Connection, key: str, name: str, remote: str | None, *,
                 forget_after_s: float) -> None:
    """Record a browser sign-in of ``name`` (``key``: SHA-256 hex of the session id) and
    remove sessions idle for longer than ``forget_after_s`` seconds."""
    with conn.transaction():
        conn.execute("DELETE FROM web_sessions WHERE active_at < now() - "
                     "make_interval(secs => %s)", (forget_after_s,))
        conn.execute("INSERT INTO web_sessions (key, user_name, remote) VALUES (%s, %s, %s)",
                     (key, name, (remote or "")[:100] or None))


def session_user(conn: psycopg.Connection, name: str, key: str) -> tuple[User, float] | None:
    """User ``name`` (with its hash) and the seconds since the user's last activity in
    the session ``key``; None when there is no such session of that user."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT u.*, extract(epoch FROM now() - s.active_at) AS idle_s "
                          "FROM web_sessions s JOIN users u ON u.name = s.user_name "
                          "WHERE s.key = %s AND s.user_name = %s", (key, name)).fetchone()
    if row is None:
        return None
    return _user(row), float(row["idle_s"])  # type: ignore[return-value]


def touch_session(conn: psycopg.Connection, key: str, min_gap_s: float) -> None:
    """Note user activity in session ``key`` (written at most every ``min_gap_s``)."""
    conn.execute("UPDATE web_sessions SET active_at = now() WHERE key = %s AND "
                 "active_at < now() - make_interval(secs => %s)", (key, min_gap_s))


def close_session(conn: psycopg.Connection, key: str) -> None:
    """End session ``key`` (sign-out): its cookie no longer signs anyone in."""
    conn.execute("DELETE FROM web_sessions WHERE key = %s", (key,))



# -- failed sign-ins (migration 0032) -----------------------------------------------------

def note_sign_in_failure(conn: psycopg.Connection, remote: str, name: str,
                         window_s: float) -> None:
    """Record a failed sign-in for ``name`` from ``remote``; forget failures older than
    ``window_s`` seconds (of every address)."""
    with conn.transaction():
        conn.execute("DELETE FROM sign_in_failures WHERE at < now() - "
                     "make_interval(secs => %s)", (window_s,))
        conn.execute("INSERT INTO sign_in_failures (remote, user_name) VALUES (%s, %s)",
                     (remote[:100], name.lower()[:100]))


def sign_in_wait(conn: psycopg.Connection, remote: str, name: str | None, limit: int,
                 window_s: float) -> float:
    """Seconds until fewer than ``limit`` failures from ``remote`` (for user ``name``, or
    for any name when None) lie within the last ``window_s`` seconds; 0 when already."""
    pair = "" if name is None else "AND user_name = %(name)s "
    row = conn.execute(
        "SELECT %(window)s - extract(epoch FROM now() - at) FROM sign_in_failures "
        "WHERE remote = %(remote)s " + pair + "AND at > now() - make_interval(secs => "
        "%(window)s) ORDER BY at DESC OFFSET %(skip)s LIMIT 1",
        {"window": window_s, "remote": remote[:100], "skip": max(limit - 1, 0),
         "name": None if name is None else name.lower()[:100]}).fetchone()
    return max(float(row[0]), 0.0) if row else 0.0


def clear_sign_in_failures(conn: psycopg.Connection, remote: str, name: str) -> None:
    """Forget the failures of user ``name`` from ``remote`` (after a good sign-in)."""
    conn.execute("DELETE FROM sign_in_failures WHERE remote = %s AND user_name = %s",
                 (remote[:100], name.lower()[:100]))


# -- kiosk tokens ------------------------------------------------------------------------

def add_kiosk_token(conn: psycopg.Connection, key: str, name: str = "wall",
                    wards: Iterable[str] | None = None, *, created_by: str | None = None,
                    if_absent: bool = False) -> None:
    """Accept a kiosk token (by its key) for the map wall."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO kiosk_tokens (key, name, wards, created_by) VALUES (%s, %s, %s, %s)"
            + (" ON CONFLICT (key) DO NOTHING" if if_absent else ""),
            (key, name, None if wards is None else sorted(set(wards)), created_by))


def _rows(conn: psycopg.Connection, query: str, params: tuple = ()) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


def _revoke(conn: psycopg.Connection, table: str, column: str, value: Any) -> int:
    """Revoke the live tokens of ``table`` whose ``column`` is ``value``; how many (live
    sockets are re-checked at commit)."""
    query = sql.SQL("UPDATE {} SET revoked_at = now() WHERE {} = %s AND revoked_at IS NULL"
                    ).format(sql.Identifier(table), sql.Identifier(column))
    with conn.transaction():
        _changed(conn)
        return conn.execute(query, (value,)).rowcount


def get_kiosk_token(conn: psycopg.Connection, key: str) -> dict[str, Any] | None:
    """The live (unrevoked) kiosk token with ``key``, or None."""
    rows = _rows(conn, "SELECT key, name, wards FROM kiosk_tokens WHERE key = %s "
                       "AND revoked_at IS NULL", (key,))
    return rows[0] if rows else None


def list_kiosk_tokens(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every kiosk token (key prefix only), newest first."""
    return _rows(conn, "SELECT left(key, 12) AS key_prefix, name, wards, created_by, "
                       "created_at, revoked_at FROM kiosk_tokens ORDER BY created_at DESC")


def revoke_kiosk_tokens(conn: psycopg.Connection, name: str) -> int:
    """Revoke every live kiosk token named ``name``; how many."""
    return _revoke(conn, "kiosk_tokens", "name", name)


# -- API tokens ---------------------------------------------------------------------------

def add_api_token(conn: psycopg.Connection, key: str, name: str, scopes: Iterable[str],
                  wards: Iterable[str] | None = None, *, created_by: str | None = None,
                  expires_at: datetime | None = None) -> int:
    """Create a read-only API token with ``scopes``; its id."""
    scopes = sorted(set(scopes))
    if not scopes or any(s not in TOKEN_SCOPES for s in scopes):
        raise UserError(f"scopes {scopes!r}: one or more of {', '.join(TOKEN_SCOPES)}")
    if not isinstance(name, str) or not 0 < len(name) <= 100:
        raise UserError("token name: 1–100 characters")
    with conn.transaction():
        return conn.execute(
            "INSERT INTO api_tokens (key, name, scopes, wards, created_by, expires_at) "
            "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (key, name, scopes, None if wards is None else sorted(set(wards)), created_by,
             expires_at)).fetchone()[0]


def get_api_token(conn: psycopg.Connection, key: str) -> dict[str, Any] | None:
    """The live (unrevoked, unexpired) API token with ``key``, or None."""
    rows = _rows(conn, "SELECT id, name, scopes, wards FROM api_tokens WHERE key = %s "
                       "AND revoked_at IS NULL AND (expires_at IS NULL OR "
                       "expires_at > now())", (key,))
    return rows[0] if rows else None


def touch_api_token(conn: psycopg.Connection, token_id: int) -> None:
    """Record a use of the token (at most once a minute)."""
    conn.execute("UPDATE api_tokens SET last_used_at = now() WHERE id = %s AND "
                 "(last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
                 (token_id,))


def list_api_tokens(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every API token (never the key), newest first."""
    return _rows(conn, "SELECT id, name, scopes, wards, created_by, created_at, expires_at, "
                       "last_used_at, revoked_at FROM api_tokens ORDER BY id DESC")


def revoke_api_token(conn: psycopg.Connection, token_id: int) -> bool:
    """Revoke API token ``token_id``; False if there is no live one."""
    return _revoke(conn, "api_tokens", "id", token_id) == 1
