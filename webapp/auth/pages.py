"""The admin page (``/admin``): users, tokens and the audit log, server-rendered (no
script, so it works under the strict CSP); changes go through the admin API or the
``vigil users`` / ``vigil tokens`` commands, the forms here disable and enable users."""

from __future__ import annotations

import json

from flask import Blueprint, Response, redirect, render_template, request, url_for

from store import audit as store_audit
from store import users as store_users
from webapp.access import allow, audit, csrf_token, current_principal
from webapp.auth.i18n import gettext
from webapp.db import get_db
from webapp.errors import ApiError

bp = Blueprint("admin_pages", __name__, template_folder="templates")


@bp.get("/admin")
@allow("admin")
def admin_page() -> str:
    """Users, tokens and the newest 300 audit entries."""
    from webapp.i18n import current_locale
    conn = get_db()
    action = (request.args.get("action") or "")[:100] or None
    entries = store_audit.recent(conn, limit=300, action=action)
    for entry in entries:           # shown as text (autoescaped), not as markup
        entry["detail_text"] = json.dumps(entry["detail"], ensure_ascii=False) \
            if entry["detail"] else ""
    return render_template(
        "auth/admin.html", users=store_users.list_users(conn),
        api_tokens=store_users.list_api_tokens(conn),
        kiosk_tokens=store_users.list_kiosk_tokens(conn),
        entries=entries, action=action or "",
        csrf=csrf_token(), me=current_principal(), lang=current_locale(), s_=gettext)


@bp.post("/admin/users/<name>/disabled")
@allow("admin")
def set_disabled(name: str) -> Response:
    """Disable (``disabled=1``) or enable (``disabled=0``) a user from the page."""
    value = request.form.get("disabled")
    if value not in ("0", "1"):
        raise ApiError(400, "disabled: 0 or 1")
    conn = get_db()
    with conn.transaction():
        if store_users.get_user(conn, name) is None:
            raise ApiError(404, f"user {name!r} not found")
        store_users.update_user(conn, name, disabled=value == "1")
        if store_users.active_admins(conn) == 0:
            raise ApiError(409, "the last enabled admin cannot be disabled")
        audit("user.disable" if value == "1" else "user.enable", name)
    from webapp.auth.admin import _recheck
    _recheck()
    return redirect(url_for("admin_pages.admin_page"))
