"""The admin page (``/admin``): users, tokens and the audit log, server-rendered (no
script, so it works under the strict CSP); changes go through the admin API or the
``vigil users`` / ``vigil tokens`` commands, the forms here disable and enable users.

Like the other pages it has the header menu and the site's style; times are local
(Asia/Ho_Chi_Minh), wards, roles and audit actions are shown by name, and a refusal
(the last enabled admin) is a message on the page, not a JSON body."""

from __future__ import annotations

import json
from typing import Iterable

from flask import Blueprint, Response, redirect, render_template, request, url_for

from store import audit as store_audit
from store import users as store_users
from webapp.access import allow, audit
from webapp.auth.admin import LAST_ADMIN
from webapp.auth.i18n import gettext
from webapp.db import get_db
from webapp.errors import ApiError

bp = Blueprint("admin_pages", __name__, template_folder="templates")


def detail_text(detail: object, ward_names: dict[str, str]) -> str:
    """An audit entry's detail as a person reads it: ``key: value`` pairs, times in local
    time, wards by name, lists joined; ``""`` for none."""
    if not detail:
        return ""
    if not isinstance(detail, dict):
        return _value_text(detail, ward_names)
    return " · ".join(f"{key}: {_value_text(value, ward_names, key)}"
                      for key, value in detail.items() if value not in (None, "", [], {}))


def _value_text(value: object, ward_names: dict[str, str], key: str = "") -> str:
    from webapp.i18n import local_time
    if isinstance(value, dict):
        return "(" + detail_text(value, ward_names) + ")"
    if isinstance(value, list):
        return ", ".join(_value_text(v, ward_names, key) for v in value)
    if isinstance(value, str):
        if key in ("ward", "wards", "ward_id"):
            return ward_names.get(value, value)
        if len(value) >= 19 and value[4] == "-" and value[10] in "T ":
            try:
                return local_time(value)
            except ValueError:
                return value
        return value
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    return json.dumps(value, ensure_ascii=False)


def _page(error: str | None = None) -> str:
    """Users, tokens and the newest 300 audit entries (``?action=`` narrows them)."""
    from store.webqueries import area_features
    from webapp.views import lang_switch_urls, page_config
    conn = get_db()
    action = (request.args.get("action") or "")[:100] or None
    entries = store_audit.recent(conn, limit=300, action=action)
    ward_names = {f["id"]: f["properties"]["name"] for f in area_features(conn, "wards")}
    for entry in entries:           # shown as text (autoescaped), not as markup
        entry["detail_text"] = detail_text(entry["detail"], ward_names)

    def ward_list(wards: Iterable[str] | None) -> str:
        if wards is None:
            return gettext("all")
        return ", ".join(ward_names.get(w, w) for w in wards)

    return render_template(
        "auth/admin.html", page=page_config("admin"), view="admin",
        lang_switch=lang_switch_urls(url_for("admin_pages.admin_page")
                                     if request.method == "POST" else None),
        users=store_users.list_users(conn),
        api_tokens=store_users.list_api_tokens(conn),
        kiosk_tokens=store_users.list_kiosk_tokens(conn),
        entries=entries, action=action or "", error=error, ward_list=ward_list, s_=gettext)


@bp.get("/admin")
@allow("admin")
def admin_page() -> str:
    """The page."""
    return _page()


class _Refused(Exception):
    """The change would leave no enabled admin: nothing is written."""


@bp.post("/admin/users/<name>/disabled")
@allow("admin")
def set_disabled(name: str) -> Response | tuple[str, int]:
    """Disable (``disabled=1``) or enable (``disabled=0``) a user from the page."""
    value = request.form.get("disabled")
    if value not in ("0", "1"):
        raise ApiError(400, "disabled: 0 or 1")
    conn = get_db()
    try:
        with conn.transaction():
            if store_users.get_user(conn, name) is None:
                raise ApiError(404, f"user {name!r} not found")
            store_users.update_user(conn, name, disabled=value == "1")
            if store_users.active_admins(conn) == 0:
                raise _Refused
            audit("user.disable" if value == "1" else "user.enable", name)
    except _Refused:
        audit("user.disable", name, outcome="failed", detail={"reason": LAST_ADMIN})
        return _page(error=gettext("%(name)s is the last enabled administrator and cannot "
                                   "be disabled: enable or add another administrator "
                                   "first.", name=name)), 409
    from webapp.auth.admin import _recheck
    _recheck()
    return redirect(url_for("admin_pages.admin_page"))
