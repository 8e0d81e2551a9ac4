"""The recognition page (``/recognition``): hotlist, plate search, watchlist, rule precision.

Rendered on the server (plain forms with the session's CSRF token, no script), so it
works under the strict content security policy. Operators and commanders manage the
plate hotlist and search plates (ward-scoped); admins also see the watchlist with the
enrolled photos, the precision of every rule from judged incidents, and the recognition
audit log. Every view and change is audited by :mod:`store.watchlist`. Strings come from
the ``recognition`` catalogue (``webapp/translations/<lang>/LC_MESSAGES/recognition.po``).
Enrolment needs the face models and stays with ``vigil watchlist add``.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import Domain

from store import incidents as inc
from store import watchlist as wl
from webapp.access import allow, require
from webapp.db import get_db
from webapp.i18n import LOCALES
from webapp.views import page_config

log = logging.getLogger(__name__)

bp = Blueprint("recognition_pages", __name__)
domain = Domain(domain="recognition")


def _page(**extra: object) -> str:
    principal = require("act")
    nxt = request.full_path.rstrip("?") if request.query_string else request.path
    conn = get_db()
    remote = request.remote_addr
    context: dict[str, object] = {
        "plates": wl.list_plates(conn, principal.name, remote),
        "query": request.args.get("plate", ""), "results": None, "is_admin": False,
    }
    query = context["query"]
    if query and principal.can("evidence"):
        if wl.compact(str(query)) and len(str(query)) <= 20:
            with conn.transaction():
                found = wl.find_plate_events(conn, str(query), ward_ids=principal.wards,
                                             limit=200)
                wl.audit(conn, principal.name, "plates.search", str(query), remote,
                         results=len(found))
            context["results"] = found
        else:
            extra.setdefault("error", "bad_plate")
    if principal.can("admin"):
        context.update(is_admin=True,
                       persons=wl.list_persons(conn, principal.name, remote),
                       precision=inc.rule_precision(conn),
                       audit=wl.audit_log(conn, 50))
    context.update(extra)
    return render_template(
        "recognition.html", page=page_config("recognition"), view="recognition",
        lang_switch={lang: url_for("i18n.switch", lang=lang, next=nxt) for lang in LOCALES},
        r_=domain.gettext, **context)


@bp.get("/recognition")
@allow("act")
def recognition() -> str:
    """The page."""
    return _page()


@bp.post("/recognition/hotlist")
@allow("act")
def add_plate() -> Response | str:
    """Add the form's plate to the hotlist."""
    principal = require("act")
    reason = request.form.get("reason", "").strip()[:2000] or None
    try:
        wl.add_plate(get_db(), request.form.get("plate", "")[:40], principal.name,
                     reason=reason, remote=request.remote_addr)
    except ValueError:
        return _page(error="bad_plate"), 422
    return redirect(url_for("recognition_pages.recognition"))


@bp.post("/recognition/hotlist/remove")
@allow("act")
def remove_plate() -> Response | str:
    """Take the form's plate off the hotlist."""
    principal = require("act")
    try:
        wl.remove_plate(get_db(), request.form.get("plate", "")[:40], principal.name,
                        request.remote_addr)
    except wl.NotFound:
        return _page(error="not_found"), 404
    return redirect(url_for("recognition_pages.recognition"))


@bp.post("/recognition/watchlist/<int:person_id>/remove")
@allow("admin")
def remove_person(person_id: int) -> Response | str:
    """Remove a watchlist person with all enrolled faces."""
    principal = require("admin")
    try:
        wl.remove_person(get_db(), person_id, principal.name, request.remote_addr)
    except wl.NotFound:
        return _page(error="not_found"), 404
    return redirect(url_for("recognition_pages.recognition"))
