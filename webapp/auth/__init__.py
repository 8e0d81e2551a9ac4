"""Users, passwords, tokens and the audit log (issue 6): sign-in routes, the admin API
and the admin page. :mod:`webapp.access` stays the one place requests are checked."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the sign-in routes, the admin API and page, and the sign-in throttle."""
    from webapp.auth import admin, login, pages
    from webapp.auth.throttle import LoginThrottle
    app.extensions["vigil_login_throttle"] = LoginThrottle(
        int(app.config["LOGIN_MAX_FAILURES"]), float(app.config["LOGIN_WINDOW_S"]))
    app.register_blueprint(login.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(pages.bp)
