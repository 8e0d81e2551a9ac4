"""The directory of logins: users, kiosk tokens and API tokens, as principals.

With a database (``DATABASE_URL``) the ``users``, ``kiosk_tokens`` and ``api_tokens``
tables (migration 0030) are the one source: every request re-reads its principal, so a
disabled user, a changed role or scope, or a revoked token takes effect at once. The
config's ``USERS`` and ``WALL_TOKENS`` and a legacy ``LOGIN_FILE`` (``web_login.json``)
are copied in once (existing rows win). Without a database (tests of the pages, API
without data) they are kept in memory.

Browser sessions of users are kept on the server too (``web_sessions``, migration 0032;
in memory without a database): a sign-in makes a random session id, the principal's
ref ``user:<name>:<session version>:<session id>`` goes into the signed cookie, and a
ref whose session is unknown (signed out, swept) or idle for longer than
``SESSION_IDLE_S`` seconds signs nobody in — for requests and for live sockets alike
(:func:`webapp.access.still_valid`). Only :meth:`Directory.touch` (called for what the
user does, not for background polls: :mod:`webapp.auth.login`) moves the idle clock.
Kiosk (map wall) sessions have no idle limit; revoking the token ends them.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from flask import Flask, g, has_request_context

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
        self.sessions: dict[str, list[Any]] = {}    # without a database: key -> [name, t]
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

    def authenticate(self, name: str, password: str, remote: str | None = None) -> Any:
        """The principal of user ``name`` in a new session if ``password`` is theirs and
        they are enabled, else None."""
        if self.uses_database:
            conn = self._db()
            user = store_users.get_user(conn, name) if store_users.USER_NAME.match(name) \
                else None
            if not verify_password(user.password_hash if user else None, password) \
                    or user is None or user.disabled:
                return None
            store_users.note_login(conn, name)
            session_id = secrets.token_urlsafe(24)
            store_users.open_session(conn, token_key(session_id), name, remote,
                                     forget_after_s=self._forget_after_s())
            return self.principal(name, user.role, _wards(user.wards),
                                  ref=f"user:{name}:{user.session_version}:{session_id}")
        entry = self.users.get(name)
        if not verify_password(entry["password_hash"] if entry else None, password):
            return None
        session_id = secrets.token_urlsafe(24)
        now = time.monotonic()
        with self._lock:      # forget sessions no cookie can still carry
            for key in [k for k, (_n, t) in self.sessions.items()
                        if now - t > self._forget_after_s()]:
                del self.sessions[key]
            self.sessions[token_key(session_id)] = [name, now]
        return self.principal(name, entry["role"], entry["wards"],  # type: ignore[index]
                              ref=f"user:{name}:0:{session_id}")

    @property
    def idle_s(self) -> float:
        """Seconds without user activity after which a user's session ends (0: never)."""
        return float(self.app.config["SESSION_IDLE_S"])

    def _forget_after_s(self) -> float:
        lifetime = self.app.config["PERMANENT_SESSION_LIFETIME"]
        lifetime = lifetime.total_seconds() if hasattr(lifetime, "total_seconds") \
            else float(lifetime)
        return max(self.idle_s, lifetime) + 3600.0

    def _expired(self, idle_for: float) -> bool:
        if self.idle_s > 0 and idle_for > self.idle_s:
            if has_request_context():
                g.vigil_session_idle = True      # the sign-in page says why
            return True
        return False

    def session_user(self, name: str, version: str, session_id: str) -> Any:
        """User ``name`` in session ``session_id`` as it stands now; None when absent,
        disabled, signed out, idle too long, or when their sessions were ended since
        (``version``)."""
        if not version.isdigit() or not session_id:
            return None
        key = token_key(session_id)
        if self.uses_database:
            found = store_users.session_user(self._db(), name, key)
            if found is None:
                return None
            user, idle_for = found
            if user.disabled or int(version) != user.session_version \
                    or self._expired(idle_for):
                return None
            return self.principal(name, user.role, _wards(user.wards),
                                  ref=f"user:{name}:{version}:{session_id}")
        entry, held = self.users.get(name), self.sessions.get(key)
        if entry is None or held is None or held[0] != name \
                or self._expired(time.monotonic() - held[1]):
            return None
        return self.principal(name, entry["role"], entry["wards"],
                              ref=f"user:{name}:{version}:{session_id}")

    def _session_key(self, ref: str) -> str | None:
        kind, _name, _version, session_id = (ref.split(":") + ["", "", "", ""])[:4]
        return token_key(session_id) if kind == "user" and session_id else None

    def touch(self, ref: str) -> None:
        """Note user activity in the session behind ``ref`` (resets its idle clock)."""
        key = self._session_key(ref)
        if key is None:
            return
        if self.uses_database:
            store_users.touch_session(self._db(), key,
                                      min(15.0, self.idle_s / 10) if self.idle_s > 0 else 15.0)
        else:
            with self._lock:
                if key in self.sessions:
                    self.sessions[key][1] = time.monotonic()

    def end_session(self, ref: str) -> None:
        """Sign out the session behind ``ref`` (its cookie signs nobody in any more)."""
        key = self._session_key(ref)
        if key is None:
            return
        if self.uses_database:
            store_users.close_session(self._db(), key)
        else:
            with self._lock:
                self.sessions.pop(key, None)

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
            name, version, session_id = (rest.split(":") + ["", "", ""])[:3]
            return self.session_user(name, version, session_id)
        if kind == "kiosk":
            return self.kiosk(rest)
        if kind == "api":
            return self.api_token(rest)
        return None
