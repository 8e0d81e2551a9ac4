"""The recognition page (``/recognition``): hotlist, plate search, watchlist, rule precision.

Rendered on the server (plain forms with the session's CSRF token, no script), so it
works under the strict content security policy. Operators and commanders manage the
plate hotlist and search plates (ward-scoped); admins also see the watchlist with the
enrolled photos, the precision of every rule from judged incidents, and the recognition
audit log, and enrol a person from photos (a multipart form: the photos are checked on
the server, each must show exactly one face, and a refusal names the file —
:mod:`webapp.watchlist_enrol`, shared with ``vigil watchlist add``). Every view and change
is audited (:mod:`store.watchlist`; refused enrolments too). Strings come from the
``recognition`` catalogue (``webapp/translations/<lang>/LC_MESSAGES/recognition.po``).
"""

from __future__ import annotations

import logging

from flask import (Blueprint, Response, current_app, redirect, render_template, request,
                   url_for)
from flask_babel import Domain

from store import incidents as inc
from store import watchlist as wl
from webapp import watchlist_enrol as enrolment
from webapp.access import Principal, allow, audit, require
from webapp.db import get_db
from webapp.views import lang_switch_urls, page_config

log = logging.getLogger(__name__)

bp = Blueprint("recognition_pages", __name__)
domain = Domain(domain="recognition")

#: What the enrolment form says when it refuses (``%(file)s`` names the photo).
ENROL_MESSAGES = {
    "not_image": "%(file)s: not a JPEG or PNG image.",
    "too_large": "%(file)s: larger than %(mb)s MB.",
    "too_many_pixels": "%(file)s: more than %(mp)s megapixels.",
    "no_face": "%(file)s: no face of at least %(px)s px found.",
    "many_faces": "%(file)s: %(faces)s faces found; use a photo of the person alone.",
    "photos": "Choose 1 to %(n)s photos.",
    "name": "Name: 1 to 200 characters; reason: at most 2000.",
    "models": "The face models are missing on the server: %(reason)s",
}
#: The enrolment form may upload this much (the app's limit is far lower).
ENROL_MAX_BYTES = enrolment.MAX_PHOTOS * enrolment.MAX_PHOTO_BYTES + 64 * 1024


def _page(**extra: object) -> str:
    principal = require("act")
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
    if request.args.get("search") == "events":     # the ward and zone choices, then results
        context.update(_areas(principal), event_search=True, **_event_search(principal))
    context["names"] = _names(principal, context)
    if principal.can("admin"):
        context.update(is_admin=True,
                       persons=wl.list_persons(conn, principal.name, remote,
                                               name=request.args.get("person", "")[:200]
                                               or None),
                       person_query=request.args.get("person", "")[:200],
                       precision=inc.rule_precision(conn),
                       audit=wl.audit_log(conn, 50))
    context.update(extra)
    context.setdefault("enrol_form", {"category": "wanted"})
    context.setdefault("event_args", {})
    return render_template(
        "recognition.html", page=page_config("recognition"), view="recognition",
        lang_switch=lang_switch_urls(),
        r_=domain.gettext, categories=wl.CATEGORIES, enrolled=request.args.get("enrolled"),
        **context)


EVENT_SEARCH_ROWS = 200
EVENT_FILTERS = ("kind", "ward", "zone", "camera", "hours")
#: The search form's label of each filter (a refusal names the field as the form does).
EVENT_FIELDS = {"kind": "Kind", "ward": "Ward", "zone": "Zone", "camera": "Camera",
                "hours": "Time window"}


def _event_search(principal: Principal) -> dict[str, object]:
    """Events by kind, ward, zone, camera and time within the user's scope (the events
    API's filters), newest first, personal data as the principal may see it; audited."""
    from store import webqueries as q
    from webapp.api.events import EXPORT_MAX_ROWS, event_docs, event_filter
    from webapp.errors import ApiError

    args = {k: request.args[k] for k in EVENT_FILTERS if request.args.get(k)}
    try:
        f = event_filter(principal, EVENT_SEARCH_ROWS, None)
    except ApiError as exc:
        field = str(exc.details.get("parameter") or "")
        return {"event_error": domain.gettext(
            "%(field)s: “%(value)s” is not accepted.",
            field=domain.gettext(EVENT_FIELDS.get(field, field)),
            value=request.args.get(field, "")) if field else exc.message, "event_args": args}
    conn = get_db()
    rows = q.event_page(conn, f)
    total = len(rows) if len(rows) < EVENT_SEARCH_ROWS else q.event_count(conn, f)
    audit("events.search", None, detail={"filters": args, "rows": len(rows)})
    docs = event_docs(principal, rows, evidence_links=True)
    return {"events": docs, "event_args": args, "event_rows_max": EVENT_SEARCH_ROWS,
            "event_total": total,
            "export_max": int(current_app.config.get("EXPORT_MAX_ROWS", EXPORT_MAX_ROWS))}


def _areas(principal: Principal) -> dict[str, object]:
    """Wards and zones in scope for the event search's choices."""
    from store.webqueries import area_features
    conn = get_db()
    wards = [(f["properties"]["id"], f["properties"]["name"])
             for f in area_features(conn, "wards") if principal.sees_ward(f["properties"]["id"])]
    zones = [(f["properties"]["id"], f["properties"]["name"])
             for f in area_features(conn, "zones")
             if principal.wards is None or f["properties"].get("ward_id") in principal.wards]
    return {"wards": wards, "zones": zones}


def _names(principal: Principal, context: dict[str, object]) -> dict[str, dict[str, str]]:
    """Camera, ward and zone names by id in the principal's scope (the page shows names,
    not ids)."""
    from store.webqueries import camera_features
    conn = get_db()
    cameras = {f["id"]: f["properties"]["name"] or f["id"]
               for f in camera_features(conn, principal.wards)}
    if "wards" not in context:
        context = _areas(principal)
    return {"camera": cameras, "ward": dict(context["wards"]),  # type: ignore[call-overload]
            "zone": dict(context["zones"])}  # type: ignore[call-overload]


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


@bp.url_value_preprocessor
def _upload_limit(endpoint: str | None, values: dict | None) -> None:
    """Let the enrolment form carry its photos (this runs before the access check reads
    the form for its CSRF token; everywhere else the app's small limit stays)."""
    if endpoint == "recognition_pages.enrol_person":
        request.max_content_length = ENROL_MAX_BYTES


def _refuse_enrolment(code: str, form: dict[str, str], **params: object) -> tuple[str, int]:
    audit("watchlist.enrol", None, outcome="failed", detail={"reason": code, **{
        k: v for k, v in params.items() if k in ("file", "faces")}})
    return _page(enrol_error=domain.gettext(ENROL_MESSAGES[code], **params),
                 enrol_form=form), 422


@bp.post("/recognition/watchlist")
@allow("admin")
def enrol_person() -> Response | tuple[str, int]:
    """Enrol a person from the form's photos (all or nothing)."""
    principal = require("admin")
    form = {"name": request.form.get("name", "").strip(),
            "reason": request.form.get("reason", "").strip(),
            "category": request.form.get("category", "wanted")}
    photos = [f for f in request.files.getlist("photos") if f.filename]
    if not 0 < len(form["name"]) <= 200 or len(form["reason"]) > 2000 \
            or form["category"] not in wl.CATEGORIES:
        return _refuse_enrolment("name", form)
    if not 0 < len(photos) <= enrolment.MAX_PHOTOS:
        return _refuse_enrolment("photos", form, n=enrolment.MAX_PHOTOS)
    uploads = [(f.filename or "?", f.read(enrolment.MAX_PHOTO_BYTES + 1)) for f in photos]
    try:
        engine = enrolment.face_engine(
            current_app.config["SETTINGS"].state_dir / "models" / "buffalo_s")
        faces = enrolment.faces_from_photos(engine, uploads)
    except enrolment.ModelsMissing as exc:
        log.error("enrolment refused: %s", exc)
        return _refuse_enrolment("models", form, reason=str(exc))
    except enrolment.PhotoRejected as exc:
        return _refuse_enrolment(exc.code, form, file=exc.filename, faces=exc.faces,
                                 mb=enrolment.MAX_PHOTO_BYTES // (1024 * 1024),
                                 mp=enrolment.MAX_PHOTO_PIXELS // 1_000_000,
                                 px=enrolment.MIN_FACE_PX)
    pid = enrolment.enrol(get_db(), engine.model, form["name"], faces, principal.name,
                          reason=form["reason"] or None, category=form["category"],
                          remote=request.remote_addr)
    log.info("watchlist person %s enrolled from %s photo(s) by %s", pid, len(faces),
             principal.name)
    return redirect(url_for("recognition_pages.recognition", enrolled=pid,
                            _anchor="watchlist"))
