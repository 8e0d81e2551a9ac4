"""Who may do what: THE one place every route and socket connection is checked.

Deny by default: a view function states its permission with ``@allow("view")`` (or
``@allow(PUBLIC)``); a ``before_request`` hook refuses every endpoint that has none, asks
for a sign-in (401, or a redirect to /login for pages) and refuses a role without the
permission (403). Socket connections go through :func:`socket_principal`.

Roles and what they may do (``PERMISSIONS``):

=========  ============================================================
admin      everything (users, tokens, audit log)
commander  view, act on alerts, evidence, plan — only in their wards
operator   view, act on alerts, evidence
planner    view, plan (heatmaps, series, reports); no evidence images
wall       view only (kiosk token), read-only
api        read-only machine client: only its token's scopes (view, plan, evidence)
=========  ============================================================

Ward scope: ``Principal.wards`` is ``None`` (all wards) or a frozenset of ward ids; the
API and the socket rooms filter by it on the server.

Personal data: plates and watchlist identities in event attributes
(:data:`PERSONAL_ATTRIBUTES`) reach only principals with ``evidence``
(:attr:`Principal.sees_personal`); every event the API, exports and sockets send passes
through :func:`event_for`, which removes them for the wall, planners and tokens without
the ``evidence`` scope.

Sign-in (issue 6): users live in the ``users`` table (:mod:`webapp.auth.directory`;
scrypt hashes), sessions are ``web_sessions`` rows (migration 0032) named by the signed
session cookie and end after
``SESSION_IDLE_S`` seconds without user activity (background polls marked
``X-Vigil-Background`` and sockets do not count), or at once when the user is disabled or
their password, role or scope changes (``session_version``). A browser signs in at
``/login`` (form) or ``POST /api/v1/session`` (JSON), both throttled
(:mod:`webapp.auth.throttle`) and audited; a wall opens ``/wall?token=<kiosk token>``
once and keeps a session cookie; machine clients send ``Authorization: Bearer <token>``
(kiosk or API token; read-only).

CSRF: a state-changing request (POST/PUT/PATCH/DELETE) from a cookie session must carry
the session's token in ``X-CSRF-Token`` (JSON API; see ``GET /api/v1/session``) or the
``csrf_token`` form field (forms), and API writes must be ``application/json``.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar
from urllib.parse import urlencode, urlsplit

import flask_login
from flask import Flask, Response, current_app, g, redirect, request, session, url_for

from store.users import token_key as _token_key
from webapp.auth.bootstrap import NewLogin, ensure_login_file  # noqa: F401 - re-exported
from webapp.auth.directory import Directory
from webapp.errors import ApiError, wants_json

log = logging.getLogger(__name__)

ROLES = ("admin", "commander", "operator", "planner", "wall")
PUBLIC = "public"
PERMISSIONS: Mapping[str, frozenset[str]] = {
    "view": frozenset(ROLES),
    "act": frozenset({"admin", "commander", "operator"}),
    "evidence": frozenset({"admin", "commander", "operator"}),
    "plan": frozenset({"admin", "commander", "planner"}),
    "admin": frozenset({"admin"}),
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: All-wards socket room; ward-scoped users join ``ward:<id>`` rooms instead.
ALL_WARDS_ROOM = "wards:all"
#: No inline script or style, nothing from elsewhere (the pages are built for it).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")

F = TypeVar("F", bound=Callable[..., Any])


#: GeoEvent attributes that identify a person (plates, watchlist matches): sent only to
#: principals with ``evidence`` (admin, commander, operator, evidence-scoped API tokens).
PERSONAL_ATTRIBUTES = frozenset({"plate", "plate_compact", "hotlist", "person_id",
                                 "person_name", "name", "face_id"})


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in user, kiosk or API client: name, role and ward scope (None = all)."""

    name: str
    role: str
    wards: frozenset[str] | None = None
    via: str = "session"  # "session" (cookie) or "token" (bearer)
    ref: str = ""         # "user:<name>:<session version>", "kiosk:<key>", "api:<key>"
    scopes: frozenset[str] | None = None   # API tokens only

    def can(self, permission: str) -> bool:
        """Whether the role (or, for API tokens, the scopes) carries ``permission``."""
        if permission == PUBLIC:
            return True
        if self.scopes is not None:
            return permission in self.scopes and permission in ("view", "plan", "evidence")
        return self.role in PERMISSIONS.get(permission, ())

    @property
    def sees_personal(self) -> bool:
        """Whether plates and watchlist identities may reach this principal (not the
        wall, not planners: they get events with :data:`PERSONAL_ATTRIBUTES` removed)."""
        return self.can("evidence")

    def sees_ward(self, ward_id: str | None) -> bool:
        """Whether an object in ``ward_id`` is within scope (unwarded: unscoped users only)."""
        return self.wards is None or (ward_id is not None and ward_id in self.wards)

    @property
    def rooms(self) -> list[str]:
        """The Socket.IO rooms this principal receives events from."""
        if self.wards is None:
            return [ALL_WARDS_ROOM]
        return sorted(f"ward:{w}" for w in self.wards)

    def to_json(self) -> dict[str, Any]:
        """The principal as ``GET /api/v1/session`` reports it."""
        return {"name": self.name, "role": self.role,
                "wards": None if self.wards is None else sorted(self.wards),
                "permissions": sorted(p for p in PERMISSIONS if self.can(p))}


class SessionUser(flask_login.UserMixin):
    """What Flask-Login keeps in the session: the principal's ref."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    def get_id(self) -> str:
        return self.principal.ref


def allow(permission: str) -> Callable[[F], F]:
    """Mark a view with the permission it needs (``PUBLIC`` for none)."""
    if permission != PUBLIC and permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def mark(view: F) -> F:
        view.vigil_permission = permission  # type: ignore[attr-defined]
        return view
    return mark


def directory(app: Flask | None = None) -> Directory:
    """The app's login directory."""
    return (app or current_app).extensions["vigil_access"]


# -- who is asking ----------------------------------------------------------------------

def _from_session() -> Principal | None:
    if "_user_id" in session and session.get("kind") != "kiosk":
        idle = float(current_app.config["SESSION_IDLE_S"])
        if idle > 0 and time.time() - float(session.get("seen", 0)) > idle:
            flask_login.logout_user()
            session.clear()
            return None
    user = flask_login.current_user
    return user.principal if getattr(user, "is_authenticated", False) else None


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def current_principal() -> Principal | None:
    """Who sent this request (session cookie, or bearer kiosk/API token), or None."""
    if "principal" not in g:
        token = _bearer()
        g.principal = directory().bearer(token) if token else _from_session()
    return g.principal


def require(permission: str) -> Principal:
    """The current principal if it has ``permission``; else an ApiError 401/403."""
    principal = current_principal()
    if principal is None:
        raise ApiError(401, "sign in first")
    if not principal.can(permission):
        raise ApiError(403, f"role {principal.role!r} may not do this ({permission})")
    return principal


def require_ward(principal: Principal, ward_id: str | None, what: str) -> None:
    """Refuse (404, so scope does not leak existence) an object outside the ward scope."""
    if not principal.sees_ward(ward_id):
        raise ApiError(404, f"{what} not found")


def redact_event(doc: dict[str, Any]) -> dict[str, Any]:
    """``GeoEvent.to_json()`` without the personal attributes (a new dict; ``doc`` is not
    changed); ``redacted`` lists what was taken out."""
    attributes = doc.get("attributes") or {}
    removed = sorted(PERSONAL_ATTRIBUTES.intersection(attributes))
    if not removed:
        return doc
    return {**doc, "attributes": {k: v for k, v in attributes.items()
                                  if k not in PERSONAL_ATTRIBUTES}, "redacted": removed}


def event_for(principal: Principal | None, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` as ``principal`` may see it (redacted unless it :attr:`sees_personal`)."""
    return doc if principal is not None and principal.sees_personal else redact_event(doc)


def csrf_token() -> str:
    """This session's CSRF token (created on first use)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def csrf_ok() -> bool:
    """Whether this request carries the session's CSRF token (header or form field)."""
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    return bool(sent) and hmac.compare_digest(sent, session.get("csrf", ""))


def _check_csrf(principal: Principal) -> None:
    if request.method in SAFE_METHODS:
        return
    if principal.via == "token":
        raise ApiError(403, "token clients are read-only")
    if not csrf_ok():
        raise ApiError(403, "missing or wrong CSRF token (send X-CSRF-Token from "
                            "GET /api/v1/session)")
    if request.path.startswith("/api/") and request.content_length \
            and not request.is_json:
        raise ApiError(415, "send JSON (Content-Type: application/json)")


def start_session(principal: Principal, kiosk_key: str | None = None) -> None:
    """Sign ``principal`` in on this browser (a fresh session and CSRF token)."""
    session.clear()
    session["kind"] = "kiosk" if kiosk_key else "user"
    session["seen"] = int(time.time())
    session.permanent = True
    flask_login.login_user(SessionUser(principal))
    csrf_token()
    g.principal = principal


def audit(action: str, target: Any = None, *, outcome: str = "ok",
          actor: str | None = None, detail: dict[str, Any] | None = None) -> None:
    """Write an audit row for this request (who, what, when, from where); no-op without
    a database."""
    if not current_app.config.get("DATABASE_URL"):
        return
    from store.audit import record
    from webapp.db import get_db
    principal = g.get("principal")
    record(get_db(), actor or (principal.name if principal else "anonymous"), action,
           target, role=principal.role if principal else None, outcome=outcome,
           remote=request.remote_addr, detail=detail)


def _refuse_nul() -> None:
    """NUL characters cannot reach PostgreSQL text: refuse them in the URL and body."""
    if "\x00" in request.path or b"%00" in request.query_string \
            or b"\x00" in request.query_string:
        raise ApiError(400, "NUL characters are not allowed in the URL")
    if request.method not in SAFE_METHODS and request.content_length and (
            request.is_json or request.mimetype == "application/x-www-form-urlencoded") \
            and request.content_length <= (current_app.config["MAX_CONTENT_LENGTH"] or 1 << 20):
        data = request.get_data(cache=True)
        if b"\\u0000" in data or b"\x00" in data or b"%00" in data:
            raise ApiError(400, "NUL characters are not allowed in the body")


def _check_request() -> Response | None:
    """before_request: the one access check for every HTTP route."""
    _refuse_nul()
    if request.endpoint is None:        # 404 / 405 follow
        return None
    if request.endpoint == "static" or request.endpoint.endswith(".static"):
        return None
    view = current_app.view_functions.get(request.endpoint)
    permission = getattr(view, "vigil_permission", None)
    if permission is None:
        log.error("endpoint %s has no access rule; refused", request.endpoint)
        raise ApiError(403, "this route has no access rule")
    if permission == PUBLIC:
        return None
    token = request.args.get("token")
    if token and request.method == "GET" and not request.path.startswith("/api/"):
        kiosk = directory().kiosk(_token_key(token))
        if kiosk is None:
            raise ApiError(401, "unknown or revoked kiosk token")
        start_session(kiosk, _token_key(token))
        audit("login", kiosk.name, detail={"via": "kiosk token"})
        args = {k: v for k, v in request.args.items() if k != "token"}
        return redirect(request.path + ("?" + urlencode(args) if args else ""))
    principal = current_principal()
    if principal is None:
        if wants_json():
            raise ApiError(401, "sign in first (or the session expired)")
        return redirect(url_for("access.login_page", next=request.full_path.rstrip("?")))
    if not principal.can(permission):
        raise ApiError(403, f"role {principal.role!r} may not do this ({permission})")
    _check_csrf(principal)
    if principal.via == "session" and session.get("kind") == "user":
        session["seen"] = int(time.time())
    return None


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``/`` (no open redirects)."""
    parts = urlsplit(target or "")
    if not target or parts.scheme or parts.netloc or not target.startswith("/") \
            or target.startswith("//") or "\\" in target:
        return "/"
    return target


_safe_next = safe_next   # webapp.i18n uses the old name


# -- sockets ----------------------------------------------------------------------------

def still_valid(principal: Principal) -> Principal | None:
    """``principal`` re-read from the directory: None when removed, disabled or revoked,
    else with its current role and wards (live sockets are re-checked with this)."""
    if not principal.ref:
        return None
    fresh = directory().lookup(principal.ref)
    if fresh is not None and fresh.via != principal.via:
        fresh = Principal(fresh.name, fresh.role, fresh.wards, principal.via, fresh.ref,
                          fresh.scopes)
    return fresh


def socket_principal(auth: Any) -> Principal | None:
    """Who opens this Socket.IO connection: the session cookie, or ``auth={"token": ...}``
    (kiosk or API token), or a bearer header."""
    if isinstance(auth, dict) and isinstance(auth.get("token"), str) and auth["token"]:
        return directory().bearer(auth["token"][:512])
    token = _bearer()
    if token:
        return directory().bearer(token[:512])
    return _from_session()


def _security_headers(response: Response) -> Response:
    """Headers every response carries: a strict CSP, no sniffing, no framing."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), "
                                                      "geolocation=()")
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.path.startswith(("/api/", "/evidence/", "/admin")):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    """Build the login directory, Flask-Login and the access check."""
    from webapp.auth import init_app as init_auth
    app.config.setdefault("SESSION_IDLE_S", 30 * 60)
    app.config.setdefault("LOGIN_MAX_FAILURES", 5)
    app.config.setdefault("LOGIN_WINDOW_S", 300)
    book = Directory(app, Principal)
    login_file = app.config.get("LOGIN_FILE")
    if login_file:
        book.load_file(Path(login_file))
    for name, user in app.config["USERS"].items():
        book.add_user(name, user["role"], user.get("wards"), password=user.get("password"),
                      password_hash=user.get("password_hash"))
    for token, entry in app.config["WALL_TOKENS"].items():
        book.add_token(_token_key(token), entry.get("name", "wall"), entry.get("wards"))
    app.extensions["vigil_access"] = book
    manager = flask_login.LoginManager()
    manager.session_protection = "basic"

    @manager.user_loader
    def _load(ref: str) -> SessionUser | None:
        principal = book.lookup(ref)
        return None if principal is None else SessionUser(principal)

    manager.init_app(app)
    app.before_request(_check_request)
    app.after_request(_security_headers)
    init_auth(app)
