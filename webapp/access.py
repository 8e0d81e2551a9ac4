"""Who may do what: THE one place every route and socket connection is checked.

Deny by default: a view function states its permission with ``@allow("view")`` (or
``@allow(PUBLIC)``); a ``before_request`` hook refuses every endpoint that has none, asks
for a sign-in (401, or a redirect to /login for pages) and refuses a role without the
permission (403). Socket connections go through :func:`socket_principal`. Issue 6
(Flask-Login, users table, audit) replaces :class:`Directory` and keeps this surface.

Roles and what they may do (``PERMISSIONS``):

=========  ============================================================
admin      everything
commander  view, act on alerts, evidence, plan — only in their wards
operator   view, act on alerts, evidence
planner    view, plan (heatmaps, series, reports); no evidence images
wall       view only (kiosk token), read-only
=========  ============================================================

Ward scope: ``Principal.wards`` is ``None`` (all wards) or a frozenset of ward ids; the
API and the socket rooms filter by it on the server.

Sign-in, minimal until issue 6: users and kiosk tokens come from the ``USERS`` and
``WALL_TOKENS`` config mappings and from ``LOGIN_FILE`` (hashed; written by
:func:`ensure_login_file`, which ``vigil serve`` and ``vigil demo`` call and whose
plaintext they print once). A browser signs in at ``/login`` (form) or
``POST /api/v1/session`` (JSON); a wall opens ``/wall?token=<kiosk token>`` once and
keeps a session cookie; machine clients may send ``Authorization: Bearer <token>``.

CSRF: a state-changing request (POST/PUT/PATCH/DELETE) from a cookie session must carry
the session's token in ``X-CSRF-Token`` (JSON API; see ``GET /api/v1/session``) or the
``csrf_token`` form field (forms), and API writes must be ``application/json``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, TypeVar
from urllib.parse import urlencode, urlsplit

from flask import (Blueprint, Flask, Response, current_app, g, redirect, render_template,
                   render_template_string, request, session, url_for)
from flask_babel import gettext as _
from jinja2 import TemplateNotFound
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.errors import ApiError, error_response, wants_json

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

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in user or kiosk: name, role and ward scope (None = every ward)."""

    name: str
    role: str
    wards: frozenset[str] | None = None
    via: str = "session"  # "session" (cookie) or "token" (bearer)
    ref: str = ""         # how to look it up again: "user:<name>" or "kiosk:<token key>"

    def can(self, permission: str) -> bool:
        """Whether the role carries ``permission``."""
        return permission == PUBLIC or self.role in PERMISSIONS.get(permission, ())

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


def allow(permission: str) -> Callable[[F], F]:
    """Mark a view with the permission it needs (``PUBLIC`` for none)."""
    if permission != PUBLIC and permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def mark(view: F) -> F:
        view.vigil_permission = permission  # type: ignore[attr-defined]
        return view
    return mark


# -- the directory of logins ------------------------------------------------------------

def _token_key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _wards(value: Iterable[str] | None) -> frozenset[str] | None:
    return None if value is None else frozenset(value)


class Directory:
    """Users (hashed passwords, role, wards) and kiosk tokens (hashed) the app accepts."""

    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}

    def add_user(self, name: str, role: str, wards: Iterable[str] | None = None, *,
                 password: str | None = None, password_hash: str | None = None) -> None:
        """Add or replace a user; ``password`` is hashed here."""
        if role not in ROLES:
            raise ValueError(f"user {name!r}: unknown role {role!r} (known: {', '.join(ROLES)})")
        if role == "commander" and wards is None:
            log.info("commander %s has no ward scope: sees every ward", name)
        if password_hash is None:
            if not password:
                raise ValueError(f"user {name!r}: needs a password or password_hash")
            password_hash = generate_password_hash(password)
        self.users[name] = {"password_hash": password_hash, "role": role,
                            "wards": _wards(wards)}

    def add_token(self, token_key: str, name: str = "wall",
                  wards: Iterable[str] | None = None) -> None:
        """Accept a kiosk token, given by its SHA-256 hex key."""
        self.tokens[token_key] = {"name": name, "wards": _wards(wards)}

    def authenticate(self, name: str, password: str) -> Principal | None:
        """The user ``name`` if ``password`` is theirs."""
        user = self.users.get(name)
        if user is None:
            check_password_hash(generate_password_hash("x"), password)  # same time either way
            return None
        if not check_password_hash(user["password_hash"], password):
            return None
        return self.user(name)

    def user(self, name: str) -> Principal | None:
        """The user ``name`` as currently configured (role and scope re-read every time)."""
        user = self.users.get(name)
        return None if user is None else Principal(name, user["role"], user["wards"],
                                                   ref=f"user:{name}")

    def kiosk(self, token_key: str, via: str = "session") -> Principal | None:
        """The kiosk for a token key, if the token is (still) accepted."""
        entry = self.tokens.get(token_key)
        return None if entry is None else Principal(entry["name"], "wall", entry["wards"], via,
                                                    ref=f"kiosk:{token_key}")

    def lookup(self, ref: str) -> Principal | None:
        """The principal behind ``ref`` as it stands now (None: removed or revoked)."""
        kind, _sep, key = ref.partition(":")
        if kind == "user":
            return self.user(key)
        if kind == "kiosk":
            return self.kiosk(key)
        return None

    def load_file(self, path: Path) -> None:
        """Add the users and tokens of a login file (see :func:`ensure_login_file`)."""
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


@dataclass(frozen=True)
class NewLogin:
    """Credentials just created; shown once, stored only hashed."""

    username: str
    password: str
    wall_token: str


def ensure_login_file(path: Path, *, reset: bool = False,
                      password: str | None = None) -> NewLogin | None:
    """Create ``path`` with an admin login and a wall token unless it exists; return them."""
    if path.exists() and not reset:
        return None
    login = NewLogin("admin", password or secrets.token_urlsafe(9), secrets.token_urlsafe(24))
    data = {"users": {login.username: {"password_hash": generate_password_hash(login.password),
                                       "role": "admin", "wards": None}},
            "wall_tokens": {_token_key(login.wall_token): {"name": "wall", "wards": None}}}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=1)
    tmp.replace(path)
    return login


def directory(app: Flask | None = None) -> Directory:
    """The app's login directory."""
    return (app or current_app).extensions["vigil_access"]


# -- who is asking ----------------------------------------------------------------------

def _from_session() -> Principal | None:
    kind = session.get("kind")
    if kind == "user":
        return directory().user(session.get("user", ""))
    if kind == "kiosk":
        return directory().kiosk(session.get("token_key", ""))
    return None


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def current_principal() -> Principal | None:
    """Who sent this request (session cookie or bearer kiosk token), or None."""
    if "principal" not in g:
        token = _bearer()
        g.principal = directory().kiosk(_token_key(token), via="token") if token \
            else _from_session()
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


def csrf_token() -> str:
    """This session's CSRF token (created on first use)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def _check_csrf(principal: Principal) -> None:
    if request.method in SAFE_METHODS or principal.via == "token":
        return
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
        raise ApiError(403, "missing or wrong CSRF token (send X-CSRF-Token from "
                            "GET /api/v1/session)")
    if request.path.startswith("/api/") and request.content_length \
            and not request.is_json:
        raise ApiError(415, "send JSON (Content-Type: application/json)")


def _start_session(principal: Principal, token_key: str | None = None) -> None:
    session.clear()
    session["kind"] = "kiosk" if token_key else "user"
    session["user"] = principal.name
    if token_key:
        session["token_key"] = token_key
    session.permanent = True
    csrf_token()
    g.principal = principal


def _check_request() -> Response | None:
    """before_request: the one access check for every HTTP route."""
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
        _start_session(kiosk, _token_key(token))
        args = {k: v for k, v in request.args.items() if k != "token"}
        return redirect(request.path + ("?" + urlencode(args) if args else ""))
    principal = current_principal()
    if principal is None:
        if wants_json():
            raise ApiError(401, "sign in first")
        return redirect(url_for("access.login_page", next=request.full_path.rstrip("?")))
    if not principal.can(permission):
        raise ApiError(403, f"role {principal.role!r} may not do this ({permission})")
    _check_csrf(principal)
    return None


# -- sign-in routes ---------------------------------------------------------------------

bp = Blueprint("access", __name__)

#: Used only when webapp/templates/login.html is absent.
_LOGIN_PAGE = """<!doctype html><html lang="{{ lang }}"><head><meta charset="utf-8">
<title>vigil — {{ _('Sign in') }}</title><meta name="viewport" content="width=device-width">
</head><body style="font-family:sans-serif;max-width:22rem;margin:4rem auto">
<h1>vigil</h1>{% if error %}<p role="alert" style="color:#b00">{{ error }}</p>{% endif %}
<form method="post"><input type="hidden" name="csrf_token" value="{{ csrf }}">
<input type="hidden" name="next" value="{{ next }}">
<p><label>{{ _('User name') }}<br><input name="username" autocomplete="username"
 required autofocus></label></p>
<p><label>{{ _('Password') }}<br><input name="password" type="password"
 autocomplete="current-password" required></label></p>
<p><button type="submit">{{ _('Sign in') }}</button></p></form></body></html>"""


def _safe_next(target: str | None) -> str:
    parts = urlsplit(target or "")
    if not target or parts.scheme or parts.netloc or not target.startswith("/") \
            or target.startswith("//"):
        return "/"
    return target


@bp.route("/login", methods=["GET", "POST"])
@allow(PUBLIC)
def login_page() -> Response | str:
    """The sign-in form."""
    from webapp.i18n import current_locale
    error = None
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
            error = _("The form expired; please try again.")
        else:
            principal = directory().authenticate(request.form.get("username", ""),
                                                 request.form.get("password", ""))
            if principal is not None:
                _start_session(principal)
                log.info("sign-in: %s (%s) from %s", principal.name, principal.role,
                         request.remote_addr)
                return redirect(_safe_next(request.form.get("next")))
            log.warning("failed sign-in for %r from %s", request.form.get("username"),
                        request.remote_addr)
            error = _("Wrong user name or password.")
    context = {"error": error, "csrf": csrf_token(), "lang": current_locale(),
               "next": _safe_next(request.values.get("next"))}
    try:
        page = render_template("login.html", **context)
    except TemplateNotFound:
        page = render_template_string(_LOGIN_PAGE, **context)
    return page, 401 if error else 200


@bp.route("/logout", methods=["POST"])
@allow("view")
def logout() -> Response:
    """End the session."""
    session.clear()
    return redirect(url_for("access.login_page"))


@bp.get("/api/v1/session")
@allow(PUBLIC)
def session_info() -> Response:
    """Who is signed in, and the CSRF token for state-changing calls."""
    principal = current_principal()
    return {"user": None if principal is None else principal.to_json(),
            "csrf_token": csrf_token()}


@bp.post("/api/v1/session")
@allow(PUBLIC)
def session_login() -> Response:
    """Sign in with JSON ``{"username": ..., "password": ...}``."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("username"), str) \
            or not isinstance(body.get("password"), str):
        return error_response(400, "send JSON {\"username\": ..., \"password\": ...}")
    principal = directory().authenticate(body["username"], body["password"])
    if principal is None:
        log.warning("failed sign-in for %r from %s", body["username"], request.remote_addr)
        return error_response(401, "wrong user name or password")
    _start_session(principal)
    return {"user": principal.to_json(), "csrf_token": csrf_token()}


@bp.delete("/api/v1/session")
@allow("view")
def session_logout() -> Response:
    """Sign out."""
    session.clear()
    return Response(status=204)


# -- sockets ----------------------------------------------------------------------------

def still_valid(principal: Principal) -> Principal | None:
    """``principal`` re-read from the directory: None when removed, disabled or revoked,
    else with its current role and wards (live sockets are re-checked with this)."""
    return directory().lookup(principal.ref) if principal.ref else None


def socket_principal(auth: Any) -> Principal | None:
    """Who opens this Socket.IO connection: the session cookie, or ``auth={"token": ...}``."""
    if isinstance(auth, dict) and isinstance(auth.get("token"), str) and auth["token"]:
        return directory().kiosk(_token_key(auth["token"]), via="token")
    token = _bearer()
    if token:
        return directory().kiosk(_token_key(token), via="token")
    return _from_session()


def _security_headers(response: Response) -> Response:
    """Headers every response carries (issue 6 adds a content security policy)."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.path.startswith(("/api/", "/evidence/")):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    """Build the login directory and install the access check."""
    book = Directory()
    login_file = app.config.get("LOGIN_FILE")
    if login_file:
        book.load_file(Path(login_file))
    for name, user in app.config["USERS"].items():
        book.add_user(name, user["role"], user.get("wards"), password=user.get("password"),
                      password_hash=user.get("password_hash"))
    for token, entry in app.config["WALL_TOKENS"].items():
        book.add_token(_token_key(token), entry.get("name", "wall"), entry.get("wards"))
    app.extensions["vigil_access"] = book
    app.before_request(_check_request)
    app.after_request(_security_headers)
    app.register_blueprint(bp)
