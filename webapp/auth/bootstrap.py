"""The first login: an admin and a map-wall token, created once and shown once.

``vigil serve`` and ``vigil demo`` call :func:`ensure_first_admin` after migrating: a
legacy ``web_login.json`` (the single login of the map-application issue) is imported
into the ``users`` / ``kiosk_tokens`` tables and renamed ``web_login.json.imported``;
when no user exists (or on ``reset``) an ``admin`` with a random password and a fresh
wall token are made, and returned so the caller prints them once. Only hashes are kept.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from store import audit as store_audit
from store import users as store_users
from store.users import token_key
from webapp.auth.passwords import hash_password

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewLogin:
    """Credentials just created; shown once, stored only hashed."""

    username: str
    password: str
    wall_token: str


def new_password() -> str:
    """A random password that passes the strength rule (16 URL-safe characters)."""
    return secrets.token_urlsafe(12)


def ensure_login_file(path: Path, *, reset: bool = False,
                      password: str | None = None) -> NewLogin | None:
    """Create a legacy login file (apps without a database read it) unless it exists."""
    if path.exists() and not reset:
        return None
    login = NewLogin("admin", password or new_password(), secrets.token_urlsafe(24))
    data = {"users": {login.username: {"password_hash": hash_password(login.password),
                                       "role": "admin", "wards": None}},
            "wall_tokens": {token_key(login.wall_token): {"name": "wall", "wards": None}}}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=1)
    tmp.replace(path)
    return login


def import_login_file(conn, path: Path) -> int:  # noqa: ANN001 - psycopg.Connection
    """Copy a legacy login file's users and wall tokens into the database (existing
    rows win), then rename it ``*.imported``; how many rows were added."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return 0
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read the login file: {exc}") from exc
    added = 0
    for name, user in data.get("users", {}).items():
        added += store_users.add_user(conn, name, user["role"], user.get("wards"),
                                      user["password_hash"], created_by="web_login.json",
                                      if_absent=True)
    for key, entry in data.get("wall_tokens", {}).items():
        store_users.add_kiosk_token(conn, key, entry.get("name", "wall"), entry.get("wards"),
                                    created_by="web_login.json", if_absent=True)
        added += 1
    path.replace(path.with_name(path.name + ".imported"))
    log.info("imported %s into the users table (%d rows)", path, added)
    return added


def rotate_kiosk_token(conn, name: str = "wall", wards=None,  # noqa: ANN001
                       actor: str = "cli") -> str:
    """Revoke the kiosk tokens named ``name`` and make a new one; the new token."""
    token = secrets.token_urlsafe(24)
    with conn.transaction():
        store_users.revoke_kiosk_tokens(conn, name)
        store_users.add_kiosk_token(conn, token_key(token), name, wards, created_by=actor)
        store_audit.record(conn, actor, "kiosk.rotate", name)
    return token


def ensure_first_admin(url: str, *, reset: bool = False, password: str | None = None,
                       login_file: Path | None = None) -> NewLogin | None:
    """Make the first admin and wall token when no user exists (or on ``reset``: a new
    admin password and wall token, the old ones stop working); None when nothing new."""
    from store.db import connect
    with connect(url, autocommit=True) as conn:
        if login_file is not None:
            import_login_file(conn, login_file)
        if not reset and store_users.count_users(conn) > 0:
            return None
        login = NewLogin("admin", password or new_password(), "")
        hashed = hash_password(login.password)
        with conn.transaction():
            if store_users.get_user(conn, "admin") is None:
                store_users.add_user(conn, "admin", "admin", None, hashed,
                                     created_by="vigil serve")
                store_audit.record(conn, "vigil serve", "user.add", "admin")
            else:
                store_users.update_user(conn, "admin", role="admin", disabled=False,
                                        password_hash=hashed)
                store_audit.record(conn, "vigil serve", "user.password", "admin",
                                   detail={"reset": True})
        token = rotate_kiosk_token(conn, "wall", None, actor="vigil serve")
    return NewLogin(login.username, login.password, token)
