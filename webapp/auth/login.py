"""Sign-in and sign-out routes: the form, the JSON session API; throttled and audited."""

from __future__ import annotations

import logging

import flask_login
from flask import Blueprint, Response, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from webapp.access import (PUBLIC, allow, audit, csrf_ok, csrf_token, current_principal,
                           directory, safe_next, start_session)
from webapp.auth.i18n import gettext as security_gettext
from webapp.auth.throttle import LoginThrottle
from webapp.errors import error_response

log = logging.getLogger(__name__)
bp = Blueprint("access", __name__)


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
    principal = directory().authenticate(name, password) if len(password) <= 1024 else None
    if principal is None:
        throttle().failed(remote, name)
        log.warning("failed sign-in for %r from %s", name, remote)
        audit("login", name[:200], outcome="failed", actor=name[:200] or "anonymous")
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
    context = {"error": error, "csrf": csrf_token(), "lang": current_locale(),
               "next": safe_next(request.values.get("next"))}
    return render_template("login.html", **context), status, headers


@bp.route("/logout", methods=["POST"])
@allow("view")
def logout() -> Response:
    """End the session."""
    audit("logout", current_principal().name)  # type: ignore[union-attr]
    flask_login.logout_user()
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
    audit("logout", current_principal().name)  # type: ignore[union-attr]
    flask_login.logout_user()
    session.clear()
    return Response(status=204)
