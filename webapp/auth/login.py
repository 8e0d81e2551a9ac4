"""Sign-in and sign-out routes: the form, the JSON session API; throttled and audited.

Idle sessions: a user's session ends after ``SESSION_IDLE_S`` seconds without activity
(:mod:`webapp.auth.directory` keeps the clock on the server). What counts as activity is
any request from the session except a *background* one: a GET/HEAD that carries
``X-Vigil-Background: 1``, which the pages' script (static/vigil/js/core.js) sends with
its polls and session checks. The page reports the user's clicks and keys with a plain
``GET /api/v1/session`` at most once a minute; the live socket never counts. When the
limit passes, the next poll gets 401, the page goes to ``/login``, which says why, and
the server drops the socket at its next re-check (:mod:`webapp.realtime`).
"""

from __future__ import annotations

import logging
import time

import flask_login
from flask import (Blueprint, Response, current_app, g, redirect, render_template, request,
                   session, url_for)
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _

from webapp.access import (PUBLIC, SAFE_METHODS, allow, audit, csrf_ok, csrf_token,
                           current_principal, directory, safe_next, start_session)
from webapp.auth.i18n import gettext as security_gettext
from webapp.auth.throttle import LoginThrottle
from webapp.errors import error_response

log = logging.getLogger(__name__)
bp = Blueprint("access", __name__)

#: Request header the pages set on their background polls (not user activity).
BACKGROUND_HEADER = "X-Vigil-Background"
#: What the sign-in page says after a session ended for inactivity (kept here, not in a
#: shared catalogue, so this module owns it).
IDLE_MESSAGE = {"vi": "Phiên đã hết hạn do không hoạt động. Vui lòng đăng nhập lại.",
                "en": "Your session expired after a period of inactivity. "
                      "Please sign in again."}


def throttle() -> LoginThrottle:
    """The app's sign-in throttle."""
    return current_app.extensions["vigil_login_throttle"]


def _attempt(name: str, password: str) -> tuple[object | None, int]:
    """Check a sign-in; (principal or None, seconds to wait when throttled)."""
    remote = request.remote_addr or "-"
    wait = throttle().retry_after(remote, name)
    if wait:
        log.warning("sign-in for %r from %s throttled (%d s)", name, remote, wait)
        audit("login", name[:200], outcome="denied", actor=name[:200] or "anonymous",
              detail={"reason": "too many failures", "retry_after_s": wait})
        return None, wait
    principal = directory().authenticate(name, password, remote) \
        if len(password) <= 1024 else None
    if principal is None:
        locked = throttle().failed(remote, name)
        log.warning("failed sign-in for %r from %s", name, remote)
        audit("login", name[:200], outcome="failed", actor=name[:200] or "anonymous")
        if locked:      # this failure started a lockout (the check above let it through)
            log.warning("sign-in locked for %r from %s (%s)", name, remote, ", ".join(locked))
            audit("login.lockout", name[:200], outcome="denied",
                  actor=name[:200] or "anonymous",
                  detail={"locked": locked, "max_failures": throttle().max_failures,
                          "window_s": throttle().window_s})
        return None, 0
    throttle().succeeded(remote, name)
    start_session(principal)
    audit("login", principal.name)
    log.info("sign-in: %s (%s) from %s", principal.name, principal.role, remote)
    return principal, 0


@bp.route("/login", methods=["GET", "POST"])
@allow(PUBLIC)
def login_page() -> Response | tuple[str, int] | tuple[str, int, dict]:
    """The sign-in form."""
    from webapp.i18n import current_locale
    error, status, headers = None, 200, {}
    if request.method == "POST":
        if not csrf_ok():
            error, status = _("The form expired; please try again."), 401
        else:
            principal, wait = _attempt(request.form.get("username", "")[:200],
                                       request.form.get("password", ""))
            if principal is not None:
                return redirect(safe_next(request.form.get("next")))
            if wait:
                error = security_gettext("Too many failed attempts; try again in %(n)d s.",
                                         n=wait)
                status = 429
                headers = {"Retry-After": str(wait)}
            else:
                error, status = _("Wrong user name or password."), 401
    elif session.get("ended") == "idle":
        error = IDLE_MESSAGE.get(current_locale(), IDLE_MESSAGE["en"])
    context = {"error": error, "csrf": csrf_token(), "lang": current_locale(),
               "next": safe_next(request.values.get("next"))}
    return render_template("login.html", **context), status, headers


def _sign_out() -> None:
    principal = current_principal()
    audit("logout", principal.name)  # type: ignore[union-attr]
    directory().end_session(principal.ref)  # type: ignore[union-attr]
    flask_login.logout_user()
    session.clear()


@bp.route("/logout", methods=["POST"])
@allow("view")
def logout() -> Response:
    """End the session."""
    _sign_out()
    return redirect(url_for("access.login_page"))


@bp.get("/api/v1/session")
@allow(PUBLIC)
def session_info() -> Response:
    """Who is signed in, and the CSRF token for state-changing calls."""
    principal = current_principal()
    idle_s = directory().idle_s if principal is not None and principal.via == "session" \
        and principal.ref.startswith("user:") and directory().idle_s > 0 else None
    return {"user": None if principal is None else principal.to_json(),
            "csrf_token": csrf_token(), "idle_s": idle_s}


@bp.post("/api/v1/session")
@allow(PUBLIC)
def session_login() -> Response:
    """Sign in with JSON ``{"username": ..., "password": ...}``."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("username"), str) \
            or not isinstance(body.get("password"), str):
        return error_response(400, "send JSON {\"username\": ..., \"password\": ...}")
    unknown = sorted(set(body) - {"username", "password"})
    if unknown:
        return error_response(400, f"unknown fields: {', '.join(unknown)}", fields=unknown)
    principal, wait = _attempt(body["username"][:200], body["password"])
    if wait:
        response = error_response(429, f"too many failed sign-ins; try again in {wait} s",
                                  retry_after_s=wait)
        response.headers["Retry-After"] = str(wait)
        return response
    if principal is None:
        return error_response(401, "wrong user name or password")
    return {"user": principal.to_json(), "csrf_token": csrf_token()}


@bp.delete("/api/v1/session")
@allow("view")
def session_logout() -> Response:
    """Sign out."""
    _sign_out()
    return Response(status=204)


def is_background() -> bool:
    """Whether this request is a page's background poll (it does not keep a session
    alive); state-changing requests never are."""
    return request.method in SAFE_METHODS and request.headers.get(BACKGROUND_HEADER) == "1"


def _static(endpoint: str | None) -> bool:
    return endpoint is None or endpoint == "static" or endpoint.endswith(".static")


def _note_idle_end() -> None:
    """Before any other check: when this browser's user session has just ended for
    inactivity, say so in the (otherwise emptied) cookie, so the sign-in page can tell
    the user why, whichever request noticed it first (a poll, a session check, a page)."""
    if session.get("kind") != "user" or "_user_id" not in session \
            or _static(request.endpoint) or request.headers.get("Authorization"):
        return
    seen = float(session.get("seen", 0))
    if current_principal() is not None:
        return
    idle = directory().idle_s
    if g.get("vigil_session_idle") or (idle > 0 and time.time() - seen > idle):
        session.clear()
        session["ended"] = "idle"


@bp.record_once
def _first(state: BlueprintSetupState) -> None:
    state.app.before_request_funcs.setdefault(None, []).insert(0, _note_idle_end)


@bp.before_app_request
def _note_activity() -> None:
    """Reset the idle clock of a user's session on anything but a background request
    (runs after the access check, so refused requests never count)."""
    if is_background() or _static(request.endpoint):
        return
    principal = current_principal()
    if principal is not None and principal.via == "session" \
            and principal.ref.startswith("user:"):
        directory().touch(principal.ref)
        session["seen"] = int(time.time())     # the cookie's own idle check agrees
