"""The directory of logins: users, kiosk tokens and API tokens, as principals.

With a database (``DATABASE_URL``) the ``users``, ``kiosk_tokens`` and ``api_tokens``
tables (migration 0030) are the one source: every request re-reads its principal, so a
disabled user, a changed role or scope, or a revoked token takes effect at once. The
config's ``USERS`` and ``WALL_TOKENS`` and a legacy ``LOGIN_FILE`` (``web_login.json``)
are copied in once (existing rows win). Without a database (tests of the pages, API
without data) they are kept in memory.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any, Callable, Iterable

from flask import Flask

from store import users as store_users
from store.users import ROLES, token_key
from webapp.auth.passwords import hash_password, verify_password

log = logging.getLogger(__name__)


def _wards(value: Iterable[str] | None) -> frozenset[str] | None:
    return None if value is None else frozenset(value)


class Directory:
    """Who may sign in, looked up by name, token key or principal ref."""

    def __init__(self, app: Flask, make_principal: Callable[..., Any]) -> None:
        self.app = app
        self.principal = make_principal
        self.users: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self._seeded = False
        self._lock = threading.Lock()

    @property
    def uses_database(self) -> bool:
        """Whether users live in the database."""
        return bool(self.app.config.get("DATABASE_URL"))

    # -- building ------------------------------------------------------------------------

    def add_user(self, name: str, role: str, wards: Iterable[str] | None = None, *,
                 password: str | None = None, password_hash: str | None = None) -> None:
        """Add a configured user (copied into the database on first use when there is one)."""
        if role not in ROLES:
            raise ValueError(f"user {name!r}: unknown role {role!r} (known: {', '.join(ROLES)})")
        if password_hash is None:
            if not password:
                raise ValueError(f"user {name!r}: needs a password or password_hash")
            password_hash = hash_password(password)
        self.users[name] = {"password_hash": password_hash, "role": role,
                            "wards": _wards(wards)}

    def add_token(self, key: str, name: str = "wall", wards: Iterable[str] | None = None) -> None:
        """Accept a configured kiosk token, given by its SHA-256 hex key."""
        self.tokens[key] = {"name": name, "wards": _wards(wards)}

    def load_file(self, path: Path) -> None:
        """Add the users and tokens of a legacy login file (``web_login.json``)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: cannot read the login file: {exc}") from exc
        for name, user in data.get("users", {}).items():
            self.add_user(name, user["role"], user.get("wards"),
                          password_hash=user["password_hash"])
        for key, entry in data.get("wall_tokens", {}).items():
            self.add_token(key, entry.get("name", "wall"), entry.get("wards"))

    def _db(self) -> Any:
        from webapp.db import get_db
        conn = get_db()
        if not self._seeded:
            with self._lock:
                if not self._seeded:
                    self.seed(conn)
                    self._seeded = True
        return conn

    def seed(self, conn: Any) -> None:
        """Copy configured users and tokens into the database (existing rows win)."""
        for name, user in self.users.items():
            store_users.add_user(conn, name, user["role"], user["wards"],
                                 user["password_hash"], created_by="config", if_absent=True)
        for key, entry in self.tokens.items():
            store_users.add_kiosk_token(conn, key, entry["name"], entry["wards"],
                                        created_by="config", if_absent=True)

    # -- lookups -------------------------------------------------------------------------

    def authenticate(self, name: str, password: str) -> Any:
        """The principal of user ``name`` if ``password`` is theirs and they are enabled."""
        if self.uses_database:
            conn = self._db()
            user = store_users.get_user(conn, name) if store_users.USER_NAME.match(name) \
                else None
            if not verify_password(user.password_hash if user else None, password) \
                    or user is None or user.disabled:
                return None
            store_users.note_login(conn, name)
            return self.principal(name, user.role, _wards(user.wards),
                                  ref=f"user:{name}:{user.session_version}")
        entry = self.users.get(name)
        if not verify_password(entry["password_hash"] if entry else None, password):
            return None
        return self.user(name)

    def user(self, name: str, version: int | None = None) -> Any:
        """User ``name`` as it stands now; None when absent, disabled, or when
        ``version`` is given and their sessions were ended since."""
        if self.uses_database:
            user = store_users.get_user(self._db(), name)
            if user is None or user.disabled or (version is not None
                                                 and version != user.session_version):
                return None
            return self.principal(name, user.role, _wards(user.wards),
                                  ref=f"user:{name}:{user.session_version}")
        entry = self.users.get(name)
        return None if entry is None else self.principal(
            name, entry["role"], entry["wards"], ref=f"user:{name}:0")

    def kiosk(self, key: str, via: str = "session") -> Any:
        """The map wall behind a kiosk token key, if the token is (still) accepted."""
        if self.uses_database:
            row = store_users.get_kiosk_token(self._db(), key)
            entry = None if row is None else {"name": row["name"], "wards": _wards(row["wards"])}
        else:
            entry = self.tokens.get(key)
        return None if entry is None else self.principal(
            entry["name"], "wall", entry["wards"], via=via, ref=f"kiosk:{key}")

    def api_token(self, key: str) -> Any:
        """The read-only machine client behind an API token key, if live."""
        if not self.uses_database:
            return None
        conn = self._db()
        row = store_users.get_api_token(conn, key)
        if row is None:
            return None
        store_users.touch_api_token(conn, row["id"])
        return self.principal(f"token:{row['name']}", "api", _wards(row["wards"]), via="token",
                              ref=f"api:{key}", scopes=frozenset(row["scopes"]))

    def bearer(self, token: str) -> Any:
        """The kiosk or API token client for a bearer token."""
        key = token_key(token)
        return self.kiosk(key, via="token") or self.api_token(key)

    def lookup(self, ref: str) -> Any:
        """The principal behind ``ref`` as it stands now (None: removed, disabled,
        revoked, or its sessions ended)."""
        kind, _sep, rest = ref.partition(":")
        if kind == "user":
            name, _sep, version = rest.rpartition(":")
            if not version.isdigit():
                return None
            return self.user(name, None if not self.uses_database else int(version))
        if kind == "kiosk":
            return self.kiosk(rest)
        if kind == "api":
            return self.api_token(rest)
        return None
